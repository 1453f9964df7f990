package upgrade

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chefha/chefha/issue"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/migration"
)

// runStep runs one step at its turn: skipped if its effect is already on
// the cluster, otherwise its actions, worked out from the facts now, then
// the journal.
func (r *Runner) runStep(ctx context.Context, hc *hopCtx, step Step, facts Facts) error {
	if err := r.guardSnapshot(ctx, hc, step, false); err != nil {
		return err
	}
	def := defOf(step.Kind)
	sr := r.stepRun(ctx, hc, step, facts)
	var note string
	if def.skipWhenDone {
		if ok, _ := def.doneOn(sr); ok && !r.o.dryRun {
			r.emit(Event{Kind: EventStepSkip, Step: step.ID, Title: step.Title, Message: "already done on the cluster"})
			return r.finish(ctx, step, 0, true)
		} else if ok {
			// Done now is not done at its turn: an earlier step may undo
			// it (a reconfigure starts a stopped keepalived).
			note = "done on the cluster now: at its turn the run skips it if it still is"
		}
	}
	began := time.Now()
	r.emit(Event{Kind: EventStepStart, Step: step.ID, Title: step.Title, Message: note})
	fail := func(node string, err error) error {
		serr := r.stepError(step, node, err)
		r.emit(Event{Kind: EventStepFailed, Step: step.ID, Title: step.Title, Node: node, Message: serr.Error(), Elapsed: time.Since(began), Error: eventError(serr)})
		return serr
	}
	acts, err := def.run(sr)
	if err != nil {
		return fail("", err)
	}
	sctx, cancel := context.WithTimeout(ctx, step.Timeout)
	defer cancel()
	for i, a := range acts {
		if i > 0 && r.stopping.Load() {
			return ErrStopped
		}
		if i > 0 && a.Changes() {
			if err := r.guardSnapshot(sctx, hc, step, true); err != nil {
				return err
			}
		}
		t0 := time.Now()
		err := r.act(sctx, step, a)
		if err == nil && !r.o.dryRun {
			r.emit(Event{Kind: EventActionDone, Step: step.ID, Node: a.Node, Elapsed: time.Since(t0)})
		}
		if err != nil {
			switch {
			case errors.Is(err, ErrNeedsConfirmation):
				return err
			case ctx.Err() != nil:
				err = fmt.Errorf("%w (stopped; run again to resume)", ctx.Err())
			case sctx.Err() != nil:
				err = fmt.Errorf("did not finish within %s: %w", step.Timeout, err)
			}
			return fail(a.Node, err)
		}
	}
	if err := r.finish(ctx, step, time.Since(began), false); err != nil {
		return err
	}
	r.emit(Event{Kind: EventStepDone, Step: step.ID, Title: step.Title, Elapsed: time.Since(began)})
	return nil
}

func (r *Runner) finish(ctx context.Context, step Step, took time.Duration, found bool) error {
	if r.o.dryRun {
		return nil
	}
	r.rec.Steps[step.ID] = StepRecord{Finished: time.Now().UTC(), Took: took, Found: found}
	return r.save(ctx)
}

// act is the one way an action reaches a node: in a dry run, changing
// actions and waits are listed and skipped, so the list cannot drift from
// what a real run does.
func (r *Runner) act(ctx context.Context, step Step, a Action) error {
	if a.Changes() && !r.o.dryRun {
		if err := r.ownsLock(ctx, a.Node); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.actions = append(r.actions, a)
	r.mu.Unlock()
	msg := a.String()
	if a.Kind == ActRun {
		msg = a.Node + ": " + detachedCommand(a.Argv)
		if a.Critical {
			msg = a.Node + ": " + cluster.ShellJoin(a.Argv) + " (detached: an interrupt never cuts it)"
		}
	}
	if a.RetryAfterGate {
		msg += " (if it fails: once more after a stable master, " + string(issue.OC11382) + ")"
	}
	if a.If != "" {
		now := "now: no"
		if a.IfNow {
			now = "now: yes"
		}
		msg += " (only if " + a.If + " at the step's turn; " + now + ")"
	}
	r.emit(Event{Kind: EventAction, Step: step.ID, Node: a.Node, Message: msg, Action: &a})
	if r.o.dryRun {
		return nil
	}
	if a.Changes() {
		r.lastGate = nil
	}
	switch a.Kind {
	case ActRun:
		var out outputTail
		defer r.heartbeatWhile(ctx, step, a, msg, &out)()
		return r.runCmd(ctx, step, a, &out)
	case ActUpload:
		n, err := r.node(a.Node)
		if err != nil {
			return err
		}
		return upload(ctx, n, a.Src, a.Path, a.SHA256)
	case ActVerifyFile:
		n, err := r.node(a.Node)
		if err != nil {
			return err
		}
		return verifyFile(ctx, n, a.Path, a.SHA256)
	case ActWrite:
		n, err := r.node(a.Node)
		if err != nil {
			return err
		}
		return writeKeeping(ctx, n, a.Path, a.Content, time.Now())
	case ActCopyTree:
		return r.copyTree(ctx, step, a)
	case ActBackup:
		return r.backup(ctx, step, a)
	case ActBackupCheck:
		n, err := r.node(a.Node)
		if err != nil {
			return err
		}
		if ok, err := r.o.backup.checkOn(ctx, n); err != nil || !ok {
			return errors.Join(err, errors.New("the backup check no longer finds the backup made before the upgrade: restore or remake it before going on"))
		}
		return nil
	case ActGate:
		if a.Gate.coveredBy(r.lastGate) {
			r.emit(Event{Kind: EventGateSkip, Step: step.ID, Node: a.Gate.Master, Message: "the last gate showed this, and nothing ran since"})
			return nil
		}
		if err := r.gate(ctx, step, a.Gate); err != nil {
			return err
		}
		r.lastGate = a.Gate
		return nil
	case ActVerifyLevel:
		return r.verifyLevel(ctx, a)
	case ActCheckRunit:
		return r.checkRunit(ctx, a.Node)
	case ActRunitGone:
		_, err := r.clearRunit(ctx, step, a.Node, leftovers, RunitDrain)
		return err
	case ActOrphansGone:
		return r.clearOrphans(ctx, step, a.Node)
	case ActPostflight:
		return r.postflight(ctx, step)
	case ActConfirm:
		if !r.o.confirm {
			return ErrNeedsConfirmation
		}
		return nil
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}

// ownsLock is asked before every action that changes a node: the run
// goes on only while its lock there is its own, so a run whose lock was
// taken (a paused laptop, a clock skewed) never acts beside the one that
// took it.
func (r *Runner) ownsLock(ctx context.Context, node string) error {
	if p := r.lost.Load(); p != nil {
		return *p
	}
	if r.locks == nil || node == "" {
		return nil
	}
	return r.locks.checkNode(ctx, node)
}

// runCmd runs a command as root. Critical commands run detached, so that
// neither a second interrupt nor a step timeout cuts a package install or
// a migration in half; the markers of partybus's silent failures count as
// failures; a failed bootstrap upgrade is retried once after a gate
// (OC-11382: partybus resumes from the level reached).
func (r *Runner) runCmd(ctx context.Context, step Step, a Action, out *outputTail) error {
	n, err := r.node(a.Node)
	if err != nil {
		return err
	}
	argv := a.Argv
	if a.Critical {
		argv = detached(step.ID, a.Node, a.Argv)
	}
	res, err := n.Run(ctx, cluster.Cmd{Argv: argv, Sudo: true, Output: out})
	if err != nil && ctx.Err() != nil {
		if a.Critical {
			return fmt.Errorf("stopped waiting for %s on %s, which goes on running on the node, detached (its output: %s/…log); a resumed run waits for it: %w",
				cluster.ShellJoin(a.Argv), a.Node, DetachDir, err)
		}
		return fmt.Errorf("%s on %s was cut short: %w", cluster.ShellJoin(a.Argv), a.Node, err)
	}
	if err != nil && a.RetryAfterGate {
		var ee *cluster.ExitError
		if errors.As(err, &ee) {
			r.emit(Event{Kind: EventFinding, Step: step.ID, Node: a.Node, Message: fmt.Sprintf("%s failed: waiting for a stable master and running it again (%s: a keepalived restart interrupts partybus, which resumes from the level reached)", cluster.ShellJoin(a.Argv), issue.OC11382)})
			if gerr := r.gate(ctx, step, &GateSpec{Master: a.Node}); gerr != nil {
				return fmt.Errorf("%w; then: %v", err, gerr)
			}
			res, err = n.Run(ctx, cluster.Cmd{Argv: argv, Sudo: true, Output: out})
		}
	}
	if err != nil && a.IgnoreExit {
		var ee *cluster.ExitError
		if errors.As(err, &ee) {
			return nil
		}
	}
	var ee *cluster.ExitError
	if a.Critical && errors.As(err, &ee) {
		// Name the command, not the wrapper that ran it detached.
		err = &cluster.ExitError{Node: ee.Node, Cmd: cluster.ShellJoin(a.Argv), Result: ee.Result}
	}
	if err != nil {
		err = nameIssue(err)
		if a.Critical {
			// A reconfigure or an upgrade that failed half-way (partybus'
			// migrations 1.9 and 1.10 stop a dozen services and start them
			// only at their end) leaves services down: say which.
			if down := r.leftDown(ctx, n); len(down) > 0 {
				err = fmt.Errorf("%w\n  left down on %s: %s (a resumed run runs it again, which starts them)", err, a.Node, strings.Join(down, ", "))
			}
		}
		return err
	}
	if line, hint, found := failMarker(string(res.Stdout)+string(res.Stderr), a.FailOn); found {
		return fmt.Errorf("%s printed %q%s", cluster.ShellJoin(a.Argv), line, hint)
	}
	return nil
}

func (r *Runner) copyTree(ctx context.Context, step Step, a Action) error {
	from, err := r.node(a.From)
	if err != nil {
		return err
	}
	n, err := r.node(a.Node)
	if err != nil {
		return err
	}
	tw, ok := n.(cluster.TreeWriter)
	if !ok {
		return fmt.Errorf("%s cannot receive a tree copy (%T)", a.Node, n)
	}
	// By name: the keys are opscode's (opscode:root 0600,
	// chef-boneyard/opscode-omnibus@11.1.8:files/private-chef-cookbooks/
	// private-chef/recipes/default.rb), and opscode's uid is whatever
	// useradd picked on each node.
	rep, err := cluster.CopyTree(ctx, from, a.Path, tw, a.Path, cluster.CopyOptions{OwnersByName: true})
	if err == nil && rep.Backup != "" {
		r.rec.Kept = append(r.rec.Kept, KeptCopy{Node: a.Node, Path: rep.Backup, At: time.Now().UTC()})
		r.emit(Event{Kind: EventFinding, Step: step.ID, Node: a.Node, Message: fmt.Sprintf("%s: %d files sent (%d bytes), %d unchanged, %d removed; the old tree is kept as %s",
			a.Path, rep.Sent, rep.BytesSent, rep.Reused, rep.Removed, rep.Backup)})
	}
	return err
}

// verifyLevel re-reads a node's migration level: partybus can exit 0
// without migrating (a held lock, OC-11670's skipped step, OC-11658).
func (r *Runner) verifyLevel(ctx context.Context, a Action) error {
	n, err := r.node(a.Node)
	if err != nil {
		return err
	}
	secs, err := readNode(ctx, n, "", r.o.readTimeout, "level")
	if err != nil {
		return err
	}
	got, err := migration.Parse([]byte(secs["level"].Output))
	if err != nil {
		return fmt.Errorf("after upgrade, %s: %w (%s: copy the file from a front end that holds %s)", migration.Path, err, issue.OC11297, a.Level)
	}
	if got.String() != a.Level {
		return fmt.Errorf("after upgrade the migration level is %s, want %s: partybus did not finish its migrations (%s: keepalived in transition; %s: interrupted). Check %s and run again",
			got, a.Level, issue.OC11670, issue.OC11382, "/var/log/opscode/keepalived/cluster.log")
	}
	return nil
}

// postflight is the verify step: the post-upgrade checks on every node.
func (r *Runner) postflight(ctx context.Context, step Step) error {
	target, err := migration.ParseVersion(step.Target)
	if err != nil {
		return err
	}
	f := gather(ctx, r.cluster, r.o)
	// The checks the operator ignored for the plan are ignored here too
	// (the plan refused an unknown or mandatory name already).
	ignored, err := resolveIgnore(r.o.ignore)
	if err != nil {
		return err
	}
	rep := judge(newInput(f, target, r.o.backup, ModePostFlight), ignored)
	var bad []string
	for _, fd := range rep.Findings {
		if fd.Severity == Fail && !fd.Ignored {
			node := fd.Node
			if node == "" {
				node = "cluster"
			}
			bad = append(bad, fmt.Sprintf("%s: %s: %s", node, fd.Check, strings.Join(fd.Evidence, "; ")))
		}
	}
	// The runbook wants the backup usable through the entire upgrade: its
	// end included, when the upgraded cluster is still to be verified.
	if r.o.backup.made() {
		boot, _ := r.cluster.Topology.Bootstrap()
		if n, err := r.node(boot.Name); err == nil {
			if ok, err := r.o.backup.checkOn(ctx, n); err != nil || !ok {
				why := "the check no longer finds the backup made before the upgrade"
				if err != nil {
					why = err.Error()
				}
				bad = append(bad, fmt.Sprintf("%s: backup: %s", boot.Name, why))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the post-flight finds %d failures:\n  %s", len(bad), strings.Join(bad, "\n  "))
	}
	return nil
}

// leftDown lists the services of n that should run and do not, as far as
// a read of its status tells; nothing when it cannot be read.
func (r *Runner) leftDown(ctx context.Context, n cluster.Node) []string {
	secs, err := readNode(ctx, n, "", r.o.readTimeout, "status")
	if err != nil {
		return nil
	}
	down, _ := downServices(&nodeView{NodeFacts: NodeFacts{Node: n.Name(), Sections: secs}})
	return down
}
