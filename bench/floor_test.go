package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"

	"github.com/chefha/chefha/lab"
)

// BenchmarkNodesFloor is the nodes' own work in a pre-flight, with no
// tool at all: each node's gather script (the one chefha runs, and
// Ansible after it) run inside the node at once on all five, by nsenter
// into the node's namespaces: no SSH, no login shell. No tool reads the
// lab faster than this; what a tool takes above it is its own cost. On
// the lab the floor is high because the node's private-chef-ctl,
// initctl and drbdadm are Go programs (package lab's node binary) that
// start afresh for each command, and all five nodes share this
// machine's cores with the tools.
//
// Its cpu_ms/op is the nodes' CPU (the scripts and every program they
// start, which nsenter waits for), not a tool's.
func BenchmarkNodesFloor(b *testing.B) {
	l := shared.start(b)
	cpu := cpuMeter{who: syscall.RUSAGE_CHILDREN}
	b.ResetTimer()
	for range b.N {
		cpu.start()
		err := runScripts(l)
		cpu.stop()
		if err != nil {
			b.Fatal(err)
		}
	}
	shared.record(b)
	cpu.report(b)
}

// runScripts runs every node's gather script inside it, all at once, and
// checks that each ran through.
func runScripts(l *lab.Lab) error {
	errs := make([]error, len(l.Nodes))
	var wg sync.WaitGroup
	for i, n := range l.Nodes {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			defer cancel()
			out, err := n.Exec(ctx, shared.scripts[n.Name]...)
			if err == nil && len(lastSection.FindAll(out, -1)) != 1 {
				err = fmt.Errorf("the script did not finish: %s", out)
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", n.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
