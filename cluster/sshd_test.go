package cluster_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/peer"
	"github.com/chefha/chefha/internal/stockhome"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshd is OpenSSH's server started by a test on 127.0.0.1 with its own host
// key, authorized_keys and config in a temp dir.
type sshd struct {
	port int
	cmd  *exec.Cmd
	dir  string
	log  string // sshd's own log (-e)
}

// clientKey is the key every test sshd trusts, with known_hosts for them.
type clientKey struct {
	signer     ssh.Signer
	keyFile    string
	knownHosts string
}

func newClientKey(t testing.TB) *clientKey {
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "chefha test")
	require.NoError(t, err)
	k := &clientKey{signer: signer, keyFile: filepath.Join(dir, "id_ed25519"), knownHosts: filepath.Join(dir, "known_hosts")}
	require.NoError(t, os.WriteFile(k.keyFile, pem.EncodeToMemory(block), 0o600))
	require.NoError(t, os.WriteFile(k.knownHosts, nil, 0o600))
	return k
}

func startSSHD(t testing.TB, k *clientKey) *sshd {
	t.Helper()
	return startSSHDPort(t, k, 0)
}

// startSSHDPort starts sshd on port, or on a free one when port is 0.
func startSSHDPort(t testing.TB, k *clientKey, port int) *sshd {
	t.Helper()
	return startSSHDWith(t, k, sshdOpts{port: port})
}

// sshdOpts vary the test sshd.
type sshdOpts struct {
	port int // 0: a free one
	// config returns sshd_config lines to put first (sshd keeps the first
	// value it reads for a keyword), given the sshd's directory, where
	// host_key and host_key.pub already are.
	config func(dir string) string
	// noTrust leaves the host key out of k's known_hosts.
	noTrust bool
}

func startSSHDWith(t testing.TB, k *clientKey, o sshdOpts) *sshd {
	t.Helper()
	port := o.port
	bin := peer.Need(t, "sshd", "openssh-server")
	if os.Geteuid() == 0 {
		// sshd run as root insists on its privilege separation directory,
		// which Debian's service unit creates at boot.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			peer.Missing(t, "sshd needs /run/sshd: "+err.Error())
		}
	}
	dir := t.TempDir()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(hostPriv, "")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "host_key"), pem.EncodeToMemory(block), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "host_key.pub"), ssh.MarshalAuthorizedKey(mustPub(t, hostPriv)), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(k.signer.PublicKey()), 0o600))
	if port == 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	extra := ""
	if o.config != nil {
		extra = o.config(dir)
	}
	conf := extra + fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %[2]s/host_key
AuthorizedKeysFile %[2]s/authorized_keys
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowTcpForwarding yes
Subsystem sftp internal-sftp
MaxStartups 100
MaxSessions 100
LogLevel ERROR
`, port, dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(conf), 0o600))
	if out, err := exec.Command(bin, "-t", "-f", filepath.Join(dir, "sshd_config")).CombinedOutput(); err != nil {
		t.Fatalf("sshd -t: %v\n%s", err, out)
	}
	cmd := stockHomeCommand(t, bin, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	require.NoError(t, err)
	cmd.Stderr = logf
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("sshd log:\n%s", b)
		}
	})
	s := &sshd{port: port, cmd: cmd, dir: dir, log: logf.Name()}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %d: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !o.noTrust {
		line := knownhosts.Line([]string{knownhosts.Normalize(fmt.Sprintf("127.0.0.1:%d", port))}, mustPub(t, hostPriv))
		f, err := os.OpenFile(k.knownHosts, os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		fmt.Fprintln(f, line)
		f.Close()
	}
	return s
}

// stockHomeCommand runs program with args, as root in a mount namespace
// of its own where /root is a stock Debian home (internal/stockhome): the
// shells the test sshd starts for root's commands read no dotfile of the
// machine's (a developer's pyenv init costs each command 180 ms and can
// hold them all on its lock). As another user the program runs as it is:
// that user's home is the developer's to keep clean.
func stockHomeCommand(t testing.TB, program string, args ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		return exec.Command(program, args...)
	}
	unshare := peer.Need(t, "unshare", "util-linux")
	home := filepath.Join(t.TempDir(), "root")
	require.NoError(t, stockhome.Write(home))
	// unshare without --fork execs: the command's process is program's.
	return exec.Command(unshare, append([]string{"--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$0" /root && exec "$@"`, home, program}, args...)...)
}

func mustPub(t testing.TB, priv ed25519.PrivateKey) ssh.PublicKey {
	p, err := ssh.NewPublicKey(priv.Public())
	require.NoError(t, err)
	return p
}

func (s *sshd) config(k *clientKey, name string) cluster.SSHConfig {
	return cluster.SSHConfig{Name: name, Host: "127.0.0.1", Port: s.port, User: localUserName(),
		NoAgent: true, IdentityFiles: []string{k.keyFile}, KnownHostsFiles: []string{k.knownHosts}}
}

func localUserName() string {
	if os.Geteuid() == 0 {
		return "root"
	}
	return os.Getenv("USER")
}

// dropConnections kills sshd's per-connection children, as a network
// failure or a reboot of the peer would cut them.
func (s *sshd) dropConnections(t *testing.T) {
	out, err := exec.Command("ps", "-o", "pid=", "--ppid", strconv.Itoa(s.cmd.Process.Pid)).Output()
	require.NoError(t, err)
	for _, f := range strings.Fields(string(out)) {
		pid, _ := strconv.Atoi(f)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func dialReal(t testing.TB, cfg cluster.SSHConfig) *cluster.SSH {
	t.Helper()
	n, err := cluster.DialSSH(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	return n
}

func TestOpenSSHNodeBehaviour(t *testing.T) {
	t.Parallel()
	k := newClientKey(t)
	s := startSSHD(t, k)
	testNodeBehaviour(t, dialReal(t, s.config(k, "be1")), t.TempDir())
}

func TestOpenSSHDroppedConnectionThenReconnect(t *testing.T) {
	t.Parallel()
	k := newClientKey(t)
	s := startSSHD(t, k)
	testDropAndReconnect(t, dialReal(t, s.config(k, "be1")), func() { s.dropConnections(t) })
}

func TestOpenSSHHostKeyChecks(t *testing.T) {
	t.Parallel()
	k := newClientKey(t)
	s := startSSHD(t, k)
	cfg := s.config(k, "be1")
	empty := filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	cfg.KnownHostsFiles = []string{empty}
	_, err := cluster.DialSSH(context.Background(), cfg)
	var he *cluster.HostKeyError
	require.ErrorAs(t, err, &he)
	require.True(t, he.Unknown)

	cfg.HostKeyPolicy = cluster.HostKeyAcceptNew
	dialReal(t, cfg)
	b, err := os.ReadFile(empty)
	require.NoError(t, err)
	require.Contains(t, string(b), fmt.Sprintf("[127.0.0.1]:%d ssh-ed25519 ", s.port))

	// The same port, another server and key: a mismatch against line 1.
	s.cmd.Process.Kill()
	s.cmd.Wait()
	restartSSHDOnPort(t, k, s.port)
	cfg.HostKeyPolicy = cluster.HostKeyStrict
	_, err = cluster.DialSSH(context.Background(), cfg)
	require.ErrorAs(t, err, &he)
	require.False(t, he.Unknown)
	require.Equal(t, empty, he.File)
	require.Equal(t, 1, he.Line)
}

// restartSSHDOnPort starts a new sshd (new host key) on a port a killed one used.
func restartSSHDOnPort(t *testing.T, k *clientKey, port int) *sshd {
	t.Helper()
	require.Eventually(t, func() bool {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return false
		}
		ln.Close()
		return true
	}, 5*time.Second, 50*time.Millisecond)
	return startSSHDPort(t, k, port)
}

func TestOpenSSHProxyJump(t *testing.T) {
	t.Parallel()
	k := newClientKey(t)
	bastion := startSSHD(t, k)
	target := startSSHD(t, k)
	cfg := target.config(k, "be2")
	cfg.ProxyJump = []cluster.SSHConfig{bastion.config(k, "bastion")}
	n := dialReal(t, cfg)
	res, err := n.Run(context.Background(), cluster.Command("echo", "through the bastion"))
	require.NoError(t, err)
	require.Equal(t, "through the bastion\n", string(res.Stdout))
	// Chained: bastion → bastion2 → target.
	bastion2 := startSSHD(t, k)
	cfg.ProxyJump = append(cfg.ProxyJump, bastion2.config(k, "bastion2"))
	n2 := dialReal(t, cfg)
	_, err = n2.Run(context.Background(), cluster.Command("true"))
	require.NoError(t, err)
}
