package upgrade_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/upgrade"
)

// BenchmarkPreflight times a whole pre-flight (gather over SSH + checks)
// on simulated clusters of 5 and 200 nodes, and reports the exec sessions
// each node served per run.
func BenchmarkPreflight(b *testing.B) {
	for _, size := range []int{5, 200} {
		b.Run(fmt.Sprintf("nodes=%d", size), func(b *testing.B) {
			sim, cl := benchCluster(b, size)
			ctx := context.Background()
			before := execs(sim)
			target := semver.MustParse("11.1.8")
			for b.Loop() {
				if _, err := upgrade.Preflight(ctx, cl, upgrade.WithTarget(target.String())); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(execs(sim)-before)/float64(b.N)/float64(size), "execs/node")
		})
	}
}

func execs(sim *clustertest.Cluster) int64 {
	var n int64
	for _, s := range sim.Servers {
		n += s.Execs()
	}
	return n
}

// BenchmarkJudge times chefha's own share of a pre-flight, the checks over
// gathered facts (Preflight WithFacts), apart from the SSH round trips and
// the emulated nodes.
func BenchmarkJudge(b *testing.B) {
	for _, size := range []int{5, 200} {
		b.Run(fmt.Sprintf("nodes=%d", size), func(b *testing.B) {
			_, cl := benchCluster(b, size)
			facts := upgrade.Gather(context.Background(), cl)
			target := semver.MustParse("11.1.8")
			for b.Loop() {
				judge(b, facts, target)
			}
		})
	}
}

// benchCluster is a dialled simulated 1.4.6 cluster of size nodes.
func benchCluster(b *testing.B, size int) (*clustertest.Cluster, *cluster.Cluster) {
	b.Helper()
	sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: size - 2})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sim.Close() })
	cl, err := sim.Dial(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cl.Close() })
	return sim, cl
}

// BenchmarkGatherLatency reads clusters whose every node takes the same
// fixed time to answer, as a remote network would: reads start all at once,
// so 200 nodes take about what the smallest HA cluster (3 nodes, read at
// once) does, not 200/64 times it. latencies/op is the wall time in units
// of one node's latency.
func BenchmarkGatherLatency(b *testing.B) {
	const latency = time.Second
	for _, size := range []int{3, 200} {
		b.Run(fmt.Sprintf("nodes=%d", size), func(b *testing.B) {
			sim, cl := benchCluster(b, size)
			for _, s := range sim.Topology.Servers {
				if err := sim.Plant(clustertest.SlowNode(s.Name, latency)); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				for _, n := range upgrade.Gather(context.Background(), cl).Nodes {
					if n.Err != "" {
						b.Fatal(n.Err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(latency), "latencies/op")
		})
	}
}

// BenchmarkSimulatedUpgrade runs a whole 1.4.6 → 11.1.8 upgrade of a
// simulated cluster (2 back ends, 1 front end) on real time, with a hold of
// 300 ms at each gate. Beside the wall time it reports how many gates
// waited and what their holds add up to: the holds are the waiting the
// runbook needs, beyond-holds-s is everything else (SSH round trips, the
// simulated transitions, chefha's own work).
func BenchmarkSimulatedUpgrade(b *testing.B) {
	const hold = 300 * time.Millisecond
	var wall, gates, gateTime time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 1, TransitionTime: 50 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		cl, err := sim.Dial(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		e := &upgradeEnv{sim: sim, cl: cl, dir: b.TempDir()}
		e.packages = writePackages(b, e.dir)
		inGate := map[string]bool{}
		opts := append(e.realOptions("11.1.8"),
			upgrade.WithGateTimings(hold, 20*time.Second, 25*time.Millisecond),
			upgrade.WithJournal(&upgrade.MemJournal{}),
			upgrade.WithEvents(func(ev upgrade.Event) {
				switch {
				case ev.Kind == upgrade.EventAction && ev.Action != nil && ev.Action.Kind == upgrade.ActGate:
					inGate[ev.Step] = true
				case ev.Kind == upgrade.EventActionDone && inGate[ev.Step]:
					delete(inGate, ev.Step)
					gates++
					gateTime += ev.Elapsed
				}
			}))
		r := upgrade.NewRunner(cl, opts...)
		b.StartTimer()
		t0 := time.Now()
		if err := r.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(t0)
		b.StopTimer()
		cl.Close()
		sim.Close()
	}
	n := float64(b.N)
	b.ReportMetric(wall.Seconds()/n, "wall-s/op")
	b.ReportMetric(float64(gates)/n, "gates/op")
	b.ReportMetric(gateTime.Seconds()/n, "gate-s/op")
	b.ReportMetric(float64(gates)*hold.Seconds()/n, "holds-s/op")
	b.ReportMetric((wall.Seconds()-float64(gates)*hold.Seconds())/n, "beyond-holds-s/op")
}
