package cluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"

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
	// certs are user certificates (CertificateFiles and the -cert.pub
	// beside each IdentityFile), paired at each login with the key they
	// certify, from signers or the agent.
	certs []userCert
}

type userCert struct {
	file string
	cert *ssh.Certificate
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
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
		default:
			a.close()
			return nil, err
		}
		// OpenSSH offers <IdentityFile>-cert.pub with the key, if it is there.
		c, err := loadCert(f + "-cert.pub")
		switch {
		case err == nil:
			a.certs = append(a.certs, userCert{f + "-cert.pub", c})
		case !errors.Is(err, os.ErrNotExist):
			a.close()
			return nil, err
		}
	}
	for _, f := range cfg.CertificateFiles {
		c, err := loadCert(f)
		if err != nil {
			a.close()
			return nil, err
		}
		if a.agent == nil && a.signerFor(c, a.signers) == nil {
			a.close()
			return nil, fmt.Errorf("certificate %s certifies key %s, which no IdentityFile holds and no agent is there to: add the key (IdentityFile, or ssh-add it)", f, ssh.FingerprintSHA256(c.Key))
		}
		a.certs = append(a.certs, userCert{f, c})
	}
	if a.agent == nil && len(a.signers) == 0 {
		return nil, errors.New("no SSH credentials: start ssh-agent and ssh-add a key, or set IdentityFiles (IdentityFile in ~/.ssh/config)")
	}
	return a, nil
}

// loadCert reads an OpenSSH user certificate (a -cert.pub file).
func loadCert(file string) (*ssh.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("certificate file: %w", err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil, fmt.Errorf("certificate file %s: %w", file, err)
	}
	c, ok := k.(*ssh.Certificate)
	if !ok || c.CertType != ssh.UserCert {
		return nil, fmt.Errorf("certificate file %s holds no user certificate (a %s); sign the public key with ssh-keygen -s CA -I ID -n USER", file, k.Type())
	}
	return c, nil
}

// signerFor returns the signer among signers holding the key c certifies.
func (a *authSet) signerFor(c *ssh.Certificate, signers []ssh.Signer) ssh.Signer {
	for _, s := range signers {
		if _, isCert := s.PublicKey().(*ssh.Certificate); !isCert && keyEqual(s.PublicKey(), c.Key) {
			return s
		}
	}
	return nil
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

// methods offers, as OpenSSH does, certificates before plain keys: the
// agent's certificates, then certificates from files paired with their
// key (from a file or the agent), then the agent's keys and the files'.
func (a *authSet) methods() []ssh.AuthMethod {
	var agentSigners []ssh.Signer
	if a.agent != nil {
		agentSigners, _ = a.agent.Signers()
	}
	var certs, plain []ssh.Signer
	for _, s := range agentSigners {
		if isCertKey(s.PublicKey()) {
			certs = append(certs, s)
		} else {
			plain = append(plain, s)
		}
	}
	plain = append(plain, a.signers...)
	for _, c := range a.certs {
		if s := a.signerFor(c.cert, plain); s != nil {
			if cs, err := ssh.NewCertSigner(c.cert, s); err == nil {
				certs = append(certs, cs)
			}
		}
	}
	return []ssh.AuthMethod{ssh.PublicKeys(append(certs, plain...)...)}
}

// isCertKey reports whether k is a certificate (an agent lists those as
// *agent.Key of a -cert-v01 type).
func isCertKey(k ssh.PublicKey) bool {
	if _, ok := k.(*ssh.Certificate); ok {
		return true
	}
	return strings.HasSuffix(k.Type(), "-cert-v01@openssh.com")
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
