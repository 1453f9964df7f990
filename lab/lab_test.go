package lab_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/stockhome"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/lab"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vip reads a node's VIP from its private-chef.rb over SSH with the client
// config sshConfig (whose known_hosts is checked strictly).
func vip(t *testing.T, l *lab.Lab, n *lab.Node, sshConfig string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := cluster.LoadSSHConfig(sshConfig, n.Name)
	require.NoError(t, err)
	c, err := cluster.DialSSH(ctx, cfg)
	require.NoError(t, err, "%s of the lab on %s", n.Name, l.Subnet)
	defer c.Close()
	res, err := c.Run(ctx, cluster.Command("cat", cluster.TopologyPath))
	require.NoError(t, err)
	top, err := cluster.ParseTopology(bytes.NewReader(res.Stdout))
	require.NoError(t, err)
	return top.BackendVIP.IPAddress
}

// Two labs on one machine: their own subnets and VIPs, each node answers
// with its own lab's host key (another lab's key for the same node is
// refused), the pre-flight passes on a healthy one, and CleanLeftovers
// spares both.
func TestLabSideBySide(t *testing.T) {
	t.Parallel()
	labs := []*lab.Lab{sharedLab(t, "1.4.6"), sharedLab(t, "11.1.8")}
	a, b := labs[0], labs[1]
	require.False(t, a.Subnet.Overlaps(b.Subnet), "%s and %s", a.Subnet, b.Subnet)
	assert.NotEqual(t, a.VIP, b.VIP)
	for _, l := range labs {
		assert.True(t, l.Subnet.Contains(netip.MustParseAddr(l.VIP)), "VIP %s in %s", l.VIP, l.Subnet)
		for _, n := range l.Nodes {
			assert.True(t, l.Subnet.Contains(netip.MustParseAddr(n.Addr)), "%s's %s in %s", n.Name, n.Addr, l.Subnet)
			assert.Equal(t, l.VIP, vip(t, l, n, l.SSHConfig), "%s of the lab on %s", n.Name, l.Subnet)
		}
	}
	// b's host keys, recorded for a's addresses: a's nodes do not match.
	kh, err := os.ReadFile(b.KnownHosts)
	require.NoError(t, err)
	swapped := string(kh)
	for i, n := range b.Nodes {
		swapped = strings.ReplaceAll(swapped, n.Addr+" ", a.Nodes[i].Addr+" ")
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(swapped), 0o600))
	cfg, err := cluster.LoadSSHConfig(a.SSHConfig, a.Nodes[0].Name)
	require.NoError(t, err)
	cfg.KnownHostsFiles = []string{filepath.Join(dir, "known_hosts")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = cluster.DialSSH(ctx, cfg)
	var hk *cluster.HostKeyError
	require.ErrorAs(t, err, &hk, "the other lab's key for %s", a.Nodes[0].Addr)
	assert.False(t, hk.Unknown, "a mismatch, not an unknown host")

	for _, l := range labs {
		rep := preflight(t, l, "11.1.8")
		var b bytes.Buffer
		rep.WriteTable(&b)
		assert.False(t, rep.Failed(), "the pre-flight of a healthy lab on %s:\n%s", l.Subnet, b.String())
	}
	require.NoError(t, lab.CleanLeftovers(context.Background()))
	for _, l := range labs {
		vip(t, l, l.Nodes[0], l.SSHConfig)
	}
}

func preflight(t *testing.T, l *lab.Lab, target string) upgrade.Report {
	t.Helper()
	ctx := context.Background()
	cl, err := l.Dial(ctx)
	var de *cluster.DialError
	if !errors.As(err, &de) {
		require.NoError(t, err) // an unreachable node is the pre-flight's to report
	}
	defer cl.Close()
	rep, err := upgrade.Preflight(ctx, cl, upgrade.WithTarget(target))
	require.NoError(t, err)
	return rep
}

// Kill the bootstrap's keepalived: the gate sees the real failover, and
// upgrade.Watch shows it within two polls of its happening.
func TestLabFailoverWatched(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Spec{Version: "11.1.8"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := l.Dial(ctx)
	require.NoError(t, err)
	defer cl.Close()

	const interval = time.Second
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	type seen struct {
		upgrade.WatchSnapshot
		at time.Time
	}
	watched, err := upgrade.Watch(wctx, cl, upgrade.WatchOptions{Interval: interval})
	require.NoError(t, err)
	snaps := make(chan seen, 1000)
	go func() {
		for s := range watched {
			snaps <- seen{s, time.Now()}
			if s.Backends[1].HasVIP {
				// The snapshots after it prove nothing, and each look reads
				// the three nodes.
				stop()
			}
		}
		close(snaps)
	}()

	// The gate reads the pair: a Gather of the back ends only.
	top := l.Topology
	top.Servers = top.Backends()
	pair, err := cluster.Dial(ctx, top, cluster.ServerConfigs(l.SSHConfig, false))
	require.NoError(t, err)
	defer pair.Close()
	read := func(ctx context.Context) (keepalived.Pair, error) {
		f := upgrade.Gather(ctx, pair)
		bf, _ := f.Node(l.Nodes[0].Name)
		sf, _ := f.Node(l.Nodes[1].Name)
		return keepalived.Pair{Bootstrap: bf.KeepalivedState(l.VIP), Secondary: sf.KeepalivedState(l.VIP)}, nil
	}
	// Every look is a whole Gather of the pair (some 100 processes on
	// them); a look a second, as the watch's, is enough for holds of
	// seconds: the failover's moment is the test's own look below.
	g := keepalived.Gate{Read: read, Master: l.Nodes[0].Name, Hold: 2 * time.Second, Timeout: time.Minute, Poll: time.Second, CheckVIP: true}
	_, err = g.Wait(ctx)
	require.NoError(t, err, "be1 master at start")

	// Kill it as a crash would: no notify_stop. runsv restarts it, in
	// BACKUP, and nopreempt keeps be2 master.
	out, err := l.Nodes[0].Exec(ctx, "pkill", "-KILL", "-x", "keepalived")
	require.NoError(t, err, string(out))
	killed := time.Now()
	// When be2 took the VIP, looked for ten times a second in its network
	// namespace.
	var took time.Time
	for took.IsZero() && time.Since(killed) < time.Minute {
		out, _ := l.Nodes[1].Exec(ctx, "ip", "-o", "-4", "addr", "show")
		if strings.Contains(string(out), " "+l.VIP+"/") {
			took = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.False(t, took.IsZero(), "be2 took the VIP")
	g.Master, g.Hold = l.Nodes[1].Name, time.Nanosecond
	p, err := g.Wait(ctx)
	require.NoError(t, err, "failover to be2")
	t.Logf("failover (kill -9 of be1's keepalived → be2 holds the VIP %s, master %s)", took.Sub(killed).Round(10*time.Millisecond), time.Since(killed).Round(10*time.Millisecond))
	require.True(t, p.Secondary.HasVIP)
	g.Hold = 5 * time.Second
	p, err = g.Wait(ctx)
	require.NoError(t, err, "stable with be2 master after be1's keepalived is back")
	require.Equal(t, keepalived.Backup, p.Bootstrap.Current)

	// The watch: the first snapshot showing be2 with the VIP is one of the
	// first two whose poll began after be2 took it.
	stop()
	after := 0
	for s := range snaps {
		if !s.Time.Before(took) {
			after++
		}
		if s.Backends[1].HasVIP {
			t.Logf("watch snapshot %d shows it; its poll began %s after the test's own look saw the VIP move", s.Seq, s.Time.Sub(took).Round(10*time.Millisecond))
			// The VIP cannot move before the kill: a snapshot from before
			// it showing be2 with the VIP would be a wrong read, not the
			// failover the watch must show.
			assert.False(t, s.Time.Before(killed), "the watch's first snapshot with be2 holding the VIP was polled before the kill")
			assert.LessOrEqual(t, after, 2, "seen within two polls")
			return
		}
	}
	t.Fatal("no snapshot showed be2 with the VIP")
}

// leftoverEnv makes the test binary the process whose lab is left over.
const leftoverEnv = "CHEFHA_LAB_TEST_LEFTOVER"

type leftover struct {
	Dir    string
	Subnet netip.Prefix
	NetNS  []string
	Bridge string // the link the subnet's route goes through
}

// routeDev is the link the host's route to subnet goes through, if any.
func routeDev(subnet netip.Prefix) string {
	out, _ := exec.Command("ip", "route", "show", subnet.String()).Output()
	f := strings.Fields(string(out))
	if i := slices.Index(f, "dev"); i >= 0 && i+1 < len(f) {
		return f[i+1]
	}
	return ""
}

// A lab whose process was killed leaves its nodes running, namespaces, a
// bridge and files; CleanLeftovers (which Start calls) removes them, and
// only them: the labs of the other tests running meanwhile live on. Those
// labs' Starts clean leftovers too, and may take the freed subnet at once:
// the test holds their cleaning off until it has seen the leftovers, and
// looks only at what the dead lab owned.
func TestLabLeftoversAreCleaned(t *testing.T) {
	if program := os.Getenv(leftoverEnv); program != "" {
		l, err := lab.Start(context.Background(), lab.Spec{Program: program})
		if err != nil {
			t.Fatal(err)
		}
		rec := leftover{Dir: l.Dir, Subnet: l.Subnet, Bridge: routeDev(l.Subnet)}
		for _, n := range l.Nodes {
			rec.NetNS = append(rec.NetNS, n.NetNS)
		}
		json.NewEncoder(os.Stdout).Encode(rec)
		select {} // until killed
	}
	t.Parallel()
	needLab(t)
	admit(t, 1) // the child's lab
	cmd := exec.Command(os.Args[0], "-test.run=^TestLabLeftoversAreCleaned$")
	cmd.Env = append(os.Environ(), leftoverEnv+"="+nodeProgram(t))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var rec leftover
	var said []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && json.Unmarshal(sc.Bytes(), &rec) != nil {
		said = append(said, sc.Text())
	}
	if len(rec.NetNS) == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the child's lab did not start: %s", strings.Join(said, "\n"))
	}
	require.NotEmpty(t, rec.Bridge, "the child's lab has a route to %s", rec.Subnet)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	release, err := lab.HoldAlloc(ctx)
	require.NoError(t, err)
	require.NoError(t, cmd.Process.Kill())
	cmd.Wait()

	link := func() error { return exec.Command("ip", "link", "show", rec.Bridge).Run() }
	pids, err := exec.Command("ip", "netns", "pids", rec.NetNS[0]).Output()
	require.NoError(t, err)
	require.NotEmpty(t, strings.Fields(string(pids)), "the dead lab's nodes still run")
	require.NoError(t, link(), "its bridge is still there")
	require.Equal(t, rec.Bridge, routeDev(rec.Subnet), "its route is still there")
	release()

	require.NoError(t, lab.CleanLeftovers(ctx))
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, ns := range rec.NetNS {
		assert.NotContains(t, string(out), ns+" ")
	}
	// Killed: gone, or a zombie until the host's init reaps it.
	assert.Eventually(t, func() bool {
		for _, p := range strings.Fields(string(pids)) {
			if b, err := os.ReadFile("/proc/" + p + "/stat"); err == nil && !bytes.Contains(b, []byte(") Z ")) {
				return false
			}
		}
		return true
	}, 5*time.Second, 50*time.Millisecond, "the dead lab's node processes killed: %s", pids)
	assert.Error(t, link(), "bridge removed")
	// The subnet may be another lab's by now, on a bridge of its own.
	assert.NotEqual(t, rec.Bridge, routeDev(rec.Subnet), "the route through the bridge removed")
	_, err = os.Stat(rec.Dir)
	assert.True(t, errors.Is(err, os.ErrNotExist), "files removed")
}

// A node has root's home of its own, with Debian's stock dotfiles, and a
// clean environment: a command over SSH (root's bash, which reads
// ~/.bashrc) reads nothing of the machine's /root and sees nothing of
// the environment that started the lab.
func TestLabNodeHomeIsItsOwn(t *testing.T) {
	t.Parallel()
	l := sharedLab(t, "11.1.8")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := l.Dial(ctx)
	require.NoError(t, err)
	defer cl.Close()
	var host syscall.Stat_t
	require.NoError(t, syscall.Stat("/root", &host))
	for _, n := range l.Nodes {
		node, ok := cl.Node(n.Name)
		require.True(t, ok)
		res, err := node.Run(ctx, cluster.Command("sh", "-c", `echo "$HOME"; stat -c %d:%i /root; ls -A /root; env`))
		require.NoError(t, err, n.Name)
		lines := strings.Split(string(res.Stdout), "\n")
		require.Greater(t, len(lines), 4, string(res.Stdout))
		assert.Equal(t, "/root", lines[0], n.Name)
		assert.NotEqual(t, fmt.Sprintf("%d:%d", host.Dev, host.Ino), lines[1], "%s's /root is not the machine's", n.Name)
		assert.Equal(t, []string{".bashrc", ".profile"}, lines[2:4], "%s's home holds the stock dotfiles only", n.Name)
		for _, kv := range lines[4:] {
			k, _, _ := strings.Cut(kv, "=")
			assert.False(t, strings.HasPrefix(k, "GO") || strings.HasPrefix(k, "PYENV") || strings.HasPrefix(k, "CHEFHA"),
				"%s's environment has %s from the machine", n.Name, k)
		}
		for _, f := range []string{".bashrc", ".profile"} {
			got, err := os.ReadFile(n.Root("/root/" + f))
			require.NoError(t, err)
			want, _ := os.ReadFile(filepath.Join(stockhome.Skeleton, "dot"+f[1:]))
			assert.Equal(t, string(want), string(got), "%s's ~/%s is Debian's", n.Name, f)
		}
	}
}
