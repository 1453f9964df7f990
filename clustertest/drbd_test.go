package clustertest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/drbd"
	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// drbdState reads resource pc0 (/dev/drbd0, OO PC/templates/default/
// pc0.res.erb) over SSH twice, from /proc/drbd and from drbdadm, parses
// both with package drbd and checks they agree.
func (s *sim) drbdState(t *testing.T, node string) drbd.Resource {
	t.Helper()
	out, _, code := s.run(t, node, "cat", "/proc/drbd")
	require.Equal(t, 0, code)
	st, err := drbd.ParseProc(strings.NewReader(out))
	require.NoError(t, err, out)
	assert.Equal(t, "8.4.4", st.Version)
	r, ok := st.Minor(0)
	require.True(t, ok, out)

	role, _, code := s.run(t, node, "drbdadm", "role", "pc0")
	require.Equal(t, 0, code)
	local, peer, err := drbd.ParseRole([]byte(role))
	require.NoError(t, err)
	assert.Equal(t, [2]drbd.Role{r.Role, r.PeerRole}, [2]drbd.Role{local, peer}, "drbdadm role and /proc/drbd")
	cs, _, _ := s.run(t, node, "drbdadm", "cstate", "pc0")
	c, err := drbd.ParseCState([]byte(cs))
	require.NoError(t, err)
	assert.Equal(t, r.CState, c, "drbdadm cstate and /proc/drbd")
	ds, _, _ := s.run(t, node, "drbdadm", "dstate", "pc0")
	disk, peerDisk, err := drbd.ParseDState([]byte(ds))
	require.NoError(t, err)
	assert.Equal(t, [2]drbd.DiskState{r.Disk, r.PeerDisk}, [2]drbd.DiskState{disk, peerDisk}, "drbdadm dstate and /proc/drbd")
	return r
}

func TestDRBDHealthy(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8")
	m := s.drbdState(t, be1)
	assert.True(t, m.Healthy(drbd.Primary), m.String())
	assert.Equal(t, byte('C'), m.Protocol, "protocol C (OO PC/templates/default/drbd.conf.erb)")
	b := s.drbdState(t, be2)
	assert.True(t, b.Healthy(drbd.Secondary), b.String())
	_, stderr, code := s.run(t, fe1, "drbdadm", "role", "pc0")
	assert.Equal(t, 127, code, "front ends have no DRBD: %s", stderr)
}

// Disconnected: no fencing in pc0.res, so both sides wait for the link
// (WFConnection) with their disks UpToDate as far as each knows, and the
// peer's role and disk are Unknown.
func TestKnobDRBDDisconnected(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8", clustertest.DRBDDisconnected())
	for node, role := range map[string]drbd.Role{be1: drbd.Primary, be2: drbd.Secondary} {
		r := s.drbdState(t, node)
		assert.Equal(t, drbd.WFConnection, r.CState, node)
		assert.Equal(t, role, r.Role, node)
		assert.Equal(t, drbd.Unknown, r.PeerRole, node)
		assert.Equal(t, drbd.UpToDate, r.Disk, node)
		assert.Equal(t, drbd.DUnknown, r.PeerDisk, node)
		assert.False(t, r.Connected(), node)
	}
	h := s.haStatus(t, be1)
	assert.Contains(t, problems(h), "my DRBD status is:  0: cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown C r-----")
}

func TestKnobDRBDInconsistent(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8", clustertest.DRBDInconsistent())
	r := s.drbdState(t, be2)
	assert.Equal(t, drbd.Inconsistent, r.Disk)
	assert.Equal(t, drbd.WFConnection, r.CState)
	m := s.drbdState(t, be1)
	assert.Equal(t, drbd.UpToDate, m.Disk)
	_, stderr, code := s.run(t, be2, "drbdadm", "primary", "pc0")
	assert.Equal(t, 17, code, "no failover onto Inconsistent data")
	assert.Contains(t, stderr, "Need access to UpToDate data")
}

// The secondary's replication address (cluster_ipaddress) stops answering:
// the link is down and ha-status's ping check fails (exit 6, OO 11.1.8
// files/private-chef-ctl-commands/ha.rb). The codes are set in order and
// the last wins: on the bootstrap, whose opscode-chef-mover is kept down
// (recipes/opscode-chef-mover.rb: action :down), the services' 7 comes
// after it, as on every real EC 11 bootstrap.
func TestKnobDRBDPeerUnreachable(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8", clustertest.DRBDPeerUnreachable())
	assert.Equal(t, drbd.WFConnection, s.drbdState(t, be1).CState)
	_, _, code := s.run(t, be1, "ping", "-c", "1", "-W", "1", "10.1.2.12")
	assert.Equal(t, 1, code)
	h := s.haStatus(t, be1)
	assert.Equal(t, 7, h.ExitCode)
	assert.Contains(t, problems(h), "DRBD secondary IP address does not ping")
	assert.Contains(t, strings.Join(problems(h), "\n"), "opscode-chef-mover")
}

// Reconnect after a disconnect: the node that fell behind resyncs from
// the other (SyncTarget, Inconsistent) with progress lines, then both are
// UpToDate again.
func TestKnobDRBDReconnect(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8", clustertest.DRBDDisconnected())
	require.NoError(t, s.Plant(clustertest.DRBDReconnect()))
	r := s.drbdState(t, be2)
	assert.Equal(t, drbd.SyncTarget, r.CState)
	assert.Equal(t, drbd.Inconsistent, r.Disk)
	assert.True(t, r.Syncing())
	require.NotNil(t, r.Sync, "progress lines")
	assert.Less(t, r.Sync.Percent, 1.0)
	assert.Equal(t, drbd.SyncSource, s.drbdState(t, be1).CState)
	s.clock.Advance(10 * time.Minute)
	assert.True(t, s.drbdState(t, be2).Healthy(drbd.Secondary))
}

// A resync from 10% at 10 MiB/s on the cluster clock.
func TestKnobDRBDResync(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8", clustertest.DRBDResync(10, 10240))
	r := s.drbdState(t, be2)
	assert.Equal(t, drbd.SyncTarget, r.CState)
	require.NotNil(t, r.Sync)
	assert.InDelta(t, 9.9, r.Sync.Percent, 0.15)
	assert.Equal(t, uint64(10240), r.Sync.Speed)
	assert.Equal(t, 123*time.Second, r.Sync.Finish)
	assert.Equal(t, r.Counters.OutOfSyncKiB/1024, r.Sync.LeftKiB/1024)
	s.clock.Advance(time.Minute)
	later := s.drbdState(t, be2)
	require.NotNil(t, later.Sync)
	assert.Greater(t, later.Sync.Percent, r.Sync.Percent, "it moves with the clock")
	s.clock.Advance(2 * time.Minute)
	done := s.drbdState(t, be2)
	assert.Equal(t, drbd.Connected, done.CState)
	assert.True(t, done.UpToDate())
	assert.Nil(t, done.Sync)
}

// Split brain: the secondary took the VIP and DRBD primary while the link
// was down: both nodes StandAlone Primary, both holding the VIP, both
// keepalived MASTER.
func TestKnobSplitBrain(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8", clustertest.SplitBrain())
	for _, node := range []string{be1, be2} {
		r := s.drbdState(t, node)
		assert.True(t, r.StandAlone(), node)
		assert.Equal(t, drbd.Primary, r.Role, node)
		assert.Equal(t, drbd.Unknown, r.PeerRole, node)
		out, _, _ := s.run(t, node, "ip", "-o", "-4", "addr", "show")
		assert.Contains(t, out, "inet 192.168.4.7/24", "%s holds the VIP", node)
		var state string
		s.Node(node).Lock(func(n *clustertest.Node) { state = n.KeepalivedState() })
		assert.Equal(t, "MASTER", state, node)
	}
}

// StandAlone: the link dropped for good (a split brain DRBD detected and
// resolved by hand part-way, or `drbdadm disconnect`): neither side tries
// to connect, and each keeps its role.
func TestKnobDRBDStandAlone(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8", clustertest.DRBDStandAlone())
	for node, role := range map[string]drbd.Role{be1: drbd.Primary, be2: drbd.Secondary} {
		r := s.drbdState(t, node)
		assert.Equal(t, drbd.StandAlone, r.CState, node)
		assert.Equal(t, role, r.Role, node)
		assert.Equal(t, drbd.Unknown, r.PeerRole, node)
	}
}

// ha.rb File.reads the cluster status files: with one missing it raises,
// and ha-status exits 1 with no verdict (Errno::ENOENT), not a warning.
func TestHAStatusWithoutAStatusFile(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8")
	_, _, code := s.run(t, be2, "rm", "-f", ecmodel.RequestedPath)
	require.Equal(t, 0, code)
	out, stderr, code := s.run(t, be2, "private-chef-ctl", "ha-status")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, stderr, "Errno::ENOENT")
	assert.NotContains(t, out, "cluster status")
}

// cluster.sh runs keepalived's service_posthooks after starting a service
// (rabbitmq's wait-for-rabbit, from the packaging table) and logs it.
func TestClusterShPosthook(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"1.4.6", "11.1.8"} {
		s := start(t, version)
		log, _, _ := s.run(t, be1, "cat", ecmodel.ClusterLogPath)
		assert.Regexp(t, `Starting service rabbitmq\n.*: Doing post-start hook for rabbitmq\n`, log, version)
	}
}

// Reconfigure writes resource pc0's file on the back ends as the
// packaging's recipes/drbd.rb does, from private-chef.rb's back ends and
// their :cluster_ipaddress; a front end has none.
func TestDRBDResourceFile(t *testing.T) {
	t.Parallel()
	s := start(t, "1.4.6")
	for _, n := range []string{be1, be2} {
		out, _, code := s.run(t, n, "cat", ecmodel.DRBDResFile)
		require.Equal(t, 0, code, out)
		hosts, err := drbd.ResourceHosts(strings.NewReader(out), ecmodel.DRBDResource)
		require.NoError(t, err, out)
		require.Len(t, hosts, 2)
		assert.True(t, hosts[0].Is(be1), "the bootstrap first")
		assert.Equal(t, "10.1.2.10:7788", hosts[0].Addr.String())
		assert.True(t, hosts[1].Is(be2))
		assert.Equal(t, "10.1.2.12:7788", hosts[1].Addr.String())
		name, _, code := s.run(t, n, "uname", "-n")
		require.Equal(t, 0, code)
		assert.Equal(t, n+"\n", name, "DRBD picks its on section by uname -n")
	}
	_, _, code := s.run(t, fe1, "cat", ecmodel.DRBDResFile)
	assert.NotEqual(t, 0, code, "a front end has no DRBD")
}
