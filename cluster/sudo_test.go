package cluster_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
)

// sudoUser is a real non-root user made for a test (useradd), who logs in
// to the test sshd with the test key and whose sudo rights the test sets
// in /etc/sudoers.d. Both are removed at cleanup.
type sudoUser struct {
	name    string
	sudoers string
}

func newSudoUser(t *testing.T, k *clientKey) *sudoUser {
	t.Helper()
	peer.NeedRoot(t, "creating a user to log in as and granting it sudo")
	peer.Need(t, "sudo", "sudo")
	useradd := peer.Need(t, "useradd", "passwd")
	userdel := peer.Need(t, "userdel", "passwd")
	usermod := peer.Need(t, "usermod", "passwd")
	b := make([]byte, 4)
	rand.Read(b)
	u := &sudoUser{name: "chefha" + hex.EncodeToString(b)}
	u.sudoers = filepath.Join("/etc/sudoers.d", "chefha-test-"+u.name)
	base := t.TempDir()
	// The user (and sshd acting as the user) must reach its home.
	require.NoError(t, os.Chmod(base, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(base), 0o755))
	home := filepath.Join(base, "home")
	if out, err := exec.Command(useradd, "-m", "-d", home, "-s", "/bin/sh", u.name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		os.Remove(u.sudoers)
		exec.Command(userdel, "-r", "-f", u.name).Run()
	})
	// Unlocked (sshd refuses a locked account) but without a password.
	if out, err := exec.Command(usermod, "-p", "*", u.name).CombinedOutput(); err != nil {
		t.Fatalf("usermod: %v: %s", err, out)
	}
	ssh := filepath.Join(home, ".ssh")
	require.NoError(t, os.MkdirAll(ssh, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(ssh, "authorized_keys"), sshAuthorized(k), 0o600))
	if out, err := exec.Command("chown", "-R", u.name+":", home).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
	return u
}

func sshAuthorized(k *clientKey) []byte { return ssh.MarshalAuthorizedKey(k.signer.PublicKey()) }

// grant writes the user's sudoers rules, checked by visudo.
func (u *sudoUser) grant(t *testing.T, rules ...string) {
	t.Helper()
	text := strings.ReplaceAll(strings.Join(rules, "\n"), "USER", u.name) + "\n"
	tmp := u.sudoers + ".new" // sudo ignores names with a dot
	require.NoError(t, os.WriteFile(tmp, []byte(text), 0o440))
	visudo := peer.Need(t, "visudo", "sudo")
	if out, err := exec.Command(visudo, "-cf", tmp).CombinedOutput(); err != nil {
		os.Remove(tmp)
		t.Fatalf("visudo: %v: %s", err, out)
	}
	require.NoError(t, os.Rename(tmp, u.sudoers))
}

// sudoSSHD is the test sshd reading each user's ~/.ssh/authorized_keys.
func sudoSSHD(t *testing.T, k *clientKey, extra string) *sshd {
	return startSSHDWith(t, k, sshdOpts{config: func(string) string {
		return "AuthorizedKeysFile %h/.ssh/authorized_keys\n" + extra
	}})
}

func (u *sudoUser) dial(t *testing.T, s *sshd, k *clientKey) *cluster.SSH {
	cfg := s.config(k, "be1")
	cfg.User = u.name
	return dialReal(t, cfg)
}

// TestRealSudo: Debian's sudo, a real user, OpenSSH's sshd.
func TestRealSudo(t *testing.T) {
	t.Parallel()
	k := newClientKey(t)
	u := newSudoUser(t, k)
	s := sudoSSHD(t, k, "LogLevel VERBOSE\n")
	ctx := context.Background()
	// sessions counts the sessions sshd started for the user, without
	// and with a terminal.
	sessions := func() (plain, tty int) {
		b, _ := os.ReadFile(s.log)
		plain = strings.Count(string(b), "Starting session: command for "+u.name)
		tty = strings.Count(string(b), "Starting session: command on pts/")
		return plain, tty
	}

	t.Run("passwordless", func(t *testing.T) {
		u.grant(t, "USER ALL=(ALL) NOPASSWD: ALL")
		n := u.dial(t, s, k)
		res, err := n.Run(ctx, cluster.Command("id", "-un"))
		require.NoError(t, err)
		assert.Equal(t, u.name+"\n", string(res.Stdout))
		res, err = n.Run(ctx, cluster.Command("id", "-un").AsRoot())
		require.NoError(t, err)
		assert.Equal(t, "root\n", string(res.Stdout))
		res, err = n.Run(ctx, cluster.Command("sh", "-c", "echo out; echo err >&2; exit 4").AsRoot())
		var ee *cluster.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, 4, res.ExitCode)
		assert.Equal(t, "out\n", string(res.Stdout))
		assert.Equal(t, "err\n", string(res.Stderr), "no terminal: stderr apart")
	})

	t.Run("password required", func(t *testing.T) {
		u.grant(t, "USER ALL=(ALL) ALL")
		n := u.dial(t, s, k)
		start := time.Now()
		_, err := n.Run(ctx, cluster.Command("private-chef-ctl", "status").AsRoot())
		var se *cluster.SudoError
		require.ErrorAs(t, err, &se)
		assert.False(t, se.RequireTTY)
		assert.Less(t, time.Since(start), 10*time.Second, "at once, not waiting for a password")
		assert.ErrorContains(t, err, "a password is required")
		assert.ErrorContains(t, err, u.name+" ALL=(root) NOPASSWD: ALL")
	})

	t.Run("requiretty", func(t *testing.T) {
		u.grant(t, "Defaults:USER requiretty", "USER ALL=(ALL) NOPASSWD: ALL")
		// Without a terminal, this sudo refuses: what RHEL 6 does.
		probe := u.dial(t, s, k)
		_, err := probe.Run(ctx, cluster.Command("sudo", "-n", "true"))
		require.ErrorContains(t, err, "you must have a tty to run sudo", "the sudoers rule is in force")

		n := u.dial(t, s, k)
		res, err := n.Run(ctx, cluster.Command("id", "-un").AsRoot())
		require.NoError(t, err)
		assert.Equal(t, "root\n", string(res.Stdout))
		// Learnt once: the next root command goes straight to a terminal.
		plain, tty := sessions()
		_, err = n.Run(ctx, cluster.Command("true").AsRoot())
		require.NoError(t, err)
		require.Eventually(t, func() bool { _, t2 := sessions(); return t2 == tty+1 }, 5*time.Second, 20*time.Millisecond)
		plain2, _ := sessions()
		assert.Equal(t, plain, plain2, "no second try without a terminal")

		// Byte-exact output: no CRLF, control bytes pass.
		want := "a\nb\r\n\tc\x01\x03\x04\x7f end"
		res, err = n.Run(ctx, cluster.Command("printf", "%s", want).AsRoot())
		require.NoError(t, err)
		assert.Equal(t, want, string(res.Stdout))

		// Exit status kept; stderr merged into stdout (a terminal has one stream).
		res, err = n.Run(ctx, cluster.Command("sh", "-c", "echo out; echo err >&2; exit 7").AsRoot())
		var ee *cluster.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, 7, res.ExitCode)
		assert.Equal(t, "out\nerr\n", string(res.Stdout))
		assert.Empty(t, res.Stderr)

		// Stdin arrives whole, with end-of-file, and leaves no file behind.
		in := []byte("line1\nline2\r\n\x03\x04\x1a\x00 binary \xff\n")
		res, err = n.Run(ctx, cluster.Cmd{Argv: []string{"sh", "-c", "cat; id -u"}, Stdin: in, Sudo: true})
		require.NoError(t, err)
		assert.Equal(t, string(in)+"0\n", string(res.Stdout))
		left, _ := filepath.Glob("/tmp/chefha-stdin.*")
		assert.Empty(t, left)
		res, err = n.Run(ctx, cluster.Command("cat").AsRoot())
		require.NoError(t, err)
		assert.Empty(t, res.Stdout, "no Stdin: /dev/null, not the terminal")

		// Commands without sudo keep their streams apart.
		res, err = n.Run(ctx, cluster.Command("sh", "-c", "echo err >&2"))
		require.NoError(t, err)
		assert.Equal(t, "err\n", string(res.Stderr))

		// Files only root may read come through sudo cat, byte-exact.
		secret := filepath.Join(t.TempDir(), "private-chef-secrets.json")
		require.NoError(t, os.WriteFile(secret, []byte("{\r\n\"a\": 1}\n"), 0o600))
		b, err := n.ReadFile(ctx, secret)
		require.NoError(t, err)
		assert.Equal(t, "{\r\n\"a\": 1}\n", string(b))

		// Cancelling kills the command.
		pidFile := filepath.Join(t.TempDir(), "pid")
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err = n.Run(cctx, cluster.Command("sh", "-c", "echo $$ > "+pidFile+"; exec sleep 60").AsRoot())
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assertProcessGone(t, pidFile)
	})

	t.Run("requiretty with a password", func(t *testing.T) {
		u.grant(t, "Defaults:USER requiretty", "USER ALL=(ALL) ALL")
		n := u.dial(t, s, k)
		_, err := n.Run(ctx, cluster.Command("true").AsRoot())
		var se *cluster.SudoError
		require.ErrorAs(t, err, &se)
		assert.ErrorContains(t, err, "a password is required")
	})

	t.Run("requiretty, and no terminal to be had", func(t *testing.T) {
		u.grant(t, "Defaults:USER requiretty", "USER ALL=(ALL) NOPASSWD: ALL")
		noTTY := sudoSSHD(t, k, "PermitTTY no\n")
		n := u.dial(t, noTTY, k)
		_, err := n.Run(ctx, cluster.Command("private-chef-ctl", "status").AsRoot())
		var se *cluster.SudoError
		require.ErrorAs(t, err, &se)
		assert.True(t, se.RequireTTY)
		assert.ErrorContains(t, err, `add the line "Defaults:`+u.name+` !requiretty"`)
		assert.ErrorContains(t, err, "be1: sudo refused")
	})
}
