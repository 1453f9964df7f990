package lab_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/internal/peer"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/lab"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func startLab(t *testing.T, spec lab.Spec) *lab.Lab {
	t.Helper()
	if err := lab.Check(); errors.Is(err, lab.ErrUnsupported) {
		peer.Missing(t, err.Error()+" (make test as root installs them)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	l, err := lab.Start(ctx, spec)
	require.NoError(t, err)
	t.Logf("lab of %d nodes up in %s", len(l.Nodes), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range l.Nodes {
				b, _ := os.ReadFile(n.Root("/var/log/opscode/keepalived/cluster.log"))
				t.Logf("%s cluster.log:\n%s", n.Name, b)
			}
		}
		l.Close()
	})
	return l
}

func TestLabPreflight(t *testing.T) {
	l := startLab(t, lab.Spec{Version: "1.4.6", Frontends: 1})
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
func TestLabRunsvdirLogDirMissing(t *testing.T) {
	l := startLab(t, lab.Spec{Version: "1.4.6", Frontends: 1, MissingLogDir: true})
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
			if f.Check == "runit-processes" && f.Node == "be1.lab.test" && f.Severity == upgrade.Fail {
				return strings.Contains(strings.Join(f.Evidence, " "), "/var/log/opscode/opscode-erchef")
			}
		}
		return false
	}, 30*time.Second, time.Second, "no runsvdir finding naming the missing log dir")
	var b bytes.Buffer
	rep.WriteTable(&b)
	t.Log("\n" + b.String())
}

// Kill the bootstrap's keepalived: the gate sees the real failover.
func TestLabFailover(t *testing.T) {
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

// A lab whose process was killed leaves namespaces, a bridge and files;
// the next Start (CleanLeftovers) removes them.
func TestLabLeftoversAreCleaned(t *testing.T) {
	if err := lab.Check(); errors.Is(err, lab.ErrUnsupported) {
		peer.Missing(t, err.Error())
	}
	// A PID that is surely dead: a finished child's.
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	pid := strconv.Itoa(cmd.Process.Pid)
	ns, br, dir := "chl-"+pid+"-0", "chlb"+pid, "/var/tmp/chefha-lab-"+pid+"-x"
	require.NoError(t, exec.Command("ip", "netns", "add", ns).Run())
	require.NoError(t, exec.Command("ip", "link", "add", br, "type", "bridge").Run())
	require.NoError(t, os.MkdirAll(dir, 0o755))
	lab.CleanLeftovers()
	out, _ := exec.Command("ip", "netns", "list").Output()
	assert.NotContains(t, string(out), ns)
	assert.Error(t, exec.Command("ip", "link", "show", br).Run(), "bridge removed")
	_, err := os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "files removed")
}

// The runbook's runit symptoms, made for real: a second runsvdir on the
// same service dir, a stale service link, /var/log/opscode mode 700. The
// pre-flight reads them from the real programs' output.
func TestLabRunitSymptoms(t *testing.T) {
	l := startLab(t, lab.Spec{Version: "1.4.6", Frontends: 1, TwoRunsvdirs: true, StaleLink: true, LogDirMode700: true})
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
