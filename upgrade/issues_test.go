package upgrade

import (
	"os"
	"regexp"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every OC id the runbook names is in the registry, and nothing else.
func TestRegistryCoversTheRunbook(t *testing.T) {
	b, err := os.ReadFile("testdata/runbook-known-issues.rst")
	require.NoError(t, err)
	want := map[string]bool{}
	for _, id := range regexp.MustCompile(`OC-\d+`).FindAllString(string(b), -1) {
		want[id] = true
	}
	got := map[string]bool{}
	for _, k := range KnownIssues() {
		got[k.ID] = true
		assert.NotEmpty(t, k.Title, k.ID)
		assert.NotEmpty(t, k.Action, k.ID)
		assert.NotEmpty(t, k.Mitigation, k.ID)
	}
	assert.Equal(t, want, got)
}

func TestRegistryHas13Issues(t *testing.T) {
	ids := []string{"OC-11297", "OC-11382", "OC-11426", "OC-11490", "OC-11540", "OC-11575", "OC-11601",
		"OC-11656", "OC-11657", "OC-11658", "OC-11662", "OC-11669", "OC-11670"}
	var got []string
	for _, k := range KnownIssues() {
		got = append(got, k.ID)
	}
	assert.Equal(t, ids, got)
}

func TestKnownIssuesFor(t *testing.T) {
	v := semver.MustParse
	ids := func(from, to string) []string {
		var out []string
		for _, k := range KnownIssuesFor(v(from), v(to)) {
			out = append(out, k.ID)
		}
		return out
	}
	// To 11.1.8 the "before 11.1.8" bugs are fixed; 11575 is still open,
	// and the installed (older) private-chef-ctl still waits 7 s (11657).
	assert.Equal(t, []string{"OC-11575", "OC-11657"}, ids("1.2.8", "11.1.8"))
	assert.Equal(t, []string{"OC-11575", "OC-11657"}, ids("1.4.6", "11.1.8"))
	// To 11.1.3 from 1.4.6: every bug of the 1.4 → 11 path.
	assert.Equal(t, []string{"OC-11382", "OC-11426", "OC-11490", "OC-11540", "OC-11575", "OC-11656", "OC-11657",
		"OC-11658", "OC-11662", "OC-11669", "OC-11670"}, ids("1.4.6", "11.1.3"))
	// From 11.0.2: its back ends lost their level (11297); redis_lb exists (11601).
	assert.Equal(t, []string{"OC-11297", "OC-11575", "OC-11601", "OC-11657"}, ids("11.0.2", "11.1.8"))
	// A 1.2 → 1.4 hop has only the svwait bug.
	assert.Equal(t, []string{"OC-11657"}, ids("1.2.8", "1.4.6"))
	require.Empty(t, ids("11.1.8", "11.1.8"))
}
