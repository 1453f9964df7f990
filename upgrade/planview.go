package upgrade

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/issue"
	"github.com/chefha/chefha/migration"
)

// PlanViewFormat names the JSON schema of PlanView. It changes only when a
// field changes meaning; fields may be added within a format.
const PlanViewFormat = "chefha.plan-view/1"

// PlanView is a plan as the operator reads it before running it, like
// kubeadm's `upgrade plan`: each node's versions and migration levels now
// and after, the known issues that bite on the path and what chefha does
// about each, when the service stops, and the steps. DescribePlan makes
// one; WriteText, WriteMarkdown and WriteJSON print it.
//
// Its JSON (WriteJSON, one object on one line) is a stable schema:
//
//	format          "chefha.plan-view/1" (PlanViewFormat)
//	phase           "upgrade" or "cleanup"
//	from, to        the version the cluster runs and the target
//	plan            the plan's hash: a journal is resumed only by the same plan
//	hops[]          from, to, level_before, level_after: one package upgrade
//	                of the whole cluster each
//	packages[]      family ("debian"|"rhel"), version, file (base name),
//	                sha256, size: the package files the plan installs
//	nodes[]         node, role ("backend"|"frontend"), bootstrap (bool),
//	                installed ("" when unread), target, level_now ("" when
//	                unreadable), level_after, problem (why a value is
//	                missing; omitted when none)
//	known_issues[]  id (e.g. OC-11297), title, mitigation (check|gate|svwait|
//	                workaround|verify|manual), action (what chefha does),
//	                steps (ids of the steps that carry it out; may be empty)
//	outages[]       hop, kind, nodes, from_step, until_step, effect: the
//	                stops of service, in plan order. kind is "frontends"
//	                (the Chef API is down), "bootstrap" (the data services
//	                restart or stop), "failover" (no standby to fail over
//	                to) or "runit-recovery" (services stopped on the nodes
//	                whose supervision is recovered); measured_s, how long
//	                the plan's rehearsal found it to last (omitted when
//	                not rehearsed)
//	steps[]         id, hop, kind, title, nodes, issues, waits: the plan's
//	                steps in order (Step without its per-hop copies)
//	next            the command to run next, when the caller set it
//
// Strings are exactly as read from the nodes and the files: escape them
// before showing them on a terminal (WriteText and WriteMarkdown do).
type PlanView struct {
	Format   string         `json:"format"`
	Phase    Phase          `json:"phase"`
	From     string         `json:"from"`
	To       string         `json:"to"`
	Plan     string         `json:"plan"`
	Hops     []PlanHop      `json:"hops"`
	Packages []PackageRef   `json:"packages"`
	Nodes    []PlanNode     `json:"nodes"`
	Issues   []PlanIssue    `json:"known_issues"`
	Outages  []PlanOutage   `json:"outages"`
	Steps    []PlanViewStep `json:"steps"`
	// Warnings are what a run of this plan would refuse or regret, said
	// before it runs (no backup declared).
	Warnings []string `json:"warnings,omitempty"`
	Next     string   `json:"next,omitempty"`
}

// PlanNode is one node in a PlanView: what it runs now and after.
type PlanNode struct {
	Node       string `json:"node"`
	Role       string `json:"role"`
	Bootstrap  bool   `json:"bootstrap"`
	Installed  string `json:"installed"`
	Target     string `json:"target"`
	LevelNow   string `json:"level_now"`
	LevelAfter string `json:"level_after"`
	Problem    string `json:"problem,omitempty"`
}

// PlanIssue is a known issue that bites on the plan's path.
type PlanIssue struct {
	ID         issue.ID       `json:"id"`
	Title      string         `json:"title"`
	Mitigation MitigationKind `json:"mitigation"`
	Action     string         `json:"action"`
	Steps      []string       `json:"steps"`
}

// OutageKind says what a stop of service stops.
type OutageKind string

const (
	OutageFrontends     OutageKind = "frontends"      // the front ends are stopped: the Chef API is down
	OutageBootstrap     OutageKind = "bootstrap"      // the bootstrap's data services restart or stop
	OutageFailover      OutageKind = "failover"       // keepalived is stopped on the standby: no failover
	OutageRunitRecovery OutageKind = "runit-recovery" // services stopped while runsvdir is recovered
)

// PlanOutage is an expected stop of service: from the start of one step
// to the end of another.
type PlanOutage struct {
	Hop       int        `json:"hop"`
	Kind      OutageKind `json:"kind"`
	Nodes     []string   `json:"nodes"`
	FromStep  string     `json:"from_step"`
	UntilStep string     `json:"until_step"`
	Effect    string     `json:"effect"`
	// Measured is how long the plan's rehearsal found it to last (zero:
	// not rehearsed); see WithRehearsal.
	Measured time.Duration `json:"-"`
}

// MarshalJSON writes Measured as measured_s, in seconds.
func (o PlanOutage) MarshalJSON() ([]byte, error) {
	type plain PlanOutage
	return json.Marshal(struct {
		plain
		Measured float64 `json:"measured_s,omitempty"`
	}{plain(o), o.Measured.Seconds()})
}

// WithRehearsal adds to v how long its stops of service lasted in r, a
// rehearsal of the same plan; a rehearsal of another plan adds nothing.
func (v PlanView) WithRehearsal(r Rehearsal) PlanView {
	if r.PlanHash != v.Plan {
		return v
	}
	v.Outages = append([]PlanOutage{}, v.Outages...)
	for i, o := range v.Outages {
		for _, m := range r.Outages {
			if m.Hop == o.Hop && m.Kind == o.Kind {
				v.Outages[i].Measured = m.Took
			}
		}
	}
	return v
}

// PlanViewStep is a step as the plan's reader sees it.
type PlanViewStep struct {
	ID     string     `json:"id"`
	Hop    int        `json:"hop"`
	Kind   StepKind   `json:"kind"`
	Title  string     `json:"title"`
	Nodes  []string   `json:"nodes,omitempty"`
	Issues []issue.ID `json:"issues,omitempty"`
	Waits  []string   `json:"waits,omitempty"`
}

// DescribePlan explains p for the operator, with each node's state now
// from f (the facts the plan was built from, or fresher ones). It reads
// nothing and changes nothing.
func DescribePlan(p Plan, f Facts) PlanView {
	v := PlanView{Format: PlanViewFormat, Phase: p.Phase, From: p.From, To: p.To, Plan: p.Hash(),
		Packages: append([]PackageRef{}, p.Inputs.Packages...), Hops: []PlanHop{}, Nodes: []PlanNode{},
		Issues: []PlanIssue{}, Outages: []PlanOutage{}, Steps: []PlanViewStep{}}
	if p.Inputs.Backup == backupNone {
		v.Warnings = append(v.Warnings, "no backup declared: a run of this plan refuses to start until the bootstrap's backup is declared "+
			"(a command that makes it and one that checks it, an LVM snapshot chefha makes, or a waiver with its reason)")
	}
	levelAfter := ""
	seenHop := map[int]bool{}
	for _, s := range p.Steps {
		if s.Hop > 0 && !seenHop[s.Hop] {
			seenHop[s.Hop] = true
			v.Hops = append(v.Hops, PlanHop{From: s.From, To: s.Target, LevelBefore: s.LevelBefore, LevelAfter: s.Level})
		}
		levelAfter = s.Level
		v.Steps = append(v.Steps, PlanViewStep{ID: s.ID, Hop: s.Hop, Kind: s.Kind, Title: s.Title, Nodes: s.Nodes, Issues: s.Issues, Waits: s.Waits})
	}
	for _, s := range f.Topology.Servers {
		n := PlanNode{Node: s.Name, Role: s.Role, Bootstrap: s.Bootstrap, Target: p.To, LevelAfter: levelAfter}
		nf, ok := f.Node(s.Name)
		switch {
		case !ok:
			n.Problem = "not read"
		case nf.Err != "":
			n.Problem = nf.Err
		default:
			var problems []string
			if ver, err := nf.Version(); err == nil {
				n.Installed = ver
			} else {
				problems = append(problems, err.Error())
			}
			if l, err := nf.Level(); err == nil {
				n.LevelNow = l.String()
			} else {
				problems = append(problems, "migration level: "+err.Error())
			}
			n.Problem = strings.Join(problems, "; ")
		}
		v.Nodes = append(v.Nodes, n)
	}
	v.Issues = planIssues(p)
	v.Outages = planOutages(p, f.Topology)
	at := map[string]int{}
	for i, s := range p.Steps {
		at[s.ID] = i
	}
	sort.SliceStable(v.Outages, func(i, j int) bool { return at[v.Outages[i].FromStep] < at[v.Outages[j].FromStep] })
	return v
}

// planIssues are the known issues of the plan's path, with the steps that
// deal with each.
func planIssues(p Plan) []PlanIssue {
	out := []PlanIssue{}
	from, err1 := migration.ParseVersion(p.From)
	to, err2 := migration.ParseVersion(p.To)
	if err1 != nil || err2 != nil || p.Phase == PhaseCleanup {
		return out
	}
	steps := map[issue.ID][]string{}
	for _, s := range p.Steps {
		for _, id := range s.Issues {
			steps[id] = append(steps[id], s.ID)
		}
	}
	for _, k := range KnownIssuesFor(from, to) {
		out = append(out, PlanIssue{ID: k.ID, Title: k.Title, Mitigation: k.Mitigation, Action: k.Action, Steps: append([]string{}, steps[k.ID]...)})
	}
	return out
}

// planOutages works out, hop by hop, which steps stop what.
func planOutages(p Plan, t cluster.Topology) []PlanOutage {
	out := []PlanOutage{}
	boot, _ := t.Bootstrap()
	byHop := map[int]map[StepKind]Step{}
	var hops []int
	for _, s := range p.Steps {
		if byHop[s.Hop] == nil {
			byHop[s.Hop] = map[StepKind]Step{}
			hops = append(hops, s.Hop)
		}
		if _, dup := byHop[s.Hop][s.Kind]; !dup || s.Kind == StepUpgradeFrontend {
			byHop[s.Hop][s.Kind] = s // the last front end's upgrade: the front ends are back only after it
		}
	}
	for _, h := range hops {
		k := byHop[h]
		until := func(kinds ...StepKind) string {
			for _, kind := range kinds {
				if s, ok := k[kind]; ok {
					return s.ID
				}
			}
			return ""
		}
		if s, ok := k[StepRecoverRunit]; ok {
			out = append(out, PlanOutage{Hop: h, Kind: OutageRunitRecovery, Nodes: s.Nodes, FromStep: s.ID, UntilStep: s.ID,
				Effect: "on each node whose runit is unhealthy, every service stops while runsvdir is restarted"})
		}
		if s, ok := k[StepStopKeepalived]; ok {
			sec, _ := t.Secondary()
			out = append(out, PlanOutage{Hop: h, Kind: OutageFailover, Nodes: []string{sec.Name}, FromStep: s.ID,
				UntilStep: until(StepStartAll, StepUpgradeSecondary),
				Effect:    "keepalived is stopped on the standby: if the bootstrap fails meanwhile, nothing fails over"})
		}
		if s, ok := k[StepStopFrontends]; ok {
			out = append(out, PlanOutage{Hop: h, Kind: OutageFrontends, Nodes: s.Nodes, FromStep: s.ID,
				UntilStep: until(StepStartAll, StepUpgradeFrontend),
				Effect:    "the front ends are stopped: the Chef API is down (chef-client runs, knife and the web UI fail)"})
		}
		from := until(StepReconfigureBoot, StepUpgradeBootstrap)
		if from != "" {
			out = append(out, PlanOutage{Hop: h, Kind: OutageBootstrap, Nodes: []string{boot.Name}, FromStep: from,
				UntilStep: until(StepUpgradeBootstrap, StepReconfigureBoot),
				Effect:    "the bootstrap's services restart with its reconfigure and stop for the upgrade's migrations (the front ends are already down)"})
		}
	}
	return out
}
