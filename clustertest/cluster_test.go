package clustertest_test

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/runit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A simulated 1.4.6 cluster answers over SSH as the real one does.
// `private-chef-ctl status` exits 0 where every service runs and 3 on the
// standby: 1.x writes a down file for every HA service on both back ends
// (opscode-omnibus 1.4.6 files/private-chef-cookbooks/runit/definitions/
// runit_service.rb with `down node[svc]['ha']` in recipes/couchdb.rb and
// the others), the standby's are stopped, runit 2.1.1's LSB status exits
// 3 for a down service and omnibus-ctl 0.0.6 exits with the first
// non-zero status (lib/omnibus-ctl.rb run_sv_command).
func TestSanityRun(t *testing.T) {
	// Not parallel: it counts the process's goroutines.
	before := runtime.NumGoroutine()
	ctx := context.Background()
	sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 3, Knobs: []clustertest.Knob{clustertest.OC11297()}})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() }) // when a check stops the test before its own Close
	cl, err := sim.Dial(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	assert.Len(t, cl.All(), 5)
	for _, n := range cl.All() {
		res, err := n.Run(ctx, cluster.Command("private-chef-ctl", "status"))
		st, perr := runit.ParseStatus(bytes.NewReader(res.Stdout))
		require.NoError(t, perr)
		require.NotEmpty(t, st)
		byName := map[string]runit.ServiceStatus{}
		for _, s := range st {
			byName[s.Service] = s
		}
		switch n.Name() {
		case be2:
			var ee *cluster.ExitError
			require.ErrorAs(t, err, &ee, "the standby's HA services are down")
			assert.Equal(t, 3, ee.Result.ExitCode)
			for _, svc := range []string{"couchdb", "postgresql", "opscode-erchef", "nginx"} {
				assert.Equal(t, runit.StateDown, byName[svc].State, svc)
				assert.False(t, byName[svc].NormallyUp, "%s has a down file on 1.x", svc)
			}
			for _, svc := range []string{"keepalived", "nrpe"} { // not HA: no down file, running
				assert.Equal(t, runit.StateRun, byName[svc].State, svc)
			}
		case be1:
			require.NoError(t, err, "the master runs everything")
			assert.Equal(t, runit.StateRun, byName["couchdb"].State)
			assert.False(t, byName["couchdb"].NormallyUp, "run, normally down: the master's HA services have down files too")
			assert.True(t, byName["keepalived"].NormallyUp)
		default:
			require.NoError(t, err, "%s runs everything", n.Name())
			for _, s := range st {
				assert.Equal(t, runit.StateRun, s.State, s.Service)
				assert.True(t, s.NormallyUp, "front ends have no down files (%s)", s.Service)
			}
		}

		res, _ = n.Run(ctx, cluster.Command("cat", migration.Path))
		_, perr = migration.Parse(res.Stdout)
		if n.Name()[:2] == "be" {
			assert.ErrorIs(t, perr, migration.ErrEmpty, "OC-11297 on %s", n.Name())
		} else {
			assert.NoError(t, perr)
		}
	}
	_, err = cl.All()[0].Run(ctx, cluster.Command("apt-get", "install", "chef"))
	var ee *cluster.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 127, ee.Result.ExitCode)
	assert.Equal(t, "clustertest: not emulated: apt-get install chef\n", string(ee.Result.Stderr))

	require.NoError(t, cl.Close())
	require.NoError(t, sim.Close())
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+1 }, 5*time.Second, 20*time.Millisecond,
		"goroutines left after Close: %d before, %d after", before, runtime.NumGoroutine())
}

func TestVersions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version, job string
		level        migration.Level
	}{
		{"1.2.8", "opscode-runsvdir", migration.Level{Major: 1, Minor: 4}},
		{"1.4.6", "opscode-runsvdir", migration.Level{Major: 1, Minor: 7}},
		{"11.0.2", "private-chef-runsvdir", migration.Level{Major: 1, Minor: 12}},
		{"11.1.8", "private-chef-runsvdir", migration.Level{Major: 1, Minor: 13}},
		{"11.2.0", "private_chef-runsvdir", migration.Level{Major: 1, Minor: 13}},
	} {
		t.Run(tc.version, func(t *testing.T) {
			s := start(t, tc.version)
			out, _, code := s.run(t, be1, "initctl", "status", tc.job)
			assert.Equal(t, 0, code)
			assert.Contains(t, out, tc.job+" start/running, process ")
			l, err := s.level(t, fe1)
			require.NoError(t, err)
			assert.Equal(t, tc.level, l)
			v, err := migration.ParseVersion(tc.version)
			require.NoError(t, err)
			want, err := migration.Expected(v)
			require.NoError(t, err)
			assert.Equal(t, want, l, "the emulator agrees with the migration table")
			// The package names its version where the release's does:
			// 1.2's pc-version.txt, the manifest from 1.4 on.
			path, file := ecmodel.VersionFile(tc.version)
			got, _, _ := s.run(t, be1, "cat", path)
			assert.Equal(t, string(file), got)
			if tc.version == "1.2.8" {
				assert.Equal(t, "Opscode Private Chef 1.2.8.3\n\n", got)
			}
		})
	}
}

func TestCloseLeavesNoListener(t *testing.T) {
	t.Parallel()
	sim, err := clustertest.New(clustertest.Options{})
	require.NoError(t, err)
	cfg, err := sim.SSHConfig(be1)
	require.NoError(t, err)
	require.NoError(t, sim.Close())
	cfg.KnownHostsFiles, cfg.InsecureIgnoreHostKey = nil, true // the cluster's dir is gone too
	_, err = cluster.DialSSH(context.Background(), cfg)
	assert.ErrorContains(t, err, "connection refused")
}

func TestWriteSSHConfig(t *testing.T) {
	t.Parallel()
	sim, err := clustertest.New(clustertest.Options{Frontends: 1})
	require.NoError(t, err)
	defer sim.Close()
	conf, err := sim.WriteSSHConfig(t.TempDir())
	require.NoError(t, err)
	cfg, err := cluster.LoadSSHConfig(conf, fe1)
	require.NoError(t, err)
	n, err := cluster.DialSSH(context.Background(), cfg)
	require.NoError(t, err, "a separate process can reach the nodes from the written config")
	defer n.Close()
	res, err := n.Run(context.Background(), cluster.Command("cat", "/opt/opscode/version-manifest.txt"))
	require.NoError(t, err)
	assert.Equal(t, "private-chef 1.4.6\n", string(res.Stdout))
}

// An 11.1.8 reconfigure after 1.4.6 keeps 1.x's down files, as
// enterprise-chef-common 0.3.0's component_runit_service never touches
// them, and writes none for services new in 11 (bookshelf). It removes
// opscode-authz (OO 11.1.8 PC/recipes/oc_bifrost.rb) but leaves the other
// 1.x services to `private-chef-ctl cleanup`.
func TestReconfigureAfter1x(t *testing.T) {
	t.Parallel()
	s := start(t, "1.4.6")
	s.installPackage(t, be2, "11.1.8")
	_, _, code := s.run(t, be2, "private-chef-ctl", "reconfigure")
	require.Equal(t, 0, code)
	st, _ := s.status(t, be2)
	assert.Equal(t, runit.StateDown, st["couchdb"].State)
	assert.False(t, st["couchdb"].NormallyUp, "1.4.6's down file is still there")
	assert.True(t, st["bookshelf"].NormallyUp, "no down file for a service new in 11")
	assert.NotContains(t, st, "opscode-authz")
	_, _, code = s.run(t, be2, "test", "-e", "/opt/opscode/sv/opscode-authz")
	assert.Equal(t, 1, code)
	assert.Contains(t, st, "nagios", "removed by cleanup, not by reconfigure")

	_, _, code = s.run(t, be2, "private-chef-ctl", "cleanup")
	require.Equal(t, 0, code)
	st, _ = s.status(t, be2)
	assert.NotContains(t, st, "nagios")
}

// New fails with an error, never a panic, when a cluster cannot be built
// part-way (a release the model lacks, a knob naming no node), and leaves
// nothing behind: the node trees are removed, the SSH servers closed.
func TestNewFailsCleanly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, o := range []clustertest.Options{
		{Version: "9.9.9", Dir: dir},
		{Dir: dir, Knobs: []clustertest.Knob{clustertest.MigrationLevel("nosuch.chefha.test", "")}},
	} {
		c, err := clustertest.New(o)
		assert.Error(t, err)
		assert.Nil(t, c)
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Empty(t, ents, "the cluster's directory is removed")
	}
}

// While a cluster.sh transition holds the lock, ps lists the process whose
// pid the lock file holds (a reader judging the lock's holder alive finds
// it); once the transition ends, both are gone.
func TestPSListsTheLockHolder(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8")
	out, _, code := s.run(t, be1, ecmodel.ClusterSh, "backup")
	require.Equal(t, 0, code, out)
	lock, _, code := s.run(t, be1, "cat", ecmodel.LockPath)
	require.Equal(t, 0, code, "the transition holds the lock until the clock moves on")
	pid, err := keepalived.ParseLock(ecmodel.LockPath, []byte(lock))
	require.NoError(t, err)
	psOut, _, _ := s.run(t, be1, "ps", "-eo", "pid,ppid,user,stat,args")
	ps, err := runit.ParsePS(strings.NewReader(psOut))
	require.NoError(t, err)
	var holder *runit.Process
	for i := range ps {
		if ps[i].PID == pid {
			holder = &ps[i]
		}
	}
	require.NotNil(t, holder, "pid %d holds the lock:\n%s", pid, psOut)
	assert.Equal(t, "/bin/bash "+ecmodel.ClusterSh+" backup", holder.Command)
	assert.Empty(t, runit.DiagnoseProcesses(ps), "cluster.sh is no leftover control process")

	s.clock.Advance(time.Minute)
	s.Bootstrap().Settle()
	_, _, code = s.run(t, be1, "cat", ecmodel.LockPath)
	assert.NotEqual(t, 0, code, "the lock is released")
	psOut, _, _ = s.run(t, be1, "ps", "-eo", "pid,ppid,user,stat,args")
	assert.NotContains(t, psOut, "cluster.sh")
}
