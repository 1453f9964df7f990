package migration

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// OC-11297: the back ends lost their level, the front ends kept it.
func TestCompareBackendsLag(t *testing.T) {
	nodes := []NodeLevel{
		{Node: "be1", Level: Level{1, 7}},
		{Node: "be2", Err: ErrEmpty},
		{Node: "fe1", Frontend: true, Level: Level{1, 12}},
		{Node: "fe2", Frontend: true, Level: Level{1, 12}},
	}
	c, err := Compare(nodes, nil)
	require.NoError(t, err)
	assert.False(t, c.OK())
	assert.Equal(t, Level{1, 12}, c.Want)
	assert.Equal(t, &Level{1, 12}, c.Frontend)
	assert.Equal(t, []string{"fe1", "fe2"}, c.Frontends)
	require.Len(t, c.Mismatches, 2)
	assert.Equal(t, "be1: migration-level 1.7, want 1.12", c.Mismatches[0].String())
	assert.Contains(t, c.Mismatches[1].String(), "be2: migration-level is empty")
	assert.Equal(t, "copy /var/opt/opscode/upgrades/migration-level from front end fe1 to be1, be2", c.Fix())
}

func TestCompareExpectedWins(t *testing.T) {
	want := Level{1, 13}
	c, err := Compare([]NodeLevel{
		{Node: "be1", Level: Level{1, 13}},
		{Node: "fe1", Frontend: true, Level: Level{1, 12}},
	}, &want)
	require.NoError(t, err)
	require.Len(t, c.Mismatches, 1)
	assert.Equal(t, "fe1", c.Mismatches[0].Node)
	assert.Contains(t, c.Fix(), `write "{\"major\":1,\"minor\":13}"`)
	assert.Contains(t, c.Fix(), "on fe1")
}

func TestCompareAllAgree(t *testing.T) {
	c, err := Compare([]NodeLevel{
		{Node: "be1", Level: Level{1, 7}},
		{Node: "be2", Level: Level{1, 7}},
		{Node: "fe1", Frontend: true, Level: Level{1, 7}},
	}, nil)
	require.NoError(t, err)
	assert.True(t, c.OK())
	assert.Empty(t, c.Fix())
}

func TestCompareFrontendsDisagree(t *testing.T) {
	_, err := Compare([]NodeLevel{
		{Node: "fe2", Frontend: true, Level: Level{1, 7}},
		{Node: "fe1", Frontend: true, Level: Level{1, 12}},
	}, nil)
	var fd *FrontendsDisagreeError
	require.ErrorAs(t, err, &fd)
	assert.Equal(t, "migration-level differs between front ends: fe1=1.12, fe2=1.7", err.Error())
}

func TestCompareNothingToTrust(t *testing.T) {
	_, err := Compare([]NodeLevel{
		{Node: "be1", Level: Level{1, 7}},
		{Node: "fe1", Frontend: true, Err: ErrEmpty},
	}, nil)
	assert.ErrorContains(t, err, "no front end has a readable migration-level")
}
