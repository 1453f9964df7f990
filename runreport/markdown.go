package runreport

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/chefha/chefha/internal/termsafe"
	"github.com/chefha/chefha/upgrade"
)

// WriteMarkdown writes the report as Markdown for a change ticket or a
// post-mortem: a summary, the downtime, then every step, gate,
// keepalived transition, finding, backup and known issue. Text that came
// from the cluster (names, messages, errors) is escaped, so it shows as
// written and cannot add links, tables or terminal control sequences.
func (r Report) WriteMarkdown(w io.Writer) error {
	b := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("# %s\n\n", md(r.Title))
	p("| | |\n|---|---|\n")
	phase := md(string(r.Phase))
	if r.Hops > 0 {
		phase += fmt.Sprintf(", %d hop%s", r.Hops, plural(r.Hops))
	}
	p("| Phase | %s |\n| From → to | %s → %s |\n", phase, md(r.From), md(r.To))
	p("| Plan | %s (topology %s) |\n", md(r.PlanHash), md(r.Topology))
	p("| Started | %s |\n| Ended | %s |\n", stamp(r.Started), stamp(r.Ended))
	p("| Took | %s |\n| Outcome | **%s** |\n", exact(r.Duration), md(string(r.Outcome)))
	p("| Source | %s |\n\n", md(r.Source))
	p("Times are UTC. Durations are rounded; exact seconds are in parentheses and in the report's JSON form.\n")
	r.mdOutcome(p)
	r.mdCluster(p)
	r.mdDowntime(p)
	r.mdSteps(p)
	r.mdGates(p)
	r.mdTransitions(p)
	r.mdFindings(p)
	r.mdBackups(p)
	r.mdRehearsal(p)
	r.mdIssues(p)
	if len(r.Notes) > 0 {
		p("\n## Notes\n\n")
		for _, n := range r.Notes {
			p("- %s\n", md(n))
		}
	}
	return b.Flush()
}

type printer func(format string, a ...any)

func (r Report) mdOutcome(p printer) {
	if len(r.Runs) > 1 {
		p("\n## Runs\n\n| run | started | ended | took | outcome | error |\n|---|---|---|---|---|---|\n")
		for i, run := range r.Runs {
			msg := ""
			if run.Error != nil {
				msg = run.Error.Message
			}
			p("| %d | %s | %s | %s | %s | %s |\n", i+1, stamp(run.Started), stamp(run.Ended), run.Duration, md(string(run.Outcome)), md(msg))
		}
	}
	if r.Error == nil {
		return
	}
	p("\n## Why the run ended\n\n")
	if r.Error.Step != "" {
		p("Step %s failed", md(r.Error.Step))
		if r.Error.Node != "" {
			p(" on %s", md(r.Error.Node))
		}
		p(" (%s):\n\n", md(r.Error.Type))
	} else {
		p("The run ended with an error (%s):\n\n", md(r.Error.Type))
	}
	p("%s\n", fenced(r.Error.Message))
	switch r.Outcome {
	case upgrade.OutcomeFailed, upgrade.OutcomeStopped, OutcomeIncomplete:
		// The journal holds every finished step: a resumed run with the
		// same inputs rebuilds the same plan, checks what the journal
		// says against the cluster, and goes on from the first step not
		// done, never repeating one.
		p("\n## How to resume\n\n")
		if r.Error.Step != "" {
			p("1. Fix the cause above on %s (the step's error says what it saw).\n", md(orCluster(r.Error.Node)))
		} else {
			p("1. Fix the cause above.\n")
		}
		p("2. Run the upgrade again with the same inputs, resuming from its journal: the finished steps are checked against the cluster, not run again; the run goes on from %s.\n", md(orFirst(r.Error.Step)))
		p("3. If the cluster cannot be brought forward, restore the backup this report lists, with the same journal kept for the record.\n")
	}
}

func orCluster(node string) string {
	if node == "" {
		return "the cluster"
	}
	return node
}

func orFirst(step string) string {
	if step == "" {
		return "the first step not done"
	}
	return step
}

func (r Report) mdCluster(p printer) {
	p("\n## Cluster\n\n| node | role | steps on it |\n|---|---|---|\n")
	for _, n := range r.Nodes {
		count := 0
		for _, s := range r.Steps {
			for _, sn := range s.Nodes {
				if sn == n.Name {
					count++
				}
			}
		}
		p("| %s | %s | %d |\n", md(n.Name), n.Role, count)
	}
}

func (r Report) mdDowntime(p printer) {
	p("\n## Service downtime\n\n")
	if len(r.Downtime) == 0 {
		p("No service was taken down in the record.\n")
		return
	}
	p("| service | hop | nodes | down from | up at | down for | measured |\n|---|---|---|---|---|---|---|\n")
	for _, d := range r.Downtime {
		up := clock(d.To)
		if d.Open {
			up = "still down at " + up
		}
		p("| %s | %d | %s | %s | %s | %s | %s |\n", md(d.Service), d.Hop, md(r.nodeList(d.Nodes)), clock(d.From), up, exact(d.Length), md(d.How))
	}
}

func (r Report) mdSteps(p printer) {
	p("\n## Steps\n\n| # | step | what | nodes | start | end | took | status |\n|---|---|---|---|---|---|---|---|\n")
	for i, s := range r.Steps {
		status := md(string(s.Status))
		if s.Status == StatusFailed {
			status = "**failed**"
			if s.Node != "" {
				status += " on " + md(s.Node)
			}
		}
		if s.Attempts > 1 {
			status += fmt.Sprintf(" (attempt %d)", s.Attempts)
		}
		start, end, took := clock(s.Start), clock(s.End), s.Duration.String()
		if s.Status == StatusNotRun {
			start, end, took = "—", "—", "—"
		}
		p("| %d | %s | %s | %s | %s | %s | %s | %s |\n", i+1, md(s.ID), md(s.Title), md(r.nodeList(s.Nodes)), start, end, took, status)
	}
	for _, s := range r.Steps {
		shown := r.Error != nil && r.Error.Step == s.ID && r.Error.Message == s.Error // under "Why the run ended"
		if s.Status == StatusFailed && s.Error != "" && !shown {
			p("\nStep %s failed", md(s.ID))
			if s.Node != "" {
				p(" on %s", md(s.Node))
			}
			p(" at %s:\n\n%s\n", clock(s.End), fenced(s.Error))
		}
	}
}

func (r Report) mdGates(p printer) {
	if len(r.Gates) == 0 {
		return
	}
	p("\n## Gates\n\nA gate waits on the cluster's facts (keepalived master and stable for the hold time, services up) instead of sleeping.\n\n")
	p("| # | step | start | waited | polls | result | what it waited for |\n|---|---|---|---|---|---|---|\n")
	for i, g := range r.Gates {
		what := g.Spec
		if g.Retry {
			what = "a stable master on " + g.Master + ", before running the failed command again"
		}
		if len(g.WaitingFor) > 0 {
			what += "; held by: " + abbreviate(g.WaitingFor, 4)
		}
		if g.Note != "" {
			what += " (" + g.Note + ")"
		}
		p("| %d | %s | %s | %s | %d | %s | %s |\n", i+1, md(g.Step), clock(g.Start), g.Waited, g.Polls, g.Result, md(what))
	}
}

func (r Report) mdTransitions(p printer) {
	if len(r.Transitions) == 0 {
		return
	}
	p("\n## Keepalived transitions\n\nAs the gates saw them: a requested state other than the current one, or a current state that changed between polls.\n\n")
	p("| time | step | node | state |\n|---|---|---|---|\n")
	for _, t := range r.Transitions {
		p("| %s | %s | %s | %s |\n", clock(t.Time), md(t.Step), md(t.Node), md(t.Describe()))
	}
}

func (r Report) mdFindings(p printer) {
	if len(r.Findings) == 0 {
		return
	}
	p("\n## Findings\n\n| time | step | node | finding | handled |\n|---|---|---|---|---|\n")
	for _, f := range r.Findings {
		p("| %s | %s | %s | %s | %s |\n", clock(f.Time), md(f.Step), md(f.Node), md(f.Message), md(f.Handled))
	}
}

func (r Report) mdBackups(p printer) {
	p("\n## Backups\n\n")
	if len(r.Backups) == 0 {
		p("The journal records no backup made by the runner.\n")
		return
	}
	p("| hop | node | at | kind | exit | output | checked |\n|---|---|---|---|---|---|---|\n")
	for _, b := range r.Backups {
		out := fmt.Sprintf("%d bytes, not kept", b.OutputBytes)
		if b.Output != "" {
			out = fmt.Sprintf("%d bytes, below", b.OutputBytes)
		}
		checked := "no"
		if b.Checked {
			checked = "yes"
		}
		p("| %d | %s | %s | %s | %d | %s | %s |\n", b.Hop, md(b.Node), stamp(b.At), md(b.Kind), b.ExitCode, out, checked)
	}
	for _, b := range r.Backups {
		if b.Snapshot == "" {
			continue
		}
		p("\nLVM snapshot %s on %s, made with %s. How full it was each time the runner reported it (when made; before a step once half-way to the threshold; when it stopped for it):\n\n", md(b.Snapshot), md(b.Node), mib(b.Size))
		if len(b.Fills) == 0 {
			p("The events hold no report of it.\n")
			continue
		}
		p("| time | step | full | |\n|---|---|---|---|\n")
		for _, f := range b.Fills {
			what := "made in this step"
			switch {
			case f.Stopped:
				what = fmt.Sprintf("**%s: the run stopped before this step** (lvextend, then resume)", md(f.Problem))
			case r.step(f.Step) != nil && r.step(f.Step).Kind != string(upgrade.StepBackup):
				what = "checked before this step"
			}
			p("| %s | %s | %.1f %% | %s |\n", clock(f.Time), md(f.Step), f.Percent, what)
		}
	}
	for _, b := range r.Backups {
		if b.Output != "" {
			p("\nOutput of the backup on %s (kept at the operator's request):\n\n%s\n", md(b.Node), fenced(b.Output))
		}
	}
}

func (r Report) mdIssues(p printer) {
	if len(r.Issues) == 0 {
		return
	}
	p("\n## Known issues the plan works around\n\n| issue | what | steps | what chefha does |\n|---|---|---|---|\n")
	for _, is := range r.Issues {
		p("| %s | %s | %s | %s |\n", md(string(is.ID)), md(is.Title), md(strings.Join(is.Steps, ", ")), md(is.Action))
	}
}

// nodeList is "all 5" for every node, else the names.
func (r Report) nodeList(nodes []string) string {
	if len(nodes) > 1 && len(nodes) == len(r.Nodes) {
		return fmt.Sprintf("all %d", len(nodes))
	}
	return strings.Join(nodes, ", ")
}

// md is text from a node, a file or the runner, safe in a Markdown table cell.
func md(s string) string { return termsafe.MarkdownCell(s) }

// fenced is a code block holding s as written (control characters escaped).
func fenced(s string) string { return termsafe.MarkdownBlock(s, "text") }

func abbreviate(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, "; ")
	}
	return strings.Join(xs[:n], "; ") + fmt.Sprintf("; and %d more", len(xs)-n)
}

// stamp is a full time, UTC.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// exact is a duration rounded, then in seconds.
func exact(d Duration) string { return fmt.Sprintf("%s (%.3f s)", d, d.Seconds()) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
