package lab_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/lab"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every knob the lab plants, planted on a lab and seen the way chefha (or
// an operator) sees it: the pre-flight's findings, the real programs'
// output. Knobs are grouped so that the package starts few labs; each
// group's knobs touch different nodes or different things.

// exec1 runs argv inside a node and returns its output and exit status.
func exec1(t *testing.T, n *lab.Node, argv ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := n.Exec(ctx, argv...)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v: %s", n.Name, argv, err, out)
	}
	return string(out), 0
}

// found lists the pre-flight's findings that are not ok, as "NODE
// CHECK/SYMPTOM" (NODE empty for the cluster's), and the report's table.
func found(t *testing.T, l *lab.Lab, target string) (map[string]bool, string) {
	t.Helper()
	rep := preflight(t, l, target)
	got := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Severity != upgrade.OK {
			got[f.Node+" "+f.Check+"/"+f.Symptom] = true
		}
	}
	var b bytes.Buffer
	rep.WriteTable(&b)
	return got, b.String()
}

// eventuallyFound waits until the pre-flight finds every one of want.
func eventuallyFound(t *testing.T, l *lab.Lab, target string, want ...string) {
	t.Helper()
	var got map[string]bool
	var table string
	ok := assert.Eventually(t, func() bool {
		got, table = found(t, l, target)
		for _, w := range want {
			if !got[w] {
				return false
			}
		}
		return true
	}, time.Minute, 2*time.Second)
	if !ok {
		t.Logf("wanted %q; the pre-flight found:\n%s", want, table)
	}
}

// putPackage writes a real private-chef package of version into the node's
// /tmp and returns its path there.
func putPackage(t *testing.T, n *lab.Node, family, version string) string {
	t.Helper()
	p, err := clustertest.WritePackage(t.TempDir(), family, version)
	require.NoError(t, err)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	in := "/tmp/" + filepath.Base(p)
	require.NoError(t, os.WriteFile(n.Root(in), b, 0o644))
	return in
}

// 1.4.6, the runbook's runit symptoms on the bootstrap, made by the real
// programs; the front ends stopped and then unreachable; and the knobs the
// lab refuses.
func TestLabKnobsRunit(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Spec{Version: "1.4.6", Knobs: []ecmodel.Knob{
		clustertest.RunsvdirErrors(), clustertest.TwoRunsvdirs(), clustertest.StaleLinks(), clustertest.LogDirMode(),
		clustertest.LeftoverCtl(), clustertest.FrontendsStopped(),
	}})
	be1, fe1 := l.Nodes[0].Name, l.Nodes[2]
	eventuallyFound(t, l, "11.1.8",
		be1+" runit-processes/runsvdir-errors", be1+" runit-processes/two-runsvdirs", be1+" runit-processes/leftover-ctl-process",
		be1+" service-links/stale-service-link", be1+" log-dir/log-dir-mode")
	ps, _ := exec1(t, l.Nodes[0], "ps", "-eo", "args")
	assert.Contains(t, ps, "svlogd", "the real runsvdir's argv names the failing svlogd:\n%s", ps)
	assert.Contains(t, ps, "/opt/opscode/embedded/bin/ruby /opt/opscode/embedded/bin/omnibus-ctl opscode")

	out, code := exec1(t, fe1, "private-chef-ctl", "status")
	assert.Equal(t, 3, code, out)
	assert.NotRegexp(t, `(?m)^run: `, out, "every front-end service stopped")

	for _, k := range []ecmodel.Knob{clustertest.DropMidCommand(fe1.Name, 2), clustertest.SlowNode(fe1.Name, time.Second)} {
		err := l.Plant(k)
		require.ErrorIs(t, err, clustertest.ErrCannotPlant, k.Name)
		var cp *clustertest.CannotPlantError
		require.ErrorAs(t, err, &cp)
		assert.Equal(t, "lab", cp.Host)
		t.Logf("refused: %v", err)
	}

	require.NoError(t, l.Plant(clustertest.Unreachable(fe1.Name)))
	got, table := found(t, l, "11.1.8")
	assert.True(t, got[fe1.Name+" reachable/unreachable"], table)
}

// hasFinding reports whether the pre-flight found check failing (or
// warning) on node, whatever the symptom.
func hasFinding(got map[string]bool, node, check string) bool {
	for k := range got {
		if strings.HasPrefix(k, node+" "+check+"/") {
			return true
		}
	}
	return false
}

// 11.0.2, the known issues that are state on disk or on the standby (in
// this order: OC-11540 rewrites private-chef.rb, OC-11656 then makes it
// 0600):
// OC-11490 (the real svlogd cannot write keepalived's root-owned log
// directory), OC-11297 (the back ends' level files missing), a root-owned
// /var/log/opscode (no fault on 11.0.x), OC-11656 (private-chef.rb 0600), OC-11540
// (non_ssl_port false), a missing log current and a full log file system
// on the bootstrap, an Inconsistent DRBD secondary, and OC-11575 (the
// standby's HA services running).
func TestLabKnobsState(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Spec{Version: "11.0.2", Knobs: []ecmodel.Knob{
		clustertest.OC11490(), clustertest.OC11297(), clustertest.OC11426(), clustertest.LogDirOwner(), clustertest.OC11540(),
		clustertest.OC11656(), clustertest.CurrentMissing(), clustertest.LogFSFull(), clustertest.DRBDInconsistent(), clustertest.OC11575(),
	}})
	be1, be2, fe1 := l.Nodes[0], l.Nodes[1], l.Nodes[2]
	var got map[string]bool
	var table string
	ok := assert.Eventually(t, func() bool {
		got, table = found(t, l, "11.1.8")
		return got[be1.Name+" runit-processes/runsvdir-errors"] && got[be2.Name+" runit-processes/runsvdir-errors"]
	}, time.Minute, 2*time.Second, "the real svlogd's complaints about keepalived's log directory")
	t.Logf("the pre-flight:\n%s", table)
	if !ok {
		for _, n := range l.Nodes[:2] {
			ps, _ := exec1(t, n, "ps", "-eo", "pid,ppid,user,args")
			ls, _ := exec1(t, n, "ls", "-la", "/var/log/opscode", "/var/log/opscode/keepalived")
			t.Logf("%s:\n%s\n%s", n.Name, ps, ls)
		}
		t.FailNow()
	}
	for _, n := range []*lab.Node{be1, be2} {
		assert.True(t, got[n.Name+" keepalived-log-dir/owner"], "OC-11490 on %s", n.Name)
		ps, _ := exec1(t, n, "ps", "-eo", "args")
		assert.Regexp(t, `svlogd: (pausing|fatal|warning): unable to .*/var/log/opscode/keepalived`, ps, "the real svlogd fails on %s", n.Name)
		_, code := exec1(t, n, "test", "-e", migration.Path)
		assert.NotEqual(t, 0, code, "OC-11297: %s has no level file", n.Name)
	}
	assert.True(t, hasFinding(got, "", "migration-level") || hasFinding(got, be1.Name, "migration-level"), "OC-11297 found")
	for _, n := range l.Nodes {
		// 11.0.x's recipes leave /var/log/opscode root's (no resource owns
		// it before 11.1.3): OC-11426's root-owned directory is no fault here.
		assert.False(t, got[n.Name+" log-dir/log-dir-owner"], "a root-owned /var/log/opscode on 11.0.2 (%s)", n.Name)
		assert.True(t, hasFinding(got, n.Name, "config-readable"), "OC-11656 on %s", n.Name)
		assert.True(t, hasFinding(got, n.Name, "non-ssl-port"), "OC-11540 on %s", n.Name)
	}
	assert.True(t, got[be1.Name+" log-dir/log-current-missing"], "a missing current")
	assert.True(t, got[be1.Name+" log-dir/log-fs-full"], "a full log file system")
	df, _ := exec1(t, be1, "df", "-P", "/var/log/opscode")
	assert.Contains(t, df, "100%", df)
	assert.True(t, hasFinding(got, be2.Name, "drbd-uptodate"), "the Inconsistent secondary")
	ds, _ := exec1(t, be2, "drbdadm", "dstate", "pc0")
	assert.Equal(t, "Inconsistent/DUnknown\n", ds)
	assert.True(t, got[be2.Name+" standby-services-stopped/running"], "OC-11575")
	_ = fe1
}

// 11.1.8, split brain: the secondary's real keepalived, restarted on a
// virtual router id its peer does not speak, takes the VIP beside the
// master, and the simulated DRBD is StandAlone with both Primary.
func TestLabKnobSplitBrain(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Spec{Version: "11.1.8", Knobs: []ecmodel.Knob{clustertest.SplitBrain()}})
	for _, n := range l.Nodes[:2] {
		require.Eventually(t, func() bool {
			out, _ := exec1(t, n, "ip", "-o", "-4", "addr", "show", "dev", "eth0")
			return strings.Contains(out, " "+l.VIP+"/")
		}, time.Minute, 500*time.Millisecond, "%s holds the VIP", n.Name)
		// The restart's notify_stop made be2 Secondary for a moment; its
		// master transition takes Primary again, StandAlone as it is.
		assert.Eventually(t, func() bool {
			role, _ := exec1(t, n, "drbdadm", "role", "pc0")
			return role == "Primary/Unknown\n"
		}, time.Minute, 500*time.Millisecond, "%s Primary", n.Name)
		cs, _ := exec1(t, n, "drbdadm", "cstate", "pc0")
		assert.Equal(t, "StandAlone\n", cs, n.Name)
	}
	got, table := found(t, l, "11.1.8")
	assert.True(t, got[" drbd-roles/split-brain"], table)
}

// 11.1.8: OC-11658 (the authz migrator fails and 0.0.3 says so), the
// standby's keepalived stopped, the secondary's replication address gone
// (then back: the resync starts), RHEL's os-release (the node's package
// tool follows it), and a file of one's own.
func TestLabKnobsMisc(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Spec{Version: "11.1.8", UpgradeSleep: time.Second, Knobs: []ecmodel.Knob{
		clustertest.OC11658(), clustertest.MigrationLevel(string(ecmodel.Bootstrap), `{"major":1,"minor":8}`),
		clustertest.StandbyKeepalivedStopped(), clustertest.DRBDPeerUnreachable(), clustertest.RHEL(),
		clustertest.File(string(ecmodel.Frontends), "/etc/opscode/chefha-lab-knob.txt", "planted\n", 0o600),
	}})
	be1, be2, fe1 := l.Nodes[0], l.Nodes[1], l.Nodes[2]

	out, code := exec1(t, be1, "private-chef-ctl", "upgrade")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "Partybus failed to execute command '/opt/opscode/embedded/service/oc_authz_migrator/scripts/opc-run.sh", "OC-11658: oc_authz_migrator 0.0.3 exits non-zero")

	out, code = exec1(t, be2, "private-chef-ctl", "status", "keepalived")
	assert.Equal(t, 3, code, out)
	assert.Contains(t, out, "down: keepalived: ")
	got, table := found(t, l, "11.1.8")
	assert.False(t, hasFinding(got, be2.Name, "standby-keepalived-stopped"), table)
	assert.True(t, got[be1.Name+" drbd-peer/unreachable"], "be2's replication address does not answer:\n%s", table)
	_, code = exec1(t, be1, "ping", "-c", "1", "-W", "1", be2.ClusterAddr)
	assert.NotEqual(t, 0, code)

	// Held from its start (ecmodel.HoldPath), the resync cannot end
	// before the test has looked at it.
	require.NoError(t, l.Plant(clustertest.File(be2.Name, ecmodel.HoldPath, "", 0o644)))
	require.NoError(t, l.Plant(clustertest.DRBDReconnect()))
	// be1's neighbour entry for the address failed while it was gone;
	// the kernel retries it within a few seconds, as on a real network.
	assert.Eventually(t, func() bool {
		_, code := exec1(t, be1, "ping", "-c", "1", "-W", "1", be2.ClusterAddr)
		return code == 0
	}, 20*time.Second, 500*time.Millisecond, "the replication address is back")
	cs, _ := exec1(t, be2, "drbdadm", "cstate", "pc0")
	assert.Equal(t, "SyncTarget\n", cs, "the secondary resyncs what it missed")

	out, code = exec1(t, fe1, "dpkg", "-i", putPackage(t, fe1, "debian", "11.1.8"))
	assert.Equal(t, 127, code, "no dpkg on RHEL: %s", out)
	out, code = exec1(t, fe1, "rpm", "-Uvh", putPackage(t, fe1, "rhel", "11.1.8"))
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "1:private-chef")

	out, _ = exec1(t, fe1, "cat", "/etc/opscode/chefha-lab-knob.txt")
	assert.Equal(t, "planted\n", out)
}

// waitCurrent waits until a node's current_cluster_status is want.
func waitCurrent(t *testing.T, n *lab.Node, want string) {
	t.Helper()
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(n.Root(ecmodel.CurrentPath))
		return strings.TrimSpace(string(b)) == want
	}, 2*time.Minute, 500*time.Millisecond, "%s becomes %s", n.Name, want)
}

// 1.4.6 → 11.1.8 on the bootstrap with OC-11669 (its safe mode skipped):
// the reconfigure stops the 1.x runsvdir job as its job file does, every
// runsv goes and keepalived with them, its notify_stop runs cluster.sh
// backup, and the secondary's real keepalived takes over.
func TestLabKnobOC11669(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Spec{Version: "1.4.6", Knobs: []ecmodel.Knob{clustertest.OC11669()}})
	be1, be2 := l.Nodes[0], l.Nodes[1]
	out, code := exec1(t, be1, "dpkg", "-i", putPackage(t, be1, "debian", "11.1.8"))
	require.Equal(t, 0, code, out)
	out, code = exec1(t, be1, "private-chef-ctl", "reconfigure")
	require.Equal(t, 0, code, out)
	waitCurrent(t, be2, "master")
	waitCurrent(t, be1, "backup")
	// Stopped, and its file deleted (enterprise-chef-common 0.3.0
	// recipes/runit_upstart.rb:13-15): Upstart no longer knows the job.
	out, _ = exec1(t, be1, "initctl", "status", "opscode-runsvdir")
	assert.Equal(t, "initctl: Unknown job: opscode-runsvdir\n", out)
	out, _ = exec1(t, be1, "initctl", "status", "private-chef-runsvdir")
	assert.Contains(t, out, "private-chef-runsvdir start/running")
	log, _ := exec1(t, be2, "cat", ecmodel.ClusterLogPath)
	assert.Contains(t, log, "DRBD primary takeover successful")
}

// OC-11382: the upgrade's reconfigure ends with keepalived restarting on
// the bootstrap; its notify_stop runs cluster.sh backup under partybus,
// and the secondary's real keepalived takes over.
func TestLabKnobOC11382(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Spec{Version: "11.1.8", UpgradeSleep: time.Second, Knobs: []ecmodel.Knob{clustertest.OC11382()}})
	be1, be2 := l.Nodes[0], l.Nodes[1]
	out, code := exec1(t, be1, "private-chef-ctl", "upgrade")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "Chef Server Upgraded!")
	waitCurrent(t, be2, "master")
	log, _ := exec1(t, be1, "cat", ecmodel.ClusterLogPath)
	assert.Regexp(t, `(?s)Transitioned to master.*Transitioning to backup`, log, "be1 went to backup after having been master")
}

// 11.1.6: OC-11670 (the bootstrap's upgrade reconfigure freezes
// is_data_master false: 1.9 skipped silently, its level written, 1.10's
// must_be_data_master fails), redis_lb slower to start than sv's 7 s,
// OC-11601 (11.1.8's reconfigure needs redis_lb restarted after the
// package install).
func TestLabKnobsUpgradePath(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Spec{Version: "11.1.6", UpgradeSleep: time.Second, Knobs: []ecmodel.Knob{
		clustertest.OC11670(), clustertest.MigrationLevel(string(ecmodel.Bootstrap), `{"major":1,"minor":8}`),
		clustertest.OC11601(), clustertest.SlowStart("redis_lb", 12*time.Second),
	}})
	be1, be2 := l.Nodes[0], l.Nodes[1]

	out, code := exec1(t, be1, "private-chef-ctl", "upgrade")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "The bootstrap server must be the HA-master at the time of upgrade.")
	level, _ := exec1(t, be1, "cat", migration.Path)
	assert.Equal(t, `{"major":1,"minor":9}`+"\n", level, "OC-11670: 1.9's level written though it did nothing")
	harm, _ := exec1(t, be1, "cat", ecmodel.ModelDir+"/harm")
	assert.Contains(t, harm, "migration 1.9 (authz to bifrost) skipped")

	start := time.Now()
	out, code = exec1(t, be1, "private-chef-ctl", "restart", "redis_lb")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "timeout: run: redis_lb", "the slow start: sv gives up after 7 s")
	// sv's own 7 s, not the 11.1.7+ wrapper's 30 s: the margin is for a
	// loaded machine's slower commands.
	assert.Less(t, time.Since(start), 25*time.Second, "sv's 7 s, not SVWAIT=30")

	// OC-11601 bites the data master only (recipes/redis_lb.rb @11.1.0–
	// 11.1.8, `if is_data_master?`): the standby's reconfigure goes
	// through, the bootstrap's fails until redis_lb is restarted.
	out, code = exec1(t, be2, "dpkg", "-i", putPackage(t, be2, "debian", "11.1.8"))
	require.Equal(t, 0, code, out)
	out, code = exec1(t, be2, "private-chef-ctl", "reconfigure")
	assert.Equal(t, 0, code, "not the data master: %s", out)
	out, code = exec1(t, be1, "dpkg", "-i", putPackage(t, be1, "debian", "11.1.8"))
	require.Equal(t, 0, code, out)
	out, code = exec1(t, be1, "private-chef-ctl", "reconfigure")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "Errno::ECONNREFUSED", "OC-11601")
	out, code = exec1(t, be1, "private-chef-ctl", "restart", "redis_lb")
	assert.Equal(t, 0, code, "11.1.8's wrapper waits 30 s: %s", out)
	out, code = exec1(t, be1, "private-chef-ctl", "reconfigure")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "opscode Reconfigured!")
}

// A master transition that gave up: the real keepalived stays master with
// the VIP and never runs cluster.sh again; the pre-flight says so and
// names the rerun, which brings the services back.
func TestLabKnobMasterTransitionFailed(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Spec{Version: "11.1.8", Knobs: []ecmodel.Knob{clustertest.MasterTransitionFailed()}})
	be1 := l.Nodes[0]
	got, table := found(t, l, "11.1.8")
	require.True(t, got[be1.Name+" keepalived-pair/transition-failed"], table)
	out, _ := exec1(t, be1, "ip", "-o", "-4", "addr", "show", "dev", "eth0")
	assert.Contains(t, out, " "+l.VIP+"/", "keepalived keeps the VIP")
	out, code := exec1(t, be1, keepalived.ClusterShPath, "master")
	require.Equal(t, 0, code, out)
	waitCurrent(t, be1, "master")
	got, table = found(t, l, "11.1.8")
	assert.False(t, hasFinding(got, be1.Name, "keepalived-pair"), table)
}
