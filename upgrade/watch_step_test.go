package upgrade_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chefha/chefha/upgrade"
)

// lookOnce is the first snapshot of a watch of e's cluster following j.
func (e *upgradeEnv) lookOnce(t *testing.T, j upgrade.Journal) upgrade.WatchSnapshot {
	t.Helper()
	w := &watchEnv{sim: e.sim, cl: e.cl, clock: e.clock}
	return w.once(t, upgrade.WatchOptions{Journal: j})
}

// recordDone is a journal of p with its first n steps done, a minute
// apart from start.
func recordDone(t *testing.T, p upgrade.Plan, n int, start time.Time) *upgrade.MemJournal {
	t.Helper()
	rec := upgrade.Record{Format: upgrade.JournalFormat, PlanHash: p.Hash(), Plan: p, Started: start, Steps: map[string]upgrade.StepRecord{}}
	for i, s := range p.Steps[:n] {
		rec.Steps[s.ID] = upgrade.StepRecord{Finished: start.Add(time.Duration(i+1) * time.Minute), Took: time.Minute}
		rec.Updated = start.Add(time.Duration(i+1) * time.Minute)
	}
	j := &upgrade.MemJournal{}
	require.NoError(t, j.Save(context.Background(), rec))
	return j
}

// plantLock writes a run's lock owner on the bootstrap, as a runner on
// another machine does (so it is judged by its age).
func (e *upgradeEnv) plantLock(t *testing.T, plan string, since time.Time) upgrade.LockOwner {
	t.Helper()
	o := upgrade.LockOwner{Host: "ops1", PID: 4242, Nonce: "n0nce", Since: since, Heartbeat: since, Plan: plan}
	b, err := json.Marshal(o)
	require.NoError(t, err)
	require.NoError(t, e.sim.Node("be1.chefha.test").WriteFile(upgrade.LockPath+"/owner", b, 0o600))
	return o
}

func TestWatchStepOfAStoppedRun(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	p := e.plan(t, "11.1.8")
	start := e.clock.Now().Add(-time.Hour)
	st := e.lookOnce(t, recordDone(t, p, 9, start)).Step
	require.NotNil(t, st)
	require.NoError(t, st.Err)
	assert.Equal(t, "memory", st.Journal)
	assert.Equal(t, upgrade.PhaseUpgrade, st.Phase)
	assert.Equal(t, len(p.Steps), st.Total)
	assert.Equal(t, 10, st.NextIndex)
	assert.Equal(t, "hop1/upgrade-bootstrap", st.Next.ID)
	assert.Equal(t, 9, st.LastIndex)
	assert.Equal(t, "hop1/reconfigure-bootstrap", st.Last.ID)
	assert.Equal(t, start.Add(9*time.Minute), st.LastRecord.Finished)
	assert.Nil(t, st.Owner, "no lock")
	assert.False(t, st.Running)
	assert.False(t, st.Finished())
	assert.Empty(t, st.LockProblem)

	// A fresh lock of this plan: the next step runs, since the later of
	// the last step's end and the run's taking the lock (a resume).
	resumed := e.clock.Now().Add(-10 * time.Second)
	e.plantLock(t, p.Hash(), resumed)
	snap := e.lookOnce(t, recordDone(t, p, 9, start))
	st = snap.Step
	require.NotNil(t, st.Owner)
	assert.Equal(t, 4242, st.Owner.PID)
	assert.True(t, st.OwnerAlive)
	assert.True(t, st.Running)
	assert.True(t, st.Since.Equal(resumed), "%s", st.Since)
	js, err := json.Marshal(snap)
	require.NoError(t, err)
	assert.Contains(t, string(js), `"running":true`)
	assert.Contains(t, string(js), `"owner":{"host":"ops1","pid":4242,`)
	assert.NotContains(t, string(js), "n0nce", "the run's nonce stays in the lock")

	// The lock of another plan's run: alive, but not this run's step.
	e.plantLock(t, "0123456789abcdef", resumed)
	st = e.lookOnce(t, recordDone(t, p, 9, start)).Step
	assert.True(t, st.OwnerAlive)
	assert.False(t, st.Running)

	// A lock whose heartbeat stopped long ago is a dead run's.
	e.plantLock(t, p.Hash(), resumed)
	e.clock.Advance(2 * upgrade.LockStale)
	st = e.lookOnce(t, recordDone(t, p, 9, start)).Step
	require.NotNil(t, st.Owner)
	assert.False(t, st.OwnerAlive)
	assert.False(t, st.Running)

	st = e.lookOnce(t, recordDone(t, p, len(p.Steps), start)).Step
	assert.True(t, st.Finished())
	assert.Zero(t, st.NextIndex)
	assert.Equal(t, len(p.Steps), st.LastIndex)
}

func TestWatchStepJournalErrors(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	s := e.lookOnce(t, &upgrade.MemJournal{})
	require.ErrorIs(t, s.Step.Err, upgrade.ErrNoJournal)
	assert.Empty(t, s.Findings, "no run yet is nothing wrong")

	path := e.dir + "/journal.json"
	require.NoError(t, os.WriteFile(path, []byte("{"), 0o600))
	s = e.lookOnce(t, upgrade.FileJournal{Path: path})
	require.Error(t, s.Step.Err)
	assert.Equal(t, []string{upgrade.WatchJournalUnreadable}, problems(s.Findings))
}

// A real run, looked at as it starts a step: that step runs, the one
// before is the last done, and the lock is this process's.
func TestWatchStepOfARealRun(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	var seen *upgrade.WatchStep
	r := e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventStepStart && ev.Step == "hop1/upgrade-bootstrap" && seen == nil {
			seen = e.lookOnce(t, e.journal).Step
		}
	}))
	require.NoError(t, r.Run(context.Background()))
	require.NotNil(t, seen)
	require.NoError(t, seen.Err)
	assert.True(t, seen.Running, "lock problem: %q", seen.LockProblem)
	assert.Equal(t, "hop1/upgrade-bootstrap", seen.Next.ID)
	assert.Equal(t, 10, seen.NextIndex)
	assert.Equal(t, "hop1/reconfigure-bootstrap", seen.Last.ID)
	require.NotNil(t, seen.Owner)
	assert.Equal(t, os.Getpid(), seen.Owner.PID)

	st := e.lookOnce(t, e.journal).Step
	assert.True(t, st.Finished())
	assert.False(t, st.Running)
}
