package upgrade

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/issue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every OC id the runbook names is in the registry, and nothing else.
func TestRegistryCoversTheRunbook(t *testing.T) {
	b, err := os.ReadFile("testdata/runbook-known-issues.rst")
	require.NoError(t, err)
	want := map[issue.ID]bool{}
	for _, id := range regexp.MustCompile(`OC-\d+`).FindAllString(string(b), -1) {
		want[issue.ID(id)] = true
	}
	got := map[issue.ID]bool{}
	for _, k := range KnownIssues() {
		got[k.ID] = true
		assert.NotEmpty(t, k.Title, k.ID)
		assert.NotEmpty(t, k.Action, k.ID)
		assert.NotEmpty(t, k.Mitigation, k.ID)
	}
	assert.Equal(t, want, got)
}

// The registry holds every id of the issue package, in its order, and
// each record's check exists and reports findings under that id.
func TestRegistryMatchesTheIssuePackage(t *testing.T) {
	var got []issue.ID
	checks := map[string]bool{}
	for _, c := range Checks() {
		checks[c.Name()] = true
	}
	for _, k := range append(KnownIssues(), SourceIssues()...) {
		got = append(got, k.ID)
		assert.NotEmpty(t, k.Source, "%s: where the facts come from", k.ID)
		if k.Check != "" {
			assert.True(t, checks[k.Check], "%s names check %q, which does not exist", k.ID, k.Check)
		}
	}
	assert.Equal(t, append(issue.All(), issue.FromSources()...), got)
}

func TestKnownIssuesFor(t *testing.T) {
	v := semver.MustParse
	ids := func(from, to string) []issue.ID {
		var out []issue.ID
		for _, k := range KnownIssuesFor(v(from), v(to)) {
			if slices.Contains(issue.All(), k.ID) { // the runbook's; the others below
				out = append(out, k.ID)
			}
		}
		return out
	}
	beyond := func(from, to string) []issue.ID {
		var out []issue.ID
		for _, k := range KnownIssuesFor(v(from), v(to)) {
			if !slices.Contains(issue.All(), k.ID) {
				out = append(out, k.ID)
			}
		}
		return out
	}
	// The bugs the sources show come after the runbook's, the hazards last;
	// ha-status's regex and omnibus-ctl's bare commands are on every path,
	// 11.2.0's second runsvdir job only on a hop to 11.2.0.
	assert.Equal(t, []issue.ID{issue.OC11499, issue.OC11574, issue.StaleFailover}, beyond("1.4.6", "11.1.8"))
	assert.Equal(t, []issue.ID{issue.OC11499, issue.OC11574, issue.SecondRunsvdirJob, issue.StaleFailover}, beyond("11.1.8", "11.2.0"))
	// To 11.1.8 the "before 11.1.8" bugs are fixed but 11426, which no
	// release's code fixes; 11575 (down files) and 11540 (fixed in 11.2.0)
	// are still open, and the installed (older) private-chef-ctl still
	// waits 7 s (11657).
	assert.Equal(t, []issue.ID{issue.OC11426, issue.OC11540, issue.OC11575, issue.OC11657}, ids("1.2.8", "11.1.8"))
	assert.Equal(t, []issue.ID{issue.OC11426, issue.OC11540, issue.OC11575, issue.OC11657}, ids("1.4.6", "11.1.8"))
	// OC-11382's restart is unconditional from 11.0.1; 11.0.0 never notifies.
	k, _ := LookupIssue(issue.OC11382)
	assert.False(t, k.AppliesTo(v("1.4.6"), v("11.0.0")))
	assert.True(t, k.AppliesTo(v("1.4.6"), v("11.0.1")))
	assert.Empty(t, k.Signatures, "no source prints an OC-11382 message of its own")
	// To 11.1.3 from 1.4.6: every bug of the 1.4 → 11 path but redis_lb's
	// restart (1.x has no redis_lb to restart).
	assert.Equal(t, []issue.ID{issue.OC11382, issue.OC11426, issue.OC11490, issue.OC11540, issue.OC11575, issue.OC11656, issue.OC11657,
		issue.OC11658, issue.OC11662, issue.OC11669, issue.OC11670}, ids("1.4.6", "11.1.3"))
	// From 11.0.2: its back ends lost their level (11297); it has no redis_lb
	// yet (11601 needs 11.1.x on both ends).
	assert.Equal(t, []issue.ID{issue.OC11297, issue.OC11540, issue.OC11575, issue.OC11657}, ids("11.0.2", "11.1.8"))
	// From 11.1.6: a fresh 11.1.0–11.1.6 back end has 11.0's partybus
	// trigger (11297, fixed in 11.1.7), and redis_lb to restart (11601).
	assert.Equal(t, []issue.ID{issue.OC11297, issue.OC11540, issue.OC11575, issue.OC11601, issue.OC11657}, ids("11.1.6", "11.1.8"))
	// A 1.2 → 1.4 hop has only the svwait bug.
	assert.Equal(t, []issue.ID{issue.OC11657}, ids("1.2.8", "1.4.6"))
	require.Empty(t, ids("11.1.8", "11.1.8"))
	require.Empty(t, beyond("11.1.8", "11.1.8"))
}

// OC-11499: ha-status's unanchored regex takes 10.0.0.10 for the VIP
// 10.0.0.1; chefha's reading of who holds the VIP does not.
func TestVIPIsMatchedExactly(t *testing.T) {
	addrs := func(a string) NodeFacts {
		return NodeFacts{Node: "be2", Sections: map[string]Section{
			"current":   {Output: "backup"},
			"requested": {Output: "backup"},
			"addrs":     {Output: "1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet " + a + " brd 10.0.0.255 scope global eth0"},
		}}
	}
	assert.False(t, addrs("10.0.0.10/24").KeepalivedState("10.0.0.1").HasVIP, "10.0.0.10 is not the VIP 10.0.0.1")
	assert.False(t, addrs("10.0.0.12/24").KeepalivedState("10.0.0.1").HasVIP)
	assert.True(t, addrs("10.0.0.1/24").KeepalivedState("10.0.0.1").HasVIP)
}
