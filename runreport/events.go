package runreport

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/chefha/chefha/upgrade"
)

// walker reads events in order into a report.
type walker struct {
	r    *Report
	rec  upgrade.Record
	run  *Run
	last time.Time
	// step is the index of the step whose action is open (-1: none);
	// action is the action's index in its acts.
	step   int
	action int
	// gate is the open gate's index in r.Gates (-1: none).
	gate     int
	lastPoll time.Time
	// seen is each back end's keepalived state at the last poll.
	seen map[string]upgrade.GateNode
}

// planHashRE finds the plan's hash in EventPlan's message ("…, plan 85b4a722083d1e60").
var planHashRE = regexp.MustCompile(`\bplan ([0-9a-f]{16})$`)

func (r *Report) applyEvents(rec upgrade.Record, events []upgrade.Event) {
	w := &walker{r: r, rec: rec, gate: -1, step: -1, action: -1, seen: map[string]upgrade.GateNode{}}
	skipping := false
	for _, ev := range events {
		if ev.Kind == upgrade.EventPlan {
			w.endRun(w.last, upgrade.Event{})
			m := planHashRE.FindStringSubmatch(ev.Message)
			skipping = m != nil && rec.PlanHash != "" && m[1] != rec.PlanHash
			if skipping {
				r.Notes = append(r.Notes, fmt.Sprintf("the events from %s are of plan %s, not the journal's %s: left out", clock(ev.Time), m[1], rec.PlanHash))
				continue
			}
		}
		if skipping {
			continue
		}
		if ev.DryRun {
			r.DryRun = true
		}
		if w.run == nil {
			r.Runs = append(r.Runs, Run{Started: ev.Time})
			w.run = &r.Runs[len(r.Runs)-1]
		}
		w.last = ev.Time
		w.event(ev)
	}
	w.endRun(w.last, upgrade.Event{})
	if len(r.Runs) == 0 {
		r.Outcome = OutcomeIncomplete
		return
	}
	lastRun := r.Runs[len(r.Runs)-1]
	r.Outcome, r.Error = lastRun.Outcome, lastRun.Error
	if first := r.Runs[0].Started; r.Started.IsZero() || first.Before(r.Started) {
		r.Started = first
	}
	if lastRun.Ended.After(r.Ended) {
		r.Ended = lastRun.Ended
	}
	for i := range r.Steps {
		r.Steps[i].Work = work(&r.Steps[i])
	}
	if len(r.Nodes) == 0 {
		r.Nodes = nodesOfWork(r.Steps)
	}
}

func (w *walker) event(ev upgrade.Event) {
	t := ev.Time
	switch ev.Kind {
	case upgrade.EventStepStart:
		s := w.stepFor(ev)
		*s = Step{ID: s.ID, Hop: s.Hop, Kind: s.Kind, Category: s.Category, Title: s.Title, Nodes: s.Nodes, Issues: s.Issues,
			Status: StatusUnfinished, Start: t, Attempts: s.Attempts + 1}
	case upgrade.EventStepSkip:
		s := w.stepFor(ev)
		sr, recorded := w.rec.Steps[s.ID]
		if (recorded && !sr.Found) || s.Status == StatusDone || s.Status == StatusDoneEarlier {
			s.Status = StatusDoneEarlier
			break
		}
		s.Status, s.Start, s.End, s.Duration = StatusAlreadyDone, t, t, 0
	case upgrade.EventStepDone:
		w.closeAction(t)
		w.closeGate(t, GatePassed)
		s := w.stepFor(ev)
		w.finishStep(s, t, ev.Elapsed)
		s.Status = StatusDone
		if ev.DryRun {
			s.Status = StatusListed
		}
	case upgrade.EventStepFailed:
		w.closeAction(t)
		w.closeGate(t, GateFailed)
		s := w.stepFor(ev)
		w.finishStep(s, t, ev.Elapsed)
		s.Status, s.Node, s.Error = StatusFailed, ev.Node, ev.Message
		if ev.Error != nil && ev.Error.Message != "" {
			s.Error = ev.Error.Message
		}
	case upgrade.EventAction:
		w.closeAction(t)
		w.closeGate(w.lastPoll, GatePassed) // a retry's gate ends at its last poll
		s := w.stepFor(ev)
		a := act{node: ev.Node, start: t}
		if ev.DryRun {
			a.end = t // listed, not carried out
		}
		if ev.Action != nil {
			a.kind, a.argv = ev.Action.Kind, ev.Action.Argv
			if a.kind == upgrade.ActGate && ev.Action.Gate != nil && !ev.DryRun {
				w.openGate(Gate{Step: s.ID, Master: ev.Action.Gate.Master, Spec: ev.Action.Gate.String(), Start: t})
			}
		}
		s.acts = append(s.acts, a)
		s.Actions++
		w.step, w.action = w.r.stepIndex(s.ID), len(s.acts)-1
	case upgrade.EventActionDone:
		if w.gate >= 0 && w.r.Gates[w.gate].Retry {
			w.closeGate(w.lastPoll, GatePassed)
		}
		w.closeAction(t)
		w.closeGate(t, GatePassed)
	case upgrade.EventGateWait:
		if w.gate < 0 {
			w.openGate(Gate{Step: ev.Step, Master: ev.Node, Start: t, Retry: true,
				Note: "the gate before running a failed command again; it ends at its last poll"})
		}
		g := &w.r.Gates[w.gate]
		g.Polls++
		w.lastPoll = t
		if ev.Gate != nil {
			for _, why := range ev.Gate.Waiting {
				if !slices.Contains(g.WaitingFor, why) {
					g.WaitingFor = append(g.WaitingFor, why)
				}
			}
			w.transitions(ev)
		}
	case upgrade.EventGateSkip:
		if w.gate >= 0 {
			w.r.Gates[w.gate].Note = ev.Message
			w.closeGate(t, GateSkipped)
			break
		}
		w.r.Gates = append(w.r.Gates, Gate{Step: ev.Step, Master: ev.Node, Start: t, End: t, Result: GateSkipped, Note: ev.Message})
	case upgrade.EventFinding:
		w.r.Findings = append(w.r.Findings, Finding{Time: t, Step: ev.Step, Node: ev.Node, Message: ev.Message})
	case upgrade.EventOutcome:
		w.endRun(t, ev)
	}
}

// stepFor is the event's step, added when no plan lists it.
func (w *walker) stepFor(ev upgrade.Event) *Step {
	if s := w.r.step(ev.Step); s != nil {
		return s
	}
	kind := stepKindOf(ev.Step)
	w.r.Steps = append(w.r.Steps, Step{ID: ev.Step, Kind: string(kind), Category: categoryOf(kind), Title: ev.Title, Status: StatusNotRun})
	return &w.r.Steps[len(w.r.Steps)-1]
}

func (w *walker) finishStep(s *Step, t time.Time, elapsed time.Duration) {
	if s.Start.IsZero() {
		s.Start = t.Add(-elapsed)
	}
	if s.Attempts == 0 {
		s.Attempts = 1
	}
	s.End, s.Duration = t, Duration(t.Sub(s.Start))
}

func (w *walker) closeAction(t time.Time) {
	if w.step >= 0 {
		if acts := w.r.Steps[w.step].acts; w.action < len(acts) && acts[w.action].end.IsZero() {
			acts[w.action].end = t
		}
	}
	w.step, w.action = -1, -1
}

func (w *walker) openGate(g Gate) {
	w.closeGate(g.Start, GateUnfinished)
	w.r.Gates = append(w.r.Gates, g)
	w.gate = len(w.r.Gates) - 1
	w.lastPoll = g.Start
}

func (w *walker) closeGate(t time.Time, res GateResult) {
	if w.gate < 0 {
		return
	}
	g := &w.r.Gates[w.gate]
	if t.Before(g.Start) {
		t = g.Start
	}
	g.End, g.Result, g.Waited = t, res, Duration(t.Sub(g.Start))
	w.gate = -1
}

// transitions records each back end whose keepalived state differs from
// the poll before, or whose requested state is not its current one.
func (w *walker) transitions(ev upgrade.Event) {
	for _, n := range ev.Gate.Nodes {
		if n.Unreadable != "" || n.Node == "" {
			continue
		}
		prev, seen := w.seen[n.Node]
		w.seen[n.Node] = n
		var changed bool
		if seen {
			changed = prev.Current != n.Current || prev.Requested != n.Requested || prev.InTransition != n.InTransition
		} else {
			changed = (n.Requested != "" && n.Requested != n.Current) || n.InTransition
		}
		if !changed {
			continue
		}
		tr := Transition{Time: ev.Time, Step: ev.Step, Node: n.Node, Current: n.Current, Requested: n.Requested,
			InTransition: n.InTransition, HasVIP: n.HasVIP}
		if seen {
			tr.Previous = prev.Current
		}
		w.r.Transitions = append(w.r.Transitions, tr)
	}
}

// endRun closes the current run at t with the outcome event ev (zero: the
// events stop without one, as when the runner was killed).
func (w *walker) endRun(t time.Time, ev upgrade.Event) {
	if w.run == nil {
		return
	}
	w.closeAction(t)
	w.closeGate(t, GateUnfinished)
	for i := range w.r.Steps {
		if s := &w.r.Steps[i]; s.Status == StatusUnfinished && s.End.IsZero() {
			s.End, s.Duration = t, Duration(t.Sub(s.Start))
		}
	}
	w.run.Ended, w.run.Outcome, w.run.Error = t, ev.Outcome, ev.Error
	if w.run.Outcome == "" {
		w.run.Outcome = OutcomeIncomplete
	}
	w.run.Duration = Duration(t.Sub(w.run.Started))
	w.run = nil
}

// work is where and when a step's actions ran: one span for each run of
// consecutive actions on one node. A gate, shown as a gate and not as
// work, ends a span, as does an action on another node.
func work(s *Step) []Span {
	var out []Span
	open := false
	for _, a := range s.acts {
		if a.kind == upgrade.ActGate {
			open = false
			continue
		}
		end := a.end
		if end.IsZero() {
			end = s.End
		}
		if !open || out[len(out)-1].Node != a.node {
			out = append(out, Span{Node: a.node, Start: a.start, End: end})
			open = true
		}
		sp := &out[len(out)-1]
		if end.After(sp.End) {
			sp.End = end
		}
		sp.Actions++
	}
	return out
}

// nodesOfWork lists the nodes the steps acted on, for events with no plan.
func nodesOfWork(steps []Step) []Node {
	var out []Node
	for _, s := range steps {
		for _, sp := range s.Work {
			if sp.Node != "" && !slices.ContainsFunc(out, func(n Node) bool { return n.Name == sp.Node }) {
				out = append(out, Node{Name: sp.Node})
			}
		}
	}
	return out
}
