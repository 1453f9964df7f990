package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// processRun is this command built, and a simulated cluster that outlives
// its processes (in this test's process, reached over SSH as a named
// cluster), for tests that run the command as real processes.
type processRun struct {
	bin  string
	sim  *clustertest.Cluster
	dir  string
	base []string // every run's arguments but -journal
}

// built is this command, built once for the tests that run it as
// processes; TestMain removes it.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func newProcessRun(t *testing.T, frontends int, hold string) *processRun {
	t.Helper()
	if testing.Short() {
		peer.Optional(t, "-short: builds this command and runs it as processes")
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "chefha-upgrade-bin-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "upgrade")
		if out, err := exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %w: %s", err, out)
		}
	})
	require.NoError(t, built.err)
	bin := built.bin
	n := startNamed(t, clustertest.Options{Version: "1.4.6", Frontends: frontends})
	return &processRun{bin: bin, sim: n.Sim, dir: n.Dir, base: []string{"-config", n.RB, "-ssh-config", n.Conf, "-package", n.Pkg,
		"-backup-waived", "test", "-hold", hold, "-apply", "-without-rehearsal", "-o", "json"}}
}

// args are a run's arguments with its own journal.
func (p *processRun) args(journal string, more ...string) []string {
	return append(append(append([]string{}, p.base...), "-journal", filepath.Join(p.dir, journal)), more...)
}

// actions starts cmd and returns its JSON events, one action event
// (sent or finished) at a time; the rest of its output is drained when
// the caller stops.
func actions(t *testing.T, cmd *exec.Cmd) (next func() bool, drain func()) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	next = func() bool {
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"kind":"action`) {
				return true
			}
		}
		return false
	}
	return next, func() { io.Copy(io.Discard, stdout) }
}

// assertUpgradedOnce checks every node reached the target with each
// effect once.
func (p *processRun) assertUpgradedOnce(t *testing.T) {
	t.Helper()
	for name, n := range p.sim.Nodes {
		n.Lock(func(n *clustertest.Node) {
			assert.Equal(t, "11.1.8", n.Package(), name)
			log := strings.Join(n.Log(), "\n")
			assert.Equal(t, 1, strings.Count(log, "private-chef-ctl upgrade"), "%s: upgraded once:\n%s", name, log)
			assert.Equal(t, 1, strings.Count(log, "dpkg -i"), "%s: installed once", name)
			assert.Empty(t, n.Harm(), name)
		})
	}
}

// The upgrade survives SIGKILL anywhere: a real process of this command
// runs the upgrade, is killed at random points (after a random number of
// actions it sent or saw finish: in a command, between two, before a step
// is recorded, in a gate) and resumed, until it ends. Then every node is
// upgraded, and each effect happened once: one package install and one
// private-chef-ctl upgrade per node. The seed is logged: a failure
// replays with it (CHEFHA_SIGKILL_SEED).
func TestSIGKILLLoop(t *testing.T) {
	t.Parallel()
	p := newProcessRun(t, 2, "20ms")
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("CHEFHA_SIGKILL_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (CHEFHA_SIGKILL_SEED replays it)", seed)
	rnd := rand.New(rand.NewPCG(seed, seed))
	kills := 0
	for attempt := 0; ; attempt++ {
		require.Less(t, attempt, 40, "the upgrade never ended")
		var more []string
		if attempt > 0 {
			more = append(more, "-resume")
		}
		cmd := exec.Command(p.bin, p.args("j.json", more...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		next, drain := actions(t, cmd)
		killAt := 1 + rnd.IntN(30) // after this many actions sent or finished
		if kills >= 10 {
			killAt = 1 << 30 // enough: let it finish
		}
		seen, killed := 0, false
		for next() {
			if seen++; seen == killAt {
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				killed = true
				break
			}
		}
		drain()
		werr := cmd.Wait()
		if killed {
			kills++
			t.Logf("run %d: SIGKILL after %d action events", attempt+1, killAt)
			continue
		}
		if werr == nil {
			t.Logf("run %d: done after %d kills", attempt+1, kills)
			break
		}
		t.Logf("run %d: %v (%d action events): %s", attempt+1, werr, seen, stderr.String())
		// A run killed inside a detached command may find it still running
		// and stop: the next resume waits for it.
		if ee, ok := werr.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("run %d ended with %v", attempt+1, werr)
		}
	}
	assert.GreaterOrEqual(t, kills, 1)
	p.assertUpgradedOnce(t)
}

// refusedWhileRunning runs B beside the running A and returns B's exit
// code and last JSON line; B must act on nothing.
func (p *processRun) refusedWhileRunning(t *testing.T, more ...string) (int, string) {
	t.Helper()
	var out, errb strings.Builder
	b := exec.Command(p.bin, p.args("b.json", more...)...)
	b.Stdout, b.Stderr = &out, &errb
	var ee *exec.ExitError
	require.ErrorAs(t, b.Run(), &ee, "%s%s", out.String(), errb.String())
	assert.NotContains(t, out.String(), `"kind":"action"`, "B acted on nothing")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return ee.ExitCode(), lines[len(lines)-1]
}

// Two processes of this command on one cluster, each with its own
// journal: while the first runs (it holds its locks from before its first
// action to its end, and its journal's copy is on the bootstrap), the
// second is refused as a new run and, told to resume, as locked; it acts
// on nothing, and the first ends its run.
func TestTwoProcessesOneLock(t *testing.T) {
	t.Parallel()
	p := newProcessRun(t, 1, "300ms")
	a := exec.Command(p.bin, p.args("a.json")...)
	next, drain := actions(t, a)
	require.True(t, next(), "A acts")
	code, last := p.refusedWhileRunning(t)
	assert.Equal(t, 2, code)
	assert.Contains(t, last, `"type":"journal-present"`)
	assert.Contains(t, last, "holds a run that has not finished: one running now")
	code, last = p.refusedWhileRunning(t, "-resume")
	assert.Equal(t, 1, code)
	assert.Contains(t, last, `"outcome":"refused"`)
	assert.Contains(t, last, `"type":"locked"`)
	drain()
	require.NoError(t, a.Wait(), "A ends its run")
	p.assertUpgradedOnce(t)
}

// The lock of a run in another PID namespace (a container, or
// `unshare --pid`: its PID is 1 there) is not taken for a dead run's by a
// runner that looks the PID up in its own /proc: the owner's machine
// (machine id, boot id, PID namespace) differs, so the lock is judged by
// its age on the node's clock, and a resume from another journal is
// refused as locked while A runs.
func TestALockHeldFromAnotherPIDNamespace(t *testing.T) {
	t.Parallel()
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		peer.Missing(t, "needs unshare (Debian's util-linux)")
	}
	if os.Geteuid() != 0 {
		peer.Optional(t, "needs root to make a PID namespace")
	}
	p := newProcessRun(t, 1, "300ms")
	a := exec.Command(unshare, append([]string{"--pid", "--fork", "--mount-proc", p.bin}, p.args("a.json")...)...)
	next, drain := actions(t, a)
	require.True(t, next(), "A acts")
	code, last := p.refusedWhileRunning(t, "-resume")
	assert.Equal(t, 1, code)
	assert.Contains(t, last, `"type":"locked"`)
	drain()
	require.NoError(t, a.Wait(), "A ends its run")
	p.assertUpgradedOnce(t)
}
