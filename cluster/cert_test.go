package cluster_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// keygen runs OpenSSH's ssh-keygen.
func keygen(t testing.TB, args ...string) {
	t.Helper()
	bin := peer.Need(t, "ssh-keygen", "openssh-client")
	out, err := exec.Command(bin, append([]string{"-q"}, args...)...).CombinedOutput()
	require.NoError(t, err, "ssh-keygen %s: %s", strings.Join(args, " "), out)
}

// newKeyPair makes an ed25519 key pair with ssh-keygen: path and path.pub.
func newKeyPair(t testing.TB, path, comment string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	keygen(t, "-t", "ed25519", "-N", "", "-C", comment, "-f", path)
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

func writeKnownHosts(t testing.TB, lines ...string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return f
}

// TestOpenSSHHostCertificate: sshd presents a host certificate made by
// ssh-keygen -s -h; known_hosts trusts the CA with @cert-authority.
func TestOpenSSHHostCertificate(t *testing.T) {
	t.Parallel()
	k := newClientKey(t)
	ca := filepath.Join(t.TempDir(), "host_ca")
	newKeyPair(t, ca, "chefha test host CA")
	withCert := func(principal string) sshdOpts {
		return sshdOpts{noTrust: true, config: func(dir string) string {
			keygen(t, "-s", ca, "-h", "-I", "chefha-test-host", "-n", principal, "-V", "-5m:+1h", filepath.Join(dir, "host_key.pub"))
			return "HostCertificate " + filepath.Join(dir, "host_key-cert.pub") + "\n"
		}}
	}
	s := startSSHDWith(t, k, withCert("127.0.0.1"))
	caPub := readFile(t, ca+".pub")
	hostPub := readFile(t, filepath.Join(s.dir, "host_key.pub"))
	hp := fmt.Sprintf("[127.0.0.1]:%d", s.port)
	dial := func(lines ...string) (*cluster.SSH, error) {
		cfg := s.config(k, "be1")
		cfg.KnownHostsFiles = []string{writeKnownHosts(t, lines...)}
		n, err := cluster.DialSSH(context.Background(), cfg)
		if err == nil {
			t.Cleanup(func() { n.Close() })
		}
		return n, err
	}
	for name, line := range map[string]string{
		"exact [host]:port":      "@cert-authority " + hp + " " + caPub,
		"any port":               "@cert-authority [127.0.0.1]:* " + caPub,
		"every host":             "@cert-authority * " + caPub,
		"wildcard and ?":         "@cert-authority [127.0.0.?]:*,[10.*]:* " + caPub,
		"hashed name":            "@cert-authority " + knownhosts.HashHostname(hp) + " " + caPub,
		"negation of other host": "@cert-authority *,!" + "[127.0.0.2]:*" + " " + caPub,
	} {
		t.Run(name, func(t *testing.T) {
			n, err := dial(line)
			require.NoError(t, err, "a CA-signed host certificate is no HOST KEY MISMATCH")
			res, err := n.Run(context.Background(), cluster.Command("echo", "certified"))
			require.NoError(t, err)
			assert.Equal(t, "certified\n", string(res.Stdout))
		})
	}
	t.Run("negated host", func(t *testing.T) {
		_, err := dial("@cert-authority *,!" + hp + " " + caPub)
		var he *cluster.HostKeyError
		require.ErrorAs(t, err, &he)
		assert.True(t, he.Unknown, "the CA does not cover this host: its key is unknown")
	})
	t.Run("plain key line alone still works", func(t *testing.T) {
		_, err := dial(hp + " " + hostPub)
		require.NoError(t, err)
	})
	t.Run("revoked CA", func(t *testing.T) {
		_, err := dial("@cert-authority * "+caPub, "@revoked * "+caPub)
		var he *cluster.HostKeyError
		require.ErrorAs(t, err, &he)
		assert.True(t, he.Revoked)
		assert.True(t, he.CertAuthority)
		assert.ErrorContains(t, err, "signed by a CA marked @revoked at ")
		assert.ErrorContains(t, err, "known_hosts:2")
	})
	t.Run("revoked host key", func(t *testing.T) {
		_, err := dial(hp+" "+hostPub, "@revoked "+hp+" "+hostPub)
		var he *cluster.HostKeyError
		require.ErrorAs(t, err, &he)
		assert.True(t, he.Revoked)
		assert.ErrorContains(t, err, "is marked @revoked at ")
	})
	t.Run("another CA", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other_ca")
		newKeyPair(t, other, "another CA")
		_, err := dial("@cert-authority * " + readFile(t, other+".pub"))
		var he *cluster.HostKeyError
		require.ErrorAs(t, err, &he)
		assert.True(t, he.Unknown)
		assert.ErrorContains(t, err, "no certificate from the CA trusted for it")
	})
	t.Run("accept-new does not override a CA", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other_ca")
		newKeyPair(t, other, "another CA")
		cfg := s.config(k, "be1")
		kh := writeKnownHosts(t, "@cert-authority * "+readFile(t, other+".pub"))
		cfg.KnownHostsFiles = []string{kh}
		cfg.HostKeyPolicy = cluster.HostKeyAcceptNew
		_, err := cluster.DialSSH(context.Background(), cfg)
		var he *cluster.HostKeyError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, 1, strings.Count(readFile(t, kh), "\n")+1, "nothing appended")
	})
	t.Run("certificate for another name", func(t *testing.T) {
		wrong := startSSHDWith(t, k, withCert("be9.example.com"))
		cfg := wrong.config(k, "be9")
		cfg.KnownHostsFiles = []string{writeKnownHosts(t, "@cert-authority * "+caPub)}
		_, err := cluster.DialSSH(context.Background(), cfg)
		var he *cluster.HostKeyError
		require.ErrorAs(t, err, &he)
		assert.Contains(t, he.Reason, `principal "127.0.0.1" not in the set of valid principals`)
		assert.ErrorContains(t, err, "is not valid for it")
	})
}

// userCA makes a user CA and an sshd that trusts only it: no
// authorized_keys at all.
func userCA(t *testing.T, k *clientKey) (ca string, s *sshd) {
	ca = filepath.Join(t.TempDir(), "user_ca")
	newKeyPair(t, ca, "chefha test user CA")
	s = startSSHDWith(t, k, sshdOpts{config: func(string) string {
		return "TrustedUserCAKeys " + ca + ".pub\nAuthorizedKeysFile none\nLogLevel VERBOSE\n"
	}})
	return ca, s
}

// userCert signs key.pub for the test's login user: key-cert.pub.
func userCert(t *testing.T, ca, key string) {
	keygen(t, "-s", ca, "-I", "chefha-test-user", "-n", localUserName(), "-V", "-5m:+1h", key+".pub")
}

// TestOpenSSHUserCertificate: sshd trusts a user CA (TrustedUserCAKeys)
// and has no authorized_keys; chefha logs in with the certificate.
func TestOpenSSHUserCertificate(t *testing.T) {
	k := newClientKey(t)
	ca, s := userCA(t, k)
	keys := t.TempDir()
	key := filepath.Join(keys, "id_chefha")
	newKeyPair(t, key, "chefha user")
	ctx := context.Background()
	login := func(t *testing.T, cfg cluster.SSHConfig) {
		t.Helper()
		n, err := cluster.DialSSH(ctx, cfg)
		require.NoError(t, err)
		defer n.Close()
		res, err := n.Run(ctx, cluster.Command("echo", "certified"))
		require.NoError(t, err)
		assert.Equal(t, "certified\n", string(res.Stdout))
	}

	t.Run("plain key refused", func(t *testing.T) {
		cfg := s.config(k, "be1")
		cfg.IdentityFiles = []string{key}
		_, err := cluster.DialSSH(ctx, cfg)
		require.Error(t, err, "the server trusts certificates only")
	})
	userCert(t, ca, key)

	t.Run("beside the IdentityFile", func(t *testing.T) {
		cfg := s.config(k, "be1")
		cfg.IdentityFiles = []string{key}
		login(t, cfg)
		require.Eventually(t, func() bool {
			b, _ := os.ReadFile(s.log)
			return strings.Contains(string(b), `Accepted certificate ID "chefha-test-user"`)
		}, 5*time.Second, 50*time.Millisecond)
	})

	t.Run("CertificateFile in ssh_config, with tokens", func(t *testing.T) {
		// The key alone in one place, the certificate named by tokens in another.
		plain := filepath.Join(t.TempDir(), "be1.key")
		require.NoError(t, os.WriteFile(plain, []byte(readFile(t, key)+"\n"), 0o600))
		certs := t.TempDir()
		certName := fmt.Sprintf("%s@127.0.0.1:%d-cert.pub", localUserName(), s.port)
		require.NoError(t, os.WriteFile(filepath.Join(certs, certName), []byte(readFile(t, key+"-cert.pub")+"\n"), 0o644))
		conf := filepath.Join(t.TempDir(), "config")
		require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`Host be1
  HostName 127.0.0.1
  Port %d
  User %s
  IdentityFile %s/%%n.key
  CertificateFile %s/%%r@%%h:%%p-cert.pub
  UserKnownHostsFile %s
  IdentityAgent none
`, s.port, localUserName(), filepath.Dir(plain), certs, k.knownHosts)), 0o600))
		cfg, err := cluster.LoadSSHConfig(conf, "be1")
		require.NoError(t, err)
		assert.Equal(t, []string{filepath.Join(certs, certName)}, cfg.CertificateFiles)
		login(t, cfg)
	})

	priv, err := ssh.ParseRawPrivateKey([]byte(readFile(t, key) + "\n"))
	require.NoError(t, err)
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(readFile(t, key+"-cert.pub")))
	require.NoError(t, err)
	cert := pub.(*ssh.Certificate)

	t.Run("certificate held by the agent", func(t *testing.T) {
		keyring := agent.NewKeyring()
		require.NoError(t, keyring.Add(agent.AddedKey{PrivateKey: priv, Comment: "plain"}))
		require.NoError(t, keyring.Add(agent.AddedKey{PrivateKey: priv, Certificate: cert, Comment: "cert"}))
		cfg := s.config(k, "be1")
		cfg.NoAgent, cfg.AgentSocket, cfg.IdentityFiles = false, serveAgent(t, keyring), nil
		cfg.Signers = nil
		t.Setenv("HOME", t.TempDir()) // no default identity files
		login(t, cfg)
	})

	t.Run("CertificateFile paired with the agent's key", func(t *testing.T) {
		keyring := agent.NewKeyring()
		require.NoError(t, keyring.Add(agent.AddedKey{PrivateKey: priv}))
		cfg := s.config(k, "be1")
		cfg.NoAgent, cfg.AgentSocket, cfg.IdentityFiles = false, serveAgent(t, keyring), nil
		cfg.CertificateFiles = []string{key + "-cert.pub"}
		t.Setenv("HOME", t.TempDir())
		login(t, cfg)
	})

	t.Run("CertificateFile without its key", func(t *testing.T) {
		cfg := s.config(k, "be1")
		cfg.CertificateFiles = []string{key + "-cert.pub"} // IdentityFiles hold another key
		_, err := cluster.DialSSH(ctx, cfg)
		assert.ErrorContains(t, err, "which no IdentityFile holds")
	})
}

// TestOpenSSHCertificateOfferedFirst: with both an authorized key and a
// certificate acceptable, the certificate is what logs in.
func TestOpenSSHCertificateOfferedFirst(t *testing.T) {
	t.Parallel()
	k := newClientKey(t)
	ca := filepath.Join(t.TempDir(), "user_ca")
	newKeyPair(t, ca, "chefha test user CA")
	s := startSSHDWith(t, k, sshdOpts{config: func(string) string {
		return "TrustedUserCAKeys " + ca + ".pub\nLogLevel VERBOSE\n"
	}})
	// k's key is in authorized_keys; certify it too.
	require.NoError(t, os.WriteFile(k.keyFile+".pub", ssh.MarshalAuthorizedKey(k.signer.PublicKey()), 0o644))
	userCert(t, ca, k.keyFile)
	n := dialReal(t, s.config(k, "be1"))
	_, err := n.Run(context.Background(), cluster.Command("true"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(s.log)
		return strings.Contains(string(b), `Accepted certificate ID "chefha-test-user"`)
	}, 5*time.Second, 50*time.Millisecond)
	b, _ := os.ReadFile(s.log)
	assert.Contains(t, string(b), "ssh2: ED25519-CERT SHA256:", "the login was the certificate's")
	assert.NotContains(t, string(b), "ssh2: ED25519 SHA256:", "not the plain key's")
}

func serveAgent(t *testing.T, keyring agent.Agent) string {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(keyring, c)
		}
	}()
	return sock
}
