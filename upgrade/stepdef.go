package upgrade

import (
	"fmt"
	"slices"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/packaging"
	"github.com/chefha/chefha/issue"
	"github.com/chefha/chefha/runit"
)

// stepDef is one step of the runbook: what it is, when it applies, and how
// its work and its result are read off the cluster. Like kubeadm's phases,
// a step's condition sits beside its action.
type stepDef struct {
	kind  StepKind
	title func(*hopCtx) string
	// ids are the known issues the step mitigates; only those that bite
	// on the hop are kept.
	ids []issue.ID
	// when says whether the step applies to the hop (nil: always).
	when func(*hopCtx) bool
	// nodes are the nodes the step acts on; perNode makes one step each.
	nodes   func(*hopCtx) []string
	perNode bool
	waits   string
	// remedy lists the pre-flight failures the step fixes, by check and
	// symptom (nil symptoms: any): those do not block the plan.
	remedy remedies
	// run works out the step's actions from the facts at its turn, so a
	// step that was half done is finished, not repeated.
	run func(*stepRun) ([]Action, error)
	// done is the step's observable postcondition ("" reason when it holds).
	// nil: the step's effect cannot be seen on the cluster (a reconfigure,
	// a check); it is then trusted once recorded and run otherwise.
	done func(*stepRun) (bool, string)
	// verify, if set, is what a recorded step is checked against instead
	// of done: the part of the effect that lasts (keepalived stopped on the
	// standby lasts; the bootstrap being a settled master does not, a
	// reconfigure makes it transition on purpose).
	verify func(*stepRun) (bool, string)
	// skipWhenDone skips a step whose effect is already in place though it
	// was never recorded (a crash after its work and before the journal).
	skipWhenDone bool
	// undoneBy are later steps that undo this one's effect on purpose (the
	// upgrades and the start at the end of a hop undo the stops at its
	// beginning): once one of them ran, the effect is no longer checked.
	undoneBy []StepKind
}

// remedies maps a check to the symptoms a step remedies (nil: all).
type remedies map[string][]string

// doneOn is d.done judged on facts actually read: a step one of whose
// nodes could not be read is not done, whatever the others show (a resume
// after reads timed out called such a step "already done").
func (d stepDef) doneOn(sr *stepRun) (bool, string) {
	if d.done == nil {
		return false, ""
	}
	for _, node := range sr.step.Nodes {
		if n, ok := sr.in.Facts.Node(node); !ok || n.Err != "" {
			return false, node + " could not be read: whether the step is done cannot be told"
		}
	}
	return d.done(sr)
}

func (d stepDef) remedies(f Finding, o options) bool {
	syms, ok := d.remedy[f.Check]
	return ok && (syms == nil || slices.Contains(syms, f.Symptom))
}

// hopCtx is what a step of one hop is built from.
type hopCtx struct {
	index            int // 1-based; 0 in the cleanup phase
	hop              Hop
	from, to         string
	o                options
	topology         cluster.Topology
	boot, sec        string
	fes, all, others []string
	families         map[string]string
	pkgs             map[string]map[string]packageFile
	issues           []KnownIssue
	node             string // the node of a per-node step
	last             bool   // the plan's last hop
}

func newHopCtx(t cluster.Topology, index int, h Hop, o options, families map[string]string, pkgs map[string]map[string]packageFile) *hopCtx {
	c := &hopCtx{index: index, hop: h, from: h.From.String(), to: h.To.String(), o: o, topology: t,
		families: families, pkgs: pkgs, issues: KnownIssuesFor(h.From, h.To)}
	boot, _ := t.Bootstrap()
	sec, _ := t.Secondary()
	c.boot, c.sec = boot.Name, sec.Name
	for _, s := range t.Servers {
		c.all = append(c.all, s.Name)
		if s.Name != c.boot {
			c.others = append(c.others, s.Name)
		}
	}
	for _, s := range t.Frontends() {
		c.fes = append(c.fes, s.Name)
	}
	return c
}

// has reports whether a known issue bites on the hop.
func (c *hopCtx) has(id issue.ID) bool {
	for _, k := range c.issues {
		if k.ID == id {
			return true
		}
	}
	return false
}

// toEC11 reports a hop onto Enterprise Chef 11, where log dirs belong to opscode.
func (c *hopCtx) toEC11() bool { return c.hop.To.Major() == 11 }

// logOwnership gives /var/log/opscode's tree to opscode before an EC 11
// reconfigure or upgrade: its svlogd runs as opscode and cannot rotate the
// files 1.x's root svlogd left (OC-11426, the runbook's Example's chown).
// Where the target's recipes leave the directory itself alone (before
// 11.1.3, recipes/default.rb) it stays root's, as a fresh install of the
// target has it.
func (c *hopCtx) logOwnership(node string) []Action {
	acts := []Action{run(node, "chown", "-R", "opscode:opscode", runit.DefaultLogDir)}
	if rel, _, ok := packaging.Nearest(c.hop.To.String()); ok && !rel.LogRoot.Managed.Value {
		acts = append(acts, run(node, "chown", "root:root", runit.DefaultLogDir))
	}
	return acts
}

// fromPC1 reports a hop off Private Chef 1.x: the runsvdir job is renamed.
func (c *hopCtx) fromPC1() bool { return c.hop.From.Major() == 1 }

// pkg is the package file for a node on this hop.
func (c *hopCtx) pkg(node string) packageFile { return c.pkgs[c.families[node]][c.to] }

func onAll(c *hopCtx) []string       { return c.all }
func onOthers(c *hopCtx) []string    { return c.others }
func onFrontends(c *hopCtx) []string { return c.fes }
func onBootstrap(c *hopCtx) []string { return []string{c.boot} }
func onSecondary(c *hopCtx) []string { return []string{c.sec} }
func onBackends(c *hopCtx) []string  { return []string{c.boot, c.sec} }

// steps expands the definitions that apply to the hop into plan steps.
func (c *hopCtx) steps(defs []stepDef) []Step {
	var out []Step
	prefix := fmt.Sprintf("hop%d", c.index)
	if c.index == 0 {
		prefix = "cleanup"
	}
	for _, d := range defs {
		if d.when != nil && !d.when(c) {
			continue
		}
		var nodes []string
		if d.nodes != nil {
			nodes = d.nodes(c)
		}
		mk := func(id string, nodes []string, cc *hopCtx) Step {
			s := Step{ID: id, Hop: c.index, Kind: d.kind, Title: d.title(cc), Nodes: nodes, From: c.from, Target: c.to,
				LevelBefore: c.hop.LevelBefore.String(), Level: c.hop.LevelAfter.String(), Timeout: c.o.stepTimeout}
			for _, id := range d.ids {
				if c.has(id) {
					s.Issues = append(s.Issues, id)
				}
			}
			if d.waits != "" {
				s.Waits = []string{d.waits}
			}
			return s
		}
		if !d.perNode {
			out = append(out, mk(prefix+"/"+string(d.kind), nodes, c))
			continue
		}
		for _, n := range nodes {
			cc := *c
			cc.node = n
			out = append(out, mk(prefix+"/"+string(d.kind)+"/"+n, []string{n}, &cc))
		}
	}
	return out
}

// defOf returns the definition of a step kind.
func defOf(kind StepKind) stepDef {
	for _, d := range append(runbook(), cleanupRunbook()...) {
		if d.kind == kind {
			return d
		}
	}
	return stepDef{kind: kind}
}
