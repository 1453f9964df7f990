package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/golden"
	"github.com/chefha/chefha/upgrade"
)

// golden compares got with testdata/name, rewriting it under -update.
func goldenText(t *testing.T, name, got string) {
	t.Helper()
	golden.Assert(t, name, []byte(got))
}

// upgradeSteps are the steps of a 1.4.6 → 11.1.8 upgrade of a cluster with
// one front end, as BuildPlan makes them.
var upgradeSteps = []string{"hop1/backup", "hop1/reconfigure-all", "hop1/stop-frontends", "hop1/stop-standby-keepalived",
	"hop1/repair-migration-levels", "hop1/check-runit", "hop1/bootstrap-healthy", "hop1/install-package",
	"hop1/reconfigure-bootstrap", "hop1/upgrade-bootstrap", "hop1/copy-etc-opscode", "hop1/upgrade-secondary",
	"hop1/upgrade-frontend/fe1.chefha.test", "hop1/start-all", "hop1/verify"}

// runningUpgrade writes a journal whose run finished done steps, the
// last at lastAt, and, when since is not zero, the lock of that run on
// the bootstrap, taken at since by a runner on another machine.
func runningUpgrade(t *testing.T, sim *clustertest.Cluster, done int, lastAt, since time.Time) upgrade.Journal {
	t.Helper()
	p := upgrade.Plan{Phase: upgrade.PhaseUpgrade, From: "1.4.6", To: "11.1.8"}
	for _, id := range upgradeSteps {
		p.Steps = append(p.Steps, upgrade.Step{ID: id, Hop: 1, Title: id})
	}
	rec := upgrade.Record{Format: upgrade.JournalFormat, PlanHash: p.Hash(), Plan: p, Started: lastAt.Add(-time.Hour), Updated: lastAt,
		Steps: map[string]upgrade.StepRecord{}}
	for i, id := range upgradeSteps[:done] {
		rec.Steps[id] = upgrade.StepRecord{Finished: lastAt.Add(time.Duration(i-done+1) * time.Minute), Took: 75 * time.Second}
	}
	j := upgrade.FileJournal{Path: filepath.Join(t.TempDir(), "chefha-upgrade.json")}
	require.NoError(t, j.Save(context.Background(), rec))
	if !since.IsZero() {
		b, err := json.Marshal(upgrade.LockOwner{Host: "ops1", PID: 4242, Nonce: "0123456789abcdef", Since: since, Heartbeat: since, Plan: p.Hash()})
		require.NoError(t, err)
		require.NoError(t, sim.Node("be1.chefha.test").WriteFile(upgrade.LockPath+"/owner", b, 0o600))
	}
	return j
}

// One refresh during an upgrade, on a terminal and in plain lines: the
// back ends, their DRBD with the secondary resyncing, the front end with
// a service stopped (that finding ignored), the step running.
func TestRefreshGolden(t *testing.T) {
	t.Parallel()
	sim, cl, clock := simEnv(t, clustertest.DRBDResync(40, 1000))
	fe, _ := cl.Node("fe1.chefha.test")
	_, err := fe.Run(context.Background(), cluster.Command("private-chef-ctl", "stop", "nginx").AsRoot())
	require.NoError(t, err)
	now := clock.Now()
	j := runningUpgrade(t, sim, 9, now.Add(-90*time.Second), now.Add(-time.Hour))
	cfg := config{interval: time.Second, once: true, clock: clock, lines: 3, width: 120, journal: j,
		ignore: []string{"frontend-services-down"}}
	render := func(cfg config) (string, bool) {
		t.Helper()
		var out, errb bytes.Buffer
		alarm, err := watch(context.Background(), cfg, cl, &out, &errb)
		require.NoError(t, err)
		assert.Empty(t, errb.String())
		return out.String(), alarm
	}
	plain, alarm := render(cfg)
	assert.True(t, alarm, "the resync is not ignored")
	goldenText(t, "refresh-plain.golden", plain)
	cfg.terminal = true
	screen, _ := render(cfg)
	screen = strings.NewReplacer(ansiHome, "", ansiEraseLine, "", ansiEraseDown, "").Replace(screen)
	goldenText(t, "refresh-screen.golden", screen)

	for _, s := range []string{plain, screen} {
		assert.Contains(t, s, "step 10/15 hop1/upgrade-bootstrap running since")
		assert.Contains(t, s, "SyncTarget Secondary/Primary Inconsistent/UpToDate, resync")
		assert.Contains(t, s, "IGNORED frontend-services-down: fe1.chefha.test: nginx not running")
	}
}

// A stopped run: where it stopped, and the step it did last.
func TestRefreshStoppedRun(t *testing.T) {
	t.Parallel()
	sim, cl, clock := simEnv(t)
	j := runningUpgrade(t, sim, 9, clock.Now().Add(-time.Hour), time.Time{})
	var out, errb bytes.Buffer
	alarm, err := watch(context.Background(), config{interval: time.Second, once: true, clock: clock, journal: j}, cl, &out, &errb)
	require.NoError(t, err)
	assert.False(t, alarm, "a stopped run is shown, not a finding")
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d upgrade stopped before step 10/15 hop1/upgrade-bootstrap$`, out.String())
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d upgrade last done: step 9/15 hop1/reconfigure-bootstrap at \d\d:\d\d:\d\d \(took 1m15s\)$`, out.String())
}

// A front end that cannot be read is shown as unreachable, with the
// reason, on every output; never with services, never as fine; ignoring
// its finding keeps it shown and marks it.
func TestUnreachableFrontendShown(t *testing.T) {
	t.Parallel()
	_, cl, clock := simEnv(t, clustertest.Unreachable("fe1.chefha.test"))
	look := func(cfg config) (string, bool) {
		t.Helper()
		cfg.interval, cfg.once, cfg.clock, cfg.width = time.Second, true, clock, 300
		var out, errb bytes.Buffer
		alarm, err := watch(context.Background(), cfg, cl, &out, &errb)
		require.NoError(t, err)
		return out.String(), alarm
	}
	plain, alarm := look(config{})
	assert.True(t, alarm, "-once exits 1")
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d fe1\.chefha\.test unreachable: not reached at \S+: .+$`, plain)
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d frontend-unreachable: fe1\.chefha\.test unreadable: not reached at `, plain)
	assert.NotRegexp(t, `fe1\.chefha\.test services`, plain)
	assert.NotContains(t, plain, "findings: none")

	screen, _ := look(config{terminal: true})
	assert.Regexp(t, `(?m)^fe1\.chefha\.test +unreachable: not reached at \S+: `, screen)
	assert.NotContains(t, screen, "\nnone: ")

	plain, alarm = look(config{ignore: []string{"frontend-unreachable"}})
	assert.False(t, alarm, "ignored: -once exits 0")
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d fe1\.chefha\.test unreachable: not reached at `, plain, "still shown as unreachable")
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d IGNORED frontend-unreachable: fe1\.chefha\.test unreadable: `, plain)
}

// -ignore takes the watch's findings, not the pre-flight's checks; a
// typo is a usage error before the cluster is reached.
func TestIgnoreFlag(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	assert.Equal(t, exitUsage, run(context.Background(), []string{"-once", "-ignore", "in-transition,frontend-down"}, &out, &errb))
	assert.Contains(t, errb.String(), `watch: -ignore: the watch has no finding called "frontend-down" (its findings: `)
	assert.Contains(t, errb.String(), "frontend-services-down")
	assert.Empty(t, out.String(), "refused before the cluster is reached")

	errb.Reset()
	assert.Equal(t, exitOK, run(context.Background(), []string{"-h"}, &out, &errb))
	assert.Contains(t, errb.String(), "findings to show as IGNORED")

	errb.Reset()
	assert.Equal(t, exitOK, run(context.Background(), []string{"-once", "-ignore", "In-Transition, drbd-not-uptodate"}, &out, &errb), errb.String())
}
