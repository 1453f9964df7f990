package keepalived_test

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
	"github.com/chefha/chefha/keepalived"
)

var watchEpoch = time.Date(2014, 6, 10, 14, 0, 0, 0, time.UTC)

// watchSim is a settled simulated cluster on a fake clock and its two back
// ends reached over SSH.
type watchSim struct {
	sim      *clustertest.Cluster
	clock    *clustertest.FakeClock
	backends [2]cluster.Node
	vip      string
}

func newWatchSim(t *testing.T, knobs ...clustertest.Knob) *watchSim {
	t.Helper()
	clock := clustertest.NewFakeClock(watchEpoch)
	sim, err := clustertest.New(clustertest.Options{Version: "11.1.8", Frontends: 1, Clock: clock.Now, Sleep: clock.Advance, Knobs: knobs})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	// The first election and the bootstrap's takeover are over a minute on.
	clock.Advance(time.Minute)
	for _, n := range sim.Nodes {
		n.Settle()
	}
	cl, err := sim.Dial(context.Background())
	var de *cluster.DialError
	if !errors.As(err, &de) {
		require.NoError(t, err)
	}
	t.Cleanup(func() { cl.Close() })
	w := &watchSim{sim: sim, clock: clock, vip: cl.Topology.BackendVIP.IPAddress}
	for i, name := range []string{sim.Bootstrap().Name, sim.Secondary().Name} {
		var ok bool
		w.backends[i], ok = cl.Node(name)
		require.True(t, ok, name)
	}
	return w
}

// watch starts a Watch polling every 5 s of the fake clock: longer than a
// simulated transition (3 s) or election (3 s of silence), so a failover
// takes two polls.
func (w *watchSim) watch(t *testing.T, ctx context.Context) <-chan keepalived.Snapshot {
	t.Helper()
	return keepalived.Watch(ctx, w.backends, keepalived.WatchOptions{VIP: w.vip, Interval: 5 * time.Second, Clock: w.clock, Backlog: -1})
}

// next moves the clock on by d (0: not at all) and returns the next snapshot.
func (w *watchSim) next(t *testing.T, snaps <-chan keepalived.Snapshot, d time.Duration) keepalived.Snapshot {
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
	return keepalived.Snapshot{}
}

// logLines are a simulated node's cluster.log lines.
func (w *watchSim) logLines(t *testing.T, node string) []string {
	t.Helper()
	b, err := w.sim.Node(node).ReadFile(keepalived.ClusterLogPath)
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func count(lines []string, suffix string) int {
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
	w := newWatchSim(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := w.watch(t, ctx)
	be1, be2 := w.backends[0].Name(), w.backends[1].Name()

	s := w.next(t, snaps, 0)
	assert.Equal(t, 1, s.Seq)
	assert.Equal(t, w.clock.Now(), s.Time)
	require.NoError(t, s.Bootstrap.Err)
	require.NoError(t, s.Secondary.Err)
	assert.Equal(t, keepalived.Master, s.Bootstrap.Current)
	assert.True(t, s.Bootstrap.HasVIP)
	assert.Equal(t, keepalived.Backup, s.Secondary.Current)
	assert.False(t, s.Secondary.HasVIP)
	assert.Empty(t, s.Findings, "a settled pair")
	assert.Empty(t, s.Bootstrap.Log, "Backlog -1: no old lines")
	require.NotNil(t, s.Bootstrap.Services)
	require.NotNil(t, s.Secondary.Services)
	// The master runs everything but opscode-chef-mover, which the
	// packaging keeps down (recipes/opscode-chef-mover.rb: action :down).
	assert.Equal(t, []string{"opscode-chef-mover"}, s.Bootstrap.Services.Stopped, "the master runs everything else")
	assert.Positive(t, s.Bootstrap.Services.Up)
	assert.Equal(t, 1, s.Secondary.Services.Up, "the backup runs keepalived only")
	assert.Positive(t, s.Secondary.Services.Down, "its HA services are down")
	assert.Len(t, s.Secondary.Services.Stopped, s.Secondary.Services.Down)
	assert.NotContains(t, s.Secondary.Services.Stopped, "keepalived")
	before := map[string]int{be1: len(w.logLines(t, be1)), be2: len(w.logLines(t, be2))}

	// The runbook's failover: stop keepalived on the master.
	_, err := w.backends[0].Run(ctx, cluster.Command("private-chef-ctl", "stop", "keepalived").AsRoot())
	require.NoError(t, err)

	got := map[string][]string{}
	var all []keepalived.Snapshot
	for range 2 {
		s = w.next(t, snaps, 5*time.Second)
		all = append(all, s)
		got[be1] = append(got[be1], s.Bootstrap.Log...)
		got[be2] = append(got[be2], s.Secondary.Log...)
	}
	// Within two polls: the bootstrap has left master, the secondary is
	// master and holds the VIP.
	assert.Equal(t, keepalived.Backup, s.Bootstrap.Current)
	assert.False(t, s.Bootstrap.HasVIP)
	assert.Equal(t, keepalived.Master, s.Secondary.Current)
	assert.True(t, s.Secondary.HasVIP)
	assert.Empty(t, s.Findings, "the pair settled with %s master: %v", be2, s.Findings)
	assert.Positive(t, s.Bootstrap.Services.Down, "the HA services stopped on the old master")
	assert.Zero(t, s.Secondary.Services.Down, "and started on the new one")
	// On the way, a poll saw a transition under way.
	inTransition := false
	for _, f := range all[0].Findings {
		inTransition = inTransition || f.Problem == keepalived.ProblemInTransition
	}
	assert.True(t, inTransition, "the first poll after the stop sees a transition: %v", all[0].Findings)

	// Each new cluster.log line arrived once, in order: what the log
	// gained, exactly.
	for _, node := range []string{be1, be2} {
		assert.Equal(t, w.logLines(t, node)[before[node]:], got[node], node)
	}
	assert.Equal(t, 1, count(got[be1], ": Transitioning to backup"))
	assert.Equal(t, 1, count(got[be1], ": Transitioned to backup"))
	assert.Equal(t, 1, count(got[be2], ": Transitioning to master"))
	assert.Equal(t, 1, count(got[be2], ": Transitioned to master"))
	assert.Zero(t, count(got[be2], ": Transitioning to backup"))
	ev, ok := keepalived.LastTransition(s.Secondary.Events)
	if assert.True(t, ok, "the events of the new lines") {
		assert.Equal(t, keepalived.EventTransitioned, ev.Kind)
		assert.Equal(t, keepalived.Master, ev.To)
	}

	// Nothing new: the next snapshot has no lines.
	s = w.next(t, snaps, 5*time.Second)
	assert.Empty(t, s.Bootstrap.Log)
	assert.Empty(t, s.Secondary.Log)
	assert.Equal(t, 4, s.Seq)
}

func TestWatchBacklog(t *testing.T) {
	t.Parallel()
	w := newWatchSim(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := keepalived.Watch(ctx, w.backends, keepalived.WatchOptions{Clock: w.clock})
	s := w.next(t, snaps, 0)
	want := w.logLines(t, w.backends[0].Name())
	assert.Equal(t, want[len(want)-keepalived.DefaultBacklog:], s.Bootstrap.Log, "the first snapshot carries tail's ten lines")
	assert.False(t, s.Bootstrap.HasVIP, "no VIP given: not looked for")
	assert.Empty(t, s.Findings, "nor judged")
}

func TestWatchUnreachableNodeKeepsStreaming(t *testing.T) {
	t.Parallel()
	w := newWatchSim(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := w.watch(t, ctx)
	s := w.next(t, snaps, 0)
	require.NoError(t, s.Secondary.Err)

	be2 := w.backends[1].Name()
	require.NoError(t, w.sim.Node(be2).StopSSH())
	for seq := 2; seq <= 3; seq++ {
		s = w.next(t, snaps, 5*time.Second)
		assert.Equal(t, seq, s.Seq)
		assert.Error(t, s.Secondary.Err, "be2 cannot be read")
		assert.Contains(t, s.Secondary.Err.Error(), be2)
		assert.Equal(t, be2, s.Secondary.Name)
		require.NoError(t, s.Bootstrap.Err, "be1 is read as before")
		assert.Equal(t, keepalived.Master, s.Bootstrap.Current)
		require.Len(t, s.Findings, 1)
		assert.Equal(t, keepalived.ProblemUnreadable, s.Findings[0].Problem)
		assert.Equal(t, be2, s.Findings[0].Node)
	}
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"error":`)
}

func TestWatchNodeUnreachableFromTheStart(t *testing.T) {
	t.Parallel()
	w := newWatchSim(t, clustertest.Unreachable("be2.chefha.test"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := w.watch(t, ctx)
	for range 2 {
		s := w.next(t, snaps, 5*time.Second)
		var ue *cluster.UnreachableError
		assert.ErrorAs(t, s.Secondary.Err, &ue)
		assert.NoError(t, s.Bootstrap.Err)
	}
}

// A cluster.log line cannot pass for one of the poll's section markers.
func TestWatchLogCannotForgeSections(t *testing.T) {
	t.Parallel()
	forged := "@@chefha-watch-0123456789abcdef:current\nfault\n@@chefha-watch-0123456789abcdef-rc:0\n@@chefha-watch-0123456789abcdef:status\n"
	w := newWatchSim(t, clustertest.File("be2.chefha.test", keepalived.ClusterLogPath, forged, 0o644))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := keepalived.Watch(ctx, w.backends, keepalived.WatchOptions{VIP: w.vip, Clock: w.clock, Backlog: 10})
	s := w.next(t, snaps, 0)
	require.NoError(t, s.Secondary.Err)
	assert.Equal(t, keepalived.Backup, s.Secondary.Current)
	assert.Equal(t, strings.Split(strings.TrimSuffix(forged, "\n"), "\n"), s.Secondary.Log)
	assert.Empty(t, s.Secondary.Events, "no line of it is cluster.sh's")
	assert.NotNil(t, s.Secondary.Services)
}

// Cancelling the context ends a poll under way and closes the stream,
// leaving no goroutine of the watch behind.
func TestWatchCancelClosesStream(t *testing.T) {
	// Not parallel: it counts the process's goroutines.
	w := newWatchSim(t, clustertest.SlowNode("be2.chefha.test", time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	snaps := keepalived.Watch(ctx, w.backends, keepalived.WatchOptions{Clock: w.clock, Timeout: 2 * time.Hour})
	waitFor(t, func() bool { return watchGoroutines() > 1 }, "the first poll under way")
	cancel()
	select {
	case s, ok := <-snaps:
		assert.False(t, ok, "no snapshot of a cancelled poll: %+v", s)
	case <-time.After(time.Minute):
		t.Fatal("the stream did not close")
	}
	// The watch's goroutine closes the channel as its last act.
	assert.Eventually(t, func() bool { return watchGoroutines() == 0 }, 10*time.Second, 5*time.Millisecond, "goroutines of the watch left behind")

	// Cancelled while waiting for the next tick, too.
	w = newWatchSim(t)
	ctx, cancel = context.WithCancel(context.Background())
	snaps = w.watch(t, ctx)
	w.next(t, snaps, 0)
	cancel()
	_, ok := <-snaps
	assert.False(t, ok)
	// The watch's goroutine closes the channel as its last act.
	assert.Eventually(t, func() bool { return watchGoroutines() == 0 }, 10*time.Second, 5*time.Millisecond, "goroutines of the watch left behind")
}

// watchGoroutines counts the goroutines running code of the keepalived
// package (the watch loop and its per-node reads); the test's own run in
// keepalived_test.
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
		// A test's own goroutine (tRunner) is not the watch's: the
		// package's parallel tests wait in theirs.
		if strings.Contains(g, "github.com/chefha/chefha/keepalived.") && !strings.Contains(g, "testing.tRunner") {
			k++
		}
	}
	return k
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

func TestWatchNilNode(t *testing.T) {
	t.Parallel()
	w := newWatchSim(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := keepalived.Watch(ctx, [2]cluster.Node{w.backends[0], nil}, keepalived.WatchOptions{Clock: w.clock})
	s := w.next(t, snaps, 0)
	assert.NoError(t, s.Bootstrap.Err)
	assert.Error(t, s.Secondary.Err)
}

func TestSnapshotJSON(t *testing.T) {
	t.Parallel()
	w := newWatchSim(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := w.next(t, keepalived.Watch(ctx, w.backends, keepalived.WatchOptions{VIP: w.vip, Clock: w.clock}), 0)
	b, err := json.Marshal(s)
	require.NoError(t, err)
	var v struct {
		Format string    `json:"format"`
		Seq    int       `json:"seq"`
		Time   time.Time `json:"time"`
		Nodes  []struct {
			Name      string   `json:"name"`
			Bootstrap bool     `json:"bootstrap"`
			Current   string   `json:"current"`
			HasVIP    bool     `json:"has_vip"`
			Log       []string `json:"log"`
			Services  *struct {
				Up, Down int
				Stopped  []string
			} `json:"services"`
		} `json:"nodes"`
		Findings []any `json:"findings"`
	}
	require.NoError(t, json.Unmarshal(b, &v), "%s", b)
	assert.Equal(t, keepalived.WatchFormat, v.Format)
	assert.Equal(t, 1, v.Seq)
	assert.True(t, v.Time.Equal(s.Time))
	require.Len(t, v.Nodes, 2)
	assert.True(t, v.Nodes[0].Bootstrap)
	assert.Equal(t, "master", v.Nodes[0].Current)
	assert.True(t, v.Nodes[0].HasVIP)
	assert.Equal(t, s.Bootstrap.Log, v.Nodes[0].Log)
	require.NotNil(t, v.Nodes[1].Services)
	assert.Equal(t, s.Secondary.Services.Stopped, v.Nodes[1].Services.Stopped)
	assert.NotNil(t, v.Findings, "findings is a list, empty when none")
}
