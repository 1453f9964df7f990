package upgrade_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An upgrade to the version every node runs is no plan: the cluster is
// done, unless a node's migration level says partybus never ran there.
func TestPlanAtTarget(t *testing.T) {
	facts := loadFacts(t, "facts-upgraded.json")
	_, err := upgrade.BuildPlan(facts, upgrade.WithTarget("11.1.8"))
	var at *upgrade.AtTargetError
	require.ErrorAs(t, err, &at)
	assert.Equal(t, "11.1.8", at.Version)
	assert.Equal(t, "1.13", at.Level)
	assert.Empty(t, at.Behind)
	assert.Contains(t, err.Error(), "nothing to upgrade")

	facts.Nodes = slices.Clone(facts.Nodes)
	n := facts.Nodes[1]
	n.Sections = maps.Clone(n.Sections)
	n.Sections["level"] = upgrade.Section{Output: `{"major":1,"minor":7}`}
	facts.Nodes[1] = n
	_, err = upgrade.BuildPlan(facts, upgrade.WithTarget("11.1.8"))
	require.ErrorAs(t, err, &at)
	assert.Equal(t, []string{n.Node + " at 1.7"}, at.Behind)
	assert.Contains(t, err.Error(), "did not finish")
}

// The errors a caller branches on are sentinels, not bare strings.
func TestPlanAndRunSentinels(t *testing.T) {
	facts := loadFacts(t, "facts-healthy.json")
	_, err := upgrade.BuildPlan(facts)
	assert.ErrorIs(t, err, upgrade.ErrNoTarget)
	err = upgrade.NewRunner(nil, upgrade.WithFacts(facts), upgrade.WithTarget("11.1.8")).Run(context.Background())
	assert.ErrorIs(t, err, upgrade.ErrNeedsJournal)
}

// A target is a string, as an operator types it; one that is no version is
// refused by the first call that needs it, naming it.
func TestTargetThatIsNoVersion(t *testing.T) {
	facts := loadFacts(t, "facts-healthy.json")
	_, err := upgrade.BuildPlan(facts, upgrade.WithTarget("eleven"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `target version "eleven"`)
	_, err = upgrade.Preflight(context.Background(), nil, upgrade.WithFacts(facts), upgrade.WithTarget("11.1.x"))
	assert.ErrorContains(t, err, `target version "11.1.x"`)
	rep, err := upgrade.Preflight(context.Background(), nil, upgrade.WithFacts(facts), upgrade.WithTarget("eleven"), upgrade.WithTarget("11.1.8"))
	require.NoError(t, err, "the last WithTarget counts")
	assert.Equal(t, "11.1.8", rep.Target)
}
