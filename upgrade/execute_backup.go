package upgrade

// The runner's backup: making it (an LVM snapshot, or the operator's
// command and its check), and the snapshot watched before every later step.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/lvm"
)

// ForeignBackupError is a backup found before this run made one: an
// earlier run's snapshot, or a check that passes on an older backup.
// Counting it as this run's would make a rollback restore stale data.
type ForeignBackupError struct {
	Node string
	// Snapshot is the LVM snapshot's VG/NAME; empty for a command backup.
	Snapshot string
}

func (e *ForeignBackupError) Error() string {
	if e.Snapshot != "" {
		return fmt.Sprintf("a snapshot %s is already on %s, and this run's journal does not record making it: it may be an earlier run's, and a rollback to it would lose what was written since; remove it (lvremove %s) or name another snapshot, then run again", e.Snapshot, e.Node, e.Snapshot)
	}
	return fmt.Sprintf("the backup check already passes on %s before the backup command ran: it cannot tell this run's backup from an older one; make the check find only a backup made now, or move the old one away, then run again", e.Node)
}

// foreign is the error for a backup found on node that this run did not
// make.
func (b Backup) foreign(node string) *ForeignBackupError {
	fe := &ForeignBackupError{Node: node}
	if s := b.LVM; s != nil {
		fe.Snapshot = s.withDefaults().VG + "/" + s.withDefaults().Name
	}
	return fe
}

// backup makes the backup (a snapshot, or the command and then its
// check), unless one is there already: that one is this run's only when
// the journal recorded, before making it, that it was about to. Neither
// the command nor its output goes into an event: they may name volumes,
// hosts or credentials. The journal keeps the exit status and the
// output's size (the output itself only when asked).
func (r *Runner) backup(ctx context.Context, step Step, a Action) error {
	n, err := r.node(a.Node)
	if err != nil {
		return err
	}
	pending := slices.IndexFunc(r.rec.Backups, func(b BackupRecord) bool { return b.Pending && b.Hop == step.Hop && b.Node == a.Node })
	if there, err := r.o.backup.checkOn(ctx, n); err != nil {
		return err
	} else if there {
		if pending < 0 {
			return r.o.backup.foreign(a.Node)
		}
		// Made before the run stopped, after its record was saved.
		rec := r.rec.Backups[pending]
		rec.Pending = false
		r.rec.Backups[pending] = rec
		r.emit(Event{Kind: EventFinding, Step: step.ID, Node: a.Node, Message: "the backup this run was making before it stopped is there: it is kept"})
		return r.save(ctx)
	}
	if pending < 0 {
		r.rec.Backups = append(r.rec.Backups, BackupRecord{Hop: step.Hop, Node: a.Node, At: time.Now().UTC(), Pending: true})
		pending = len(r.rec.Backups) - 1
		if err := r.save(ctx); err != nil {
			return err
		}
	}
	if s := r.o.backup.LVM; s != nil {
		c, size, err := s.create(ctx, n)
		if err != nil {
			return err
		}
		rec := BackupRecord{Hop: step.Hop, Node: a.Node, At: time.Now().UTC(), Kind: "lvm", Snapshot: c.Snapshot.FullName(), Size: size}
		r.rec.Backups[pending] = rec
		if err := r.save(ctx); err != nil {
			return err
		}
		r.emit(Event{Kind: EventFinding, Step: step.ID, Node: a.Node, Message: fmt.Sprintf("%s made: %d MiB, %.1f%% full", rec.Snapshot, size>>20, c.Percent),
			Snapshot: &SnapshotFill{Name: rec.Snapshot, Size: size, Percent: c.Percent, Threshold: s.withDefaults().Threshold}})
		return nil
	}
	res, err := n.Run(ctx, cluster.Cmd{Argv: []string{"sh", "-c", r.o.backup.Command}, Sudo: true})
	rec := BackupRecord{Hop: step.Hop, Node: a.Node, At: time.Now().UTC(), Kind: "command", Bytes: len(res.Stdout) + len(res.Stderr)}
	var ee *cluster.ExitError
	if errors.As(err, &ee) {
		rec.ExitCode = ee.Result.ExitCode
		rec.Bytes = len(ee.Result.Stdout) + len(ee.Result.Stderr)
	}
	if r.o.keepOutput {
		rec.Output = string(res.Stdout) + string(res.Stderr)
	}
	rec.Pending = err != nil // a failed command made no backup; the next try runs it again
	r.rec.Backups[pending] = rec
	if serr := r.save(ctx); serr != nil {
		return serr
	}
	if err != nil {
		return fmt.Errorf("the backup command failed (exit %d, %d bytes of output, kept in the journal only when asked): fix it and run again", rec.ExitCode, rec.Bytes)
	}
	ok, err := r.o.backup.checkOn(ctx, n)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("the backup command succeeded but the backup check does not find the backup: fix the pair of commands and run again")
	}
	r.emit(Event{Kind: EventFinding, Step: step.ID, Node: a.Node, Message: fmt.Sprintf("backup made and checked (command exit 0, %d bytes of output)", rec.Bytes)})
	return nil
}

// BackupLostError is the run's backup gone during the run: an LVM
// snapshot that overflowed, which the kernel dropped. Nothing brings the
// cluster back to before the upgrade through it, and no run may go on as
// if it did: the journal records the loss, and a resumed run goes on
// only with the backup waived, which the journal records beside it.
type BackupLostError struct {
	Node, Snapshot string
	Step           string // the step it was found lost before (or in)
	Err            error  // what the check saw
}

func (e *BackupLostError) Error() string {
	return fmt.Sprintf("the backup on %s is lost: %v; nothing restores the cluster to before the upgrade through it (remove it on %s: lvremove %s). The run goes on from %s only with the backup waived, saying why; the journal keeps the loss beside the waiver",
		e.Node, e.Err, e.Node, e.Snapshot, e.Step)
}

func (e *BackupLostError) Unwrap() error { return e.Err }

// guardSnapshot checks the LVM snapshot before a step and, quietly,
// before each later action of it that changes a node: an overflowing
// snapshot is dropped by the kernel, silently, so the run stops while it
// can still be extended, between two commands rather than a step later.
// A snapshot found dropped is recorded lost (BackupLostError).
func (r *Runner) guardSnapshot(ctx context.Context, hc *hopCtx, step Step, quiet bool) error {
	s := r.o.backup.LVM
	if s == nil || r.o.dryRun || step.Kind == StepBackup {
		return nil
	}
	if _, made := r.rec.Steps["hop1/"+string(StepBackup)]; !made {
		return nil
	}
	n, err := r.node(hc.boot)
	if err != nil {
		return err
	}
	threshold := s.withDefaults().Threshold
	c, err := s.check(ctx, n)
	if err != nil {
		var se *lvm.SnapshotError
		isSnap := errors.As(err, &se)
		err = fmt.Errorf("before this step, the backup: %w (then run again: the run goes on from here)", err)
		if isSnap && se.Problem == lvm.SnapshotInvalid {
			err = &BackupLostError{Node: hc.boot, Snapshot: se.Snapshot, Step: step.ID, Err: se}
			if rerr := r.recordLost(ctx, se.Snapshot, fmt.Sprintf("%s before %s: %s", se.Problem, step.ID, se.Detail)); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		serr := r.stepError(step, hc.boot, err)
		ev := Event{Kind: EventStepFailed, Step: step.ID, Title: step.Title, Node: hc.boot, Message: serr.Error(), Error: eventError(serr)}
		if isSnap {
			ev.Snapshot = &SnapshotFill{Name: se.Snapshot, Percent: se.Percent, Threshold: threshold, Problem: se.Problem.String()}
		}
		r.emit(ev)
		return serr
	}
	if quiet {
		return nil
	}
	fill := &SnapshotFill{Name: c.Snapshot.FullName(), Percent: c.Percent, Threshold: threshold}
	r.emit(Event{Kind: EventBackupFill, Step: step.ID, Node: hc.boot, Snapshot: fill,
		Message: fmt.Sprintf("the backup snapshot %s is %.1f%% full", fill.Name, fill.Percent)})
	if c.Percent >= threshold/2 {
		r.emit(Event{Kind: EventFinding, Step: step.ID, Node: hc.boot, Snapshot: fill,
			Message: fmt.Sprintf("the backup snapshot %s is %.1f%% full, half-way to the %.0f%% at which the run stops: extend it now (lvextend)", fill.Name, fill.Percent, threshold)})
	}
	return nil
}

// recordLost marks the journal's record of snapshot lost, with why.
func (r *Runner) recordLost(ctx context.Context, snapshot, why string) error {
	for i, b := range r.rec.Backups {
		if b.Kind == "lvm" && b.Snapshot == snapshot && !b.Pending && b.Lost == "" {
			r.rec.Backups[i].Lost = why
			return r.save(ctx)
		}
	}
	return nil
}

// lostBackup refuses a resume that keeps a backup the journal records
// lost: the check of the recorded backup step would only find it missing.
// A resume with the backup waived (waivesLost) goes on.
func (p planned) lostBackup() error {
	lost, ok := p.rec.backupLost()
	if !ok || !p.resuming || p.waivesLost {
		return nil
	}
	from := ""
	for _, s := range p.plan.Steps {
		if _, done := p.rec.Steps[s.ID]; !done {
			from = s.ID
			break
		}
	}
	return &BackupLostError{Node: lost.Node, Snapshot: lost.Snapshot, Step: from, Err: fmt.Errorf("LVM snapshot %s: %s", lost.Snapshot, lost.Lost)}
}

// backupLost is the lost backup a journal records, if any.
func (rec Record) backupLost() (BackupRecord, bool) {
	for _, b := range rec.Backups {
		if b.Lost != "" {
			return b, true
		}
	}
	return BackupRecord{}, false
}

// withBackupOf is p with now's backup: its fingerprint and the backup
// steps' titles, so that a plan that differs from now only in the backup
// compares equal.
func (p Plan) withBackupOf(now Plan) Plan {
	p.Inputs.Backup = now.Inputs.Backup
	p.Steps = slices.Clone(p.Steps)
	for i, s := range p.Steps {
		if n, ok := now.Step(s.ID); ok && s.Kind == StepBackup {
			p.Steps[i].Title = n.Title
		}
	}
	return p
}

// waiveLost puts the waiver beside the lost backup in the journal, and
// the plan with the waiver in place of the plan with the backup.
func (r *Runner) waiveLost(plan Plan) {
	lost, _ := r.rec.backupLost()
	r.rec.Plan, r.rec.PlanHash = plan, plan.Hash()
	r.rec.Backups = append(r.rec.Backups, BackupRecord{Hop: lost.Hop, Node: lost.Node, At: time.Now().UTC(), Kind: "waived", Waived: r.o.backup.Waived})
	r.emit(Event{Kind: EventFinding, Node: lost.Node, Message: fmt.Sprintf("the run goes on without a backup: %s was lost (%s); waived: %s", lost.Snapshot, lost.Lost, r.o.backup.Waived)})
}
