package runreport_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/replica"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/require"
)

// The recorded rehearsals (testdata/README.md): production's plan run on
// a replica built from production's facts.
const (
	okRehearsal      = "rehearsal-1.4.6-11.1.8"
	stoppedRehearsal = "rehearsal-stopped-partybus"
)

// rehearsals are the rehearsals to record: production's cluster, as
// clustertest.Options.
var rehearsals = map[string]clustertest.Options{
	// lvmRun's cluster, backed up with an LVM snapshot: the same plan as
	// its journal's.
	okRehearsal: {Version: "1.4.6", Frontends: 1, LVM: &clustertest.LVM{Size: 1 << 30, Used: 64 << 20, Free: 1 << 30, Churn: 1 << 20}},
	// A partybus left running on the bootstrap holds the level's lock.
	stoppedRehearsal: {Version: "1.4.6", Frontends: 2, Nodes: map[string]clustertest.NodeOptions{"be1.chefha.test": {Runit: clustertest.RunitState{
		Processes: []string{"/opt/opscode/embedded/bin/ruby /opt/opscode/embedded/service/partybus/bin/partybus upgrade"}}}}},
}

// recordedRehearsal is a rehearsal fixture: the plan and its rehearsal
// (first recorded under -record).
func recordedRehearsal(t *testing.T, name string) (upgrade.Plan, upgrade.Rehearsal) {
	t.Helper()
	base := filepath.Join("testdata", name)
	if *record {
		recordRehearsal(t, name, base)
	}
	var plan upgrade.Plan
	var rh upgrade.Rehearsal
	for file, v := range map[string]any{base + ".plan.json": &plan, base + ".rehearsal.json": &rh} {
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, v), file)
	}
	require.Equal(t, plan.Hash(), rh.PlanHash, "%s: the rehearsal is of the plan beside it", name)
	return plan, rh
}

func recordRehearsal(t *testing.T, name, base string) {
	ctx := context.Background()
	o := rehearsals[name]
	clock := clustertest.NewFakeClock(epoch)
	o.Clock, o.Sleep = clock.Now, clock.Advance
	prod, err := clustertest.New(o)
	require.NoError(t, err)
	defer prod.Close()
	cl, err := prod.Dial(ctx)
	require.NoError(t, err)
	defer cl.Close()
	rclock := clustertest.NewFakeClock(epoch)
	boot, _ := cl.Node("be1.chefha.test")
	opts := inputs(t, rclock, "")
	ro := replica.Options{Target: replica.Simulation{Clock: rclock.Now, Sleep: rclock.Advance}}
	if o.LVM != nil {
		vol, err := replica.ReadVolume(ctx, boot, "opscode", "drbd")
		require.NoError(t, err)
		ro.Volume = &vol
		opts = append(opts, upgrade.WithBackup(upgrade.Backup{LVM: &upgrade.LVMSnapshot{}}))
	}
	r, err := replica.New(ctx, replica.Source{Facts: upgrade.Gather(ctx, cl), Bootstrap: boot}, ro)
	require.NoError(t, err)
	defer r.Close()
	plan, err := upgrade.NewRunner(cl, opts...).Plan(ctx)
	require.NoError(t, err)
	if name == okRehearsal {
		_, rec := recorded(t, lvmRun)
		require.Equal(t, rec.PlanHash, plan.Hash(), "the rehearsal must be of %s's plan", lvmRun)
	}
	rh, err := r.Rehearse(ctx, plan, opts...)
	require.NoError(t, err)
	// A rehearsal before the run: two hours before the recorded runs'
	// epoch, its own durations kept.
	took := rh.Finished.Sub(rh.Started)
	rh.Started = epoch.Add(-2 * time.Hour)
	rh.Finished = rh.Started.Add(took)
	for file, v := range map[string]any{base + ".plan.json": plan, base + ".rehearsal.json": rh} {
		b, err := json.MarshalIndent(v, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(file, append(b, '\n'), 0o644))
	}
}
