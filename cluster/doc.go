// Package cluster is how chefha reaches an HA Chef cluster: the topology
// from /etc/opscode/private-chef.rb, and Node, the one small interface
// through which every observation and action goes.
//
// Topology comes from ParseTopology (the file), or from NewTopology and
// ParseHosts (a host list, no Ruby). All three check what enters: server
// and VIP names are host names, addresses are IP addresses (only the
// VIP's may carry /NN), so a name can never smuggle in a user, a port or
// a second name.
//
// Node implementations: SSH (golang.org/x/crypto/ssh for commands,
// github.com/pkg/sftp for files), Local (os/exec on this machine),
// Recording (wraps any node and saves every exchange as a fixture: 0600
// files in a 0700 directory, secrets redacted by RedactSecrets unless
// asked to keep them) and Replay (serves those fixtures, strictly).
// CopyTree copies a directory tree between nodes with verification and a
// dated backup, and Each runs a function on many nodes at once.
//
// The SSH node is as strict as OpenSSH and reads the same files:
//
//   - ~/.ssh/config (LoadSSHConfig): HostName, User, Port, IdentityFile,
//     CertificateFile, UserKnownHostsFile, IdentityAgent,
//     StrictHostKeyChecking and ProxyJump, with the tokens (%h %p %r %u
//     %n %d %C %i %k %L %l %%) and ${VAR}s OpenSSH 9.2 expands in each.
//     ServerConfigs says how a server of the topology is reached: by its
//     name when a Host line names it, else at its :ipaddress.
//   - known_hosts, read as OpenSSH reads it: patterns with *, ? and !,
//     [host]:port, hashed names; @cert-authority lines vouch for host
//     certificates, @revoked lines refuse a key or a CA. HostKeyAcceptNew
//     records unknown hosts in a 0600 file (never a changed key, never a
//     host a CA covers).
//   - authentication: the agent's keys and certificates, key files, and
//     user certificates (CertificateFile, <IdentityFile>-cert.pub), the
//     certificates offered first.
//   - root commands from a non-root login go through sudo -n; where
//     sudoers has Defaults requiretty they run under a pseudo-terminal
//     (stdout byte-exact, exit status kept, stderr merged into stdout),
//     and where that cannot work a *SudoError names the sudoers line to add.
//
// Dial connects to every server of a topology at once and keeps going
// past the ones it cannot reach: they answer with *UnreachableError, and
// Dial's *DialError lists them.
package cluster
