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

// guardSnapshot checks the LVM snapshot before a step: an overflowing
// snapshot is dropped by the kernel, silently, so the run stops before the
// next step while it can still be extended.
func (r *Runner) guardSnapshot(ctx context.Context, hc *hopCtx, step Step) error {
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
		serr := &StepError{Step: step.ID, Title: step.Title, Node: hc.boot,
			Err: fmt.Errorf("before this step, the backup: %w (then run again: the run goes on from here)", err)}
		ev := Event{Kind: EventStepFailed, Step: step.ID, Title: step.Title, Node: hc.boot, Message: serr.Error(), Error: eventError(serr)}
		var se *lvm.SnapshotError
		if errors.As(err, &se) {
			ev.Snapshot = &SnapshotFill{Name: se.Snapshot, Percent: se.Percent, Threshold: threshold, Problem: se.Problem.String()}
		}
		r.emit(ev)
		return serr
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
