package upgrade_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/drbd"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/upgrade"
)

// watchEnv is a settled simulated cluster (two back ends, one front end)
// on a fake clock, dialled; a node the knobs make unreachable is dialled
// all the same, and read as unreachable.
type watchEnv struct {
	sim   *clustertest.Cluster
	cl    *cluster.Cluster
	clock *clustertest.FakeClock
}

func newWatchEnv(t *testing.T, knobs ...clustertest.Knob) *watchEnv {
	t.Helper()
	sim, clock := settledSim(t, "11.1.8", 1, knobs...)
	cl, err := sim.Dial(context.Background())
	var de *cluster.DialError
	if !errors.As(err, &de) {
		require.NoError(t, err)
	}
	t.Cleanup(func() { cl.Close() })
	return &watchEnv{sim: sim, cl: cl, clock: clock}
}

// watch starts a Watch looking every 5 s of the fake clock: longer than a
// simulated transition (3 s) or election (3 s of silence), so a failover
// takes two looks.
func (w *watchEnv) watch(t *testing.T, ctx context.Context, o upgrade.WatchOptions) <-chan upgrade.WatchSnapshot {
	t.Helper()
	if o.Interval == 0 {
		o.Interval = 5 * time.Second
	}
	if o.Backlog == 0 {
		o.Backlog = -1
	}
	o.Clock = w.clock
	snaps, err := upgrade.Watch(ctx, w.cl, o)
	require.NoError(t, err)
	return snaps
}

// next moves the clock on by d (0: not at all) and returns the next snapshot.
func (w *watchEnv) next(t *testing.T, snaps <-chan upgrade.WatchSnapshot, d time.Duration) upgrade.WatchSnapshot {
	t.Helper()
	if d > 0 {
		w.clock.Advance(d)
	}
	select {
	case s, ok := <-snaps:
		require.True(t, ok, "the stream closed")
		return s
	case <-time.After(time.Minute):
		t.Fatal("no snapshot within a minute of wall time")
	}
	return upgrade.WatchSnapshot{}
}

// once is the first snapshot of a watch with o.
func (w *watchEnv) once(t *testing.T, o upgrade.WatchOptions) upgrade.WatchSnapshot {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	return w.next(t, w.watch(t, ctx, o), 0)
}

// logLines are a simulated node's cluster.log lines.
func (w *watchEnv) logLines(t *testing.T, node string) []string {
	t.Helper()
	b, err := w.sim.Node(node).ReadFile(keepalived.ClusterLogPath)
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func problems(fs []upgrade.WatchFinding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Problem)
	}
	return out
}

func countSuffix(lines []string, suffix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasSuffix(l, suffix) {
			n++
		}
	}
	return n
}

func TestWatchFailover(t *testing.T) {
	t.Parallel()
	w := newWatchEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := w.watch(t, ctx, upgrade.WatchOptions{})
	be1, be2 := "be1.chefha.test", "be2.chefha.test"

	s := w.next(t, snaps, 0)
	assert.Equal(t, 1, s.Seq)
	assert.Equal(t, w.clock.Now(), s.Time)
	boot, sec := s.Backends[0], s.Backends[1]
	require.NoError(t, boot.Err)
	require.NoError(t, sec.Err)
	assert.Equal(t, be1, boot.Name)
	assert.Equal(t, keepalived.Master, boot.Current)
	assert.True(t, boot.HasVIP)
	assert.Equal(t, keepalived.Backup, sec.Current)
	assert.False(t, sec.HasVIP)
	assert.Empty(t, s.Findings, "a settled cluster")
	assert.False(t, s.Alarm())
	assert.Empty(t, boot.Log, "Backlog -1: no old lines")
	require.NotNil(t, boot.Services)
	require.NotNil(t, sec.Services)
	// The master runs everything but opscode-chef-mover, which the
	// packaging keeps down (recipes/opscode-chef-mover.rb: action :down).
	assert.Equal(t, []string{"opscode-chef-mover"}, boot.Services.Stopped, "the master runs everything else")
	assert.Equal(t, 1, sec.Services.Up, "the backup runs keepalived only")
	assert.Len(t, sec.Services.Stopped, sec.Services.Down)
	require.NoError(t, boot.DRBDErr)
	assert.True(t, boot.DRBD.Healthy(drbd.Primary), boot.DRBD.String())
	assert.True(t, sec.DRBD.Healthy(drbd.Secondary), sec.DRBD.String())
	require.Len(t, s.Frontends, 1)
	assert.Equal(t, "fe1.chefha.test", s.Frontends[0].Name)
	require.NoError(t, s.Frontends[0].Err)
	assert.Positive(t, s.Frontends[0].Services.Up)
	assert.Zero(t, s.Frontends[0].Services.Down)
	assert.Nil(t, s.Step, "no journal, no step")
	before := map[string]int{be1: len(w.logLines(t, be1)), be2: len(w.logLines(t, be2))}

	// The runbook's failover: stop keepalived on the master.
	n, _ := w.cl.Node(be1)
	_, err := n.Run(ctx, cluster.Command("private-chef-ctl", "stop", "keepalived").AsRoot())
	require.NoError(t, err)

	got := map[string][]string{}
	var all []upgrade.WatchSnapshot
	for range 2 {
		s = w.next(t, snaps, 5*time.Second)
		all = append(all, s)
		got[be1] = append(got[be1], s.Backends[0].Log...)
		got[be2] = append(got[be2], s.Backends[1].Log...)
	}
	// Within two looks: the bootstrap has left master, the secondary is
	// master, holds the VIP and is DRBD Primary.
	boot, sec = s.Backends[0], s.Backends[1]
	assert.Equal(t, keepalived.Backup, boot.Current)
	assert.Equal(t, keepalived.Master, sec.Current)
	assert.True(t, sec.HasVIP)
	assert.Equal(t, drbd.Primary, sec.DRBD.Role)
	assert.Empty(t, s.Findings, "settled with %s master: %v", be2, s.Findings)
	assert.Contains(t, problems(all[0].Findings), string(keepalived.ProblemInTransition), "the first look after the stop sees a transition")

	// Each new cluster.log line arrived once, in order: what the log
	// gained, exactly.
	for _, node := range []string{be1, be2} {
		assert.Equal(t, w.logLines(t, node)[before[node]:], got[node], node)
	}
	assert.Equal(t, 1, countSuffix(got[be2], ": Transitioning to master"))
	assert.Equal(t, 1, countSuffix(got[be2], ": Transitioned to master"))

	s = w.next(t, snaps, 5*time.Second)
	assert.Empty(t, s.Backends[0].Log, "nothing new")
	assert.Equal(t, 4, s.Seq)
}

func TestWatchBacklog(t *testing.T) {
	t.Parallel()
	w := newWatchEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps, err := upgrade.Watch(ctx, w.cl, upgrade.WatchOptions{Clock: w.clock})
	require.NoError(t, err)
	s := w.next(t, snaps, 0)
	want := w.logLines(t, "be1.chefha.test")
	assert.Equal(t, want[len(want)-keepalived.DefaultBacklog:], s.Backends[0].Log, "the first snapshot carries tail's ten lines")
}

func TestWatchUnreachableBackendKeepsStreaming(t *testing.T) {
	t.Parallel()
	w := newWatchEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := w.watch(t, ctx, upgrade.WatchOptions{})
	s := w.next(t, snaps, 0)
	require.NoError(t, s.Backends[1].Err)

	be2 := "be2.chefha.test"
	require.NoError(t, w.sim.Node(be2).StopSSH())
	for seq := 2; seq <= 3; seq++ {
		s = w.next(t, snaps, 5*time.Second)
		assert.Equal(t, seq, s.Seq)
		sec := s.Backends[1]
		require.Error(t, sec.Err, "be2 cannot be read")
		assert.Contains(t, sec.Err.Error(), be2)
		assert.Equal(t, be2, sec.Name)
		assert.Equal(t, sec.Err, sec.DRBDErr, "nor its DRBD")
		require.NoError(t, s.Backends[0].Err, "be1 is read as before")
		assert.Equal(t, []string{string(keepalived.ProblemUnreadable)}, problems(s.Findings), "one finding for the node, not one per thing unread")
	}
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"error":`)
}

// A front end that cannot be read is shown so, with the reason: never as
// a front end whose services run.
func TestWatchFrontendUnreachable(t *testing.T) {
	t.Parallel()
	w := newWatchEnv(t, clustertest.Unreachable("fe1.chefha.test"))
	s := w.once(t, upgrade.WatchOptions{})
	require.Len(t, s.Frontends, 1)
	fe := s.Frontends[0]
	require.Error(t, fe.Err)
	assert.Contains(t, fe.Err.Error(), "fe1.chefha.test unreadable: ")
	assert.Contains(t, fe.Err.Error(), "not reached")
	assert.Nil(t, fe.Services, "nothing known")
	require.Len(t, s.Findings, 1)
	assert.Equal(t, upgrade.WatchFrontendUnreadable, s.Findings[0].Problem)
	assert.Equal(t, "fe1.chefha.test", s.Findings[0].Node)
	assert.True(t, s.Alarm())
	assert.NoError(t, s.Backends[0].Err, "the back ends are read all the same")

	s = w.once(t, upgrade.WatchOptions{Ignore: []string{"Frontend-Unreachable"}})
	require.Len(t, s.Findings, 1, "an ignored finding is still shown")
	assert.True(t, s.Findings[0].Ignored)
	assert.False(t, s.Alarm(), "but raises no alarm")
}

func TestWatchRefusals(t *testing.T) {
	t.Parallel()
	w := newWatchEnv(t)
	_, err := upgrade.Watch(context.Background(), w.cl, upgrade.WatchOptions{Ignore: []string{"in-transition", "backup"}})
	var ue *upgrade.UnknownProblemError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "backup", ue.Name)
	assert.Contains(t, err.Error(), "frontend-services-down", "the message lists the findings there are")
	assert.NotContains(t, err.Error(), "-ignore", "a library error names no flag")

	top := w.cl.Topology
	top.Servers = top.Frontends()
	_, err = upgrade.Watch(context.Background(), &cluster.Cluster{Topology: top}, upgrade.WatchOptions{})
	assert.ErrorContains(t, err, "no bootstrap and secondary")
}

// DRBD as the watch shows it: a resync with its progress, a pair that
// stopped replicating.
func TestWatchDRBD(t *testing.T) {
	t.Parallel()
	s := newWatchEnv(t, clustertest.DRBDResync(42.5, 10000)).once(t, upgrade.WatchOptions{})
	sec := s.Backends[1].DRBD
	require.NoError(t, s.Backends[1].DRBDErr)
	assert.Equal(t, drbd.SyncTarget, sec.CState)
	require.NotNil(t, sec.Sync)
	assert.Greater(t, sec.Sync.Percent, 42.0, "the resync went on while the cluster settled")
	assert.Less(t, sec.Sync.Percent, 100.0)
	assert.Contains(t, problems(s.Findings), upgrade.WatchDRBDNotUpToDate)

	s = newWatchEnv(t, clustertest.DRBDStandAlone()).once(t, upgrade.WatchOptions{})
	assert.Equal(t, drbd.StandAlone, s.Backends[0].DRBD.CState)
	assert.Contains(t, problems(s.Findings), upgrade.WatchDRBDDisconnected)
	for _, f := range s.Findings {
		if f.Problem == upgrade.WatchDRBDDisconnected {
			assert.Contains(t, f.Detail, "split brain")
		}
	}
}

// A cluster.log line cannot pass for one of the read's section markers.
func TestWatchLogCannotForgeSections(t *testing.T) {
	t.Parallel()
	forged := "@@chefha-0123456789abcdef:current\nfault\n@@chefha-0123456789abcdef-rc:0\n@@chefha-0123456789abcdef:status\n"
	w := newWatchEnv(t, clustertest.File("be2.chefha.test", keepalived.ClusterLogPath, forged, 0o644))
	s := w.once(t, upgrade.WatchOptions{Backlog: 10})
	sec := s.Backends[1]
	require.NoError(t, sec.Err)
	assert.Equal(t, keepalived.Backup, sec.Current)
	assert.Equal(t, strings.Split(strings.TrimSuffix(forged, "\n"), "\n"), sec.Log)
	assert.Empty(t, sec.Events, "no line of it is cluster.sh's")
	assert.NotNil(t, sec.Services)
}

// Cancelling the context ends a look under way and closes the stream,
// leaving no goroutine of the watch behind.
func TestWatchCancelClosesStream(t *testing.T) {
	// Not parallel: it counts the process's goroutines.
	w := newWatchEnv(t, clustertest.SlowNode("be2.chefha.test", time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	snaps, err := upgrade.Watch(ctx, w.cl, upgrade.WatchOptions{Clock: w.clock, Timeout: 2 * time.Hour})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return watchGoroutines() > 1 }, time.Minute, 5*time.Millisecond, "the first look under way")
	cancel()
	select {
	case s, ok := <-snaps:
		assert.False(t, ok, "no snapshot of a cancelled look: %+v", s)
	case <-time.After(time.Minute):
		t.Fatal("the stream did not close")
	}
	// The watch's goroutine closes the channel as its last act.
	assert.Eventually(t, func() bool { return watchGoroutines() == 0 }, 10*time.Second, 5*time.Millisecond, "goroutines of the watch left behind")

	// Cancelled while waiting for the next tick, too.
	w = newWatchEnv(t)
	ctx, cancel = context.WithCancel(context.Background())
	snaps = w.watch(t, ctx, upgrade.WatchOptions{})
	w.next(t, snaps, 0)
	cancel()
	_, ok := <-snaps
	assert.False(t, ok)
	assert.Eventually(t, func() bool { return watchGoroutines() == 0 }, 10*time.Second, 5*time.Millisecond, "goroutines of the watch left behind")
}

// watchGoroutines counts the goroutines running the watch's code: its
// loop and its per-node reads.
func watchGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	k := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/chefha/chefha/upgrade.(*watcher)") {
			k++
		}
	}
	return k
}

func TestWatchSnapshotJSON(t *testing.T) {
	t.Parallel()
	w := newWatchEnv(t, clustertest.Unreachable("fe1.chefha.test"))
	s := w.once(t, upgrade.WatchOptions{Journal: &upgrade.MemJournal{}, Ignore: []string{"frontend-unreachable"}})
	b, err := json.Marshal(s)
	require.NoError(t, err)
	var v struct {
		Format   string `json:"format"`
		Seq      int    `json:"seq"`
		Backends []struct {
			Name      string `json:"name"`
			Bootstrap bool   `json:"bootstrap"`
			Current   string `json:"current"`
			HasVIP    bool   `json:"has_vip"`
			DRBD      struct {
				CState   string `json:"cstate"`
				Role     string `json:"role"`
				PeerDisk string `json:"peer_disk"`
			} `json:"drbd"`
		} `json:"backends"`
		Frontends []struct {
			Name  string `json:"name"`
			Error string `json:"error"`
		} `json:"frontends"`
		Step struct {
			Journal string `json:"journal"`
			NoRun   bool   `json:"no_run"`
		} `json:"step"`
		Findings []struct {
			Problem string `json:"problem"`
			Ignored bool   `json:"ignored"`
		} `json:"findings"`
	}
	require.NoError(t, json.Unmarshal(b, &v), "%s", b)
	assert.Equal(t, upgrade.WatchFormat, v.Format)
	assert.Equal(t, 1, v.Seq)
	require.Len(t, v.Backends, 2)
	assert.True(t, v.Backends[0].Bootstrap)
	assert.Equal(t, "master", v.Backends[0].Current)
	assert.Equal(t, "Connected", v.Backends[0].DRBD.CState)
	assert.Equal(t, "Primary", v.Backends[0].DRBD.Role)
	assert.Equal(t, "UpToDate", v.Backends[1].DRBD.PeerDisk)
	require.Len(t, v.Frontends, 1)
	assert.Contains(t, v.Frontends[0].Error, "not reached")
	assert.Equal(t, "memory", v.Step.Journal)
	assert.True(t, v.Step.NoRun)
	require.Len(t, v.Findings, 1)
	assert.True(t, v.Findings[0].Ignored)
}
