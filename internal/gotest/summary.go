package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Event is one line of `go test -json` (cmd/test2json's TestEvent, and the
// build events `go test -json` adds).
type Event struct {
	Time        time.Time
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
	ImportPath  string // build-output and build-fail events
}

// optionalPrefix is peer.OptionalPrefix: a skip that is allowed in CI.
const optionalPrefix = "optional: "

// testResult is what became of one test (or subtest).
type testResult struct {
	pkg, name string
	action    string // pass, fail, skip, or "" while it runs
	elapsed   float64
	output    []string
}

// skipReason is the last line the test logged before its skip (t.Skip's
// message), without the file:line prefix.
func (r *testResult) skipReason() string {
	for i := len(r.output) - 1; i >= 0; i-- {
		l := strings.TrimSpace(r.output[i])
		if l == "" || strings.HasPrefix(l, "--- SKIP") || strings.HasPrefix(l, "=== ") {
			continue
		}
		if _, msg, ok := strings.Cut(l, ": "); ok && strings.Contains(l[:strings.Index(l, ": ")], ".go:") {
			return msg
		}
		return l
	}
	return "(no reason given)"
}

// pkgResult is what became of one package's test binary.
type pkgResult struct {
	name    string
	action  string // pass, fail, skip ([no test files]); "" while it runs
	elapsed float64
	output  []string // the package's own output (not a test's)
	tests   map[string]*testResult
	order   []string
	hasTest bool // go list: it has test files with Test functions
}

// Summary accounts for the events of one or more `go test -json` runs.
type Summary struct {
	pkgs  map[string]*pkgResult
	order []string
	build []string // build errors, as printed
	// HasTests names the packages that have Test functions; a package in
	// it that reports none run is a problem (its binary exited before
	// running them, or every test was filtered out).
	HasTests map[string]bool
}

// NewSummary returns an empty Summary.
func NewSummary() *Summary {
	return &Summary{pkgs: map[string]*pkgResult{}, HasTests: map[string]bool{}}
}

func (s *Summary) pkg(name string) *pkgResult {
	p := s.pkgs[name]
	if p == nil {
		p = &pkgResult{name: name, tests: map[string]*testResult{}}
		s.pkgs[name] = p
		s.order = append(s.order, name)
	}
	return p
}

// Add accounts for e and returns the package whose binary just ended, if
// e ended one.
func (s *Summary) Add(e Event) *pkgResult {
	switch e.Action {
	case "build-output":
		s.build = append(s.build, e.Output)
		return nil
	case "build-fail":
		return nil
	}
	if e.Package == "" {
		return nil
	}
	p := s.pkg(e.Package)
	if e.Test == "" {
		switch e.Action {
		case "output":
			p.output = append(p.output, e.Output)
		case "pass", "fail", "skip":
			p.action, p.elapsed = e.Action, e.Elapsed
			return p
		}
		return nil
	}
	t := p.tests[e.Test]
	if t == nil {
		t = &testResult{pkg: e.Package, name: e.Test}
		p.tests[e.Test] = t
		p.order = append(p.order, e.Test)
	}
	switch e.Action {
	case "output":
		t.output = append(t.output, e.Output)
	case "pass", "fail", "skip":
		t.action, t.elapsed = e.Action, e.Elapsed
	}
	return nil
}

// counts are the tests of p by outcome; a test with subtests counts once.
func (p *pkgResult) counts() (pass, fail, skip int) {
	for _, t := range p.tests {
		if strings.Contains(t.name, "/") {
			continue
		}
		switch t.action {
		case "pass":
			pass++
		case "fail":
			fail++
		case "skip":
			skip++
		}
	}
	return pass, fail, skip
}

// Line is the one line a finished package gets, as go test prints it,
// with its tests counted.
func (p *pkgResult) Line() string {
	pass, fail, skip := p.counts()
	switch {
	case p.action == "skip":
		return fmt.Sprintf("?    %s\t[no test files]", p.name)
	case p.action == "fail":
		return fmt.Sprintf("FAIL %s\t%.1fs\t%d passed, %d failed, %d skipped", p.name, p.elapsed, pass, fail, skip)
	}
	return fmt.Sprintf("ok   %s\t%.1fs\t%d passed, %d skipped", p.name, p.elapsed, pass, skip)
}

// Failures writes the output of p's failed tests (the innermost ones: a
// parent's output repeats its subtests') and, when p failed with no test
// failing (a panic, a timeout, TestMain), the package's own output.
func (p *pkgResult) Failures(w io.Writer) {
	failed := 0
	for _, name := range p.order {
		t := p.tests[name]
		if t.action != "fail" && !(p.action == "fail" && t.action == "") {
			continue
		}
		failed++
		if p.hasFailedChild(name) {
			continue
		}
		state := "FAIL"
		if t.action == "" {
			state = "DID NOT FINISH"
		}
		fmt.Fprintf(w, "--- %s: %s %s\n", state, p.name, name)
		for _, l := range t.output {
			if strings.HasPrefix(l, "=== ") {
				continue
			}
			io.WriteString(w, l)
		}
	}
	if p.action == "fail" && (failed == 0 || len(p.output) > 0) {
		for _, l := range p.output {
			if strings.HasPrefix(l, "FAIL") || strings.HasPrefix(l, "=== ") {
				continue
			}
			io.WriteString(w, l)
		}
	}
}

func (p *pkgResult) hasFailedChild(name string) bool {
	for n, t := range p.tests {
		if strings.HasPrefix(n, name+"/") && (t.action == "fail" || t.action == "") {
			return true
		}
	}
	return false
}

// Problems are the reasons the run is not a pass: failed packages, build
// errors, packages whose tests did not run; with strict (CI, where
// nothing may be skipped), also every skip that is not optional.
func (s *Summary) Problems(strict bool) []string {
	var out []string
	if len(s.build) > 0 {
		out = append(out, "the build failed")
	}
	for _, name := range s.order {
		p := s.pkgs[name]
		pass, fail, _ := p.counts()
		switch {
		case p.action == "fail":
			out = append(out, fmt.Sprintf("%s failed (%d tests)", name, fail))
		case p.action == "":
			out = append(out, name+" did not finish")
		case s.HasTests[name] && pass+fail == 0:
			out = append(out, name+" has tests but ran none: "+p.ranNoneWhy())
		}
	}
	if strict {
		for _, t := range s.skipped() {
			if !strings.HasPrefix(t.skipReason(), optionalPrefix) {
				out = append(out, fmt.Sprintf("%s %s skipped: %s", short(t.pkg), t.name, t.skipReason()))
			}
		}
	}
	return out
}

func (p *pkgResult) ranNoneWhy() string {
	_, _, skip := p.counts()
	if skip > 0 {
		return fmt.Sprintf("all %d skipped", skip)
	}
	return "its test binary exited before running any (see its output)"
}

func (s *Summary) skipped() []*testResult {
	var out []*testResult
	for _, name := range s.order {
		p := s.pkgs[name]
		for _, tn := range p.order {
			if t := p.tests[tn]; t.action == "skip" {
				out = append(out, t)
			}
		}
	}
	return out
}

// short drops the module path from a package name.
func short(pkg string) string {
	if i := strings.Index(pkg, "/chefha/chefha/"); i >= 0 {
		return pkg[i+len("/chefha/chefha/"):]
	}
	return pkg
}

// WriteSummary writes the last lines: how many tests ran, passed, failed
// and were skipped (each skip with its reason), the slowest packages, and
// the problems.
func (s *Summary) WriteSummary(w io.Writer, wall time.Duration, strict bool) {
	var pass, fail, skip, pkgs int
	for _, name := range s.order {
		p := s.pkgs[name]
		a, b, c := p.counts()
		pass, fail, skip = pass+a, fail+b, skip+c
		if p.action != "skip" {
			pkgs++
		}
	}
	fmt.Fprintf(w, "\n%d tests in %d packages, %s: %d passed, %d failed, %d skipped\n",
		pass+fail+skip, pkgs, wall.Round(100*time.Millisecond), pass, fail, skip)
	if sk := s.skipped(); len(sk) > 0 {
		fmt.Fprintln(w, "skipped (tests and subtests):")
		for _, t := range sk {
			fmt.Fprintf(w, "  %s %s: %s\n", short(t.pkg), t.name, t.skipReason())
		}
	}
	slow := slices.Clone(s.order)
	slices.SortFunc(slow, func(a, b string) int { return cmp.Compare(s.pkgs[b].elapsed, s.pkgs[a].elapsed) })
	var parts []string
	for _, name := range slow[:min(5, len(slow))] {
		if p := s.pkgs[name]; p.elapsed > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0fs", short(name), p.elapsed))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "slowest: %s\n", strings.Join(parts, ", "))
	}
	if probs := s.Problems(strict); len(probs) > 0 {
		fmt.Fprintln(w, "FAIL:")
		for _, p := range probs {
			fmt.Fprintf(w, "  %s\n", p)
		}
	} else {
		fmt.Fprintln(w, "PASS")
	}
}
