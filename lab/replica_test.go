package lab_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/replica"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A replica built from a real cluster's facts (a lab: real sshd, runit
// and keepalived) passes the same pre-flight with the same findings, and
// the rehearsal of the cluster's 1.4.6 → 11.1.8 plan runs to the end on
// it with the same plan hash. The lab is only read.
func TestLabReplica(t *testing.T) {
	t.Parallel()
	l := sharedLab(t, "1.4.6")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	prod, err := l.Dial(ctx)
	require.NoError(t, err)
	defer prod.Close()
	facts := upgrade.Gather(ctx, prod)
	boot, ok := prod.Node(l.Nodes[0].Name)
	require.True(t, ok)
	clock := clustertest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	r, err := replica.New(ctx, replica.Source{Facts: facts, Bootstrap: boot}, replica.Options{Target: replica.Simulation{Clock: clock.Now, Sleep: clock.Advance}})
	require.NoError(t, err)
	defer r.Close()
	clock.Advance(time.Minute)
	rc, err := r.Dial(ctx)
	require.NoError(t, err)
	defer rc.Close()

	findings := func(rep upgrade.Report) []string {
		var out []string
		for _, f := range rep.Findings {
			if f.Severity != upgrade.OK {
				out = append(out, fmt.Sprintf("%s %s %s %s", f.Severity, f.Node, f.Check, f.Symptom))
			}
		}
		sort.Strings(out)
		return out
	}
	target := upgrade.WithTarget("11.1.8")
	// The lab's pre-flight judges the read the replica was built from (a
	// read is a Gather of every node: some 150 processes on them); the
	// last one, below, reads the lab again.
	want, err := upgrade.Preflight(ctx, prod, target, upgrade.WithFacts(facts))
	require.NoError(t, err)
	got, err := upgrade.Preflight(ctx, rc, target)
	require.NoError(t, err)
	require.NotEmpty(t, findings(want), "the lab has warnings to reproduce (no backup declared, front ends running)")
	assert.Equal(t, findings(want), findings(got), "the replica's pre-flight findings are the lab's")

	pkg, err := clustertest.WritePackage(t.TempDir(), "debian", "11.1.8")
	require.NoError(t, err)
	opts := []upgrade.Option{target, upgrade.WithPackage(pkg), upgrade.WithBackup(upgrade.Backup{Waived: "a lab"})}
	plan, err := upgrade.NewRunner(prod, opts...).Plan(ctx)
	require.NoError(t, err)
	rh, err := r.Rehearse(ctx, plan, append(opts, upgrade.WithClock(clock))...)
	require.NoError(t, err)
	require.True(t, rh.Passed, "%s: %s", rh.StoppedAt, rh.Error)
	assert.Equal(t, plan.Hash(), rh.PlanHash, "the replica's plan is the lab's")
	for _, f := range rh.Findings {
		assert.NotEqual(t, upgrade.Fail, f.Severity, "post-flight on the replica: %v", f)
	}
	again, err := upgrade.Preflight(ctx, prod, target)
	require.NoError(t, err)
	assert.Equal(t, findings(want), findings(again), "the lab is untouched")
}
