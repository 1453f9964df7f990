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

// Cancelled in the middle of each step with two actions or more, one
// after the other on one cluster (each run resumes the one cancelled
// before it, and is cancelled in the next such step), then resumed to the
// end: every effect happens once and the cluster ends upgraded.
func TestResumeAfterCancelMidStep(t *testing.T) {
	t.Parallel()
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
	e := newUpgradeEnv(t, "1.4.6", 1)
	cancelled := 0
	for _, step := range steps {
		if perStep[step] < 2 {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := 0
		r := e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
			if ev.Kind == upgrade.EventActionDone && ev.Step == step {
				if done++; done == perStep[step]/2 {
					cancel()
				}
			}
		}))
		err := r.Run(ctx)
		cancel()
		require.Error(t, err, "the run cancelled in the middle of %s", step)
		require.Equal(t, perStep[step]/2, done, "cancelled after %d of %s's %d actions", perStep[step]/2, step, perStep[step])
		cancelled++
	}
	require.GreaterOrEqual(t, cancelled, 5, "steps with two actions or more")
	require.NoError(t, e.runner("11.1.8", nil).Run(context.Background()), "resumed")
	assertEachEffectOnce(t, e)
	e.assertUpgraded(t, "11.1.8", "1.13")
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
	opts := []upgrade.Option{upgrade.WithTarget(target),
		upgrade.WithBackup(upgrade.Backup{Command: "mkdir /tmp/chefha-backup", Check: "test -e /tmp/chefha-backup"}),
		upgrade.WithGateTimings(150*time.Millisecond, 20*time.Second, 25*time.Millisecond)}
	for _, p := range e.packages {
		opts = append(opts, upgrade.WithPackage(p))
	}
	return opts
}

// Killed (SIGKILL) right after each step's work succeeded and before the
// journal recorded it, for every step, each time by a new process that
// resumes the one killed before it, then resumed to the end: every effect
// happens once, each process takes over its dead predecessor's locks, and
// the cluster ends upgraded.
func TestResumeAfterKillBeforeJournal(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
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
	plan, err := upgrade.NewRunner(cl, e.realOptions("11.1.8")...).Plan(context.Background())
	require.NoError(t, err)

	tookOver := func(events []upgrade.Event, pid int) bool {
		for _, ev := range events {
			if ev.Kind == upgrade.EventFinding && strings.Contains(ev.Message, "took over the lock of a run that is gone: pid "+strconv.Itoa(pid)) {
				return true
			}
		}
		return false
	}
	prev := 0 // the pid of the process killed last
	for _, step := range plan.Steps {
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), "CHEFHA_RUNNER_CHILD="+dir, "CHEFHA_STALL_STEP="+step.ID)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		killed := false
		var events []upgrade.Event
		var said []string
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if sc.Text() == "KILLME" {
				require.NoError(t, cmd.Process.Kill())
				killed = true
				break
			}
			var ev upgrade.Event
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				events = append(events, ev)
			} else {
				said = append(said, sc.Text())
			}
		}
		cmd.Wait()
		require.True(t, killed, "the child stopped at the journal write of %s; it said:\n%s", step.ID, strings.Join(said, "\n"))
		if prev != 0 {
			assert.True(t, tookOver(events, prev), "the run stopped at %s took over the locks of pid %d", step.ID, prev)
		}
		prev = cmd.Process.Pid
	}

	var events []upgrade.Event
	r := upgrade.NewRunner(cl, append(e.realOptions("11.1.8"),
		upgrade.WithJournal(upgrade.FileJournal{Path: filepath.Join(dir, "journal.json")}),
		upgrade.WithEvents(func(ev upgrade.Event) { events = append(events, ev) }))...)
	require.NoError(t, r.Run(context.Background()), "resumed after kill -9")
	assertEachEffectOnce(t, e)
	e.assertUpgraded(t, "11.1.8", "1.13")
	assert.True(t, tookOver(events, prev), "the dead child's locks are taken over, naming it")
}
