package upgrade_test

import (
	"context"
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/require"
)

// gatherPartial gathers facts from the nodes of sim that answer; the
// others are recorded as unreachable, as Gather would over a cluster whose
// Dial had succeeded before the node went away.
func gatherPartial(t testing.TB, sim *clustertest.Cluster) upgrade.Facts {
	t.Helper()
	nodes := map[string]cluster.Node{}
	for _, s := range sim.Topology.Servers {
		cfg, err := sim.SSHConfig(s.Name)
		require.NoError(t, err)
		n, err := cluster.NewSSH(cfg)
		require.NoError(t, err)
		nodes[s.Name] = n
	}
	cl, err := cluster.New(sim.Topology, nodes)
	require.NoError(t, err)
	defer cl.Close()
	return upgrade.Gather(context.Background(), cl)
}
