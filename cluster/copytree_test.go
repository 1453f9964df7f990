package cluster_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// makeTree writes an /etc/opscode-like tree of n files of mixed sizes
// (mostly small config files, a few certificates and one large blob), with
// subdirectories, a restrictive mode and a symlink.
func makeTree(t testing.TB, root string, n int) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "keys", "private"), 0o755))
	require.NoError(t, os.Chmod(filepath.Join(root, "keys", "private"), 0o700))
	for i := range n {
		size := 200 + r.IntN(4000)
		switch {
		case i%50 == 0:
			size = 256 << 10
		case i%10 == 0:
			size = 16 << 10
		}
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		dir := root
		switch i % 3 {
		case 1:
			dir = filepath.Join(root, "keys")
		case 2:
			dir = filepath.Join(root, "keys", "private")
		}
		mode := fs.FileMode(0o644)
		if i%4 == 0 {
			mode = 0o600
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%03d.conf", i)), b, mode))
	}
	require.NoError(t, os.Symlink("keys/file-001.conf", filepath.Join(root, "pivotal.pem")))
}

// assertSameTree compares two local trees: names, modes, contents, links.
func assertSameTree(t *testing.T, want, got string) {
	t.Helper()
	count := 0
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(want, p)
		wi, err := os.Lstat(p)
		require.NoError(t, err)
		gi, err := os.Lstat(filepath.Join(got, rel))
		if !assert.NoError(t, err, rel) {
			return nil
		}
		assert.Equal(t, wi.Mode(), gi.Mode(), rel)
		switch {
		case wi.Mode().IsRegular():
			a, _ := os.ReadFile(p)
			b, _ := os.ReadFile(filepath.Join(got, rel))
			assert.Equal(t, sha256.Sum256(a), sha256.Sum256(b), rel)
			count++
		case wi.Mode()&fs.ModeSymlink != 0:
			a, _ := os.Readlink(p)
			b, _ := os.Readlink(filepath.Join(got, rel))
			assert.Equal(t, a, b, rel)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Positive(t, count)
	err = filepath.WalkDir(got, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(got, p)
		_, err = os.Lstat(filepath.Join(want, rel))
		assert.NoError(t, err, "%s is in the copy but not in the source", rel)
		return nil
	})
	require.NoError(t, err)
}

func fixedNow() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }

func testCopyTree(t *testing.T, from cluster.Node, to cluster.TreeWriter) {
	ctx := context.Background()
	base := t.TempDir()
	src := filepath.Join(base, "bootstrap", "opscode")
	dst := filepath.Join(base, "fe1", "opscode")
	makeTree(t, src, 200)
	require.NoError(t, os.MkdirAll(dst, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dst, "private-chef.rb"), []byte("topology \"ha\"\n# old\n"), 0o644))

	rep, err := cluster.CopyTree(ctx, from, src, to, dst, cluster.CopyOptions{Now: fixedNow})
	require.NoError(t, err)
	assert.Equal(t, 200, rep.Files)
	assert.Equal(t, 3, rep.Dirs)
	assert.Equal(t, 1, rep.Symlinks)
	assert.Equal(t, 200, rep.Sent, "nothing in the old tree matches")
	assert.Zero(t, rep.Reused)
	assert.Equal(t, treeBytes(t, src), rep.BytesSent)
	assert.Equal(t, rep.Bytes, rep.BytesSent)
	assert.Equal(t, 1, rep.Removed, "private-chef.rb")
	assert.Equal(t, dst+".chefha-backup-20261125T120000Z", rep.Backup)
	assertSameTree(t, src, dst)
	old, err := os.ReadFile(filepath.Join(rep.Backup, "private-chef.rb"))
	require.NoError(t, err)
	assert.Contains(t, string(old), "# old", "the old tree is kept as the dated backup")
	_, err = os.Stat(filepath.Join(dst, "private-chef.rb"))
	assert.ErrorIs(t, err, fs.ErrNotExist, "the new tree replaces the old, it does not merge")
}

func TestCopyTreeLocal(t *testing.T) {
	t.Parallel()
	testCopyTree(t, cluster.NewLocal("bootstrap"), cluster.NewLocal("fe1"))
}

func TestCopyTreeInProcessSSH(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	testCopyTree(t, e.dial(t, "root"), e.dial(t, "root"))
}

func TestCopyTreeOpenSSH(t *testing.T) {
	t.Parallel()
	k := newClientKey(t)
	a := startSSHD(t, k)
	b := startSSHD(t, k)
	testCopyTree(t, dialReal(t, a.config(k, "bootstrap")), dialReal(t, b.config(k, "fe1")))
}

// corruptingNode flips a byte of one file as it writes it, as a bad disk
// or a broken transfer would.
type corruptingNode struct {
	*cluster.Local
	victim string
}

func (c corruptingNode) WriteFile(ctx context.Context, name string, data []byte, perm fs.FileMode) error {
	if filepath.Base(name) == c.victim {
		data = append([]byte{data[0] ^ 0xff}, data[1:]...)
	}
	return c.Local.WriteFile(ctx, name, data, perm)
}

// failingNode fails the Nth write.
type failingNode struct {
	*cluster.Local
	victim string
}

func (f failingNode) WriteFile(ctx context.Context, name string, data []byte, perm fs.FileMode) error {
	if filepath.Base(name) == f.victim {
		return errors.New("disk full")
	}
	return f.Local.WriteFile(ctx, name, data, perm)
}

func TestCopyTreeFailureLeavesOldTree(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		to   cluster.TreeWriter
		msg  string
	}{
		{"checksum", corruptingNode{cluster.NewLocal("fe1"), "file-042.conf"}, "SHA-256 after copy"},
		{"write", failingNode{cluster.NewLocal("fe1"), "file-117.conf"}, "disk full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
			makeTree(t, src, 150)
			require.NoError(t, os.MkdirAll(dst, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dst, "keep"), []byte("old"), 0o644))
			_, err := cluster.CopyTree(context.Background(), cluster.NewLocal("bootstrap"), src, tc.to, dst, cluster.CopyOptions{Now: fixedNow})
			require.ErrorContains(t, err, tc.msg)
			assert.ErrorContains(t, err, "copy bootstrap:"+src+" to fe1:"+dst)
			b, err := os.ReadFile(filepath.Join(dst, "keep"))
			require.NoError(t, err)
			assert.Equal(t, "old", string(b))
			ents, _ := os.ReadDir(base)
			assert.Len(t, ents, 2, "no staging tree or backup left behind")
		})
	}
}

func TestCopyTreeRefusesStaleStage(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	makeTree(t, src, 3)
	require.NoError(t, os.MkdirAll(dst+".chefha-new-20261125T120000Z", 0o755))
	_, err := cluster.CopyTree(context.Background(), cluster.NewLocal("a"), src, cluster.NewLocal("b"), dst, cluster.CopyOptions{Now: fixedNow})
	assert.ErrorContains(t, err, "another copy is running or was interrupted")
}

func TestCopyTreeTwiceInOneSecondKeepsBothBackups(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	makeTree(t, src, 3)
	require.NoError(t, os.MkdirAll(dst, 0o755))
	var backups []string
	for range 2 {
		rep, err := cluster.CopyTree(context.Background(), cluster.NewLocal("a"), src, cluster.NewLocal("b"), dst, cluster.CopyOptions{Now: fixedNow})
		require.NoError(t, err)
		backups = append(backups, rep.Backup)
	}
	assert.Equal(t, []string{dst + ".chefha-backup-20261125T120000Z", dst + ".chefha-backup-20261125T120000Z-2"}, backups)
}
