package upgrade

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/drbd"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/runit"
)

// GateSpec is what a gate waits for, instead of a fixed sleep: the
// keepalived pair stable with Master master (no transition, the VIP on the
// master, no new cluster.log transition for the hold), the services of the
// Services nodes up, and keepalived running on the Keepalived nodes.
type GateSpec struct {
	Master     string   `json:"master"`
	Services   []string `json:"services,omitempty"`
	Keepalived []string `json:"keepalived,omitempty"`
	// Quiet nodes run no service but keepalived (the standby); their
	// runsvdir must be healthy too.
	Quiet []string `json:"quiet,omitempty"`
	// DRBD waits for the pair's DRBD: connected, both disks UpToDate,
	// Primary and the data mounted on Master only.
	DRBD bool `json:"drbd,omitempty"`
	// NoHold opens the gate at the first look that shows everything: a
	// check before a step that could make keepalived transition, which
	// needs DRBD in sync now, not the pair stable for a while.
	NoHold bool `json:"no_hold,omitempty"`
}

func (g *GateSpec) String() string {
	s := "wait until " + g.Master + " is keepalived master and stable"
	if g.NoHold {
		s = "wait until " + g.Master + " is keepalived master"
	}
	if g.DRBD {
		s += ", DRBD is connected and UpToDate on both back ends with " + g.Master + " Primary"
	}
	if len(g.Keepalived) > 0 {
		s += ", keepalived runs on " + strings.Join(g.Keepalived, " and ")
	}
	if len(g.Services) > 0 {
		s += ", the services of " + strings.Join(g.Services, ", ") + " run and their runsvdir is healthy"
	}
	if len(g.Quiet) > 0 {
		s += ", no HA service runs on " + strings.Join(g.Quiet, ", ") + " and its runsvdir is healthy"
	}
	return s + " (a master transition that failed is run again: cluster.sh master)"
}

// covers reports whether a gate that passed already shows everything g
// waits for.
func (g *GateSpec) coveredBy(prev *GateSpec) bool {
	if prev == nil || prev.Master != g.Master || g.DRBD && !prev.DRBD || !g.NoHold && prev.NoHold {
		return false
	}
	for _, n := range g.Services {
		if !slices.Contains(prev.Services, n) {
			return false
		}
	}
	for _, n := range g.Keepalived {
		if !slices.Contains(prev.Keepalived, n) {
			return false
		}
	}
	for _, n := range g.Quiet {
		if !slices.Contains(prev.Quiet, n) {
			return false
		}
	}
	return true
}

// gateSections are what a gate reads of each node it watches.
var gateSections = []string{"current", "requested", "lock", "clusterlog", "ps", "addrs", "status",
	"drbd", "drbd-role", "drbd-cstate", "drbd-dstate", "mounts"}

// gate waits for spec, polling on the runner's clock.
func (r *Runner) gate(ctx context.Context, step Step, spec *GateSpec) error {
	t := r.cluster.Topology
	boot, _ := t.Bootstrap()
	sec, _ := t.Secondary()
	watch := []string{boot.Name, sec.Name}
	for _, n := range slices.Concat(spec.Services, spec.Keepalived, spec.Quiet) {
		if !slices.Contains(watch, n) {
			watch = append(watch, n)
		}
	}
	nodes := make([]cluster.Node, len(watch))
	for i, name := range watch {
		n, err := r.node(name)
		if err != nil {
			return err
		}
		nodes[i] = n
	}
	vip := vipOf(t)
	var views map[string]*nodeView
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var fatal error
	rerun := masterRerun{node: spec.Master}
	var lastEmit time.Time
	lastWaiting := ""
	hold := r.o.hold
	if spec.NoHold {
		hold = time.Nanosecond
	}
	g := keepalived.Gate{
		Master: spec.Master, Clock: r.clock(), Hold: hold, Timeout: r.o.gateTimeout, Poll: r.o.poll, CheckVIP: vip != "",
		Read: func(ctx context.Context) (keepalived.Pair, error) {
			rs := cluster.Each(ctx, nodes, 0, func(ctx context.Context, n cluster.Node) (map[string]Section, error) {
				return readNode(ctx, n, peerOf(r.cluster.Topology, n.Name()), r.o.readTimeout, gateSections...)
			})
			views = map[string]*nodeView{}
			states := map[string]keepalived.NodeState{}
			for i, res := range rs {
				nf := NodeFacts{Node: watch[i], Sections: res.Value}
				if res.Err != nil {
					nf.Err = res.Err.Error()
				}
				views[watch[i]] = &nodeView{NodeFacts: nf}
				states[watch[i]] = nf.KeepalivedState(vip)
			}
			return keepalived.Pair{Bootstrap: states[boot.Name], Secondary: states[sec.Name]}, nil
		},
		Extra: func(ctx context.Context, p keepalived.Pair) []keepalived.Finding {
			var out []keepalived.Finding
			if spec.DRBD {
				out = append(out, drbdWaits(spec.Master, views[boot.Name], views[sec.Name])...)
			}
			for _, name := range spec.Keepalived {
				if !views[name].keepalivedRunning() {
					out = append(out, keepalived.Finding{Problem: "keepalived-stopped", Node: name, Detail: "keepalived is not running yet"})
				}
			}
			for _, name := range spec.Quiet {
				if up := views[name].haUp(); len(up) > 0 {
					out = append(out, keepalived.Finding{Problem: "standby-services-running", Node: name, Detail: "still running " + abbreviateList(up, 6)})
				}
			}
			for _, name := range slices.Concat(spec.Services, spec.Quiet) {
				v := views[name]
				if ps, err := v.Processes(); err == nil {
					// A stopped job's runsv exit once their service is down;
					// one that does not holds its service's lock for good.
					for _, f := range runit.DiagnoseProcesses(ps) {
						if f.Symptom == runit.SymptomOrphanRunsv {
							out = append(out, keepalived.Finding{Problem: keepalived.Problem(f.Symptom), Node: name, Detail: f.Subject + " has no runsvdir"})
						}
					}
					for _, rd := range runit.FindRunsvdirs(ps) {
						errs, contended := gateRunsvdirErrors(v, rd)
						if len(errs) > 0 {
							fatal = fmt.Errorf("runsvdir on %s is unhealthy: %s (fix the cause, then recover runsvdir as the runbook's example does: plan again with the runit recovery)", name, strings.Join(errs, "; "))
							cancel()
						}
						if len(contended) > 0 {
							out = append(out, keepalived.Finding{Problem: "runsv-lock-contended", Node: name,
								Detail: "runsvdir is to start the runsv of " + abbreviateList(contended, 6) + " again: its supervise/lock was held by another runsv"})
						}
					}
				}
				if !slices.Contains(spec.Services, name) {
					continue
				}
				down, err := downServices(v)
				if err != nil {
					out = append(out, keepalived.Finding{Problem: "services-unreadable", Node: name, Detail: err.Error()})
					continue
				}
				if len(down) > 0 {
					out = append(out, keepalived.Finding{Problem: "services-down", Node: name, Detail: "waiting for " + abbreviateList(down, 6)})
				}
			}
			if a, ok := rerun.due(p, views[spec.Master], out); ok {
				if err := r.act(ctx, step, a); err != nil && ctx.Err() == nil {
					out = append(out, keepalived.Finding{Problem: keepalived.ProblemTransitionFailed, Node: spec.Master, Detail: "run again, it failed again: " + err.Error()})
				}
			}
			return out
		},
		OnPoll: func(st keepalived.GateStatus) {
			if spec.NoHold && len(st.Findings) == 0 {
				return // open at the first look: nothing was waited for
			}
			gp := gateProgress(spec, st)
			waiting := strings.Join(gp.Waiting, "; ")
			now := r.clock().Now()
			if waiting == lastWaiting && now.Sub(lastEmit) < 10*time.Second {
				return
			}
			lastEmit, lastWaiting = now, waiting
			r.emit(Event{Kind: EventGateWait, Step: step.ID, Node: spec.Master, Gate: gp, Message: gp.summary()})
		},
	}
	_, err := g.Wait(ctx)
	if fatal != nil {
		return fatal
	}
	return err
}

// masterRerun runs a master transition that failed again. cluster.sh
// gives up on the first service that does not start (error_exit), and
// keepalived, master already, never calls it again: the node holds the VIP
// with its services down until someone does. Before the upgrade's own
// actions, that happens when the reconfigure that stops 1.x's runsvdir job
// leaves a runsv that keeps its service's lock (see stopOldJob): chefha
// clears such runsv, and then the transition can succeed.
type masterRerun struct {
	node string
	done []keepalived.Event // the failures already run again
}

// masterReruns bounds the reruns of one gate: a transition that fails the
// same way each time is for the operator to look at.
const masterReruns = 3

// due returns the rerun to make now: the node's master transition failed,
// keepalived (running, its last request master) still wants it master, its
// peer is not master, and nothing the gate found on the node would make it
// fail again.
func (m *masterRerun) due(p keepalived.Pair, v *nodeView, found []keepalived.Finding) (Action, bool) {
	st, peer := p.Bootstrap, p.Secondary
	if p.Secondary.Name == m.node {
		st, peer = p.Secondary, p.Bootstrap
	}
	e, failed := st.FailedTransition()
	// Never beside a peer that is master or on its way there: that is a
	// split brain for the operator, not a transition to finish.
	if !failed || st.Requested != keepalived.Master || peer.Current == keepalived.Master || peer.Requested == keepalived.Master ||
		v == nil || !v.keepalivedRunning() ||
		len(m.done) >= masterReruns || slices.Contains(m.done, e) {
		return Action{}, false
	}
	for _, f := range found {
		if f.Node == m.node && (f.Problem == keepalived.Problem(runit.SymptomOrphanRunsv) || f.Problem == "runsv-lock-contended") {
			return Action{}, false
		}
	}
	m.done = append(m.done, e)
	return Action{Kind: ActRun, Node: m.node, Argv: []string{keepalived.ClusterShPath, string(keepalived.Master)}, Critical: true, Within: ActGate}, true
}

func gateProgress(spec *GateSpec, st keepalived.GateStatus) *GateProgress {
	gp := &GateProgress{Master: spec.Master, StableFor: st.StableFor, Hold: st.Hold, Waited: st.Waited, TimeoutAt: st.TimeoutAt}
	for _, n := range []keepalived.NodeState{st.Pair.Bootstrap, st.Pair.Secondary} {
		gn := GateNode{Node: n.Name, Requested: string(n.Requested), Current: string(n.Current), InTransition: n.InTransition(), HasVIP: n.HasVIP}
		if n.Err != nil {
			gn.Unreadable = n.Err.Error()
		}
		gp.Nodes = append(gp.Nodes, gn)
	}
	for _, f := range st.Findings {
		gp.Waiting = append(gp.Waiting, f.String())
	}
	return gp
}

// summary is the gate's progress in one line.
func (g *GateProgress) summary() string {
	var parts []string
	for _, n := range g.Nodes {
		s := n.Node + ": " + n.Current
		if n.Unreadable != "" {
			s = n.Node + ": unreadable"
		} else if n.Requested != "" && n.Requested != n.Current {
			s += " (requested " + n.Requested + ")"
		}
		if n.HasVIP {
			s += ", VIP"
		}
		parts = append(parts, s)
	}
	s := strings.Join(parts, "; ")
	if len(g.Waiting) > 0 {
		return s + "; waiting for: " + strings.Join(g.Waiting, "; ")
	}
	return fmt.Sprintf("%s; stable for %s of %s", s, g.StableFor.Round(time.Second), g.Hold)
}

// drbdWaits is what keeps a gate closed on DRBD's account, with a resync's
// progress so the waiting line says how far it got.
func drbdWaits(master string, nodes ...*nodeView) []keepalived.Finding {
	var out []keepalived.Finding
	for _, n := range nodes {
		r, err := n.DRBD()
		if err != nil {
			out = append(out, keepalived.Finding{Problem: "drbd-unreadable", Node: n.Node, Detail: err.Error()})
			continue
		}
		want := drbd.Secondary
		if n.Node == master {
			want = drbd.Primary
		}
		switch {
		case r.Syncing() && r.Sync != nil:
			out = append(out, keepalived.Finding{Problem: "drbd-resync", Node: n.Node,
				Detail: fmt.Sprintf("%s, %.1f%% synced, about %s left", r, r.Sync.Percent, r.Sync.Finish.Round(time.Second))})
		case !r.Connected() || !r.UpToDate():
			out = append(out, keepalived.Finding{Problem: "drbd-not-in-sync", Node: n.Node, Detail: r.String()})
		case r.Role != want:
			out = append(out, keepalived.Finding{Problem: "drbd-role", Node: n.Node, Detail: fmt.Sprintf("DRBD %s, want %s", r.Role, want)})
		case n.drbdMounted() != (n.Node == master):
			out = append(out, keepalived.Finding{Problem: "drbd-mount", Node: n.Node, Detail: DRBDDataDir + " mounted: " + fmt.Sprint(n.drbdMounted())})
		}
	}
	return out
}
