package clustertest_test

import (
	"context"
	"io/fs"
	"slices"
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

// Every knob, shown over SSH as an operator would see it. Facts are cited
// as repository tag:path; OO is chef-boneyard/opscode-omnibus, PC/ is
// OO's files/private-chef-cookbooks/private-chef/, UPG/ is OO's
// files/private-chef-upgrades/001/.

func TestKnobOC11297(t *testing.T) {
	t.Parallel()
	s := start(t, "11.0.2", clustertest.OC11297())
	_, err := s.level(t, be1)
	assert.ErrorIs(t, err, migration.ErrEmpty, "back ends lost their level")
	l, err := s.level(t, fe1)
	require.NoError(t, err)
	assert.Equal(t, migration.Level{Major: 1, Minor: 12}, l, "front ends kept it")

	// partybus reads an unparsable level as 0.0 and runs every migration
	// again (OO 11.1.8 partybus/lib/partybus/migrations.rb rescues
	// JSON::ParserError).
	s.installPackage(t, be2, "11.1.8")
	out, _, code := s.run(t, be2, "private-chef-ctl", "upgrade")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "[private-chef-upgrade] - Current Migration Version: 0.0")
	assert.Contains(t, out, "[private-chef-upgrade] - Migrations to Run: [1.1, 1.2, 1.3,", "Ruby 1.9.3 prints each MigrationFile by its to_s")
	assert.Contains(t, s.harm(be2), "partybus re-ran every migration from 0.0")
}

// OC-11382: keepalived restarting as the upgrade's reconfigure ends
// (cluster.sh backup stops postgresql) kills the migrations before 11.1.7;
// 11.1.7 added `sleep 120` before partybus (OO 11.1.7
// files/private-chef-ctl-commands/upgrade.rb), which outlasts the flap.
func TestKnobOC11382(t *testing.T) {
	t.Parallel()
	t.Run("11.1.6: the migrations die part-way", func(t *testing.T) {
		s := start(t, "1.4.6", clustertest.OC11382(), clustertest.StandbyKeepalivedStopped())
		s.installPackage(t, be1, "11.1.6")
		_, _, code := s.run(t, be1, "private-chef-ctl", "reconfigure")
		require.Equal(t, 0, code)
		s.settle(t)
		out, stderr, code := s.run(t, be1, "private-chef-ctl", "upgrade")
		assert.Equal(t, 1, code)
		assert.NotContains(t, out, "Sleeping for 2 minutes")
		assert.Contains(t, out, "Finished Migration 1.8")
		assert.Contains(t, out, "Starting Migration 1.9")
		assert.Contains(t, stderr, "PG::ConnectionBad")
		assert.NotContains(t, out, "Chef Server Upgraded!")
		l, err := s.level(t, be1)
		require.NoError(t, err)
		assert.Equal(t, migration.Level{Major: 1, Minor: 8}, l, "the level of the last finished migration")
		req, _, _ := s.run(t, be1, "cat", keepalived.RequestedPath)
		assert.Equal(t, "backup\n", req, "keepalived restarted under partybus")

		// Partybus resumes from the level reached once the pair is stable.
		s.settle(t)
		out, _, code = s.run(t, be1, "private-chef-ctl", "upgrade")
		require.Equal(t, 0, code, out)
		assert.Contains(t, out, "[private-chef-upgrade] - Current Migration Version: 1.8")
		l, err = s.level(t, be1)
		require.NoError(t, err)
		assert.Equal(t, migration.Level{Major: 1, Minor: 13}, l)
	})
	t.Run("11.1.8: the sleep outlasts it", func(t *testing.T) {
		s := start(t, "1.4.6", clustertest.OC11382(), clustertest.StandbyKeepalivedStopped())
		s.installPackage(t, be1, "11.1.8")
		_, _, code := s.run(t, be1, "private-chef-ctl", "reconfigure")
		require.Equal(t, 0, code)
		s.settle(t)
		before := len(s.clusterLog(t, be1))
		out, stderr, code := s.run(t, be1, "private-chef-ctl", "upgrade")
		require.Equal(t, 0, code, "%s%s", out, stderr)
		assert.Contains(t, out, "Sleeping for 2 minutes before migration")
		assert.Contains(t, out, "Chef Server Upgraded!")
		ev := s.clusterLog(t, be1)[before:]
		require.NotEmpty(t, ev, "keepalived restarted during the sleep")
		assert.Equal(t, keepalived.EventTransitioning, ev[0].Kind)
		assert.Equal(t, keepalived.Backup, ev[0].To)
		last, _ := keepalived.LastTransition(ev)
		assert.Equal(t, keepalived.Master, last.To, "and was master again before partybus ran")
	})
}

// OC-11426: the knob leaves /var/log/opscode root's; runit's log
// diagnosis sees svlogd (opscode on EC 11) unable to rotate there.
func TestKnobOC11426(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8", clustertest.OC11426())
	out, _, _ := s.run(t, be1, "stat", "-c", runit.StatFormat, "/var/log/opscode")
	st, err := runit.ParseStat(strings.NewReader(out))
	require.NoError(t, err)
	findings := runit.DiagnoseLogDir(runit.LogDir{Dir: st[0]}, "opscode")
	require.Len(t, findings, 1)
	assert.Equal(t, runit.SymptomLogDirOwner, findings[0].Symptom)
}

// OC-11490: before 11.1.7 recipes/keepalived.rb gives the log directory
// no owner, so a root-owned one stays root's while EC 11's svlogd runs as
// opscode (OO 11.0.2 PC/templates/default/sv-keepalived-log-run.erb:
// chpst -U opscode -u opscode); 11.1.7 sets owner opscode, mode 0700
// (OO 11.1.7 PC/recipes/keepalived.rb). 1.x's svlogd runs as root.
func TestKnobOC11490(t *testing.T) {
	t.Parallel()
	s := start(t, "11.0.2", clustertest.OC11490(), clustertest.StandbyKeepalivedStopped())
	out, _, _ := s.run(t, be1, "stat", "-c", "%U %a", "/var/log/opscode/keepalived")
	assert.Equal(t, "root 755\n", out)
	_, _, code := s.run(t, be1, "private-chef-ctl", "reconfigure")
	require.Equal(t, 0, code)
	out, _, _ = s.run(t, be1, "stat", "-c", "%U", "/var/log/opscode/keepalived")
	assert.Equal(t, "root\n", out, "11.0.2's reconfigure leaves the owner")
	s.run(t, be1, "private-chef-ctl", "stop", "keepalived")
	out, _, code = s.run(t, be1, "private-chef-ctl", "start", "keepalived")
	assert.Equal(t, 1, code, "keepalived does not stay up")
	assert.Equal(t, "timeout: down: keepalived: 0s, normally up, want up\n", out)

	s.installPackage(t, be1, "11.1.8")
	_, _, code = s.run(t, be1, "private-chef-ctl", "reconfigure")
	require.Equal(t, 0, code)
	out, _, _ = s.run(t, be1, "stat", "-c", "%U %a", "/var/log/opscode/keepalived")
	assert.Equal(t, "opscode 700\n", out, "11.1.7+ re-owns it")
	out, _, code = s.run(t, be1, "private-chef-ctl", "start", "keepalived")
	assert.Equal(t, 0, code, out)

	one := start(t, "1.4.6", clustertest.OC11490())
	one.run(t, be1, "private-chef-ctl", "stop", "keepalived")
	out, _, code = one.run(t, be1, "private-chef-ctl", "start", "keepalived")
	assert.Equal(t, 0, code, "1.x's svlogd runs as root: %s", out)
}

// OC-11540: with nginx['non_ssl_port'] = false, 11.1.3–11.1.8 render
// opscode-account's internal_lb_url as http://127.0.0.1:false and the
// reconfigure succeeds (OO 11.1.8 PC/templates/default/
// opscode-account-config.rb.erb); 11.2.0's helper uses https and
// ssl_port (OO 11.2.0 PC/libraries/helper.rb internal_lb_url); 11.0.2
// renders no internal_lb_url.
func TestKnobOC11540(t *testing.T) {
	t.Parallel()
	const account = "/var/opt/opscode/opscode-account/etc/privatechef.rb"
	for _, tc := range []struct{ version, want string }{
		{"11.1.8", "Chef::Config[:internal_lb_url] = 'http://127.0.0.1:false'\n"},
		{"11.2.0", "Chef::Config[:internal_lb_url] = 'https://127.0.0.1:443'\n"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			s := start(t, tc.version)
			out, _, _ := s.run(t, fe1, "cat", account)
			assert.Equal(t, "Chef::Config[:internal_lb_url] = 'http://127.0.0.1:80'\n", out, "non_ssl_port's default")
			require.NoError(t, s.Plant(clustertest.OC11540()))
			out, stderr, code := s.run(t, fe1, "private-chef-ctl", "reconfigure")
			require.Equal(t, 0, code, "silent: %s%s", out, stderr)
			assert.Contains(t, out, "opscode Reconfigured!")
			out, _, _ = s.run(t, fe1, "cat", account)
			assert.Equal(t, tc.want, out)
		})
	}
	t.Run("11.0.2", func(t *testing.T) {
		s := start(t, "11.0.2", clustertest.OC11540())
		_, _, code := s.run(t, fe1, "private-chef-ctl", "reconfigure")
		require.Equal(t, 0, code)
		out, _, code := s.run(t, fe1, "cat", account)
		require.Equal(t, 0, code, "the recipe's template is laid down")
		assert.Equal(t, "(the model's "+account+")\n", out, "no internal_lb_url before 11.1.3")
	})
}

// OC-11575: 11.0–11.1.8 write no down files (enterprise-chef-common 0.3.0
// definitions/component_runit_service.rb manages only keepalive_me), so
// when the standby boots runsv starts every HA service; 11.2.0 (0.4.4,
// "[OC-11575] Don't start services by default in HA topology") and 1.x
// write down files and nothing starts.
func TestKnobOC11575(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8", clustertest.OC11575())
	st, code := s.status(t, be2)
	assert.Equal(t, 0, code, "everything runs on the standby")
	for _, svc := range []string{"couchdb", "postgresql", "opscode-erchef", "nginx", "redis_lb"} {
		assert.Equal(t, runit.StateRun, st[svc].State, svc)
		assert.True(t, st[svc].NormallyUp, "%s: no down file before 11.2.0", svc)
	}
	h := s.haStatus(t, be2)
	assert.Equal(t, 7, h.ExitCode)
	assert.Contains(t, problems(h), "couchdb is running, and I am not master.")

	for _, version := range []string{"11.2.0", "1.4.6"} {
		s := start(t, version, clustertest.OC11575())
		st, code := s.status(t, be2)
		assert.Equal(t, 3, code, "%s: the standby's HA services stay down", version)
		assert.Equal(t, runit.StateDown, st["couchdb"].State, version)
		assert.False(t, st["couchdb"].NormallyUp, "%s: down file", version)
	}
}

// OC-11601: 11.1.x's recipes/redis_lb.rb restarts redis_lb only when its
// template changed, then writes keys into it (OO 11.1.8
// PC/recipes/redis_lb.rb); 11.2.0 restarts it unconditionally first. It
// bites only where redis_lb already runs: 11.1.x to a later 11.1.x.
func TestKnobOC11601(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.6", clustertest.OC11601())
	s.installPackage(t, be1, "11.1.8")
	_, stderr, code := s.run(t, be1, "private-chef-ctl", "reconfigure")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "Connection refused - connect(2) for 127.0.0.1:16379")
	_, _, code = s.run(t, be1, "private-chef-ctl", "restart", "redis_lb")
	require.Equal(t, 0, code)
	_, _, code = s.run(t, be1, "private-chef-ctl", "reconfigure")
	assert.Equal(t, 0, code, "the workaround: restart redis_lb first")
	// The passive back end is not the data master: its reconfigure
	// neither restarts redis_lb nor writes its keys, and cannot fail on it.
	s.installPackage(t, be2, "11.1.8")
	out, stderr, code := s.run(t, be2, "private-chef-ctl", "reconfigure")
	assert.Equal(t, 0, code, "%s%s", out, stderr)

	for _, tc := range []struct{ from, to string }{{"11.0.2", "11.1.8"}, {"11.1.6", "11.2.0"}} {
		s := start(t, tc.from, clustertest.OC11601())
		s.installPackage(t, be1, tc.to)
		out, stderr, code := s.run(t, be1, "private-chef-ctl", "reconfigure")
		assert.Equal(t, 0, code, "%s → %s: %s%s", tc.from, tc.to, out, stderr)
	}
}

// OC-11656: the knob leaves private-chef.rb unreadable to the services;
// an EC 11 reconfigure before 11.1.7 (which sets owners and modes
// explicitly, OO 11.1.7 CHANGELOG.md) makes it so again.
func TestKnobOC11656(t *testing.T) {
	t.Parallel()
	mode := func(s *sim) fs.FileMode {
		out, _, _ := s.run(t, fe1, "stat", "-c", runit.StatFormat, "/etc/opscode/private-chef.rb")
		st, err := runit.ParseStat(strings.NewReader(out))
		require.NoError(t, err)
		return st[0].Mode.Perm()
	}
	s := start(t, "11.1.6", clustertest.OC11656())
	assert.Equal(t, fs.FileMode(0o600), mode(s), "unreadable to the opscode user")
	s.run(t, fe1, "chmod", "644", "/etc/opscode/private-chef.rb")
	s.run(t, fe1, "private-chef-ctl", "reconfigure")
	assert.Equal(t, fs.FileMode(0o600), mode(s), "11.1.6's reconfigure again")

	s = start(t, "11.1.8", clustertest.OC11656())
	s.run(t, fe1, "chmod", "644", "/etc/opscode/private-chef.rb")
	s.run(t, fe1, "private-chef-ctl", "reconfigure")
	assert.Equal(t, fs.FileMode(0o644), mode(s), "11.1.8 leaves it")
}

// OC-11657: sv waits 7 s by default (runit 2.1.1 sv.c), shorter than the
// slow service needs: timeout, exit 1; a longer wait lets it stop.
func TestKnobOC11657(t *testing.T) {
	t.Parallel()
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

// graceful-kill (omnibus-ctl 0.0.6–0.1.1 lib/omnibus-ctl.rb graceful_kill,
// 1.2.8.3 bin/private-chef-ctl): with the service's pid and process group
// found, the stop's exit status is ignored, what is left of the group is
// SIGKILLed and the command exits 0; cluster.sh's backup transition takes
// that as the service killed, never "Cannot kill". Without a running
// service the stop's status counts.
func TestGracefulKillOfASlowService(t *testing.T) {
	t.Parallel()
	s := start(t, "1.4.6", clustertest.OC11657())
	out, _, code := s.run(t, be1, "private-chef-ctl", "graceful-kill", "opscode-expander")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "found stuck pids still running in process group: ")
	assert.Contains(t, out, "sending SIGKILL")
	st, _, _ := s.run(t, be1, "private-chef-ctl", "status", "opscode-expander")
	assert.True(t, strings.HasPrefix(st, "down: "), st)
	out, _, code = s.run(t, be1, "private-chef-ctl", "graceful-kill", "opscode-expander")
	assert.Equal(t, 0, code, "down already: sv stop says ok: %s", out)
	assert.Contains(t, out, "could not find opscode-expander runit pidfile")
}

// OC-11658: migration 1.9 (UPG/009_migrate_authz.rb) runs
// oc_authz_migrator's opc-run.sh on the bootstrap. 0.0.1 (OO 11.0.2–11.1.6
// config/software/oc_authz_migrator.rb) swallows its failure and partybus
// succeeds, silently (the migrator's own output is not known: none is
// invented); 0.0.3 (11.1.7+, "exit immediately on errors") exits non-zero
// and partybus' run_command raises (OO 11.1.8 partybus/lib/partybus/
// command_runner.rb), leaving the level at 1.8.
func TestKnobOC11658(t *testing.T) {
	t.Parallel()
	upgrade := func(t *testing.T, version string) (*sim, string, string, int) {
		s := start(t, "1.4.6", clustertest.OC11658(), clustertest.StandbyKeepalivedStopped())
		s.installPackage(t, be1, version)
		_, _, code := s.run(t, be1, "private-chef-ctl", "reconfigure")
		require.Equal(t, 0, code)
		s.settle(t)
		out, stderr, code := s.run(t, be1, "private-chef-ctl", "upgrade")
		return s, out, stderr, code
	}
	t.Run("11.1.6 swallows it", func(t *testing.T) {
		s, out, stderr, code := upgrade(t, "11.1.6")
		assert.Equal(t, 0, code, "partybus still says success: %s", stderr)
		// On an HA back end the couch file is under DRBD's data
		// (libraries/private_chef.rb @11.1.8: couchdb['data_dir']).
		assert.Contains(t, out, "\tRunning Command: /opt/opscode/embedded/service/oc_authz_migrator/scripts/opc-run.sh /var/opt/opscode/drbd/data/couchdb/authorization.couch")
		assert.NotContains(t, out+stderr, "ERROR", "0.0.1 fails silently: nothing in the output tells it")
		assert.Contains(t, out, "Chef Server Upgraded!")
		l, err := s.level(t, be1)
		require.NoError(t, err)
		assert.Equal(t, migration.Level{Major: 1, Minor: 13}, l)
		assert.Contains(t, s.harm(be1), "authz data un-migrated")
	})
	t.Run("11.1.8 fails", func(t *testing.T) {
		s, out, stderr, code := upgrade(t, "11.1.8")
		assert.Equal(t, 1, code)
		assert.NotContains(t, out, "Chef Server Upgraded!")
		assert.Contains(t, stderr, "Partybus failed to execute command '/opt/opscode/embedded/service/oc_authz_migrator/scripts/opc-run.sh /var/opt/opscode/drbd/data/couchdb/authorization.couch' exitstatus: 1")
		l, err := s.level(t, be1)
		require.NoError(t, err)
		assert.Equal(t, migration.Level{Major: 1, Minor: 8}, l)
		assert.Empty(t, s.harm(be1), "loud, not silent")
	})
}

// A service that comes up later than sv's 7 s: its start times out, and it
// runs all the same.
func TestKnobSlowStart(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8", clustertest.SlowStart("redis_lb", 12*time.Second))
	s.run(t, be1, "sv", "stop", "redis_lb")
	out, _, code := s.run(t, be1, "sv", "start", "redis_lb")
	assert.Equal(t, 1, code)
	assert.Equal(t, "timeout: down: redis_lb: 0s, normally up, want up\n", out)
	st, _ := s.status(t, be1, "redis_lb")
	assert.Equal(t, runit.StateRun, st["redis_lb"].State, "it comes up all the same")
}

// OC-11669: 11.1.8's keepalived_safemode (OO 11.1.8
// PC/providers/keepalived_safemode.rb) restarts keepalived as MASTER and
// waits for the DRBD mount before the 1.4 → 11 runsvdir switch, but only
// while `initctl status opscode-runsvdir` shows it started; the knob
// skips it, and the bootstrap drops to backup and comes back.
func TestKnobOC11669(t *testing.T) {
	t.Parallel()
	s := start(t, "1.4.6", clustertest.StandbyKeepalivedStopped())
	s.installPackage(t, be1, "11.1.8")
	out, _, code := s.run(t, be1, "private-chef-ctl", "reconfigure")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "keepalived restarted, waiting for DRBD mount to return")
	assert.Contains(t, out, "DRBD mount has returned, proceeding")

	s = start(t, "1.4.6", clustertest.OC11669(), clustertest.StandbyKeepalivedStopped())
	s.installPackage(t, be1, "11.1.8")
	before := len(s.clusterLog(t, be1))
	out, _, code = s.run(t, be1, "private-chef-ctl", "reconfigure")
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "waiting for DRBD mount", "safe mode skipped")
	h := s.haStatus(t, be1)
	assert.NotZero(t, h.ExitCode)
	assert.Contains(t, problems(h), "inconsistent cluster status, requested: backup, current: master, failover running?")
	s.clock.Advance(4 * time.Second)
	cur, _, _ := s.run(t, be1, "cat", keepalived.CurrentStatusPath)
	assert.Equal(t, "backup\n", cur, "dropped to backup")
	s.settle(t)
	ev := s.clusterLog(t, be1)[before:]
	require.NotEmpty(t, ev)
	assert.Equal(t, keepalived.EventTransitioning, ev[0].Kind)
	assert.Equal(t, keepalived.Backup, ev[0].To)
	last, _ := keepalived.LastTransition(ev)
	assert.Equal(t, keepalived.EventTransitioned, last.Kind)
	assert.Equal(t, keepalived.Master, last.To, "and back to master")
}

// OC-11670: partybus' is_data_master is frozen when the upgrade's
// reconfigure renders config.rb (PC/recipes/partybus.rb, enterprise-chef-
// common libraries/helpers.rb is_data_master? reads
// current_cluster_status). Through 11.1.7 migration 1.9 is guarded by
// `if Partybus.config.is_data_master` and skipped silently, its level
// written (OO 11.1.6 UPG/009_migrate_authz.rb); 1.10 then fails in
// must_be_data_master and 1.9 never runs again. 11.1.8 calls
// must_be_data_master in 1.9 itself (OO 11.1.8 UPG/009_migrate_authz.rb).
func TestKnobOC11670(t *testing.T) {
	t.Parallel()
	upgrade := func(t *testing.T, version string) *sim {
		s := start(t, "1.4.6", clustertest.OC11670(), clustertest.StandbyKeepalivedStopped())
		s.installPackage(t, be1, version)
		_, _, code := s.run(t, be1, "private-chef-ctl", "reconfigure")
		require.Equal(t, 0, code)
		s.settle(t)
		return s
	}
	t.Run("11.1.6 skips 1.9 silently", func(t *testing.T) {
		s := upgrade(t, "11.1.6")
		out, _, code := s.run(t, be1, "private-chef-ctl", "upgrade")
		assert.Equal(t, 1, code)
		i, j := strings.Index(out, "Starting Migration 1.9"), strings.Index(out, "Finished Migration 1.9")
		require.True(t, i >= 0 && j > i, out)
		assert.NotContains(t, out[i:j], "opc-run.sh", "1.9 did nothing")
		assert.Contains(t, out[j:], "Starting Migration 1.10")
		assert.Contains(t, out[j:], "[private-chef-upgrade] - ****\nERROR: \n****\nThe bootstrap server must be the HA-master at the time of upgrade.")
		l, err := s.level(t, be1)
		require.NoError(t, err)
		assert.Equal(t, migration.Level{Major: 1, Minor: 9}, l, "1.9's level was written")
		assert.Contains(t, s.harm(be1), "migration 1.9 (authz to bifrost) skipped")

		out, _, code = s.run(t, be1, "private-chef-ctl", "upgrade")
		require.Equal(t, 0, code, out)
		assert.NotContains(t, out, "009_migrate_authz.rb", "1.9 never runs again")
		assert.Contains(t, out, "Chef Server Upgraded!")
	})
	t.Run("11.1.8 fails at 1.9", func(t *testing.T) {
		s := upgrade(t, "11.1.8")
		out, _, code := s.run(t, be1, "private-chef-ctl", "upgrade")
		assert.Equal(t, 1, code)
		assert.Contains(t, out, "Starting Migration 1.9\n[private-chef-upgrade] - ****\nERROR: \n")
		assert.NotContains(t, out, "Finished Migration 1.9")
		l, err := s.level(t, be1)
		require.NoError(t, err)
		assert.Equal(t, migration.Level{Major: 1, Minor: 8}, l)
		assert.Empty(t, s.harm(be1))

		out, _, code = s.run(t, be1, "private-chef-ctl", "upgrade")
		require.Equal(t, 0, code, out)
		assert.Contains(t, out, "opc-run.sh", "1.9 runs once the bootstrap is master")
	})
}

// partybus cannot take the level file's flock: it logs the error, falls
// off the end of bin/partybus (exit 0) and upgrade.rb prints "Chef Server
// Upgraded!" (OO 11.1.8 partybus/bin/partybus,
// files/private-chef-ctl-commands/upgrade.rb).
func TestKnobPartybusLocked(t *testing.T) {
	t.Parallel()
	s := start(t, "11.0.2", clustertest.PartybusLocked())
	s.installPackage(t, fe1, "11.1.8")
	out, _, code := s.run(t, fe1, "private-chef-ctl", "upgrade")
	assert.Equal(t, 0, code, "exits 0 all the same")
	assert.Contains(t, out, "[private-chef-upgrade] - ERROR: Unable to obtain file lock on /var/opt/opscode/upgrades/migration-level")
	assert.Contains(t, out, "Chef Server Upgraded!")
	assert.NotContains(t, out, "Starting Migration")
	l, err := s.level(t, fe1)
	require.NoError(t, err)
	assert.Equal(t, migration.Level{Major: 1, Minor: 12}, l, "nothing migrated")
}

func TestKnobMigrationLevelAndFile(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8", clustertest.MigrationLevel(fe1, `{"major":1,"mi`),
		clustertest.File(be2, "/etc/motd", "hands off\n", 0o600))
	_, err := s.level(t, fe1)
	var pe *migration.CorruptError
	assert.ErrorAs(t, err, &pe, "the corrupt level over SSH")
	out, _, _ := s.run(t, be2, "stat", "-c", "%a %s", "/etc/motd")
	assert.Equal(t, "600 10\n", out)
}

// ServiceDown and ServiceDisabled: a stopped service exits LSB status 3 and
// ha-status counts it (OO 11.1.8 files/private-chef-ctl-commands/ha.rb);
// an unlinked one is "NAME disabled" (omnibus-ctl 0.0.7 run_sv_command).
func TestKnobServiceDownAndDisabled(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8", clustertest.ServiceDown(be1, "opscode-erchef"), clustertest.ServiceDisabled(fe1, "nginx"))
	st, code := s.status(t, be1, "opscode-erchef")
	assert.Equal(t, 3, code)
	assert.Equal(t, runit.StateDown, st["opscode-erchef"].State)
	assert.True(t, st["opscode-erchef"].NormallyUp)
	h := s.haStatus(t, be1)
	assert.Equal(t, 7, h.ExitCode)
	assert.Contains(t, problems(h), "opscode-erchef is not running correctly, and I am master.")

	st, code = s.status(t, fe1)
	assert.Equal(t, 0, code, "disabled does not count as a failure")
	assert.Equal(t, runit.StateDisabled, st["nginx"].State)
}

// FrontendsStopped and StandbyKeepalivedStopped: the runbook's first two
// steps, done.
func TestKnobFrontendsAndStandbyKeepalivedStopped(t *testing.T) {
	t.Parallel()
	s := start(t, "1.4.6", clustertest.FrontendsStopped(), clustertest.StandbyKeepalivedStopped())
	st, code := s.status(t, fe1)
	assert.Equal(t, 3, code)
	for name, x := range st {
		assert.Equal(t, runit.StateDown, x.State, name)
	}
	st, _ = s.status(t, be2, "keepalived")
	assert.Equal(t, runit.StateDown, st["keepalived"].State)
	h := s.haStatus(t, be1)
	assert.Equal(t, 0, h.ExitCode, "the bootstrap stays master: %v", problems(h))
}

// The runbook's runit symptoms, read over SSH and judged by package runit.
func TestKnobsRunitProcesses(t *testing.T) {
	t.Parallel()
	symptoms := func(s *sim) []runit.Symptom {
		out, _, _ := s.run(t, be1, "ps", "-eo", "pid,ppid,user,stat,args")
		ps, err := runit.ParsePS(strings.NewReader(out))
		require.NoError(t, err)
		var got []runit.Symptom
		for _, f := range runit.DiagnoseProcesses(ps) {
			got = append(got, f.Symptom)
		}
		slices.Sort(got)
		return slices.Compact(got) // LeftoverCtl leaves two processes
	}
	assert.Empty(t, symptoms(start(t, "1.4.6")), "a clean cluster")
	for _, tc := range []struct {
		knob clustertest.Knob
		want runit.Symptom
	}{
		{clustertest.RunsvdirErrors(), runit.SymptomRunsvdirErrors},
		{clustertest.TwoRunsvdirs(), runit.SymptomTwoRunsvdirs},
		{clustertest.LeftoverCtl(), runit.SymptomLeftoverCtl},
		{clustertest.RunsvdirRespawned(), runit.SymptomOrphanRunsv},
	} {
		t.Run(tc.knob.Name, func(t *testing.T) {
			assert.Equal(t, []runit.Symptom{tc.want}, symptoms(start(t, "1.4.6", tc.knob)))
		})
	}
	s := start(t, "1.4.6", clustertest.RunsvdirErrors())
	out, _, _ := s.run(t, be1, "ps", "-eo", "pid,ppid,user,stat,args")
	ps, err := runit.ParsePS(strings.NewReader(out))
	require.NoError(t, err)
	rs := runit.FindRunsvdirs(ps)
	require.NotEmpty(t, rs)
	assert.Contains(t, rs[0].Errors, "svlogd: pausing: unable to rename current: /var/log/opscode/opscode-erchef: file does not exist")
}

func TestKnobsRunitLogs(t *testing.T) {
	t.Parallel()
	diagnose := func(s *sim) []runit.Symptom {
		out, _, _ := s.run(t, be1, "stat", "-c", runit.StatFormat, "/var/log/opscode", "/var/log/opscode/opscode-erchef/current")
		st, err := runit.ParseStat(strings.NewReader(out))
		require.NoError(t, err)
		df, _, _ := s.run(t, be1, "df", "-P", "/var/log/opscode")
		usage, err := runit.ParseDF(strings.NewReader(df))
		require.NoError(t, err)
		l := runit.LogDir{Dir: st[0], Usage: usage}
		if len(st) == 1 { // current is missing
			l.Logs = []runit.ServiceLog{{Service: "opscode-erchef"}}
		}
		var got []runit.Symptom
		for _, f := range runit.DiagnoseLogDir(l, "opscode") {
			got = append(got, f.Symptom)
		}
		return got
	}
	assert.Empty(t, diagnose(start(t, "11.1.8")), "a clean cluster")
	for _, tc := range []struct {
		knob clustertest.Knob
		want runit.Symptom
	}{
		{clustertest.LogDirMode(), runit.SymptomLogDirMode},
		{clustertest.LogDirOwner(), runit.SymptomLogDirOwner},
		{clustertest.CurrentMissing(), runit.SymptomLogCurrentMissing},
		{clustertest.LogFSFull(), runit.SymptomLogFSFull},
	} {
		t.Run(tc.knob.Name, func(t *testing.T) {
			assert.Equal(t, []runit.Symptom{tc.want}, diagnose(start(t, "11.1.8", tc.knob)))
		})
	}
}

func TestKnobStaleLinks(t *testing.T) {
	t.Parallel()
	stale := func(s *sim) []string {
		out, _, _ := s.run(t, be1, "find", "/opt/opscode/service", "-mindepth", "1", "-maxdepth", "1", "-printf", runit.LinkFormat)
		ls, err := runit.ParseLinks(strings.NewReader(out))
		require.NoError(t, err)
		var subjects []string
		for _, f := range runit.DiagnoseServiceLinks("/opt/opscode/service", ls, true) {
			subjects = append(subjects, f.Subject)
		}
		return subjects
	}
	assert.Empty(t, stale(start(t, "11.1.8")))
	assert.ElementsMatch(t, []string{"/opt/opscode/service/nagios", "/opt/opscode/service/nagios-old"}, stale(start(t, "11.1.8", clustertest.StaleLinks())))
}

func TestKnobsTransport(t *testing.T) {
	t.Parallel()
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

// private-chef-ctl answers the commands its omnibus-ctl's command_map
// holds, read from the packaging (up, down, pause, … are sv verbs it does
// not know: "I don't know that command.", exit 1, 1.4.6–11.2.x); 1.2.8's
// own script passes every sv verb through, and says "Chef Server
// Reconfigured!".
func TestCtlCommandsFromThePackaging(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"1.4.6", "11.1.8"} {
		s := start(t, version)
		out, _, code := s.run(t, be1, "private-chef-ctl", "down", "opscode-erchef")
		assert.Equal(t, 1, code, version)
		assert.Contains(t, out, "I don't know that command.", version)
		out, _, code = s.run(t, be1, "private-chef-ctl", "stop", "opscode-erchef")
		assert.Equal(t, 0, code, "%s: %s", version, out)
		out, _, code = s.run(t, be2, "private-chef-ctl", "reconfigure")
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "\nopscode Reconfigured!\n", "omnibus-ctl's display_name (lib/omnibus-ctl.rb@0.0.6:273)")
	}
	s := start(t, "1.2.8")
	out, _, code := s.run(t, be1, "private-chef-ctl", "opscode-erchef", "down")
	assert.Equal(t, 0, code, out)
	out, _, code = s.run(t, be1, "private-chef-ctl", "reconfigure")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "Chef Server Reconfigured!")
}

// Migrations 1.9 and 1.10 on the bootstrap stop a dozen services through
// partybus' run_command, restart opscode-chef-mover, and start the
// services again (files/private-chef-upgrades/001/009_migrate_authz.rb,
// 010_chef_mover.rb @11.1.8); the mover is left down, as defined.
func TestMigrationsStopAndStartServices(t *testing.T) {
	t.Parallel()
	s := start(t, "1.4.6", clustertest.StandbyKeepalivedStopped())
	s.installPackage(t, be1, "11.1.8")
	out, _, code := s.run(t, be1, "private-chef-ctl", "upgrade")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "[private-chef-upgrade] - Migrations to Run: [1.8, 1.9, 1.10, 1.11, 1.12, 1.13]")
	for _, want := range []string{
		"\tRunning Command: private-chef-ctl stop nginx with options {}",
		"\tRunning Command: private-chef-ctl stop opscode-rabbitmq with options {}",
		"\tRunning Command: private-chef-ctl restart opscode-chef-mover with options {}",
		"\tRunning Command: private-chef-ctl stop opscode-chef-mover with options {}",
		"\tRunning Command: private-chef-ctl start nginx with options {}",
	} {
		assert.Contains(t, out, want)
	}
	assert.Equal(t, 2, strings.Count(out, "Running Command: private-chef-ctl stop opscode-erchef with options {}"), "1.9 and 1.10 each stop it")
	st, _, _ := s.run(t, be1, "private-chef-ctl", "status")
	assert.Contains(t, st, "run: opscode-erchef:", "started again")
	assert.Contains(t, st, "down: opscode-chef-mover:", "the mover is kept down")
}
