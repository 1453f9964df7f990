package upgrade

import (
	"errors"
	"time"
)

// emitOutcome ends every run with one event saying how it ended.
func (r *Runner) emitOutcome(err error, took time.Duration) {
	ev := Event{Kind: EventOutcome, Outcome: OutcomeDone, Elapsed: took}
	var (
		serr *StepError
		perr *PanicError
	)
	switch {
	case err == nil:
	case errors.As(err, &perr):
		ev.Outcome = OutcomeFailed
	case errors.Is(err, ErrNeedsConfirmation):
		ev.Outcome = OutcomePaused
	case errors.Is(err, ErrStopped):
		ev.Outcome = OutcomeStopped
	case errors.As(err, &serr):
		ev.Outcome = OutcomeFailed
	default:
		ev.Outcome = OutcomeRefused
	}
	if err != nil {
		ev.Message = err.Error()
		ev.Error = eventError(err)
	}
	r.emit(ev)
}

// eventError classifies an error for programs reading events.
func eventError(err error) *EventError {
	e := &EventError{Type: "error", Message: err.Error()}
	var (
		serr *StepError
		be   *BlockedError
		mp   *MissingPackageError
		pe   *PackageError
		jm   *JournalMismatchError
		le   *LockedError
		nr   *NotRehearsedError
		fb   *ForeignBackupError
		dg   *DigestError
		pn   *PanicError
		ll   *LockLostError
	)
	switch {
	case errors.As(err, &pn):
		e.Type = "panic"
	case errors.As(err, &ll):
		e.Type, e.Node = "lock-lost", ll.Node
	case errors.As(err, &fb):
		e.Type, e.Node = "foreign-backup", fb.Node
	case errors.As(err, &dg):
		e.Type, e.Node = "package-digest", dg.Node
	case errors.Is(err, ErrNeedsConfirmation):
		e.Type = "needs-confirmation"
	case errors.Is(err, ErrStopped):
		e.Type = "stopped"
	case errors.As(err, &be):
		e.Type = "blocked"
	case errors.As(err, &mp):
		e.Type = "missing-package"
	case errors.As(err, &pe):
		e.Type = "package"
	case errors.As(err, &jm):
		e.Type = "journal-mismatch"
	case errors.As(err, &le):
		e.Type, e.Node = "locked", le.Node
	case errors.As(err, &nr):
		e.Type = "not-rehearsed"
	case errors.As(err, new(*PlanError)):
		e.Type = "no-path"
	case errors.As(err, new(*SpaceError)):
		e.Type = "space"
	case errors.As(err, new(*ArchError)):
		e.Type = "arch"
	case errors.As(err, new(*LockError)):
		e.Type = "lock"
	case errors.As(err, new(*UnknownStepError)):
		e.Type = "unknown-step"
	case errors.As(err, new(*IgnoreError)), errors.As(err, new(*UnknownCheckError)):
		e.Type = "unknown-check"
	case errors.Is(err, ErrNoBackup), errors.Is(err, ErrNoBackupCheck):
		e.Type = "no-backup"
	case errors.As(err, new(*ReplicaMismatchError)):
		e.Type = "replica-mismatch"
	case errors.As(err, new(*BackupLostError)):
		e.Type = "backup-lost"
	case errors.As(err, new(*AtTargetError)):
		e.Type = "at-target"
	case errors.As(err, &serr):
		e.Type, e.Step, e.Node = "step", serr.Step, serr.Node
	}
	if e.Step == "" && errors.As(err, &serr) {
		e.Step = serr.Step
	}
	return e
}
