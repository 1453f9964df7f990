package replica

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A tree copied from a node keeps the node's modes in what FS reports,
// links as links, while every file of the copy on this machine is 0600
// and every directory 0700; FS is a well-behaved fs.FS (fstest.TestFS).
func TestCopyTree(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, "keys"), 0o750))
	for name, mode := range map[string]os.FileMode{"private-chef.rb": 0o644, "private-chef-secrets.json": 0o600, "keys/pivotal.pem": 0o640} {
		require.NoError(t, os.WriteFile(filepath.Join(src, name), []byte("content of "+name), mode))
		require.NoError(t, os.Chmod(filepath.Join(src, name), mode))
	}
	require.NoError(t, os.Chmod(filepath.Join(src, "keys"), 0o750))
	require.NoError(t, os.Symlink("keys/pivotal.pem", filepath.Join(src, "pivotal.pem")))

	dir := filepath.Join(t.TempDir(), "copy")
	tr, err := CopyTree(context.Background(), cluster.NewLocal("bootstrap"), src, dir)
	require.NoError(t, err)
	assert.Equal(t, 3, tr.Files)
	want := map[string]fs.FileMode{".": fs.ModeDir | 0o755, "keys": fs.ModeDir | 0o750, "private-chef.rb": 0o644,
		"private-chef-secrets.json": 0o600, "keys/pivotal.pem": 0o640, "pivotal.pem": fs.ModeSymlink | 0o777}
	st, _ := os.Stat(src)
	want["."] = fs.ModeDir | st.Mode().Perm()
	for rel, m := range want {
		info, err := fs.Lstat(tr.FS(), rel)
		require.NoError(t, err, rel)
		assert.Equal(t, m, info.Mode(), rel)
	}
	target, err := tr.FS().(fs.ReadLinkFS).ReadLink("pivotal.pem")
	require.NoError(t, err)
	assert.Equal(t, "keys/pivotal.pem", target)
	b, err := tr.ReadFile("keys/pivotal.pem")
	require.NoError(t, err)
	assert.Equal(t, "content of keys/pivotal.pem", string(b))
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		info, _ := d.Info()
		if d.IsDir() {
			assert.Equal(t, os.FileMode(0o700), info.Mode().Perm(), p)
		} else {
			assert.True(t, info.Mode().IsRegular(), "%s: no link is made here", p)
			assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), p)
		}
		return nil
	}))
	require.NoError(t, fstest.TestFS(tr.FS(), "private-chef.rb", "keys/pivotal.pem"))

	d, err := tr.derive(filepath.Join(t.TempDir(), "derived"), map[string][]byte{"keys/pivotal.pem": []byte("other"), "private-chef-secrets.json": nil, "new/x": []byte("x")}, 0o600)
	require.NoError(t, err)
	b, err = d.ReadFile("keys/pivotal.pem")
	require.NoError(t, err)
	assert.Equal(t, "other", string(b))
	_, err = d.ReadFile("private-chef-secrets.json")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	require.NoError(t, fstest.TestFS(d.FS(), "private-chef.rb", "keys/pivotal.pem", "new/x"))

	_, err = CopyTree(context.Background(), cluster.NewLocal("bootstrap"), filepath.Join(src, "private-chef.rb"), filepath.Join(t.TempDir(), "x"))
	assert.ErrorContains(t, err, "not a directory")
}

// A copy stops at its bound before it reads a file that would pass it,
// naming the file: a replica in /dev/shm never takes this machine's memory.
func TestCopyTreeBound(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "private-chef.rb"), []byte("topology \"ha\"\n"), 0o644))
	big := filepath.Join(src, "old-backup.tar")
	require.NoError(t, os.WriteFile(big, nil, 0o600))
	require.NoError(t, os.Truncate(big, maxTreeBytes+1)) // sparse: nothing on disk
	_, err := CopyTree(context.Background(), cluster.NewLocal("bootstrap"), src, filepath.Join(t.TempDir(), "copy"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), big+" (65536 KiB) would take the copy past its bound of 64 MiB")
	assert.Contains(t, err.Error(), "move what is not configuration out of "+src)
}
