package clustertest_test

import (
	"testing"

	"github.com/chefha/chefha/runit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Private Chef 1.2.8 names its database service postgres
// (recipes/postgresql.rb:114 @1.2.8.3), an HA service cluster.sh moves
// (service_order's postgresql entry); its ha-status takes HA services by
// attribute key, so it expects postgres running on the backup too and
// exits 7 on a healthy pair (bin/private-chef-ctl:393-420 @1.2.8.3).
// 1.4.6's reconfigure stops postgres, disables it and deletes its sv
// directory, and the bootstrap's starts postgresql
// (recipes/postgresql.rb:24-35, 147-150 @1.4.6).
func TestPostgresOf128(t *testing.T) {
	t.Parallel()
	s := start(t, "1.2.8")
	for node, up := range map[string]bool{be1: true, be2: false} {
		st, _ := s.status(t, node)
		require.Contains(t, st, "postgres", node)
		assert.NotContains(t, st, "postgresql", node)
		assert.Equal(t, up, st["postgres"].State == runit.StateRun, "%s: postgres moves with keepalived", node)
	}
	out, _, code := s.run(t, be2, "private-chef-ctl", "ha-status")
	assert.Equal(t, 7, code, out)
	assert.Contains(t, out, "[ERROR] postgres is not running.\n")
	assert.Contains(t, out, "[OK] couchdb is not running, and I am not master.\n")
	out, _, code = s.run(t, be1, "private-chef-ctl", "ha-status")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "[OK] postgres is running.\n")

	for _, node := range []string{be1, be2} {
		s.installPackage(t, node, "1.4.6")
		out, _, code := s.run(t, node, "private-chef-ctl", "reconfigure")
		require.Equal(t, 0, code, out)
		st, _ := s.status(t, node)
		assert.NotContains(t, st, "postgres", node)
		_, _, code = s.run(t, node, "test", "-e", "/opt/opscode/sv/postgres")
		assert.Equal(t, 1, code, "%s: sv/postgres deleted", node)
		require.Contains(t, st, "postgresql", node)
		assert.Equal(t, node == be1, st["postgresql"].State == runit.StateRun, "%s: the bootstrap starts postgresql", node)
	}
}
