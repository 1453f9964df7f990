package upgrade

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/migration"
)

// Runner carries out the runbook on a cluster: step by step, each step's
// work worked out from the cluster's facts at its turn, gated on facts
// rather than sleeps, recorded in a journal after every step, resumable.
//
// Every run — first, resumed or dry — rebuilds its plan from the options
// and fresh facts. The journal only narrows what runs: a journal of
// another plan is refused, a step it records is skipped only while its
// effect can still be seen on the cluster, and a step whose effect is
// already there is skipped and recorded.
//
// A real run logs every call it makes to a node in a command log beside
// the journal (CommandLog; its format is in the package doc).
type Runner struct {
	cluster *cluster.Cluster
	o       options

	stopping atomic.Bool
	// locks are this run's locks while it runs; lost is set when the
	// heartbeat found one taken (a *LockLostError).
	locks    *locks
	lost     atomic.Pointer[error]
	mu       sync.Mutex
	actions  []Action
	rec      Record
	lastGate *GateSpec // the last gate that passed, while no action changed anything since
	// emitMu serializes the events: a command's heartbeat comes from its
	// own goroutine, and WithEvents promises one event at a time.
	emitMu sync.Mutex
	// cmdlog is a real run's command log while it runs; cluster is then
	// given's nodes observed into it (startCommandLog).
	cmdlog *commandLog
	given  *cluster.Cluster
}

// NewRunner prepares a run on c. Options: WithTarget (required),
// WithPackage, WithBackup, WithJournal (required unless WithDryRun), …
func NewRunner(c *cluster.Cluster, opts ...Option) *Runner {
	return &Runner{cluster: c, o: buildOptions(opts)}
}

// ErrStopped is returned when Stop ended a run between two actions.
var ErrStopped = errors.New("stopped on request: the running command finished and the journal is written; run again to resume")

// ErrNeedsConfirmation pauses before the cleanup until the operator
// confirms that the upgraded cluster was verified.
var ErrNeedsConfirmation = errors.New("the cleanup waits for the operator's confirmation that the upgraded cluster was tested and verified")

// ErrNoJournal refuses a real run without a journal: it must be resumable.
// ErrNeedsJournal is a run that would act without a journal
// (WithJournal): a run must be resumable.
var ErrNeedsJournal = errors.New("a real run needs a journal (WithJournal): it must be resumable")

// StepError is a step that failed, with what to do.
type StepError struct {
	Step  string
	Title string
	Node  string
	Err   error
	// CommandLog is the run's command log, where the step's commands are
	// with their status and output ("" when the run keeps none).
	CommandLog string
}

func (e *StepError) Error() string {
	node := ""
	if e.Node != "" {
		node = " on " + e.Node
	}
	s := fmt.Sprintf("step %s (%s)%s: %v", e.Step, e.Title, node, e.Err)
	if e.CommandLog != "" {
		s += "\ncommand log: " + e.CommandLog
	}
	return s
}

func (e *StepError) Unwrap() error { return e.Err }

// Stop asks the run to stop once the running command has finished: the
// journal is written and Run returns ErrStopped. Cancelling Run's context
// instead stops waiting at once (a critical command goes on, detached).
func (r *Runner) Stop() { r.stopping.Store(true) }

// Actions are the actions carried out (or, in a dry run, listed), in order.
func (r *Runner) Actions() []Action {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Action(nil), r.actions...)
}

// Record is the journal's record as the run left it.
func (r *Runner) Record() Record { return r.rec }

func (r *Runner) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.DryRun = r.o.dryRun
	if r.cmdlog != nil {
		r.cmdlog.event(e)
	}
	if r.o.onEvent != nil {
		r.emitMu.Lock()
		defer r.emitMu.Unlock()
		r.o.onEvent(e)
	}
}

func (r *Runner) clock() keepalived.Clock {
	if r.o.clock == nil {
		return keepalived.RealClock{}
	}
	if a, ok := r.o.clock.(interface{ Advance(time.Duration) }); ok {
		return stepping{Clock: r.o.clock, advance: a.Advance}
	}
	return r.o.clock
}

func (r *Runner) node(name string) (cluster.Node, error) {
	n, ok := r.cluster.Node(name)
	if !ok {
		return nil, fmt.Errorf("no node %s in the cluster", name)
	}
	return n, nil
}

// planned is a plan with what its steps are built from.
type planned struct {
	plan     Plan
	hops     map[int]*hopCtx
	facts    Facts
	rec      Record
	resuming bool
	// waivesLost: a resumed run goes on with the backup waived where the
	// journal records the run's backup lost.
	waivesLost bool
}

// Plan reads the journal and the cluster and returns the plan a Run would
// carry out, or why it would refuse.
func (r *Runner) Plan(ctx context.Context) (Plan, error) {
	p, err := r.prepare(ctx)
	return p.plan, err
}

func (r *Runner) prepare(ctx context.Context) (planned, error) {
	var p planned
	o := r.o
	if r.o.journal != nil {
		rec, err := r.o.journal.Load(ctx)
		switch {
		case err == nil:
			p.rec, p.resuming = rec, true
			from, perr := migration.ParseVersion(rec.Plan.From)
			if perr != nil {
				return p, fmt.Errorf("journal %s: %w", r.o.journal, perr)
			}
			o.from = from
		case !errors.Is(err, ErrNoJournal):
			return p, err
		}
	}
	p.facts = r.gatherAll(ctx)
	var err error
	p.plan, p.hops, err = buildPlanCtx(p.facts, o, p.resuming)
	if err != nil {
		return p, err
	}
	if p.resuming {
		old := p.rec.Plan
		if _, lost := p.rec.backupLost(); lost && !o.backup.made() && o.backup.Waived != "" {
			old, p.waivesLost = old.withBackupOf(p.plan), true
		}
		if diff := planDiff(old, p.plan); len(diff) > 0 {
			return p, &JournalMismatchError{Journal: r.o.journal.String(), Changed: diff}
		}
	}
	return p, nil
}

// Run carries out the plan. It returns nil when every step is done.
func (r *Runner) Run(ctx context.Context) (err error) {
	began := time.Now()
	defer func() {
		// A panic (in the runner, or in what a caller plugged in: a
		// Journal, an event handler) is a failed run, never "done".
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
		err = r.nameCommandLog(err)
		r.emitOutcome(err, time.Since(began))
		r.endCommandLog()
	}()
	if !r.o.dryRun && r.o.journal == nil {
		return ErrNeedsJournal
	}
	if err := r.startCommandLog(); err != nil {
		return err
	}
	p, err := r.prepare(ctx)
	if err != nil {
		return err
	}
	plan := p.plan
	r.emit(Event{Kind: EventPlan, Message: fmt.Sprintf("%s %s → %s: %d steps, plan %s", plan.Phase, plan.From, plan.To, len(plan.Steps), plan.Hash())})
	r.rec = p.rec
	if !p.resuming {
		now := time.Now().UTC()
		r.rec = Record{Format: JournalFormat, PlanHash: plan.Hash(), Plan: plan, Started: now, Steps: map[string]StepRecord{}}
	}
	if err := p.lostBackup(); err != nil {
		return err
	}
	if err := r.reconcile(ctx, p); err != nil {
		return err
	}
	rehearsed := plan
	if p.waivesLost {
		// The plan rehearsed is the one whose backup was lost: waiving it
		// changes no step's work.
		rehearsed = p.rec.Plan
	}
	if err := r.o.checkRehearsed(rehearsed, p.facts, time.Now()); err != nil {
		return err
	}
	start, err := r.startIndex(ctx, p)
	if err != nil {
		return err
	}
	if !r.o.dryRun {
		// The lock first: a run refused as locked writes nothing, not even
		// the journal another run may be using. Then the journal: a path
		// that cannot be written stops the run before any action.
		l, err := lockAll(ctx, r.cluster.All(), newLockOwner(plan.Hash(), r.clock().Now()), r.emit)
		if err != nil {
			return err
		}
		r.locks = l
		stopBeat := r.heartbeat(ctx, l)
		defer func() {
			stopBeat()
			if uerr := l.release(context.WithoutCancel(ctx)); uerr != nil && err == nil {
				err = uerr
			}
		}()
		if p.waivesLost {
			r.waiveLost(plan)
		}
		if err := r.save(ctx); err != nil {
			return err
		}
	}
	facts := p.facts
	for i, step := range plan.Steps[start:] {
		if _, ok := r.rec.Steps[step.ID]; ok {
			r.emit(Event{Kind: EventStepSkip, Step: step.ID, Title: step.Title, Message: "recorded done, and its effect is on the cluster"})
			continue
		}
		if r.stopping.Load() {
			return ErrStopped
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w (stopped before %s; run again to resume)", err, step.ID)
		}
		if i > 0 && !r.o.dryRun {
			facts = r.gatherAll(ctx) // what the last step left
		}
		if n := unreadable(facts); n != "" {
			serr := r.stepError(step, n, fmt.Errorf("cannot read the node's facts, so the step's work cannot be worked out: %s", r.nodeErr(facts, n)))
			r.emit(Event{Kind: EventStepFailed, Step: step.ID, Title: step.Title, Node: n, Message: serr.Error(), Error: eventError(serr)})
			return serr
		}
		if err := r.runStep(ctx, p.hops[step.Hop], step, facts); err != nil {
			return err
		}
	}
	return nil
}

// gatherAll reads every node, once more if one could not be read: a
// dropped connection is redialled.
func (r *Runner) gatherAll(ctx context.Context) Facts {
	f := gather(ctx, r.cluster, r.o)
	if unreadable(f) != "" && ctx.Err() == nil {
		f = gather(ctx, r.cluster, r.o)
	}
	return f
}

// unreadable names the first node whose facts could not be read.
func unreadable(f Facts) string {
	for _, n := range f.Nodes {
		if n.Err != "" {
			return n.Node
		}
	}
	return ""
}

func (r *Runner) nodeErr(f Facts, name string) string {
	n, _ := f.Node(name)
	return n.Err
}

// reconcile checks every step the journal records against the cluster
// before anything runs: a step whose effect should still show and does not
// means the cluster changed behind the journal's back, or the journal is
// not this cluster's. Either way nothing is run.
func (r *Runner) reconcile(ctx context.Context, p planned) error {
	if !p.resuming {
		return nil
	}
	var undone []string
	for i, step := range p.plan.Steps {
		if _, ok := r.rec.Steps[step.ID]; !ok {
			continue
		}
		def := defOf(step.Kind)
		check := def.done
		if def.verify != nil {
			check = def.verify
		}
		if check == nil || r.undoneLater(def, p.plan.Steps[i+1:]) {
			continue
		}
		sr := r.stepRun(ctx, p.hops[step.Hop], step, p.facts)
		if ok, why := check(sr); !ok {
			undone = append(undone, step.ID+": "+why)
		}
	}
	if len(undone) > 0 {
		return &JournalMismatchError{Journal: r.o.journal.String(), Undone: undone}
	}
	return nil
}

// undoneLater reports whether a later step undid def's effect on purpose:
// a recorded one, or the first unrecorded one, which may have run in part
// before the last run stopped (no step after it ran at all).
func (r *Runner) undoneLater(def stepDef, later []Step) bool {
	for _, s := range later {
		_, recorded := r.rec.Steps[s.ID]
		if slices.Contains(def.undoneBy, s.Kind) {
			return true
		}
		if !recorded {
			return false
		}
	}
	return false
}

// startIndex is where a run starts: the first step, or the one asked for,
// whose predecessors must all be recorded or visibly done.
func (r *Runner) startIndex(ctx context.Context, p planned) (int, error) {
	if r.o.fromStep == "" {
		return 0, nil
	}
	for i, step := range p.plan.Steps {
		if step.ID == r.o.fromStep {
			return i, nil
		}
		if _, ok := r.rec.Steps[step.ID]; ok {
			continue
		}
		if ok, _ := defOf(step.Kind).doneOn(r.stepRun(ctx, p.hops[step.Hop], step, p.facts)); ok {
			continue
		}
		return 0, fmt.Errorf("cannot start at %s: step %s before it is not done", r.o.fromStep, step.ID)
	}
	return 0, p.plan.checkFromStep(r.o.fromStep)
}

// stepRun prepares a step's turn: the facts, and the backup check's answer
// for the backup step.
func (r *Runner) stepRun(ctx context.Context, hc *hopCtx, step Step, f Facts) *stepRun {
	sr := &stepRun{step: step, c: hc, in: newInput(f, hc.hop.To, r.o.backup, ModePreUpgrade)}
	if step.Kind == StepBackup && (r.o.backup.Check != "" || r.o.backup.LVM != nil) {
		if n, err := r.node(hc.boot); err == nil {
			sr.backupOK, _ = r.o.backup.checkOn(ctx, n)
		}
		sr.backupMine = slices.ContainsFunc(r.rec.Backups, func(b BackupRecord) bool { return !b.Pending })
		sr.backupPending = slices.ContainsFunc(r.rec.Backups, func(b BackupRecord) bool { return b.Pending })
	}
	return sr
}

func (r *Runner) save(ctx context.Context) error {
	if r.o.dryRun {
		return nil
	}
	r.rec.Updated = time.Now().UTC()
	return r.o.journal.Save(ctx, r.rec)
}

// PanicError is a panic recovered inside Run: the run failed where it
// was, and its locks were given back.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("the run stopped on a panic: %v (run again to resume from the journal; the stack is in PanicError.Stack)", e.Value)
}
