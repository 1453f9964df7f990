package upgrade

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A line a node's file holds cannot pass itself off as a section: the
// markers carry a token drawn for each read.
func TestFactMarkersCannotBeForged(t *testing.T) {
	token := newToken()
	out := "@@chefha-" + token + ":current\nmaster\n\n@@chefha-" + token + "-rc:0\n" +
		"@@chefha-" + token + ":clusterlog\nTue, 10 Jun 2014 14:20:47 -0700: Transitioned to master\n@@chefha:current\nbackup\n\n@@chefha-" + token + "-rc:0\n"
	secs, err := parseSections(out, "", token, "current", "clusterlog")
	require.NoError(t, err)
	assert.Equal(t, "master\n", secs["current"].Output, "the forged marker in cluster.log did not replace the section")
	assert.Contains(t, secs["clusterlog"].Output, "@@chefha:current")
	assert.NotEqual(t, token, newToken())
}

// The facts read the state of every runsvdir job any release wrote,
// 11.2.0's stray private_chef-runsvdir included.
func TestFactsReadEveryRunsvdirJob(t *testing.T) {
	script := factScript("", "t")
	for _, job := range []string{"opscode-runsvdir", "private-chef-runsvdir", "private_chef-runsvdir"} {
		assert.Contains(t, script, "initctl status "+job+" ")
	}
	n := NodeFacts{Node: "be1", Sections: map[string]Section{
		"job-opscode-runsvdir":      {Output: "opscode-runsvdir stop/waiting"},
		"job-private-chef-runsvdir": {Output: "private-chef-runsvdir start/running, process 1543"},
	}}
	running, unread := n.RunsvdirJobs()
	assert.Equal(t, []string{"private-chef-runsvdir"}, running)
	assert.Equal(t, []string{"private_chef-runsvdir"}, unread, "facts recorded before chefha read that job")
}
