package upgrade_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/pkgfile"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/runit"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upgradeEnv is a simulated cluster, dialled, with real package files for
// every release and a stepping clock shared by the nodes and the gates.
type upgradeEnv struct {
	sim      *clustertest.Cluster
	cl       *cluster.Cluster
	clock    *clustertest.FakeClock
	packages []string
	dir      string
	journal  upgrade.Journal
}

var epoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func newUpgradeEnv(t testing.TB, version string, frontends int, knobs ...clustertest.Knob) *upgradeEnv {
	t.Helper()
	sim, clock := settledSim(t, version, frontends, knobs...)
	cl, err := sim.Dial(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	dir := t.TempDir()
	return &upgradeEnv{sim: sim, cl: cl, clock: clock, packages: writePackages(t, dir), dir: dir,
		journal: upgrade.FileJournal{Path: filepath.Join(dir, "journal", "upgrade.json")}}
}

// settledSim is a simulated cluster on a fake clock, moved on a minute so
// that what its knobs set in motion (a failover, a split brain) is over.
func settledSim(t testing.TB, version string, frontends int, knobs ...clustertest.Knob) (*clustertest.Cluster, *clustertest.FakeClock) {
	t.Helper()
	clock := clustertest.NewFakeClock(epoch)
	sim, err := clustertest.New(clustertest.Options{Version: version, Frontends: frontends, Clock: clock.Now, Sleep: clock.Advance, Knobs: knobs})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	clock.Advance(time.Minute)
	for _, n := range sim.Nodes {
		n.Settle()
	}
	return sim, clock
}

// writePackages writes a .deb and an .rpm of every release.
func writePackages(t testing.TB, dir string) []string {
	t.Helper()
	files, err := packageFiles()
	require.NoError(t, err)
	var out []string
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, files[name], 0o644))
		out = append(out, p)
	}
	return out
}

// packageFiles are the packages' bytes by file name, built once per test
// binary: every upgrade environment gets the same ten (compressing
// them anew was a twentieth of the package's CPU).
var packageFiles = sync.OnceValues(func() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, v := range []string{"1.4.6", "11.0.2", "11.1.6", "11.1.8", "11.2.0"} {
		var deb, rpm bytes.Buffer
		if err := pkgfile.WriteDeb(&deb, pkgfile.Meta{Name: "private-chef", Version: v, Release: "1", Arch: "amd64"}); err != nil {
			return nil, err
		}
		if err := pkgfile.WriteRPM(&rpm, pkgfile.Meta{Name: "private-chef", Version: v, Release: "1.el6", Arch: "x86_64"}); err != nil {
			return nil, err
		}
		out["private-chef_"+v+"-1_amd64.deb"] = deb.Bytes()
		out["private-chef-"+v+"-1.el6.x86_64.rpm"] = rpm.Bytes()
	}
	return out, nil
})

// baseOptions are an upgrade's inputs but the packages.
func (e *upgradeEnv) baseOptions(target string) []upgrade.Option {
	return []upgrade.Option{upgrade.WithTarget(target),
		upgrade.WithBackup(upgrade.Backup{Command: "mkdir /tmp/chefha-backup", Check: "test -e /tmp/chefha-backup"}),
		upgrade.WithClock(e.clock),
		// The default hold on the fake clock, looked at every 10 s rather
		// than every 2: the gates' logic is the same (keepalived's tests
		// poll finely), and a run reads the back ends a quarter as often.
		upgrade.WithGateTimings(keepalived.DefaultHold, keepalived.DefaultTimeout, 10*time.Second)}
}

// options are the inputs of an upgrade to target, as an operator gives them.
func (e *upgradeEnv) options(target string, more ...upgrade.Option) []upgrade.Option {
	opts := e.baseOptions(target)
	for _, p := range e.packages {
		opts = append(opts, upgrade.WithPackage(p))
	}
	return append(opts, more...)
}

func (e *upgradeEnv) plan(t testing.TB, target string, more ...upgrade.Option) upgrade.Plan {
	t.Helper()
	p, err := upgrade.BuildPlan(upgrade.Gather(context.Background(), e.cl), e.options(target, more...)...)
	require.NoError(t, err)
	return p
}

// runner is a real run to target with the env's journal, recording events.
func (e *upgradeEnv) runner(target string, events *[]upgrade.Event, more ...upgrade.Option) *upgrade.Runner {
	opts := e.options(target, upgrade.WithJournal(e.journal), upgrade.WithEvents(func(ev upgrade.Event) {
		if events != nil {
			*events = append(*events, ev)
		}
	}))
	return upgrade.NewRunner(e.cl, append(opts, more...)...)
}

// logs returns every node's log of state-changing commands.
func (e *upgradeEnv) logs() map[string]string {
	out := map[string]string{}
	for name, n := range e.sim.Nodes {
		n.Lock(func(n *clustertest.Node) { out[name] = strings.Join(n.Log(), "\n") })
	}
	return out
}

// assertUpgraded checks the end state every upgrade must reach.
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
					if svc.NormallyUp && svc.Name != "opscode-chef-mover" && !slices.Contains(runit.RemovedInEC11(), svc.Name) {
						assert.True(t, svc.Up, "%s: %s is down", s.Name, svc.Name)
					}
				}
			}
		})
		lvl, err := n.ReadFile("/var/opt/opscode/upgrades/migration-level")
		require.NoError(t, err)
		assert.Equal(t, `{"major":1,"minor":`+strings.TrimPrefix(level, "1.")+"}\n", string(lvl), "%s level", s.Name)
		tree := treeSums(t, n.FS(), "etc/opscode")
		if ref == nil {
			ref = tree
		} else {
			assert.Equal(t, ref, tree, "/etc/opscode on %s differs from the bootstrap's", s.Name)
		}
		_, err = n.Stat(upgrade.LockPath)
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
	rep, err := upgrade.Preflight(context.Background(), e.cl, upgrade.WithTarget(version))
	require.NoError(t, err)
	assert.False(t, rep.Failed(), "the pre-flight right after the upgrade reports no failure:\n%s", table(rep))
	assert.Equal(t, upgrade.ModePostFlight, rep.Mode)
}

func treeSums(t *testing.T, fsys fs.FS, root string) map[string][32]byte {
	out := map[string][32]byte{}
	require.NoError(t, fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		rel := strings.TrimPrefix(p, root+"/")
		if rel != "chef-server-running.json" { // each node's reconfigure writes its own
			out[rel] = sha256.Sum256(b)
		}
		return err
	}))
	return out
}

func table(r upgrade.Report) string {
	var b strings.Builder
	r.WriteTable(&b)
	return b.String()
}
