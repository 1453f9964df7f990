// Package cluster is how chefha reaches an HA Chef cluster: the topology
// from /etc/opscode/private-chef.rb, and Node, the one small interface
// through which every observation and action goes.
//
// Node implementations: SSH (golang.org/x/crypto/ssh for commands,
// github.com/pkg/sftp for files; known_hosts checked, agent and key auth,
// ~/.ssh/config with ProxyJump, sudo -n), Local (os/exec on this machine),
// Recording (wraps any node and saves every exchange as a fixture) and
// Replay (serves those fixtures, strictly). CopyTree copies a directory tree
// between nodes with verification and a dated backup, and Each runs a
// function on many nodes at once.
package cluster
