package keepalived_test

import (
	"context"
	"fmt"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/keepalived"
)

// Watch the back ends of a simulated cluster while keepalived is stopped
// on the master, as the runbook's failover does: the bootstrap leaves
// master, the secondary takes over, and cluster.log says so once.
func ExampleWatch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := clustertest.NewFakeClock(time.Date(2014, 6, 10, 14, 0, 0, 0, time.UTC))
	sim, err := clustertest.New(clustertest.Options{Version: "11.1.8", Clock: clock.Now, Sleep: clock.Advance})
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
	be1, _ := cl.Node("be1.chefha.test")
	be2, _ := cl.Node("be2.chefha.test")

	snaps := keepalived.Watch(ctx, [2]cluster.Node{be1, be2}, keepalived.WatchOptions{
		VIP:      cl.Topology.BackendVIP.IPAddress,
		Interval: 5 * time.Second,
		Clock:    clock, // a real watch leaves it out: the wall clock
		Backlog:  -1,    // no old cluster.log lines
	})
	show := func(s keepalived.Snapshot) {
		fmt.Printf("#%d\n", s.Seq)
		for _, n := range s.Nodes() {
			fmt.Printf("  %s, services %d up %d down\n", n.Summary(), n.Services.Up, n.Services.Down)
			for _, e := range n.Events {
				if e.IsTransition() {
					fmt.Printf("    log: %s\n", e.Message)
				}
			}
		}
		for _, f := range s.Findings {
			fmt.Printf("  %s\n", f.Problem)
		}
	}
	show(<-snaps)
	if _, err := be1.Run(ctx, cluster.Command("private-chef-ctl", "stop", "keepalived").AsRoot()); err != nil {
		panic(err)
	}
	for range 2 {
		clock.Advance(5 * time.Second)
		show(<-snaps)
	}
	// Output:
	// #1
	//   be1.chefha.test: master, holds VIP, services 16 up 1 down
	//   be2.chefha.test: backup, services 1 up 15 down
	// #2
	//   be1.chefha.test: backup, services 0 up 17 down
	//     log: Transitioning to backup
	//     log: Transitioned to backup
	//   be2.chefha.test: backup (requested master), transition lock held by pid 1455, holds VIP, services 16 up 0 down
	//     log: Transitioning to master
	//   in-transition
	//   no-master
	//   vip-on-backup
	// #3
	//   be1.chefha.test: backup, services 0 up 17 down
	//   be2.chefha.test: master, holds VIP, services 16 up 0 down
	//     log: Transitioned to master
}
