package upgrade_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chefha/chefha/internal/golden"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goldenFile compares got with testdata/golden/name, or rewrites it under
// -update.
func goldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Assert(t, filepath.Join("golden", name), got)
}

func loadFacts(t *testing.T, name string) upgrade.Facts {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	require.NoError(t, err)
	defer f.Close()
	facts, err := upgrade.LoadFacts(f)
	require.NoError(t, err)
	return facts
}

func brokenReport(t *testing.T) upgrade.Report {
	t.Helper()
	rep, err := upgrade.Preflight(context.Background(), nil, upgrade.WithFacts(loadFacts(t, "facts-broken.json")),
		upgrade.WithTarget("11.1.8"))
	require.NoError(t, err)
	return rep
}

func assertFits(t *testing.T, text string, width int) {
	t.Helper()
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		assert.LessOrEqual(t, utf8.RuneCountInString(line), width, "line %d is wider than %d: %q", i+1, width, line)
	}
}

func TestReportTextGolden(t *testing.T) {
	rep := brokenReport(t)
	for _, width := range []int{80, 120} {
		var b bytes.Buffer
		require.NoError(t, rep.WriteText(&b, width))
		assertFits(t, b.String(), width)
		goldenFile(t, "report-"+strconv.Itoa(width)+".golden", b.Bytes())
	}
}

func TestReportTextLayout(t *testing.T) {
	rep := brokenReport(t)
	var b bytes.Buffer
	require.NoError(t, rep.WriteText(&b, 80))
	s := b.String()
	fail := strings.Index(s, "\nFAIL  ")
	warn := strings.Index(s, "\nWARN  ")
	require.Positive(t, fail)
	require.Positive(t, warn)
	assert.Less(t, fail, warn, "failures before warnings")
	assert.Contains(t, s, "FAIL  non-ssl-port [OC-11540] on be1.chefha.test, be2.chefha.test,\n      fe1.chefha.test\n",
		"a finding alike on several nodes is one block naming them")
	assert.Regexp(t, `FAIL  reachable on fe3\.chefha\.test\n      evidence  fe3\.chefha\.test: dial 127\.0\.0\.1:\d+:`, s)
	assert.True(t, strings.HasSuffix(s, "NOT safe to upgrade: fix the failures above first\n"), "the verdict is the last line")

	b.Reset()
	require.NoError(t, rep.WriteText(&b, 0))
	assertFits(t, b.String(), upgrade.DefaultWidth)
	b.Reset()
	require.NoError(t, rep.WriteText(&b, 10))
	assertFits(t, b.String(), 40)
}

func TestReportTableStaysWide(t *testing.T) {
	rep := brokenReport(t)
	var b bytes.Buffer
	require.NoError(t, rep.WriteTable(&b))
	s := b.String()
	assert.Contains(t, s, "NODE             CHECK")
	assert.Equal(t, len(rep.Findings), strings.Count(s, "FAIL")+strings.Count(s, "WARN")+strings.Count(s, "  OK  "), "one row per finding")
}

func TestWrapCutsLongWords(t *testing.T) {
	rep := upgrade.Report{Summary: map[upgrade.Severity]int{}, Findings: []upgrade.Finding{{Check: "c", Severity: upgrade.Fail, Node: "n",
		Evidence: []string{strings.Repeat("q", 200), "two\nlines"}, Fix: "é" + strings.Repeat("→", 100)}}}
	var b bytes.Buffer
	require.NoError(t, rep.WriteText(&b, 50))
	assertFits(t, b.String(), 50)
	assert.Equal(t, 200, strings.Count(b.String(), "q"), "nothing lost")
	assert.Equal(t, 100, strings.Count(b.String(), "→"))
	assert.Contains(t, b.String(), "                two\n                lines\n")
}

// Text from a node reaches the terminal escaped, in both layouts.
func TestReportEscapesNodeText(t *testing.T) {
	rep := upgrade.Report{Installed: "1.4.6\x1b[2J", Summary: map[upgrade.Severity]int{upgrade.Fail: 1}, Ignored: []string{"x\x1b]0;t\a"},
		Findings: []upgrade.Finding{{Check: "version", Severity: upgrade.Fail, Node: "be1\x1b[31m", Evidence: []string{"out\x1b[1A\rhidden", "\u202eevil"}, Fix: "fix \x9b"}}}
	for name, write := range map[string]func(*bytes.Buffer) error{
		"text":  func(b *bytes.Buffer) error { return rep.WriteText(b, 80) },
		"table": func(b *bytes.Buffer) error { return rep.WriteTable(b) },
	} {
		var b bytes.Buffer
		require.NoError(t, write(&b), name)
		s := b.String()
		assert.NotContains(t, s, "\x1b", name)
		assert.NotContains(t, s, "\r", name)
		assert.NotContains(t, s, "\u202e", name)
		assert.NotContains(t, s, "\u009b", name)
		assert.Contains(t, s, `be1\x1b[31m`, name)
		assert.Contains(t, s, `out\x1b[1A\rhidden`, name)
	}
}

// -o wide: the failures come first, whatever node they are on.
func TestReportTableFailuresFirst(t *testing.T) {
	rep := brokenReport(t)
	var b bytes.Buffer
	require.NoError(t, rep.WriteTable(&b))
	lines := strings.Split(b.String(), "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "NODE") })
	require.Positive(t, i)
	assert.Contains(t, lines[i+1], "FAIL", "the first row is a failure")
	lastFail := 0
	firstOther := len(lines)
	for j, l := range lines[i+1:] {
		if strings.Contains(l, " FAIL ") {
			lastFail = j
		} else if strings.Contains(l, " WARN ") || strings.Contains(l, " OK ") {
			firstOther = min(firstOther, j)
		}
	}
	assert.Less(t, lastFail, firstOther, "every failure before any other row")
}
