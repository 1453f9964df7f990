package clustertest_test

import (
	"context"
	"io/fs"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// prodRB is a production private-chef.rb: long names, replication
// addresses, a VIP on a bond, three front ends.
var prodRB = func() string {
	b, err := os.ReadFile("testdata/prod-private-chef.rb")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// A cluster built to look like a given one: its private-chef.rb's names,
// roles, addresses and three front ends; its /etc/opscode with modes; the
// secondary as keepalived master; a node installed but not reconfigured;
// a back end's level lost as OC-11297 leaves it; and the runbook's runit
// symptoms planted. What a reader sees over SSH, and the pre-flight's
// findings, say so.
func TestLookAlike(t *testing.T) {
	t.Parallel()
	const (
		beA, beB = "chef-be-a.prod.example.com", "chef-be-b.prod.example.com"
		fe1, fe2 = "chef-fe-1.prod.example.com", "chef-fe-2.prod.example.com"
		fe3      = "chef-fe-3.prod.example.com"
	)
	empty := ""
	clock := clustertest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	etc := fstest.MapFS{
		"private-chef.rb":           {Data: []byte(prodRB), Mode: 0o644},
		"private-chef-secrets.json": {Data: []byte(`{"postgresql":{"sql_password":"s3cret"}}`), Mode: 0o600},
		"keys":                      {Mode: fs.ModeDir | 0o750},
		"keys/pivotal.pem":          {Data: []byte("-----BEGIN RSA PRIVATE KEY-----\nprod\n"), Mode: 0o600},
	}
	c, err := clustertest.New(clustertest.Options{Version: "1.4.6", Clock: clock.Now, Sleep: clock.Advance,
		PrivateChefRB: []byte(prodRB), EtcOpscode: etc, Master: beB,
		Nodes: map[string]clustertest.NodeOptions{
			beB: {Level: &empty},
			fe2: {Installed: "11.1.8", Running: "1.4.6"},
			beA: {Runit: clustertest.RunitState{Jobs: []string{"opscode-runsvdir", "private-chef-runsvdir"},
				RunsvdirLog: "svlogd: pausing: unable to rename current: /var/log/opscode/nginx: file does not exist",
				Processes:   []string{"/opt/opscode/embedded/bin/ruby /opt/opscode/embedded/bin/omnibus-ctl opscode /opt/opscode/embedded/service/omnibus-ctl upgrade"},
				Files:       []clustertest.FileState{{Path: "/var/log/opscode", Mode: 0o700, Owner: "root:root"}},
				Links:       []clustertest.Link{{Name: "nagios-old", Target: "/opt/opscode/sv/nagios-gone", Dangling: true}}}},
			fe1: {Runit: clustertest.RunitState{Down: []string{"nginx"}}},
			fe3: {Runit: clustertest.RunitState{LogFSFull: true, Missing: []string{"/var/log/opscode/nginx/current"}}},
		}})
	require.NoError(t, err)
	defer c.Close()
	cl, err := c.Dial(context.Background())
	require.NoError(t, err)
	defer cl.Close()
	s := &sim{Cluster: c, cl: cl, clock: clock}

	assert.Len(t, cl.Topology.Frontends(), 3)
	addrs, _, _ := s.run(t, beB, "ip", "-o", "-4", "addr", "show")
	assert.Contains(t, addrs, " 10.20.0.10/24 ", "the master holds production's VIP")
	for name, want := range map[string]string{beA: "1.4.6", fe2: "11.1.8"} {
		m, _, _ := s.run(t, name, "cat", "/opt/opscode/version-manifest.txt")
		assert.Equal(t, "private-chef "+want+"\n", m, name)
	}
	status, _, _ := s.run(t, fe2, "private-chef-ctl", "status")
	assert.Contains(t, status, "opscode-chef:", "fe2 still runs 1.4.6's services")
	rb, _, _ := s.run(t, fe1, "cat", "/etc/opscode/private-chef.rb")
	assert.Equal(t, prodRB, rb)
	st, _, _ := s.run(t, beA, "stat", "-c", "%a %n", "/etc/opscode/private-chef-secrets.json", "/etc/opscode/keys", "/etc/opscode/private-chef.rb")
	assert.Equal(t, "600 /etc/opscode/private-chef-secrets.json\n750 /etc/opscode/keys\n644 /etc/opscode/private-chef.rb\n", st)
	key, _, _ := s.run(t, fe3, "cat", "/etc/opscode/keys/pivotal.pem")
	assert.Contains(t, key, "prod")

	rep, err := upgrade.Preflight(context.Background(), cl, upgrade.WithTarget("11.1.8"))
	require.NoError(t, err)
	got := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Severity != upgrade.OK {
			got[f.Node+" "+f.Check+" "+f.Symptom] = true
		}
	}
	for _, want := range []string{
		beA + " runit-processes runsvdir-errors", beA + " runit-processes two-runsvdirs", beA + " runit-processes leftover-ctl-process",
		beA + " log-dir log-dir-mode", beA + " service-links stale-service-link", beA + " bootstrap-master bootstrap-not-master",
		fe2 + " version mixed", fe3 + " log-dir log-fs-full", fe3 + " log-dir log-current-missing",
	} {
		assert.True(t, got[want], "finding %q in:\n%v", want, got)
	}
	lvl, _, _ := s.run(t, beB, "cat", "/var/opt/opscode/upgrades/migration-level")
	assert.Empty(t, lvl, "OC-11297's empty level file")
	fe1Status, _, _ := s.run(t, fe1, "private-chef-ctl", "status")
	assert.Contains(t, fe1Status, "down: nginx:")
}

// A partybus left running holds the migration-level lock: the upgrade's
// partybus cannot take it, logs so and exits 0 without migrating.
func TestLookAlikePartybusHoldsTheLock(t *testing.T) {
	t.Parallel()
	s := startWith(t, clustertest.Options{Version: "11.0.2", Nodes: map[string]clustertest.NodeOptions{
		be1: {Runit: clustertest.RunitState{Processes: []string{"/opt/opscode/embedded/bin/ruby /opt/opscode/embedded/service/partybus/bin/partybus upgrade"}}}}})
	ps, _, _ := s.run(t, be1, "ps", "-eo", "pid,ppid,user,stat,args")
	assert.Contains(t, ps, "partybus upgrade")
	s.installPackage(t, be1, "11.1.8")
	out, _, code := s.run(t, be1, "private-chef-ctl", "upgrade")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "Unable to obtain file lock")
	l, err := s.level(t, be1)
	require.NoError(t, err)
	assert.Equal(t, "1.12", l.String(), "11.0.2's level: migration 1.13 did not run")
}

// What the simulation cannot be is refused with the reason.
func TestLookAlikeRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		o    clustertest.Options
		want string
	}{
		{clustertest.Options{Nodes: map[string]clustertest.NodeOptions{"nosuch.chefha.test": {}}}, "names nosuch.chefha.test"},
		{clustertest.Options{Master: fe1}, "not a back end"},
		{clustertest.Options{PrivateChefRB: []byte("topology \"standalone\"\nserver \"a\", :ipaddress => \"10.0.0.1\", :role => \"backend\", :bootstrap => true\n")}, "HA"},
		{clustertest.Options{Nodes: map[string]clustertest.NodeOptions{fe1: {Running: "9.9"}}}, `no release "9.9"`},
		{clustertest.Options{Nodes: map[string]clustertest.NodeOptions{fe1: {Runit: clustertest.RunitState{Down: []string{"nosuch"}}}}}, "stop nosuch"},
	} {
		tc.o.Dir = t.TempDir()
		_, err := clustertest.New(tc.o)
		assert.ErrorContains(t, err, tc.want)
	}
}
