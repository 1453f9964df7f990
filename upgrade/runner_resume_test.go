package upgrade_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assertEachEffectOnce checks that across the runs every node was
// installed and upgraded once, and the backup made once.
func assertEachEffectOnce(t *testing.T, e *upgradeEnv) {
	t.Helper()
	for name, log := range e.logs() {
		assert.Equal(t, 1, strings.Count(log, "dpkg -i"), "%s installed once:\n%s", name, log)
		assert.Equal(t, 1, strings.Count(log, "private-chef-ctl upgrade"), "%s upgraded once:\n%s", name, log)
		if name == "be1.chefha.test" {
			assert.Equal(t, 1, strings.Count(log, "mkdir /tmp/chefha-backup"), "the backup made once:\n%s", log)
		}
	}
}

// Cancelled in the middle of each step with two actions or more, then
// resumed: every effect happens once and the cluster ends upgraded.
func TestResumeAfterCancelMidStep(t *testing.T) {
	probe := newUpgradeEnv(t, "1.4.6", 1)
	var events []upgrade.Event
	require.NoError(t, probe.runner("11.1.8", &events).Run(context.Background()))
	perStep := map[string]int{}
	var steps []string
	for _, ev := range events {
		if ev.Kind == upgrade.EventActionDone {
			if perStep[ev.Step] == 0 {
				steps = append(steps, ev.Step)
			}
			perStep[ev.Step]++
		}
	}
	for _, step := range steps {
		if perStep[step] < 2 {
			continue
		}
		t.Run(strings.ReplaceAll(step, "/", "_"), func(t *testing.T) {
			t.Parallel()
			e := newUpgradeEnv(t, "1.4.6", 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := 0
			r := e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
				if ev.Kind == upgrade.EventActionDone && ev.Step == step {
					if done++; done == perStep[step]/2 {
						cancel()
					}
				}
			}))
			require.Error(t, r.Run(ctx))
			require.NoError(t, e.runner("11.1.8", nil).Run(context.Background()), "resumed")
			assertEachEffectOnce(t, e)
			e.assertUpgraded(t, "11.1.8", "1.13")
		})
	}
}

// The child half of TestResumeAfterKillBeforeJournal: run the upgrade
// against the cluster the parent started, and block when the journal is
// about to record the step the parent named, until killed: the step's
// work is done on the nodes, and the journal does not say so.
func TestMain(m *testing.M) {
	if os.Getenv("CHEFHA_RUNNER_CHILD") == "" {
		os.Exit(m.Run())
	}
	os.Exit(runnerChild())
}

// stallingJournal blocks the save that would record step.
type stallingJournal struct {
	upgrade.Journal
	step string
}

func (j stallingJournal) Save(ctx context.Context, r upgrade.Record) error {
	if _, ok := r.Steps[j.step]; ok {
		fmt.Println("KILLME")
		select {} // the parent kills this process here
	}
	return j.Journal.Save(ctx, r)
}

func runnerChild() int {
	dir := os.Getenv("CHEFHA_RUNNER_CHILD")
	fail := func(err error) int { fmt.Println("child:", err); return 3 }
	rb, err := os.ReadFile(filepath.Join(dir, "private-chef.rb"))
	if err != nil {
		return fail(err)
	}
	top, err := cluster.ParseTopology(strings.NewReader(string(rb)))
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	cl, err := cluster.Dial(ctx, top, func(s cluster.Server) (cluster.SSHConfig, error) {
		return cluster.LoadSSHConfig(filepath.Join(dir, "config"), s.Name)
	})
	if err != nil {
		return fail(err)
	}
	e := &upgradeEnv{cl: cl, dir: dir, packages: childPackages(dir)}
	enc := json.NewEncoder(os.Stdout)
	r := upgrade.NewRunner(cl, append(e.realOptions("11.1.8"),
		upgrade.WithJournal(stallingJournal{Journal: upgrade.FileJournal{Path: filepath.Join(dir, "journal.json")}, step: os.Getenv("CHEFHA_STALL_STEP")}),
		upgrade.WithEvents(func(ev upgrade.Event) { enc.Encode(ev) }))...)
	if err := r.Run(ctx); err != nil {
		return fail(err)
	}
	return 0
}

func childPackages(dir string) []string {
	var out []string
	for _, glob := range []string{"*.deb", "*.rpm"} {
		m, _ := filepath.Glob(filepath.Join(dir, glob))
		out = append(out, m...)
	}
	return out
}

// realOptions are the options of a run on real time, as a separate
// process runs it (short holds: the simulation's transitions are short).
func (e *upgradeEnv) realOptions(target string) []upgrade.Option {
	opts := []upgrade.Option{upgrade.WithTarget(semver.MustParse(target)),
		upgrade.WithBackup(upgrade.Backup{Command: "mkdir /tmp/chefha-backup", Check: "test -e /tmp/chefha-backup"}),
		upgrade.WithGateTimings(150*time.Millisecond, 20*time.Second, 25*time.Millisecond)}
	for _, p := range e.packages {
		opts = append(opts, upgrade.WithPackage(p))
	}
	return opts
}

// Killed (SIGKILL) right after each step's work succeeded and before the
// journal recorded it, for every step, then resumed by another process:
// every effect happens once, and the cluster ends upgraded.
func TestResumeAfterKillBeforeJournal(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	probe := newUpgradeEnv(t, "1.4.6", 1)
	for _, step := range probe.plan(t, "11.1.8").Steps {
		t.Run(strings.ReplaceAll(step.ID, "/", "_"), func(t *testing.T) {
			t.Parallel()
			sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 1, TransitionTime: 50 * time.Millisecond})
			require.NoError(t, err)
			defer sim.Close()
			dir := t.TempDir()
			_, err = sim.WriteSSHConfig(dir)
			require.NoError(t, err)
			cl, err := sim.Dial(context.Background())
			require.NoError(t, err)
			defer cl.Close()
			e := &upgradeEnv{sim: sim, cl: cl, dir: dir, packages: writePackages(t, dir)}
			rb, err := sim.Bootstrap().ReadFile(cluster.TopologyPath)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "private-chef.rb"), []byte(rb), 0o644))

			cmd := exec.Command(self, "-test.run=^$")
			cmd.Env = append(os.Environ(), "CHEFHA_RUNNER_CHILD="+dir, "CHEFHA_STALL_STEP="+step.ID)
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			killed := false
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if sc.Text() == "KILLME" {
					require.NoError(t, cmd.Process.Kill())
					killed = true
					break
				}
			}
			cmd.Wait()
			require.True(t, killed, "the child reached the journal write of %s", step.ID)

			var events []upgrade.Event
			r := upgrade.NewRunner(cl, append(e.realOptions("11.1.8"),
				upgrade.WithJournal(upgrade.FileJournal{Path: filepath.Join(dir, "journal.json")}),
				upgrade.WithEvents(func(ev upgrade.Event) { events = append(events, ev) }))...)
			require.NoError(t, r.Run(context.Background()), "resumed after kill -9")
			assertEachEffectOnce(t, e)
			e.assertUpgraded(t, "11.1.8", "1.13")
			took := false
			for _, ev := range events {
				took = took || ev.Kind == upgrade.EventFinding && strings.Contains(ev.Message, "took over the lock of a run that is gone: pid "+strconv.Itoa(cmd.Process.Pid))
			}
			assert.True(t, took, "the dead child's locks are taken over, naming it")
		})
	}
}
