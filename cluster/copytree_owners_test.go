package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ownedTree writes a small /etc/opscode-like tree whose key belongs to
// daemon:adm (users every Debian has), the rest to root, and returns it.
func ownedTree(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	src := filepath.Join(t.TempDir(), "bootstrap", "opscode")
	require.NoError(t, os.MkdirAll(filepath.Join(src, "keys"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "keys", "webui_priv.pem"), []byte("KEY\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(src, "private-chef.rb"), []byte("topology \"ha\"\n"), 0o644))
	require.NoError(t, os.Symlink("keys/webui_priv.pem", filepath.Join(src, "pivotal.pem")))
	require.NoError(t, os.Lchown(filepath.Join(src, "keys", "webui_priv.pem"), lookupID(t, "daemon", false), lookupID(t, "adm", true)))
	require.NoError(t, os.Lchown(filepath.Join(src, "pivotal.pem"), lookupID(t, "daemon", false), lookupID(t, "adm", true)))
	return src
}

func lookupID(t *testing.T, name string, group bool) int {
	t.Helper()
	var id string
	if group {
		g, err := user.LookupGroup(name)
		require.NoError(t, err)
		id = g.Gid
	} else {
		u, err := user.Lookup(name)
		require.NoError(t, err)
		id = u.Uid
	}
	n, err := strconv.Atoi(id)
	require.NoError(t, err)
	return n
}

// testCopyTreeOwnersByName copies with OwnersByName: every path, links
// included, ends with the user and group its source has, by name; modes
// stay as the source's.
func testCopyTreeOwnersByName(t *testing.T, from cluster.Node, to cluster.TreeWriter) {
	src := ownedTree(t)
	dst := filepath.Join(t.TempDir(), "opscode")
	_, err := cluster.CopyTree(context.Background(), from, src, to, dst, cluster.CopyOptions{OwnersByName: true, Now: fixedNow})
	require.NoError(t, err)
	assertSameTree(t, src, dst)
	for _, rel := range []string{".", "keys", "keys/webui_priv.pem", "private-chef.rb", "pivotal.pem"} {
		want, err := os.Lstat(filepath.Join(src, rel))
		require.NoError(t, err)
		got, err := os.Lstat(filepath.Join(dst, rel))
		require.NoError(t, err)
		ws, gs := want.Sys().(*syscall.Stat_t), got.Sys().(*syscall.Stat_t)
		assert.Equal(t, [2]uint32{ws.Uid, ws.Gid}, [2]uint32{gs.Uid, gs.Gid}, rel)
	}
}

// renamingNode is a source whose listing names an owner the destination
// does not have: what a node with another set of users looks like.
type renamingNode struct {
	cluster.Node
	old, new []byte
}

func (n renamingNode) Run(ctx context.Context, c cluster.Cmd) (cluster.Result, error) {
	res, err := n.Node.Run(ctx, c)
	res.Stdout = bytes.ReplaceAll(res.Stdout, n.old, n.new)
	return res, err
}

// testCopyTreeUnknownOwner: a name the destination lacks fails the copy
// with an error naming the owner and the file, and leaves the old tree.
func testCopyTreeUnknownOwner(t *testing.T, from cluster.Node, to cluster.TreeWriter) {
	src := ownedTree(t)
	dst := filepath.Join(t.TempDir(), "fe1", "opscode")
	require.NoError(t, os.MkdirAll(dst, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dst, "private-chef.rb"), []byte("# old\n"), 0o644))
	from = renamingNode{from, []byte(" daemon adm "), []byte(" chefha-nouser adm ")}
	_, err := cluster.CopyTree(context.Background(), from, src, to, dst, cluster.CopyOptions{OwnersByName: true, Now: fixedNow})
	var oe *cluster.OwnerError
	require.True(t, errors.As(err, &oe), "%v", err)
	assert.Equal(t, "chefha-nouser:adm", oe.Owner)
	assert.Contains(t, []string{filepath.Join(dst, "keys", "webui_priv.pem"), filepath.Join(dst, "pivotal.pem")}, oe.Path)
	assert.Contains(t, oe.Reason, "chefha-nouser")
	assert.Contains(t, err.Error(), "chefha-nouser:adm")
	old, err := os.ReadFile(filepath.Join(dst, "private-chef.rb"))
	require.NoError(t, err)
	assert.Equal(t, "# old\n", string(old), "the old tree stays")
	left, _ := filepath.Glob(dst + ".chefha-*")
	assert.Empty(t, left, "no stage or backup left")
}

func TestCopyTreeOwnersByNameLocal(t *testing.T) {
	t.Parallel()
	testCopyTreeOwnersByName(t, cluster.NewLocal("bootstrap"), cluster.NewLocal("fe1"))
	testCopyTreeUnknownOwner(t, cluster.NewLocal("bootstrap"), cluster.NewLocal("fe1"))
}

func TestCopyTreeOwnersByNameInProcessSSH(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	testCopyTreeOwnersByName(t, e.dial(t, "root"), e.dial(t, "root"))
	testCopyTreeUnknownOwner(t, e.dial(t, "root"), e.dial(t, "root"))
}

func TestCopyTreeOwnersExclusive(t *testing.T) {
	t.Parallel()
	_, err := cluster.CopyTree(context.Background(), cluster.NewLocal("a"), t.TempDir(), cluster.NewLocal("b"), t.TempDir(),
		cluster.CopyOptions{OwnersByName: true, PreserveOwners: true})
	assert.ErrorContains(t, err, "exclude each other")
}
