package upgrade_test

import (
	"context"
	"fmt"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/upgrade"
)

// Watch a simulated cluster while keepalived is stopped on the master, as
// the runbook's failover does: the bootstrap leaves master, the secondary
// takes over and becomes DRBD Primary, and cluster.log says so once.
func ExampleWatch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := clustertest.NewFakeClock(time.Date(2014, 6, 10, 14, 0, 0, 0, time.UTC))
	sim, err := clustertest.New(clustertest.Options{Version: "11.1.8", Frontends: 1, Clock: clock.Now, Sleep: clock.Advance})
	if err != nil {
		panic(err)
	}
	defer sim.Close()
	clock.Advance(time.Minute) // the first election is over
	cl, err := sim.Dial(ctx)
	if err != nil {
		panic(err)
	}
	defer cl.Close()

	snaps, err := upgrade.Watch(ctx, cl, upgrade.WatchOptions{
		Interval: 5 * time.Second,
		Clock:    clock, // a real watch leaves it out: the wall clock
		Backlog:  -1,    // no old cluster.log lines
	})
	if err != nil {
		panic(err)
	}
	show := func(s upgrade.WatchSnapshot) {
		fmt.Printf("#%d\n", s.Seq)
		for _, b := range s.Backends {
			fmt.Printf("  %s; DRBD %s\n", b.Summary(), b.DRBD)
			for _, e := range b.Events {
				if e.IsTransition() {
					fmt.Printf("    log: %s\n", e.Message)
				}
			}
		}
		for _, f := range s.Frontends {
			fmt.Printf("  %s: services %d up, %d down\n", f.Name, f.Services.Up, f.Services.Down)
		}
		for _, f := range s.Findings {
			fmt.Printf("  %s\n", f.Problem)
		}
	}
	show(<-snaps)
	be1, _ := cl.Node("be1.chefha.test")
	if _, err := be1.Run(ctx, cluster.Command("private-chef-ctl", "stop", "keepalived").AsRoot()); err != nil {
		panic(err)
	}
	for range 2 {
		clock.Advance(5 * time.Second)
		show(<-snaps)
	}
	// Output:
	// #1
	//   be1.chefha.test: master, holds VIP; DRBD cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate
	//   be2.chefha.test: backup; DRBD cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate
	//   fe1.chefha.test: services 6 up, 0 down
	// #2
	//   be1.chefha.test: backup; DRBD cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate
	//     log: Transitioning to backup
	//     log: Transitioned to backup
	//   be2.chefha.test: backup (requested master), transition lock held by pid 1539, holds VIP; DRBD cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate
	//     log: Transitioning to master
	//   fe1.chefha.test: services 6 up, 0 down
	//   in-transition
	//   no-master
	//   vip-on-backup
	// #3
	//   be1.chefha.test: backup; DRBD cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate
	//   be2.chefha.test: master, holds VIP; DRBD cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate
	//     log: Transitioned to master
	//   fe1.chefha.test: services 6 up, 0 down
}
