package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/peer"
	"github.com/chefha/chefha/lab"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/upgrade"
)

// The test binary is also the lab's node program: package lab's init takes
// it over when a node starts it in a role, before TestMain runs.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	shared.close()
	shared.summary(os.Stdout)
	os.Exit(code)
}

// shellMode says what the nodes' login shell reads before it runs a
// command. sshd starts every command through the login user's shell, and
// Debian's bash reads ~/.bashrc when sshd starts it, even for a
// non-interactive command: on this machine root's .bashrc runs
// `pyenv init`, which costs both tools alike on every SSH command and
// would drown chefha's own time.
type shellMode string

const (
	// stockShell leaves the login user's .bashrc as the machine has it.
	stockShell shellMode = "bashrc"
	// cleanShell masks it inside each node's mount namespace (a bind
	// mount of /dev/null, private to the node: the host's file is
	// untouched), as on a server whose root has a stock .bashrc.
	cleanShell shellMode = "clean"
)

var shells = []shellMode{stockShell, cleanShell}

// Connection states. cold: every op connects afresh (chefha dials; Ansible
// starts with no ControlPersist master). warm: the connections of an
// earlier op are reused (chefha's dialled cluster; Ansible's masters, kept
// 60 s by its default ControlPersist=60s).
const (
	cold = "cold"
	warm = "warm"
)

var conns = []string{cold, warm}

// target is the version every pre-flight checks the 1.4.6 lab against.
var target = mustVersion("11.1.8")

func mustVersion(s string) *semver.Version {
	v, err := migration.ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// suite is the one lab every benchmark of a run shares, and what they
// measured, for the summary TestMain prints.
type suite struct {
	once    sync.Once
	lab     *lab.Lab
	err     error
	took    time.Duration
	load    string              // the load average when the lab started
	scripts map[string][]string // node → the argv chefha's Gather runs there
	rcFile  string              // the login user's .bashrc ("" when there is none)
	tmp     string              // 0700: inventory, Ansible's home, control sockets

	mu      sync.Mutex
	shell   shellMode
	results map[string][]sample // benchmark name → each call's time per op
	ratios  map[string][]pairRatio
	cleanup []func()
}

var shared = &suite{results: map[string][]sample{}, ratios: map[string][]pairRatio{}, shell: stockShell}

// sample is one call of a benchmark function: its b.N and mean time per op.
type sample struct {
	n   int
	per time.Duration
}

// start starts the lab on first use (5 nodes: 2 back ends, 3 front ends)
// and records the gather script chefha runs on each node.
func (s *suite) start(b *testing.B) *lab.Lab {
	b.Helper()
	if err := lab.Check(); err != nil {
		if errors.Is(err, lab.ErrUnsupported) {
			peer.Missing(b, err.Error()+" (as root, `make peers` installs the Debian packages named)")
		}
		b.Fatal(err)
	}
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if s.tmp, s.err = os.MkdirTemp("", "chefha-bench-"); s.err != nil {
			return
		}
		s.load = loadAvg()
		start := time.Now()
		s.lab, s.err = lab.Start(ctx, lab.Spec{Version: "1.4.6", Frontends: 3})
		s.took = time.Since(start)
		if s.err != nil {
			return
		}
		if u, err := user.Lookup("root"); err == nil {
			if rc := filepath.Join(u.HomeDir, ".bashrc"); fileExists(rc) {
				s.rcFile = rc
			}
		}
		s.scripts, s.err = recordScripts(ctx, s.lab)
	})
	if s.err != nil {
		b.Fatalf("lab: %v", s.err)
	}
	return s.lab
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// recorder is a node that remembers the last command it ran.
type recorder struct {
	cluster.Node
	mu  sync.Mutex
	cmd cluster.Cmd
}

func (r *recorder) Run(ctx context.Context, c cluster.Cmd) (cluster.Result, error) {
	r.mu.Lock()
	r.cmd = c
	r.mu.Unlock()
	return r.Node.Run(ctx, c)
}

// recordScripts runs upgrade.Gather once over recording nodes and returns
// the argv it ran on each: chefha's own gather script, byte for byte (its
// section markers carry the token drawn for that read), for Ansible to run.
func recordScripts(ctx context.Context, l *lab.Lab) (map[string][]string, error) {
	cl, err := l.Dial(ctx)
	if err != nil {
		cl.Close()
		return nil, err
	}
	defer cl.Close()
	recs := map[string]cluster.Node{}
	for _, srv := range l.Topology.Servers {
		n, _ := cl.Node(srv.Name)
		recs[srv.Name] = &recorder{Node: n}
	}
	rc, err := cluster.New(l.Topology, recs)
	if err != nil {
		return nil, err
	}
	f := upgrade.Gather(ctx, rc)
	out := map[string][]string{}
	for _, nf := range f.Nodes {
		if nf.Err != "" {
			return nil, fmt.Errorf("gather %s: %s", nf.Node, nf.Err)
		}
		c := recs[nf.Node].(*recorder).cmd
		if len(c.Argv) != 3 || c.Argv[0] != "sh" || c.Argv[1] != "-c" {
			return nil, fmt.Errorf("gather ran %q on %s, not one sh -c script", c.Argv, nf.Node)
		}
		out[nf.Node] = c.Argv
	}
	return out, nil
}

// setShell puts every node's login shell in mode m.
func (s *suite) setShell(b *testing.B, m shellMode) {
	b.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shell == m {
		return
	}
	if s.rcFile == "" {
		// Nothing to mask: both modes are the same.
		s.shell = m
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before, err := os.ReadFile(s.rcFile)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range s.lab.Nodes {
		argv := []string{"mount", "--bind", "/dev/null", s.rcFile}
		if m == stockShell {
			argv = []string{"umount", s.rcFile}
		}
		if out, err := n.Exec(ctx, argv...); err != nil {
			b.Fatalf("%s: %q: %v: %s", n.Name, argv, err, out)
		}
	}
	// The node's mount namespace is private: the host must still read its
	// own file.
	if after, err := os.ReadFile(s.rcFile); err != nil || string(after) != string(before) {
		b.Fatalf("masking %s in the nodes changed it on the host (mount propagation?): %v", s.rcFile, err)
	}
	s.shell = m
}

// record keeps b's mean time per op under its name.
func (s *suite) record(b *testing.B) time.Duration {
	per := b.Elapsed() / time.Duration(b.N)
	s.mu.Lock()
	s.results[b.Name()] = append(s.results[b.Name()], sample{b.N, per})
	s.mu.Unlock()
	return per
}

// cpuMeter adds up the CPU time (user + system) that a tool's own
// processes use in the timed part of a benchmark: chefha's in this
// process (RUSAGE_SELF), a command's (ansible, its workers, the ssh
// clients they wait for) in the children this process waited for
// (RUSAGE_CHILDREN). The nodes' processes are not counted: the lab's
// init reaps them. Unlike wall time, it hardly moves with the machine's
// load.
type cpuMeter struct {
	who         int
	total, mark time.Duration
}

func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (m *cpuMeter) start() { m.mark = cpuTime(m.who) }
func (m *cpuMeter) stop()  { m.total += cpuTime(m.who) - m.mark }

// report gives the CPU per op as a metric and keeps it as NAME/cpu.
func (m *cpuMeter) report(b *testing.B) {
	per := m.total / time.Duration(b.N)
	b.ReportMetric(float64(per)/1e6, "cpu_ms/op")
	shared.mu.Lock()
	shared.results[b.Name()+"/cpu"] = append(shared.results[b.Name()+"/cpu"], sample{b.N, per})
	shared.mu.Unlock()
}

// recordPair keeps a head-to-head's means under NAME/chefha and
// NAME/ansible, and its median ratio; or, with median < 0, the CPU means
// under NAME/chefha/cpu and NAME/ansible/cpu.
func (s *suite) recordPair(b *testing.B, chefha, ansible time.Duration, median float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	suffix := ""
	if median < 0 {
		suffix = "/cpu"
	}
	s.results[b.Name()+"/chefha"+suffix] = append(s.results[b.Name()+"/chefha"+suffix], sample{b.N, chefha})
	s.results[b.Name()+"/ansible"+suffix] = append(s.results[b.Name()+"/ansible"+suffix], sample{b.N, ansible})
	if median >= 0 {
		s.ratios[b.Name()] = append(s.ratios[b.Name()], pairRatio{b.N, median})
	}
}

// pairRatio is a head-to-head call's median ratio.
type pairRatio struct {
	n int
	x float64
}

// pairResult is a head-to-head's median ratio, of its calls with the
// largest b.N (the median of those when -count repeats it).
func (s *suite) pairResult(name string) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var top []float64
	maxN := 0
	for _, r := range s.ratios[name] {
		switch {
		case r.n > maxN:
			maxN, top = r.n, []float64{r.x}
		case r.n == maxN:
			top = append(top, r.x)
		}
	}
	if len(top) == 0 {
		return 0, false
	}
	slices.Sort(top)
	return top[len(top)/2], true
}

// result is a benchmark's time per op: of the calls with the largest b.N
// (the testing package first calls a benchmark with b.N = 1, then with
// the b.N it settles on, once per -count), the median.
func (s *suite) result(name string) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var top []time.Duration
	maxN := 0
	for _, x := range s.results[name] {
		switch {
		case x.n > maxN:
			maxN, top = x.n, []time.Duration{x.per}
		case x.n == maxN:
			top = append(top, x.per)
		}
	}
	if len(top) == 0 {
		return 0, false
	}
	slices.Sort(top)
	return top[len(top)/2], true
}

// baseline is chefha's Preflight time for a shell and connection state:
// BenchmarkPreflightLab's figure when it ran, else five untimed runs of
// its op (so a ratio is there even under -bench Ansible). Call it with
// b's timer stopped.
func (s *suite) baseline(b *testing.B, sh shellMode, conn string) time.Duration {
	b.Helper()
	name := fmt.Sprintf("BenchmarkPreflightLab/%s/%s", sh, conn)
	if d, ok := s.result(name); ok {
		return d
	}
	key := "baseline/" + string(sh) + "/" + conn
	if d, ok := s.result(key); ok {
		return d
	}
	const runs = 5
	var total time.Duration
	preflightRuns(b, s.lab, conn, runs, func(d time.Duration) { total += d })
	d := total / runs
	s.mu.Lock()
	s.results[key] = []sample{{runs, d}}
	s.mu.Unlock()
	return d
}

// ratio reports per as a multiple of chefha's Preflight time.
func (s *suite) ratio(b *testing.B, sh shellMode, conn string, per time.Duration) {
	if base := s.baseline(b, sh, conn); base > 0 {
		b.ReportMetric(float64(per)/float64(base), "x_chefha")
	}
}

func (s *suite) onClose(f func()) {
	s.mu.Lock()
	s.cleanup = append(s.cleanup, f)
	s.mu.Unlock()
}

func (s *suite) close() {
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
	if s.lab != nil {
		if err := s.lab.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: closing the lab: %v\n", err)
		}
	}
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
}

// names of the results, sorted, for the summary.
func (s *suite) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.results {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
