package lab_test

import (
	"context"
	"errors"
	"flag"
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
	if binDir.path != "" {
		os.RemoveAll(binDir.path)
	}
	os.Exit(code)
}

var builds sync.Map // example name → *build

type build struct {
	once sync.Once
	path string
	out  []byte
	err  error
}

// buildExample builds examples/NAME once per test run and returns the
// binary's path.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	binDir.once.Do(func() { binDir.path, binDir.err = os.MkdirTemp("", "chefha-lab-test-") })
	require.NoError(t, binDir.err)
	v, _ := builds.LoadOrStore(name, &build{})
	b := v.(*build)
	b.once.Do(func() {
		b.path = filepath.Join(binDir.path, name)
		b.out, b.err = exec.Command("go", "build", "-o", b.path, "../examples/"+name).CombinedOutput()
	})
	require.NoError(t, b.err, "go build ../examples/%s: %s", name, b.out)
	return b.path
}

// labAdmission lets a few labs live at a time, however many tests run.
// A lab's real programs mostly wait (VRRP adverts, sv's polls, the
// runner's holds), but each lab also runs some 70 processes whose starts
// and sv calls need the CPU: on the 2-core machines the tests run on, more
// labs at once than this only make every lab slower, and their fixed
// waits (keepalived's, sv's) begin to fail.
var labAdmission = newAdmission(labSlots())

// defaultLabSlots: on 2 cores shared with other work, the package took
// 306 s with 4 slots, 259 s with 6 and 253 s with 8, its longest test
// (the upgrade, 145 s on an idle machine) the slower the more labs run
// beside it. 6 is about as fast as 8 with less contention.
const defaultLabSlots = 6

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
var longest = []string{"TestLabUpgradeKilledAndResumed", "TestLabFailoverWatched", "TestLabPackagingClusterSh", "TestLabSideBySide", "TestLabKnobsState", "TestLabKnobsUpgradePath"}

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
				for _, n := range l.Nodes {
					b, _ := os.ReadFile(n.Root("/var/log/opscode/keepalived/cluster.log"))
					t.Logf("%s cluster.log:\n%s", n.Name, b)
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
