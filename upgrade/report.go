package upgrade

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/cluster"
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
	Facts       *Facts         `json:"-"`
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
	ID         string         `json:"id"`
	Title      string         `json:"title"`
	Mitigation MitigationKind `json:"mitigation"`
	Action     string         `json:"action"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool { return r.Summary[string(Fail)] > 0 }

// Option tunes Preflight.
type Option func(*options)

type options struct {
	target *semver.Version
	ignore []string
	backup string
	facts  *Facts
}

// WithTarget plans for an upgrade to v.
func WithTarget(v *semver.Version) Option { return func(o *options) { o.target = v } }

// WithIgnore skips checks by name (case-insensitive; "all" skips every
// check that is not mandatory).
func WithIgnore(names ...string) Option {
	return func(o *options) { o.ignore = append(o.ignore, names...) }
}

// WithBackup declares the operator's backup of the bootstrap.
func WithBackup(desc string) Option { return func(o *options) { o.backup = desc } }

// WithFacts checks saved facts instead of reading the cluster.
func WithFacts(f Facts) Option { return func(o *options) { o.facts = &f } }

// IgnoreError is an attempt to ignore a check that cannot be.
type IgnoreError struct{ Names []string }

func (e *IgnoreError) Error() string {
	return "cannot ignore mandatory check(s): " + strings.Join(e.Names, ", ")
}

// Preflight reads every node at once and runs every check: is the cluster
// safe to upgrade, and what exactly will happen. It returns an error only
// when it cannot judge (bad options); problems with the cluster, down to
// an unreachable node, are findings in the report.
func Preflight(ctx context.Context, c *cluster.Cluster, opts ...Option) (Report, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	ignored, err := resolveIgnore(o.ignore)
	if err != nil {
		return Report{}, err
	}
	var facts Facts
	if o.facts != nil {
		facts = *o.facts
	} else {
		if c == nil {
			return Report{}, fmt.Errorf("preflight: no cluster and no facts")
		}
		facts = Gather(ctx, c)
	}
	return judge(facts, o.target, o.backup, ignored), nil
}

func resolveIgnore(names []string) (map[string]bool, error) {
	out := map[string]bool{}
	var refused []string
	known := map[string]Check{}
	for _, c := range Checks() {
		known[strings.ToLower(c.Name())] = c
	}
	for _, raw := range names {
		n := strings.ToLower(strings.TrimSpace(raw))
		if n == "" {
			continue
		}
		if n == "all" {
			for name, c := range known {
				if !c.Mandatory() {
					out[name] = true
				}
			}
			continue
		}
		c, ok := known[n]
		if !ok {
			return nil, fmt.Errorf("no check named %q (see -h for the list)", raw)
		}
		if c.Mandatory() {
			refused = append(refused, c.Name())
			continue
		}
		out[n] = true
	}
	if len(refused) > 0 {
		return nil, &IgnoreError{Names: refused}
	}
	return out, nil
}

// judge runs the checks over facts: Preflight without the reading.
func judge(facts Facts, target *semver.Version, backup string, ignored map[string]bool) Report {
	in := Input{Facts: facts, Target: target, Backup: backup}
	r := Report{Generated: facts.Gathered, Summary: map[string]int{string(OK): 0, string(Warn): 0, string(Fail): 0}, Facts: &facts}
	if target != nil {
		r.Target = target.String()
	}
	from, _ := installedVersion(in)
	if from != nil {
		r.Installed = from.String()
	}
	if from != nil && target != nil {
		hops, err := PlanHops(from, target)
		for _, h := range hops {
			r.Plan = append(r.Plan, PlanHop{From: h.From.String(), To: h.To.String(), LevelBefore: h.LevelBefore.String(), LevelAfter: h.LevelAfter.String()})
		}
		if err != nil {
			r.PlanError = err.Error()
		}
		for _, k := range KnownIssuesFor(from, target) {
			r.KnownIssues = append(r.KnownIssues, IssueSummary{ID: k.ID, Title: k.Title, Mitigation: k.Mitigation, Action: k.Action})
		}
	}
	for _, c := range Checks() {
		if ignored[strings.ToLower(c.Name())] {
			r.Ignored = append(r.Ignored, c.Name())
			continue
		}
		for _, f := range c.Check(in) {
			r.Findings = append(r.Findings, f)
			r.Summary[string(f.Severity)]++
		}
	}
	return r
}

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
			check += " [" + f.Issue + "]"
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
