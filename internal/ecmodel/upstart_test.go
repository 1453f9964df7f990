package ecmodel

import (
	"context"
	"os"
	"slices"
	"syscall"
	"testing"
)

// upstartNode is a back end of release version on an in-memory host
// running job, its services up.
func upstartNode(t *testing.T, version, job string) *memHost {
	t.Helper()
	h, _ := haMaster()
	rb, err := os.ReadFile("../../drbd/testdata/private-chef.rb")
	if err != nil {
		t.Fatal(err)
	}
	h.WriteFile(TopologyPath, rb, 0o644)
	h.WriteFile(ManifestPath, []byte("private-chef "+version+"\n"), 0o644)
	h.jobs = []string{job}
	return h
}

// Stopping a runsvdir job runs its job file's pre-stop and post-stop
// around runsvdir's TERM, as the packaging writes them: 1.x's
// opscode-runsvdir TERMs the orphaned runsv, which stop every service
// (runit/files/default/opscode-runsvdir @1.2.8.3, 1.4.6); 11.x's
// private-chef-runsvdir stops the services with private-chef-ctl first
// and HUPs the runsv (enterprise-chef-common 0.3.0 init-runsvdir.erb);
// 11.2.0's private_chef-runsvdir calls /usr/bin/private_chef-ctl, which
// its package does not install: the failed pre-stop is ignored and the
// services run on, unsupervised (0.4.4 with enterprise['name']
// "private_chef").
func TestStopJobRunsTheJobFile(t *testing.T) {
	for _, tc := range []struct {
		version, job string
		signal       syscall.Signal
		servicesUp   bool
	}{
		{"1.2.8", "opscode-runsvdir", syscall.SIGTERM, false},
		{"1.4.6", "opscode-runsvdir", syscall.SIGTERM, false},
		{"11.1.8", "private-chef-runsvdir", syscall.SIGHUP, false},
		{"11.2.0", "private_chef-runsvdir", syscall.SIGHUP, true},
	} {
		t.Run(tc.version, func(t *testing.T) {
			h := upstartNode(t, tc.version, tc.job)
			if err := StopJob(context.Background(), h, tc.job); err != nil {
				t.Fatal(err)
			}
			if len(h.jobs) != 0 || !slices.Equal(h.signals, []syscall.Signal{tc.signal}) {
				t.Errorf("jobs %v, post-stop signals %v, want none and [%v]", h.jobs, h.signals, tc.signal)
			}
			for _, s := range []string{"couchdb", "nginx", "keepalived"} {
				if h.up[s] != tc.servicesUp {
					t.Errorf("%s up = %v, want %v", s, h.up[s], tc.servicesUp)
				}
			}
		})
	}
}

// Every 11.x reconfigure stops opscode-runsvdir when it runs
// (enterprise-chef-common recipes/runit_upstart.rb:8-11 @0.3.0), not only
// on the hop from 1.x, and writes and starts its own job: 11.2.0's is
// private_chef-runsvdir, beside a running private-chef-runsvdir.
func TestSwitchJobs(t *testing.T) {
	for _, tc := range []struct {
		version string
		running []string
		want    []string
	}{
		{"11.1.8", []string{"private-chef-runsvdir", "opscode-runsvdir"}, []string{"private-chef-runsvdir"}},
		{"11.2.0", []string{"private-chef-runsvdir"}, []string{"private-chef-runsvdir", "private_chef-runsvdir"}},
		{"1.4.6", []string{"opscode-runsvdir"}, []string{"opscode-runsvdir"}},
	} {
		t.Run(tc.version, func(t *testing.T) {
			h := upstartNode(t, tc.version, "")
			h.jobs = slices.Clone(tc.running)
			n, err := Load(h)
			if err != nil {
				t.Fatal(err)
			}
			n.switchJobs(context.Background())
			if !slices.Equal(h.jobs, tc.want) {
				t.Errorf("jobs %v, want %v", h.jobs, tc.want)
			}
			for _, j := range tc.want {
				if !JobKnown(h, j) {
					t.Errorf("%s has no job file", j)
				}
			}
			if _, err := h.Lstat(JobFile("opscode-runsvdir")); (err == nil) == (tc.version != "1.4.6") {
				t.Errorf("opscode-runsvdir's job file: %v", err)
			}
		})
	}
}
