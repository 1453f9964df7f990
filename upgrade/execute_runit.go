package upgrade

// The runner's runit actions: the runbook's "check runsvdir status", and
// making sure what a stopped runsvdir job leaves behind is gone and its
// services supervised again.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/runit"
)

// checkRunit stops on an unhealthy runsvdir or leftover control processes,
// as the runbook asks between every upgrade.
func (r *Runner) checkRunit(ctx context.Context, node string) error {
	n, err := r.node(node)
	if err != nil {
		return err
	}
	secs, err := readNode(ctx, n, "", r.o.readTimeout, "ps")
	if err != nil {
		return err
	}
	ps, err := NodeFacts{Node: node, Sections: secs}.Processes()
	if err != nil {
		return err
	}
	if msgs := runitProblems(ps); len(msgs) > 0 {
		return fmt.Errorf("runit is not healthy: %s (or plan again with the runbook's runit recovery)", strings.Join(msgs, "; "))
	}
	return nil
}

// RunitDrain is how long the runner lets what a stopped runsvdir job
// leaves behind go by itself (the 1.x job's post-stop TERMs its orphaned
// runsv, which exit once their service is down) before the next signal:
// TERM, then KILL. A runsv forked by runsvdir as it died misses the
// post-stop's signal, one told "down" by cluster.sh after it waits for
// ever, and one the 11.x job's post-stop HUPs leaves its service running.
const RunitDrain = 10 * time.Second

// clearRunit makes sure nothing find picks in node's processes remains:
// it waits grace for them to go, sends what is left TERM, waits
// RunitDrain, sends KILL, and fails naming what is still there
// RunitDrain after that. It is the runbook's "make sure all their child
// processes were removed from the process list". It returns what it
// first found.
func (r *Runner) clearRunit(ctx context.Context, step Step, node string, find func([]runit.Process) []runit.Process, grace time.Duration) ([]runit.Process, error) {
	n, err := r.node(node)
	if err != nil {
		return nil, err
	}
	start := r.clock().Now()
	signalled := 0
	var found []runit.Process
	for {
		secs, err := readNode(ctx, n, "", r.o.readTimeout, "ps")
		if err != nil {
			return found, err
		}
		ps, err := NodeFacts{Node: node, Sections: secs}.Processes()
		if err != nil {
			return found, err
		}
		left := find(ps)
		if found == nil {
			found = left
		}
		if len(left) == 0 {
			return found, nil
		}
		waited := r.clock().Now().Sub(start)
		if waited >= grace+time.Duration(signalled)*RunitDrain {
			pids, shown := make([]string, len(left)), make([]string, len(left))
			for i, p := range left {
				pids[i] = strconv.Itoa(p.PID)
				shown[i] = fmt.Sprintf("pid %d %s", p.PID, clip(p.Command, 40))
			}
			if signalled == 2 {
				return found, fmt.Errorf("%s: still running after TERM and KILL: %s", node, strings.Join(shown, "; "))
			}
			sig := []string{"TERM", "KILL"}[signalled]
			r.emit(Event{Kind: EventFinding, Step: step.ID, Node: node, Message: fmt.Sprintf("still running after %s: %s; sending %s", waited.Round(time.Second), strings.Join(shown, "; "), sig)})
			// kill exits 1 when a pid has gone meanwhile: that is the aim.
			var ee *cluster.ExitError
			if _, err := n.Run(ctx, cluster.Cmd{Argv: append([]string{"kill", "-" + sig, "--"}, pids...), Sudo: true}); err != nil && !errors.As(err, &ee) {
				return found, fmt.Errorf("%s: kill -%s: %w", node, sig, err)
			}
			signalled++
		}
		select {
		case <-ctx.Done():
			return found, ctx.Err()
		case <-r.clock().After(time.Second):
		}
	}
}

// clearOrphans makes sure no runsv that no runsvdir supervises is left on
// node, then puts back what that took down. A runsv told TERM stops its
// service before it exits (runit 2.1.2 runsv.c: TERM is control "x",
// which sends the service TERM), and the new runsvdir's runsv leaves an
// HA service down (its down file, keepalive_me): on the keepalived master,
// which runs no transition to start it, it would stay down for good. So
// each service that ran under an orphan and is down once supervised again
// is started, except on a back end that is not the master: cluster.sh
// starts HA services there when it becomes master, and never chefha.
func (r *Runner) clearOrphans(ctx context.Context, step Step, node string) error {
	n, err := r.node(node)
	if err != nil {
		return err
	}
	secs, err := readNode(ctx, n, "", r.o.readTimeout, "ps", "status")
	if err != nil {
		return err
	}
	before := NodeFacts{Node: node, Sections: secs}
	ps, err := before.Processes()
	if err != nil {
		return err
	}
	if len(runit.OrphanRunsv(ps)) == 0 {
		return nil
	}
	wasUp := map[string]bool{}
	if svcs, err := before.Services(); err == nil {
		for _, s := range svcs {
			wasUp[s.Service] = s.State == runit.StateRun
		}
	}
	orphans, err := r.clearRunit(ctx, step, node, runit.OrphanRunsv, 0)
	if err != nil || len(orphans) == 0 {
		return err
	}
	if err := r.resupervised(ctx, node, orphans); err != nil {
		return err
	}
	var takenDown []string
	for _, o := range orphans {
		if argv := o.Argv(); len(argv) >= 2 && wasUp[argv[1]] {
			takenDown = append(takenDown, argv[1])
		}
	}
	if len(takenDown) == 0 {
		return nil
	}
	return r.restartTakenDown(ctx, step, node, takenDown)
}

// restartTakenDown starts each of services that is not running on node,
// unless node is a back end that is not the keepalived master.
func (r *Runner) restartTakenDown(ctx context.Context, step Step, node string, services []string) error {
	n, err := r.node(node)
	if err != nil {
		return err
	}
	secs, err := readNode(ctx, n, "", r.o.readTimeout, "status", "current", "requested", "lock", "ps")
	if err != nil {
		return err
	}
	after := NodeFacts{Node: node, Sections: secs}
	svcs, err := after.Services()
	if err != nil {
		return err
	}
	var down []string
	for _, s := range svcs {
		if slices.Contains(services, s.Service) && s.State != runit.StateRun {
			down = append(down, s.Service)
		}
	}
	if len(down) == 0 {
		return nil
	}
	if srv, ok := r.cluster.Topology.Server(node); ok && srv.IsBackend() {
		// A master on its way to backup (requested backup, or cluster.sh
		// still holding the lock) is no master to start services on: its
		// transition stops them, and a start races it on a node whose
		// DRBD data is about to go.
		if st := after.KeepalivedState(""); !settledMaster(st) {
			r.emit(Event{Kind: EventFinding, Step: step.ID, Node: node, Message: fmt.Sprintf(
				"%s ran under an orphaned runsv and is down now; left down: %s is not a settled keepalived master (%s; cluster.sh starts HA services on the master)",
				strings.Join(down, ", "), node, st.Summary())})
			return nil
		}
	}
	for _, s := range down {
		if err := r.act(ctx, step, Action{Kind: ActRun, Node: node, Argv: ctl("start", s), Within: ActOrphansGone}); err != nil {
			return err
		}
	}
	return nil
}

// resupervised waits until the running runsvdir supervises again each
// linked service an orphan runsv held: the runsvdir's own runsv for it
// failed on the lock and exited, and runsvdir starts another within a
// second or two (runit 2.1.2 runsvdir.c rescans a second after a runsv
// exits). Until then sv says "runsv not running" and the next start of
// the node's services fails on it.
func (r *Runner) resupervised(ctx context.Context, node string, orphans []runit.Process) error {
	n, err := r.node(node)
	if err != nil {
		return err
	}
	start := r.clock().Now()
	for {
		secs, err := readNode(ctx, n, "", r.o.readTimeout, "ps", "links")
		if err != nil {
			return err
		}
		nf := NodeFacts{Node: node, Sections: secs}
		ps, err := nf.Processes()
		if err != nil {
			return err
		}
		links, err := nf.Links()
		if err != nil {
			return fmt.Errorf("%s: %w", node, err)
		}
		var missing []string
		for _, o := range orphans {
			argv := o.Argv()
			if len(argv) < 2 || !slices.ContainsFunc(links, func(l runit.Link) bool { return l.Name == argv[1] && !l.Dangling }) {
				continue // no longer linked: nothing supervises it again
			}
			if !runit.Supervised(ps, argv[1]) {
				missing = append(missing, argv[1])
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if waited := r.clock().Now().Sub(start); waited >= RunitDrain {
			return fmt.Errorf("%s: after the orphaned runsv went, runsvdir has not supervised %s again within %s (check the runsvdir's complaints in ps)", node, strings.Join(missing, ", "), RunitDrain)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.clock().After(time.Second):
		}
	}
}

// leftovers is what both runsvdir jobs stopped leave: runsvdir, runsv,
// svlogd and unsupervised services.
func leftovers(ps []runit.Process) []runit.Process { return runit.Leftovers(ps, "/opt/opscode/") }

// settledMaster reports whether a back end is keepalived master and staying
// so: requested master too, and no transition running.
func settledMaster(st keepalived.NodeState) bool {
	return st.Err == nil && st.Current == keepalived.Master && st.Requested == keepalived.Master && !st.InTransition()
}
