package upgrade_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A journal edited to hold another plan, with its hash recomputed, is
// refused before anything runs: the plan comes from the inputs, never
// from the file.
func TestForgedJournalIsRefused(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 2)
	p := e.plan(t, "11.1.8")
	// The forger adds a step of their own and a cleanup, and recomputes
	// the hash the way chefha does.
	p.Steps = append(p.Steps, upgrade.Step{ID: "hop1/cleanup", Kind: upgrade.StepCleanup, Title: "cleanup", Nodes: []string{"fe1.chefha.test"}})
	p.Steps[0].Nodes = []string{"../../etc/passwd"}
	rec := upgrade.Record{Format: upgrade.JournalFormat, PlanHash: p.Hash(), Plan: p, Steps: map[string]upgrade.StepRecord{}}
	require.NoError(t, e.journal.Save(context.Background(), rec))

	err := e.runner("11.1.8", nil).Run(context.Background())
	var jm *upgrade.JournalMismatchError
	require.ErrorAs(t, err, &jm)
	assert.Contains(t, err.Error(), "steps")
	assert.Contains(t, err.Error(), "Nothing was run")
	for name, log := range e.logs() {
		assert.Empty(t, log, "%s: refused before any action", name)
	}
}

// A journal whose steps are marked done without having run makes the
// runner check them against the cluster: it refuses, naming the effects
// that are missing.
func TestJournalClaimingUndoneStepsIsRefused(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	p := e.plan(t, "11.1.8")
	rec := upgrade.Record{Format: upgrade.JournalFormat, PlanHash: p.Hash(), Plan: p, Steps: map[string]upgrade.StepRecord{}}
	for _, s := range p.Steps {
		rec.Steps[s.ID] = upgrade.StepRecord{}
	}
	require.NoError(t, e.journal.Save(context.Background(), rec))
	err := e.runner("11.1.8", nil).Run(context.Background())
	var jm *upgrade.JournalMismatchError
	require.ErrorAs(t, err, &jm)
	assert.Contains(t, strings.Join(jm.Undone, "\n"), "hop1/install-package: be1.chefha.test has 1.4.6 installed")
	for name, log := range e.logs() {
		assert.Empty(t, log, "%s: refused before any action", name)
	}
}

// A finished journal resumed against a fresh cluster is refused with what
// differs, not reported as an upgrade done.
func TestFinishedJournalAgainstAFreshCluster(t *testing.T) {
	t.Parallel()
	done := newUpgradeEnv(t, "1.4.6", 1)
	require.NoError(t, done.runner("11.1.8", nil).Run(context.Background()))
	rec, err := done.journal.Load(context.Background())
	require.NoError(t, err)
	require.True(t, rec.Finished())

	fresh := newUpgradeEnv(t, "1.4.6", 1)
	fresh.packages = done.packages // the same files, so the same plan
	require.NoError(t, fresh.journal.Save(context.Background(), rec))
	var events []upgrade.Event
	err = fresh.runner("11.1.8", &events).Run(context.Background())
	var jm *upgrade.JournalMismatchError
	require.ErrorAs(t, err, &jm)
	assert.NotEmpty(t, jm.Undone)
	last := events[len(events)-1]
	assert.Equal(t, upgrade.OutcomeRefused, last.Outcome)
	assert.Equal(t, "journal-mismatch", last.Error.Type)
	for name, log := range fresh.logs() {
		assert.Empty(t, log, "%s untouched", name)
	}
}

// A journal of the same plan resumes; with other inputs it is refused,
// saying what changed.
func TestJournalOfAnotherTargetSaysWhatChanged(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	var r *upgrade.Runner
	r = e.runner("11.1.8", nil, stopAfter(&r, "hop1/backup"))
	require.ErrorIs(t, r.Run(context.Background()), upgrade.ErrStopped)
	err := e.runner("11.0.2", nil, upgrade.WithSkippable()).Run(context.Background())
	var jm *upgrade.JournalMismatchError
	require.ErrorAs(t, err, &jm)
	assert.Contains(t, strings.Join(jm.Changed, "; "), `target "11.1.8", now "11.0.2"`)
}

func TestFileJournalModes(t *testing.T) {
	dir := t.TempDir()
	j := upgrade.FileJournal{Path: filepath.Join(dir, "sub", "j.json")}
	_, err := j.Load(context.Background())
	require.ErrorIs(t, err, upgrade.ErrNoJournal)
	require.NoError(t, j.Save(context.Background(), upgrade.Record{}))
	st, err := os.Stat(j.Path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the journal names the cluster's nodes and backups")
	st, err = os.Stat(filepath.Dir(j.Path))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())

	require.NoError(t, os.Chmod(j.Path, 0o644))
	_, err = j.Load(context.Background())
	var me *cluster.ModeError
	require.ErrorAs(t, err, &me)
	assert.Contains(t, err.Error(), "0644")
	assert.Contains(t, err.Error(), "chmod 600")
}

func TestDecodeRecordRefusesInconsistentJournals(t *testing.T) {
	p := upgrade.Plan{Phase: upgrade.PhaseUpgrade, From: "1.4.6", To: "11.1.8",
		Steps: []upgrade.Step{{ID: "hop1/backup", Kind: upgrade.StepBackup}}}
	good := upgrade.Record{Format: upgrade.JournalFormat, PlanHash: p.Hash(), Plan: p, Steps: map[string]upgrade.StepRecord{"hop1/backup": {}}}
	enc := func(r upgrade.Record) []byte { b, _ := json.Marshal(r); return b }
	_, err := upgrade.DecodeRecord(enc(good))
	require.NoError(t, err)
	bad := map[string]func(*upgrade.Record){
		"other format":   func(r *upgrade.Record) { r.Format = 9 },
		"edited plan":    func(r *upgrade.Record) { r.Plan.To = "12.0.0" },
		"unknown step":   func(r *upgrade.Record) { r.Steps["hop1/rm-rf"] = upgrade.StepRecord{} },
		"path as a step": func(r *upgrade.Record) { r.Plan.Steps[0].ID = "../../x"; r.PlanHash = r.Plan.Hash() },
	}
	for name, edit := range bad {
		r := good
		r.Plan.Steps = append([]upgrade.Step(nil), good.Plan.Steps...)
		r.Steps = map[string]upgrade.StepRecord{"hop1/backup": {}}
		edit(&r)
		_, err := upgrade.DecodeRecord(enc(r))
		assert.Error(t, err, name)
	}
	_, err = upgrade.DecodeRecord([]byte("{"))
	assert.Error(t, err)
}

// A journal copy on the bootstrap lets another operator machine resume:
// the newest of the mirrors is loaded.
func TestMirrorJournalResumesFromTheNodeCopy(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	be1, _ := e.cl.Node("be1.chefha.test")
	local := upgrade.FileJournal{Path: filepath.Join(e.dir, "laptop-a.json")}
	mirror := upgrade.MirrorJournal{local, upgrade.NodeJournal{Node: be1}}
	var r *upgrade.Runner
	r = upgrade.NewRunner(e.cl, e.options("11.1.8", upgrade.WithJournal(mirror), stopAfter(&r, "hop1/reconfigure-all"))...)
	require.ErrorIs(t, r.Run(context.Background()), upgrade.ErrStopped)

	// Another machine: an empty local file, the copy on the bootstrap.
	other := upgrade.MirrorJournal{upgrade.FileJournal{Path: filepath.Join(e.dir, "laptop-b.json")}, upgrade.NodeJournal{Node: be1}}
	rec, err := other.Load(context.Background())
	require.NoError(t, err)
	assert.Contains(t, rec.Steps, "hop1/reconfigure-all")
	require.NoError(t, upgrade.NewRunner(e.cl, e.options("11.1.8", upgrade.WithJournal(other))...).Run(context.Background()))
	e.assertUpgraded(t, "11.1.8", "1.13")
	assertEachEffectOnce(t, e)
}

func FuzzDecodeRecord(f *testing.F) {
	p := upgrade.Plan{Phase: upgrade.PhaseUpgrade, From: "1.4.6", To: "11.1.8", Steps: []upgrade.Step{{ID: "hop1/backup"}}}
	b, _ := json.Marshal(upgrade.Record{Format: 1, PlanHash: p.Hash(), Plan: p})
	f.Add(b)
	f.Add([]byte(`{"format":1,"steps":{"x":{}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := upgrade.DecodeRecord(b)
		if err != nil {
			return
		}
		for id := range r.Steps {
			if _, ok := r.Plan.Step(id); !ok {
				t.Fatalf("step %q accepted outside its plan", id)
			}
		}
		if r.PlanHash != r.Plan.Hash() {
			t.Fatal("hash mismatch accepted")
		}
	})
}

// stopAfter asks the runner *r to stop once step is done, as an operator's
// first Ctrl-C would.
func stopAfter(r **upgrade.Runner, step string) upgrade.Option {
	return upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventStepDone && ev.Step == step {
			(*r).Stop()
		}
	})
}

// A run refused as locked writes nothing: the journal of the run that
// holds the lock keeps every step it recorded (it used to be rewritten
// with the refused run's empty record, before the lock).
func TestALockedRunLeavesTheJournalAlone(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	release, done := e.holdRun(t, "hop1/reconfigure-all")
	before, err := os.ReadFile(e.journal.(upgrade.FileJournal).Path)
	require.NoError(t, err)
	var le *upgrade.LockedError
	require.ErrorAs(t, e.runner("11.1.8", nil).Run(context.Background()), &le)
	after, err := os.ReadFile(e.journal.(upgrade.FileJournal).Path)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "the refused run did not write the journal")
	release()
	require.NoError(t, <-done)
}

// Mirrors merge by progress: a copy rewritten later with less progress
// does not hide the steps the other recorded; a corrupt copy is passed
// over while another can be read, and named when none can.
func TestMirrorJournalMergesByProgressAndPassesOverACorruptCopy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := upgrade.Plan{Phase: upgrade.PhaseUpgrade, From: "1.4.6", To: "11.1.8", Steps: []upgrade.Step{{ID: "hop1/backup"}, {ID: "hop1/reconfigure-all"}}}
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ahead := upgrade.Record{Format: upgrade.JournalFormat, PlanHash: p.Hash(), Plan: p, Started: t0, Updated: t0.Add(time.Minute),
		Steps:   map[string]upgrade.StepRecord{"hop1/backup": {Finished: t0}, "hop1/reconfigure-all": {Finished: t0.Add(time.Minute)}},
		Backups: []upgrade.BackupRecord{{Hop: 1, Node: "be1", Kind: "command"}}}
	behind := upgrade.Record{Format: upgrade.JournalFormat, PlanHash: p.Hash(), Plan: p, Started: t0, Updated: t0.Add(time.Hour),
		Steps: map[string]upgrade.StepRecord{}, Backups: []upgrade.BackupRecord{{Hop: 1, Node: "be1", Pending: true}}}
	a := upgrade.FileJournal{Path: filepath.Join(dir, "a.json")}
	b := upgrade.FileJournal{Path: filepath.Join(dir, "b.json")}
	ctx := context.Background()
	require.NoError(t, a.Save(ctx, ahead))
	require.NoError(t, b.Save(ctx, behind))
	rec, err := upgrade.MirrorJournal{a, b}.Load(ctx)
	require.NoError(t, err)
	assert.Len(t, rec.Steps, 2, "the steps either copy recorded")
	require.Len(t, rec.Backups, 1)
	assert.False(t, rec.Backups[0].Pending, "the made backup over its pending record")
	assert.Equal(t, t0.Add(time.Hour), rec.Updated)

	require.NoError(t, os.WriteFile(b.Path, []byte("{corrupt"), 0o600))
	rec, err = upgrade.MirrorJournal{a, b}.Load(ctx)
	require.NoError(t, err, "the intact copy is enough")
	assert.Len(t, rec.Steps, 2)
	require.NoError(t, os.WriteFile(a.Path, []byte("{corrupt"), 0o600))
	_, err = upgrade.MirrorJournal{a, b}.Load(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), a.Path)
	assert.Contains(t, err.Error(), b.Path)
	assert.Contains(t, err.Error(), "move a corrupt copy away")
}
