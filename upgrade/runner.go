package upgrade

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/atomicfile"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/runit"
)

// EventKind names a runner event.
type EventKind string

const (
	EventPlan       EventKind = "plan"        // the plan, before anything runs
	EventStepStart  EventKind = "step-start"  // a step begins
	EventStepSkip   EventKind = "step-skip"   // finished in an earlier run, or found already done
	EventStepDone   EventKind = "step-done"   // a step finished (Elapsed says how long it took)
	EventStepFailed EventKind = "step-failed" // a step failed; Message says why and what to do
	EventAction     EventKind = "action"      // an action runs (or, in a dry run, would)
	EventGateWait   EventKind = "gate-wait"   // a gate is waiting; Message is what it sees
	EventFinding    EventKind = "finding"     // something the operator should know
)

// Event is what the runner reports as it goes.
type Event struct {
	Time    time.Time     `json:"time"`
	Kind    EventKind     `json:"kind"`
	Step    string        `json:"step,omitempty"`
	Title   string        `json:"title,omitempty"`
	Node    string        `json:"node,omitempty"`
	Message string        `json:"message,omitempty"`
	Elapsed time.Duration `json:"elapsed,omitempty"`
	DryRun  bool          `json:"dry_run,omitempty"`
}

// Runner carries out a Plan on a cluster: in order, gated on facts,
// checkpointed after every step, resumable.
type Runner struct {
	Cluster *cluster.Cluster
	Plan    Plan
	// StateFile is the checkpoint (JSON, written atomically after every
	// step). A run with an existing state file resumes after its last
	// finished step.
	StateFile string
	// DryRun lists every action without changing any node.
	DryRun bool
	// ConfirmCleanup is the operator's confirmation that the upgraded
	// cluster was verified (the cleanup step waits for it).
	ConfirmCleanup bool
	// FromStep skips to the step with this ID (steps before it must be
	// finished in the state file, or the run refuses).
	FromStep string
	// Gate timings; defaults from the keepalived package.
	Clock       keepalived.Clock
	Hold        time.Duration
	GateTimeout time.Duration
	Poll        time.Duration
	// OnEvent receives every event, in order, from the running goroutine.
	OnEvent func(Event)

	state State
	// Actions are the actions carried out (or, dry, listed), in order.
	Actions []Action
}

// State is the checkpoint file.
type State struct {
	PlanHash string                `json:"plan_hash"`
	Plan     Plan                  `json:"plan"`
	RunID    string                `json:"run_id"`
	Started  time.Time             `json:"started"`
	Updated  time.Time             `json:"updated"`
	Done     map[string]StepRecord `json:"done"`
	// Running is the step that was under way when the state was written;
	// after a crash its "already done?" test decides whether to run it again.
	Running string `json:"running,omitempty"`
}

// StepRecord is a finished step.
type StepRecord struct {
	Finished time.Time     `json:"finished"`
	Took     time.Duration `json:"took"`
}

// LockPath is the per-node lock directory that stops two runners.
const LockPath = "/var/opt/opscode/upgrades/chefha.lock"

// StepError is a step that failed, with what to do.
type StepError struct {
	Step  string
	Title string
	Node  string
	Err   error
}

func (e *StepError) Error() string {
	node := ""
	if e.Node != "" {
		node = " on " + e.Node
	}
	return fmt.Sprintf("step %s (%s)%s: %v", e.Step, e.Title, node, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// ErrNeedsConfirmation stops before cleanup until the operator confirms.
var ErrNeedsConfirmation = errors.New("cleanup needs confirmation: verify the upgraded cluster, then run again with -yes")

func (r *Runner) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.DryRun = r.DryRun
	if r.OnEvent != nil {
		r.OnEvent(e)
	}
}

// Run carries out the plan. It returns nil when every step is finished.
func (r *Runner) Run(ctx context.Context) (err error) {
	if err := r.loadState(); err != nil {
		return err
	}
	r.emit(Event{Kind: EventPlan, Message: fmt.Sprintf("%s → %s: %d steps, plan %s", r.Plan.From, r.Plan.To, len(r.Plan.Steps), r.Plan.Hash())})
	if len(r.state.Done) > 0 || r.state.Running != "" {
		if err := r.confirmCluster(ctx); err != nil {
			return err
		}
	}
	if !r.DryRun {
		if err := r.lock(ctx); err != nil {
			return err
		}
		defer func() {
			if uerr := r.unlock(context.WithoutCancel(ctx)); uerr != nil && err == nil {
				err = uerr
			}
		}()
	}
	start := 0
	if r.FromStep != "" {
		i := slices.IndexFunc(r.Plan.Steps, func(s Step) bool { return s.ID == r.FromStep })
		if i < 0 {
			return fmt.Errorf("-from-step %s: no such step in the plan", r.FromStep)
		}
		for _, s := range r.Plan.Steps[:i] {
			if _, ok := r.state.Done[s.ID]; !ok && !r.DryRun {
				return fmt.Errorf("-from-step %s: step %s before it has not finished", r.FromStep, s.ID)
			}
		}
		start = i
	}
	for _, step := range r.Plan.Steps[start:] {
		if _, ok := r.state.Done[step.ID]; ok {
			r.emit(Event{Kind: EventStepSkip, Step: step.ID, Title: step.Title, Message: "finished in an earlier run"})
			continue
		}
		if r.state.Running == step.ID && !r.DryRun {
			done, derr := r.alreadyDone(ctx, step)
			if derr == nil && done {
				r.emit(Event{Kind: EventStepSkip, Step: step.ID, Title: step.Title, Message: "was running when the last run stopped, and is done"})
				if err := r.finish(step, 0); err != nil {
					return err
				}
				continue
			}
		}
		if err := r.runStep(ctx, step, r.state.Running == step.ID); err != nil {
			return err
		}
	}
	return nil
}

// doneNodes lists, for an install step that was interrupted, the nodes
// that already have the package: their actions are not repeated.
func (r *Runner) doneNodes(ctx context.Context, step Step) map[string]bool {
	done := map[string]bool{}
	if step.Kind != StepInstall {
		return done
	}
	for _, node := range step.Nodes {
		n, err := r.node(node)
		if err != nil {
			continue
		}
		secs, err := readNode(ctx, n, "manifest")
		if err != nil {
			continue
		}
		if v, err := (NodeFacts{Node: node, Sections: secs}).Version(); err == nil && v == step.Target {
			done[node] = true
		}
	}
	return done
}

func (r *Runner) runStep(ctx context.Context, step Step, resumed bool) error {
	began := time.Now()
	r.emit(Event{Kind: EventStepStart, Step: step.ID, Title: step.Title})
	if !r.DryRun {
		r.state.Running = step.ID
		if err := r.saveState(); err != nil {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, step.Timeout)
	defer cancel()
	skip := map[string]bool{}
	if resumed && !r.DryRun {
		skip = r.doneNodes(sctx, step)
	}
	for _, a := range step.Actions {
		if skip[a.Node] {
			r.emit(Event{Kind: EventStepSkip, Step: step.ID, Node: a.Node, Message: "already done on " + a.Node + ": " + a.String()})
			continue
		}
		if err := r.act(sctx, step, a); err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (stopped; run again to resume)", ctx.Err())
			} else if sctx.Err() != nil {
				err = fmt.Errorf("did not finish within %s: %w", step.Timeout, err)
			}
			serr := &StepError{Step: step.ID, Title: step.Title, Node: a.Node, Err: err}
			r.emit(Event{Kind: EventStepFailed, Step: step.ID, Title: step.Title, Node: a.Node, Message: serr.Error(), Elapsed: time.Since(began)})
			return serr
		}
	}
	if err := r.finish(step, time.Since(began)); err != nil {
		return err
	}
	r.emit(Event{Kind: EventStepDone, Step: step.ID, Title: step.Title, Elapsed: time.Since(began)})
	return nil
}

func (r *Runner) finish(step Step, took time.Duration) error {
	if r.DryRun {
		return nil
	}
	r.state.Done[step.ID] = StepRecord{Finished: time.Now().UTC(), Took: took}
	r.state.Running = ""
	return r.saveState()
}

// act is the one way an action reaches a node: in a dry run, changing
// actions and waits are listed and skipped, so the list cannot drift from
// what a real run does.
func (r *Runner) act(ctx context.Context, step Step, a Action) error {
	r.Actions = append(r.Actions, a)
	r.emit(Event{Kind: EventAction, Step: step.ID, Node: a.Node, Message: a.String()})
	if r.DryRun {
		return nil
	}
	switch a.Kind {
	case ActRun:
		return r.run(ctx, a)
	case ActUpload:
		n, err := r.node(a.Node)
		if err != nil {
			return err
		}
		return upload(ctx, n, a.Src, a.Path)
	case ActWrite:
		n, err := r.node(a.Node)
		if err != nil {
			return err
		}
		if old, err := n.ReadFile(ctx, a.Path); err == nil {
			bak := a.Path + ".chefha-backup-" + time.Now().UTC().Format("20060102T150405Z")
			if err := n.WriteFile(ctx, bak, old, 0o644); err != nil {
				return fmt.Errorf("keep the old %s: %w", a.Path, err)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return n.WriteFile(ctx, a.Path, []byte(a.Content), 0o644)
	case ActCopyTree:
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
		rep, err := cluster.CopyTree(ctx, from, a.Path, tw, a.Path, cluster.CopyOptions{})
		if err == nil && rep.Backup != "" {
			r.emit(Event{Kind: EventFinding, Step: step.ID, Node: a.Node, Message: fmt.Sprintf("copied %d files; the old %s is kept as %s", rep.Files, a.Path, rep.Backup)})
		}
		return err
	case ActGate:
		return r.gate(ctx, step, a)
	case ActVerifyLevel:
		return r.verifyLevel(ctx, a)
	case ActCheckRunit:
		return r.checkRunit(ctx, a.Node)
	case ActConfirm:
		if !r.ConfirmCleanup {
			return ErrNeedsConfirmation
		}
		return nil
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}

// streamWriter is a node that can take a file without it being held in
// memory (a package is hundreds of megabytes); SSH and Local are.
type streamWriter interface {
	WriteFileFrom(ctx context.Context, name string, r io.Reader, perm fs.FileMode) error
}

func upload(ctx context.Context, n cluster.Node, src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	if sw, ok := n.(streamWriter); ok {
		return sw.WriteFileFrom(ctx, dst, f, 0o644)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	return n.WriteFile(ctx, dst, data, 0o644)
}

func (r *Runner) node(name string) (cluster.Node, error) {
	n, ok := r.Cluster.Node(name)
	if !ok {
		return nil, fmt.Errorf("no node %s in the cluster", name)
	}
	return n, nil
}

// run runs a command as root, treating the markers of partybus's silent
// failures as failures, and retrying once after a stable-master gate
// where the step allows (OC-11382).
func (r *Runner) run(ctx context.Context, a Action) error {
	n, err := r.node(a.Node)
	if err != nil {
		return err
	}
	res, err := n.Run(ctx, cluster.Cmd{Argv: a.Argv, Sudo: true})
	if err != nil && a.RetryAfterGate && ctx.Err() == nil {
		var ee *cluster.ExitError
		if errors.As(err, &ee) {
			r.emit(Event{Kind: EventFinding, Node: a.Node, Message: fmt.Sprintf("%v: waiting for a stable master and running it again (OC-11382: a keepalived restart interrupts partybus, which resumes from the level reached)", err)})
			if gerr := r.gate(ctx, Step{}, Action{Kind: ActGate, Node: a.Node, Master: a.Node}); gerr != nil {
				return fmt.Errorf("%w; then: %v", err, gerr)
			}
			res, err = n.Run(ctx, cluster.Cmd{Argv: a.Argv, Sudo: true})
		}
	}
	if err != nil && a.IgnoreExit {
		var ee *cluster.ExitError
		if errors.As(err, &ee) {
			return nil
		}
	}
	if err != nil {
		return r.nameIssue(err)
	}
	out := string(res.Stdout) + string(res.Stderr)
	for _, marker := range a.FailOn {
		if i := strings.Index(out, marker); i >= 0 {
			line := out[strings.LastIndex(out[:i], "\n")+1:]
			if j := strings.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			hint := ""
			switch {
			case strings.Contains(marker, "oc_authz_migrator"):
				hint = " (OC-11658: partybus reported success, but Authz data was not migrated to Bifrost; do not go on: contact support with this output)"
			case strings.Contains(marker, "file lock"):
				hint = " (partybus exited 0 without migrating: another upgrade holds " + migration.Path + "'s lock; make sure none runs, then run again)"
			}
			return fmt.Errorf("%s printed %q%s", cluster.ShellJoin(a.Argv), strings.TrimSpace(line), hint)
		}
	}
	return nil
}

// nameIssue adds the known issue a failure's output shows, with its fix.
func (r *Runner) nameIssue(err error) error {
	var ee *cluster.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	out := string(ee.Result.Stdout) + string(ee.Result.Stderr)
	for _, k := range KnownIssues() {
		for _, sig := range k.Signatures {
			if strings.Contains(out, sig) {
				return fmt.Errorf("%w\n  this is %s (%s): %s", err, k.ID, k.Title, k.Action)
			}
		}
	}
	return err
}

// gate waits until keepalived is stable with a.Master master, a.Node's
// services run (those the runbook expects down aside) and its runsvdir is
// healthy. It never sleeps a fixed time.
func (r *Runner) gate(ctx context.Context, step Step, a Action) error {
	boot, _ := r.Cluster.Topology.Bootstrap()
	sec, _ := r.Cluster.Topology.Secondary()
	bn, err := r.node(boot.Name)
	if err != nil {
		return err
	}
	sn, err := r.node(sec.Name)
	if err != nil {
		return err
	}
	vip := ""
	if t := r.Cluster.Topology.BackendVIP; t != nil {
		vip, _, _ = strings.Cut(t.IPAddress, "/")
	}
	sections := []string{"current", "requested", "lock", "clusterlog", "ps", "addrs"}
	read := func(n cluster.Node, name string) keepalived.NodeState {
		secs, err := readNode(ctx, n, sections...)
		if err != nil {
			return keepalived.NodeState{Name: name, Err: err}
		}
		return NodeFacts{Node: name, Sections: secs}.KeepalivedState(vip)
	}
	polls := 0
	g := keepalived.Gate{
		Master: a.Master, Clock: r.Clock, Hold: r.Hold, Timeout: r.GateTimeout, Poll: r.Poll, CheckVIP: vip != "",
		Read: func(ctx context.Context) (keepalived.Pair, error) {
			p := keepalived.Pair{Bootstrap: read(bn, boot.Name), Secondary: read(sn, sec.Name)}
			if polls++; polls%5 == 1 {
				r.emit(Event{Kind: EventGateWait, Step: step.ID, Node: a.Master,
					Message: p.Bootstrap.Summary() + "; " + p.Secondary.Summary()})
			}
			return p, nil
		},
	}
	if _, err := g.Wait(ctx); err != nil {
		return err
	}
	// Services up, by sv status, polled on the same clock.
	clock := r.Clock
	if clock == nil {
		clock = keepalived.RealClock{}
	}
	deadline := clock.Now().Add(orDefault(r.GateTimeout, keepalived.DefaultTimeout))
	n, err := r.node(a.Node)
	if err != nil {
		return err
	}
	for {
		secs, err := readNode(ctx, n, "status", "ps")
		var down []string
		if err == nil {
			nf := NodeFacts{Node: a.Node, Sections: secs}
			svcs, perr := nf.Services()
			err = perr
			for _, s := range svcs {
				if s.Service != "keepalived" && s.NormallyUp && s.State != runit.StateRun &&
					!slices.Contains(runit.ExpectedDownDuringUpgrade(), s.Service) {
					down = append(down, s.Service)
				}
			}
			if ps, perr := nf.Processes(); perr == nil {
				for _, rd := range runit.FindRunsvdirs(ps) {
					if !rd.Healthy() {
						return fmt.Errorf("runsvdir on %s is unhealthy: %s (fix the cause, then recover runsvdir: run again with -recover-runit)", a.Node, strings.Join(rd.Errors, "; "))
					}
				}
			}
		}
		if err == nil && len(down) == 0 {
			return nil
		}
		if !clock.Now().Before(deadline) {
			if err != nil {
				return err
			}
			return fmt.Errorf("services still down on %s after %s: %s", a.Node, orDefault(r.GateTimeout, keepalived.DefaultTimeout), strings.Join(down, ", "))
		}
		r.emit(Event{Kind: EventGateWait, Step: step.ID, Node: a.Node, Message: "waiting for services: " + strings.Join(down, ", ")})
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clock.After(orDefault(r.Poll, keepalived.DefaultPoll)):
		}
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// verifyLevel re-reads a node's migration level: partybus can exit 0
// without migrating (a held lock, OC-11670's skipped step, OC-11658).
func (r *Runner) verifyLevel(ctx context.Context, a Action) error {
	n, err := r.node(a.Node)
	if err != nil {
		return err
	}
	secs, err := readNode(ctx, n, "level")
	if err != nil {
		return err
	}
	got, err := migration.Parse([]byte(secs["level"].Output))
	if err != nil {
		return fmt.Errorf("after upgrade, %s: %w (OC-11297: copy the file from a front end that holds %s)", migration.Path, err, a.Level)
	}
	if got.String() != a.Level {
		return fmt.Errorf("after upgrade the migration level is %s, want %s: partybus did not finish its migrations (OC-11670: keepalived in transition; OC-11382: interrupted). Check %s and run again", got, a.Level, keepalived.ClusterLogPath)
	}
	return nil
}

// checkRunit stops on an unhealthy runsvdir or leftover control processes,
// as the runbook asks between every upgrade.
func (r *Runner) checkRunit(ctx context.Context, node string) error {
	n, err := r.node(node)
	if err != nil {
		return err
	}
	secs, err := readNode(ctx, n, "ps")
	if err != nil {
		return err
	}
	ps, err := NodeFacts{Node: node, Sections: secs}.Processes()
	if err != nil {
		return err
	}
	var msgs []string
	for _, f := range runit.DiagnoseProcesses(ps) {
		msgs = append(msgs, f.String()+" — "+f.Fix)
	}
	if len(msgs) > 0 {
		return fmt.Errorf("runit is not healthy: %s (or run again with -recover-runit)", strings.Join(msgs, "; "))
	}
	return nil
}

// alreadyDone is a step's "already done?" test, for a step that was
// running when the last run stopped. Steps without one run again: they
// are safe to repeat (reconfigure, start, gates, checks).
func (r *Runner) alreadyDone(ctx context.Context, step Step) (bool, error) {
	read := func(node string, secs ...string) (NodeFacts, error) {
		n, err := r.node(node)
		if err != nil {
			return NodeFacts{}, err
		}
		s, err := readNode(ctx, n, secs...)
		return NodeFacts{Node: node, Sections: s}, err
	}
	switch step.Kind {
	case StepInstall:
		for _, node := range step.Nodes {
			nf, err := read(node, "manifest")
			if err != nil {
				return false, err
			}
			if v, err := nf.Version(); err != nil || v != step.Target {
				return false, err
			}
		}
		return true, nil
	case StepUpgradeBootstrap, StepUpgradeSecondary, StepUpgradeFrontend:
		for _, node := range step.Nodes {
			nf, err := read(node, "manifest", "level")
			if err != nil {
				return false, err
			}
			l, err := migration.Parse([]byte(nf.Sections["level"].Output))
			if err != nil || l.String() != step.Level {
				return false, nil
			}
		}
		return true, nil
	case StepStopFrontends:
		for _, node := range step.Nodes {
			nf, err := read(node, "status")
			if err != nil {
				return false, err
			}
			if len(upServices(nf)) > 0 {
				return false, nil
			}
		}
		return true, nil
	case StepStopKeepalived:
		for _, node := range step.Nodes {
			nf, err := read(node, "ps")
			if err != nil || keepalivedRunning(nf) {
				return false, err
			}
		}
		return true, nil
	}
	return false, nil
}

// confirmCluster re-reads the cluster before resuming: every node answers,
// the topology is the plan's, and every node runs a version of the plan.
func (r *Runner) confirmCluster(ctx context.Context) error {
	if topologyHash(r.Cluster.Topology) != r.Plan.Topology {
		return fmt.Errorf("resume: the cluster's topology is not the one the plan was made for: start a new plan")
	}
	f := Gather(ctx, r.Cluster)
	versions := map[string]bool{r.Plan.From: true}
	for _, s := range r.Plan.Steps {
		versions[s.Target] = true
	}
	for _, n := range f.Nodes {
		if n.Err != "" {
			return fmt.Errorf("resume: %s: %s", n.Node, n.Err)
		}
		v, err := n.Version()
		if err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		if !versions[v] {
			return fmt.Errorf("resume: %s runs %s, which is not a version of this plan (%s → %s): someone changed the cluster; start a new plan", n.Node, v, r.Plan.From, r.Plan.To)
		}
	}
	return nil
}

func (r *Runner) loadState() error {
	hash := r.Plan.Hash()
	if r.StateFile == "" {
		if !r.DryRun {
			return errors.New("runner: no state file: a real run must be resumable")
		}
		r.state = State{PlanHash: hash, Plan: r.Plan, Done: map[string]StepRecord{}}
		return nil
	}
	b, err := os.ReadFile(r.StateFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		id := make([]byte, 8)
		rand.Read(id)
		r.state = State{PlanHash: hash, Plan: r.Plan, RunID: hex.EncodeToString(id), Started: time.Now().UTC(), Done: map[string]StepRecord{}}
		return nil
	case err != nil:
		return err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("state file %s: %w", r.StateFile, err)
	}
	if st.PlanHash != hash {
		return fmt.Errorf("state file %s is for plan %s (%s → %s), not this plan %s: refusing to resume a different plan (move the file away to start over)",
			r.StateFile, st.PlanHash, st.Plan.From, st.Plan.To, hash)
	}
	if st.Done == nil {
		st.Done = map[string]StepRecord{}
	}
	r.state = st
	return nil
}

// saveState writes the checkpoint atomically: temp file, fsync, rename,
// fsync of the directory.
func (r *Runner) saveState() error {
	if r.StateFile == "" {
		return nil
	}
	r.state.Updated = time.Now().UTC()
	b, err := json.MarshalIndent(r.state, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(r.StateFile, append(b, '\n'), 0o600)
}

// State returns the checkpoint as it stands.
func (r *Runner) State() State { return r.state }

// lock takes the per-node lock on every node (mkdir is atomic); a lock
// left by this same run (a crash) is taken over.
func (r *Runner) lock(ctx context.Context) error {
	owner := fmt.Sprintf("run %s, plan %s, started %s", r.state.RunID, r.state.PlanHash, r.state.Started.Format(time.RFC3339))
	for _, n := range r.Cluster.All() {
		_, err := n.Run(ctx, cluster.Cmd{Argv: []string{"mkdir", LockPath}, Sudo: true})
		if err != nil {
			b, rerr := n.ReadFile(ctx, LockPath+"/owner")
			if rerr == nil && strings.Contains(string(b), "run "+r.state.RunID+",") {
				continue
			}
			return fmt.Errorf("%s: another chefha run holds %s (%s): if it is dead, remove the directory on every node", n.Name(), LockPath, strings.TrimSpace(string(b)))
		}
		if err := n.WriteFile(ctx, LockPath+"/owner", []byte(owner+"\n"), 0o644); err != nil {
			return err
		}
	}
	return r.saveState()
}

func (r *Runner) unlock(ctx context.Context) error {
	var errs []error
	for _, n := range r.Cluster.All() {
		if _, err := n.Run(ctx, cluster.Cmd{Argv: []string{"rm", "-rf", LockPath}, Sudo: true}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
