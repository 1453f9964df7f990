package runreport

import (
	"fmt"
	"slices"
	"time"

	"github.com/chefha/chefha/upgrade"
)

// The service roles whose downtime the report measures.
const (
	ServiceFrontends = "front ends"
	ServiceBootstrap = "bootstrap services"
)

// downtime measures, hop by hop, how long the front ends and the
// bootstrap's services were down:
//
//   - the front ends from the first stop on one of them (stop-frontends)
//     until start-all's gate saw every service up;
//   - the bootstrap's services from its private-chef-ctl reconfigure
//     (reconfigure-bootstrap) or upgrade (upgrade-bootstrap) until the
//     gate after it saw them up.
//
// With events, the times are the events' (an action's start, a gate's
// end); from the journal alone, a step's start (finished − took) and end,
// which bound the stretch from outside.
func (r *Report) downtime() []Downtime {
	if r.DryRun {
		return nil // nothing was taken down
	}
	var hops []int
	for _, s := range r.Steps {
		if s.Hop > 0 && !slices.Contains(hops, s.Hop) {
			hops = append(hops, s.Hop)
		}
	}
	var out []Downtime
	for _, h := range hops {
		if d, ok := r.frontendDowntime(h); ok {
			out = append(out, d)
		}
		for _, kind := range []upgrade.StepKind{upgrade.StepReconfigureBoot, upgrade.StepUpgradeBootstrap} {
			if d, ok := r.bootstrapDowntime(r.stepOf(h, kind)); ok {
				out = append(out, d)
			}
		}
	}
	return out
}

func (r *Report) stepOf(hop int, kind upgrade.StepKind) *Step {
	for i := range r.Steps {
		if r.Steps[i].Hop == hop && r.Steps[i].Kind == string(kind) {
			return &r.Steps[i]
		}
	}
	return nil
}

// passedGate is the first gate of a step that began at or after t and
// opened (skipped: an earlier gate showed the same, nothing ran since).
func (r *Report) passedGate(step string, t time.Time) *Gate {
	for i := range r.Gates {
		g := &r.Gates[i]
		if g.Step == step && !g.Retry && !g.Start.Before(t) && (g.Result == GatePassed || g.Result == GateSkipped) {
			return g
		}
	}
	return nil
}

func (r *Report) frontendDowntime(hop int) (Downtime, bool) {
	stop := r.stepOf(hop, upgrade.StepStopFrontends)
	if stop == nil || stop.Status == StatusNotRun || len(stop.Nodes) == 0 {
		return Downtime{}, false
	}
	d := Downtime{Service: ServiceFrontends, Hop: hop, Step: stop.ID, Nodes: stop.Nodes, From: stop.Start}
	how := "from the start of stop-frontends (journal: finished − took)"
	switch first := firstAct(stop, func(a act) bool { return a.kind == upgrade.ActRun }); {
	case first != nil:
		d.From = first.start
		how = "from the first stop of a front end (stop-frontends)"
	case stop.Status == StatusAlreadyDone:
		how = "the front ends were already stopped when the run reached stop-frontends, so they went down earlier: from then"
	case stop.Attempts > 0:
		how = "from the start of stop-frontends"
	}
	start := r.stepOf(hop, upgrade.StepStartAll)
	switch {
	case start != nil && r.passedGate(start.ID, start.Start) != nil && start.Status == StatusDone:
		d.To = r.passedGate(start.ID, start.Start).End
		how += " until start-all's gate saw every service up (event times)"
	case start != nil && (start.Status == StatusDone || start.Status == StatusDoneEarlier):
		d.To = start.End
		how += " until start-all finished, its gate being its last action (journal)"
	default:
		d.To, d.Open = r.Ended, true
		how += fmt.Sprintf(" until the record ends at %s: start-all did not finish, the front ends are still down", clock(r.Ended))
	}
	d.How, d.Length = how, Duration(d.To.Sub(d.From))
	return d, true
}

// isConverge reports whether a command is private-chef-ctl reconfigure or
// upgrade (bare, under env SVWAIT=…, or under the umask wrapper).
func isConverge(argv []string) bool {
	ctl := false
	for _, a := range argv {
		if a == "private-chef-ctl" {
			ctl = true
		}
		if ctl && (a == "reconfigure" || a == "upgrade") {
			return true
		}
	}
	return false
}

func firstAct(s *Step, match func(act) bool) *act {
	for i := range s.acts {
		if match(s.acts[i]) {
			return &s.acts[i]
		}
	}
	return nil
}

func (r *Report) bootstrapDowntime(s *Step) (Downtime, bool) {
	if s == nil || s.Status == StatusNotRun || s.Status == StatusAlreadyDone || len(s.Nodes) == 0 {
		return Downtime{}, false
	}
	d := Downtime{Service: ServiceBootstrap, Hop: s.Hop, Step: s.ID, Nodes: s.Nodes, From: s.Start, To: s.End}
	how := fmt.Sprintf("the whole of %s (journal: finished − took to finished), which holds it", s.Kind)
	if conv := firstAct(s, func(a act) bool { return isConverge(a.argv) }); conv != nil {
		d.From = conv.start
		verb := "upgrade"
		if s.Kind == string(upgrade.StepReconfigureBoot) {
			verb = "reconfigure"
		}
		how = fmt.Sprintf("from private-chef-ctl %s on the bootstrap (%s)", verb, s.Kind)
		if g := r.passedGate(s.ID, conv.start); g != nil {
			d.To = g.End
			how += " until the gate after it saw its services up (event times)"
		} else {
			d.To, d.Open = s.End, true
			how += fmt.Sprintf(" until the step ended at %s before its gate passed: the services may still be down", clock(s.End))
		}
	} else if s.Attempts > 0 {
		return Downtime{}, false // the events show it never got to the command
	}
	d.How, d.Length = how, Duration(d.To.Sub(d.From))
	return d, true
}
