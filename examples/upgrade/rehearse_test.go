package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/golden"
	"github.com/chefha/chefha/replica"
	"github.com/chefha/chefha/runreport"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goldenText compares got with testdata/name, rewriting it under -update.
func goldenText(t *testing.T, name string, got string) {
	t.Helper()
	golden.Assert(t, name, []byte(got))
}

// recordedRehearsal reads a plan and its rehearsal recorded for runreport's
// tests (runreport/testdata/README.md).
func recordedRehearsal(t *testing.T, name string) (upgrade.Plan, upgrade.Rehearsal) {
	t.Helper()
	var plan upgrade.Plan
	var rh upgrade.Rehearsal
	base := filepath.Join("..", "..", "runreport", "testdata", name)
	for file, v := range map[string]any{base + ".plan.json": &plan, base + ".rehearsal.json": &rh} {
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, v))
	}
	return plan, rh
}

// -rehearse's text: the result and why, each step's duration and each
// gate's wait, the downtime per role, the replica's post-flight findings,
// what the replica did not reproduce, and where the rehearsal was
// recorded; wrapped to the width.
func TestRehearsalTextGolden(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"rehearsal-1.4.6-11.1.8", "rehearsal-stopped-partybus"} {
		plan, rh := recordedRehearsal(t, name)
		v := rehearsalView{Format: RehearsalFormat, Rehearsal: rh, Downtime: runreport.FromRehearsal(plan, rh, nil).Downtime,
			Replica: replica.Report{Target: "simulation", Nodes: 3}}
		if rh.Passed {
			v.Recorded = "/srv/chefha/chefha-rehearsal-" + rh.PlanHash + ".json"
		}
		var b bytes.Buffer
		require.NoError(t, writeRehearsal(&b, plan, v, 80))
		for i, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
			assert.LessOrEqual(t, len([]rune(l)), 80, "%s line %d: %q", name, i+1, l)
		}
		goldenText(t, name+".txt", b.String())
	}
}

// -rehearse on the simulated cluster: a replica of it rehearses the plan
// to the end, with the same plan hash, in text and JSON.
func TestRehearseTheSimulatedCluster(t *testing.T) {
	t.Parallel()
	code, s, errs := runArgs(t, "-rehearse", "-width", "100")
	require.Equal(t, 0, code, "%s%s", s, errs)
	assert.Regexp(t, `\nrehearsal of plan [0-9a-f]{16} \(1\.4\.6 → 11\.1\.8, 17 steps\) on a replica: passed`, s)
	for _, want := range []string{"\nsteps, as long as each took on the replica:\n  hop1/backup ", "\ngates, the longest wait of each:\n",
		"\nservices down on the replica:\n  - front ends from hop1/stop-frontends: ", "\npost-flight on the replica:\n",
		"\nwhat the replica did not reproduce (what this rehearsal does not prove):\n  - DRBD:", "\npassed; not recorded: the simulated cluster"} {
		assert.Contains(t, s, want)
	}
	// Each phase said what it did, on stderr, while it ran.
	for _, want := range []string{"rehearsal: reading production's 5 nodes and planning\n", "rehearsal: building the replica: 5 nodes",
		"rehearsal: running plan ", "rehearsal: ▶ hop1/reconfigure-all: ", "rehearsal: ▶ hop1/verify: "} {
		assert.Contains(t, errs, want)
	}
	code, s, errs = runArgs(t, "-rehearse", "-o", "json")
	require.Equal(t, 0, code, "%s%s", s, errs)
	assert.Empty(t, errs, "JSON goes to stdout alone")
	lines := jsonLines(t, s)
	require.Len(t, lines, 1)
	v := lines[0]
	assert.Equal(t, RehearsalFormat, v["format"])
	assert.Equal(t, true, v["passed"])
	assert.Equal(t, true, v["simulation"])
	assert.NotEmpty(t, v["steps"])
	assert.NotEmpty(t, v["downtime"])
	rep, _ := v["replica"].(map[string]any)
	assert.Equal(t, "simulation", rep["target"])
}

// namedSim is a simulated cluster reached as a named one would be, its
// minutes short in real time: -config (RB) and -ssh-config (Conf) name
// it; Pkg is an 11.1.8 package for it in Dir, a directory of the test's.
type namedSim struct {
	Sim                *clustertest.Cluster
	RB, Conf, Pkg, Dir string
}

func startNamed(t *testing.T, o clustertest.Options) namedSim {
	t.Helper()
	return startNamedIn(t, o, t.TempDir(), t.TempDir())
}

// startNamedIn is startNamed with its files in dir and what names the
// cluster in confDir.
func startNamedIn(t *testing.T, o clustertest.Options, dir, confDir string) namedSim {
	t.Helper()
	o.TransitionTime = 10 * time.Millisecond
	sim, err := clustertest.New(o)
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	n := namedSim{Sim: sim, Dir: dir}
	n.RB, n.Conf, err = sim.WriteNamed(confDir)
	require.NoError(t, err)
	n.Pkg, err = clustertest.WritePackage(n.Dir, "debian", "11.1.8")
	require.NoError(t, err)
	return n
}

// On a named cluster, -apply of a plan no rehearsal passed is refused
// with what to do, before anything is run; -rehearse records a passed
// rehearsal in the journal's directory; -apply of the same plan then gets
// past that check, as -without-rehearsal does without one. (Past it, a
// -from-step whose steps before are not done stops the run: the real
// upgrade is the runner's tests' business.)
func TestApplyNeedsARehearsal(t *testing.T) {
	t.Parallel()
	n := startNamed(t, clustertest.Options{Version: "1.4.6", Frontends: 1})
	rb, conf, pkg, dir := n.RB, n.Conf, n.Pkg, n.Dir
	args := []string{"-config", rb, "-ssh-config", conf, "-package", pkg, "-backup-waived", "test", "-journal", filepath.Join(dir, "j.json"), "-width", "200"}
	refused := func(more ...string) string {
		t.Helper()
		code, s, errs := runArgs(t, append(args, more...)...)
		assert.Equal(t, 1, code, errs)
		_, err := os.Stat(filepath.Join(dir, "j.json"))
		assert.ErrorIs(t, err, os.ErrNotExist, "nothing was run")
		return s
	}
	s := refused("-apply")
	assert.Regexp(t, `\nrefused: plan [0-9a-f]{16} was not rehearsed on a replica of this cluster \(no record in `+regexp.QuoteMeta(dir)+`\)`, s)
	assert.Contains(t, s, "\nrehearse it first: go run ./examples/upgrade -backup-waived test -config "+rb)
	assert.Contains(t, s, " -rehearse\nor, to go on without a passed rehearsal, run again with -without-rehearsal\n")
	assert.NotContains(t, refused("-apply", "-without-rehearsal", "-from-step", "hop1/verify"), "rehears", "the operator's word lets it past")

	code, s, errs := runArgs(t, append(args, "-rehearse")...)
	require.Equal(t, 0, code, "%s%s", s, errs)
	m := regexp.MustCompile(`rehearsal of plan ([0-9a-f]{16})`).FindStringSubmatch(s)
	require.NotNil(t, m, s)
	rec, err := upgrade.LoadRehearsal(dir, m[1])
	require.NoError(t, err, "recorded in the journal's directory")
	assert.True(t, rec.Passed)
	assert.NotEmpty(t, rec.NotReproduced)
	s = refused("-apply", "-from-step", "hop1/verify")
	assert.NotContains(t, s, "rehears", "rehearsed: past the check")
	assert.Contains(t, s, "hop1/verify")
}

// -backup-lvm finds the volume under DRBD on the bootstrap when not given
// (findmnt, private_chef['drbd']['disk'], lvs) and makes the snapshot
// chefha watches; the run's report names it.
func TestBackupLVM(t *testing.T) {
	t.Parallel()
	code, s, errs := runArgs(t, "-backup-lvm", "-lvm-threshold", "70", "-width", "200")
	require.Equal(t, 0, code, "%s%s", s, errs)
	assert.Contains(t, s, "backup: LVM snapshot of opscode/drbd on be1.chefha.test (findmnt: /dev/drbd0 holds /var/opt/opscode/drbd/data; DRBD's disk under it is /dev/opscode/drbd (private_chef['drbd']['disk']); lvs lists opscode/drbd)\n")
	assert.Contains(t, s, "next:\n  go run ./examples/upgrade -backup-lvm -lvm-threshold 70 -apply\n")

	dir := filepath.Join(t.TempDir(), "report")
	code, s, errs = runArgs(t, "-backup-lvm", "-lvm-snapshot", "pre-11", "-apply", "-report", dir)
	require.Equal(t, 0, code, "%s%s", s, errs)
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "LVM snapshot opscode/pre-11 on be1.chefha.test, made with ")
	assert.Contains(t, string(md), "| hop1/backup | 0.0 % | made in this step |")
}

// The volume's name comes from the bootstrap's private-chef.rb when DRBD
// sits on another LV than the default.
func TestFindVolumeReadsTheDRBDDisk(t *testing.T) {
	t.Parallel()
	rb := strings.Replace(simRB, `api_fqdn "chef.chefha.test"`, "api_fqdn \"chef.chefha.test\"\ndrbd['disk'] = \"/dev/vg-chef/drbd-data\"", 1)
	sim, err := clustertest.New(clustertest.Options{Version: "11.1.8", PrivateChefRB: []byte(rb), LVM: &clustertest.LVM{VG: "vg-chef", LV: "drbd-data"}})
	require.NoError(t, err)
	defer sim.Close()
	cl, err := sim.Dial(context.Background())
	require.NoError(t, err)
	defer cl.Close()
	n, _ := cl.Node("be1.chefha.test")
	vg, lv, how, err := findVolume(context.Background(), n)
	require.NoError(t, err)
	assert.Equal(t, "vg-chef/drbd-data", vg+"/"+lv)
	assert.Contains(t, how, "DRBD's disk under it is /dev/vg-chef/drbd-data")

	sim.Plant(clustertest.File("be1.chefha.test", "/etc/opscode/private-chef.rb", rb+"drbd['disk'] = \"/dev/sdb1\"\n", 0o644))
	_, _, _, err = findVolume(context.Background(), n)
	assert.ErrorContains(t, err, "not /dev/VG/LV")
	assert.ErrorContains(t, err, "give -lvm-vg and -lvm-lv")
}

func TestRehearseAndLVMUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-rehearse", "-apply"}, "-rehearse runs the upgrade's plan on a replica"},
		{[]string{"-rehearse", "-o", "markdown"}, "-rehearse runs the upgrade's plan on a replica"},
		{[]string{"-rehearse", "-phase", "cleanup"}, "-rehearse runs the upgrade's plan on a replica"},
		{[]string{"-backup-lvm", "-backup-cmd", "x", "-backup-check", "y"}, "-backup-lvm is the backup"},
		{[]string{"-lvm-vg", "vg0", "-lvm-lv", "chef"}, "go with -backup-lvm"},
		{[]string{"-backup-lvm", "-lvm-vg", "vg0"}, "give both -lvm-vg and -lvm-lv"},
		{[]string{"-backup-lvm", "-lvm-threshold", "100"}, "-lvm-threshold is a percentage below 100"},
	} {
		code, _, errs := runArgs(t, tc.args...)
		assert.Equal(t, 2, code, "%q", tc.args)
		assert.Contains(t, errs, tc.want, "%q", tc.args)
	}
}

// Ctrl-C during -rehearse stops it at once (it acts on the replica only):
// exit 4, said on stderr, and no rehearsal recorded.
func TestRehearseStops(t *testing.T) {
	t.Parallel()
	n := startNamed(t, clustertest.Options{Version: "1.4.6", Frontends: 1})
	rb, conf, pkg, dir := n.RB, n.Conf, n.Pkg, n.Dir
	stop := make(chan struct{})
	close(stop)
	var out, errb bytes.Buffer
	code := run(context.Background(), stop, []string{"-config", rb, "-ssh-config", conf, "-package", pkg, "-backup-waived", "test",
		"-journal", filepath.Join(dir, "j.json"), "-rehearse"}, &out, &errb)
	assert.Equal(t, exitStopped, code, "%s%s", out.String(), errb.String())
	assert.Contains(t, errb.String(), "-rehearse: stopped on request: nothing was recorded")
	recs, _ := filepath.Glob(filepath.Join(dir, "chefha-rehearsal-*"))
	assert.Empty(t, recs)
}
