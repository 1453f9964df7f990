package clustertest_test

import (
	"strings"
	"testing"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/runit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `initctl stop` runs the job file the release wrote: 1.x's post-stop
// TERMs the orphaned runsv, which take every service down with them
// (runit/files/default/opscode-runsvdir @1.4.6); 11.x's pre-stop stops the
// services through private-chef-ctl first (enterprise-chef-common 0.3.0
// templates/default/init-runsvdir.erb); 11.2.0's calls
// /usr/bin/private_chef-ctl, which its package does not install, and its
// HUP leaves the services running with no runsv.
func TestInitctlStopRunsTheJobFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version, job string
		left         bool // services still running after the stop
	}{
		{"1.4.6", "opscode-runsvdir", false},
		{"11.1.8", "private-chef-runsvdir", false},
		{"11.2.0", "private_chef-runsvdir", true},
	} {
		s := start(t, tc.version)
		before, _ := s.status(t, fe1, "nginx")
		out, _, code := s.run(t, fe1, "initctl", "stop", tc.job)
		require.Equal(t, 0, code, "%s: %s", tc.version, out)
		assert.Equal(t, tc.job+" stop/waiting\n", out)
		ps, _, _ := s.run(t, fe1, "ps", "-eo", "pid,ppid,user,stat,args")
		procs, err := runit.ParsePS(strings.NewReader(ps))
		require.NoError(t, err)
		assert.Empty(t, runit.FindRunsvdirs(procs), tc.version)
		assert.Empty(t, runit.OrphanRunsv(procs), "%s: no runsv outlives the post-stop", tc.version)
		left := runit.Leftovers(procs, "/opt/opscode/")
		assert.Equal(t, tc.left, len(left) > 0, "%s: services left running unsupervised: %v", tc.version, left)
		_, _, code = s.run(t, fe1, "private-chef-ctl", "status", "nginx")
		assert.NotEqual(t, 0, code, "%s: no runsv answers sv", tc.version)
		// Started again, the job's runsv start what was stopped; what ran
		// on unsupervised runs on (the simulation lets the runsv adopt it).
		_, _, code = s.run(t, fe1, "initctl", "start", tc.job)
		require.Equal(t, 0, code)
		after, _ := s.status(t, fe1, "nginx")
		assert.Equal(t, tc.left, after["nginx"].PID == before["nginx"].PID, "%s: nginx kept running through the stop", tc.version)
	}
}

// Upstart knows a job by its file: 11.2.0 writes private_chef-runsvdir's
// and deletes opscode-runsvdir's; a fresh 11.2.0 node runs only its own
// job, a node upgraded from 11.1.8 both.
func TestUpstartJobsOf1120(t *testing.T) {
	t.Parallel()
	s := start(t, "11.2.0")
	out, _, code := s.run(t, be1, "initctl", "status", "private_chef-runsvdir")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "private_chef-runsvdir start/running, process ")
	_, stderr, code := s.run(t, be1, "initctl", "status", "private-chef-runsvdir")
	assert.Equal(t, 1, code)
	assert.Equal(t, "initctl: Unknown job: private-chef-runsvdir\n", stderr)

	s = start(t, "11.1.8")
	s.installPackage(t, be2, "11.2.0")
	out, _, code = s.run(t, be2, "private-chef-ctl", "reconfigure")
	require.Equal(t, 0, code, out)
	for _, job := range []string{"private-chef-runsvdir", "private_chef-runsvdir"} {
		out, _, code := s.run(t, be2, "initctl", "status", job)
		assert.Equal(t, 0, code, job)
		assert.Contains(t, out, job+" start/running, process ")
	}
}

// Every 11.x reconfigure stops opscode-runsvdir when it runs, not only
// on the hop from 1.x (enterprise-chef-common 0.3.0
// recipes/runit_upstart.rb:8-11), its post-stop TERMing the runsv it left.
func TestReconfigureStopsOpscodeRunsvdir(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8")
	n := s.Nodes[fe1]
	n.Lock(func(n *clustertest.Node) { require.NoError(t, n.StartJob(t.Context(), "opscode-runsvdir")) })
	out, _, code := s.run(t, fe1, "initctl", "status", "opscode-runsvdir")
	require.Equal(t, 0, code)
	require.Contains(t, out, "start/running")
	out, _, code = s.run(t, fe1, "private-chef-ctl", "reconfigure")
	require.Equal(t, 0, code, out)
	_, _, code = s.run(t, fe1, "initctl", "status", "opscode-runsvdir")
	assert.Equal(t, 1, code, "stopped, and its file deleted: Unknown job")
	st, _ := s.status(t, fe1)
	assert.Equal(t, runit.StateRun, st["nginx"].State, "the front end's services run under private-chef-runsvdir")
}
