package clustertest_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/runit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	be1 = "be1.chefha.test"
	be2 = "be2.chefha.test"
	fe1 = "fe1.chefha.test"
)

// sim is a simulated cluster dialled over SSH, on a fake clock.
type sim struct {
	*clustertest.Cluster
	cl    *cluster.Cluster
	clock *clustertest.FakeClock
}

func start(t *testing.T, version string, knobs ...clustertest.Knob) *sim {
	t.Helper()
	clock := clustertest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	c, err := clustertest.New(clustertest.Options{Version: version, Clock: clock.Now, Sleep: clock.Advance, Knobs: knobs})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	cl, err := c.Dial(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return &sim{Cluster: c, cl: cl, clock: clock}
}

func (s *sim) run(t *testing.T, node string, argv ...string) (string, string, int) {
	t.Helper()
	n, ok := s.cl.Node(node)
	require.True(t, ok, node)
	res, err := n.Run(context.Background(), cluster.Command(argv...))
	var ee *cluster.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", node, err)
	}
	return string(res.Stdout), string(res.Stderr), res.ExitCode
}

// installPackage uploads a package file over SFTP and installs it.
func (s *sim) installPackage(t *testing.T, node, version string) {
	t.Helper()
	n, _ := s.cl.Node(node)
	require.NoError(t, n.WriteFile(context.Background(), "/tmp/private-chef_"+version+"-1_amd64.deb", []byte("private-chef "+version+"\n"), 0o644))
	out, _, code := s.run(t, node, "dpkg", "-i", "/tmp/private-chef_"+version+"-1_amd64.deb")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "Setting up private-chef ("+version+"-1)")
}

func (s *sim) level(t *testing.T, node string) (migration.Level, error) {
	out, _, _ := s.run(t, node, "cat", migration.Path)
	return migration.Parse([]byte(out))
}

func TestKnobOC11297(t *testing.T) {
	s := start(t, "11.0.2", clustertest.OC11297())
	_, err := s.level(t, be1)
	assert.ErrorIs(t, err, migration.ErrEmpty, "back ends lost their level")
	l, err := s.level(t, fe1)
	require.NoError(t, err)
	assert.Equal(t, migration.Level{Major: 1, Minor: 12}, l, "front ends kept it")
}

func TestKnobOC11382(t *testing.T) {
	s := start(t, "1.4.6", clustertest.OC11382(), clustertest.StandbyKeepalivedStopped())
	s.installPackage(t, be1, "11.1.8")
	out, stderr, code := s.run(t, be1, "private-chef-ctl", "upgrade")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "Starting Migration 1.9")
	assert.Contains(t, stderr, "postgresql went away")
	l, err := s.level(t, be1)
	require.NoError(t, err)
	assert.Equal(t, migration.Level{Major: 1, Minor: 8}, l, "interrupted part-way")
	st, _, _ := s.run(t, be1, "cat", keepalived.RequestedPath)
	assert.Equal(t, "backup\n", st, "keepalived restarted under partybus")
}

func TestKnobOC11426(t *testing.T) {
	s := start(t, "11.1.8", clustertest.OC11426())
	out, _, _ := s.run(t, be1, "stat", "-c", runit.StatFormat, "/var/log/opscode")
	st, err := runit.ParseStat(strings.NewReader(out))
	require.NoError(t, err)
	findings := runit.DiagnoseLogDir(runit.LogDir{Dir: st[0]}, "opscode")
	require.Len(t, findings, 1)
	assert.Equal(t, runit.SymptomLogDirOwner, findings[0].Symptom)
}

func TestKnobOC11490(t *testing.T) {
	s := start(t, "11.1.8", clustertest.OC11490(), clustertest.StandbyKeepalivedStopped())
	out, _, _ := s.run(t, be1, "stat", "-c", "%U", "/var/log/opscode/keepalived")
	assert.Equal(t, "root\n", out)
	s.run(t, be1, "private-chef-ctl", "stop", "keepalived")
	out, _, code := s.run(t, be1, "private-chef-ctl", "start", "keepalived")
	assert.Equal(t, 1, code, "keepalived cannot run")
	assert.Equal(t, "timeout: down: keepalived: 0s, normally up, want up\n", out)
}

func TestKnobOC11540(t *testing.T) {
	s := start(t, "11.0.2", clustertest.OC11540())
	_, stderr, code := s.run(t, be1, "private-chef-ctl", "reconfigure")
	assert.Equal(t, 1, code, "fixed in 11.1.8, not in 11.0.2")
	assert.Contains(t, stderr, "opscode-account: invalid configuration: non_ssl_port is false")
}

func TestKnobOC11575(t *testing.T) {
	s := start(t, "11.1.8", clustertest.OC11575())
	out, _, _ := s.run(t, be2, "private-chef-ctl", "status")
	st, err := runit.ParseStatus(strings.NewReader(out))
	require.NoError(t, err)
	up := 0
	for _, x := range st {
		if x.State == runit.StateRun && x.Service != "keepalived" {
			up++
			assert.False(t, x.NormallyUp, "%s runs on the passive back end with a down file", x.Service)
		}
	}
	assert.Positive(t, up)
}

func TestKnobOC11601(t *testing.T) {
	s := start(t, "11.0.2", clustertest.OC11601())
	s.installPackage(t, be1, "11.1.8")
	_, stderr, code := s.run(t, be1, "private-chef-ctl", "reconfigure")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "Connection refused - connect(2) for 127.0.0.1:16379")
	_, _, code = s.run(t, be1, "private-chef-ctl", "restart", "redis_lb")
	require.Equal(t, 0, code)
	_, _, code = s.run(t, be1, "private-chef-ctl", "reconfigure")
	assert.Equal(t, 0, code, "the workaround: restart redis_lb first")
}

func TestKnobOC11656(t *testing.T) {
	s := start(t, "11.1.8", clustertest.OC11656())
	out, _, _ := s.run(t, fe1, "stat", "-c", runit.StatFormat, "/etc/opscode/private-chef.rb")
	st, err := runit.ParseStat(strings.NewReader(out))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), st[0].Mode.Perm(), "unreadable to the opscode user")
}

func TestKnobOC11657(t *testing.T) {
	s := start(t, "1.4.6", clustertest.OC11657())
	out, _, code := s.run(t, be1, "private-chef-ctl", "stop", "opscode-expander")
	assert.Equal(t, 1, code)
	st, err := runit.ParseStatus(strings.NewReader(out))
	require.NoError(t, err)
	assert.Equal(t, "timeout", st[0].Outcome)
	assert.True(t, st[0].GotTERM)
	out, _, code = s.run(t, be1, "sv", "-w", "30", "stop", "opscode-expander")
	assert.Equal(t, 0, code, "a longer wait lets it stop: %s", out)
}

func TestKnobOC11658(t *testing.T) {
	s := start(t, "11.0.2", clustertest.OC11658(), clustertest.StandbyKeepalivedStopped())
	s.installPackage(t, be1, "11.1.8")
	out, _, code := s.run(t, be1, "private-chef-ctl", "upgrade")
	assert.Equal(t, 0, code, "partybus still says success")
	assert.Contains(t, out, "oc_authz_migrator: ERROR")
	assert.Contains(t, out, "Chef Server Upgraded!")
	assert.NotEmpty(t, s.Node(be1).Harm())
}

func TestKnobOC11662(t *testing.T) {
	s := start(t, "11.1.8", clustertest.OC11662())
	s.run(t, be1, "sv", "stop", "redis_lb")
	out, _, code := s.run(t, be1, "sv", "start", "redis_lb")
	assert.Equal(t, 1, code)
	assert.Equal(t, "timeout: down: redis_lb: 0s, normally up, want up\n", out)
}

func TestKnobOC11669(t *testing.T) {
	s := start(t, "1.4.6", clustertest.OC11669(), clustertest.StandbyKeepalivedStopped())
	s.installPackage(t, be1, "11.1.8")
	_, _, code := s.run(t, be1, "private-chef-ctl", "reconfigure")
	require.Equal(t, 0, code)
	out, _, code := s.run(t, be1, "private-chef-ctl", "ha-status")
	assert.Equal(t, 2, code)
	assert.Contains(t, out, "[WARN] inconsistent cluster status, requested: backup, current: master, failover running?")
	s.clock.Advance(4 * time.Second)
	cur, _, _ := s.run(t, be1, "cat", keepalived.CurrentStatusPath)
	assert.Equal(t, "backup\n", cur, "dropped to backup")
	s.clock.Advance(4 * time.Second)
	cur, _, _ = s.run(t, be1, "cat", keepalived.CurrentStatusPath)
	assert.Equal(t, "master\n", cur, "and back to master")
	log, _, _ := s.run(t, be1, "cat", keepalived.ClusterLogPath)
	ev, err := keepalived.ParseClusterLog(strings.NewReader(log))
	require.NoError(t, err)
	last, _ := keepalived.LastTransition(ev)
	assert.Equal(t, keepalived.EventTransitioned, last.Kind)
	assert.Equal(t, keepalived.Master, last.To)
}

func TestKnobOC11670(t *testing.T) {
	s := start(t, "1.4.6", clustertest.OC11669(), clustertest.OC11670(), clustertest.StandbyKeepalivedStopped())
	s.installPackage(t, be1, "11.1.8")
	s.run(t, be1, "private-chef-ctl", "reconfigure")
	out, _, code := s.run(t, be1, "private-chef-ctl", "upgrade")
	assert.Equal(t, 0, code)
	assert.NotContains(t, out, "Starting Migration 1.9", "silently skipped")
	assert.Contains(t, out, "Chef Server Upgraded!")
	assert.Contains(t, strings.Join(s.Node(be1).Harm(), "\n"), "migration 1.9 skipped")
}

func TestKnobPartybusLocked(t *testing.T) {
	s := start(t, "11.0.2", clustertest.PartybusLocked())
	s.installPackage(t, fe1, "11.1.8")
	out, _, code := s.run(t, fe1, "private-chef-ctl", "upgrade")
	assert.Equal(t, 0, code, "exits 0 all the same")
	assert.Contains(t, out, "ERROR: Unable to obtain file lock on /var/opt/opscode/upgrades/migration-level")
	l, err := s.level(t, fe1)
	require.NoError(t, err)
	assert.Equal(t, migration.Level{Major: 1, Minor: 12}, l, "nothing migrated")
}

func TestKnobsRunitSymptoms(t *testing.T) {
	s := start(t, "11.1.8", clustertest.LogDirMode(), clustertest.LogDirOwner(), clustertest.CurrentMissing(),
		clustertest.LogFSFull(), clustertest.StaleLinks())
	out, _, _ := s.run(t, be1, "stat", "-c", runit.StatFormat, "/var/log/opscode", "/var/log/opscode/opscode-erchef/current")
	st, err := runit.ParseStat(strings.NewReader(out))
	require.NoError(t, err)
	require.Len(t, st, 1, "the missing current is not listed")
	df, _, _ := s.run(t, be1, "df", "-P", "/var/log/opscode")
	usage, err := runit.ParseDF(strings.NewReader(df))
	require.NoError(t, err)
	var symptoms []runit.Symptom
	for _, f := range runit.DiagnoseLogDir(runit.LogDir{Dir: st[0], Services: []string{"opscode-erchef"}, Usage: usage}, "opscode") {
		symptoms = append(symptoms, f.Symptom)
	}
	assert.ElementsMatch(t, []runit.Symptom{runit.SymptomLogDirMode, runit.SymptomLogDirOwner, runit.SymptomLogCurrentMissing, runit.SymptomLogFSFull}, symptoms)

	links, _, _ := s.run(t, be1, "find", "/opt/opscode/service", "-mindepth", "1", "-maxdepth", "1", "-printf", runit.LinkFormat)
	ls, err := runit.ParseLinks(strings.NewReader(links))
	require.NoError(t, err)
	stale := runit.DiagnoseServiceLinks("/opt/opscode/service", ls, true)
	var subjects []string
	for _, f := range stale {
		subjects = append(subjects, f.Subject)
	}
	assert.Contains(t, subjects, "/opt/opscode/service/nagios")
	assert.Contains(t, subjects, "/opt/opscode/service/nagios-old")
}

func TestKnobsTransport(t *testing.T) {
	s := start(t, "1.4.6", clustertest.DropMidCommand(fe1, 1), clustertest.SlowNode(be2, 2*time.Second))
	n, _ := s.cl.Node(fe1)
	_, err := n.Run(context.Background(), cluster.Command("private-chef-ctl", "status"))
	assert.ErrorIs(t, err, cluster.ErrConnectionLost)
	_, err = n.Run(context.Background(), cluster.Command("private-chef-ctl", "status"))
	assert.NoError(t, err, "reconnects")

	slow, _ := s.cl.Node(be2)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = slow.Run(ctx, cluster.Command("true"))
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	u, err := clustertest.New(clustertest.Options{Knobs: []clustertest.Knob{clustertest.Unreachable(be2)}})
	require.NoError(t, err)
	defer u.Close()
	_, err = u.Dial(context.Background())
	assert.ErrorContains(t, err, be2)
	assert.ErrorContains(t, err, "connection refused")
}

func TestPackageAndSFTPOnEmulatedNode(t *testing.T) {
	s := start(t, "1.4.6", clustertest.RHEL())
	n, _ := s.cl.Node(fe1)
	require.NoError(t, n.WriteFile(context.Background(), "/tmp/private-chef-11.1.8-1.el6.x86_64.rpm", []byte("private-chef 11.1.8\n"), 0o644))
	_, stderr, code := s.run(t, fe1, "dpkg", "-i", "/tmp/private-chef-11.1.8-1.el6.x86_64.rpm")
	assert.Equal(t, 127, code, stderr)
	out, _, code := s.run(t, fe1, "rpm", "-Uvh", "/tmp/private-chef-11.1.8-1.el6.x86_64.rpm")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "Thank you for installing Chef Server!")
	b, err := n.ReadFile(context.Background(), "/opt/opscode/version-manifest.txt")
	require.NoError(t, err)
	assert.Equal(t, "private-chef 11.1.8\n", string(b), "read back over the rooted SFTP server")
	ents, err := n.ReadDir(context.Background(), "/opt/opscode/service")
	require.NoError(t, err)
	require.NotEmpty(t, ents)
	assert.Equal(t, "/opt/opscode/sv/bookshelf", ents[0].Target)
}
