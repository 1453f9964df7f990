package cluster

import (
	"bytes"
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
	Fingerprint string // SHA256 of the key the host offered
	// Unknown is true when no key is recorded for the host; otherwise the
	// recorded key differs (a changed or spoofed host).
	Unknown bool
	File    string // where the conflicting key is recorded
	Line    int
	Revoked bool
}

func (e *HostKeyError) Error() string {
	switch {
	case e.Revoked:
		return fmt.Sprintf("host key %s of %s is marked @revoked in known_hosts", e.Fingerprint, e.Host)
	case e.Unknown:
		return fmt.Sprintf("host %s is not in known_hosts (key %s): verify the fingerprint out of band and add it (ssh-keyscan, or ssh once), or opt into HostKeyAcceptNew", e.Host, e.Fingerprint)
	default:
		return fmt.Sprintf("HOST KEY MISMATCH for %s: it offered %s, but %s:%d holds a different key. The host was rebuilt or someone is in the middle; confirm with its owner before removing that line", e.Host, e.Fingerprint, e.File, e.Line)
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

// hostKeyCallback checks host keys against known_hosts; with
// HostKeyAcceptNew an unknown host is appended to the first file under an
// flock, so concurrent dials (and other processes) do not interleave lines.
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
		err := checkKnown(files, host, remote, key)
		var he *HostKeyError
		if !errors.As(err, &he) || !he.Unknown || cfg.HostKeyPolicy != HostKeyAcceptNew {
			return err
		}
		return appendKnown(files, host, remote, key)
	}, nil
}

func checkKnown(files []string, host string, remote net.Addr, key ssh.PublicKey) error {
	cb, err := knownhosts.New(files...)
	if err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	err = cb(host, remote, key)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		return &HostKeyError{Host: host, Fingerprint: ssh.FingerprintSHA256(key), Revoked: true, File: re.Revoked.Filename, Line: re.Revoked.Line}
	case errors.As(err, &ke):
		he := &HostKeyError{Host: host, Fingerprint: ssh.FingerprintSHA256(key), Unknown: len(ke.Want) == 0}
		if len(ke.Want) > 0 {
			he.File, he.Line = ke.Want[0].Filename, ke.Want[0].Line
		}
		return he
	}
	return err
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

func appendKnown(files []string, host string, remote net.Addr, key ssh.PublicKey) error {
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
	err = checkKnown(files, host, remote, key)
	var he *HostKeyError
	if !errors.As(err, &he) || !he.Unknown {
		return err
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(host)}, key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	return nil
}

// hostKeyAlgorithms lists the key types known_hosts holds for addr, so the
// server offers one of those: without this, x/crypto may negotiate another
// type and a known host looks changed. nil (the package default) when none
// is recorded.
func hostKeyAlgorithms(cfg SSHConfig, addr string) ([]string, error) {
	if cfg.InsecureIgnoreHostKey {
		return nil, nil
	}
	files := knownHostsFiles(cfg)
	cb, err := knownhosts.New(files...)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	// A throwaway key never matches, so the error lists what is recorded.
	err = cb(addr, &net.TCPAddr{IP: net.IPv4zero}, probeKey{})
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil, nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, x := range a {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return out, nil
}

type probeKey struct{}

func (probeKey) Type() string                        { return "chefha-probe" }
func (probeKey) Marshal() []byte                     { return bytes.Repeat([]byte{0}, 8) }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe") }
