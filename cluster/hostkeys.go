package cluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError is a host key that known_hosts does not vouch for.
type HostKeyError struct {
	Host        string // as dialled, host:port
	Fingerprint string // SHA256 of the key (or certificate) the host offered
	// Unknown is true when no key is recorded for the host; otherwise the
	// recorded key differs (a changed or spoofed host), or Revoked or
	// Reason say what is wrong.
	Unknown bool
	File    string // the known_hosts line in question
	Line    int
	// Revoked: the key, or (with CertAuthority) the CA that signed the
	// host's certificate, is listed @revoked for the host.
	Revoked bool
	// CertAuthority: File:Line is a @cert-authority line — the CA that
	// signed a certificate Reason says is not valid, a revoked CA, or,
	// with Unknown, a CA for a host that offered no certificate.
	CertAuthority bool
	Reason        string // why a host certificate was refused
}

func (e *HostKeyError) Error() string {
	at := fmt.Sprintf("%s:%d", e.File, e.Line)
	switch {
	case e.Revoked && e.CertAuthority:
		return fmt.Sprintf("host %s offered a certificate signed by a CA marked @revoked at %s: refused; have the host's certificate reissued by a trusted CA", e.Host, at)
	case e.Revoked:
		return fmt.Sprintf("host key %s of %s is marked @revoked at %s: refused; the host needs a new key, and known_hosts the new one", e.Fingerprint, e.Host, at)
	case e.Reason != "":
		return fmt.Sprintf("host certificate %s of %s, signed by the CA trusted at %s, is not valid for it: %s; reissue it (ssh-keygen -s CA -h -n HOSTNAME) for the name chefha dials", e.Fingerprint, e.Host, at, e.Reason)
	case e.Unknown && e.CertAuthority:
		return fmt.Sprintf("host %s offered a plain key %s, no certificate from the CA trusted for it at %s: give the host a HostCertificate, or verify the key out of band and add it to known_hosts", e.Host, e.Fingerprint, at)
	case e.Unknown:
		return fmt.Sprintf("host %s is not in known_hosts (key %s): verify the fingerprint out of band and add it (ssh-keyscan, or ssh once), or opt into HostKeyAcceptNew", e.Host, e.Fingerprint)
	default:
		return fmt.Sprintf("HOST KEY MISMATCH for %s: it offered %s, but %s holds a different key. The host was rebuilt or someone is in the middle; confirm with its owner before removing that line", e.Host, e.Fingerprint, at)
	}
}

func knownHostsFiles(cfg SSHConfig) []string {
	if len(cfg.KnownHostsFiles) > 0 {
		return cfg.KnownHostsFiles
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	return []string{filepath.Join(home, ".ssh", "known_hosts")}
}

// hostKeyCallback checks host keys against known_hosts as OpenSSH does
// (knownhosts.go); with HostKeyAcceptNew an unknown host is appended to
// the first file under an flock, so concurrent dials (and other
// processes) do not interleave lines. A host a @cert-authority line
// covers is never accepted that way: it should have shown a certificate.
func hostKeyCallback(cfg SSHConfig) (ssh.HostKeyCallback, error) {
	if cfg.InsecureIgnoreHostKey {
		return ssh.InsecureIgnoreHostKey(), nil
	}
	files := knownHostsFiles(cfg)
	if len(files) == 0 {
		return nil, errors.New("no known_hosts file: set KnownHostsFiles")
	}
	if cfg.HostKeyPolicy == HostKeyAcceptNew {
		if err := os.MkdirAll(filepath.Dir(files[0]), 0o700); err != nil {
			return nil, err
		}
		f, err := openKnownForAppend(files[0])
		if err != nil {
			return nil, err
		}
		f.Close()
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("known_hosts file %s: %w (create it with ssh-keyscan, or opt into HostKeyAcceptNew)", f, err)
		}
	}
	return func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := checkKnown(files, host, key)
		var he *HostKeyError
		if !errors.As(err, &he) || !he.Unknown || he.CertAuthority || cfg.HostKeyPolicy != HostKeyAcceptNew {
			return err
		}
		return appendKnown(files, host, key)
	}, nil
}

func checkKnown(files []string, host string, key ssh.PublicKey) error {
	db, err := readKnownHosts(files)
	if err != nil {
		return err
	}
	return db.check(host, key)
}

// openKnownForAppend opens (creating it 0600) the known_hosts file that
// HostKeyAcceptNew records new hosts in. An existing file keeps its mode,
// but one that group or others may write is refused: whoever can write it
// decides which hosts are genuine.
func openKnownForAppend(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	if st.Mode().Perm()&0o022 != 0 {
		f.Close()
		return nil, &ModeError{What: "known_hosts file", Path: name, Mode: st.Mode(),
			Why: "group or others may write it, so anyone could vouch for a host; chefha will not add hosts to it",
			Fix: "chmod go-w " + ShellQuote(name)}
	}
	return f, nil
}

func appendKnown(files []string, host string, key ssh.PublicKey) error {
	f, err := openKnownForAppend(files[0])
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", files[0], err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	// Another dial may have added the host while we waited for the lock.
	err = checkKnown(files, host, key)
	var he *HostKeyError
	if !errors.As(err, &he) || !he.Unknown {
		return err
	}
	// A certificate no CA vouches for is recorded as its plain key, as
	// OpenSSH does.
	if cert, ok := key.(*ssh.Certificate); ok {
		key = cert.Key
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(host)}, key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	return nil
}

// hostKeyAlgorithms lists the host key algorithms to ask addr for (see
// knownHosts.algorithms).
func hostKeyAlgorithms(cfg SSHConfig, addr string) ([]string, error) {
	if cfg.InsecureIgnoreHostKey {
		return nil, nil
	}
	db, err := readKnownHosts(knownHostsFiles(cfg))
	if err != nil {
		return nil, err
	}
	return db.algorithms(addr), nil
}
