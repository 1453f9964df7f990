package replica_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/replica"
	"github.com/chefha/chefha/upgrade"
)

// Rehearse production's upgrade on a replica built from what was read of
// it. Here "production" is itself a simulated 1.4.6 cluster whose back
// ends lost their migration level (OC-11297); against a real cluster,
// prod comes from cluster.Dial.
func Example() {
	ctx := context.Background()
	clock := clustertest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 1, Clock: clock.Now, Sleep: clock.Advance,
		Knobs: []clustertest.Knob{clustertest.OC11297()}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sim.Close()
	prod, err := sim.Dial(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer prod.Close()

	// Read production: its facts, in memory, and its bootstrap's /etc/opscode.
	facts := upgrade.Gather(ctx, prod)
	boot, _ := prod.Node("be1.chefha.test")
	rclock := clustertest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	r, err := replica.New(ctx, replica.Source{Facts: facts, Bootstrap: boot},
		replica.Options{Target: replica.Simulation{Clock: rclock.Now, Sleep: rclock.Advance}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	for _, s := range r.Report.Reproduced {
		if strings.HasPrefix(s, "be2.chefha.test: private-chef") {
			fmt.Println(s)
		}
	}

	// The plan is production's; the rehearsal runs it on the replica.
	dir, _ := os.MkdirTemp("", "chefha-example-")
	defer os.RemoveAll(dir)
	pkg, err := clustertest.WritePackage(dir, "debian", "11.1.8")
	if err != nil {
		fmt.Println(err)
		return
	}
	opts := []upgrade.Option{upgrade.WithTarget("11.1.8"), upgrade.WithPackage(pkg),
		upgrade.WithBackup(upgrade.Backup{Waived: "example"})}
	plan, err := upgrade.NewRunner(prod, opts...).Plan(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	rh, err := r.Rehearse(ctx, plan, append(opts, upgrade.WithClock(rclock))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("rehearsal passed:", rh.Passed, "- same plan:", rh.PlanHash == plan.Hash())
	fmt.Println("production upgraded:", sim.Bootstrap().Package() != "1.4.6")
	// Output:
	// be2.chefha.test: private-chef 1.4.6; no migration-level file (as OC-11297 leaves a back end)
	// rehearsal passed: true - same plan: true
	// production upgraded: false
}
