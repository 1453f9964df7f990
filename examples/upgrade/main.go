// Command upgrade plans and runs an HA Enterprise Chef upgrade, the
// runbook's steps in order, resumably.
//
// By default it prints the plan and a dry run (every action, on which
// node, in order). With no cluster named it works on a simulated cluster.
//
//	upgrade                                  # plan + dry run on a simulated 1.4.6 cluster
//	upgrade -apply                           # upgrade the simulated cluster to 11.1.8, with progress
//	upgrade -config /etc/opscode/private-chef.rb -target 11.1.8 \
//	    -package debian=/srv/private-chef_11.1.8-1_amd64.deb -backup-cmd 'lvcreate -s -n chef-pre -L 10G vg0/chef' -apply
//	upgrade -config … -apply -resume         # after an interruption: continue after the last finished step
//
// Exit status: 0 done, 1 a step failed (the message says what to do), 2 usage.
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
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/upgrade"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type packages map[string]map[string]string

func (p packages) String() string { return fmt.Sprint(map[string]map[string]string(p)) }

// Set takes family=path; the version is read from the file name.
func (p packages) Set(s string) error {
	fam, path, ok := strings.Cut(s, "=")
	if !ok || (fam != "debian" && fam != "rhel") {
		return fmt.Errorf("want debian=FILE or rhel=FILE")
	}
	base := filepath.Base(path)
	var v string
	for _, f := range strings.FieldsFunc(base, func(r rune) bool { return r == '_' || r == '-' }) {
		if x, err := migration.ParseVersion(f); err == nil {
			v = fmt.Sprintf("%d.%d.%d", x.Major(), x.Minor(), x.Patch())
			break
		}
	}
	if v == "" {
		return fmt.Errorf("no version in package file name %s", base)
	}
	if p[fam] == nil {
		p[fam] = map[string]string{}
	}
	p[fam][v] = path
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("upgrade", flag.ContinueOnError)
	fl.SetOutput(stderr)
	config := fl.String("config", "", "private-chef.rb of the cluster (servers reached by name through the SSH config)")
	sshConfig := fl.String("ssh-config", "", "OpenSSH client config (default ~/.ssh/config)")
	target := fl.String("target", "11.1.8", "version to upgrade to")
	apply := fl.Bool("apply", false, "act: without it, only the plan and a dry run are printed")
	resume := fl.Bool("resume", false, "continue a run from its state file (refused if the plan differs)")
	fromStep := fl.String("from-step", "", "start at this step ID (earlier steps must be finished)")
	yes := fl.Bool("yes", false, "confirm that the upgraded cluster was verified, so cleanup may run")
	cleanup := fl.Bool("cleanup", false, "end with private-chef-ctl cleanup (still needs -yes)")
	out := fl.String("o", "text", "output: text (progress lines) or json (one event per line)")
	stateFile := fl.String("state", "chefha-upgrade.json", "checkpoint file")
	backupCmd := fl.String("backup-cmd", "", "command run on the bootstrap before each hop to back it up")
	backupWaived := fl.String("backup-waived", "", "why no backup command is needed (a backup taken otherwise)")
	recoverRunit := fl.Bool("recover-runit", false, "recover an unhealthy runsvdir as the runbook does, instead of refusing")
	hold := fl.Duration("hold", 0, "how long keepalived must be stable at each gate (default 30s; 3s on the simulation)")
	pk := packages{}
	fl.Var(pk, "package", "package file per family, debian=FILE or rhel=FILE (repeat for each version of a multi-hop plan)")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *out != "text" && *out != "json" {
		fmt.Fprintln(stderr, "upgrade: -o must be text or json")
		return 2
	}
	tv, err := migration.ParseVersion(*target)
	if err != nil {
		fmt.Fprintf(stderr, "upgrade: -target: %v\n", err)
		return 2
	}
	var cl *cluster.Cluster
	if *config == "" {
		sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 3, TransitionTime: time.Second})
		if err != nil {
			fmt.Fprintf(stderr, "upgrade: simulated cluster: %v\n", err)
			return 2
		}
		defer sim.Close()
		if cl, err = sim.Dial(ctx); err != nil {
			fmt.Fprintf(stderr, "upgrade: simulated cluster: %v\n", err)
			return 2
		}
		dir, err := os.MkdirTemp("", "chefha-upgrade-")
		if err != nil {
			fmt.Fprintln(stderr, "upgrade:", err)
			return 2
		}
		defer os.RemoveAll(dir)
		for _, v := range []string{"1.4.6", "11.0.2", "11.1.8"} {
			p := filepath.Join(dir, "private-chef_"+v+"-1_amd64.deb")
			os.WriteFile(p, []byte("private-chef "+v+"\n"), 0o644)
			pk.Set("debian=" + p)
		}
		if *backupCmd == "" && *backupWaived == "" {
			*backupWaived = "simulated cluster"
		}
		if *stateFile == "chefha-upgrade.json" {
			*stateFile = filepath.Join(dir, "state.json")
		}
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
			return 2
		}
		top, err := cluster.ParseTopology(f)
		f.Close()
		if err != nil {
			fmt.Fprintln(stderr, "upgrade:", err)
			return 2
		}
		cl, err = cluster.Dial(ctx, top, cluster.ServerConfigs(*sshConfig, false))
		if err != nil {
			fmt.Fprintln(stderr, "upgrade:", err)
			return 2
		}
	}
	defer cl.Close()

	if _, err := os.Stat(*stateFile); err == nil && *apply && !*resume {
		fmt.Fprintf(stderr, "upgrade: %s exists: an earlier run stopped part-way. Run again with -resume to continue it, or move the file away to start over\n", *stateFile)
		return 2
	}
	var plan upgrade.Plan
	if *resume {
		b, err := os.ReadFile(*stateFile)
		var st upgrade.State
		if err == nil {
			err = json.Unmarshal(b, &st)
		}
		if err != nil {
			fmt.Fprintf(stderr, "upgrade: -resume: %v\n", err)
			return 2
		}
		plan = st.Plan
	} else {
		var cmd []string
		if *backupCmd != "" {
			cmd = []string{"sh", "-c", *backupCmd}
		}
		facts := upgrade.Gather(ctx, cl)
		plan, err = upgrade.BuildPlan(facts, tv, upgrade.PlanOptions{BackupCommand: cmd, BackupWaived: *backupWaived,
			Packages: pk, RecoverRunit: *recoverRunit, Cleanup: *cleanup})
		if err != nil {
			fmt.Fprintf(stderr, "upgrade: %v\n", err)
			return 1
		}
	}
	start := time.Now()
	r := &upgrade.Runner{Cluster: cl, Plan: plan, StateFile: *stateFile, DryRun: !*apply, ConfirmCleanup: *yes,
		FromStep: *fromStep, Hold: *hold}
	if !*apply {
		r.StateFile = ""
	}
	enc := json.NewEncoder(stdout)
	r.OnEvent = func(ev upgrade.Event) {
		if *out == "json" {
			enc.Encode(ev)
			return
		}
		fmt.Fprintln(stdout, progressLine(time.Since(start), ev))
	}
	err = r.Run(ctx)
	if *out == "text" {
		switch {
		case err != nil:
			fmt.Fprintf(stdout, "\nstopped after %s: %v\nstate kept in %s: fix the cause and run again with -resume\n", time.Since(start).Round(time.Millisecond), err, *stateFile)
		case !*apply:
			fmt.Fprintf(stdout, "\ndry run: %d steps, %d actions; nothing was changed. Run with -apply to act.\n", len(plan.Steps), len(r.Actions))
		default:
			fmt.Fprintf(stdout, "\nupgraded to %s in %s\n", plan.To, time.Since(start).Round(time.Millisecond))
		}
	}
	if err != nil {
		return 1
	}
	return 0
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
	}
	return fmt.Sprintf("%s     %s: %s", t, ev.Kind, ev.Message)
}
