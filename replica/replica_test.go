package replica_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/replica"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var epoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// production is a simulated production cluster, dialled.
type production struct {
	sim   *clustertest.Cluster
	cl    *cluster.Cluster
	clock *clustertest.FakeClock
}

func newProduction(t *testing.T, o clustertest.Options) *production {
	t.Helper()
	clock := clustertest.NewFakeClock(epoch)
	o.Clock, o.Sleep = clock.Now, clock.Advance
	sim, err := clustertest.New(o)
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	clock.Advance(time.Minute)
	for _, n := range sim.Nodes {
		n.Settle()
	}
	cl, err := sim.Dial(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return &production{sim: sim, cl: cl, clock: clock}
}

// replicate builds a replica of p from its facts and its bootstrap's
// /etc/opscode, dialled.
func (p *production) replicate(t *testing.T, o replica.Options) (*replica.Replica, *cluster.Cluster, *clustertest.FakeClock) {
	t.Helper()
	ctx := context.Background()
	facts := upgrade.Gather(ctx, p.cl)
	boot, _ := p.cl.Node(p.sim.Bootstrap().Name)
	clock := clustertest.NewFakeClock(epoch)
	if o.Target == nil {
		o.Target = replica.Simulation{Clock: clock.Now, Sleep: clock.Advance}
	}
	r, err := replica.New(ctx, replica.Source{Facts: facts, Bootstrap: boot}, o)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	clock.Advance(time.Minute)
	cl, err := r.Dial(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return r, cl, clock
}

// findings are a report's failures and warnings, by node, check and symptom.
func findings(rep upgrade.Report) []string {
	var out []string
	for _, f := range rep.Findings {
		if f.Severity != upgrade.OK {
			out = append(out, fmt.Sprintf("%s %s %s %s %s", f.Severity, f.Node, f.Check, f.Symptom, f.Issue))
		}
	}
	sort.Strings(out)
	return out
}

// A replica built from a cluster's facts passes the same pre-flight with
// the same findings as the cluster itself, whatever problems it has.
func TestReplicaPassesTheSamePreflight(t *testing.T) {
	empty := ""
	for name, o := range map[string]clustertest.Options{
		"runit and DRBD": {Version: "1.4.6", Frontends: 2, Knobs: []clustertest.Knob{
			clustertest.OC11297(), clustertest.TwoRunsvdirs(), clustertest.LeftoverCtl(), clustertest.RunsvdirErrors(), clustertest.LogDirMode(),
			clustertest.StaleLinks(), clustertest.CurrentMissing(), clustertest.ServiceDown("fe1.chefha.test", "nginx"), clustertest.DRBDDisconnected()}},
		"EC 11 half-way": {Version: "11.0.2", Frontends: 3, Master: "be2.chefha.test",
			Nodes: map[string]clustertest.NodeOptions{
				"be1.chefha.test": {Level: &empty},
				"fe3.chefha.test": {Installed: "11.1.8", Running: "11.0.2"},
				"fe2.chefha.test": {Runit: clustertest.RunitState{Processes: []string{"/opt/opscode/embedded/bin/ruby /opt/opscode/embedded/service/partybus/bin/partybus upgrade"}}},
			},
			Knobs: []clustertest.Knob{clustertest.OC11426(), clustertest.OC11490(), clustertest.OC11656(), clustertest.OC11540(),
				clustertest.FrontendsStopped(), clustertest.LogFSFull(), clustertest.DRBDResync(40, 1024)}},
		"Private Chef 1.2.8.3": {Version: "1.2.8", Frontends: 1, Knobs: []clustertest.Knob{clustertest.LogDirMode(), clustertest.StaleLinks()}},
		"split brain, RHEL": {Version: "11.1.8", Frontends: 1, Knobs: []clustertest.Knob{clustertest.RHEL(), clustertest.SplitBrain(),
			clustertest.StandbyKeepalivedStopped(), clustertest.ServiceDisabled("fe1.chefha.test", "opscode-webui")}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			prod := newProduction(t, o)
			_, cl, _ := prod.replicate(t, replica.Options{})
			ctx := context.Background()
			for _, target := range []string{"11.1.8", "11.2.0"} {
				opts := []upgrade.Option{upgrade.WithTarget(target)}
				want, err := upgrade.Preflight(ctx, prod.cl, opts...)
				require.NoError(t, err)
				got, err := upgrade.Preflight(ctx, cl, opts...)
				require.NoError(t, err)
				require.NotEmpty(t, findings(want), "the cluster has problems to reproduce")
				assert.Equal(t, findings(want), findings(got), "target %s", target)
			}
		})
	}
}

// writePackage writes the private-chef package of version for Debian.
func writePackage(t *testing.T, version string) string {
	t.Helper()
	p, err := clustertest.WritePackage(t.TempDir(), "debian", version)
	require.NoError(t, err)
	return p
}

// upgradeTo is an upgrade's inputs, the same for production and replica.
func upgradeTo(target string, pkg string, more ...upgrade.Option) []upgrade.Option {
	return append([]upgrade.Option{upgrade.WithTarget(target), upgrade.WithPackage(pkg)}, more...)
}

// untouched checks that nothing was changed on production.
func (p *production) untouched(t *testing.T) {
	t.Helper()
	for name, n := range p.sim.Nodes {
		n.Lock(func(n *clustertest.Node) { assert.Empty(t, n.Log(), "%s: production untouched", name) })
	}
}

// The rehearsal of production's 1.4.6 → 11.1.8 plan, LVM snapshot
// included, runs to the end on a replica with the same plan hash; it is
// recorded, and production's real run is let through once it is.
func TestRehearsalRunsToTheEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prod := newProduction(t, clustertest.Options{Version: "1.4.6", Frontends: 2,
		LVM: &clustertest.LVM{Size: 8 << 30, Used: 1 << 30, Free: 4 << 30, Version: "2.02.143(2)-RHEL6 (2016-12-13)"}})
	boot, _ := prod.cl.Node(prod.sim.Bootstrap().Name)
	vol, err := replica.ReadVolume(ctx, boot, "opscode", "drbd")
	require.NoError(t, err)
	assert.Equal(t, replica.Volume{VG: "opscode", LV: "drbd", Size: 8 << 30, ExtentSize: 4 << 20, Free: 4 << 30, Used: 1 << 30, Version: "2.02.143(2)-RHEL6 (2016-12-13)"}, vol)
	r, cl, clock := prod.replicate(t, replica.Options{Volume: &vol})
	pkg := writePackage(t, "11.1.8")
	opts := upgradeTo("11.1.8", pkg, upgrade.WithBackup(upgrade.Backup{LVM: &upgrade.LVMSnapshot{VG: "opscode", LV: "drbd"}}))
	plan, err := upgrade.NewRunner(prod.cl, opts...).Plan(ctx)
	require.NoError(t, err)

	rh, err := r.Rehearse(ctx, plan, append(opts, upgrade.WithClock(clock))...)
	require.NoError(t, err)
	require.True(t, rh.Passed, "%s: %s", rh.StoppedAt, rh.Error)
	assert.Equal(t, plan.Hash(), rh.PlanHash)
	require.NotEmpty(t, rh.Steps, "the steps that ran are timed")
	for _, st := range rh.Steps {
		_, ok := plan.Step(st.Step)
		assert.True(t, ok, st.Step)
	}
	assert.NotEmpty(t, rh.Waits, "and the gates' waits")
	for _, f := range rh.Findings {
		assert.NotEqual(t, upgrade.Fail, f.Severity, "post-flight on the replica: %v", f)
	}
	assert.Contains(t, strings.Join(rh.NotReproduced, "\n"), "DRBD: the pair's replication is emulated")
	prod.untouched(t)
	out, err := cl.Nodes(cl.Topology.Servers)[0].Run(ctx, cluster.Command("env", "LC_ALL=C", "lvs", "--noheadings", "--separator", "|", "--units", "b", "--nosuffix", "-o", "lv_name,vg_name,lv_attr,lv_size", "opscode"))
	require.NoError(t, err)
	assert.Contains(t, string(out.Stdout), "chefha-pre-upgrade|opscode|swi-a-s---", "the replica's snapshot was made")

	dir := t.TempDir()
	prodRun := func(more ...upgrade.Option) error {
		return upgrade.NewRunner(prod.cl, append(opts, append(more, upgrade.WithRehearsals(dir), upgrade.WithJournal(&upgrade.MemJournal{}),
			upgrade.WithClock(prod.clock))...)...).Run(ctx)
	}
	var nr *upgrade.NotRehearsedError
	require.ErrorAs(t, prodRun(), &nr, "no rehearsal recorded yet")
	prod.untouched(t)
	require.NoError(t, upgrade.SaveRehearsal(dir, rh))
	require.NoError(t, prodRun(), "rehearsed: production's run goes through")
	assert.Equal(t, "11.1.8", prod.sim.Bootstrap().Package())
}

// A rehearsal on a replica of a cluster with a problem the plan cannot
// fix — a partybus left running on the bootstrap, holding the level's
// lock, so the upgrade's migrations do not run — stops where production's
// real run stops.
func TestRehearsalStopsWhereProductionStops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prod := newProduction(t, clustertest.Options{Version: "1.4.6", Frontends: 1, Nodes: map[string]clustertest.NodeOptions{
		"be1.chefha.test": {Runit: clustertest.RunitState{Processes: []string{"/opt/opscode/embedded/bin/ruby /opt/opscode/embedded/service/partybus/bin/partybus upgrade"}}},
	}})
	r, _, clock := prod.replicate(t, replica.Options{})
	pkg := writePackage(t, "11.1.8")
	opts := upgradeTo("11.1.8", pkg, upgrade.WithBackup(upgrade.Backup{Waived: "test"}))
	plan, err := upgrade.NewRunner(prod.cl, opts...).Plan(ctx)
	require.NoError(t, err)
	rh, err := r.Rehearse(ctx, plan, append(opts, upgrade.WithClock(clock))...)
	require.NoError(t, err)
	assert.False(t, rh.Passed)
	assert.Equal(t, "hop1/upgrade-bootstrap", rh.StoppedAt)
	prod.untouched(t)

	err = upgrade.NewRunner(prod.cl, append(opts, upgrade.WithoutRehearsal(), upgrade.WithJournal(&upgrade.MemJournal{}),
		upgrade.WithClock(prod.clock))...).Run(ctx)
	var se *upgrade.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, se.Step, rh.StoppedAt, "the rehearsal stopped where production does")
}

// prodRB is a production private-chef.rb: long names, replication
// addresses, a VIP on a bond, three front ends.
var prodRB = func() string {
	b, err := os.ReadFile("../clustertest/testdata/prod-private-chef.rb")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// The replica answers under production's names, through its own SSH
// config and known_hosts; production's secrets are in 0600 files in its
// 0700 directory, never redacted (the replica must be production), and
// are gone once it is closed. A front end whose /etc/opscode differs
// from the bootstrap's has its own.
func TestReplicaNamesAndSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	secret := `{"postgresql":{"sql_password":"s3cret-pg"}}`
	prod := newProduction(t, clustertest.Options{Version: "11.1.8", PrivateChefRB: []byte(prodRB),
		EtcOpscode: fstest.MapFS{
			"private-chef.rb":           {Data: []byte(prodRB), Mode: 0o644},
			"private-chef-secrets.json": {Data: []byte(secret), Mode: 0o600},
			"pivotal.pem":               {Data: []byte("-----BEGIN RSA PRIVATE KEY-----\nprod-pivotal\n"), Mode: 0o600},
		},
		Nodes: map[string]clustertest.NodeOptions{"chef-fe-3.prod.example.com": {EtcOpscode: fstest.MapFS{
			"private-chef.rb": {Data: []byte(prodRB + "# an old copy\n"), Mode: 0o644},
			"pivotal.pem":     {Data: []byte("-----BEGIN RSA PRIVATE KEY-----\nan old key\n"), Mode: 0o600},
		}}}})
	r, cl, _ := prod.replicate(t, replica.Options{Dir: t.TempDir()})

	for _, s := range prod.cl.Topology.Servers {
		n, ok := cl.Node(s.Name)
		require.True(t, ok, s.Name)
		res, err := n.Run(ctx, cluster.Command("cat", "/opt/opscode/version-manifest.txt"))
		require.NoError(t, err, s.Name)
		assert.Equal(t, "private-chef 11.1.8\n", string(res.Stdout))
	}
	conf, err := os.ReadFile(r.SSHConfig())
	require.NoError(t, err)
	assert.Contains(t, string(conf), "Host chef-be-a.prod.example.com\n")
	sc, err := cluster.LoadSSHConfig(r.SSHConfig(), "chef-fe-2.prod.example.com")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", sc.Host)
	require.Len(t, sc.KnownHostsFiles, 1)
	assert.True(t, strings.HasPrefix(sc.KnownHostsFiles[0], r.Dir()+"/"), "its own known_hosts")

	st, err := os.Stat(r.Dir())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	copied, err := os.ReadFile(filepath.Join(r.Dir(), "etc-opscode", "private-chef-secrets.json"))
	require.NoError(t, err)
	assert.Equal(t, secret, string(copied), "copied as it is, secrets and all")
	require.NoError(t, filepath.WalkDir(filepath.Join(r.Dir(), "etc-opscode"), func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		info, err := d.Info()
		require.NoError(t, err)
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		assert.Equal(t, want, info.Mode().Perm(), p)
		return nil
	}))
	boot, _ := cl.Node("chef-be-a.prod.example.com")
	res, err := boot.Run(ctx, cluster.Command("stat", "-c", "%a", "/etc/opscode/private-chef-secrets.json", "/etc/opscode/private-chef.rb"))
	require.NoError(t, err)
	assert.Equal(t, "600\n644\n", string(res.Stdout), "the replica's nodes have production's modes")
	b, err := boot.ReadFile(ctx, "/etc/opscode/private-chef-secrets.json")
	require.NoError(t, err)
	assert.Equal(t, secret, string(b))
	fe3, _ := cl.Node("chef-fe-3.prod.example.com")
	rb, err := fe3.ReadFile(ctx, "/etc/opscode/private-chef.rb")
	require.NoError(t, err)
	assert.Equal(t, prodRB+"# an old copy\n", string(rb), "fe3's own private-chef.rb, read with the facts")
	key, err := fe3.ReadFile(ctx, "/etc/opscode/pivotal.pem")
	require.NoError(t, err)
	assert.Contains(t, string(key), "differs from the bootstrap's", "a placeholder: only its sum was read")
	assert.Contains(t, strings.Join(r.Report.NotReproduced, "\n"), "chef-fe-3.prod.example.com: the content of /etc/opscode/pivotal.pem")

	require.NoError(t, r.Close())
	_, err = os.Stat(r.Dir())
	assert.ErrorIs(t, err, fs.ErrNotExist, "closed: the copy and the node trees are gone")
}

// A replica is not built from what cannot make one: saved facts (their
// secrets redacted), a node that could not be read, a release the target
// does not model.
func TestReplicaRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prod := newProduction(t, clustertest.Options{Version: "11.1.8", PrivateChefRB: []byte(prodRB + "postgresql['sql_password'] = \"s3cret-pg\"\n")})
	facts := upgrade.Gather(ctx, prod.cl)
	var saved strings.Builder
	require.NoError(t, facts.Save(&saved))
	var redacted upgrade.Facts
	require.NoError(t, json.Unmarshal([]byte(saved.String()), &redacted))
	edit := func(f func(n *upgrade.NodeFacts)) upgrade.Facts {
		g := facts
		g.Nodes = slices.Clone(facts.Nodes)
		last := &g.Nodes[len(g.Nodes)-1]
		last.Sections = maps.Clone(last.Sections)
		f(last)
		return g
	}
	for _, tc := range []struct {
		facts upgrade.Facts
		want  string
	}{
		{redacted, "have secrets redacted (topology; a saved facts file): gather the facts again"},
		{edit(func(n *upgrade.NodeFacts) { n.Err = "ssh: connection refused" }), "a replica needs every node's facts"},
		{edit(func(n *upgrade.NodeFacts) { n.Sections["manifest"] = upgrade.Section{Output: "private-chef 11.1.3\n"} }),
			"runs private-chef 11.1.3, which the simulation does not model"},
	} {
		dir := t.TempDir()
		_, err := replica.New(ctx, replica.Source{Facts: tc.facts}, replica.Options{Dir: dir})
		assert.ErrorContains(t, err, tc.want)
		ents, _ := os.ReadDir(dir)
		assert.Empty(t, ents, "nothing left behind")
	}
	r, err := replica.New(ctx, replica.Source{Facts: facts}, replica.Options{Dir: t.TempDir()})
	require.NoError(t, err, "the facts as gathered make one")
	assert.Contains(t, strings.Join(r.Report.NotReproduced, "\n"), "/etc/opscode was not copied")
	require.NoError(t, r.Close())
}

// A replica killed before Close (SIGKILL, a crash) leaves production's
// /etc/opscode in its directory: the next replica removes it, and leaves
// alone a live replica's directory and one whose owner is not known.
func TestLeftoversOfDeadReplicasAreRemoved(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	write := func(name, owner string) string {
		d := filepath.Join(base, name)
		require.NoError(t, os.MkdirAll(filepath.Join(d, "etc-opscode"), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(d, "etc-opscode", "pivotal.pem"), []byte("FAKE KEY\n"), 0o600))
		if owner != "" {
			require.NoError(t, os.WriteFile(filepath.Join(d, "owner"), []byte(owner), 0o600))
		}
		return d
	}
	gone := write("chefha-replica-1", fmt.Sprintf("%d 1\n", dead.Process.Pid))
	unknown := write("chefha-replica-2", "")
	p := newProduction(t, clustertest.Options{Version: "1.4.6", Frontends: 1})
	r, _, _ := p.replicate(t, replica.Options{Dir: base})
	_, err := os.Stat(gone)
	assert.ErrorIs(t, err, fs.ErrNotExist, "the dead replica's copy of /etc/opscode is gone")
	_, err = os.Stat(unknown)
	assert.NoError(t, err, "a directory of unknown owner stays")

	// A second replica beside the first, live one leaves it in place.
	p.replicate(t, replica.Options{Dir: base})
	dirs, _ := filepath.Glob(filepath.Join(base, "chefha-replica-*"))
	assert.Len(t, dirs, 3, "the two live replicas' and the unknown one")
	require.NoError(t, r.Close())
}
