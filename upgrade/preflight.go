package upgrade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/chefha/chefha/cluster"
)

// IgnoreError is an attempt to ignore a check that cannot be.
type IgnoreError struct{ Names []string }

func (e *IgnoreError) Error() string {
	return "cannot ignore mandatory check(s): " + strings.Join(e.Names, ", ")
}

// UnknownCheckError names a check that does not exist.
type UnknownCheckError struct{ Name string }

func (e *UnknownCheckError) Error() string {
	return fmt.Sprintf("no check named %q (Checks lists them)", e.Name)
}

// Preflight reads every node at once and runs every check: is the cluster
// safe to upgrade, and what exactly will happen. On a cluster that already
// runs the target it checks what an upgraded cluster should look like (the
// post-flight), unless WithMode says otherwise. It returns an error only
// when it cannot judge (bad options); problems with the cluster, down to an
// unreachable node, are findings in the report.
func Preflight(ctx context.Context, c *cluster.Cluster, opts ...Option) (Report, error) {
	o := buildOptions(opts)
	if o.targetErr != nil {
		return Report{}, o.targetErr
	}
	ignored, err := resolveIgnore(o.ignore)
	if err != nil {
		return Report{}, err
	}
	var facts Facts
	switch {
	case o.facts != nil:
		facts = *o.facts
	case c == nil:
		return Report{}, errors.New("preflight: no cluster and no facts")
	default:
		facts = gather(ctx, c, o)
	}
	return judge(newInput(facts, o.target, o.backup, o.mode), ignored), nil
}

// Postflight is Preflight in post-upgrade mode: what the runner's verify
// step checks after every hop.
func Postflight(ctx context.Context, c *cluster.Cluster, opts ...Option) (Report, error) {
	return Preflight(ctx, c, append(opts, WithMode(ModePostFlight))...)
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
			return nil, &UnknownCheckError{Name: raw}
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

// judge runs the checks that apply to the input's mode.
func judge(in Input, ignored map[string]bool) Report {
	facts := in.Facts
	r := Report{Generated: facts.Gathered, Mode: in.Mode, Summary: map[Severity]int{OK: 0, Skip: 0, Warn: 0, Fail: 0, SummaryIgnored: 0}, Facts: &facts}
	if in.Target != nil {
		r.Target = in.Target.String()
	}
	from, _ := installedVersion(in)
	if from != nil {
		r.Installed = from.String()
	}
	if from != nil && in.Target != nil {
		hops, err := PlanHops(from, in.Target)
		for _, h := range hops {
			r.Plan = append(r.Plan, PlanHop{From: h.From.String(), To: h.To.String(), LevelBefore: h.LevelBefore.String(), LevelAfter: h.LevelAfter.String()})
		}
		if err != nil {
			r.PlanError = err.Error()
		}
		for _, k := range KnownIssuesFor(from, in.Target) {
			r.KnownIssues = append(r.KnownIssues, IssueSummary{ID: k.ID, Title: k.Title, Mitigation: k.Mitigation, Action: k.Action})
		}
	}
	for _, c := range Checks() {
		if !c.Applies(in.Mode) {
			continue
		}
		ign := ignored[strings.ToLower(c.Name())]
		if ign {
			r.Ignored = append(r.Ignored, c.Name())
		}
		// An ignored check still runs: what it finds stays in the report,
		// marked, as kubeadm keeps ignored errors as warnings.
		for _, f := range runCheck(c, in) {
			if ign && (f.Severity == Fail || f.Severity == Warn) {
				f.Ignored = true
				r.Summary[SummaryIgnored]++
			} else {
				r.Summary[f.Severity]++
			}
			r.Findings = append(r.Findings, f)
		}
	}
	return r
}

// FactsError is saved facts that do not describe a cluster chefha can judge.
type FactsError struct{ Msg string }

func (e *FactsError) Error() string { return "facts: " + e.Msg }

// LoadFacts reads facts saved by Facts.Save and checks that they hold
// together: at least one node, an HA topology's one bootstrap, and the
// same servers in the topology as in the nodes' facts.
func LoadFacts(r io.Reader) (Facts, error) {
	var f Facts
	dec := json.NewDecoder(r)
	if err := dec.Decode(&f); err != nil {
		return Facts{}, fmt.Errorf("facts: %w", err)
	}
	return f, f.Validate()
}

// Validate checks that facts hold together (LoadFacts calls it).
func (f Facts) Validate() error {
	if len(f.Nodes) == 0 {
		return &FactsError{"no node was read (the file holds no nodes)"}
	}
	if f.Topology.Kind == cluster.TopologyHA {
		boots := 0
		for _, s := range f.Topology.Servers {
			if s.Bootstrap {
				boots++
			}
		}
		if boots != 1 || len(f.Topology.Backends()) != 2 {
			return &FactsError{fmt.Sprintf("an HA topology has two back ends, one of them the bootstrap; these facts have %d back ends and %d bootstraps", len(f.Topology.Backends()), boots)}
		}
	}
	seen := map[string]bool{}
	for _, n := range f.Nodes {
		s, ok := f.Topology.Server(n.Node)
		switch {
		case seen[n.Node]:
			return &FactsError{fmt.Sprintf("node %q is read twice", n.Node)}
		case !ok:
			return &FactsError{fmt.Sprintf("node %q is not a server of the topology", n.Node)}
		case s.Role != n.Role || s.Bootstrap != n.Bootstrap:
			return &FactsError{fmt.Sprintf("node %q has role %s (bootstrap %v) in its facts, %s (bootstrap %v) in the topology", n.Node, n.Role, n.Bootstrap, s.Role, s.Bootstrap)}
		}
		seen[n.Node] = true
	}
	for _, s := range f.Topology.Servers {
		if !seen[s.Name] {
			return &FactsError{fmt.Sprintf("server %q of the topology has no facts", s.Name)}
		}
	}
	return nil
}
