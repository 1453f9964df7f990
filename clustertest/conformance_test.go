package clustertest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// conformance is a command sequence and what the real software shows
// after it: exit codes, output lines chefha reads, files. Written once
// against SSH, run here on the simulation (the lab host runs the same
// table later). Each case names the packaging fact it checks.
type conformance struct {
	name, version string
	knobs         []clustertest.Knob
	steps         []cstep
}

type cstep struct {
	node    string
	argv    []string
	code    int
	has     []string // lines (or line parts) the output must contain
	hasNot  []string
	advance time.Duration // move the clock on first
}

func run1(node string, code int, has []string, argv ...string) cstep {
	return cstep{node: node, argv: argv, code: code, has: has}
}

var conformanceTable = []conformance{
	{"1 stop-all stops keepalived before omnibus-ctl 0.1.1 (11.1.8: 0.0.7)", "11.1.8", nil, []cstep{
		run1(be1, 0, []string{"ok: down: keepalived: "}, "private-chef-ctl", "stop"),
		{node: be2, argv: []string{"cat", "/var/opt/opscode/keepalived/current_cluster_status"}, advance: 10 * time.Second, has: []string{"master"}},
	}},
	{"1 start-all starts the standby's HA services too", "11.1.8", nil, []cstep{
		run1(be2, 0, []string{"ok: run: couchdb: "}, "private-chef-ctl", "start"),
	}},
	{"2 no down files before 11.2.0: the standby's services are down, normally up", "11.1.8", nil, []cstep{
		run1(be2, 3, []string{"down: couchdb: ", ", normally up"}, "private-chef-ctl", "status"),
	}},
	{"2 11.2.0 has down files: the standby is normally down, the master's run normally down", "11.2.0", nil, []cstep{
		{node: be2, argv: []string{"private-chef-ctl", "status", "couchdb"}, code: 3, hasNot: []string{"normally up"}},
		run1(be1, 0, []string{"run: couchdb: ", ", normally down"}, "private-chef-ctl", "status", "couchdb"),
	}},
	{"3 the 11.1.7+ wrapper's SVWAIT=30 beats the caller's", "11.1.8", []clustertest.Knob{clustertest.OC11657()}, []cstep{
		run1(be1, 0, []string{"ok: down: opscode-expander"}, "env", "SVWAIT=5", "private-chef-ctl", "stop", "opscode-expander"),
	}},
	{"3 before 11.1.7 the caller's SVWAIT counts", "11.0.2", []clustertest.Knob{clustertest.OC11657()}, []cstep{
		run1(be1, 1, []string{"timeout: run: opscode-expander"}, "private-chef-ctl", "stop", "opscode-expander"),
		run1(be1, 0, []string{"ok: down: opscode-expander"}, "env", "SVWAIT=30", "private-chef-ctl", "stop", "opscode-expander"),
	}},
	{"4 status prints NAME disabled for an unlinked service", "11.1.8", []clustertest.Knob{clustertest.ServiceDisabled(fe1, "nginx")}, []cstep{
		run1(fe1, 0, []string{"nginx disabled"}, "private-chef-ctl", "status"),
	}},
	{"5 ha-status early exit on a front end: exit 1, no verdict", "11.1.8", nil, []cstep{
		{node: fe1, argv: []string{"private-chef-ctl", "ha-status"}, code: 1, has: []string{"[ERROR] keepalived HA services not enabled"}, hasNot: []string{"ERRORS WERE DETECTED"}},
	}},
	{"5 ha-status: 7 (services) wins over 4 (DRBD)", "11.1.8", []clustertest.Knob{clustertest.DRBDDisconnected(), clustertest.ServiceDown(be1, "opscode-chef-mover")}, []cstep{
		run1(be1, 7, []string{"[ERROR] my DRBD status is: ", "[ERROR] opscode-chef-mover is not running.", "[ERROR] ERRORS WERE DETECTED."}, "private-chef-ctl", "ha-status"),
	}},
	{"6 omnibus-ctl returns the first non-zero sv exit; sv 1 for a missing directory", "11.1.8", []clustertest.Knob{clustertest.OC11657(), clustertest.OC11662()}, []cstep{
		run1(be1, 1, []string{"fail: nosuch: unable to change to service directory: file does not exist"}, "sv", "status", "nosuch"),
		run1(be1, 0, nil, "private-chef-ctl", "stop", "nosuch"),
	}},
	{"7 no upgrade sleep before 11.1.7; partybus lock: exit 0 and Upgraded!", "11.0.2", []clustertest.Knob{clustertest.PartybusLocked()}, []cstep{
		{node: fe1, argv: []string{"private-chef-ctl", "upgrade"}, has: []string{"ERROR: Unable to obtain file lock on /var/opt/opscode/upgrades/migration-level", "Chef Server Upgraded!"}, hasNot: []string{"Sleeping for 2 minutes"}},
	}},
	{"7 must_be_data_master's banner on a bootstrap that is not master", "11.0.2", []clustertest.Knob{clustertest.MigrationLevel(be1, `{"major":1,"minor":8}`)}, []cstep{
		run1(be1, 0, []string{"ok: down: keepalived"}, "private-chef-ctl", "stop", "keepalived"),
		{node: be1, argv: []string{"private-chef-ctl", "upgrade"}, code: 1, advance: 10 * time.Second, has: []string{"[private-chef-upgrade] - ****", "ERROR: ", "The bootstrap server must be the HA-master at the time of upgrade."}},
	}},
	{"8 redis_lb first ships in 11.1.x; 1.x has opscode-authz; 1.2.8 has no bookshelf", "1.2.8", nil, []cstep{
		{node: be1, argv: []string{"private-chef-ctl", "status"}, has: []string{"opscode-authz"}, hasNot: []string{"bookshelf", "redis_lb"}},
	}},
	{"9 cluster.sh: a request during a transition logs and exits 1, the loop picks it up", "11.1.8", nil, []cstep{
		run1(be1, 0, nil, "/var/opt/opscode/keepalived/bin/cluster.sh", "backup"),
		run1(be1, 1, []string{"Requested transition to master, but state transition already running."}, "/var/opt/opscode/keepalived/bin/cluster.sh", "master"),
		{node: be1, argv: []string{"cat", "/var/log/opscode/keepalived/cluster.log"}, advance: 20 * time.Second, has: []string{"Stopping service redis_lb", "Attempting to become DRBD secondary - attempts left 300", "Transitioned to backup", "Attempting DRBD primary takeover - attempts left 300", "Starting service bookshelf", "Transitioned to master"}},
		run1(be1, 0, []string{"master"}, "cat", "/var/opt/opscode/keepalived/current_cluster_status"),
	}},
	{"DRBD: /proc/drbd, drbdadm and the mount on the master only", "11.1.8", nil, []cstep{
		run1(be1, 0, []string{"version: 8.4.4 (api:1/proto:86-101)", " 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----"}, "cat", "/proc/drbd"),
		run1(be2, 0, []string{"Secondary/Primary"}, "drbdadm", "role", "pc0"),
		run1(be1, 0, []string{"/dev/drbd0 /var/opt/opscode/drbd/data ext4"}, "cat", "/proc/mounts"),
		{node: be2, argv: []string{"cat", "/proc/mounts"}, hasNot: []string{"/dev/drbd0"}},
	}},
	{"DRBD: resync progress on the clock", "11.1.8", []clustertest.Knob{clustertest.DRBDResync(10, 10240)}, []cstep{
		run1(be2, 0, []string{"cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate", "sync'ed:  9.9% (1238/1376)M", "finish: 0:02:03 speed: 10,240"}, "cat", "/proc/drbd"),
		{node: be2, argv: []string{"drbdadm", "dstate", "pc0"}, advance: 10 * time.Minute, has: []string{"UpToDate/UpToDate"}},
	}},
	{"DRBD: failing over onto a disconnected secondary is harm", "11.1.8", []clustertest.Knob{clustertest.DRBDDisconnected()}, []cstep{
		run1(be1, 0, nil, "private-chef-ctl", "stop", "keepalived"),
		{node: be2, argv: []string{"drbdadm", "cstate", "pc0"}, advance: 10 * time.Second, has: []string{"WFConnection"}},
	}},
}

func TestConformance(t *testing.T) {
	for _, tc := range conformanceTable {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, tc.version, tc.knobs...)
			for i, st := range tc.steps {
				if st.advance > 0 {
					s.clock.Advance(st.advance)
				}
				out, stderr, code := s.run(t, st.node, st.argv...)
				require.Equal(t, st.code, code, "step %d %v: %s%s", i, st.argv, out, stderr)
				for _, h := range st.has {
					assert.Contains(t, out, h, "step %d %v", i, st.argv)
				}
				for _, h := range st.hasNot {
					assert.NotContains(t, out, h, "step %d %v", i, st.argv)
				}
			}
			if strings.Contains(tc.name, "is harm") {
				assert.Contains(t, strings.Join(s.Node(be2).Harm(), "\n"), "failover onto out-of-date DRBD data")
			}
		})
	}
}
