package keepalived

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chefha/chefha/internal/peer"
	"github.com/stretchr/testify/require"
)

// vrrpNode is one keepalived in its own network namespace.
type vrrpNode struct {
	name, ns, ifname, addr string
	dir                    string
	cmd                    *exec.Cmd
	exited                 chan struct{}
	bin                    string
}

const testVIP = "10.77.0.100"

func (n *vrrpNode) state() NodeState {
	s := NodeState{Name: n.name}
	read := func(f string) (Status, error) {
		b, err := os.ReadFile(filepath.Join(n.dir, "state", f))
		if err != nil {
			return "", err
		}
		return ParseStatus(f, b)
	}
	var err error
	if s.Current, err = read("current_cluster_status"); err != nil {
		s.Err = err
		return s
	}
	if s.Requested, err = read("requested_cluster_status"); err != nil {
		s.Err = err
		return s
	}
	if b, err := os.ReadFile(filepath.Join(n.dir, "state", "cluster-transition.lock")); err == nil {
		if pid, err := ParseLock("lock", b); err == nil {
			s.LockPID, s.LockAlive = pid, syscall.Kill(pid, 0) == nil
		}
	}
	out, err := exec.Command("ip", "netns", "exec", n.ns, "ip", "-o", "-4", "addr", "show", "dev", n.ifname).Output()
	if err != nil {
		s.Err = err
		return s
	}
	s.HasVIP = bytes.Contains(out, []byte(" "+testVIP+"/"))
	if f, err := os.Open(filepath.Join(n.dir, "cluster.log")); err == nil {
		s.Events, _ = ParseClusterLog(f)
		f.Close()
	}
	return s
}

func (n *vrrpNode) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(n.dir, "keepalived.out"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	n.cmd = exec.Command("ip", "netns", "exec", n.ns, n.bin, "--dont-fork", "--log-console", "--vrrp",
		"-f", filepath.Join(n.dir, "keepalived.conf"),
		"-p", filepath.Join(n.dir, "keepalived.pid"), "-r", filepath.Join(n.dir, "vrrp.pid"))
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	require.NoError(t, n.cmd.Start())
	exited := make(chan struct{})
	n.exited = exited
	go func() { n.cmd.Wait(); logf.Close(); close(exited) }()
}

// stop stops keepalived the way `private-chef-ctl stop keepalived` does:
// with TERM, so it gives up the VIP and tells its peer.
func (n *vrrpNode) stop() {
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(10 * time.Second):
			n.cmd.Process.Kill()
		}
	}
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
}

// TestRealVRRPPair runs Debian's keepalived in two network namespaces
// joined by a veth pair (unicast peers, a VIP, nopreempt), each with
// NotifyScript writing its state; the gate watches the pair through a
// failover and a restart.
func TestRealVRRPPair(t *testing.T) {
	t.Parallel()
	bin := peer.Need(t, "keepalived", "keepalived")
	peer.Need(t, "ip", "iproute2")
	peer.NeedRoot(t, "network namespaces for the VRRP pair (ip netns add)")
	suffix := strconv.Itoa(os.Getpid() % 100000)
	nodes := []*vrrpNode{
		{name: "be1", ns: "chefha-be1-" + suffix, ifname: "cva" + suffix, addr: "10.77.0.1", bin: bin},
		{name: "be2", ns: "chefha-be2-" + suffix, ifname: "cvb" + suffix, addr: "10.77.0.2", bin: bin},
	}
	for _, n := range nodes {
		if err := exec.Command("ip", "netns", "add", n.ns).Run(); err != nil {
			peer.Missing(t, "cannot create a network namespace (ip netns add): "+err.Error())
		}
		ns := n.ns
		t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns).Run() })
	}
	ipCmd(t, "link", "add", nodes[0].ifname, "netns", nodes[0].ns, "type", "veth", "peer", "name", nodes[1].ifname, "netns", nodes[1].ns)
	for i, n := range nodes {
		other := nodes[1-i]
		ipCmd(t, "-n", n.ns, "link", "set", "lo", "up")
		ipCmd(t, "-n", n.ns, "addr", "add", n.addr+"/24", "dev", n.ifname)
		ipCmd(t, "-n", n.ns, "link", "set", n.ifname, "up")
		n.dir = t.TempDir()
		script := filepath.Join(n.dir, "cluster.sh")
		require.NoError(t, os.WriteFile(script, []byte(NotifyScript(NotifyConfig{
			StateDir: filepath.Join(n.dir, "state"), LogFile: filepath.Join(n.dir, "cluster.log")})), 0o755))
		// be1 (the bootstrap) has the higher priority; both start as BACKUP
		// with nopreempt, as EC's keepalived.conf does.
		conf := VRRPConfig{RouterID: n.name, Interface: n.ifname, Priority: 150 - 50*i, SourceIP: n.addr,
			PeerIP: other.addr, VIP: testVIP, Notify: script}.String()
		require.NoError(t, os.WriteFile(filepath.Join(n.dir, "keepalived.conf"), []byte(conf), 0o644))
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.stop()
		}
		if t.Failed() {
			for _, n := range nodes {
				b, _ := os.ReadFile(filepath.Join(n.dir, "keepalived.out"))
				l, _ := os.ReadFile(filepath.Join(n.dir, "cluster.log"))
				t.Logf("%s keepalived:\n%s\n%s cluster.log:\n%s", n.name, b, n.name, l)
			}
		}
	})
	// The bootstrap first, so it becomes master; then the secondary.
	nodes[0].start(t)
	time.Sleep(1500 * time.Millisecond)
	nodes[1].start(t)

	read := func(ctx context.Context) (Pair, error) {
		return Pair{Bootstrap: nodes[0].state(), Secondary: nodes[1].state()}, nil
	}
	g := Gate{Read: read, Master: "be1", Hold: 3 * time.Second, Timeout: 60 * time.Second, Poll: 200 * time.Millisecond, CheckVIP: true}
	p, err := g.Wait(context.Background())
	require.NoError(t, err, "be1 becomes master")
	require.True(t, p.Bootstrap.HasVIP)

	// Stop the master's keepalived: be2 must take over.
	killed := time.Now()
	nodes[0].stop()
	g.Master = "be2"
	g.Hold = time.Nanosecond // measure the failover itself
	p, err = g.Wait(context.Background())
	require.NoError(t, err, "failover to be2")
	failover := time.Since(killed)
	t.Logf("failover (keepalived stopped on be1 → be2 master, VIP on be2): %s", failover.Round(10*time.Millisecond))
	require.True(t, p.Secondary.HasVIP)
	require.False(t, p.Bootstrap.HasVIP)

	// Restart be1: with nopreempt, be2 stays master despite its lower priority.
	nodes[0].start(t)
	g.Hold = 5 * time.Second
	p, err = g.Wait(context.Background())
	require.NoError(t, err, "nopreempt keeps be2 master")
	require.Equal(t, Backup, p.Bootstrap.Current)
	require.Equal(t, Master, p.Secondary.Current)
}
