package upgrade_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/issue"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every clustertest knob: the runner works around it and finishes, or
// stops before harm with a message naming the OC id (or the symptom) and
// the fix — at plan time when the pre-flight can see it.
func TestRunnerAgainstEveryKnob(t *testing.T) {
	t.Parallel()
	const (
		finish = iota // the upgrade completes
		refuse        // BuildPlan refuses, naming the problem
		stop          // the run stops at a step, naming the problem
	)
	tests := []struct {
		name     string
		version  string
		target   string // default 11.1.8
		knobs    []clustertest.Knob
		recover  bool
		outcome  int
		msg      []string // substrings of the refusal or stop
		harmless bool     // for stops: nothing was damaged
	}{
		{name: "OC-11297", version: "11.0.2", knobs: []clustertest.Knob{clustertest.OC11297()}, outcome: finish},
		{name: "OC-11382", version: "1.4.6", knobs: []clustertest.Knob{clustertest.OC11382()}, outcome: finish},
		{name: "OC-11426", version: "1.4.6", knobs: []clustertest.Knob{clustertest.OC11426()}, outcome: finish},
		{name: "OC-11490", version: "1.4.6", knobs: []clustertest.Knob{clustertest.OC11490()}, outcome: finish},
		{name: "OC-11490 on EC 11", version: "11.0.2", knobs: []clustertest.Knob{clustertest.OC11490()}, outcome: finish},
		{name: "OC-11540 (still in 11.1.8, silent)", version: "1.4.6", knobs: []clustertest.Knob{clustertest.OC11540()}, outcome: refuse, msg: []string{"OC-11540", "http://127.0.0.1:false"}},
		{name: "OC-11575", version: "11.0.2", knobs: []clustertest.Knob{clustertest.OC11575()}, outcome: finish},
		{name: "OC-11601", version: "11.1.6", knobs: []clustertest.Knob{clustertest.OC11601()}, outcome: finish},
		{name: "OC-11656", version: "1.4.6", knobs: []clustertest.Knob{clustertest.OC11656()}, outcome: finish},
		{name: "OC-11657", version: "1.4.6", knobs: []clustertest.Knob{clustertest.OC11657()}, outcome: finish},
		// 11.1.8's oc_authz_migrator exits on errors, so partybus fails loudly;
		// the swallowed failure is before it (oc_authz_migrator 0.0.1).
		{name: "OC-11658 fixed in the 11.1.8 target", version: "1.4.6", knobs: []clustertest.Knob{clustertest.OC11658()}, outcome: stop, msg: []string{"OC-11658", "exitstatus: 1"}},
		{name: "slow start", version: "11.0.2", knobs: []clustertest.Knob{clustertest.SlowStart("redis_lb", 12*time.Second)}, outcome: finish},
		{name: "OC-11669", version: "1.4.6", knobs: []clustertest.Knob{clustertest.OC11669()}, outcome: finish},
		{name: "OC-11670", version: "1.4.6", knobs: []clustertest.Knob{clustertest.OC11669(), clustertest.OC11670()}, outcome: finish},
		{name: "partybus lock", version: "11.0.2", knobs: []clustertest.Knob{clustertest.PartybusLocked()}, outcome: stop, msg: []string{"Unable to obtain file lock", "another upgrade holds"}, harmless: true},
		{name: "runsvdir errors", version: "1.4.6", knobs: []clustertest.Knob{clustertest.RunsvdirErrors()}, outcome: refuse, msg: []string{"runsvdir-errors", "initctl start private-chef-runsvdir"}},
		{name: "runsvdir errors recovered", version: "1.4.6", knobs: []clustertest.Knob{clustertest.RunsvdirErrors()}, recover: true, outcome: finish},
		{name: "two runsvdirs recovered", version: "1.4.6", knobs: []clustertest.Knob{clustertest.TwoRunsvdirs()}, recover: true, outcome: finish},
		{name: "runsvdir respawned", version: "1.4.6", knobs: []clustertest.Knob{clustertest.RunsvdirRespawned()}, outcome: refuse, msg: []string{"orphan-runsv", "kill -TERM"}},
		{name: "runsvdir respawned recovered", version: "1.4.6", knobs: []clustertest.Knob{clustertest.RunsvdirRespawned()}, recover: true, outcome: finish},
		{name: "leftover ctl", version: "1.4.6", knobs: []clustertest.Knob{clustertest.LeftoverCtl()}, outcome: refuse, msg: []string{"leftover-ctl-process", "must be gone"}},
		{name: "log dir mode", version: "1.4.6", knobs: []clustertest.Knob{clustertest.LogDirMode()}, outcome: refuse, msg: []string{"log-dir-mode", "chmod 755"}},
		{name: "log dir owner", version: "11.0.2", knobs: []clustertest.Knob{clustertest.LogDirOwner()}, outcome: finish},
		{name: "current missing", version: "1.4.6", knobs: []clustertest.Knob{clustertest.CurrentMissing()}, outcome: refuse, msg: []string{"log-current-missing"}},
		{name: "log fs full", version: "1.4.6", knobs: []clustertest.Knob{clustertest.LogFSFull()}, outcome: refuse, msg: []string{"log-fs-full", "free space"}},
		{name: "stale links", version: "1.4.6", knobs: []clustertest.Knob{clustertest.StaleLinks()}, outcome: finish},
		{name: "split brain", version: "1.4.6", knobs: []clustertest.Knob{clustertest.SplitBrain()}, outcome: refuse, msg: []string{"split-brain", "stop keepalived on the secondary"}},
		{name: "bootstrap service down", version: "1.4.6", knobs: []clustertest.Knob{clustertest.ServiceDown("be1.chefha.test", "opscode-erchef")}, outcome: refuse, msg: []string{"bootstrap-healthy", "opscode-erchef"}},
		{name: "front ends already stopped", version: "1.4.6", knobs: []clustertest.Knob{clustertest.FrontendsStopped(), clustertest.StandbyKeepalivedStopped()}, outcome: finish},
		{name: "migration level corrupt", version: "1.4.6", knobs: []clustertest.Knob{clustertest.MigrationLevel("fe1.chefha.test", `{"major":1,"mi`)}, outcome: finish},
		{name: "DRBD secondary inconsistent", version: "1.4.6", knobs: []clustertest.Knob{clustertest.DRBDInconsistent()}, outcome: refuse, msg: []string{"drbd-uptodate", "Inconsistent"}},
		{name: "DRBD resync running", version: "1.4.6", knobs: []clustertest.Knob{clustertest.DRBDResync(40, 10)}, outcome: refuse, msg: []string{"drbd-uptodate", "SyncTarget", "resync 4"}},
		{name: "DRBD split brain", version: "1.4.6", knobs: []clustertest.Knob{clustertest.SplitBrain()}, outcome: refuse, msg: []string{"drbd-roles", "split brain"}},
		{name: "slow node", version: "1.4.6", knobs: []clustertest.Knob{clustertest.SlowNode("fe1.chefha.test", 2*time.Millisecond)}, outcome: finish},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each on its own simulated cluster and fake clock
			// One front end: what a second adds (its own upgrade step) the
			// end-to-end tests cover; a full run per knob is the cost.
			e := newUpgradeEnv(t, tt.version, 1, tt.knobs...)
			target := tt.target
			if target == "" {
				target = "11.1.8"
			}
			var more []upgrade.Option
			if tt.recover {
				more = append(more, upgrade.WithRecoverRunit())
			}
			facts := upgrade.Gather(context.Background(), e.cl)
			_, err := upgrade.BuildPlan(facts, e.options(target, more...)...)
			if tt.outcome == refuse {
				var be *upgrade.BlockedError
				require.ErrorAs(t, err, &be)
				for _, m := range tt.msg {
					assert.Contains(t, err.Error(), m)
				}
				assertUntouched(t, e, tt.version)
				return
			}
			require.NoError(t, err)
			var dry []upgrade.Event
			require.NoError(t, e.runner(target, &dry, append(more, upgrade.WithDryRun())...).Run(context.Background()), "the dry run")
			var events []upgrade.Event
			err = e.runner(target, &events, more...).Run(context.Background())
			assertDryRunListsTheRun(t, dry, events)
			goldenFile(t, "dryrun/"+goldenName(tt.name)+".txt", dryRunText(dry, e.packages))
			assertNoBareCommandFailsOver(t, events, e.sim.Bootstrap().Name, e.sim.Secondary().Name)
			if tt.outcome == finish {
				require.NoError(t, err)
				e.assertUpgraded(t, "11.1.8", "1.13")
				return
			}
			var se *upgrade.StepError
			require.ErrorAs(t, err, &se)
			for _, m := range tt.msg {
				assert.Contains(t, err.Error(), m)
			}
			if tt.harmless {
				for _, n := range e.sim.Nodes {
					n.Lock(func(n *clustertest.Node) { assert.Empty(t, n.Harm(), n.Name) })
				}
			}
			// It stopped at the bootstrap: nothing else was upgraded.
			for _, s := range e.sim.Topology.Frontends() {
				e.sim.Node(s.Name).Lock(func(n *clustertest.Node) {
					assert.NotContains(t, strings.Join(n.Log(), "\n"), "private-chef-ctl upgrade", "%s was upgraded after the stop", s.Name)
				})
			}
		})
	}
}

func assertUntouched(t *testing.T, e *upgradeEnv, version string) {
	t.Helper()
	for _, n := range e.sim.Nodes {
		n.Lock(func(n *clustertest.Node) {
			assert.Empty(t, n.Log(), "%s: a refused plan changes nothing", n.Name)
			assert.Equal(t, version, n.Package())
		})
	}
}

// A dropped connection stops the run at a step; running again resumes
// there and finishes.
func TestRunnerDroppedConnectionThenResume(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 2)
	// fe2's commands from now: the gather, the two mkdirs of its lock, the
	// gather before the reconfigure, the reconfigure: it drops under that.
	require.NoError(t, e.sim.Plant(clustertest.DropMidCommand("fe2.chefha.test", 5)))
	err := e.runner("11.1.8", nil).Run(context.Background())
	require.ErrorIs(t, err, cluster.ErrConnectionLost)
	var se *upgrade.StepError
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, "hop1/reconfigure-all", se.Step)
	require.NoError(t, e.runner("11.1.8", nil).Run(context.Background()), "resumed")
	e.assertUpgraded(t, "11.1.8", "1.13")
}

// A lock that cannot be taken on one node is released on the others, the
// node's own error is named, and nothing else runs.
func TestPartialLockFailureLeavesNoLock(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 2)
	require.NoError(t, e.sim.Plant(clustertest.DropMidCommand("fe2.chefha.test", 3))) // gather, mkdir -p, mkdir LOCK
	err := e.runner("11.1.8", nil).Run(context.Background())
	var le *upgrade.LockError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, "fe2.chefha.test", le.Node)
	assert.ErrorIs(t, err, cluster.ErrConnectionLost, "the real error, not 'another run holds it'")
	for _, s := range e.sim.Topology.Servers {
		_, serr := e.sim.Node(s.Name).Stat(upgrade.LockPath + "/owner")
		assert.ErrorIs(t, serr, fs.ErrNotExist, "%s: no lock left behind", s.Name)
	}
	for name, log := range e.logs() {
		assert.NotContains(t, log, "reconfigure", "%s: nothing ran", name)
	}
	require.NoError(t, e.runner("11.1.8", nil).Run(context.Background()), "the next run is not refused by leftovers")
}

// OC-11658 on a target before 11.1.7: oc_authz_migrator 0.0.1 exits 0 on
// failure and what it prints is not known, so nothing chefha reads shows
// it. The plan says so and gives the exact check by hand (bifrost's rows
// beside CouchDB's authorization database); the run ends as the real one
// would, and only the model knows the data stayed behind.
func TestOC11658BeforeItsFixIsAManualCheck(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1, clustertest.OC11658())
	plan := e.plan(t, "11.1.6")
	view := upgrade.DescribePlan(plan, upgrade.Gather(context.Background(), e.cl))
	i := slices.IndexFunc(view.Issues, func(p upgrade.PlanIssue) bool { return p.ID == issue.OC11658 })
	require.GreaterOrEqual(t, i, 0, "the plan names OC-11658")
	assert.Equal(t, upgrade.MitigateManual, view.Issues[i].Mitigation)
	assert.Contains(t, view.Issues[i].Action, "chefha cannot see this failure")
	assert.Contains(t, view.Issues[i].Action, "psql bifrost -Atc 'select (select count(*) from auth_actor)")
	assert.Contains(t, view.Issues[i].Action, "curl -s http://127.0.0.1:5984/authorization")
	require.NoError(t, e.runner("11.1.6", nil).Run(context.Background()))
	e.sim.Bootstrap().Lock(func(n *clustertest.Node) {
		assert.Contains(t, strings.Join(n.Harm(), "\n"), "authz data un-migrated", "the model knows what chefha cannot see")
	})
}

// assertNoBareCommandFailsOver holds the runner to OC-11574: a bare
// private-chef-ctl start, stop or restart acts on keepalived too. The
// standby never gets a bare start or restart (HA services and keepalived
// would start there); the bootstrap gets a bare stop only while the
// standby's keepalived is stopped (else the standby takes over). The
// events are the run's, in order.
func assertNoBareCommandFailsOver(t *testing.T, events []upgrade.Event, boot, sec string) {
	t.Helper()
	standbyKeepalived := true
	for _, ev := range events {
		if ev.Kind != upgrade.EventAction || ev.Action == nil || ev.Action.Kind != upgrade.ActRun {
			continue
		}
		argv := ev.Action.Argv
		i := slices.Index(argv, "private-chef-ctl")
		if i < 0 {
			continue
		}
		args := argv[i+1:]
		if len(args) == 0 || !slices.Contains([]string{"start", "stop", "restart"}, args[0]) {
			continue // reconfigure, upgrade: the runbook's, on every node
		}
		switch {
		case ev.Node == sec && slices.Equal(args, []string{"stop", "keepalived"}):
			standbyKeepalived = false
		case ev.Node == sec && slices.Equal(args, []string{"start", "keepalived"}):
			standbyKeepalived = true
		case len(args) == 1 && ev.Node == sec:
			assert.Equal(t, "stop", args[0], "OC-11574: a bare %s on the standby %s starts its HA services", args[0], sec)
		case len(args) == 1 && ev.Node == boot && args[0] != "start":
			assert.False(t, standbyKeepalived, "OC-11574: a bare %s on the bootstrap %s while the standby's keepalived runs fails the cluster over", args[0], boot)
		}
	}
}

// Migrations 1.9 and 1.10 stop a dozen services and start them at their
// end. A stop that outlasts SVWAIT makes partybus die half-way, those
// services down: the step fails naming what is left down, and a resumed
// run, once the slow service is down, runs the upgrade again (partybus
// resumes from the level reached, starting them) and ends done.
func TestMigrationThatStopsServicesFailsHalfWay(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1, clustertest.SlowStop("opscode-expander", 45*time.Second))
	err := e.runner("11.1.8", nil).Run(context.Background())
	var se *upgrade.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "hop1/upgrade-bootstrap", se.Step)
	assert.Contains(t, err.Error(), "Partybus failed to execute command 'private-chef-ctl stop opscode-expander'")
	assert.Regexp(t, `left down on be1\.chefha\.test: .*nginx.*opscode-erchef`, err.Error())

	e.clock.Advance(time.Minute) // the slow service is down by now
	require.NoError(t, e.runner("11.1.8", nil).Run(context.Background()), "resumed")
	e.assertUpgraded(t, "11.1.8", "1.13")
	assert.GreaterOrEqual(t, strings.Count(e.logs()["be1.chefha.test"], "private-chef-ctl upgrade"), 2, "the upgrade ran again")
}

// assertDryRunListsTheRun checks that the actions a run took are the dry
// run's, in its order: every action the run took (but those taken within
// another, listed as part of it) appears in the dry run after the one
// before it.
func assertDryRunListsTheRun(t *testing.T, dry, run []upgrade.Event) {
	t.Helper()
	var listed []string
	for _, ev := range dry {
		if ev.Kind == upgrade.EventAction {
			listed = append(listed, ev.Step+" "+actionKey(*ev.Action))
		}
	}
	i := 0
	for _, ev := range run {
		if ev.Kind != upgrade.EventAction || ev.Action.Within != "" {
			continue
		}
		key := ev.Step + " " + actionKey(*ev.Action)
		j := slices.Index(listed[i:], key)
		if j < 0 {
			t.Errorf("the run took %q, which the dry run does not list (after its action %d)", key, i)
			continue
		}
		i += j + 1
	}
	if t.Failed() {
		t.Logf("the dry run:\n%s", strings.Join(listed, "\n"))
	}
}

// actionKey is what makes two actions the same, whatever the condition the
// dry run gave it.
func actionKey(a upgrade.Action) string {
	a.If, a.IfNow = "", false
	return a.String()
}

// dryRunText is what a dry run says, step by step, with the test's package
// directory (a temporary one) named PKGDIR.
func dryRunText(events []upgrade.Event, packages []string) []byte {
	var b strings.Builder
	for _, ev := range events {
		switch ev.Kind {
		case upgrade.EventStepStart:
			fmt.Fprintf(&b, "%s  %s", ev.Step, ev.Title)
			if ev.Message != "" {
				fmt.Fprintf(&b, " [%s]", ev.Message)
			}
			b.WriteString("\n")
		case upgrade.EventStepSkip:
			fmt.Fprintf(&b, "%s  %s: skipped: %s\n", ev.Step, ev.Title, ev.Message)
		case upgrade.EventAction:
			fmt.Fprintf(&b, "    %s\n", ev.Message)
		}
	}
	s := b.String()
	for _, p := range packages {
		s = strings.ReplaceAll(s, filepath.Dir(p), "PKGDIR")
	}
	return []byte(s)
}

// goldenName is a test name as a file name.
func goldenName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, name)
}
