package cluster_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/peer"
)

// A private file, or its directory, owned by another (non-root) user is
// refused whatever its mode: its owner can chmod it and change it.
func TestCheckPrivateRefusesAnotherUsersFile(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		peer.Optional(t, "run as a user who cannot give a file away: chown needs root (go test as root shows it)")
	}
	const nobody = 65534
	dir := t.TempDir()
	p := filepath.Join(dir, "journal.json")
	require.NoError(t, os.WriteFile(p, []byte("{}"), 0o600))
	require.NoError(t, cluster.CheckPrivate(p, "journal"), "this user's 0600 file")

	require.NoError(t, os.Chown(p, nobody, nobody))
	err := cluster.CheckPrivate(p, "journal")
	var me *cluster.ModeError
	require.True(t, errors.As(err, &me), "%v", err)
	assert.Equal(t, p, me.Path)
	assert.Contains(t, err.Error(), "belongs to uid 65534")

	mine := filepath.Join(dir, "own")
	require.NoError(t, os.Mkdir(mine, 0o700))
	require.NoError(t, os.Chown(mine, nobody, nobody))
	err = cluster.CheckPrivate(filepath.Join(mine, "journal.json"), "journal")
	require.True(t, errors.As(err, &me), "%v", err)
	assert.Equal(t, mine, me.Path)
}
