package upgrade_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// DRBD disconnects in the middle of an upgrade: the run stops at the next
// check before a step that could fail the cluster over, naming the DRBD
// state, and does nothing further; once the link is back and the resync
// has finished, a resumed run goes on to the end, and the post-flight
// finds DRBD in sync.
func TestDRBDDisconnectStopsAtTheNextGateAndResumes(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	r := e.runner("11.1.8", nil, upgrade.WithGateTimings(0, 2*60e9, 0), upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventStepDone && ev.Step == "hop1/install-package" {
			require.NoError(t, e.sim.Plant(clustertest.DRBDDisconnected()))
		}
	}))
	err := r.Run(context.Background())
	var se *upgrade.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "hop1/reconfigure-bootstrap", se.Step, "the bootstrap's reconfigure can fail the cluster over: it waits for DRBD first")
	assert.Contains(t, err.Error(), "drbd-not-in-sync")
	assert.Contains(t, err.Error(), "WFConnection")
	assert.NotContains(t, e.logs()["be1.chefha.test"], "reconfigure\nchown", "nothing ran after the stop")

	require.NoError(t, e.sim.Plant(clustertest.DRBDReconnect())) // the link is back: a resync starts
	var waits []string
	require.NoError(t, e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventGateWait && strings.Contains(ev.Message, "synced") {
			waits = append(waits, ev.Message)
		}
	})).Run(context.Background()), "resumed")
	assert.NotEmpty(t, waits, "the gate showed the resync's progress while it waited")
	e.assertUpgraded(t, "11.1.8", "1.13")
	assertEachEffectOnce(t, e)
}

// The standby's runsvdir is judged at start-all's gate as the others'
// are (the runbook: check runsvdir status between each upgrade): a fault
// there stops the run at start-all naming the standby, before the
// post-flight.
func TestStartAllGateJudgesTheStandbysRunsvdir(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	broken := ecmodel.NewKnob("standby-runsvdir-errors", true, ecmodel.Selector("be2.chefha.test"), func(tg ecmodel.Target) error {
		m := "svlogd: pausing: unable to rename current: /var/log/opscode/rabbitmq: file does not exist?"
		return tg.(ecmodel.Processes).SetRunsvdirLog(m + m)
	})
	r := e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventStepStart && ev.Step == "hop1/start-all" {
			require.NoError(t, e.sim.Plant(broken))
		}
	}))
	err := r.Run(context.Background())
	var se *upgrade.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "hop1/start-all", se.Step)
	assert.Contains(t, err.Error(), "runsvdir on be2.chefha.test is unhealthy")
	assert.Contains(t, err.Error(), "/var/log/opscode/rabbitmq")
}

// The 11.x reconfigure stops the 1.x runsvdir job, and keepalived's stop
// makes cluster.sh tell services "down" while the job's post-stop tells
// their runsv to exit: a runsv told both waits for ever, holding its
// service's lock (the lab shows it). After stopping the old job the
// runner makes sure none is left: TERM, and the run goes on.
func TestOldJobsRunsvLeftAreCleared(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	planted := false
	var findings []string
	r := e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventAction && !planted && strings.Contains(ev.Message, "initctl stop opscode-runsvdir") {
			planted = true
			require.NoError(t, e.sim.Plant(clustertest.RunsvdirRespawned()))
		}
		if ev.Kind == upgrade.EventFinding && strings.Contains(ev.Message, "sending TERM") {
			findings = append(findings, ev.Message)
		}
	}))
	require.NoError(t, r.Run(context.Background()))
	require.True(t, planted)
	require.Len(t, findings, 1, "the leftover runsv were sent TERM once")
	assert.Contains(t, findings[0], "runsv couchdb")
	e.assertUpgraded(t, "11.1.8", "1.13")
}

// A master transition that gave up (cluster.sh's error_exit) is never run
// again by keepalived: the gate runs it again once nothing blocks it.
func TestGateRerunsAFailedMasterTransition(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	planted := false
	var reruns, failed []string
	r := e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventAction && !planted && strings.Contains(ev.Message, "initctl stop opscode-runsvdir") {
			planted = true
			require.NoError(t, e.sim.Plant(clustertest.MasterTransitionFailed()))
		}
		if ev.Kind == upgrade.EventAction && strings.Contains(ev.Message, "cluster.sh master (detached") {
			reruns = append(reruns, ev.Node+": "+ev.Message)
		}
		if ev.Kind == upgrade.EventGateWait && strings.Contains(ev.Message, "transition-failed") {
			failed = append(failed, ev.Message)
		}
	}))
	require.NoError(t, r.Run(context.Background()))
	require.True(t, planted)
	require.Equal(t, []string{"be1.chefha.test: be1.chefha.test: /var/opt/opscode/keepalived/bin/cluster.sh master (detached: an interrupt never cuts it)"}, reruns)
	require.NotEmpty(t, failed, "the gate said why it waited")
	assert.Contains(t, failed[0], "Cannot start")
	e.assertUpgraded(t, "11.1.8", "1.13")
}

// A runsv of the old job left holding postgresql while it runs on the
// master: the runner's TERM takes postgresql down with it (runsv stops
// its service before it exits), the new job's runsv leaves it down (an
// HA service's down file), and keepalived, master already, starts
// nothing. The runner starts it again, on the master, and says so. It is
// planted after the bootstrap's upgrade: after its reconfigure the
// services are down anyway, the stop of opscode-runsvdir having TERMed
// every runsv, keepalived's among them (its post-stop), and cluster.sh
// moving the node back to master.
func TestOrphanTakenDownIsStartedAgainOnTheMaster(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	planted := false
	var starts []string
	r := e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventAction && !planted && ev.Node == e.sim.Bootstrap().Name && strings.HasSuffix(ev.Step, "/"+string(upgrade.StepUpgradeBootstrap)) &&
			strings.Contains(ev.Message, "no runsv of the stopped job") {
			planted = true
			e.sim.Bootstrap().Lock(func(n *clustertest.Node) { require.NoError(t, n.AddProcess("runsv postgresql")) })
		}
		if ev.Kind == upgrade.EventAction && strings.Contains(ev.Message, "private-chef-ctl start postgresql") {
			starts = append(starts, ev.Node+": "+ev.Message)
		}
	}))
	require.NoError(t, r.Run(context.Background()))
	require.True(t, planted)
	require.Equal(t, []string{"be1.chefha.test: be1.chefha.test: env SVWAIT=30 private-chef-ctl start postgresql"}, starts)
	e.assertUpgraded(t, "11.1.8", "1.13")
}

// OC-11601's workaround restarts redis_lb on the data master only: a
// restart starts a stopped service, and on the passive back end redis_lb
// (an HA service) must stay down, its DRBD data on the other node.
func TestRedisRestartOnlyOnTheDataMaster(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "11.1.6", 1, clustertest.OC11601())
	var restarts []string
	r := e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventAction && strings.Contains(ev.Message, "redis_lb") {
			restarts = append(restarts, ev.Message)
		}
	}))
	require.NoError(t, r.Run(context.Background()))
	require.NotEmpty(t, restarts)
	for _, m := range restarts {
		assert.True(t, strings.HasPrefix(m, e.sim.Bootstrap().Name+": "), m)
	}
	e.assertUpgraded(t, "11.1.8", "1.13")
}
