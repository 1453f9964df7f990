package cluster_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshEnv is an in-process SSH server and a client key it trusts.
type sshEnv struct {
	srv        *clustertest.SSHServer
	key        ssh.Signer
	knownHosts string
	keyFile    string // key's private half, unencrypted
	dir        string
}

func newSSHEnv(t *testing.T, env ...string) *sshEnv {
	t.Helper()
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	key, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "chefha test")
	require.NoError(t, err)
	keyFile := filepath.Join(dir, "id_ed25519")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600))
	srv, err := clustertest.NewSSHServer(clustertest.SSHServerConfig{
		AuthorizedKeys: []ssh.PublicKey{key.PublicKey()},
		Exec:           clustertest.ShellExec(env),
	})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	e := &sshEnv{srv: srv, key: key, dir: dir, keyFile: keyFile, knownHosts: filepath.Join(dir, "known_hosts")}
	e.trust(t, srv)
	return e
}

// trust records srv's host key in the env's known_hosts.
func (e *sshEnv) trust(t *testing.T, srv *clustertest.SSHServer) {
	line := knownhosts.Line([]string{knownhosts.Normalize(srv.Addr)}, srv.HostKey.PublicKey())
	f, err := os.OpenFile(e.knownHosts, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	_, err = fmt.Fprintln(f, line)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func (e *sshEnv) config(user string) cluster.SSHConfig {
	return cluster.SSHConfig{
		Name: "be1", Host: "127.0.0.1", Port: e.srv.Port(), User: user,
		NoAgent: true, Signers: []ssh.Signer{e.key},
		KnownHostsFiles: []string{e.knownHosts},
	}
}

func (e *sshEnv) dial(t *testing.T, user string) *cluster.SSH {
	t.Helper()
	n, err := cluster.DialSSH(context.Background(), e.config(user))
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	return n
}

func TestSSHNodeBehaviour(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	testNodeBehaviour(t, e.dial(t, "root"), t.TempDir())
}

func TestSSHConcurrentCallsShareOneConnection(t *testing.T) {
	t.Parallel()
	n := newSSHEnv(t).dial(t, "root")
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := n.Run(context.Background(), cluster.Command("echo", strconv.Itoa(i)))
			if err == nil && strings.TrimSpace(string(res.Stdout)) != strconv.Itoa(i) {
				err = fmt.Errorf("got %q", res.Stdout)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
}

func TestSSHDroppedConnectionThenReconnect(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	testDropAndReconnect(t, e.dial(t, "root"), e.srv.DropConnections)
}

func TestSSHHostKeyMismatch(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	other, err := clustertest.NewSigner()
	require.NoError(t, err)
	// A known_hosts whose second line holds another key for this host.
	kh := filepath.Join(e.dir, "known_hosts_changed")
	content := "# chefha test\n" + knownhosts.Line([]string{knownhosts.Normalize(e.srv.Addr)}, other.PublicKey()) + "\n"
	require.NoError(t, os.WriteFile(kh, []byte(content), 0o600))
	cfg := e.config("root")
	cfg.KnownHostsFiles = []string{kh}
	cfg.HostKeyPolicy = cluster.HostKeyAcceptNew // never overrides a mismatch
	_, err = cluster.DialSSH(context.Background(), cfg)
	var he *cluster.HostKeyError
	require.ErrorAs(t, err, &he)
	assert.False(t, he.Unknown)
	assert.Equal(t, kh, he.File)
	assert.Equal(t, 2, he.Line)
	assert.Contains(t, err.Error(), "HOST KEY MISMATCH for "+e.srv.Addr)
	assert.Contains(t, err.Error(), kh+":2")
}

func TestSSHUnknownHost(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	cfg := e.config("root")
	cfg.KnownHostsFiles = []string{filepath.Join(e.dir, "empty")}
	require.NoError(t, os.WriteFile(cfg.KnownHostsFiles[0], nil, 0o600))
	_, err := cluster.DialSSH(context.Background(), cfg)
	var he *cluster.HostKeyError
	require.ErrorAs(t, err, &he)
	assert.True(t, he.Unknown)
	assert.Contains(t, err.Error(), "not in known_hosts")

	cfg.KnownHostsFiles = []string{filepath.Join(e.dir, "missing")}
	_, err = cluster.DialSSH(context.Background(), cfg)
	assert.ErrorContains(t, err, "known_hosts file "+cfg.KnownHostsFiles[0])
}

func TestSSHAcceptNewAppendsOnce(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	cfg := e.config("root")
	kh := filepath.Join(e.dir, "new", "known_hosts")
	cfg.KnownHostsFiles = []string{kh}
	cfg.HostKeyPolicy = cluster.HostKeyAcceptNew
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := cluster.DialSSH(context.Background(), cfg)
			if assert.NoError(t, err) {
				n.Close()
			}
		}()
	}
	wg.Wait()
	b, err := os.ReadFile(kh)
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(string(b), "\n"), "one line however many dials raced: %s", b)
	// The recorded key now passes a strict check.
	cfg.HostKeyPolicy = cluster.HostKeyStrict
	n, err := cluster.DialSSH(context.Background(), cfg)
	require.NoError(t, err)
	n.Close()
}

func TestSSHHandshakeTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accept, then say nothing
		}
	}()
	e := newSSHEnv(t)
	cfg := e.config("root")
	cfg.Port = ln.Addr().(*net.TCPAddr).Port
	cfg.HandshakeTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err = cluster.DialSSH(context.Background(), cfg)
	assert.ErrorContains(t, err, "did not finish within 300ms")
	assert.Less(t, time.Since(start), 5*time.Second)
}

// fakeSudo puts a sudo on PATH that behaves like sudo -n for a user with
// (ok) or without (password) passwordless sudo. The message is sudo 1.9's.
func fakeSudo(t *testing.T, dir string, ok bool) []string {
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + filepath.Join(dir, "sudo.log") + "\n"
	if ok {
		script += "[ \"$1\" = -n ] && [ \"$2\" = -- ] || exit 99\nshift 2\nexec \"$@\"\n"
	} else {
		script += "echo 'sudo: a password is required' >&2\nexit 1\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(bin, "sudo"), []byte(script), 0o755))
	return []string{"PATH=" + bin + ":" + os.Getenv("PATH")}
}

func TestSSHSudo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newSSHEnv(t, fakeSudo(t, dir, true)...)
	n := e.dial(t, "deploy")
	res, err := n.Run(context.Background(), cluster.Command("echo", "as root").AsRoot())
	require.NoError(t, err)
	assert.Equal(t, "as root\n", string(res.Stdout))
	_, err = n.Run(context.Background(), cluster.Command("true")) // no sudo
	require.NoError(t, err)
	log, err := os.ReadFile(filepath.Join(dir, "sudo.log"))
	require.NoError(t, err)
	assert.Equal(t, "-n -- echo as root\n", string(log), "only the root command went through sudo -n")

	// root never goes through sudo.
	rootNode := e.dial(t, "root")
	_, err = rootNode.Run(context.Background(), cluster.Command("true").AsRoot())
	require.NoError(t, err)
	log, _ = os.ReadFile(filepath.Join(dir, "sudo.log"))
	assert.Equal(t, 1, strings.Count(string(log), "\n"))
}

func TestSSHSudoWantsPassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newSSHEnv(t, fakeSudo(t, dir, false)...)
	n := e.dial(t, "deploy")
	_, err := n.Run(context.Background(), cluster.Command("private-chef-ctl", "status").AsRoot())
	var se *cluster.SudoError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "deploy", se.User)
	assert.Contains(t, err.Error(), "be1: sudo -n refused \"private-chef-ctl status\" for user deploy")
	assert.Contains(t, err.Error(), "passwordless sudo")
}

func TestSSHKeyFiles(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte("s3cret"))
	require.NoError(t, err)
	keyFile := filepath.Join(e.dir, "id_encrypted")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600))

	srv, err := clustertest.NewSSHServer(clustertest.SSHServerConfig{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	require.NoError(t, err)
	defer srv.Close()
	e.trust(t, srv)
	cfg := cluster.SSHConfig{Host: "127.0.0.1", Port: srv.Port(), User: "root", NoAgent: true,
		IdentityFiles: []string{keyFile}, KnownHostsFiles: []string{e.knownHosts}}

	_, err = cluster.DialSSH(context.Background(), cfg)
	var ek *cluster.EncryptedKeyError
	require.ErrorAs(t, err, &ek)
	assert.Contains(t, err.Error(), "ssh-add "+keyFile)

	cfg.Passphrase = func(file string) ([]byte, error) {
		assert.Equal(t, keyFile, file)
		return []byte("s3cret"), nil
	}
	n, err := cluster.DialSSH(context.Background(), cfg)
	require.NoError(t, err)
	defer n.Close()
	_, err = n.Run(context.Background(), cluster.Command("true"))
	assert.NoError(t, err)
}

func TestSSHAgent(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	keyring := agent.NewKeyring()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	require.NoError(t, keyring.Add(agent.AddedKey{PrivateKey: priv}))
	sock := filepath.Join(e.dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(keyring, c)
		}
	}()
	signer, _ := ssh.NewSignerFromKey(priv)
	srv, err := clustertest.NewSSHServer(clustertest.SSHServerConfig{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	require.NoError(t, err)
	defer srv.Close()
	e.trust(t, srv)
	n, err := cluster.DialSSH(context.Background(), cluster.SSHConfig{Host: "127.0.0.1", Port: srv.Port(), User: "root",
		AgentSocket: sock, IdentityFiles: nil, KnownHostsFiles: []string{e.knownHosts}})
	require.NoError(t, err, "the agent's key logs in")
	defer n.Close()
	res, err := n.Run(context.Background(), cluster.Command("echo", "via agent"))
	require.NoError(t, err)
	assert.Equal(t, "via agent\n", string(res.Stdout))
}

func TestSSHConfigProxyJump(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	bastion, err := clustertest.NewSSHServer(clustertest.SSHServerConfig{AuthorizedKeys: []ssh.PublicKey{e.key.PublicKey()}})
	require.NoError(t, err)
	defer bastion.Close()
	e.trust(t, bastion)
	keyFile := e.keyFile
	conf := filepath.Join(e.dir, "config")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`
Host bastion
  HostName 127.0.0.1
  Port %d
  User jump

Host be1 be2
  HostName 127.0.0.1
  Port %d
  User root
  ProxyJump bastion
  IdentityAgent none

Host *
  IdentityFile %s
  UserKnownHostsFile %s
`, bastion.Port(), e.srv.Port(), keyFile, e.knownHosts)), 0o600))
	cfg, err := cluster.LoadSSHConfig(conf, "be1")
	require.NoError(t, err)
	assert.Equal(t, "be1", cfg.Name)
	assert.Equal(t, "127.0.0.1", cfg.Host)
	assert.Equal(t, e.srv.Port(), cfg.Port)
	assert.Equal(t, "root", cfg.User)
	assert.Equal(t, []string{keyFile}, cfg.IdentityFiles)
	require.Len(t, cfg.ProxyJump, 1)
	assert.Equal(t, "jump", cfg.ProxyJump[0].User)
	assert.Equal(t, bastion.Port(), cfg.ProxyJump[0].Port)

	n, err := cluster.DialSSH(context.Background(), cfg)
	require.NoError(t, err)
	defer n.Close()
	res, err := n.Run(context.Background(), cluster.Command("echo", "through the bastion"))
	require.NoError(t, err)
	assert.Equal(t, "through the bastion\n", string(res.Stdout))

	require.NoError(t, os.WriteFile(conf, []byte("Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n"), 0o600))
	_, err = cluster.LoadSSHConfig(conf, "a")
	assert.ErrorContains(t, err, "a loop?")
	require.NoError(t, os.WriteFile(conf, []byte("Host a\n  StrictHostKeyChecking no\n"), 0o600))
	_, err = cluster.LoadSSHConfig(conf, "a")
	assert.ErrorContains(t, err, "StrictHostKeyChecking no is not honoured")
}

func TestSSHAcceptNewKnownHostsModes(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	cfg := e.config("root")
	cfg.HostKeyPolicy = cluster.HostKeyAcceptNew

	// Created 0600 (in a 0700 directory) when missing.
	created := filepath.Join(e.dir, "fresh", "known_hosts")
	cfg.KnownHostsFiles = []string{created}
	n, err := cluster.DialSSH(context.Background(), cfg)
	require.NoError(t, err)
	n.Close()
	st, err := os.Stat(created)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	st, err = os.Stat(filepath.Dir(created))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())

	// An existing file keeps its own (stricter or usual) mode.
	for _, mode := range []os.FileMode{0o400 | 0o200, 0o644} {
		kh := filepath.Join(e.dir, fmt.Sprintf("known_hosts_%o", mode))
		require.NoError(t, os.WriteFile(kh, nil, 0o600))
		require.NoError(t, os.Chmod(kh, mode))
		cfg.KnownHostsFiles = []string{kh}
		n, err := cluster.DialSSH(context.Background(), cfg)
		require.NoError(t, err)
		n.Close()
		st, err := os.Stat(kh)
		require.NoError(t, err)
		assert.Equal(t, mode, st.Mode().Perm())
		b, _ := os.ReadFile(kh)
		assert.Equal(t, 1, strings.Count(string(b), "\n"), "the host was recorded")
	}

	// One that others may write is not appended to.
	for _, mode := range []os.FileMode{0o666, 0o620} {
		kh := filepath.Join(e.dir, fmt.Sprintf("known_hosts_open_%o", mode))
		require.NoError(t, os.WriteFile(kh, nil, 0o600))
		require.NoError(t, os.Chmod(kh, mode))
		cfg.KnownHostsFiles = []string{kh}
		_, err := cluster.DialSSH(context.Background(), cfg)
		var me *cluster.ModeError
		require.ErrorAs(t, err, &me, "mode %o", mode)
		assert.ErrorContains(t, err, "known_hosts file "+kh)
		assert.ErrorContains(t, err, "chmod go-w "+kh)
		b, _ := os.ReadFile(kh)
		assert.Empty(t, b)
	}
}

// TestSSHSudoRequireTTYNoTerminal: a sudo that always wants a terminal
// (this in-process server gives none a sudo would accept) fails the first
// root command with a *SudoError naming the sudoers line to add.
func TestSSHSudoRequireTTYNoTerminal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "sudo"), []byte("#!/bin/sh\necho 'sudo: sorry, you must have a tty to run sudo' >&2\nexit 1\n"), 0o755))
	e := newSSHEnv(t, "PATH="+bin+":"+os.Getenv("PATH"))
	n := e.dial(t, "deploy")
	_, err := n.Run(context.Background(), cluster.Command("private-chef-ctl", "status").AsRoot())
	var se *cluster.SudoError
	require.ErrorAs(t, err, &se)
	assert.True(t, se.RequireTTY)
	assert.ErrorContains(t, err, `be1: sudo refused "private-chef-ctl status" for user deploy: sudoers requires a terminal (Defaults requiretty)`)
	assert.ErrorContains(t, err, `add the line "Defaults:deploy !requiretty"`)
}
