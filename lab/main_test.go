package lab_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chefha/chefha/internal/peer"
	"github.com/chefha/chefha/lab"
	"github.com/stretchr/testify/require"
)

// binDir holds the examples the tests build, once for all of them (made
// on the first build: a test binary that is a node or a leftover lab's
// owner builds nothing).
var binDir struct {
	once sync.Once
	path string
	err  error
}

// The test binary is also the lab's node program: package lab's init takes
// it over when a node starts it in a role, before TestMain.
func TestMain(m *testing.M) {
	// Every test runs at once, unless -test.parallel says otherwise: how
	// many labs live at a time is the admission's (labAdmission), which
	// also picks who goes first.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "32")
	}
	code := m.Run()
	if err := closeShared(); err != nil {
		fmt.Fprintln(os.Stderr, "closing the shared labs:", err)
		code = 1
	}
	if binDir.path != "" {
		os.RemoveAll(binDir.path)
	}
	os.Exit(code)
}

// sharedLabs are the labs read-only tests share, one per version: started
// by the first test that asks (admitted like any lab: its start is what
// loads the machine), and closed once every test has run. A lab costs
// some 15 s of real keepalived elections and service starts; a test that
// only reads it need not pay that again, and an idle lab's processes
// sleep.
var sharedLabs struct {
	mu   sync.Mutex
	labs map[string]*shared
}

type shared struct {
	once sync.Once
	l    *lab.Lab
	err  error
}

// sharedLab returns the healthy lab of version that read-only tests share.
// A test that uses it must change nothing on it.
func sharedLab(t *testing.T, version string) *lab.Lab {
	t.Helper()
	needLab(t)
	sharedLabs.mu.Lock()
	if sharedLabs.labs == nil {
		sharedLabs.labs = map[string]*shared{}
	}
	s := sharedLabs.labs[version]
	if s == nil {
		s = &shared{}
		sharedLabs.labs[version] = s
	}
	sharedLabs.mu.Unlock()
	s.once.Do(func() {
		labAdmission.acquire(1, len(longest)+1) // before any other: several tests wait on it
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		start := time.Now()
		s.l, s.err = lab.Start(ctx, lab.Spec{Version: version, Program: nodeProgram(t)})
		labAdmission.release(1)
		if s.err != nil {
			return
		}
		t.Logf("shared %s lab on %s up in %s", version, s.l.Subnet, time.Since(start).Round(time.Millisecond))
	})
	require.NoError(t, s.err, "the shared %s lab", version)
	return s.l
}

// closeShared closes the shared labs.
func closeShared() error {
	sharedLabs.mu.Lock()
	defer sharedLabs.mu.Unlock()
	var errs []error
	for _, s := range sharedLabs.labs {
		if s.l != nil {
			errs = append(errs, s.l.Close())
		}
	}
	return errors.Join(errs...)
}

var builds sync.Map // package directory → *build

type build struct {
	once sync.Once
	path string
	out  []byte
	err  error
}

// buildOnce builds the main package in dir (relative to this package) once
// per test run, without -race whatever this binary was built with, with env
// added to go build's environment, and returns the binary's path.
func buildOnce(t *testing.T, dir string, env ...string) string {
	t.Helper()
	binDir.once.Do(func() { binDir.path, binDir.err = os.MkdirTemp("", "chefha-lab-test-") })
	require.NoError(t, binDir.err)
	v, _ := builds.LoadOrStore(dir, &build{})
	b := v.(*build)
	b.once.Do(func() {
		b.path = filepath.Join(binDir.path, filepath.Base(dir))
		cmd := exec.Command("go", "build", "-o", b.path, dir)
		cmd.Env = append(os.Environ(), env...)
		b.out, b.err = cmd.CombinedOutput()
	})
	require.NoError(t, b.err, "go build %s: %s", dir, b.out)
	return b.path
}

// buildExample builds examples/NAME once per test run.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	return buildOnce(t, "../examples/"+name)
}

// nodeProgram is the labs' node program, built once without -race: the
// nodes run it for every command, and the race detector has the library
// under test to watch, not the stand-in nodes. It is built without cgo,
// statically: the labs start it some 5,000 times, and each start of the
// dynamically linked one also paid for ld.so and glibc's start (about a
// millisecond of its 6.5 here).
func nodeProgram(t *testing.T) string {
	t.Helper()
	return buildOnce(t, "./cmd/chefha-labnode", "CGO_ENABLED=0")
}

// labAdmission lets a few labs live at a time, however many tests run.
// A lab's real programs mostly wait (VRRP adverts, sv's polls, the
// runner's holds), but each lab also runs some 70 processes whose starts
// and sv calls need the CPU: on the 2-core machines the tests run on, more
// labs at once than this only make every lab slower, and their fixed
// waits (keepalived's, sv's) begin to fail.
var labAdmission = newAdmission(labSlots())

// defaultLabSlots: on 2 cores shared with the rest of make test, with
// the node program built without -race (a lab start costs some 3 CPU-s,
// mostly sv's and cluster.sh's waits), 10 labs at a time took the package
// 113–124 s alone where 6 took 140–146 s.
const defaultLabSlots = 10

// labSlots is CHEFHA_LAB_SLOTS when set (a machine with more cores may
// take more), else defaultLabSlots.
func labSlots() int {
	if n, err := strconv.Atoi(os.Getenv("CHEFHA_LAB_SLOTS")); err == nil && n > 0 {
		return n
	}
	return defaultLabSlots
}

// longest are the tests that take longest, first: they are admitted
// before any other, so that the package takes about as long as its
// longest test rather than that test after all the others.
var longest = []string{"TestLabUpgradeKilledAndResumed", "TestLabRecoverRunitExample", "TestLabFailoverWatched", "TestLabPackagingClusterSh", "TestLabSideBySide", "TestLabKnobsState", "TestLabKnobsUpgradePath"}

// admission is a counting semaphore whose waiters are served by
// priority, then in arrival order. It opens once the first waiters have
// come: the parallel tests all start at the same moment, and the
// priorities count only among those waiting together.
type admission struct {
	mu      sync.Mutex
	cap     int
	free    int
	waiting []*admWaiter
	seq     int
	open    bool
	opener  *time.Timer
}

// admissionQuiet is how long no test may have come for the admission to
// open.
const admissionQuiet = 200 * time.Millisecond

type admWaiter struct {
	n, prio, seq int
	ready        chan struct{}
}

func newAdmission(n int) *admission { return &admission{cap: n, free: n} }

// admit waits until n slots are free for t (the labs it starts) and
// returns them when t ends.
func admit(t *testing.T, n int) {
	t.Helper()
	prio := 0
	root, _, _ := strings.Cut(t.Name(), "/")
	if i := slices.Index(longest, root); i >= 0 {
		prio = len(longest) - i
	}
	start := time.Now()
	labAdmission.acquire(n, prio)
	if d := time.Since(start); d > time.Second {
		t.Logf("admitted after %s", d.Round(time.Millisecond))
	}
	t.Cleanup(func() { labAdmission.release(n) })
}

func (a *admission) acquire(n, prio int) {
	a.mu.Lock()
	n = min(n, a.cap) // more than there are: alone
	w := &admWaiter{n: n, prio: prio, seq: a.seq, ready: make(chan struct{})}
	a.seq++
	a.waiting = append(a.waiting, w)
	if a.opener == nil {
		a.opener = time.AfterFunc(admissionQuiet, a.opening)
	} else if !a.open {
		a.opener.Reset(admissionQuiet)
	}
	a.wake()
	a.mu.Unlock()
	<-w.ready
}

func (a *admission) opening() {
	a.mu.Lock()
	a.open = true
	a.wake()
	a.mu.Unlock()
}

func (a *admission) release(n int) {
	a.mu.Lock()
	a.free += min(n, a.cap)
	a.wake()
	a.mu.Unlock()
}

// wake admits the first waiters, in order, while their slots are free.
// The caller holds a.mu.
func (a *admission) wake() {
	if !a.open {
		return
	}
	slices.SortStableFunc(a.waiting, func(x, y *admWaiter) int {
		if x.prio != y.prio {
			return y.prio - x.prio
		}
		return x.seq - y.seq
	})
	for len(a.waiting) > 0 && a.waiting[0].n <= a.free {
		w := a.waiting[0]
		a.waiting = a.waiting[1:]
		a.free -= w.n
		close(w.ready)
	}
}

func needLab(t *testing.T) {
	t.Helper()
	if err := lab.Check(); errors.Is(err, lab.ErrUnsupported) {
		peer.Missing(t, err.Error()+" (make test as root installs them)")
	}
}

// startLabs starts a lab per spec, all at once once admitted, and closes
// them when t ends.
func startLabs(t *testing.T, specs ...lab.Spec) []*lab.Lab {
	t.Helper()
	needLab(t)
	admit(t, len(specs))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	labs := make([]*lab.Lab, len(specs))
	errs := make([]error, len(specs))
	took := make([]time.Duration, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		if s.Program == "" {
			s.Program = nodeProgram(t)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			labs[i], errs[i] = lab.Start(ctx, s)
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	for i, l := range labs {
		if l == nil {
			continue
		}
		t.Logf("lab of %d nodes on %s up in %s", len(l.Nodes), l.Subnet, took[i].Round(time.Millisecond))
		t.Cleanup(func() {
			if t.Failed() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				for _, n := range l.Nodes {
					b, _ := os.ReadFile(n.Root("/var/log/opscode/keepalived/cluster.log"))
					ps, _ := n.Exec(ctx, "ps", "-eo", "pid,ppid,stat,args")
					t.Logf("%s cluster.log:\n%s\n%s ps:\n%s", n.Name, b, n.Name, ps)
				}
			}
			start := time.Now()
			require.NoError(t, l.Close())
			t.Logf("lab on %s closed in %s", l.Subnet, time.Since(start).Round(time.Millisecond))
		})
	}
	require.NoError(t, errors.Join(errs...))
	return labs
}

func startLab(t *testing.T, spec lab.Spec) *lab.Lab {
	t.Helper()
	return startLabs(t, spec)[0]
}
