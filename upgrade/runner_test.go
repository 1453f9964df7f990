package upgrade_test

import (
	"context"
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upgradeEnv is a simulated cluster, dialled, with package files and a
// stepping clock shared by the nodes and the runner's gates.
type upgradeEnv struct {
	sim      *clustertest.Cluster
	cl       *cluster.Cluster
	clock    *clustertest.FakeClock
	packages map[string]map[string]string
	dir      string
}

func newUpgradeEnv(t *testing.T, version string, frontends int, knobs ...clustertest.Knob) *upgradeEnv {
	t.Helper()
	clock := clustertest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	sim, err := clustertest.New(clustertest.Options{Version: version, Frontends: frontends, Clock: clock.Now, Knobs: knobs})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	cl, err := sim.Dial(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	dir := t.TempDir()
	pk := map[string]map[string]string{"debian": {}, "rhel": {}}
	for _, v := range []string{"1.4.6", "11.0.2", "11.1.8"} {
		for fam, name := range map[string]string{"debian": "private-chef_" + v + "-1_amd64.deb", "rhel": "private-chef-" + v + "-1.el6.x86_64.rpm"} {
			p := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(p, []byte("private-chef "+v+"\n"), 0o644))
			pk[fam][v] = p
		}
	}
	return &upgradeEnv{sim: sim, cl: cl, clock: clock, packages: pk, dir: dir}
}

func (e *upgradeEnv) plan(t *testing.T, target string, mod ...func(*upgrade.PlanOptions)) upgrade.Plan {
	t.Helper()
	facts := upgrade.Gather(context.Background(), e.cl)
	o := upgrade.PlanOptions{BackupCommand: []string{"true"}, Packages: e.packages}
	for _, m := range mod {
		m(&o)
	}
	p, err := upgrade.BuildPlan(facts, semver.MustParse(target), o)
	require.NoError(t, err)
	return p
}

func (e *upgradeEnv) runner(p upgrade.Plan, events *[]upgrade.Event) *upgrade.Runner {
	return &upgrade.Runner{Cluster: e.cl, Plan: p, StateFile: filepath.Join(e.dir, "state.json"),
		Clock: clustertest.SteppingClock{FakeClock: e.clock}, OnEvent: func(ev upgrade.Event) {
			if events != nil {
				*events = append(*events, ev)
			}
		}}
}

// assertUpgraded checks what the issue asks after every upgrade.
func (e *upgradeEnv) assertUpgraded(t *testing.T, version string, level string) {
	t.Helper()
	boot, sec := e.sim.Bootstrap(), e.sim.Secondary()
	var ref map[string][32]byte
	for _, s := range e.sim.Topology.Servers {
		n := e.sim.Node(s.Name)
		n.Lock(func(n *clustertest.Node) {
			assert.Equal(t, version, n.Package(), "%s package", s.Name)
			assert.Equal(t, version, n.Configured(), "%s running release", s.Name)
			assert.Empty(t, n.Harm(), "%s: damage a real run would have done", s.Name)
			if n != sec {
				for _, svc := range n.Services() {
					if svc.NormallyUp && svc.Name != "opscode-chef-mover" {
						assert.True(t, svc.Up, "%s: %s is down", s.Name, svc.Name)
					}
				}
			}
		})
		lvl, err := n.ReadFile("/var/opt/opscode/upgrades/migration-level")
		require.NoError(t, err)
		assert.Equal(t, `{"major":1,"minor":`+strings.TrimPrefix(level, "1.")+"}\n", lvl, "%s level", s.Name)
		tree := treeSums(t, n.Path("/etc/opscode"))
		if ref == nil {
			ref = tree
		} else {
			assert.Equal(t, ref, tree, "/etc/opscode on %s differs from the bootstrap's", s.Name)
		}
		_, err = os.Stat(n.Path(upgrade.LockPath))
		assert.ErrorIs(t, err, fs.ErrNotExist, "%s: the lock is released", s.Name)
	}
	boot.Lock(func(n *clustertest.Node) {
		assert.Equal(t, "master", n.Current())
		assert.False(t, n.InTransition())
		assert.True(t, n.HasVIP())
	})
	sec.Lock(func(n *clustertest.Node) {
		assert.Equal(t, "backup", n.Current())
		assert.True(t, n.KeepalivedUp(), "keepalived started again on the secondary")
	})
}

func treeSums(t *testing.T, root string) map[string][32]byte {
	out := map[string][32]byte{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[rel] = sha256.Sum256(b)
		return err
	}))
	return out
}

func TestUpgrade146To1118(t *testing.T) {
	e := newUpgradeEnv(t, "1.4.6", 3)
	p := e.plan(t, "11.1.8")
	start := time.Now()
	var events []upgrade.Event
	require.NoError(t, e.runner(p, &events).Run(context.Background()))
	t.Logf("1.4.6 → 11.1.8, 2 back ends + 3 front ends: %d steps, %d events, %s wall, %s emulated",
		len(p.Steps), len(events), time.Since(start).Round(time.Millisecond), e.clock.Now().Sub(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)))
	e.assertUpgraded(t, "11.1.8", "1.13")
}

func TestUpgrade128Via146To1118(t *testing.T) {
	e := newUpgradeEnv(t, "1.2.8", 3)
	p := e.plan(t, "11.1.8")
	hops := map[int]string{}
	for _, s := range p.Steps {
		hops[s.Hop] = s.Target
	}
	assert.Equal(t, map[int]string{1: "1.4.6", 2: "11.1.8"}, hops, "1.2.x goes through 1.4.6 first")
	require.NoError(t, e.runner(p, nil).Run(context.Background()))
	e.assertUpgraded(t, "11.1.8", "1.13")
}

func TestUpgrade1102To1118WithOC11297(t *testing.T) {
	e := newUpgradeEnv(t, "11.0.2", 3, clustertest.OC11297())
	p := e.plan(t, "11.1.8")
	var repair *upgrade.Step
	for i := range p.Steps {
		if p.Steps[i].Kind == upgrade.StepRepairLevels {
			repair = &p.Steps[i]
		}
	}
	require.NotNil(t, repair)
	assert.ElementsMatch(t, []string{"be1.chefha.test", "be2.chefha.test"}, repair.Nodes, "both back ends lost their level")
	require.NoError(t, e.runner(p, nil).Run(context.Background()))
	e.assertUpgraded(t, "11.1.8", "1.13")
	bak, err := filepath.Glob(e.sim.Bootstrap().Path("/var/opt/opscode/upgrades/migration-level.chefha-backup-*"))
	require.NoError(t, err)
	assert.Len(t, bak, 1, "the empty file was kept before it was replaced")
}

func TestUpgradeOnRHEL(t *testing.T) {
	e := newUpgradeEnv(t, "1.4.6", 1, clustertest.RHEL())
	p := e.plan(t, "11.1.8")
	var argv []string
	for _, s := range p.Steps {
		for _, a := range s.Actions {
			if a.Kind == upgrade.ActRun && a.Node == "fe1.chefha.test" && len(a.Argv) > 0 && (a.Argv[0] == "rpm" || a.Argv[0] == "dpkg") {
				argv = a.Argv
			}
		}
	}
	assert.Equal(t, []string{"rpm", "-Uvh", "/tmp/private-chef-11.1.8-1.el6.x86_64.rpm"}, argv)
	require.NoError(t, e.runner(p, nil).Run(context.Background()))
	e.assertUpgraded(t, "11.1.8", "1.13")
}

func TestPlanRefusals(t *testing.T) {
	e := newUpgradeEnv(t, "1.4.6", 1)
	facts := upgrade.Gather(context.Background(), e.cl)
	_, err := upgrade.BuildPlan(facts, semver.MustParse("11.1.8"), upgrade.PlanOptions{Packages: e.packages})
	assert.ErrorIs(t, err, upgrade.ErrNoBackup)
	_, err = upgrade.BuildPlan(facts, semver.MustParse("11.1.8"), upgrade.PlanOptions{BackupWaived: "ticket 1", Packages: map[string]map[string]string{}})
	assert.ErrorContains(t, err, "no debian package for 11.1.8")
	_, err = upgrade.BuildPlan(facts, semver.MustParse("1.2.8"), upgrade.PlanOptions{BackupWaived: "ticket 1", Packages: e.packages})
	assert.ErrorContains(t, err, "downgrade")
}

// The dry run lists exactly the actions a real run carries out, step for step.
func TestDryRunEqualsRealRun(t *testing.T) {
	e := newUpgradeEnv(t, "1.4.6", 2)
	p := e.plan(t, "11.1.8")
	dry := e.runner(p, nil)
	dry.DryRun, dry.StateFile = true, ""
	require.NoError(t, dry.Run(context.Background()))
	e.sim.Bootstrap().Lock(func(n *clustertest.Node) {
		assert.Empty(t, n.Log(), "a dry run changes nothing")
	})
	real := e.runner(p, nil)
	require.NoError(t, real.Run(context.Background()))
	assert.Equal(t, dry.Actions, real.Actions)
	e.assertUpgraded(t, "11.1.8", "1.13")
}

// OC-11656 on a path to 11.0.x: reconfigure and upgrade run under umask
// 022, so the configuration stays readable to the services.
func TestUpgradeUnderUmaskForOC11656(t *testing.T) {
	e := newUpgradeEnv(t, "1.4.6", 1, clustertest.OC11656())
	facts := upgrade.Gather(context.Background(), e.cl)
	p, err := upgrade.BuildPlan(facts, semver.MustParse("11.0.2"), upgrade.PlanOptions{BackupCommand: []string{"true"}, Packages: e.packages})
	require.NoError(t, err, "1.4.6 → 11.0.2 is skippable, not refused")
	var wrapped int
	for _, s := range p.Steps {
		for _, a := range s.Actions {
			if len(a.Argv) > 2 && a.Argv[0] == "sh" && a.Argv[2] == `umask 022; exec "$@"` {
				wrapped++
			}
		}
	}
	assert.Equal(t, 3+1+3, wrapped, "reconfigure on all 3 nodes, the bootstrap's reconfigure, 3 upgrades")
	require.NoError(t, e.runner(p, nil).Run(context.Background()))
	for _, s := range e.sim.Topology.Servers {
		st, err := os.Stat(e.sim.Node(s.Name).Path("/etc/opscode/private-chef.rb"))
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o644), st.Mode().Perm(), "%s: private-chef.rb readable", s.Name)
	}
}
