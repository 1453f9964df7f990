// Command watch shows an HA Enterprise Chef cluster live: the runbook's
// two monitoring terminals (`private-chef-ctl tail keepalived` and a loop
// of `cat current_cluster_status`) in one, with DRBD, the front ends and
// the upgrade's current step beside them, and what they leave to the eye
// judged by machine.
//
// Every -interval (1 s, as the runbook's loop) it reads each node in one
// SSH command session, as the pre-flight reads it (upgrade.Watch): of
// each back end its cluster status and the status requested, the
// transition lock and whether its holder runs, who holds the VIP, the
// services up and down, DRBD (connection, roles, disks, a resync's
// progress) and the cluster.log lines written since the last look; of
// each front end its services, or why it cannot be read. With -journal
// (the upgrade's) it says which step runs, since when, or where the run
// stopped. Then it judges it all (split brain, no master, a transition
// under way, the VIP on the wrong node, DRBD not replicating or not in
// sync, a front end unreachable or with services down).
//
//	watch                                     # a simulated cluster, with a failover planted
//	watch -config /etc/opscode/private-chef.rb -journal chefha-upgrade.json
//	watch -hosts be1=backend:bootstrap,be2=backend,fe1=frontend -ssh-config ~/.ssh/config
//	watch -config … -o json > watch.jsonl    # one snapshot per line
//	watch -config … -once                    # one look; exit 1 when something is wrong
//	watch -config … -once -ignore frontend-services-down   # the front ends are stopped on purpose
//
// It only reads: it never takes chefha's upgrade lock or writes to a node,
// so it runs beside `upgrade -apply` in another terminal.
//
// On a terminal it redraws one screen in place: a line per back end, its
// DRBD, a line per front end, the upgrade's step, the last -lines lines of
// cluster.log, the findings. Not on a terminal it writes plain lines, each
// starting with the time: each of those when it changes, every new
// cluster.log line, the findings when they change. -o json writes each
// snapshot as a JSON object on a line of its own (upgrade.WatchSnapshot's
// MarshalJSON: "format": "chefha.watch/2"); on a simulated cluster each
// carries "simulation": true. Text escapes what came from a node
// (internal/termsafe); JSON keeps it.
//
// -ignore names findings (upgrade.WatchProblems: in-transition,
// frontend-services-down, drbd-not-uptodate, …) that are expected for now:
// they are still shown, marked IGNORED, and do not make -once exit 1.
//
// With no cluster named it starts a simulated one (clustertest) and, a few
// seconds in, stops keepalived on the bootstrap, as the runbook's failover
// does, then starts it again: the secondary takes over and stays master.
//
// -config, -hosts, -ssh-config, -accept-new-host-keys and -timeout (for
// reaching the cluster) mean what they mean to preflight and upgrade.
//
// Exit status: 0 when stopped (Ctrl-C) or, with -once, when nothing but
// ignored findings is wrong; 1 with -once when something else is; 2 on
// usage or connection errors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/cli"
	"github.com/chefha/chefha/internal/termsafe"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/upgrade"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK       = 0
	exitFindings = 1
	exitUsage    = 2
)

// config is what the flags say about the output.
type config struct {
	interval time.Duration
	json     bool
	once     bool
	lines    int  // cluster.log lines on the screen
	width    int  // columns
	terminal bool // redraw in place
	vip      bool // the topology names backend_vip: who holds it is shown
	// simulated marks JSON and text as the simulation's.
	simulated bool
	// clock is the watch's clock (nil: the wall clock); tests step it.
	clock keepalived.Clock
	// max stops after this many snapshots (0: until ctx ends); tests use it.
	max int
	// plan is what to do to the cluster, and when: the simulation's
	// planted failover.
	plan []planned
	// journal is the upgrade's journal (nil: no step shown).
	journal upgrade.Journal
	// ignore names the findings shown as IGNORED.
	ignore []string
}

// planned is an action due once a snapshot is taken at or after at.
type planned struct {
	after time.Duration // since the first snapshot
	what  string
	do    func(ctx context.Context) error
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("watch", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var named cli.Cluster
	named.Register(fl, "give up reaching the cluster after this long")
	fl.Lookup("ignore").Usage = "findings to show as IGNORED, comma-separated (case-insensitive): they do not make -once exit 1 (" + strings.Join(upgrade.WatchProblems(), ", ") + ")"
	interval := fl.Duration("interval", upgrade.DefaultWatchInterval, "time between looks (the runbook's loop sleeps 1 s)")
	journal := fl.String("journal", "", "the upgrade's journal (as given to upgrade -journal): show its run's current step")
	out := fl.String("o", "text", "output: text (a screen redrawn in place on a terminal, plain lines otherwise) or json (a snapshot per line)")
	once := fl.Bool("once", false, "look once and exit: 0 when nothing but ignored findings is wrong, 1 otherwise")
	lines := fl.Int("lines", 10, "cluster.log lines on the screen")
	width := fl.Int("width", 0, "columns (default: the terminal's, 80 when not a terminal)")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "usage: watch [flags]\n\nWith no -config or -hosts, watches a simulated cluster through a failover.\n\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	fail := func(what string, err error) int {
		fmt.Fprintf(stderr, "watch: %s%s\n", what, termsafe.String(err.Error()))
		return exitUsage
	}
	switch {
	case fl.NArg() > 0:
		return fail("", fmt.Errorf("unexpected argument %q (flags start with -)", fl.Arg(0)))
	case *out != "text" && *out != "json":
		return fail("", errors.New("-o must be text or json"))
	case *interval <= 0:
		return fail("", errors.New("-interval must be positive"))
	case *lines < 0:
		return fail("", errors.New("-lines must not be negative"))
	}
	cfg := config{interval: *interval, json: *out == "json", once: *once, lines: *lines,
		width: cli.Width(stdout, *width), terminal: *out == "text" && cli.IsTerminal(stdout)}
	for _, n := range strings.Split(named.Ignore, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		// Checked before the cluster is reached: a typo is a usage error.
		if !slices.Contains(upgrade.WatchProblems(), strings.ToLower(n)) {
			return fail("-ignore: ", &upgrade.UnknownProblemError{Name: n})
		}
		cfg.ignore = append(cfg.ignore, n)
	}
	if *journal != "" {
		cfg.journal = upgrade.FileJournal{Path: *journal}
	}

	dctx, cancel := context.WithTimeout(ctx, named.Timeout)
	defer cancel()
	var cl *cluster.Cluster
	if named.Named() {
		var err error
		cl, err = named.Dial(dctx)
		if cl == nil {
			return fail("", err)
		}
		if err != nil {
			// The nodes not reached are watched all the same: each
			// snapshot shows why they cannot be read.
			fmt.Fprintf(stderr, "watch: %s; watching all the same\n", termsafe.Line(err.Error()))
		}
	} else {
		sim, c, clock, err := startSimulation(dctx)
		if err != nil {
			return fail("simulated cluster: ", err)
		}
		defer sim.Close()
		cl = c
		cfg.simulated, cfg.clock = true, clock
		if !cfg.once {
			cfg.plan = failoverPlan(cl)
		}
	}
	defer cl.Close()
	alarm, err := watch(ctx, cfg, cl, stdout, stderr)
	switch {
	case err != nil:
		return fail("", err)
	case cfg.once && alarm:
		return exitFindings
	}
	return exitOK
}

// simClock is the simulation's time: the wall clock, plus the time the
// simulated nodes' commands spent sleeping (an sv wait, cluster.sh's DRBD
// retries), which the simulation skips. The watch reads it too, so the
// screen's time and the nodes' cluster.log stamps agree.
type simClock struct{ ahead atomic.Int64 }

func (c *simClock) Now() time.Time                         { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *simClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (c *simClock) skip(d time.Duration)                   { c.ahead.Add(int64(d)) }

// startSimulation starts a simulated 1.4.6 cluster whose first election
// is already over: its clock starts a minute back and catches up once the
// cluster is up.
func startSimulation(ctx context.Context) (*clustertest.Cluster, *cluster.Cluster, *simClock, error) {
	clock := &simClock{}
	clock.skip(-time.Minute)
	sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 1, Clock: clock.Now, Sleep: clock.skip})
	if err != nil {
		return nil, nil, nil, err
	}
	clock.skip(time.Minute)
	cl, err := sim.Dial(ctx)
	if err != nil {
		if cl != nil {
			cl.Close()
		}
		sim.Close()
		return nil, nil, nil, err
	}
	return sim, cl, clock, nil
}

// failoverPlan is the simulation's show: keepalived stopped on the
// bootstrap (the runbook's way to fail over), then started again, when
// the bootstrap comes back as backup.
func failoverPlan(cl *cluster.Cluster) []planned {
	b, _ := cl.Topology.Bootstrap()
	node, _ := cl.Node(b.Name)
	ctl := func(verb string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := node.Run(ctx, cluster.Command("private-chef-ctl", verb, "keepalived").AsRoot())
			return err
		}
	}
	return []planned{
		{after: 5 * time.Second, what: "private-chef-ctl stop keepalived on " + b.Name, do: ctl("stop")},
		{after: 25 * time.Second, what: "private-chef-ctl start keepalived on " + b.Name, do: ctl("start")},
	}
}

// watch streams snapshots to stdout until ctx ends (or once, or max) and
// reports whether the last snapshot had findings not ignored.
func watch(ctx context.Context, cfg config, cl *cluster.Cluster, stdout, stderr io.Writer) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg.vip = cl.Topology.BackendVIP != nil
	backlog := cfg.lines
	if backlog == 0 {
		backlog = -1 // none; 0 is the library's default
	}
	snaps, err := upgrade.Watch(ctx, cl, upgrade.WatchOptions{Interval: cfg.interval, Clock: cfg.clock, Backlog: backlog,
		Journal: cfg.journal, Ignore: cfg.ignore})
	if err != nil {
		return false, err
	}
	var r renderer
	switch {
	case cfg.json:
		r = &jsonRenderer{w: stdout, simulated: cfg.simulated}
	case cfg.terminal:
		r = newScreen(stdout, cfg)
	default:
		r = newPlain(stdout, cfg)
	}
	var first time.Time
	plan, done := cfg.plan, ""
	n, alarm := 0, false
	for s := range snaps {
		n++
		if first.IsZero() {
			first = s.Time
		}
		alarm = s.Alarm()
		if err := r.render(s, planNote(done, plan, first)); err != nil {
			return alarm, err
		}
		for len(plan) > 0 && !s.Time.Before(first.Add(plan[0].after)) {
			done = "ran " + plan[0].what + " at " + s.Time.Format("15:04:05")
			if err := plan[0].do(ctx); err != nil && ctx.Err() == nil {
				fmt.Fprintf(stderr, "watch: %s: %s\n", termsafe.Line(plan[0].what), termsafe.Line(err.Error()))
			}
			plan = plan[1:]
		}
		if cfg.once || n == cfg.max {
			break
		}
	}
	return alarm, r.close()
}

// planNote says what the simulation did last and does next, and when.
func planNote(done string, plan []planned, first time.Time) string {
	var parts []string
	if done != "" {
		parts = append(parts, done)
	}
	if len(plan) > 0 {
		parts = append(parts, fmt.Sprintf("next: %s at %s", plan[0].what, first.Add(plan[0].after).Format("15:04:05")))
	}
	return strings.Join(parts, "; ")
}
