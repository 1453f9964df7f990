package main

import (
	"bufio"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The upgrade survives SIGKILL anywhere: a real process of this command
// runs the upgrade of a cluster that outlives it (a simulation in this
// test's process, reached over SSH), is killed at random points (after a
// random number of actions it sent or saw finish: in a command, between
// two, before a step is recorded, in a gate) and resumed, until it ends. Then every node is
// upgraded, and each effect happened once: one package install and one
// private-chef-ctl upgrade per node. The seed is logged: a failure
// replays with it (CHEFHA_SIGKILL_SEED).
func TestSIGKILLLoop(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("optional: -short: builds this command and runs it a dozen times")
	}
	bin := buildSelf(t)
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("CHEFHA_SIGKILL_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (CHEFHA_SIGKILL_SEED replays it)", seed)
	rnd := rand.New(rand.NewPCG(seed, seed))
	sim, rb, conf := startNamedSim(t, clustertest.Options{Version: "1.4.6", Frontends: 2})
	dir := t.TempDir()
	pkg, err := clustertest.WritePackage(dir, "debian", "11.1.8")
	require.NoError(t, err)
	args := []string{"-config", rb, "-ssh-config", conf, "-package", pkg, "-backup-waived", "test", "-hold", "20ms",
		"-journal", filepath.Join(dir, "j.json"), "-apply", "-without-rehearsal", "-o", "json"}

	kills := 0
	for attempt := 0; ; attempt++ {
		require.Less(t, attempt, 40, "the upgrade never ended")
		a := args
		if attempt > 0 {
			a = append(a, "-resume")
		}
		cmd := exec.Command(bin, a...)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		killAt := 1 + rnd.IntN(30) // after this many actions sent or finished
		if kills >= 10 {
			killAt = 1 << 30 // enough: let it finish
		}
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		lines, killed := 0, false
		for sc.Scan() {
			if !strings.Contains(sc.Text(), `"kind":"action`) {
				continue
			}
			if lines++; lines == killAt {
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				killed = true
				break
			}
		}
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
		t.Logf("run %d: %v (%d events): %s", attempt+1, werr, lines, stderr.String())
		// A run killed inside a detached command may find it still running
		// and stop: the next resume waits for it.
		if ee, ok := werr.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("run %d ended with %v", attempt+1, werr)
		}
	}
	assert.GreaterOrEqual(t, kills, 1)
	for name, n := range sim.Nodes {
		n.Lock(func(n *clustertest.Node) {
			assert.Equal(t, "11.1.8", n.Package(), name)
			log := strings.Join(n.Log(), "\n")
			assert.Equal(t, 1, strings.Count(log, "private-chef-ctl upgrade"), "%s: upgraded once:\n%s", name, log)
			assert.Equal(t, 1, strings.Count(log, "dpkg -i"), "%s: installed once", name)
			assert.Empty(t, n.Harm(), name)
		})
	}
}

// buildSelf builds this command for tests that run it as a process.
func buildSelf(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "upgrade")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// Two processes of this command on one cluster, each with its own
// journal: while the first runs, the second is refused as locked, names
// the node and the owner, and acts on nothing; the first ends its run.
func TestTwoProcessesOneLock(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("optional: -short: builds this command and runs it twice")
	}
	bin := buildSelf(t)
	sim, rb, conf := startNamedSim(t, clustertest.Options{Version: "1.4.6", Frontends: 1})
	dir := t.TempDir()
	pkg, err := clustertest.WritePackage(dir, "debian", "11.1.8")
	require.NoError(t, err)
	args := func(journal string) []string {
		return []string{"-config", rb, "-ssh-config", conf, "-package", pkg, "-backup-waived", "test", "-hold", "300ms",
			"-journal", filepath.Join(dir, journal), "-apply", "-without-rehearsal", "-o", "json"}
	}
	a := exec.Command(bin, args("a.json")...)
	stdout, err := a.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, a.Start())
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && !strings.Contains(sc.Text(), `"kind":"action"`) {
	}
	// A holds its locks from before its first action to its end, and
	// its journal's copy on the bootstrap is there: B is refused as a new
	// run, and, told to resume, as locked.
	b := func(more ...string) (int, string) {
		var bout, berr strings.Builder
		b := exec.Command(bin, append(args("b.json"), more...)...)
		b.Stdout, b.Stderr = &bout, &berr
		err := b.Run()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%s%s", bout.String(), berr.String())
		assert.NotContains(t, bout.String(), `"kind":"action"`, "B acted on nothing")
		lines := strings.Split(strings.TrimSpace(bout.String()), "\n")
		return ee.ExitCode(), lines[len(lines)-1]
	}
	code, last := b()
	assert.Equal(t, 2, code)
	assert.Contains(t, last, `"type":"journal-present"`)
	assert.Contains(t, last, "holds a run that has not finished: one running now")
	code, last = b("-resume")
	assert.Equal(t, 1, code)
	assert.Contains(t, last, `"outcome":"refused"`)
	assert.Contains(t, last, `"type":"locked"`)
	for sc.Scan() {
	}
	require.NoError(t, a.Wait(), "A ends its run")
	for name, n := range sim.Nodes {
		n.Lock(func(n *clustertest.Node) {
			assert.Equal(t, "11.1.8", n.Package(), name)
			assert.Equal(t, 1, strings.Count(strings.Join(n.Log(), "\n"), "private-chef-ctl upgrade"), "%s: upgraded once", name)
		})
	}
}

// The lock of a run in another PID namespace (a container, or
// `unshare --pid`: its PID is 1 there) is not taken for a dead run's by a
// runner that looks the PID up in its own /proc: the owner's machine
// (machine id, boot id, PID namespace) differs, so the lock is judged by
// its age on the node's clock, and a resume from another journal is
// refused as locked while A runs.
func TestALockHeldFromAnotherPIDNamespace(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("optional: -short: builds this command and runs it twice")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		peer.Missing(t, "needs unshare (Debian's util-linux)")
	}
	if os.Geteuid() != 0 {
		peer.Optional(t, "needs root to make a PID namespace")
	}
	bin := buildSelf(t)
	sim, rb, conf := startNamedSim(t, clustertest.Options{Version: "1.4.6", Frontends: 1})
	dir := t.TempDir()
	pkg, err := clustertest.WritePackage(dir, "debian", "11.1.8")
	require.NoError(t, err)
	args := func(journal string) []string {
		return []string{"-config", rb, "-ssh-config", conf, "-package", pkg, "-backup-waived", "test", "-hold", "300ms",
			"-journal", filepath.Join(dir, journal), "-apply", "-without-rehearsal", "-o", "json"}
	}
	a := exec.Command(unshare, append([]string{"--pid", "--fork", "--mount-proc", bin}, args("a.json")...)...)
	stdout, err := a.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, a.Start())
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && !strings.Contains(sc.Text(), `"kind":"action"`) {
	}
	var bout, berr strings.Builder
	b := exec.Command(bin, append(args("b.json"), "-resume")...)
	b.Stdout, b.Stderr = &bout, &berr
	var ee *exec.ExitError
	require.ErrorAs(t, b.Run(), &ee, "%s%s", bout.String(), berr.String())
	assert.Equal(t, 1, ee.ExitCode())
	assert.Contains(t, bout.String(), `"type":"locked"`, "%s", berr.String())
	assert.NotContains(t, bout.String(), `"kind":"action"`, "B acted on nothing")
	for sc.Scan() {
	}
	require.NoError(t, a.Wait(), "A ends its run")
	sim.Bootstrap().Lock(func(n *clustertest.Node) {
		assert.Equal(t, 1, strings.Count(strings.Join(n.Log(), "\n"), "private-chef-ctl upgrade"), "upgraded once")
	})
}
