package runreport

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chefha/chefha/upgrade"
)

// Build makes the report of a run from its journal record and, when they
// were kept, its events (nil for a report from the journal alone). The
// journal gives the plan, the finished steps with their times and the
// backups; the events add the steps that failed or never finished, the
// actions on each node, the gates' waits, the keepalived transitions, the
// findings and the outcome. Events of several runs (a resumed upgrade)
// are read in order; the last attempt of a step is the one reported.
func Build(rec upgrade.Record, events []upgrade.Event) Report {
	r := Report{Phase: rec.Plan.Phase, From: rec.Plan.From, To: rec.Plan.To,
		PlanHash: rec.PlanHash, Topology: rec.Plan.Topology, Started: rec.Started, Ended: rec.Updated}
	if r.PlanHash == "" && len(rec.Plan.Steps) > 0 {
		r.PlanHash = rec.Plan.Hash()
	}
	hops := map[int]bool{}
	for _, s := range rec.Plan.Steps {
		if s.Hop > 0 {
			hops[s.Hop] = true
		}
		st := Step{ID: s.ID, Hop: s.Hop, Kind: string(s.Kind), Category: categoryOf(s.Kind), Title: s.Title,
			Nodes: s.Nodes, Issues: s.Issues, Status: StatusNotRun}
		if sr, ok := rec.Steps[s.ID]; ok {
			st.Status = StatusDone
			if sr.Found {
				st.Status = StatusAlreadyDone
			}
			st.End, st.Duration = sr.Finished, Duration(sr.Took)
			st.Start = sr.Finished.Add(-sr.Took)
		}
		r.Steps = append(r.Steps, st)
	}
	r.Hops = len(hops)
	r.Nodes = nodesOf(rec.Plan.Steps)
	r.Issues = issuesOf(rec.Plan.Steps)
	switch {
	case len(rec.Plan.Steps) > 0 && len(events) > 0 && rec.Started.IsZero() && len(rec.Steps) == 0:
		r.Source = "the runner's events and its plan (no journal)"
	case len(rec.Plan.Steps) > 0 && len(events) > 0:
		r.Source = "the runner's events and the journal"
	case len(events) > 0:
		r.Source = "the runner's events (no journal was written)"
	default:
		r.Source = "the journal alone (finished steps only: no gates, findings or failures)"
	}
	if len(events) > 0 {
		r.applyEvents(rec, events)
	} else if rec.Finished() {
		r.Outcome = upgrade.OutcomeDone
	} else {
		r.Outcome = OutcomeIncomplete
	}
	for _, b := range rec.Backups {
		done := false
		for _, s := range r.Steps {
			if s.Kind == string(upgrade.StepBackup) && s.Hop == b.Hop {
				done = s.Status != StatusNotRun && s.Status != StatusFailed && s.Status != StatusUnfinished
			}
		}
		r.Backups = append(r.Backups, Backup{Hop: b.Hop, Node: b.Node, At: b.At, Kind: b.Kind, ExitCode: b.ExitCode,
			OutputBytes: b.Bytes, Output: b.Output, Checked: done && b.ExitCode == 0, Snapshot: b.Snapshot, Size: b.Size})
	}
	r.snapshotFills(events)
	for i := range r.Findings {
		r.Findings[i].Handled = r.handled(r.Findings[i])
	}
	r.Downtime = r.downtime()
	if !r.Started.IsZero() && r.Ended.After(r.Started) {
		r.Duration = Duration(r.Ended.Sub(r.Started))
	}
	r.Title = r.title()
	return r
}

func (r *Report) title() string {
	what := "chefha " + string(r.Phase)
	if r.Phase == "" {
		what = "chefha run"
	}
	if r.DryRun {
		what += " (dry run)"
	}
	if r.From != "" || r.To != "" {
		what += " " + r.From + " → " + r.To
	}
	return what + ": " + string(r.Outcome)
}

// nodesOf reads the cluster's nodes and their roles off the plan's steps.
func nodesOf(steps []upgrade.Step) []Node {
	roles := map[string]Role{}
	var order []string
	see := func(name string, role Role) {
		if _, ok := roles[name]; !ok {
			order = append(order, name)
		}
		if role != RoleUnknown {
			roles[name] = role
		} else if _, ok := roles[name]; !ok {
			roles[name] = RoleUnknown
		}
	}
	for _, s := range steps {
		role := RoleUnknown
		switch s.Kind {
		case upgrade.StepUpgradeBootstrap, upgrade.StepReconfigureBoot:
			role = RoleBootstrap
		case upgrade.StepUpgradeSecondary:
			role = RoleSecondary
		case upgrade.StepUpgradeFrontend, upgrade.StepStopFrontends:
			role = RoleFrontend
		}
		for _, n := range s.Nodes {
			see(n, role)
		}
	}
	rank := map[Role]int{RoleBootstrap: 0, RoleSecondary: 1, RoleFrontend: 2, RoleUnknown: 3}
	out := make([]Node, 0, len(order))
	for _, n := range order {
		out = append(out, Node{Name: n, Role: roles[n]})
	}
	slices.SortStableFunc(out, func(a, b Node) int { return rank[a.Role] - rank[b.Role] })
	return out
}

// issuesOf lists the known issues the plan's steps mitigate, with what
// chefha does about each (upgrade.LookupIssue).
func issuesOf(steps []upgrade.Step) []Issue {
	var out []Issue
	at := map[string]int{}
	for _, s := range steps {
		for _, id := range s.Issues {
			i, ok := at[string(id)]
			if !ok {
				k, _ := upgrade.LookupIssue(id)
				i = len(out)
				at[string(id)] = i
				out = append(out, Issue{ID: id, Title: k.Title, Mitigation: string(k.Mitigation), Action: k.Action})
			}
			out[i].Steps = append(out[i].Steps, s.ID)
		}
	}
	slices.SortStableFunc(out, func(a, b Issue) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out
}

// handled says what came of a finding: how its step ended.
func (r *Report) handled(f Finding) string {
	if f.Step == "" {
		return "noted; the run went on"
	}
	s := r.step(f.Step)
	if s == nil {
		return "noted"
	}
	switch s.Status {
	case StatusDone, StatusDoneEarlier:
		return fmt.Sprintf("the step went on and finished at %s", clock(s.End))
	case StatusFailed:
		return "the step failed: see its error"
	case StatusUnfinished:
		return "the run ended before the step finished"
	}
	return "noted"
}

func (r *Report) step(id string) *Step {
	if i := r.stepIndex(id); i >= 0 {
		return &r.Steps[i]
	}
	return nil
}

func (r *Report) stepIndex(id string) int {
	return slices.IndexFunc(r.Steps, func(s Step) bool { return s.ID == id })
}

// clock is a time as the report shows it: UTC, to the second.
func clock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("15:04:05")
}

// stepKindOf reads the kind off a step id ("hop1/upgrade-frontend/fe1"),
// for steps the events name and no plan lists.
func stepKindOf(id string) upgrade.StepKind {
	parts := strings.Split(id, "/")
	if len(parts) < 2 {
		return ""
	}
	return upgrade.StepKind(parts[1])
}
