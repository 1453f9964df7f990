// Command upgrade plans and runs an HA Enterprise Chef upgrade, the
// runbook's steps in order, resumably.
//
// By default it prints the plan and a dry run (every action, on which
// node, in order). With no cluster named it works on a simulated cluster.
//
//	upgrade                                  # plan + dry run on a simulated 1.4.6 cluster
//	upgrade -apply                           # upgrade the simulated cluster to 11.1.8, with progress
//	upgrade -config /etc/opscode/private-chef.rb -target 11.1.8 \
//	    -package /srv/private-chef_11.1.8-1_amd64.deb \
//	    -backup-cmd 'lvcreate -s -n chef-pre -L 10G vg0/chef' -backup-check 'lvs vg0/chef-pre' -apply
//	upgrade -config … -apply -resume         # after an interruption: rebuild the plan, check the journal, go on
//	upgrade -config … -verify                # the post-flight alone
//	upgrade -config … -phase cleanup -yes -apply   # later: private-chef-ctl cleanup, once verified
//
// Ctrl-C once: the running command finishes, the journal is written, the
// run stops (resume later). Twice: chefha stops waiting at once; a package
// install or a migration goes on, detached, on its node.
//
// Exit status: 0 done, 1 a step failed or the plan was refused (the
// message says what to do), 2 usage or connection, 3 paused for the
// operator's confirmation, 4 stopped on request.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/pkgfile"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/upgrade"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt)
	go func() {
		<-sigs
		close(stop)
		fmt.Fprintln(os.Stderr, "\ninterrupt: the running command finishes, then the run stops (Ctrl-C again to stop waiting now)")
		<-sigs
		fmt.Fprintln(os.Stderr, "\ninterrupt: no longer waiting; a package install or migration in progress goes on, detached, on its node")
		cancel()
	}()
	os.Exit(run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr))
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

func run(ctx context.Context, stop <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("upgrade", flag.ContinueOnError)
	fl.SetOutput(stderr)
	config := fl.String("config", "", "private-chef.rb of the cluster (servers reached by name through the SSH config)")
	sshConfig := fl.String("ssh-config", "", "OpenSSH client config (default ~/.ssh/config)")
	target := fl.String("target", "11.1.8", "version to upgrade to")
	apply := fl.Bool("apply", false, "act: without it, only the plan and a dry run are printed")
	resume := fl.Bool("resume", false, "continue the run recorded in the journal (the plan is rebuilt and must match it)")
	verify := fl.Bool("verify", false, "only run the post-flight: is the cluster a healthy upgraded one")
	phase := fl.String("phase", "upgrade", "upgrade, or cleanup (private-chef-ctl cleanup on an upgraded, verified cluster)")
	fromStep := fl.String("from-step", "", "start at this step ID (the steps before it must be done)")
	yes := fl.Bool("yes", false, "confirm that the upgraded cluster was tested and verified, so cleanup may run")
	out := fl.String("o", "text", "output: text (progress lines) or json (one event per line)")
	journal := fl.String("journal", "", "the run's journal (default chefha-upgrade.json or chefha-cleanup.json; a copy is kept on the bootstrap)")
	backupCmd := fl.String("backup-cmd", "", "command run on the bootstrap before the upgrade to back it up (an LVM or VM snapshot)")
	backupCheck := fl.String("backup-check", "", "command that exits 0 when the backup exists (required with -backup-cmd)")
	backupWaived := fl.String("backup-waived", "", "why no backup command is needed (a backup taken otherwise)")
	backupOutput := fl.Bool("backup-output", false, "keep the backup command's output in the journal (it may name volumes or credentials)")
	recoverRunit := fl.Bool("recover-runit", false, "recover an unhealthy runsvdir as the runbook's example does, instead of refusing")
	allowSkippable := fl.Bool("allow-skippable", false, "allow a path the runbook does not recommend (a target below 11.1.3)")
	hold := fl.Duration("hold", 0, "how long keepalived must be stable at each gate (default 30s; 3s on the simulation)")
	var pkgs list
	fl.Var(&pkgs, "package", "a package file (.deb or .rpm; its name and version are read from it); repeat for each version and platform")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *out != "text" && *out != "json" {
		fmt.Fprintln(stderr, "upgrade: -o must be text or json")
		return exitUsage
	}
	if *phase != string(upgrade.PhaseUpgrade) && *phase != string(upgrade.PhaseCleanup) {
		fmt.Fprintln(stderr, "upgrade: -phase must be upgrade or cleanup")
		return exitUsage
	}
	tv, err := migration.ParseVersion(*target)
	if err != nil {
		fmt.Fprintf(stderr, "upgrade: -target: %v\n", err)
		return exitUsage
	}
	if *journal == "" {
		*journal = "chefha-" + *phase + ".json"
	}
	var cl *cluster.Cluster
	simulated := *config == ""
	if simulated {
		sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 3, TransitionTime: time.Second})
		if err != nil {
			fmt.Fprintf(stderr, "upgrade: simulated cluster: %v\n", err)
			return exitUsage
		}
		defer sim.Close()
		if cl, err = sim.Dial(ctx); err != nil {
			fmt.Fprintf(stderr, "upgrade: simulated cluster: %v\n", err)
			return exitUsage
		}
		dir, err := os.MkdirTemp("", "chefha-upgrade-")
		if err != nil {
			fmt.Fprintln(stderr, "upgrade:", err)
			return exitUsage
		}
		defer os.RemoveAll(dir)
		if len(pkgs) == 0 {
			if pkgs, err = simulatedPackages(dir); err != nil {
				fmt.Fprintln(stderr, "upgrade:", err)
				return exitUsage
			}
		}
		if *backupCmd == "" && *backupWaived == "" {
			*backupWaived = "simulated cluster"
		}
		// A simulated cluster lives as long as this process: its journal too.
		*journal = filepath.Join(dir, filepath.Base(*journal))
		if *hold == 0 {
			*hold = 3 * time.Second
		}
		if *out == "text" {
			fmt.Fprintln(stdout, "SIMULATION: no -config given, so this works on a simulated 1.4.6 cluster of 2 back ends and 3 front ends.")
		}
	} else {
		f, err := os.Open(*config)
		if err != nil {
			fmt.Fprintln(stderr, "upgrade:", err)
			return exitUsage
		}
		top, err := cluster.ParseTopology(f)
		f.Close()
		if err != nil {
			fmt.Fprintln(stderr, "upgrade:", err)
			return exitUsage
		}
		cl, err = cluster.Dial(ctx, top, cluster.ServerConfigs(*sshConfig, false))
		if err != nil {
			fmt.Fprintln(stderr, "upgrade:", err)
			return exitUsage
		}
	}
	defer cl.Close()

	opts := []upgrade.Option{upgrade.WithTarget(tv), upgrade.WithPhase(upgrade.Phase(*phase)),
		upgrade.WithBackup(upgrade.Backup{Command: *backupCmd, Check: *backupCheck, Waived: *backupWaived}),
		upgrade.WithGateTimings(*hold, 0, 0)}
	for _, p := range pkgs {
		opts = append(opts, upgrade.WithPackage(p))
	}
	for on, o := range map[bool]upgrade.Option{*recoverRunit: upgrade.WithRecoverRunit(), *allowSkippable: upgrade.WithSkippable(),
		*yes: upgrade.WithConfirmation(), *backupOutput: upgrade.WithBackupOutput()} {
		if on {
			opts = append(opts, o)
		}
	}
	if *fromStep != "" {
		opts = append(opts, upgrade.WithFromStep(*fromStep))
	}
	if *verify {
		return postflight(ctx, cl, tv, *out, stdout, stderr)
	}

	jrnl := upgrade.Journal(upgrade.FileJournal{Path: *journal})
	if boot, ok := cl.Topology.Bootstrap(); ok {
		if n, ok := cl.Node(boot.Name); ok {
			path := strings.TrimSuffix(upgrade.NodeJournalPath, ".json") + "-" + *phase + ".json"
			jrnl = upgrade.MirrorJournal{jrnl, upgrade.NodeJournal{Node: n, Path: path}}
		}
	}
	if _, err := jrnl.Load(ctx); err == nil && *apply && !*resume {
		fmt.Fprintf(stderr, "upgrade: the journal %s holds a run that stopped part-way. Run again with -resume to continue it (the plan is rebuilt and checked against it), or move the journal away to start over\n", jrnl)
		return exitUsage
	}
	if !*apply {
		opts = append(opts, upgrade.WithDryRun())
	}
	opts = append(opts, upgrade.WithJournal(jrnl))

	start := time.Now()
	enc := json.NewEncoder(stdout)
	opts = append(opts, upgrade.WithEvents(func(ev upgrade.Event) {
		if *out == "json" {
			enc.Encode(ev)
			return
		}
		if line := progressLine(time.Since(start), ev); line != "" {
			fmt.Fprintln(stdout, line)
		}
	}))
	r := upgrade.NewRunner(cl, opts...)
	go func() {
		select {
		case <-stop:
			r.Stop()
		case <-ctx.Done():
		}
	}()
	err = r.Run(ctx)
	if *out == "text" {
		switch {
		case errors.Is(err, upgrade.ErrNeedsConfirmation):
			fmt.Fprintf(stdout, "\npaused: %v.\nOnce it is, run again with -yes.\n", err)
		case errors.Is(err, upgrade.ErrStopped):
			fmt.Fprintf(stdout, "\nstopped on request after %s; the journal is %s: run again with -resume to continue\n", time.Since(start).Round(time.Millisecond), jrnl)
		case err != nil:
			fmt.Fprintf(stdout, "\nstopped after %s: %v\n", time.Since(start).Round(time.Millisecond), err)
			if *apply {
				fmt.Fprintf(stdout, "the journal is %s: fix the cause and run again with -resume\n", jrnl)
			}
		case !*apply:
			fmt.Fprintf(stdout, "\ndry run: %d actions; nothing was changed. Run with -apply to act.\n", len(r.Actions()))
		default:
			fmt.Fprintf(stdout, "\n%s to %s done in %s\n", *phase, tv, time.Since(start).Round(time.Millisecond))
		}
	} else if err != nil && !isTerminalState(err) {
		fmt.Fprintln(stderr, "upgrade:", err)
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, upgrade.ErrNeedsConfirmation):
		return exitPaused
	case errors.Is(err, upgrade.ErrStopped):
		return exitStopped
	}
	return exitFailed
}

func isTerminalState(err error) bool {
	return errors.Is(err, upgrade.ErrNeedsConfirmation) || errors.Is(err, upgrade.ErrStopped)
}

// postflight is -verify: the post-upgrade checks alone.
func postflight(ctx context.Context, cl *cluster.Cluster, target interface{ String() string }, out string, stdout, stderr io.Writer) int {
	v, _ := migration.ParseVersion(target.String())
	rep, err := upgrade.Postflight(ctx, cl, upgrade.WithTarget(v))
	if err != nil {
		fmt.Fprintln(stderr, "upgrade:", err)
		return exitUsage
	}
	if out == "json" {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "upgrade:", err)
		return exitUsage
	}
	if rep.Failed() {
		return exitFailed
	}
	return exitOK
}

// simulatedPackages writes a .deb of every simulated release: the
// simulated nodes install real package files, read as dpkg would.
func simulatedPackages(dir string) ([]string, error) {
	var out []string
	for _, v := range []string{"1.4.6", "11.0.2", "11.1.8"} {
		p := filepath.Join(dir, "private-chef_"+v+"-1_amd64.deb")
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		err = pkgfile.WriteDeb(f, pkgfile.Meta{Name: "private-chef", Version: v, Release: "1", Arch: "amd64"})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func progressLine(elapsed time.Duration, ev upgrade.Event) string {
	t := fmt.Sprintf("[%7.1fs]", elapsed.Seconds())
	switch ev.Kind {
	case upgrade.EventPlan:
		return t + " plan " + ev.Message
	case upgrade.EventStepStart:
		return fmt.Sprintf("%s ▶ %s: %s", t, ev.Step, ev.Title)
	case upgrade.EventStepDone:
		return fmt.Sprintf("%s ✓ %s (%s)", t, ev.Step, ev.Elapsed.Round(time.Millisecond))
	case upgrade.EventStepSkip:
		return fmt.Sprintf("%s · %s: %s", t, ev.Step, ev.Message)
	case upgrade.EventStepFailed:
		return fmt.Sprintf("%s ✗ %s", t, ev.Message)
	case upgrade.EventAction:
		if ev.DryRun {
			return fmt.Sprintf("%s     would: %s", t, ev.Message)
		}
		return fmt.Sprintf("%s     %s", t, ev.Message)
	case upgrade.EventGateWait:
		return fmt.Sprintf("%s     waiting: %s", t, ev.Message)
	case upgrade.EventGateSkip:
		return fmt.Sprintf("%s     no wait: %s", t, ev.Message)
	case upgrade.EventActionDone, upgrade.EventOutcome:
		return ""
	}
	return fmt.Sprintf("%s     %s: %s", t, ev.Kind, ev.Message)
}
