package upgrade

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chefha/chefha/issue"
)

// Report is the outcome of Preflight. Its JSON field names are stable:
//
//	generated      RFC 3339 time the facts were read
//	installed      the version the nodes run ("" if unknown)
//	target         the version asked for ("" if none)
//	plan           the hops: from, to, level_before, level_after
//	plan_error     why no plan could be made, if so
//	known_issues   id, title, mitigation, action of the issues that apply
//	findings       check, severity (ok|warn|fail), node, evidence, fix, issue
//	ignored        the checks skipped by name
//	summary        counts of ok, warn and fail findings
type Report struct {
	Generated   time.Time      `json:"generated"`
	Installed   string         `json:"installed"`
	Target      string         `json:"target"`
	Plan        []PlanHop      `json:"plan"`
	PlanError   string         `json:"plan_error,omitempty"`
	KnownIssues []IssueSummary `json:"known_issues"`
	Findings    []Finding      `json:"findings"`
	Ignored     []string       `json:"ignored,omitempty"`
	Summary     map[string]int `json:"summary"`
	// Mode is what the checks expected: pre-upgrade or post-upgrade.
	Mode  Mode   `json:"mode"`
	Facts *Facts `json:"-"`
}

// PlanHop is a Hop as the report prints it.
type PlanHop struct {
	From        string `json:"from"`
	To          string `json:"to"`
	LevelBefore string `json:"level_before"`
	LevelAfter  string `json:"level_after"`
}

// IssueSummary is a known issue as the report prints it.
type IssueSummary struct {
	ID         issue.ID       `json:"id"`
	Title      string         `json:"title"`
	Mitigation MitigationKind `json:"mitigation"`
	Action     string         `json:"action"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool { return r.Summary[string(Fail)] > 0 }

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

var severityOrder = map[Severity]int{Fail: 0, Warn: 1, OK: 2}

// WriteTable writes the report for a terminal: the plan, the known issues,
// then the findings grouped by node (cluster-wide first), worst first, and
// a summary line.
func (r Report) WriteTable(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "installed %s, target %s\n", orDash(r.Installed), orDash(r.Target))
	for i, h := range r.Plan {
		fmt.Fprintf(b, "  hop %d: %s → %s (migration level %s → %s)\n", i+1, h.From, h.To, h.LevelBefore, h.LevelAfter)
	}
	if r.PlanError != "" {
		fmt.Fprintf(b, "  %s\n", r.PlanError)
	}
	if len(r.KnownIssues) > 0 {
		fmt.Fprintf(b, "\nknown issues on this path:\n")
		for _, k := range r.KnownIssues {
			fmt.Fprintf(b, "  %s  %s\n           → %s: %s\n", k.ID, k.Title, k.Mitigation, k.Action)
		}
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	fs := append([]Finding(nil), r.Findings...)
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Node != fs[j].Node {
			return fs[i].Node < fs[j].Node
		}
		return severityOrder[fs[i].Severity] < severityOrder[fs[j].Severity]
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tCHECK\tSEVERITY\tEVIDENCE\tFIX")
	for _, f := range fs {
		node := f.Node
		if node == "" {
			node = "(cluster)"
		}
		check := f.Check
		if f.Issue != "" {
			check += " [" + string(f.Issue) + "]"
		}
		ev := strings.Join(f.Evidence, "; ")
		if len(ev) > 110 {
			ev = ev[:110] + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", node, check, strings.ToUpper(string(f.Severity)), ev, f.Fix)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "safe to upgrade"
	if r.Failed() {
		verdict = "NOT safe to upgrade: fix the failures above first"
	} else if r.Summary[string(Warn)] > 0 {
		verdict = "safe to upgrade once the warnings are handled (the runner handles front ends and keepalived itself)"
	}
	_, err := fmt.Fprintf(w, "\n%d ok, %d warn, %d fail: %s\n", r.Summary[string(OK)], r.Summary[string(Warn)], r.Summary[string(Fail)], verdict)
	if len(r.Ignored) > 0 {
		fmt.Fprintf(w, "ignored: %s\n", strings.Join(r.Ignored, ", "))
	}
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
