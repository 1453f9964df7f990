package upgrade_test

import (
	"context"
	"testing"

	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// 11.2.0's reconfigure writes and starts private_chef-runsvdir
// (enterprise-chef-common 0.4.4 recipes/runit_upstart.rb:19-41 with
// attributes/default.rb:11 @11.2.0 enterprise['name'] "private_chef")
// and leaves 11.1's private-chef-runsvdir running: the hop chefha plans
// only when asked, run to its end on the model, leaves two runsvdirs on
// every node, which the facts read job by job and the post-flight refuses.
func TestUpgradeTo1120LeavesTwoRunsvdirs(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "11.1.8", 1)
	err := e.runner("11.2.0", nil, upgrade.WithSkippable()).Run(context.Background())
	require.Error(t, err)
	assert.ErrorContains(t, err, "hop1/verify")
	facts := upgrade.Gather(context.Background(), e.cl)
	for _, n := range facts.Nodes {
		running, unread := n.RunsvdirJobs()
		assert.Equal(t, []string{"private-chef-runsvdir", "private_chef-runsvdir"}, running, n.Node)
		assert.Empty(t, unread, "%s: initctl answers for every job, Unknown job for opscode-runsvdir", n.Node)
		assert.Contains(t, err.Error(), n.Node+": runit-processes: two-runsvdirs")
	}
}
