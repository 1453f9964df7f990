package keepalived

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock advances only when the gate waits on it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.t = c.t.Add(d)
	now := c.t
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func node(name string, cur Status, vip bool) NodeState {
	return NodeState{Name: name, Current: cur, Requested: cur, HasVIP: vip}
}

func stablePair() Pair {
	return Pair{Bootstrap: node("be1", Master, true), Secondary: node("be2", Backup, false)}
}

func TestJudge(t *testing.T) {
	t.Parallel()
	problems := func(p Pair) []Problem {
		var out []Problem
		for _, f := range Judge(p) {
			out = append(out, f.Problem)
		}
		return out
	}
	assert.Empty(t, problems(stablePair()))
	assert.Empty(t, JudgeBootstrapMaster(stablePair()))

	split := Pair{Bootstrap: node("be1", Master, true), Secondary: node("be2", Master, true)}
	assert.Contains(t, problems(split), ProblemSplitBrain)

	none := Pair{Bootstrap: node("be1", Backup, false), Secondary: node("be2", Backup, false)}
	assert.Equal(t, []Problem{ProblemNoMaster}, problems(none))

	flipped := Pair{Bootstrap: node("be1", Backup, false), Secondary: node("be2", Master, true)}
	assert.Empty(t, problems(flipped), "a healthy pair may have the secondary as master")
	bm := JudgeBootstrapMaster(flipped)
	require.Len(t, bm, 1)
	assert.Contains(t, bm[0].Fix, "stop keepalived on be2")

	moving := stablePair()
	moving.Secondary.Requested = Master // requested ≠ current: a transition
	assert.Contains(t, problems(moving), ProblemInTransition)
	locked := stablePair()
	locked.Bootstrap.LockPID, locked.Bootstrap.LockAlive = 77, true
	assert.Contains(t, problems(locked), ProblemInTransition)
	stale := stablePair()
	stale.Bootstrap.LockPID = 77 // dead process: a stale lock, not a transition
	assert.Empty(t, problems(stale))

	noVIP := stablePair()
	noVIP.Bootstrap.HasVIP = false
	assert.Equal(t, []Problem{ProblemVIPNotOnMaster}, problems(noVIP))
	vipOnBackup := stablePair()
	vipOnBackup.Secondary.HasVIP = true
	assert.Equal(t, []Problem{ProblemVIPOnBackup}, problems(vipOnBackup))

	gone := stablePair()
	gone.Secondary.Err = errors.New("dial tcp: connection refused")
	assert.Equal(t, []Problem{ProblemUnreadable}, problems(gone))
}

// script returns a reader that plays observations, one per poll, repeating
// the last.
func script(obs ...func(time.Time) Pair) (func(context.Context) (Pair, error), *fakeClock, *int) {
	clock := &fakeClock{t: t0}
	i := 0
	return func(context.Context) (Pair, error) {
		o := obs[min(i, len(obs)-1)]
		i++
		return o(clock.Now()), nil
	}, clock, &i
}

func fixed(p Pair) func(time.Time) Pair { return func(time.Time) Pair { return p } }

func gate(read func(context.Context) (Pair, error), c Clock) Gate {
	return Gate{Read: read, Master: "be1", Clock: c, Hold: 30 * time.Second, Timeout: 2 * time.Minute, Poll: 5 * time.Second, CheckVIP: true}
}

func TestGateStableAtOnce(t *testing.T) {
	t.Parallel()
	read, clock, polls := script(fixed(stablePair()))
	p, err := gate(read, clock).Wait(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Master, p.Bootstrap.Current)
	assert.Equal(t, 30*time.Second, clock.Now().Sub(t0), "waited exactly the hold")
	assert.Equal(t, 7, *polls)
}

// master → backup → master: the gate must not open on the first master,
// and must wait out the hold after the last flap.
func TestGateFlappingWaitsOutTheHold(t *testing.T) {
	t.Parallel()
	flap := stablePair()
	flap.Bootstrap = node("be1", Backup, false)
	flap.Secondary = node("be2", Master, true)
	read, clock, _ := script(fixed(stablePair()), fixed(stablePair()), fixed(flap), fixed(flap), fixed(stablePair()))
	_, err := gate(read, clock).Wait(context.Background())
	require.NoError(t, err)
	// Stable again at poll 5 (t0+20s), then the 30 s hold.
	assert.Equal(t, 50*time.Second, clock.Now().Sub(t0))
}

// A transition logged while the files look stable restarts the hold.
func TestGateNewLogTransitionRestartsHold(t *testing.T) {
	t.Parallel()
	var logged Pair
	read, clock, _ := script(func(now time.Time) Pair {
		p := stablePair()
		if now.Sub(t0) >= 20*time.Second {
			if logged.Bootstrap.Name == "" {
				logged = p
				logged.Bootstrap.Events = []Event{{Time: now, Kind: EventTransitioned, To: Master}}
			}
			return logged
		}
		return p
	})
	_, err := gate(read, clock).Wait(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 50*time.Second, clock.Now().Sub(t0), "hold counted from the logged transition at +20s")
}

func TestGateStuckTransitionTimesOut(t *testing.T) {
	t.Parallel()
	stuck := stablePair()
	stuck.Secondary.Requested = Master
	stuck.Secondary.LockPID, stuck.Secondary.LockAlive = 4242, true
	read, clock, _ := script(fixed(stuck))
	_, err := gate(read, clock).Wait(context.Background())
	var te *GateTimeoutError
	require.ErrorAs(t, err, &te)
	msg := err.Error()
	assert.Contains(t, msg, "not stable with be1 master after 2m0s")
	assert.Contains(t, msg, "be2: backup (requested master), transition lock held by pid 4242, for 2m0s")
	assert.Contains(t, msg, "in-transition")
}

func TestGateSplitBrain(t *testing.T) {
	t.Parallel()
	split := Pair{Bootstrap: node("be1", Master, true), Secondary: node("be2", Master, true)}
	read, clock, _ := script(fixed(split))
	_, err := gate(read, clock).Wait(context.Background())
	assert.ErrorContains(t, err, "split-brain: both be1 and be2 are master")
}

func TestGateNodeNeverAnswers(t *testing.T) {
	t.Parallel()
	gone := stablePair()
	gone.Secondary = NodeState{Name: "be2", Err: errors.New("dial tcp 10.0.0.2:22: i/o timeout")}
	read, clock, _ := script(fixed(gone))
	_, err := gate(read, clock).Wait(context.Background())
	assert.ErrorContains(t, err, "be2: unreadable (dial tcp 10.0.0.2:22: i/o timeout), for 2m0s")
}

func TestGateWrongMasterAndCancel(t *testing.T) {
	t.Parallel()
	flipped := Pair{Bootstrap: node("be1", Backup, false), Secondary: node("be2", Master, true)}
	read, clock, _ := script(fixed(flipped))
	_, err := gate(read, clock).Wait(context.Background())
	assert.ErrorContains(t, err, "be2 is master, want be1")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	read, _, _ = script(fixed(flipped))
	_, err = Gate{Read: read, Master: "be1", Clock: RealClock{}, Poll: time.Hour}.Wait(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

// The notify script, run for real by sh: a transition, and a request made
// while another holds the lock.
func TestNotifyScript(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hookLog := filepath.Join(dir, "hook.log")
	hook := filepath.Join(dir, "hook.sh")
	require.NoError(t, os.WriteFile(hook, []byte("#!/bin/sh\necho \"services for $1\" >> "+hookLog+"\n"), 0o755))
	sh := filepath.Join(dir, "cluster.sh")
	cfg := NotifyConfig{StateDir: filepath.Join(dir, "state"), LogFile: filepath.Join(dir, "log", "cluster.log"), Hook: hook}
	require.NoError(t, os.WriteFile(sh, []byte(NotifyScript(cfg)), 0o755))

	out, err := exec.Command(sh, "master").CombinedOutput()
	require.NoError(t, err, string(out))
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(cfg.StateDir, name))
		require.NoError(t, err)
		return string(b)
	}
	assert.Equal(t, "master\n", read("current_cluster_status"))
	assert.Equal(t, "master\n", read("requested_cluster_status"))
	_, err = os.Stat(filepath.Join(cfg.StateDir, "cluster-transition.lock"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the lock is released")
	hooked, _ := os.ReadFile(hookLog)
	assert.Equal(t, "services for master\n", string(hooked))

	// Another transition holds the lock (this test's own PID is alive).
	require.NoError(t, os.WriteFile(filepath.Join(cfg.StateDir, "cluster-transition.lock"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644))
	out, err = exec.Command(sh, "backup").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "master\n", read("current_cluster_status"), "unchanged")
	assert.Equal(t, "backup\n", read("requested_cluster_status"), "requested ≠ current: in transition")

	f, err := os.Open(cfg.LogFile)
	require.NoError(t, err)
	defer f.Close()
	ev, err := ParseClusterLog(f)
	require.NoError(t, err, "the script's log parses")
	var kinds []EventKind
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	assert.Equal(t, []EventKind{EventTransitioning, EventTransitioned, EventAlreadyRunning}, kinds)
	_, err = exec.Command(sh, "limbo").CombinedOutput()
	assert.Error(t, err)
}

func TestVRRPConfig(t *testing.T) {
	t.Parallel()
	conf := VRRPConfig{RouterID: "be1", Interface: "eth1", Priority: 100, SourceIP: "10.1.2.10", PeerIP: "10.1.2.12",
		VIP: "192.168.4.7", Notify: "/opt/opscode/bin/cluster.sh"}.String()
	for _, want := range []string{"state BACKUP\n  nopreempt", "interface eth1", "priority 100", "unicast_src_ip 10.1.2.10",
		"unicast_peer {\n    10.1.2.12\n  }", "192.168.4.7/24 dev eth1", `notify_master "/opt/opscode/bin/cluster.sh master"`,
		`notify_stop "/opt/opscode/bin/cluster.sh backup"`} {
		assert.Contains(t, conf, want)
	}
}

// What Extra finds is reported while the pair is unsettled too: a master
// transition stuck on a service it cannot start says why.
func TestGateStuckTransitionNamesExtra(t *testing.T) {
	t.Parallel()
	stuck := stablePair()
	stuck.Bootstrap.Current, stuck.Bootstrap.Requested = Backup, Master
	read, clock, _ := script(fixed(stuck))
	g := gate(read, clock)
	g.Extra = func(context.Context, Pair) []Finding {
		return []Finding{{Problem: "orphan-runsv", Node: "be1", Detail: "runsv postgresql (pid 37) has no runsvdir"}}
	}
	_, err := g.Wait(context.Background())
	var te *GateTimeoutError
	require.ErrorAs(t, err, &te)
	assert.Contains(t, err.Error(), "in-transition")
	assert.Contains(t, err.Error(), "orphan-runsv: be1: runsv postgresql (pid 37) has no runsvdir")
}

// Reads that fail now and then keep a gate from holding; at its timeout
// the gate says so, not that the pair is flapping: no transition was
// logged (the lab's "flapping" that was reads timing out).
func TestGateIntermittentReadsAreNotFlapping(t *testing.T) {
	t.Parallel()
	old := stablePair()
	old.Bootstrap.Events = []Event{{Time: t0.Add(-6 * time.Minute), Kind: EventTransitioned, To: Master}}
	n := 0
	read, clock, _ := script(func(time.Time) Pair {
		n++
		p := old
		if n%2 == 0 {
			p.Bootstrap = NodeState{Name: "be1", Err: errors.New("be1 unreadable: the read timed out after 10s")}
		}
		return p
	})
	_, err := gate(read, clock).Wait(context.Background())
	var te *GateTimeoutError
	require.ErrorAs(t, err, &te)
	assert.NotContains(t, err.Error(), "flapping")
	assert.Contains(t, err.Error(), "could not read a node (last: be1 unreadable: the read timed out after 10s)")
}
