package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chefha/chefha/clustertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func assertFits(t *testing.T, s string, width int) {
	t.Helper()
	for i, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		assert.LessOrEqual(t, utf8.RuneCountInString(line), width, "line %d: %q", i+1, line)
	}
}

func TestSimulatedReport(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := run([]string{"-width", "80"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	s := out.String()
	assert.True(t, strings.HasPrefix(s, "SIMULATION: "), "the first line says it is a simulation")
	assertFits(t, s, 80)
	assert.Contains(t, s, "\nFAIL  migration-level [OC-11297] on be2.chefha.test\n")
	assert.Contains(t, s, "svlogd: pausing: unable to rename current:")
	assert.Contains(t, s, "\nWARN  standby-keepalived-stopped on be2.chefha.test\n")
	assert.Contains(t, s, "\nok    reachable ")
	assert.Less(t, strings.Index(s, "\nFAIL  "), strings.Index(s, "\nWARN  "), "failures first")
	assert.Less(t, strings.Index(s, "\nWARN  "), strings.Index(s, "\nok    "), "then warnings, then what passed")
}

func TestWideKeepsOneRowPerFinding(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"-o", "wide"}, &out, &errb), errb.String())
	s := out.String()
	assert.Regexp(t, `\nbe2\.chefha\.test +migration-level \[OC-11297\] +FAIL +be2\.chefha\.test: migration-level is empty`, s)
	assert.Regexp(t, `\nbe2\.chefha\.test +standby-keepalived-stopped +WARN +keepalived is running`, s)
}

func TestJSONOutputParses(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"-o", "json", "-ignore", "backup"}, &out, &errb), errb.String())
	var rep struct {
		Simulation bool             `json:"simulation"`
		Installed  string           `json:"installed"`
		Findings   []map[string]any `json:"findings"`
		Ignored    []string         `json:"ignored"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	assert.True(t, rep.Simulation, "a simulation's JSON says so")
	assert.Equal(t, "1.4.6", rep.Installed)
	assert.NotEmpty(t, rep.Findings)
	assert.Equal(t, []string{"backup"}, rep.Ignored)

	out.Reset()
	require.Equal(t, 1, run([]string{"-o", "json", "-facts", "../../upgrade/testdata/facts-upgraded-broken.json"}, &out, &errb))
	var real map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &real))
	assert.NotContains(t, real, "simulation", "saved facts of a real cluster are not marked")
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	assert.Equal(t, 0, run([]string{"-h"}, &out, &errb))
	assert.Contains(t, errb.String(), "migration-level")
	for _, args := range [][]string{
		{"-o", "yaml"},
		{"-ignore", "version"}, // a mandatory check cannot be ignored
		{"-ignore", "no-such-check"},
		{"-target", "eleven"},
		{"-hosts", "be1"},
		{"stray"},
	} {
		assert.Equal(t, 2, run(args, &out, &errb), "%q", args)
	}
	out.Reset()
	assert.Equal(t, 1, run([]string{"-facts", "../../upgrade/testdata/facts-upgraded-broken.json"}, &out, &errb),
		"saved facts of a broken cluster fail")
	assert.Contains(t, out.String(), "the cluster runs the target but is NOT healthy", "an upgraded cluster is judged as one, not as one to upgrade")
	out.Reset()
	errb.Reset()
	assert.Equal(t, 2, run([]string{"-facts", "../../upgrade/testdata/facts-broken.json", "-target", "11.1.3"}, &out, &errb),
		"a node that could not be read makes the report incomplete")
	assert.Contains(t, out.String(), "FAIL  reachable on fe3.chefha.test")
	assert.Contains(t, errb.String(), "1 node(s) could not be read (fe3.chefha.test)")
	assert.Equal(t, 0, run([]string{"-facts", "../../upgrade/testdata/facts-healthy.json", "-backup", "LVM snapshot"}, &out, &errb))
}

// -hosts builds the topology with cluster.ParseHosts: a name holding a
// newline or a tab is refused, never read as another server.
func TestHostsRefusesControlCharacters(t *testing.T) {
	t.Parallel()
	for _, hosts := range []string{"be1\n=backend:bootstrap,be2=backend", "be1=backend:bootstrap,be2\t=backend"} {
		var out, errb bytes.Buffer
		assert.Equal(t, 2, run([]string{"-hosts", hosts}, &out, &errb))
		assert.Contains(t, errb.String(), "is not a host name: it holds a control character")
		assert.NotContains(t, errb.String(), "\t", "the refused name is shown escaped")
		assert.Empty(t, out.String())
	}
}

// One node refusing connections does not stop the pre-flight: it is a
// failing reachable finding, the others are read and judged, and the exit
// status says the report is incomplete.
func TestUnreachableNode(t *testing.T) {
	t.Parallel()
	sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 1,
		Knobs: []clustertest.Knob{clustertest.Unreachable("be2.chefha.test"), clustertest.FrontendsStopped()}})
	require.NoError(t, err)
	defer sim.Close()
	conf, err := sim.WriteSSHConfig(t.TempDir())
	require.NoError(t, err)
	facts := filepath.Join(t.TempDir(), "facts.json")
	var out, errb bytes.Buffer
	code := run([]string{"-hosts", "be1.chefha.test=backend:bootstrap,be2.chefha.test=backend,fe1.chefha.test=frontend",
		"-ssh-config", conf, "-width", "100", "-save-facts", facts}, &out, &errb)
	assert.Equal(t, 2, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	s := out.String()
	assert.Contains(t, s, "FAIL  reachable on be2.chefha.test\n      evidence  be2.chefha.test unreadable: not reached at 127.0.0.1:")
	assert.Contains(t, s, "connection refused")
	assert.Contains(t, s, "ok    migration-level ", "the nodes reached are judged")
	assert.Contains(t, s, "ok    frontends-stopped ")
	assert.Contains(t, errb.String(), "1 of 3 nodes not reached")
	st, err := os.Stat(facts)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "saved facts hold node data")
}

// A facts file whose server name and command output hold terminal escape
// sequences prints none of them raw.
func TestHostileFactsPrintNoEscapes(t *testing.T) {
	t.Parallel()
	for _, o := range []string{"table", "wide"} {
		var out, errb bytes.Buffer
		run([]string{"-facts", "testdata/hostile.json", "-o", o}, &out, &errb)
		s := out.String() + errb.String()
		require.Contains(t, s, "FAIL", o)
		assert.NotContains(t, s, "\x1b", o)
		assert.NotContains(t, s, "\a", o)
		assert.NotContains(t, s, "\r", o)
		assert.NotContains(t, s, "\u009b", o)
		assert.Contains(t, s, `be2\x1b[2J\x1b]0;owned\a.chefha.test`, o)
	}
	var out, errb bytes.Buffer
	run([]string{"-facts", "testdata/hostile.json", "-o", "json"}, &out, &errb)
	var rep struct {
		Findings []struct{ Node string }
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	found := false
	for _, f := range rep.Findings {
		found = found || f.Node == "be2\x1b[2J\x1b]0;owned\a.chefha.test"
	}
	assert.True(t, found, "JSON keeps the exact bytes")
}

// One override vocabulary: -allow-skippable, in both commands.
func TestAllowSkippable(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	run([]string{"-facts", "../../upgrade/testdata/facts-healthy.json", "-target", "11.0.2", "-width", "200"}, &out, &errb)
	assert.Contains(t, out.String(), "WARN  version on the cluster")
	assert.Contains(t, out.String(), "run preflight and upgrade with -allow-skippable")
	out.Reset()
	run([]string{"-facts", "../../upgrade/testdata/facts-healthy.json", "-target", "11.0.2", "-width", "200", "-allow-skippable"}, &out, &errb)
	assert.Contains(t, out.String(), "allowed with -allow-skippable: give upgrade -allow-skippable too")
}

// severityShown is a finding's first line, in the table (the severity
// first) or wide (after the node and the check).
var severityShown = regexp.MustCompile(`^(?:\S+\s+\S+(?: \[[^\]]*\])?\s+)?(ok|OK|WARN|FAIL|skip|SKIP|IGNORED)\s`)

// The summary's counts are the blocks and lines shown, severity by
// severity, whatever is ignored.
func TestSummaryCountsWhatIsShown(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"-ignore", "runit-processes"}, {"-ignore", "all"}, {"-o", "wide"}} {
		var out, errb bytes.Buffer
		require.Equal(t, 0, run(append([]string{"-width", "100"}, args...), &out, &errb), errb.String())
		shown := map[string]int{}
		var summary string
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, " ok, ") && strings.Contains(line, " fail") {
				summary = line
			} else if m := severityShown.FindStringSubmatch(line); m != nil {
				shown[strings.ToLower(m[1])]++
			}
		}
		require.NotEmpty(t, summary, "%v: %s", args, out.String())
		want := fmt.Sprintf("%d ok, %d warn, %d fail", shown["ok"], shown["warn"], shown["fail"])
		if shown["skip"] > 0 {
			want += fmt.Sprintf(", %d skipped", shown["skip"])
		}
		if shown["ignored"] > 0 {
			want += fmt.Sprintf(", %d ignored", shown["ignored"])
		}
		assert.True(t, strings.HasPrefix(summary, want+":"), "%v: %q shown, summary %q", args, want, summary)
	}
}
