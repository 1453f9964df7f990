package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/peer"
	"github.com/chefha/chefha/lab"
	"github.com/chefha/chefha/upgrade"
)

// opTimeout bounds every op of every benchmark: a node that hangs fails
// the benchmark instead of stalling it.
const opTimeout = time.Minute

// BenchmarkPreflightLab is chefha's pre-flight of the lab, in process:
// upgrade.Preflight reads every node in one exec session each (its gather
// script) and judges the facts. cold: each op dials the cluster (TCP, SSH
// handshake, auth), runs the pre-flight and closes; warm: one dialled
// cluster serves every op.
func BenchmarkPreflightLab(b *testing.B) {
	l := shared.start(b)
	for _, sh := range shells {
		for _, conn := range conns {
			b.Run(string(sh)+"/"+conn, func(b *testing.B) {
				shared.setShell(b, sh)
				op, stop := preflightOp(b, l, conn)
				defer stop()
				cpu := cpuMeter{who: syscall.RUSAGE_SELF}
				b.ResetTimer()
				cpu.start()
				for range b.N {
					op()
				}
				cpu.stop()
				b.StopTimer()
				shared.record(b)
				cpu.report(b)
			})
		}
	}
}

// preflightOp returns one pre-flight of the lab in a connection state,
// and what ends it. A warm op's cluster is dialled, and read once, before
// it is returned.
func preflightOp(b *testing.B, l *lab.Lab, conn string) (op func(), stop func()) {
	b.Helper()
	preflight := func(cl *cluster.Cluster) {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		rep, err := upgrade.Preflight(ctx, cl, upgrade.WithTarget(target.String()))
		if err == nil {
			err = checkReport(rep)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	dial := func() *cluster.Cluster {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		cl, err := l.Dial(ctx)
		if err != nil {
			cl.Close()
			b.Fatal(err)
		}
		return cl
	}
	if conn == cold {
		return func() {
			cl := dial()
			preflight(cl)
			cl.Close()
		}, func() {}
	}
	cl := dial()
	preflight(cl)
	return func() { preflight(cl) }, func() { cl.Close() }
}

// preflightRuns times n ops of preflightOp.
func preflightRuns(b *testing.B, l *lab.Lab, conn string, n int, took func(time.Duration)) {
	op, stop := preflightOp(b, l, conn)
	defer stop()
	for range n {
		start := time.Now()
		op()
		took(time.Since(start))
	}
}

// checkReport insists that every node of the lab was read, all five by
// the "reachable" check: a fast pre-flight that read nothing proves
// nothing. (Whether the lab passes is not the point: on a machine without
// drbd-utils and iputils-ping the DRBD checks fail, as they should.)
func checkReport(rep upgrade.Report) error {
	if rep.Facts == nil || len(rep.Facts.Nodes) != 5 {
		return errors.New("the report has not the facts of 5 nodes")
	}
	for _, n := range rep.Facts.Nodes {
		if n.Err != "" {
			return fmt.Errorf("%s was not read: %s", n.Node, n.Err)
		}
		if len(n.Sections) == 0 {
			return fmt.Errorf("%s: no section read", n.Node)
		}
	}
	return checkReachable(rep.Findings)
}

// checkReachable wants the reachable check's verdict: ok.
func checkReachable(fs []upgrade.Finding) error {
	for _, f := range fs {
		if f.Check == "reachable" {
			if f.Severity != upgrade.OK {
				return fmt.Errorf("not every node was read: %+v", f)
			}
			return nil
		}
	}
	return errors.New("the report has no reachable finding")
}

// cli is examples/preflight, built once per run.
var cli struct {
	once sync.Once
	path string
	err  error
}

// BenchmarkPreflightCLI is the command an operator runs,
// `preflight -config private-chef.rb -ssh-config F -o json`, as a
// process: start-up, dial, read, judge and print, always cold. It is the
// like-for-like opponent of an `ansible` command, which is a process too.
func BenchmarkPreflightCLI(b *testing.B) {
	l := shared.start(b)
	goBin := peer.Need(b, "go", "golang-go")
	cli.once.Do(func() {
		cli.path = filepath.Join(shared.tmp, "preflight")
		out, err := exec.Command(goBin, "build", "-o", cli.path, "../examples/preflight").CombinedOutput()
		if err != nil {
			cli.err = fmt.Errorf("go build ../examples/preflight: %v: %s", err, out)
		}
	})
	if cli.err != nil {
		b.Fatal(cli.err)
	}
	rb := l.Nodes[0].Root(upgrade.EtcOpscode + "/private-chef.rb")
	for _, sh := range shells {
		b.Run(string(sh)+"/"+cold, func(b *testing.B) {
			shared.setShell(b, sh)
			cpu := cpuMeter{who: syscall.RUSAGE_CHILDREN}
			for range b.N {
				ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
				cmd := exec.CommandContext(ctx, cli.path, "-config", rb, "-ssh-config", l.SSHConfig, "-target", target.String(), "-o", "json")
				cmd.Env = append(os.Environ(), "HOME="+shared.tmp)
				cpu.start()
				out, err := cmd.Output()
				cpu.stop()
				cancel()
				var ee *exec.ExitError
				if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) { // 1: a check failed
					b.Fatalf("preflight: %v: %s", err, out)
				}
				b.StopTimer()
				var rep upgrade.Report
				if err := json.Unmarshal(out, &rep); err != nil {
					b.Fatalf("preflight -o json: %v: %s", err, out)
				}
				if err := checkReachable(rep.Findings); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			shared.record(b)
			cpu.report(b)
		})
	}
}
