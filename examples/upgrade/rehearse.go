package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/cli"
	"github.com/chefha/chefha/internal/termsafe"
	"github.com/chefha/chefha/replica"
	"github.com/chefha/chefha/runreport"
	"github.com/chefha/chefha/upgrade"
)

// RehearsalFormat names -rehearse's JSON object.
const RehearsalFormat = "chefha.rehearsal/1"

// rehearsalView is what -rehearse says: the rehearsal, the downtime each
// role had on the replica, and what the replica was.
type rehearsalView struct {
	Format string `json:"format"`
	upgrade.Rehearsal
	Downtime []runreport.Downtime `json:"downtime,omitempty"`
	Replica  replica.Report       `json:"replica"`
	// Recorded is where the passed rehearsal was recorded.
	Recorded string `json:"recorded,omitempty"`
	// Simulated: production was itself the simulation, whose directory
	// (the record's too) goes when this command exits.
	Simulated bool `json:"-"`
}

// rehearse is -rehearse: read production (read-only), build a replica of
// it on the simulation, build the plan from the same inputs against
// production, run it to the end on the replica, say how it went, and
// record it in dir if it passed. A stop (the first Ctrl-C) ends it at
// once: it acts on the replica only, and nothing is recorded.
func rehearse(ctx context.Context, stop <-chan struct{}, prod *cluster.Cluster, opts []upgrade.Option, vol *replica.Volume, dir string, timeout time.Duration, o *output) int {
	ctx, cancelAll := context.WithCancel(ctx)
	defer cancelAll()
	stopped := make(chan struct{})
	go func() {
		select {
		case <-stop:
			close(stopped)
			cancelAll()
		case <-ctx.Done():
		}
	}()
	fail := func(err error) int {
		select {
		case <-stopped:
			fmt.Fprintln(o.stderr, "upgrade: -rehearse: stopped on request: nothing was recorded, and the replica is removed")
			return exitStopped
		default:
		}
		fmt.Fprintln(o.stderr, "upgrade: -rehearse:", termsafe.String(err.Error()))
		return exitFailed
	}
	// Each phase says what it does (on stderr: stdout is the result): a
	// rehearsal reads production, copies its configuration and runs every
	// step, minutes on a real cluster.
	say := func(format string, a ...any) {
		if o.format != "json" {
			o.mu.Lock()
			fmt.Fprintf(o.stderr, "[%7.1fs] rehearsal: %s\n", time.Since(o.start).Seconds(), termsafe.Line(fmt.Sprintf(format, a...)))
			o.mu.Unlock()
		}
	}
	say("reading production's %d nodes and planning", len(prod.Topology.Servers))
	pctx, cancel := context.WithTimeout(ctx, timeout)
	plan, err := upgrade.NewRunner(prod, append(opts, upgrade.WithDryRun())...).Plan(pctx)
	if err != nil && ctx.Err() != nil {
		cancel()
		return fail(err)
	}
	if err != nil {
		cancel()
		o.end(err, upgrade.OutcomeRefused, false, string(upgrade.PhaseUpgrade), "", nil)
		return exitFailed
	}
	facts := upgrade.Gather(pctx, prod)
	boot, _ := prod.Topology.Bootstrap()
	bootNode, _ := prod.Node(boot.Name)
	// The replica's minutes (keepalived's transitions, the upgrade's
	// sleep) pass on its own clock, moved on by whoever waits.
	clock := clustertest.NewFakeClock(time.Now())
	say("building the replica: %d nodes from what was read, %s's /etc/opscode copied read-only", len(facts.Nodes), boot.Name)
	r, err := replica.New(pctx, replica.Source{Facts: facts, Bootstrap: bootNode},
		replica.Options{Target: replica.Simulation{Clock: clock.Now, Sleep: clock.Advance, TransitionTime: time.Second}, Volume: vol})
	cancel()
	if err != nil {
		return fail(err)
	}
	defer r.Close()
	var events []upgrade.Event // the rehearsal's own: where the services stopped and started again
	say("running plan %s (%d steps) on the replica", plan.Hash(), len(plan.Steps))
	rh, err := r.Rehearse(ctx, plan, append(opts, upgrade.WithClock(clock),
		upgrade.WithEvents(func(ev upgrade.Event) {
			events = append(events, ev)
			switch ev.Kind {
			case upgrade.EventStepStart:
				say("▶ %s: %s", ev.Step, ev.Title)
			case upgrade.EventStepFailed:
				say("✗ %s: %s", ev.Step, ev.Message)
			}
		}))...)
	var mismatch *upgrade.ReplicaMismatchError
	if errors.As(err, &mismatch) {
		return fail(fmt.Errorf("%w: the replica does not look enough like production for its rehearsal to count", err))
	}
	if err != nil {
		return fail(err)
	}
	if ctx.Err() != nil {
		return fail(ctx.Err()) // stopped as it ended: it counts for nothing
	}
	v := rehearsalView{Format: RehearsalFormat, Rehearsal: rh, Downtime: runreport.FromRehearsal(plan, rh, events).Downtime, Replica: r.Report, Simulated: o.simulated}
	if rh.Passed && !o.simulated {
		if err := upgrade.SaveRehearsal(dir, rh); err != nil {
			return fail(err)
		}
		v.Recorded = filepath.Join(dir, "chefha-rehearsal-"+rh.PlanHash+".json")
	}
	if o.format == "json" {
		if err := o.json(v); err != nil {
			return fail(err)
		}
	} else if err := writeRehearsal(o.stdout, plan, v, o.width); err != nil {
		return fail(err)
	}
	if !rh.Passed {
		return exitFailed
	}
	return exitOK
}

// writeRehearsal prints the rehearsal as text: the result, each step's
// duration and each gate's wait, how long each role's services were down,
// the replica's post-flight findings, what the replica did not reproduce,
// and where it was recorded. What came from the cluster is escaped.
func writeRehearsal(w io.Writer, plan upgrade.Plan, v rehearsalView, width int) error {
	b := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	// wrap fills s to the width, its first line after first, the others
	// indented as far.
	wrap := func(first, s string) string {
		rest := strings.Repeat(" ", len(first))
		return first + strings.ReplaceAll(strings.TrimSuffix(cli.Wrap(termsafe.String(s), width-len(first)), "\n"), "\n", "\n"+rest)
	}
	rh := v.Rehearsal
	result := "passed: it ran to the end"
	if !rh.Passed {
		result = "STOPPED"
		if rh.StoppedAt != "" {
			result += " at " + termsafe.Line(rh.StoppedAt)
		}
	}
	p("%s\n", wrap("", fmt.Sprintf("rehearsal of plan %s (%s → %s, %d steps) on a replica: %s", rh.PlanHash, rh.From, rh.To, len(plan.Steps), result)))
	p("%s\n", wrap("  ", fmt.Sprintf("the replica: %d nodes on the %s under production's names, built from what was read of production; its plan is production's (same hash)", v.Replica.Nodes, v.Replica.Target)))
	if rh.Error != "" {
		p("\nwhy:\n%s\n", wrap("  ", rh.Error))
	}
	if len(rh.Steps) > 0 {
		p("\nsteps, as long as each took on the replica:\n")
		tw := 0
		for _, s := range rh.Steps {
			tw = max(tw, len(termsafe.Line(s.Step)))
		}
		for _, s := range rh.Steps {
			p("  %-*s  %s\n", tw, termsafe.Line(s.Step), s.Took.Round(time.Millisecond))
		}
	}
	if len(rh.Waits) > 0 {
		p("\ngates, the longest wait of each:\n")
		tw := 0
		for _, g := range rh.Waits {
			tw = max(tw, len(termsafe.Line(g.Step)))
		}
		for _, g := range rh.Waits {
			p("  %-*s  %-8s for master %s\n", tw, termsafe.Line(g.Step), g.Took.Round(time.Millisecond), termsafe.Line(g.Node))
		}
	}
	if len(v.Downtime) > 0 {
		p("\nservices down on the replica:\n")
		for _, d := range v.Downtime {
			still := ""
			if d.Open {
				still = ", still down when it stopped"
			}
			p("%s\n", wrap("  - ", fmt.Sprintf("%s from %s: %s%s (%s)", d.Service, d.Step, d.Length, still, strings.Join(d.Nodes, ", "))))
		}
	}
	if rh.Passed {
		if len(rh.Findings) == 0 {
			p("\npost-flight on the replica: no failure, no warning\n")
		} else {
			p("\npost-flight on the replica:\n")
			for _, f := range rh.Findings {
				where := f.Node
				if where == "" {
					where = "cluster"
				}
				what := f.Check
				if f.Symptom != "" {
					what += " (" + f.Symptom + ")"
				}
				ev := f.Evidence
				if len(ev) > 1 && f.Symptom != "" && strings.HasPrefix(ev[0], f.Symptom+": ") {
					ev = ev[1:] // the runit findings' first line repeats the symptom
				}
				p("%s\n", wrap("  - ", fmt.Sprintf("%s %s %s: %s", f.Severity, where, what, strings.Join(ev, "; "))))
			}
		}
	}
	if len(rh.NotReproduced) > 0 {
		p("\nwhat the replica did not reproduce (what this rehearsal does not prove):\n")
		for _, s := range rh.NotReproduced {
			p("%s\n", wrap("  - ", s))
		}
	}
	switch {
	case v.Simulated && v.Passed:
		p("\n%s\n", wrap("", "passed; not recorded: the simulated cluster and its directory go when this command exits, and -apply on the simulation needs no rehearsal"))
	case v.Recorded != "":
		p("\n%s\n", wrap("", "recorded in "+v.Recorded+": -apply with the same inputs now goes ahead"))
	default:
		p("\n%s\n", wrap("", "not recorded: -apply of this plan is refused until a rehearsal passes (fix the cause on production, then rehearse again)"))
	}
	return b.Flush()
}
