package cluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// EncryptedKeyError is a key file that needs a passphrase nobody gave.
type EncryptedKeyError struct{ File string }

func (e *EncryptedKeyError) Error() string {
	return fmt.Sprintf("key %s is encrypted: load it into ssh-agent (ssh-add %s) or set SSHConfig.Passphrase", e.File, e.File)
}

// authSet holds the auth methods of one node, and the agent connection they
// use.
type authSet struct {
	agentConn net.Conn
	signers   []ssh.Signer
	agent     agent.ExtendedAgent
}

func newAuthSet(cfg SSHConfig) (*authSet, error) {
	a := &authSet{}
	if !cfg.NoAgent {
		sock := cfg.AgentSocket
		if sock == "" {
			sock = os.Getenv("SSH_AUTH_SOCK")
		}
		if sock != "" {
			// An agent that is configured but unreachable is not fatal:
			// key files may still work. It is reported if nothing does.
			if c, err := net.Dial("unix", sock); err == nil {
				a.agentConn = c
				a.agent = agent.NewClient(c)
			}
		}
	}
	a.signers = append(a.signers, cfg.Signers...)
	files := cfg.IdentityFiles
	explicit := len(files) > 0
	if !explicit {
		files = defaultIdentityFiles()
	}
	for _, f := range files {
		s, err := loadKey(f, cfg.Passphrase)
		switch {
		case err == nil:
			a.signers = append(a.signers, s)
		case !explicit && (errors.Is(err, os.ErrNotExist) || (a.agent != nil && isEncrypted(err))):
			// Default keys are optional; an encrypted one is likely in the agent.
		default:
			a.close()
			return nil, err
		}
	}
	if a.agent == nil && len(a.signers) == 0 {
		return nil, errors.New("no SSH credentials: start ssh-agent and ssh-add a key, or set IdentityFiles (IdentityFile in ~/.ssh/config)")
	}
	return a, nil
}

func isEncrypted(err error) bool {
	var e *EncryptedKeyError
	return errors.As(err, &e)
}

func loadKey(file string, passphrase func(string) ([]byte, error)) (ssh.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	var pm *ssh.PassphraseMissingError
	if errors.As(err, &pm) {
		if passphrase == nil {
			return nil, &EncryptedKeyError{File: file}
		}
		pw, perr := passphrase(file)
		if perr != nil {
			return nil, fmt.Errorf("passphrase for %s: %w", file, perr)
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(b, pw)
	}
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", file, err)
	}
	return s, nil
}

func defaultIdentityFiles() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		out = append(out, filepath.Join(home, ".ssh", n))
	}
	return out
}

func (a *authSet) methods() []ssh.AuthMethod {
	var signers []ssh.Signer
	if a.agent != nil {
		if s, err := a.agent.Signers(); err == nil {
			signers = append(signers, s...)
		}
	}
	signers = append(signers, a.signers...)
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}
}

func (a *authSet) close() {
	if a.agentConn != nil {
		a.agentConn.Close()
		a.agentConn = nil
		a.agent = nil
	}
}

func localUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "root"
}
