package upgrade_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUpgrade146To1118(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 3)
	start := time.Now()
	var events []upgrade.Event
	require.NoError(t, e.runner("11.1.8", &events).Run(context.Background()))
	t.Logf("1.4.6 → 11.1.8, 2 back ends + 3 front ends: %d events, %s wall, %s emulated",
		len(events), time.Since(start).Round(time.Millisecond), e.clock.Now().Sub(epoch))
	e.assertUpgraded(t, "11.1.8", "1.13")
	last := events[len(events)-1]
	assert.Equal(t, upgrade.EventOutcome, last.Kind)
	assert.Equal(t, upgrade.OutcomeDone, last.Outcome)
	rec, err := e.journal.Load(context.Background())
	require.NoError(t, err)
	assert.True(t, rec.Finished())
	require.Len(t, rec.Backups, 1, "the backup made is recorded")
	assert.Equal(t, 0, rec.Backups[0].ExitCode)
	assert.Empty(t, rec.Backups[0].Output, "the backup's output is kept only when asked")
}

func TestUpgrade128Via146To1118(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.2.8", 3)
	p := e.plan(t, "11.1.8")
	hops := map[int]string{}
	for _, s := range p.Steps {
		hops[s.Hop] = s.Target
	}
	assert.Equal(t, map[int]string{1: "1.4.6", 2: "11.1.8"}, hops, "1.2.x goes through 1.4.6 first")
	require.NoError(t, e.runner("11.1.8", nil).Run(context.Background()))
	e.assertUpgraded(t, "11.1.8", "1.13")
}

func TestUpgrade1102To1118WithOC11297(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "11.0.2", 3, clustertest.OC11297())
	_, ok := e.plan(t, "11.1.8").Step("hop1/" + string(upgrade.StepRepairLevels))
	require.True(t, ok)
	require.NoError(t, e.runner("11.1.8", nil).Run(context.Background()))
	e.assertUpgraded(t, "11.1.8", "1.13")
	bak, err := fs.Glob(e.sim.Bootstrap().FS(), "var/opt/opscode/upgrades/migration-level.chefha-backup-*")
	require.NoError(t, err)
	assert.Empty(t, bak, "OC-11297 leaves no file (recipes/partybus.rb never writes it): nothing to keep")
}

// From 1.4.6 to 11.1.8 a back end without its level fails its first
// reconfigure after pg_upgrade (recipes/partybus.rb:54-77 @11.1.8);
// chefha's repair step writes the level before, so the run goes through.
func TestUpgrade146To1118WithOC11297(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1, clustertest.OC11297())
	require.NoError(t, e.runner("11.1.8", nil).Run(context.Background()))
	e.assertUpgraded(t, "11.1.8", "1.13")
}

func TestUpgradeOnRHEL(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1, clustertest.RHEL())
	r := e.runner("11.1.8", nil)
	require.NoError(t, r.Run(context.Background()))
	var argv []string
	for _, a := range r.Actions() {
		if a.Kind == upgrade.ActRun && a.Node == "fe1.chefha.test" && a.Critical && len(a.Argv) > 0 && (a.Argv[0] == "rpm" || a.Argv[0] == "dpkg") {
			argv = a.Argv
		}
	}
	assert.Equal(t, []string{"rpm", "-Uvh", "/tmp/private-chef-11.1.8-1.el6.x86_64.rpm"}, argv)
	e.assertUpgraded(t, "11.1.8", "1.13")
}

func TestPlanRefusals(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	facts := upgrade.Gather(context.Background(), e.cl)
	target := upgrade.WithTarget("11.1.8")
	_, err := upgrade.BuildPlan(facts, target)
	assert.ErrorIs(t, err, upgrade.ErrNoBackup)
	_, err = upgrade.BuildPlan(facts, target, upgrade.WithBackup(upgrade.Backup{Command: "lvcreate -s …"}))
	assert.ErrorIs(t, err, upgrade.ErrNoBackupCheck)
	_, err = upgrade.BuildPlan(facts, target, upgrade.WithBackup(upgrade.Backup{Waived: "ticket 1"}))
	var mp *upgrade.MissingPackageError
	require.ErrorAs(t, err, &mp)
	assert.Equal(t, "debian", mp.Family)
	assert.Contains(t, err.Error(), "be1.chefha.test")
	_, err = upgrade.BuildPlan(facts, append(e.options("1.2.8"), upgrade.WithBackup(upgrade.Backup{Waived: "ticket 1"}))...)
	assert.ErrorContains(t, err, "downgrade")
	_, err = upgrade.BuildPlan(facts, e.options("11.0.2")...)
	var pe *upgrade.PlanError
	require.ErrorAs(t, err, &pe, "a skippable path is refused unless allowed")
	assert.True(t, pe.OnlySkippable())
	_, err = upgrade.BuildPlan(facts, e.options("11.0.2", upgrade.WithSkippable())...)
	assert.NoError(t, err)
	_, err = upgrade.BuildPlan(facts, e.options("11.1.8", upgrade.WithFromStep("hop1/instal-package"))...)
	var us *upgrade.UnknownStepError
	require.ErrorAs(t, err, &us)
	assert.Equal(t, []string{"hop1/install-package"}, us.Similar)
}

// Step ids carry no ordinal, and the plan holds no action: actions come
// from the facts when a step's turn comes.
func TestPlanShape(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 2)
	p := e.plan(t, "11.1.8")
	var ids []string
	for _, s := range p.Steps {
		ids = append(ids, s.ID)
	}
	assert.Equal(t, []string{
		"hop1/backup", "hop1/reconfigure-all", "hop1/stop-frontends", "hop1/stop-standby-keepalived",
		"hop1/repair-migration-levels", "hop1/check-runit", "hop1/bootstrap-healthy", "hop1/install-package",
		"hop1/reconfigure-bootstrap", "hop1/upgrade-bootstrap", "hop1/copy-etc-opscode", "hop1/upgrade-secondary",
		"hop1/upgrade-frontend/fe1.chefha.test", "hop1/upgrade-frontend/fe2.chefha.test", "hop1/start-all", "hop1/verify",
	}, ids)
	assert.Equal(t, p.Hash(), e.plan(t, "11.1.8").Hash(), "the same inputs and cluster give the same plan")
	assert.NotEqual(t, p.Hash(), e.plan(t, "11.1.8", upgrade.WithRecoverRunit()).Hash())
	require.Len(t, p.Inputs.Packages, 1, "one package for the one hop and family")
	assert.Len(t, p.Inputs.Packages[0].SHA256, 64)
}

// The dry run lists what a real run does: the real run carries out every
// listed action, in order, but those listed with a condition at their
// step's turn, which it takes when the condition holds then — here the
// standby's own upgrade starts its services, which start-all then stops by
// name, and the dry run lists every HA service it may stop.
func TestDryRunListsWhatTheRunDoes(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 2)
	dry := upgrade.NewRunner(e.cl, e.options("11.1.8", upgrade.WithDryRun())...)
	require.NoError(t, dry.Run(context.Background()))
	for name, log := range e.logs() {
		assert.Empty(t, log, "%s: a dry run changes nothing", name)
	}
	real := e.runner("11.1.8", nil)
	require.NoError(t, real.Run(context.Background()))
	want, got := dry.Actions(), real.Actions()
	i, conditional := 0, 0
	for _, a := range got {
		for i < len(want) && actionKey(want[i]) != actionKey(a) {
			assert.NotEmpty(t, want[i].If, "the run skipped %s, which the dry run listed without a condition", want[i])
			i++
		}
		require.Less(t, i, len(want), "the run took %s, which the dry run does not list after what the run took before", a)
		if want[i].If != "" && want[i].Node == "be2.chefha.test" && want[i].Argv[len(want[i].Argv)-1] != "keepalived" {
			conditional++ // one of the standby's services, stopped at start-all
		}
		i++
	}
	assert.Positive(t, conditional, "the standby's services, started by its upgrade, were stopped as the dry run said they may be")
	e.assertUpgraded(t, "11.1.8", "1.13")
}

// OC-11656 on a path to 11.0.x: reconfigure and upgrade run under umask
// 022, so the configuration stays readable to the services.
func TestUpgradeUnderUmaskForOC11656(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1, clustertest.OC11656())
	r := e.runner("11.0.2", nil, upgrade.WithSkippable())
	require.NoError(t, r.Run(context.Background()))
	var wrapped int
	for _, a := range r.Actions() {
		if len(a.Argv) > 2 && a.Argv[0] == "sh" && a.Argv[2] == `umask 022; exec "$@"` {
			wrapped++
		}
	}
	assert.Equal(t, 3+1+3, wrapped, "reconfigure on all 3 nodes, the bootstrap's reconfigure, 3 upgrades")
	for _, s := range e.sim.Topology.Servers {
		st, err := e.sim.Node(s.Name).ReadFile("/etc/opscode/private-chef.rb")
		require.NoError(t, err)
		require.NotEmpty(t, st)
	}
}

// The plan never stops keepalived with everything else on a back end, and
// never starts everything on the standby: both fail the cluster over or
// run the HA services on the passive node.
func TestNoBareStopOrStartOnTheBackends(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	r := e.runner("11.1.8", nil)
	require.NoError(t, r.Run(context.Background()))
	for _, a := range r.Actions() {
		if a.Kind != upgrade.ActRun || (a.Node != "be1.chefha.test" && a.Node != "be2.chefha.test") {
			continue
		}
		cmd := strings.Join(a.Argv, " ")
		assert.NotRegexp(t, `private-chef-ctl (stop|restart)$`, cmd, "%s: %s", a.Node, cmd)
		if a.Node == "be2.chefha.test" {
			assert.NotRegexp(t, `private-chef-ctl start$`, cmd, "the standby: %s", cmd)
		}
	}
	e.sim.Secondary().Lock(func(n *clustertest.Node) { assert.Empty(t, n.Harm()) })
}
