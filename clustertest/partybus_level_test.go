package clustertest_test

import (
	"testing"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/migration"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// OC-11297 leaves a back end without its level file; 11.1.7+'s
// reconfigure after 1.x runs pg_upgrade (the postgresql data_dir moves),
// which notifies the level sanity check, and the run fails last
// (recipes/partybus.rb:54-77 @11.1.8). The next run has no pg_upgrade to
// do and passes.
func TestLevelMissingAfterPgUpgrade(t *testing.T) {
	t.Parallel()
	s := start(t, "1.4.6", clustertest.OC11297())
	s.installPackage(t, be1, "11.1.8")
	out, stderr, code := s.run(t, be1, "private-chef-ctl", "reconfigure")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, stderr, "The /var/opt/opscode/upgrades/migration-level file is missing or corrupt!")
	assert.NotContains(t, out, "Chef Client finished")
	out, _, code = s.run(t, be1, "private-chef-ctl", "reconfigure")
	assert.Equal(t, 0, code, out)

	// With the level in place (what chefha's repair step writes) the first
	// run passes.
	s = start(t, "1.4.6")
	s.installPackage(t, be1, "11.1.8")
	out, _, code = s.run(t, be1, "private-chef-ctl", "reconfigure")
	assert.Equal(t, 0, code, out)
}

// partybus writes the level after every migration on every node
// (dsl_runner.rb:13-17 @11.0.2), creating the file it locks when it is
// missing (bin/partybus:70): an OC-11297 back end's upgrade ends with its
// level, reached from 0.0.
func TestPartybusWritesTheLevelOnABackEnd(t *testing.T) {
	t.Parallel()
	s := start(t, "1.4.6", clustertest.OC11297())
	s.installPackage(t, be2, "11.0.2")
	out, _, code := s.run(t, be2, "private-chef-ctl", "upgrade")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "Current Migration Version: 0.0")
	l, err := s.level(t, be2)
	require.NoError(t, err)
	assert.Equal(t, migration.Level{Major: 1, Minor: 12}, l)
}
