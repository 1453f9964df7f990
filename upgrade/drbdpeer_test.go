package upgrade_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/drbd"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The back ends' pc0.res as 11.1.8's template renders it for
// clustertest's private-chef.rb (drbd/testdata, with its source line).
func pc0Res(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../drbd/testdata/pc0.res-11.1.8.txt")
	require.NoError(t, err)
	return string(b)
}

func TestDRBDPeerFromTheNode(t *testing.T) {
	res := pc0Res(t)
	ok := func(out string) upgrade.Section { return upgrade.Section{Output: out} }
	addrs := "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n" +
		"3: eth1    inet 10.1.2.10/24 brd 10.1.2.255 scope global eth1\\       valid_lft forever preferred_lft forever\n"
	tests := []struct {
		name, node string
		secs       map[string]upgrade.Section
		peer       string // the peer's address; "" for an error
		err        string
	}{
		{"by uname -n", "be1", map[string]upgrade.Section{"drbd-conf": ok(res), "hostname": ok("be1.chefha.test\n")}, "10.1.2.12:7788", ""},
		{"uname -n in capitals", "10.0.0.1", map[string]upgrade.Section{"drbd-conf": ok(res), "hostname": ok("BE2.chefha.test")}, "10.1.2.10:7788", ""},
		{"by the node name", "be2.chefha.test", map[string]upgrade.Section{"drbd-conf": ok(res), "hostname": ok("localhost")}, "10.1.2.10:7788", ""},
		{"by the node's addresses", "10.0.0.1", map[string]upgrade.Section{"drbd-conf": ok(res), "hostname": {Output: "uname: not found", RC: 127}, "addrs": ok(addrs)}, "10.1.2.12:7788", ""},
		{"uname -n first", "be2.chefha.test", map[string]upgrade.Section{"drbd-conf": ok(res), "hostname": ok("be1.chefha.test")}, "10.1.2.12:7788", ""},
		{"not read", "be1", map[string]upgrade.Section{}, "",
			"be1: no replication address known for its DRBD peer: /var/opt/opscode/drbd/etc/pc0.res was not read (facts gathered before chefha read it)"},
		{"missing", "be1", map[string]upgrade.Section{"drbd-conf": {Output: "cat: /var/opt/opscode/drbd/etc/pc0.res: No such file or directory", RC: 1}}, "",
			"be1: no replication address known for its DRBD peer: /var/opt/opscode/drbd/etc/pc0.res cannot be read (cat: /var/opt/opscode/drbd/etc/pc0.res: No such file or directory)"},
		{"not drbd.conf", "be1", map[string]upgrade.Section{"drbd-conf": ok("resource pc0 {\n on be1 { address :7788; }\n}\n")}, "",
			"be1: no replication address known for its DRBD peer: /var/opt/opscode/drbd/etc/pc0.res does not give resource pc0's hosts: drbd.conf line 2: address of be1: \":7788\" is not IP:PORT"},
		{"another resource", "be1", map[string]upgrade.Section{"drbd-conf": ok(strings.Replace(res, "resource pc0", "resource r0", 1))}, "",
			"be1: no replication address known for its DRBD peer: /var/opt/opscode/drbd/etc/pc0.res does not give resource pc0's hosts: drbd.conf: no such resource: pc0"},
		{"one host", "be1", map[string]upgrade.Section{"drbd-conf": ok("resource pc0 { on be1 { address 10.1.2.10:7788; } }")}, "",
			"be1: no replication address known for its DRBD peer: /var/opt/opscode/drbd/etc/pc0.res names 1 hosts for resource pc0, not a pair"},
		{"not this node", "be3", map[string]upgrade.Section{"drbd-conf": ok(res), "hostname": ok("be3.example.com")}, "",
			"be3: no replication address known for its DRBD peer: /var/opt/opscode/drbd/etc/pc0.res names neither host as this node (uname -n be3.example.com, the node name be3): its hosts are be1.chefha.test (10.1.2.10:7788) and be2.chefha.test (10.1.2.12:7788)"},
		// Both replication addresses on one machine.
		{"both this node", "10.0.0.1", map[string]upgrade.Section{"drbd-conf": ok(res), "addrs": ok(addrs + "3: eth1    inet 10.1.2.12/24 scope global secondary eth1\n")}, "",
			"10.0.0.1: no replication address known for its DRBD peer: /var/opt/opscode/drbd/etc/pc0.res names both its hosts as this node by the node's addresses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := upgrade.NodeFacts{Node: tt.node, Sections: tt.secs}.DRBDPeer()
			if tt.err != "" {
				assert.EqualError(t, err, tt.err)
				var pe *upgrade.PeerAddressError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, upgrade.DRBDResFile, pe.Path)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.peer, h.Addr.String())
		})
	}
	_, err := upgrade.NodeFacts{Node: "be1", Sections: map[string]upgrade.Section{"drbd-conf": ok("resource r0 { }")}}.DRBDPeer()
	assert.True(t, errors.Is(err, drbd.ErrNoResource), "the parser's error is kept: %v", err)
}

// hostList dials the simulation as an operator's host list names it: no
// addresses, no VIP.
func hostList(t *testing.T, ctx context.Context, sim *clustertest.Cluster) *cluster.Cluster {
	t.Helper()
	top, err := cluster.ParseHosts(be1 + "=backend:bootstrap," + be2 + "=backend," + fe1 + "=frontend")
	require.NoError(t, err)
	cl, err := cluster.Dial(ctx, top, func(s cluster.Server) (cluster.SSHConfig, error) { return sim.SSHConfig(s.Name) })
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return cl
}

// With a host list, drbd-peer pings the address each back end's own
// pc0.res gives for the other, in a second session on the back end that
// only a host list needs; it fails when that address does not answer and
// is skipped, saying why, where the file is missing.
func TestDRBDPeerWithAHostList(t *testing.T) {
	target := upgrade.WithTarget("11.1.8")
	run := func(t *testing.T, knobs []clustertest.Knob, edit func(*clustertest.Cluster)) []upgrade.Finding {
		sim, _ := settledSim(t, "1.4.6", 1, knobs...)
		if edit != nil {
			edit(sim)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rep, err := upgrade.Preflight(ctx, hostList(t, ctx, sim), target)
		require.NoError(t, err)
		return findingsOf(rep, "drbd-peer")
	}

	t.Run("healthy", func(t *testing.T) {
		t.Parallel()
		fs := run(t, healthy(), nil)
		require.Len(t, fs, 1)
		assert.Equal(t, upgrade.OK, fs[0].Severity, "%+v", fs[0])
		assert.Contains(t, fs[0].Evidence[0], be1+" → 10.1.2.12, "+be2+" → 10.1.2.10, from "+upgrade.DRBDResFile)
	})
	t.Run("peer unreachable", func(t *testing.T) {
		t.Parallel()
		fs := run(t, append(healthy(), clustertest.DRBDPeerUnreachable()), nil)
		require.Len(t, fs, 1, "%+v", fs)
		assert.Equal(t, upgrade.Fail, fs[0].Severity)
		assert.Equal(t, be1, fs[0].Node)
		assert.Contains(t, fs[0].Evidence[0], "the peer's replication address 10.1.2.12 (from "+upgrade.DRBDResFile+", its host "+be2+") does not answer ping: 1 packets transmitted, 0 received")
		assert.Contains(t, fs[0].Fix, upgrade.DRBDResFile)
	})
	t.Run("file missing", func(t *testing.T) {
		t.Parallel()
		fs := run(t, healthy(), func(sim *clustertest.Cluster) {
			sim.Node(be1).Lock(func(n *clustertest.Node) { require.NoError(t, n.Remove(upgrade.DRBDResFile)) })
		})
		require.Len(t, fs, 1)
		assert.Equal(t, upgrade.Skip, fs[0].Severity)
		assert.Equal(t, []string{be1 + ": no replication address known for its DRBD peer: " + upgrade.DRBDResFile + " cannot be read (cat: " + upgrade.DRBDResFile + ": No such file or directory)"}, fs[0].Evidence)
	})
}

// The second session runs only where the topology names no peer address,
// and only on the back ends.
func TestDRBDPeerSecondSessionOnlyForAHostList(t *testing.T) {
	sim, _ := settledSim(t, "1.4.6", 1, healthy()...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sessions := func(cl *cluster.Cluster) map[string]int64 {
		before := map[string]int64{}
		for name, s := range sim.Servers {
			before[name] = s.Execs()
		}
		f := upgrade.Gather(ctx, cl)
		for _, n := range f.Nodes {
			require.Empty(t, n.Err)
		}
		out := map[string]int64{}
		for name, s := range sim.Servers {
			out[name] = s.Execs() - before[name]
		}
		return out
	}
	withAddrs, err := sim.Dial(ctx)
	require.NoError(t, err)
	defer withAddrs.Close()
	assert.Equal(t, map[string]int64{be1: 1, be2: 1, fe1: 1}, sessions(withAddrs), "private-chef.rb names the addresses")
	assert.Equal(t, map[string]int64{be1: 2, be2: 2, fe1: 1}, sessions(hostList(t, ctx, sim)), "a host list does not")
}
