package upgrade_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/upgrade"
)

// The library end to end on a simulated cluster: the pre-flight, the plan,
// a run stopped on request between two steps, and the run resumed from
// its journal, which skips what was done.
func Example() {
	ctx := context.Background()
	// One fake clock for the nodes and the gates: keepalived's minutes
	// and the upgrade's two-minute sleep take no real time.
	clock := clustertest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 1, Clock: clock.Now, Sleep: clock.Advance})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sim.Close()
	cl, err := sim.Dial(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Close()
	dir, err := os.MkdirTemp("", "chefha-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	pkg, err := clustertest.WritePackage(dir, "debian", "11.1.8")
	if err != nil {
		fmt.Println(err)
		return
	}
	// One set of options describes the upgrade, for every function.
	opts := []upgrade.Option{
		upgrade.WithTarget("11.1.8"),
		upgrade.WithPackage(pkg),
		upgrade.WithBackup(upgrade.Backup{Waived: "VM snapshot taken before"}),
		upgrade.WithJournal(upgrade.FileJournal{Path: filepath.Join(dir, "journal.json")}),
		upgrade.WithClock(clock), // its waits advance the fake clock: no wall time
	}

	rep, err := upgrade.Preflight(ctx, cl, opts...)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("pre-flight: %s → %s, %d fail, %d warn\n", rep.Installed, rep.Target, rep.Summary[upgrade.Fail], rep.Summary[upgrade.Warn])

	facts := upgrade.Gather(ctx, cl)
	plan, err := upgrade.BuildPlan(facts, opts...)
	if err != nil {
		fmt.Println(err)
		return
	}
	view := upgrade.DescribePlan(plan, facts)
	fmt.Printf("plan: %d steps\n", len(view.Steps))
	for _, o := range view.Outages {
		fmt.Printf("  stop of service (%s): %s … %s\n", o.Kind, o.FromStep, o.UntilStep)
	}

	var r *upgrade.Runner
	r = upgrade.NewRunner(cl, append(opts, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventStepDone && ev.Step == "hop1/install-package" {
			r.Stop() // as on Ctrl-C: the run ends between two actions
		}
	}))...)
	err = r.Run(ctx)
	fmt.Println("first run stopped:", errors.Is(err, upgrade.ErrStopped))

	recorded := 0
	resumed := upgrade.NewRunner(cl, append(opts, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventStepSkip && ev.Message == "recorded done, and its effect is on the cluster" {
			recorded++
		}
		if ev.Kind == upgrade.EventOutcome {
			fmt.Println("resumed run:", ev.Outcome)
		}
	}))...)
	if err := resumed.Run(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("steps the journal said were done:", recorded)

	after, err := upgrade.Postflight(ctx, cl, opts...)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("post-flight: %s, failed %v\n", after.Installed, after.Failed())
	// Output:
	// pre-flight: 1.4.6 → 11.1.8, 0 fail, 2 warn
	// plan: 15 steps
	//   stop of service (frontends): hop1/stop-frontends … hop1/start-all
	//   stop of service (failover): hop1/stop-standby-keepalived … hop1/start-all
	//   stop of service (bootstrap): hop1/reconfigure-bootstrap … hop1/upgrade-bootstrap
	// first run stopped: true
	// resumed run: done
	// steps the journal said were done: 8
	// post-flight: 11.1.8, failed false
}
