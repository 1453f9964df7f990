// Command upgrade plans and runs an HA Enterprise Chef upgrade, the
// runbook's steps in order, resumably.
//
// By default it prints the plan, like kubeadm's `upgrade plan`: per node
// its role, installed → target version and migration level now → after;
// the known issues that bite on the path and what chefha does about each;
// the expected stops of service; the steps; and the command to run next.
// -v adds the dry run, every action on which node, in order. With no
// cluster named it works on a simulated cluster.
//
//	upgrade                                  # the plan for a simulated 1.4.6 cluster
//	upgrade -v                               # … and every action of the dry run
//	upgrade -apply                           # upgrade the simulated cluster to 11.1.8, with progress
//	upgrade -config /etc/opscode/private-chef.rb -target 11.1.8 \
//	    -package /srv/private-chef_11.1.8-1_amd64.deb \
//	    -backup-cmd 'lvcreate -s -n chef-pre -L 10G vg0/chef' -backup-check 'lvs vg0/chef-pre' -apply
//	upgrade -config … -rehearse              # the plan run to the end on a replica of the cluster; recorded if it passes
//	upgrade -config … -backup-lvm -apply     # an LVM snapshot of the volume under DRBD, checked before every step
//	upgrade -config … -apply -resume         # after an interruption: rebuild the plan, check the journal, go on
//	upgrade -config … -verify                # the post-flight alone
//	upgrade -config … -phase cleanup -yes -apply   # later: private-chef-ctl cleanup, once verified
//
// The runbook's first rule is to upgrade a copy of production first.
// -rehearse reads the cluster (read-only: its facts and the bootstrap's
// /etc/opscode), builds a replica of it in this process (package
// replica: the same names, roles, versions, levels, keepalived master and
// runit state) and runs the same plan there to the end; it prints whether
// it passed or where it stopped and why, each step's duration and each
// gate's wait, how long each role's services were down, the replica's
// post-flight findings and what the replica cannot reproduce. A passed
// rehearsal is recorded beside the journal (chefha-rehearsal-PLAN.json);
// on a named cluster -apply of a plan with none is refused unless given
// -without-rehearsal.
//
// -backup-lvm makes the backup an LVM snapshot of the logical volume under
// DRBD (found on the bootstrap with findmnt, private-chef.rb's
// drbd['disk'] and lvs, or given with -lvm-vg and -lvm-lv), sized from the
// data in use, and checked before every step: past -lvm-threshold percent
// (default 80) the run stops, saying how full it is and the lvextend to
// run, and -resume goes on once it was.
//
// -config, -hosts, -ssh-config, -accept-new-host-keys, -ignore and
// -timeout mean what they mean to preflight; -allow-skippable takes a
// path preflight calls skippable. An upgrade needs every node: one that
// cannot be reached stops it before anything is done.
//
// Output (-o): text (the plan, or a progress line per step and per wait);
// markdown (the plan, for a change ticket); json, one JSON object per
// line: without -apply the plan (upgrade.PlanView's schema, "format":
// "chefha.plan-view/1"), then with -v the dry run's events; with -apply the
// runner's events (upgrade.Event: durations in seconds, gate progress as
// fields), the last of them the "outcome" event, which carries the error
// object of a failed or refused run (upgrade.EventError's types, and this
// command's own refusals before the runner starts: "usage",
// "unreachable", "journal-present"). On a simulated cluster every JSON
// line carries "simulation": true. A run that fails or is refused under
// -o json also says why as text on stderr when stderr is a terminal.
//
// -apply appends every command it sends to the nodes, and every file it
// reads or writes there, with the node, the time, how long it took, its
// exit status and the tail of its output (secrets redacted), to a command
// log beside the journal (chefha-upgrade.commands.log for
// chefha-upgrade.json, mode 0600); a run that fails names it.
//
// Ctrl-C once: the running command finishes, the journal is written, the
// run stops (resume later). Twice: chefha stops waiting at once; a package
// install or a migration goes on, detached, on its node.
//
// Exit status: 0 done (or rehearsed), 1 a step failed, the plan was
// refused or its rehearsal did not pass (the message says what to do), 2
// usage or connection, 3 paused for the operator's confirmation, 4
// stopped on request.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/cli"
	"github.com/chefha/chefha/internal/termsafe"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/replica"
	"github.com/chefha/chefha/upgrade"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	// SIGTERM (systemd, kill, a CI runner's timeout) as Ctrl-C: the run
	// stops between two actions, says so in its outcome and gives its
	// locks back; exiting 143 at once left them held.
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go stopOnSignals(sigs, stop, cancel, os.Stderr)
	os.Exit(run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr))
}

// stopOnSignals turns the first signal into a stop between two actions,
// and the second into no longer waiting.
func stopOnSignals(sigs <-chan os.Signal, stop chan<- struct{}, cancel func(), stderr io.Writer) {
	sig := <-sigs
	close(stop)
	fmt.Fprintf(stderr, "\n%s: the running command finishes, then the run stops (Ctrl-C again to stop waiting now)\n", sig)
	sig = <-sigs
	fmt.Fprintf(stderr, "\n%s: no longer waiting; a package install or migration in progress goes on, detached, on its node\n", sig)
	cancel()
}

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitPaused  = 3
	exitStopped = 4
)

// simulatedVersions are the releases the simulated cluster gets packages of.
var simulatedVersions = []string{"1.4.6", "11.0.2", "11.1.8"}

func run(ctx context.Context, stop <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("upgrade", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var named cli.Cluster
	named.Register(fl, "give up reaching the cluster, and reading it for the plan, after this long (each step has its own timeout)")
	target := fl.String("target", "11.1.8", "version to upgrade to")
	apply := fl.Bool("apply", false, "act: without it, only the plan is printed (and with -v the dry run)")
	verbose := fl.Bool("v", false, "without -apply: also the dry run, every action on which node, in order")
	resume := fl.Bool("resume", false, "continue the run recorded in the journal (the plan is rebuilt and must match it)")
	verify := fl.Bool("verify", false, "only run the post-flight: is the cluster a healthy upgraded one")
	phase := fl.String("phase", "upgrade", "upgrade, or cleanup (private-chef-ctl cleanup on an upgraded, verified cluster)")
	fromStep := fl.String("from-step", "", "start at this step ID (the steps before it must be done)")
	yes := fl.Bool("yes", false, "confirm that the upgraded cluster was tested and verified, so cleanup may run")
	out := fl.String("o", "text", "output: text, markdown (the plan) or json (one object per line: the plan, or the run's events)")
	width := fl.Int("width", 0, "columns of the plan's text (default: the terminal's, 80 when not a terminal)")
	journal := fl.String("journal", "", "the run's journal (default chefha-upgrade.json or chefha-cleanup.json; a copy is kept on the bootstrap)")
	backupCmd := fl.String("backup-cmd", "", "command run on the bootstrap before the upgrade to back it up (an LVM or VM snapshot)")
	backupCheck := fl.String("backup-check", "", "command that exits 0 when the backup exists (required with -backup-cmd)")
	backupWaived := fl.String("backup-waived", "", "why no backup command is needed (a backup taken otherwise)")
	backupOutput := fl.Bool("backup-output", false, "keep the backup command's output in the journal (it may name volumes or credentials)")
	recoverRunit := fl.Bool("recover-runit", false, "recover an unhealthy runsvdir as the runbook's example does, instead of refusing")
	allowSkippable := fl.Bool("allow-skippable", false, "take a path the runbook does not recommend and preflight calls skippable (a target below 11.1.3)")
	hold := fl.Duration("hold", 0, "how long keepalived must be stable at each gate (default 30s; 3s on the simulation)")
	reportDir := fl.String("report", "", "after the run, write its report for the change board into this directory: report.md, timeline.svg, report.json (mode 0600)")
	rehearseFlag := fl.Bool("rehearse", false, "rehearse the plan on a replica of the cluster built from what is read of it (read-only), to the end; a rehearsal that passes is recorded beside the journal, and -apply of the same plan then goes ahead")
	withoutRehearsal := fl.Bool("without-rehearsal", false, "with -apply on a named cluster: go on although no rehearsal of this plan passed")
	backupLVM := fl.Bool("backup-lvm", false, "back up the bootstrap with an LVM snapshot of the volume under DRBD that chefha makes and checks before every step (instead of -backup-cmd)")
	lvmVG := fl.String("lvm-vg", "", "with -backup-lvm: the volume group (default: found with findmnt and lvs on the bootstrap)")
	lvmLV := fl.String("lvm-lv", "", "with -backup-lvm: the logical volume under DRBD (default: found, private_chef['drbd']['disk'])")
	lvmName := fl.String("lvm-snapshot", "", "with -backup-lvm: the snapshot's name (default chefha-pre-upgrade)")
	lvmThreshold := fl.Float64("lvm-threshold", 0, "with -backup-lvm: how full (percent) the snapshot may get before the run stops for an lvextend (default 80)")
	var pkgs list
	fl.Var(&pkgs, "package", "a package file (.deb or .rpm; its name and version are read from it); repeat for each version and platform")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	// Every refusal from here on ends, with -o json, in an outcome line.
	o := &output{format: *out, stdout: stdout, stderr: stderr, width: cli.Width(stdout, *width), start: time.Now(), rehearseCmd: sameInputs(fl, "-rehearse"),
		verifyCmd: sameInputs(fl, "-verify"), cleanupCmd: sameInputs(fl, "-phase cleanup -yes")}
	usage := func(err error) int { return o.refused("usage", err) }
	switch {
	case fl.NArg() > 0:
		return usage(fmt.Errorf("unexpected argument %q (flags start with -)", fl.Arg(0)))
	case *out != "text" && *out != "json" && *out != "markdown":
		return usage(errors.New("-o must be text, markdown or json"))
	case *out == "markdown" && (*apply || *verify):
		return usage(errors.New("-o markdown prints the plan: it goes without -apply and -verify"))
	case *phase != string(upgrade.PhaseUpgrade) && *phase != string(upgrade.PhaseCleanup):
		return usage(errors.New("-phase must be upgrade or cleanup"))
	case !named.Named() && *resume:
		return usage(errors.New("-resume continues a real cluster's run: a simulated cluster (no -config or -hosts) lives only as long as one command, and its journal in a temporary directory removed when the command exits, so there is nothing to resume"))
	case *rehearseFlag && (*apply || *resume || *verify || *fromStep != "" || *phase != string(upgrade.PhaseUpgrade) || *out == "markdown"):
		return usage(errors.New("-rehearse runs the upgrade's plan on a replica: it goes without -apply, -resume, -verify, -from-step, -phase cleanup and -o markdown"))
	case *backupLVM && (*backupCmd != "" || *backupCheck != "" || *backupWaived != ""):
		return usage(errors.New("-backup-lvm is the backup: give it or -backup-cmd/-backup-check or -backup-waived, not both"))
	case !*backupLVM && (*lvmVG != "" || *lvmLV != "" || *lvmName != "" || *lvmThreshold != 0):
		return usage(errors.New("-lvm-vg, -lvm-lv, -lvm-snapshot and -lvm-threshold go with -backup-lvm"))
	case *lvmThreshold < 0 || *lvmThreshold >= 100:
		return usage(errors.New("-lvm-threshold is a percentage below 100"))
	case (*lvmVG == "") != (*lvmLV == ""):
		return usage(errors.New("give both -lvm-vg and -lvm-lv, or neither (both are then found on the bootstrap)"))
	}
	tv, err := migration.ParseVersion(*target)
	if err != nil {
		return usage(fmt.Errorf("-target: %w", err))
	}
	ignore, err := named.IgnoreNames()
	if err != nil {
		return usage(fmt.Errorf("-ignore: %w", err))
	}
	if *journal == "" {
		*journal = "chefha-" + *phase + ".json"
	}
	var cl *cluster.Cluster
	var simClock *clustertest.FakeClock
	if !named.Named() {
		o.simulated = true
		// One clock for the nodes and the runner's gates, moved on by
		// whoever waits: the simulation's minutes (the upgrade's
		// two-minute sleep, keepalived's transitions) take no real time.
		clock := clustertest.NewFakeClock(time.Now())
		simClock = clock
		sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 3, TransitionTime: time.Second, Clock: clock.Now, Sleep: clock.Advance})
		if err != nil {
			return usage(fmt.Errorf("simulated cluster: %w", err))
		}
		defer sim.Close()
		if cl, err = sim.Dial(ctx); err != nil {
			if cl != nil {
				cl.Close()
			}
			return usage(fmt.Errorf("simulated cluster: %w", err))
		}
		dir, err := os.MkdirTemp("", "chefha-upgrade-")
		if err != nil {
			cl.Close()
			return usage(err)
		}
		defer os.RemoveAll(dir)
		if len(pkgs) == 0 {
			for _, v := range simulatedVersions {
				p, err := clustertest.WritePackage(dir, "debian", v)
				if err != nil {
					cl.Close()
					return usage(err)
				}
				pkgs = append(pkgs, p)
			}
		}
		if *backupCmd == "" && *backupWaived == "" && !*backupLVM {
			*backupWaived = "simulated cluster"
		}
		// A simulated cluster lives as long as this process: its journal too.
		*journal = filepath.Join(dir, filepath.Base(*journal))
		if *hold == 0 {
			*hold = 3 * time.Second
		}
		if o.format == "text" {
			fmt.Fprint(stdout, cli.Wrap("SIMULATION: no -config or -hosts given, so this works on a simulated 1.4.6 cluster of 2 back ends and 3 front ends, whose waits take no real time.", o.width)+"\n")
		}
	} else {
		if s := named.Reaching(); s != "" && o.format != "json" {
			fmt.Fprintln(stderr, s)
		}
		dctx, cancel := context.WithTimeout(ctx, named.Timeout)
		cl, err = named.Dial(dctx)
		cancel()
		if cl == nil {
			return o.refused("unreachable", err)
		}
		if err != nil {
			cl.Close()
			return o.refused("unreachable", fmt.Errorf("%w: an upgrade needs every node; preflight reports on the others", err))
		}
	}
	defer cl.Close()

	backup := upgrade.Backup{Command: *backupCmd, Check: *backupCheck, Waived: *backupWaived}
	var vol *replica.Volume
	if *rehearseFlag && !*backupLVM {
		vol = productionVolume(ctx, cl, named.Timeout)
	}
	if *backupLVM {
		snap, v, code := lvmBackup(ctx, cl, *lvmVG, *lvmLV, *rehearseFlag, named.Timeout, o)
		if code != exitOK {
			return code
		}
		snap.Name, snap.Threshold = *lvmName, *lvmThreshold
		backup, vol = upgrade.Backup{LVM: snap}, v
	}
	opts := []upgrade.Option{upgrade.WithTarget(tv.String()), upgrade.WithPhase(upgrade.Phase(*phase)),
		upgrade.WithBackup(backup), upgrade.WithGateTimings(*hold, 0, 0), upgrade.WithIgnore(ignore...)}
	for _, p := range pkgs {
		opts = append(opts, upgrade.WithPackage(p))
	}
	for on, opt := range map[*bool]upgrade.Option{recoverRunit: upgrade.WithRecoverRunit(), allowSkippable: upgrade.WithSkippable(),
		yes: upgrade.WithConfirmation(), backupOutput: upgrade.WithBackupOutput()} {
		if *on {
			opts = append(opts, opt)
		}
	}
	if *fromStep != "" {
		opts = append(opts, upgrade.WithFromStep(*fromStep))
	}
	if simClock != nil {
		opts = append(opts, upgrade.WithClock(simClock))
	}
	if *verify {
		return postflight(ctx, cl, tv, o)
	}
	rehearsals := filepath.Dir(*journal)
	if *rehearseFlag {
		return rehearse(ctx, stop, cl, opts, vol, rehearsals, named.Timeout, o)
	}
	if named.Named() && *apply {
		// The runbook's first rule: a real run of a plan no rehearsal
		// passed asks for the operator's explicit word.
		opts = append(opts, upgrade.WithRehearsals(rehearsals))
		if *withoutRehearsal {
			opts = append(opts, upgrade.WithoutRehearsal())
		}
	}

	jrnl := upgrade.Journal(upgrade.FileJournal{Path: *journal})
	if boot, ok := cl.Topology.Bootstrap(); ok {
		if n, ok := cl.Node(boot.Name); ok {
			path := strings.TrimSuffix(upgrade.NodeJournalPath, ".json") + "-" + *phase + ".json"
			jrnl = upgrade.MirrorJournal{jrnl, upgrade.NodeJournal{Node: n, Path: path}}
		}
	}
	if rec, err := jrnl.Load(ctx); err == nil && *apply && !*resume {
		err := fmt.Errorf("the journal %s holds a run that has not finished: one running now (whose lock a resume meets), or one that stopped part-way. Run again with -resume to continue it (the plan is rebuilt and checked against it), or move the journal away to start over", jrnl)
		if rec.Finished() {
			err = fmt.Errorf("the journal %s holds a finished run: move it away (keep it: it is that run's record) to start another", jrnl)
		}
		return o.refused("journal-present", err)
	}
	if !*apply {
		opts = append(opts, upgrade.WithDryRun())
	}
	var events []upgrade.Event
	show := o.event(*apply || *verbose)
	opts = append(opts, upgrade.WithJournal(jrnl), upgrade.WithEvents(func(ev upgrade.Event) {
		events = append(events, ev)
		show(ev)
	}))
	r := upgrade.NewRunner(cl, opts...)
	o.record = r.Record

	var view *upgrade.PlanView
	if !*apply {
		pctx, cancel := context.WithTimeout(ctx, named.Timeout)
		plan, perr := r.Plan(pctx)
		if perr == nil {
			v := upgrade.DescribePlan(plan, upgrade.Gather(pctx, cl))
			if rh, err := upgrade.LoadRehearsal(rehearsals, plan.Hash()); err == nil {
				v = v.WithRehearsal(rh) // how long each stop of service lasted there
			}
			v.Next = nextCommand(fl)
			view = &v
		}
		cancel()
		switch {
		case view != nil && (!*verbose || o.format == "markdown"):
			code := o.plan(*view)
			if o.format == "text" && *backupCmd == "" && *backupWaived == "" && !*backupLVM {
				fmt.Fprintln(stdout, backupFlags)
			}
			return code
		case view != nil && o.format == "json":
			// The plan's line first, then the dry run's events.
			if code := o.plan(*view); code != exitOK {
				return code
			}
		}
		// -v, or a plan refused: the dry run lists the actions, or ends
		// in the outcome event that says why.
	}
	go func() {
		select {
		case <-stop:
			r.Stop()
		case <-ctx.Done():
		}
	}()
	err = r.Run(ctx)
	if *reportDir != "" {
		if rerr := writeReport(*reportDir, r.Record(), events, rehearsals, o.simulated); rerr != nil {
			fmt.Fprintln(stderr, "upgrade: -report:", termsafe.String(rerr.Error()))
		} else if o.format == "text" {
			fmt.Fprintf(stdout, "\nreport written to %s (report.md, timeline.svg, report.json)\n", termsafe.Line(*reportDir))
		}
	}
	if view != nil && err == nil {
		if o.format != "text" {
			return exitOK
		}
		// The plan after the actions: it ends with the command to run next.
		fmt.Fprintf(stdout, "\ndry run: %d actions; nothing was changed.\n\n", len(r.Actions()))
		return o.plan(*view)
	}
	outcome := upgrade.Outcome("")
	for _, ev := range events {
		if ev.Kind == upgrade.EventOutcome {
			outcome = ev.Outcome
		}
	}
	o.end(err, outcome, *apply, *phase, tv.String(), jrnl)
	var at *upgrade.AtTargetError
	switch {
	case err == nil, errors.As(err, &at) && len(at.Behind) == 0:
		return exitOK
	case errors.Is(err, upgrade.ErrNeedsConfirmation):
		return exitPaused
	case errors.Is(err, upgrade.ErrStopped):
		return exitStopped
	}
	return exitFailed
}
