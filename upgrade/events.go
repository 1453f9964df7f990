package upgrade

import (
	"encoding/json"
	"time"
)

// EventKind names a runner event.
type EventKind string

const (
	EventPlan       EventKind = "plan"        // the plan, before anything runs
	EventStepStart  EventKind = "step-start"  // a step begins
	EventStepSkip   EventKind = "step-skip"   // recorded and verified, or found already done on the cluster
	EventStepDone   EventKind = "step-done"   // a step finished
	EventStepFailed EventKind = "step-failed" // a step failed; Error says why and what to do
	EventAction     EventKind = "action"      // an action runs (or, in a dry run, would)
	EventProgress   EventKind = "progress"    // a command that runs on: every 10 s, with how long so far
	EventActionDone EventKind = "action-done" // an action finished (Elapsed says how long it took)
	EventGateWait   EventKind = "gate-wait"   // a gate is waiting; Gate says on what
	EventGateSkip   EventKind = "gate-skip"   // a gate found nothing to wait for
	EventFinding    EventKind = "finding"     // something the operator should know
	EventBackupFill EventKind = "backup-fill" // the LVM snapshot was checked before a step: Snapshot says how full
	EventOutcome    EventKind = "outcome"     // the last event of a run
)

// Outcome is how a run ended.
type Outcome string

const (
	OutcomeDone    Outcome = "done"    // every step done
	OutcomePaused  Outcome = "paused"  // waiting for the operator (cleanup's confirmation)
	OutcomeStopped Outcome = "stopped" // stopped on request between actions; resumable
	OutcomeRefused Outcome = "refused" // nothing was done: inputs, journal or cluster not fit
	OutcomeFailed  Outcome = "failed"  // a step failed; resumable once fixed
)

// Event is what the runner reports as it goes. Its JSON form has
// durations in seconds.
type Event struct {
	Time    time.Time     `json:"time"`
	Kind    EventKind     `json:"kind"`
	Step    string        `json:"step,omitempty"`
	Title   string        `json:"title,omitempty"`
	Node    string        `json:"node,omitempty"`
	Message string        `json:"message,omitempty"`
	Elapsed time.Duration `json:"-"`
	DryRun  bool          `json:"dry_run,omitempty"`
	// LastOutput is, on EventProgress, the last line a detached command
	// wrote so far (as read from the node: escape it before printing).
	LastOutput string `json:"last_output,omitempty"`
	// Action is the action of an EventAction.
	Action *Action `json:"action,omitempty"`
	// Gate is what a gate saw, on EventGateWait.
	Gate *GateProgress `json:"gate,omitempty"`
	// Snapshot is the backup's LVM snapshot as the runner saw it: when
	// it made it (EventFinding), before each later step (EventBackupFill),
	// and when it stopped for it (EventStepFailed).
	Snapshot *SnapshotFill `json:"snapshot,omitempty"`
	// Outcome and Error end a run (EventOutcome; Error also on EventStepFailed).
	Outcome Outcome     `json:"outcome,omitempty"`
	Error   *EventError `json:"error,omitempty"`
}

// MarshalJSON writes Elapsed as seconds.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	return json.Marshal(struct {
		plain
		Elapsed float64 `json:"elapsed_s,omitempty"`
	}{plain(e), e.Elapsed.Seconds()})
}

// SnapshotFill is how full the backup's LVM snapshot was at one look.
type SnapshotFill struct {
	Name      string  `json:"name"` // VG/LV
	Size      int64   `json:"size,omitempty"`
	Percent   float64 `json:"percent"`
	Threshold float64 `json:"threshold"`
	// Problem is lvm's word for what stopped the run ("full", "invalid",
	// "missing", …); empty while the snapshot protects the upgrade.
	Problem string `json:"problem,omitempty"`
}

// GateProgress is one look of a gate at the cluster.
type GateProgress struct {
	Master    string        `json:"master"`
	Nodes     []GateNode    `json:"nodes"`
	StableFor time.Duration `json:"-"`
	Hold      time.Duration `json:"-"`
	Waited    time.Duration `json:"-"`
	TimeoutAt time.Time     `json:"timeout_at"`
	// Waiting lists what keeps the gate closed ("" when it is about to open).
	Waiting []string `json:"waiting_for,omitempty"`
}

// MarshalJSON writes the durations as seconds.
func (g GateProgress) MarshalJSON() ([]byte, error) {
	type plain GateProgress
	return json.Marshal(struct {
		plain
		StableFor float64 `json:"stable_for_s"`
		Hold      float64 `json:"hold_s"`
		Waited    float64 `json:"waited_s"`
	}{plain(g), g.StableFor.Seconds(), g.Hold.Seconds(), g.Waited.Seconds()})
}

// GateNode is a back end as a gate saw it.
type GateNode struct {
	Node         string `json:"node"`
	Requested    string `json:"requested,omitempty"`
	Current      string `json:"current,omitempty"`
	InTransition bool   `json:"in_transition,omitempty"`
	HasVIP       bool   `json:"has_vip,omitempty"`
	Unreadable   string `json:"unreadable,omitempty"`
}

// EventError is an error as events carry it.
type EventError struct {
	// Type is the error's kind for programs. Refusals before anything
	// changed: "blocked" (pre-flight failures), "no-path" (no version path),
	// "missing-package", "package", "space", "arch" (a package for other
	// hardware), "no-backup", "journal-mismatch", "unknown-step",
	// "unknown-check", "at-target" (the cluster already runs the target:
	// AtTargetError), "locked" (another live run), "lock" (a lock that
	// could not be taken), "not-rehearsed" (-apply of a plan no rehearsal
	// passed, see WithRehearsals), "replica-mismatch", "foreign-backup" (a
	// backup this run did not make). During a run: "step", "backup-lost"
	// (the run's backup went away: BackupLostError), "package-digest"
	// (not the file the plan recorded), "lock-lost" (another run took this
	// run's lock), "needs-confirmation", "stopped", "panic". "error" is any
	// other. Step is set whenever a step failed.
	Type    string `json:"type"`
	Message string `json:"message"`
	Step    string `json:"step,omitempty"`
	Node    string `json:"node,omitempty"`
}
