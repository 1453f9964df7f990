package upgrade

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// WatchStep is where the run a journal records is. The journal records
// the steps that finished; the lock on the bootstrap says whether a run
// goes on: the first step not recorded is then the one running.
type WatchStep struct {
	// Journal says where the record was read.
	Journal string
	// Err is why the journal could not be read; ErrNoJournal when no run
	// recorded anything yet. The fields below are then empty.
	Err   error
	Phase Phase
	// Total is the number of steps of the plan.
	Total int
	// Next is the first step of the plan not recorded done and NextIndex
	// its place, from 1; 0 when every step is done.
	Next      Step
	NextIndex int
	// Last is the step recorded done last, with its record and place; 0
	// when none is.
	Last       Step
	LastIndex  int
	LastRecord StepRecord
	// Owner is the run holding the lock on the bootstrap; nil when the
	// lock is free (or could not be read: LockProblem says why).
	Owner *LockOwner
	// OwnerAlive says the owner still runs, judged as a run judges
	// another's lock: by its process on this machine, else by the age of
	// its heartbeat on the node's clock.
	OwnerAlive  bool
	LockProblem string
	// Running says the live owner runs this journal's plan: Next is under
	// way, since Since (the later of the last step's end and the time the
	// run took the lock).
	Running bool
	Since   time.Time
}

// Finished reports whether every step of the plan is recorded done.
func (s WatchStep) Finished() bool { return s.Err == nil && s.Total > 0 && s.NextIndex == 0 }

// readStep loads the journal and judges the bootstrap's lock sections.
func readStep(ctx context.Context, j Journal, boot map[string]Section) WatchStep {
	st := WatchStep{Journal: j.String()}
	rec, err := j.Load(ctx)
	if err != nil {
		st.Err = err
		return st
	}
	st.Phase, st.Total = rec.Plan.Phase, len(rec.Plan.Steps)
	for i, s := range rec.Plan.Steps {
		r, done := rec.Steps[s.ID]
		switch {
		case !done && st.NextIndex == 0:
			st.Next, st.NextIndex = s, i+1
		case done && (st.LastIndex == 0 || !r.Finished.Before(st.LastRecord.Finished)):
			st.Last, st.LastIndex, st.LastRecord = s, i+1, r
		}
	}
	st.Owner, st.OwnerAlive, st.LockProblem = judgeRunLock(boot)
	if st.Owner != nil && st.OwnerAlive && st.NextIndex > 0 && (st.Owner.Plan == "" || st.Owner.Plan == rec.PlanHash) {
		st.Running = true
		st.Since = rec.Started
		if st.LastIndex > 0 {
			st.Since = st.LastRecord.Finished
		}
		if st.Owner.Since.After(st.Since) {
			st.Since = st.Owner.Since // resumed after a stop
		}
	}
	return st
}

// judgeRunLock reads the run-lock sections: the owner, whether it is
// alive, or why that is not known.
func judgeRunLock(secs map[string]Section) (*LockOwner, bool, string) {
	owner, found := secs["run-lock"]
	switch {
	case secs == nil:
		return nil, false, "the bootstrap could not be read"
	case !found:
		return nil, false, "not read"
	case owner.RC != 0 && strings.Contains(owner.Output, "No such file"):
		return nil, false, ""
	case owner.RC != 0:
		return nil, false, fmt.Sprintf("cannot read %s: %s", lockOwnerFile, strings.TrimSpace(owner.Output))
	}
	var o LockOwner
	if err := json.Unmarshal([]byte(owner.Output), &o); err != nil {
		return nil, false, fmt.Sprintf("%s: %v", lockOwnerFile, err)
	}
	mtime, err1 := strconv.ParseInt(strings.TrimSpace(secs["run-lock-mtime"].Output), 10, 64)
	now, err2 := strconv.ParseInt(strings.TrimSpace(secs["clock"].Output), 10, 64)
	if err1 != nil || err2 != nil {
		// Written since it was read, or a node without stat or date: its
		// age is not known, and a run may be alive.
		return &o, false, fmt.Sprintf("the age of %s is not known", lockOwnerFile)
	}
	return &o, o.alive(time.Duration(now-mtime) * time.Second), ""
}
