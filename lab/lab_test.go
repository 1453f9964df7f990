package lab_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/lab"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLabShared starts two labs at once, a healthy one and one with the
// runbook's runit symptoms, and runs on them the tests that only read.
func TestLabShared(t *testing.T) {
	t.Parallel()
	labs := startLabs(t, lab.Spec{Version: "1.4.6", Frontends: 1},
		lab.Spec{Version: "1.4.6", Frontends: 1, MissingLogDir: true, TwoRunsvdirs: true, StaleLink: true, LogDirMode700: true})
	healthy, broken := labs[0], labs[1]

	t.Run("SideBySide", func(t *testing.T) { testSideBySide(t, healthy, broken) })
	t.Run("Preflight", func(t *testing.T) { testPreflight(t, healthy) })
	t.Run("RunsvdirLogDirMissing", func(t *testing.T) { testRunsvdirLogDirMissing(t, broken) })
	t.Run("RunitSymptoms", func(t *testing.T) { testRunitSymptoms(t, broken) })
	t.Run("CleanLeftoversSparesLiveLabs", func(t *testing.T) {
		require.NoError(t, lab.CleanLeftovers(context.Background()))
		for _, l := range labs {
			vip(t, l, l.Nodes[0], l.SSHConfig)
		}
	})
}

// vip reads the VIP a node was given, over SSH with the client config
// sshConfig (whose known_hosts is checked strictly).
func vip(t *testing.T, l *lab.Lab, n *lab.Node, sshConfig string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := cluster.LoadSSHConfig(sshConfig, n.Name)
	require.NoError(t, err)
	c, err := cluster.DialSSH(ctx, cfg)
	require.NoError(t, err, "%s of the lab on %s", n.Name, l.Subnet)
	defer c.Close()
	res, err := c.Run(ctx, cluster.Command("cat", "/var/opt/opscode/chefha-lab/vip"))
	require.NoError(t, err)
	return strings.TrimSpace(string(res.Stdout))
}

// Two labs on one machine: their own subnets and VIPs, and each node
// answers with its own lab's host key (another lab's key for the same
// node is refused).
func testSideBySide(t *testing.T, a, b *lab.Lab) {
	require.False(t, a.Subnet.Overlaps(b.Subnet), "%s and %s", a.Subnet, b.Subnet)
	assert.NotEqual(t, a.VIP, b.VIP)
	for _, l := range []*lab.Lab{a, b} {
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
}

func testPreflight(t *testing.T, l *lab.Lab) {
	ctx := context.Background()
	cl, err := l.Dial(ctx)
	require.NoError(t, err)
	defer cl.Close()
	rep, err := upgrade.Preflight(ctx, cl, upgrade.WithTarget(semver.MustParse("11.1.8")))
	require.NoError(t, err)
	var b bytes.Buffer
	rep.WriteTable(&b)
	t.Log("\n" + b.String())
	require.False(t, rep.Failed(), b.String())
}

// A missing log directory: svlogd fails, and the real runsvdir writes its
// complaint into its argv, where the pre-flight reads it.
func testRunsvdirLogDirMissing(t *testing.T, l *lab.Lab) {
	ctx := context.Background()
	cl, err := l.Dial(ctx)
	require.NoError(t, err)
	defer cl.Close()
	var rep upgrade.Report
	// runsvdir writes the error when svlogd exits; give it a few tries.
	require.Eventually(t, func() bool {
		rep, err = upgrade.Preflight(ctx, cl, upgrade.WithTarget(semver.MustParse("11.1.8")))
		require.NoError(t, err)
		for _, f := range rep.Findings {
			if f.Check == "runit-processes" && f.Node == "be1.lab.test" && f.Severity == upgrade.Fail &&
				strings.Contains(strings.Join(f.Evidence, " "), "/var/log/opscode/opscode-erchef") {
				return true
			}
		}
		return false
	}, 30*time.Second, time.Second, "no runsvdir finding naming the missing log dir")
	var b bytes.Buffer
	rep.WriteTable(&b)
	t.Log("\n" + b.String())
}

// The runbook's runit symptoms, made for real: a second runsvdir on the
// same service dir, a stale service link, /var/log/opscode mode 700. The
// pre-flight reads them from the real programs' output.
func testRunitSymptoms(t *testing.T, l *lab.Lab) {
	ctx := context.Background()
	cl, err := l.Dial(ctx)
	require.NoError(t, err)
	defer cl.Close()
	want := map[string]bool{"two-runsvdirs": false, "runsvdir-errors": false, "stale-service-link": false, "log-dir-mode": false}
	var rep upgrade.Report
	require.Eventually(t, func() bool {
		rep, err = upgrade.Preflight(ctx, cl, upgrade.WithTarget(semver.MustParse("11.1.8")))
		require.NoError(t, err)
		for _, f := range rep.Findings {
			if f.Node == "be1.lab.test" && len(f.Evidence) > 0 {
				sym, _, _ := strings.Cut(f.Evidence[0], ":")
				if _, ok := want[sym]; ok {
					want[sym] = true
				}
			}
		}
		for _, seen := range want {
			if !seen {
				return false
			}
		}
		return true
	}, 40*time.Second, 2*time.Second, "symptoms seen: %v", want)
	var b bytes.Buffer
	rep.WriteTable(&b)
	t.Log("\n" + b.String())
}

// Kill the bootstrap's keepalived: the gate sees the real failover.
func TestLabFailover(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Spec{Version: "1.4.6", Frontends: 1})
	ctx := context.Background()
	cl, err := l.Dial(ctx)
	require.NoError(t, err)
	defer cl.Close()
	read := func(ctx context.Context) (keepalived.Pair, error) {
		f := upgrade.Gather(ctx, cl)
		bf, _ := f.Node("be1.lab.test")
		sf, _ := f.Node("be2.lab.test")
		return keepalived.Pair{Bootstrap: bf.KeepalivedState(l.VIP), Secondary: sf.KeepalivedState(l.VIP)}, nil
	}
	g := keepalived.Gate{Read: read, Master: "be1.lab.test", Hold: 2 * time.Second, Timeout: 60 * time.Second, Poll: 200 * time.Millisecond, CheckVIP: true}
	_, err = g.Wait(ctx)
	require.NoError(t, err, "be1 master at start")

	// Stop it the way an operator (or a crash) would: kill the process;
	// runsv restarts it, in BACKUP, and nopreempt keeps be2 master.
	out, err := l.Node("be1.lab.test").Exec(ctx, "pkill", "-KILL", "-x", "keepalived")
	require.NoError(t, err, string(out))
	killed := time.Now()
	g.Master, g.Hold = "be2.lab.test", time.Nanosecond
	p, err := g.Wait(ctx)
	require.NoError(t, err, "failover to be2")
	t.Logf("failover (kill -9 of be1's keepalived → be2 master with the VIP): %s", time.Since(killed).Round(10*time.Millisecond))
	require.True(t, p.Secondary.HasVIP)
	g.Hold = 5 * time.Second
	p, err = g.Wait(ctx)
	require.NoError(t, err, "stable with be2 master after be1's keepalived is back")
	require.Equal(t, keepalived.Backup, p.Bootstrap.Current)
}

// leftoverEnv makes the test binary the process whose lab is left over.
const leftoverEnv = "CHEFHA_LAB_TEST_LEFTOVER"

type leftover struct {
	Dir    string
	Subnet netip.Prefix
	NetNS  []string
}

// A lab whose process was killed leaves its nodes running, namespaces, a
// bridge and files; CleanLeftovers (which Start calls) removes them, and
// only them: the labs of the other tests running meanwhile live on.
func TestLabLeftoversAreCleaned(t *testing.T) {
	if os.Getenv(leftoverEnv) != "" {
		l, err := lab.Start(context.Background(), lab.Spec{})
		if err != nil {
			t.Fatal(err)
		}
		rec := leftover{Dir: l.Dir, Subnet: l.Subnet}
		for _, n := range l.Nodes {
			rec.NetNS = append(rec.NetNS, n.NetNS)
		}
		json.NewEncoder(os.Stdout).Encode(rec)
		select {} // until killed
	}
	t.Parallel()
	needLab(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLabLeftoversAreCleaned$")
	cmd.Env = append(os.Environ(), leftoverEnv+"=1")
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
	require.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	require.NotEmpty(t, rec.NetNS, "the child's lab did not start: %s", strings.Join(said, "\n"))

	route := func() string {
		out, _ := exec.Command("ip", "route", "show", rec.Subnet.String()).Output()
		return strings.TrimSpace(string(out))
	}
	pids, err := exec.Command("ip", "netns", "pids", rec.NetNS[0]).Output()
	require.NoError(t, err)
	require.NotEmpty(t, strings.Fields(string(pids)), "the dead lab's nodes still run")
	require.NotEmpty(t, route(), "its bridge is still there")

	require.NoError(t, lab.CleanLeftovers(context.Background()))
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
	assert.Empty(t, route(), "bridge removed")
	_, err = os.Stat(rec.Dir)
	assert.True(t, errors.Is(err, os.ErrNotExist), "files removed")
}
