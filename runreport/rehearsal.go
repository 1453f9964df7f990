package runreport

import (
	"fmt"
	"strings"
	"time"

	"github.com/chefha/chefha/upgrade"
)

// Rehearsal is a plan's rehearsal on a replica of production
// (upgrade.Rehearsal), as a change report shows it beside the real run.
type Rehearsal struct {
	PlanHash string `json:"plan_hash"`
	// SamePlan says the rehearsed plan is this report's, by hash.
	SamePlan bool      `json:"same_plan"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Duration Duration  `json:"duration_s"`
	Passed   bool      `json:"passed"`
	// StoppedAt and Error say where and why one that did not pass stopped.
	StoppedAt string `json:"stopped_at,omitempty"`
	Error     string `json:"error,omitempty"`
	// Steps are how long each step took on the replica, Waits each
	// gate's longest wait.
	Steps []Timing `json:"steps"`
	Waits []Timing `json:"waits,omitempty"`
	// Findings are the replica's post-flight failures and warnings.
	Findings []string `json:"findings,omitempty"`
	// NotReproduced is what of production the replica did not have.
	NotReproduced []string `json:"not_reproduced,omitempty"`
}

// Timing is a step's or a gate's duration.
type Timing struct {
	Step string   `json:"step"`
	Node string   `json:"node,omitempty"`
	Took Duration `json:"took_s"`
}

func newRehearsal(rh upgrade.Rehearsal, planHash string) *Rehearsal {
	out := &Rehearsal{PlanHash: rh.PlanHash, SamePlan: rh.PlanHash == planHash, Started: rh.Started, Finished: rh.Finished,
		Passed: rh.Passed, StoppedAt: rh.StoppedAt, Error: rh.Error, NotReproduced: rh.NotReproduced}
	if rh.Finished.After(rh.Started) {
		out.Duration = Duration(rh.Finished.Sub(rh.Started))
	}
	for _, s := range rh.Steps {
		out.Steps = append(out.Steps, Timing{Step: s.Step, Node: s.Node, Took: Duration(s.Took)})
	}
	for _, w := range rh.Waits {
		out.Waits = append(out.Waits, Timing{Step: w.Step, Node: w.Node, Took: Duration(w.Took)})
	}
	for _, f := range rh.Findings {
		where := f.Node
		if where == "" {
			where = "cluster"
		}
		out.Findings = append(out.Findings, fmt.Sprintf("%s %s %s: %s", f.Severity, where, f.Check, strings.Join(f.Evidence, "; ")))
	}
	return out
}

// SetRehearsal puts the plan's rehearsal into the report: the operator's
// evidence that the plan ran on a copy of production first. One of
// another plan is shown as such, with a note.
func (r *Report) SetRehearsal(rh upgrade.Rehearsal) {
	r.Rehearsal = newRehearsal(rh, r.PlanHash)
	if !r.Rehearsal.SamePlan {
		r.Notes = append(r.Notes, fmt.Sprintf("the rehearsal recorded is of plan %s, not of this run's %s", rh.PlanHash, r.PlanHash))
	}
}

// FromRehearsal is the report of a rehearsal itself: its steps on the
// replica, its gates, and the downtime each service role would have had.
// With the rehearsal's events it is Build's report of that run; without
// them (upgrade.Rehearse keeps its own) the steps the rehearsal timed are
// laid end to end from its start, in the plan's order, which bounds each
// stretch of downtime by whole steps, as a report from the journal alone
// does.
func FromRehearsal(plan upgrade.Plan, rh upgrade.Rehearsal, events []upgrade.Event) Report {
	rec := upgrade.Record{Format: upgrade.JournalFormat, PlanHash: plan.Hash(), Plan: plan, Started: rh.Started, Steps: map[string]upgrade.StepRecord{}}
	var r Report
	if len(events) > 0 {
		r = Build(rec, events)
	} else {
		took := map[string]time.Duration{}
		for _, s := range rh.Steps {
			took[s.Step] = s.Took
		}
		at := rh.Started
		stopped := false
		for _, s := range plan.Steps {
			if s.ID == rh.StoppedAt {
				stopped = true
			}
			if stopped {
				continue
			}
			d, ran := took[s.ID]
			at = at.Add(d)
			// A step the rehearsal did not time before it stopped (or in
			// one that passed) was found done already: skipped.
			rec.Steps[s.ID] = upgrade.StepRecord{Finished: at, Took: d, Found: !ran}
		}
		rec.Updated = at
		r = Build(rec, nil)
		r.Source = "a rehearsal on a replica: its steps' durations laid end to end from its start (no events)"
		if rh.StoppedAt != "" {
			// It ran from the end of the step before until the rehearsal
			// ended: Rehearse times only the steps that finished.
			if s := r.step(rh.StoppedAt); s != nil {
				s.Status, s.Error, s.Start, s.End = StatusFailed, rh.Error, at, later(at, rh.Finished)
				s.Duration, s.Attempts = Duration(s.End.Sub(s.Start)), 1
			}
		}
		for _, w := range rh.Waits {
			if s := r.step(w.Step); s != nil {
				r.Gates = append(r.Gates, Gate{Step: w.Step, Master: w.Node, Start: s.Start, End: s.Start.Add(w.Took), Waited: Duration(w.Took),
					Result: GatePassed, Spec: "the step's gate", Note: "its longest wait in the rehearsal; where in the step it waited is not recorded"})
			}
		}
		switch {
		case rh.Passed:
			r.Outcome = upgrade.OutcomeDone
		case rh.StoppedAt != "":
			r.Outcome = upgrade.OutcomeFailed
			r.Error = &upgrade.EventError{Type: "step", Message: rh.Error, Step: rh.StoppedAt}
		default:
			r.Outcome = upgrade.OutcomeFailed
			r.Error = &upgrade.EventError{Type: "error", Message: rh.Error}
		}
		r.Ended = later(rh.Finished, at)
		if r.Ended.After(r.Started) {
			r.Duration = Duration(r.Ended.Sub(r.Started))
		}
		r.Downtime = r.downtime()
	}
	r.Title = strings.Replace(r.title(), "chefha upgrade", "chefha rehearsal", 1)
	r.SetRehearsal(rh)
	return r
}

func (r Report) mdRehearsal(p printer) {
	rh := r.Rehearsal
	if rh == nil {
		return
	}
	p("\n## Rehearsal on a replica\n\n")
	result := "**passed**: it ran to the end"
	if !rh.Passed {
		result = "**did not pass**"
		if rh.StoppedAt != "" {
			result += ": stopped at " + md(rh.StoppedAt)
		}
	}
	same := "the same plan as this run"
	if !rh.SamePlan {
		same = "**another plan** than this run's"
	}
	p("| | |\n|---|---|\n| Plan | %s (%s) |\n| Started | %s |\n| Took | %s |\n| Result | %s |\n\n", md(rh.PlanHash), same, stamp(rh.Started), exact(rh.Duration), result)
	if rh.Error != "" {
		p("%s\n\n", fenced(rh.Error))
	}
	if len(rh.Steps) > 0 {
		p("| step | took on the replica |\n|---|---|\n")
		for _, s := range rh.Steps {
			p("| %s | %s |\n", md(s.Step), s.Took)
		}
		p("\n")
	}
	if len(rh.Waits) > 0 {
		p("| gate of step | master | waited |\n|---|---|---|\n")
		for _, w := range rh.Waits {
			p("| %s | %s | %s |\n", md(w.Step), md(w.Node), w.Took)
		}
		p("\n")
	}
	if len(rh.Findings) > 0 {
		p("The replica's post-flight reported:\n\n")
		for _, f := range rh.Findings {
			p("- %s\n", md(f))
		}
		p("\n")
	}
	if len(rh.NotReproduced) > 0 {
		p("What the replica did not reproduce of production, so what the rehearsal does not prove:\n\n")
		for _, s := range rh.NotReproduced {
			p("- %s\n", md(s))
		}
	}
}

// footer is the lines under the picture's key: the rehearsal, and each
// LVM snapshot's fill.
func (r Report) footer() []string {
	var out []string
	if rh := r.Rehearsal; rh != nil {
		s := fmt.Sprintf("rehearsed on a replica %s (plan %s", stamp(rh.Started), rh.PlanHash)
		if !rh.SamePlan {
			s += ", another plan"
		}
		s += "): "
		switch {
		case rh.Passed:
			s += "passed in " + rh.Duration.String()
		case rh.StoppedAt != "":
			s += "stopped at " + rh.StoppedAt
		default:
			s += "did not pass"
		}
		out = append(out, s)
	}
	for _, b := range r.Backups {
		if b.Snapshot != "" {
			s := fmt.Sprintf("backup: LVM snapshot %s (%s)", b.Snapshot, mib(b.Size))
			if l := b.fillLine(); l != "" {
				s += ": " + l
			}
			out = append(out, s)
		}
	}
	return out
}
