package upgrade

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/chefha/chefha/internal/termsafe"
	"github.com/chefha/chefha/internal/wrap"
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
//	summary        counts of findings by severity (ok, warn, fail,
//	               skipped) and of the ignored checks' (ignored)
type Report struct {
	Generated   time.Time        `json:"generated"`
	Installed   string           `json:"installed"`
	Target      string           `json:"target"`
	Plan        []PlanHop        `json:"plan"`
	PlanError   string           `json:"plan_error,omitempty"`
	KnownIssues []IssueSummary   `json:"known_issues"`
	Findings    []Finding        `json:"findings"`
	Ignored     []string         `json:"ignored,omitempty"`
	Summary     map[Severity]int `json:"summary"`
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

func (h PlanHop) String() string {
	return termsafe.Line(fmt.Sprintf("%s → %s (migration level %s → %s)", h.From, h.To, h.LevelBefore, h.LevelAfter))
}

// IssueSummary is a known issue as the report prints it.
type IssueSummary struct {
	ID         issue.ID       `json:"id"`
	Title      string         `json:"title"`
	Mitigation MitigationKind `json:"mitigation"`
	Action     string         `json:"action"`
}

// Failed reports whether any check failed (an ignored check's failure
// does not count).
func (r Report) Failed() bool { return r.Summary[Fail] > 0 }

// SummaryIgnored is the Report.Summary key that counts the failures and
// warnings of the checks the operator ignored. It is never a finding's
// severity: an ignored finding keeps its own, and Finding.Ignored says it
// was ignored.
const SummaryIgnored Severity = "ignored"

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// rank orders findings worst first: failures, warnings, what the operator
// ignored, then the checks that passed and those that were skipped.
func rank(f Finding) int {
	switch {
	case f.Ignored:
		return 2
	case f.Severity == Fail:
		return 0
	case f.Severity == Warn:
		return 1
	case f.Severity == OK:
		return 3
	}
	return 4
}

// label is the severity as the text and the table print it.
func (f Finding) label() string {
	if f.Ignored {
		return "IGNORED"
	}
	if f.Severity == Skip {
		return "SKIP"
	}
	return strings.ToUpper(string(f.Severity))
}

// passed reports whether f is a line of the short section: a check that
// passed or had nothing to judge.
func (f Finding) passed() bool { return !f.Ignored && (f.Severity == OK || f.Severity == Skip) }

// WriteTable writes the report as one wide table, one row per finding:
// the plan, the known issues, then the findings worst first (failures
// before anything else) and by node within a severity (cluster-wide
// first), and a summary line. Its lines are as
// long as the findings make them; WriteText fits a terminal instead. Text
// read from nodes, files and flags is escaped for the terminal (termsafe).
func (r Report) WriteTable(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "installed %s, target %s\n", orDash(termsafe.Line(r.Installed)), orDash(termsafe.Line(r.Target)))
	for i, h := range r.Plan {
		fmt.Fprintf(b, "  hop %d: %s\n", i+1, h)
	}
	if r.PlanError != "" {
		fmt.Fprintf(b, "  %s\n", termsafe.Line(r.PlanError))
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
	// Worst first (failures, warnings, ignored, ok, skipped), then by node.
	sort.SliceStable(fs, func(i, j int) bool {
		if rank(fs[i]) != rank(fs[j]) {
			return rank(fs[i]) < rank(fs[j])
		}
		return fs[i].Node < fs[j].Node
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tCHECK\tSEVERITY\tEVIDENCE\tFIX")
	for _, f := range fs {
		node := termsafe.Line(f.Node)
		if node == "" {
			node = "(cluster)"
		}
		check := termsafe.Line(f.Check)
		if f.Issue != "" {
			check += " [" + termsafe.Line(string(f.Issue)) + "]"
		}
		ev := clip(termsafe.Line(strings.Join(f.Evidence, "; ")), 110)
		sev := f.label()
		if f.Ignored {
			sev += " " + strings.ToUpper(string(f.Severity))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", node, check, sev, ev, termsafe.Line(f.Fix))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", r.verdict())
	if len(r.Ignored) > 0 {
		fmt.Fprintf(w, "ignored: %s\n", termsafe.Line(strings.Join(r.Ignored, ", ")))
	}
	return err
}

// verdict is the summary line: the counts and what they mean.
func (r Report) verdict() string {
	v := "safe to upgrade"
	switch {
	case r.Mode == ModePostFlight && r.Failed():
		v = "the cluster runs the target but is NOT healthy: fix the failures above"
	case r.Mode == ModePostFlight && r.Summary[Warn] > 0:
		v = "the cluster runs the target and is healthy once the warnings are handled"
	case r.Mode == ModePostFlight:
		v = "the cluster runs the target and is healthy"
	case r.Failed():
		v = "NOT safe to upgrade: fix the failures above first"
	case r.Summary[Warn] > 0:
		v = "safe to upgrade once the warnings are handled (the runner handles front ends and keepalived itself)"
	}
	counts := fmt.Sprintf("%d ok, %d warn, %d fail", r.Summary[OK], r.Summary[Warn], r.Summary[Fail])
	if n := r.Summary[Skip]; n > 0 {
		counts += fmt.Sprintf(", %d skipped", n)
	}
	if n := r.Summary[SummaryIgnored]; n > 0 {
		counts += fmt.Sprintf(", %d ignored", n)
	}
	return counts + ": " + v
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// DefaultWidth is the width WriteText and the plan's text use when given
// none: a terminal's traditional 80 columns.
const DefaultWidth = 80

// minWidth is the narrowest layout WriteText makes: below it the labels
// leave no room for the text.
const minWidth = 40

// WriteText writes the report to fit a terminal width columns wide (0:
// DefaultWidth): the versions and hops, then each failure and each warning
// as a block — check, nodes, known issue, then its evidence and fix
// wrapped to the width — worst first, findings alike on several nodes
// once; then one short line per check that passed, the known issues of
// the path one line each, and the verdict. No line is wider than width
// (counted in runes). Text read from nodes, files and flags is escaped
// for the terminal (termsafe).
func (r Report) WriteText(w io.Writer, width int) error {
	if width <= 0 {
		width = DefaultWidth
	}
	width = max(width, minWidth)
	b := &strings.Builder{}
	hdr := fmt.Sprintf("installed %s, target %s", orDash(termsafe.Line(r.Installed)), orDash(termsafe.Line(r.Target)))
	if r.Mode == ModePostFlight {
		hdr += " (checked as an upgraded cluster)"
	}
	writeWrapped(b, "", "", hdr, width)
	for i, h := range r.Plan {
		writeWrapped(b, fmt.Sprintf("  hop %d: ", i+1), "         ", h.String(), width)
	}
	if r.PlanError != "" {
		writeWrapped(b, "  ", "  ", termsafe.Line(r.PlanError), width)
	}
	var oks []Finding
	for _, g := range groupFindings(r.Findings) {
		if g.passed() {
			oks = append(oks, g.Finding)
			continue
		}
		b.WriteString("\n")
		g.writeBlock(b, width)
	}
	if len(oks) > 0 {
		b.WriteString("\n")
		n := 0
		for _, f := range oks {
			n = max(n, utf8.RuneCountInString(termsafe.Line(f.Check)))
		}
		for _, f := range oks {
			detail := termsafe.Line(strings.Join(f.Evidence, "; "))
			if f.Node != "" {
				detail = termsafe.Line(f.Node) + ": " + detail
			}
			line := fmt.Sprintf("%-4s  %-*s  %s", strings.ToLower(f.label()), n, termsafe.Line(f.Check), detail)
			b.WriteString(clip(strings.TrimRight(line, " "), width) + "\n")
		}
	}
	if len(r.KnownIssues) > 0 {
		b.WriteString("\n")
		writeWrapped(b, "", "", "known issues on this path (the upgrade's plan says what chefha does about each):", width)
		idw := 0
		for _, k := range r.KnownIssues {
			idw = max(idw, len(termsafe.Line(string(k.ID))))
		}
		for _, k := range r.KnownIssues {
			line := fmt.Sprintf("  %-*s  %-10s  %s", idw, termsafe.Line(string(k.ID)), termsafe.Line(string(k.Mitigation)), termsafe.Line(k.Title))
			b.WriteString(clip(line, width) + "\n")
		}
	}
	b.WriteString("\n")
	writeWrapped(b, "", "", r.verdict(), width)
	if len(r.Ignored) > 0 {
		writeWrapped(b, "ignored: ", "         ", termsafe.Line(strings.Join(r.Ignored, ", ")), width)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// findingGroup is a finding seen alike on several nodes.
type findingGroup struct {
	Finding
	nodes []string
}

// groupFindings orders findings worst first (the checks in runbook order
// within a severity) and folds those that differ only in their node.
func groupFindings(fs []Finding) []findingGroup {
	fs = append([]Finding(nil), fs...)
	sort.SliceStable(fs, func(i, j int) bool { return rank(fs[i]) < rank(fs[j]) })
	var out []findingGroup
	at := map[string]int{}
	for _, f := range fs {
		if f.passed() {
			out = append(out, findingGroup{Finding: f})
			continue
		}
		key := strings.Join(append([]string{f.label(), string(f.Severity), f.Check, string(f.Issue), f.Fix}, f.Evidence...), "\x00")
		if i, ok := at[key]; ok && f.Node != "" && len(out[i].nodes) > 0 {
			out[i].nodes = append(out[i].nodes, f.Node)
			continue
		}
		g := findingGroup{Finding: f}
		if f.Node != "" {
			g.nodes = []string{f.Node}
			at[key] = len(out)
		}
		out = append(out, g)
	}
	return out
}

// writeBlock writes a failure or warning: a head line, then its evidence
// and fix under labels, wrapped to width.
func (g findingGroup) writeBlock(b *strings.Builder, width int) {
	head := termsafe.Line(g.Check)
	if g.Issue != "" {
		head += " [" + termsafe.Line(string(g.Issue)) + "]"
	}
	where := "the cluster"
	if len(g.nodes) > 0 {
		safe := make([]string, len(g.nodes))
		for i, n := range g.nodes {
			safe[i] = termsafe.Line(n)
		}
		where = strings.Join(safe, ", ")
	}
	head += " on " + where
	if g.Ignored {
		head += " (a " + map[Severity]string{Fail: "failure", Warn: "warning"}[g.Severity] + ", ignored)"
	}
	writeWrapped(b, fmt.Sprintf("%-6s", g.label()+" "), "      ", head, width)
	const label = "      evidence  "
	const indent = "                "
	first := label
	for _, ev := range g.Evidence {
		for _, line := range strings.Split(strings.TrimRight(ev, "\n"), "\n") {
			writeWrapped(b, first, indent, termsafe.Line(line), width)
			first = indent
		}
	}
	if g.Fix != "" {
		writeWrapped(b, "      fix       ", indent, termsafe.Line(g.Fix), width)
	}
}

// writeWrapped writes s after first, its continuation lines after rest,
// breaking at spaces so that no line is wider than width runes; a word
// longer than a line is cut.
func writeWrapped(b *strings.Builder, first, rest, s string, width int) {
	prefix := first
	for _, line := range wrap.Lines(s, width-utf8.RuneCountInString(first), width-utf8.RuneCountInString(rest)) {
		b.WriteString(prefix + line + "\n")
		prefix = rest
	}
}

// clip shortens s to at most n runes, ending in … when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
