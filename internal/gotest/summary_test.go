package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var record = flag.Bool("record", false, "record testdata/gtmod.json again from testdata/gtmod")

const mod = "example.com/gtmod/"

// summarise feeds the recorded go test -json of testdata/gtmod through a
// Summary, with the packages that have Test functions as go list says.
func summarise(t *testing.T) (*Summary, string) {
	t.Helper()
	if *record {
		cmd := exec.Command("go", "test", "-json", "./...")
		cmd.Dir = "testdata/gtmod"
		out, _ := cmd.Output() // it fails: that is what it records
		require.NoError(t, os.WriteFile("testdata/gtmod.json", out, 0o644))
	}
	b, err := os.ReadFile("testdata/gtmod.json")
	require.NoError(t, err)
	s := NewSummary()
	s.HasTests = map[string]bool{mod + "a": true, mod + "b": true, mod + "d": true}
	var lines bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var e Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
		if p := s.Add(e); p != nil {
			lines.WriteString(p.Line() + "\n")
			p.Failures(&lines)
		}
	}
	return s, lines.String()
}

func TestPackageLines(t *testing.T) {
	_, out := summarise(t)
	assert.Regexp(t, `(?m)^FAIL example.com/gtmod/a\t\d+\.\ds\t1 passed, 1 failed, 2 skipped$`, out)
	assert.Regexp(t, `(?m)^ok   example.com/gtmod/b\t\d+\.\ds\t0 passed, 0 skipped$`, out)
	assert.Regexp(t, `(?m)^\?    example.com/gtmod/c\t\[no test files\]$`, out)
	assert.Regexp(t, `(?m)^FAIL example.com/gtmod/d\t`, out)
	// The failing subtest's output, once (not again under its parent).
	assert.Equal(t, 1, strings.Count(out, "two went wrong"), out)
	assert.Contains(t, out, "--- FAIL: example.com/gtmod/a TestSub/two")
	assert.NotContains(t, out, "--- FAIL: example.com/gtmod/a TestSub\n")
	// The panic, with its stack.
	assert.Contains(t, out, "panic: boom")
	assert.NotContains(t, out, "fine", "a passing test's log is not printed")
}

func TestProblems(t *testing.T) {
	s, _ := summarise(t)
	want := []string{
		"example.com/gtmod/a failed (1 tests)",
		"example.com/gtmod/b has tests but ran none: its test binary exited before running any (see its output)",
		"example.com/gtmod/d failed (1 tests)",
	}
	assert.Equal(t, want, s.Problems(false))
	// Strict (CI): the skip for a missing program is a problem; the
	// optional one is not.
	strict := s.Problems(true)
	assert.Contains(t, strict, "example.com/gtmod/a TestSkipMissing skipped: sshd not found: install Debian's openssh-server")
	assert.Len(t, strict, len(want)+1)
}

func TestSummaryLastLines(t *testing.T) {
	s, _ := summarise(t)
	var b bytes.Buffer
	s.WriteSummary(&b, 83*time.Second, true)
	out := b.String()
	assert.Contains(t, out, "\n5 tests in 3 packages, 1m23s: 1 passed, 2 failed, 2 skipped\n")
	assert.Contains(t, out, "skipped (tests and subtests):\n  example.com/gtmod/a TestSkipMissing: sshd not found: install Debian's openssh-server\n"+
		"  example.com/gtmod/a TestSkipOptional: optional: this kernel has no device-mapper\n")
	assert.Contains(t, out, "FAIL:\n  example.com/gtmod/a failed (1 tests)\n")
	assert.NotContains(t, out, "PASS")
}

// A package with tests that all pass, and nothing skipped: PASS.
func TestSummaryPass(t *testing.T) {
	s := NewSummary()
	s.HasTests["p"] = true
	for _, e := range []Event{
		{Action: "start", Package: "p"}, {Action: "run", Package: "p", Test: "TestA"},
		{Action: "pass", Package: "p", Test: "TestA"}, {Action: "pass", Package: "p", Elapsed: 1.5},
	} {
		s.Add(e)
	}
	assert.Empty(t, s.Problems(true))
	var b bytes.Buffer
	s.WriteSummary(&b, time.Second, true)
	assert.True(t, strings.HasSuffix(b.String(), "slowest: p 2s\nPASS\n"), b.String())
}

// A package whose binary never reports its end (killed, or go test
// itself stopped) did not finish.
func TestSummaryUnfinished(t *testing.T) {
	s := NewSummary()
	s.Add(Event{Action: "run", Package: "p", Test: "TestA"})
	assert.Equal(t, []string{"p did not finish"}, s.Problems(false))
}
