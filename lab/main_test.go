package lab_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
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
	// Lab tests wait on real timers (VRRP adverts, sv's waits, the
	// runner's holds), not on the CPU: unless -test.parallel says
	// otherwise, let more of them run at once than GOMAXPROCS.
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

func needLab(t *testing.T) {
	t.Helper()
	if err := lab.Check(); errors.Is(err, lab.ErrUnsupported) {
		peer.Missing(t, err.Error()+" (make test as root installs them)")
	}
}

// startLabs starts a lab per spec, all at once, and closes them when t
// ends.
func startLabs(t *testing.T, specs ...lab.Spec) []*lab.Lab {
	t.Helper()
	needLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
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
