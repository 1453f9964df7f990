package runreport_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/lvm"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/require"
)

// lvmRun is the recorded upgrade whose LVM snapshot fills up: the run
// stops before hop1/copy-etc-opscode, the snapshot is extended, and a
// second run resumes to the end.
const lvmRun = "lvm-snapshot-extended"

// snapshotFill reads how full the bootstrap's snapshot is.
func snapshotFill(t testing.TB, cl *cluster.Cluster) float64 {
	t.Helper()
	n, _ := cl.Node("be1.chefha.test")
	args, err := lvm.LVSArgs("opscode", "")
	require.NoError(t, err)
	res, err := n.Run(context.Background(), cluster.Cmd{Argv: append([]string{"env", "LC_ALL=C"}, args...), Sudo: true})
	require.NoError(t, err)
	lvs, err := lvm.ParseReport(strings.NewReader(string(res.Stdout)))
	require.NoError(t, err)
	for _, lv := range lvs {
		if lv.Name == "chefha-pre-upgrade" {
			p, _ := lv.Full()
			return p
		}
	}
	t.Fatal("no snapshot")
	return 0
}

// fillSnapshot rewrites the bootstrap's data once its upgrade is done, as
// a long migration would, until the snapshot is 90% full.
func fillSnapshot(t testing.TB, sim *clustertest.Cluster, cl *cluster.Cluster, ev upgrade.Event) {
	if ev.Kind != upgrade.EventStepDone || ev.Step != "hop1/upgrade-bootstrap" {
		return
	}
	for snapshotFill(t, cl) < 90 {
		require.NoError(t, sim.Plant(clustertest.File("be1.chefha.test", "/var/opt/opscode/drbd/data/postgresql/base", "rewritten", 0o600)))
	}
}

// extendSnapshot runs the lvextend the stopped run named.
func extendSnapshot(t testing.TB, cl *cluster.Cluster, err error) {
	var se *lvm.SnapshotError
	require.True(t, errors.As(err, &se), "the run stopped for the snapshot: %v", err)
	require.NotEmpty(t, se.Extend)
	n, _ := cl.Node("be1.chefha.test")
	_, err = n.Run(context.Background(), cluster.Cmd{Argv: se.Extend[0], Sudo: true})
	require.NoError(t, err)
}
