package upgrade_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A plan rehearsed on a replica with the same plan passes and is recorded;
// production's real run is then let through. Without a passed rehearsal
// it is refused unless the operator says so.
func TestRehearsalGatesTheRealRun(t *testing.T) {
	t.Parallel()
	prod := newUpgradeEnv(t, "1.4.6", 1)
	replica := newUpgradeEnv(t, "1.4.6", 1)
	replica.packages = prod.packages // the same files: the same plan
	dir := t.TempDir()
	opts := func(e *upgradeEnv, more ...upgrade.Option) []upgrade.Option {
		return append(e.options("11.1.8", upgrade.WithRehearsals(dir)), more...)
	}
	plan, err := upgrade.NewRunner(prod.cl, opts(prod)...).Plan(context.Background())
	require.NoError(t, err)

	err = prod.runner("11.1.8", nil, upgrade.WithRehearsals(dir)).Run(context.Background())
	var nr *upgrade.NotRehearsedError
	require.ErrorAs(t, err, &nr, "no rehearsal yet")
	for name, log := range prod.logs() {
		assert.Empty(t, log, "%s untouched", name)
	}

	rh, err := upgrade.Rehearse(context.Background(), replica.cl, plan, opts(replica)...)
	require.NoError(t, err)
	require.True(t, rh.Passed, rh.Error)
	assert.Equal(t, plan.Hash(), rh.PlanHash)
	require.NotEmpty(t, rh.Steps, "the steps that ran are timed")
	for _, st := range rh.Steps {
		_, ok := plan.Step(st.Step)
		assert.True(t, ok, st.Step)
	}
	assert.NotEmpty(t, rh.Waits, "and the gates' waits")
	kinds := map[upgrade.OutageKind]bool{}
	for _, o := range rh.Outages {
		kinds[o.Kind] = true
		assert.Positive(t, o.Took, "%s lasted", o.Kind)
	}
	assert.True(t, kinds[upgrade.OutageFrontends] && kinds[upgrade.OutageBootstrap] && kinds[upgrade.OutageFailover], "every stop of service is timed: %+v", rh.Outages)
	facts := upgrade.Gather(context.Background(), prod.cl)
	view := upgrade.DescribePlan(plan, facts).WithRehearsal(rh)
	for _, o := range view.Outages {
		assert.Positive(t, o.Measured, "the plan shows how long %s lasted in the rehearsal", o.Kind)
	}
	var md strings.Builder
	require.NoError(t, view.WriteMarkdown(&md))
	assert.Contains(t, md.String(), "| in the rehearsal |")
	var text strings.Builder
	require.NoError(t, view.WriteText(&text, 120))
	assert.Contains(t, text.String(), "in the rehearsal:")
	// A rehearsal counts for the cluster it copied, while it is recent:
	// one recorded for another cluster with the same host names (here the
	// replica itself), or too old, does not.
	for why, edit := range map[string]func(*upgrade.Rehearsal){
		"another cluster": func(r *upgrade.Rehearsal) {
			// Simulated clusters share their keys; a real one has its own.
			require.NoError(t, replica.sim.Plant(clustertest.File("be1.chefha.test", "/etc/opscode/pivotal.pem", "another cluster's key\n", 0o600)))
			r.Cluster = upgrade.ClusterDigest(upgrade.Gather(context.Background(), replica.cl))
		},
		"more than": func(r *upgrade.Rehearsal) { r.Finished = time.Now().Add(-upgrade.RehearsalMaxAge - time.Hour) },
	} {
		bad := rh
		bad.Cluster = upgrade.ClusterDigest(facts)
		edit(&bad)
		require.NoError(t, upgrade.SaveRehearsal(dir, bad))
		err := prod.runner("11.1.8", nil, upgrade.WithRehearsals(dir)).Run(context.Background())
		require.ErrorAs(t, err, &nr, why)
		assert.Contains(t, err.Error(), why)
	}
	rh.Cluster = upgrade.ClusterDigest(facts) // what package replica records
	require.NoError(t, upgrade.SaveRehearsal(dir, rh))
	require.NoError(t, prod.runner("11.1.8", nil, upgrade.WithRehearsals(dir)).Run(context.Background()))
	prod.assertUpgraded(t, "11.1.8", "1.13")
}

// A rehearsal on a replica with a problem the plan cannot fix stops where
// the real run would, and is not recorded as passed.
func TestRehearsalStopsWhereTheRealRunWould(t *testing.T) {
	t.Parallel()
	prod := newUpgradeEnv(t, "1.4.6", 1, clustertest.OC11658())
	replica := newUpgradeEnv(t, "1.4.6", 1, clustertest.OC11658())
	replica.packages = prod.packages
	plan, err := upgrade.NewRunner(prod.cl, prod.options("11.1.8")...).Plan(context.Background())
	require.NoError(t, err)
	rh, err := upgrade.Rehearse(context.Background(), replica.cl, plan, replica.options("11.1.8")...)
	require.NoError(t, err)
	assert.False(t, rh.Passed)
	err = prod.runner("11.1.8", nil, upgrade.WithoutRehearsal()).Run(context.Background())
	var se *upgrade.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, se.Step, rh.StoppedAt, "the rehearsal stopped where production does")
	assert.Contains(t, rh.Error, "OC-11658")
}
