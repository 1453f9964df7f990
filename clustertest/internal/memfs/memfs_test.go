package memfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var epoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// clock is a hand-moved clock for the trees' modification times.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFS() (*FS, *clock) {
	c := &clock{t: epoch}
	return New(c.now), c
}

func errno(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

func TestDirFSIsAnIOFS(t *testing.T) {
	f, _ := newFS()
	require.NoError(t, f.MkdirAll("/etc/opscode", 0o755))
	require.NoError(t, f.WriteFile("/etc/opscode/private-chef.rb", []byte("topology \"ha\"\n"), 0o644))
	require.NoError(t, f.WriteFile("/etc/opscode/pivotal.pem", []byte("key"), 0o600))
	require.NoError(t, f.MkdirAll("/opt/opscode/sv/nginx", 0o755))
	require.NoError(t, f.Symlink("/opt/opscode/sv/nginx", "/opt/opscode/service-nginx"))
	require.NoError(t, f.Symlink("../etc/opscode/private-chef.rb", "/opt/rb"))
	require.NoError(t, fstest.TestFS(f.DirFS("/"), "etc/opscode/private-chef.rb", "etc/opscode/pivotal.pem", "opt/opscode/sv/nginx", "opt/rb"))
	require.NoError(t, fstest.TestFS(f.DirFS("/etc"), "opscode/private-chef.rb"))
	b, err := fs.ReadFile(f.DirFS("/"), "opt/rb")
	require.NoError(t, err)
	assert.Equal(t, "topology \"ha\"\n", string(b), "a relative link resolves from its directory")
	_, err = fs.Stat(f.DirFS("/"), "/etc")
	assert.ErrorIs(t, err, fs.ErrInvalid, "io/fs names are unrooted")
}

func TestLinksResolveInsideTheTree(t *testing.T) {
	f, _ := newFS()
	require.NoError(t, f.MkdirAll("/opt/opscode/sv/nginx", 0o755))
	require.NoError(t, f.MkdirAll("/opt/opscode/service", 0o755))
	require.NoError(t, f.Symlink("/opt/opscode/sv/nginx", "/opt/opscode/service/nginx"))
	require.NoError(t, f.Symlink("../sv/nginx", "/opt/opscode/service/rel"))
	require.NoError(t, f.WriteFile("/opt/opscode/service/nginx/down", nil, 0o644), "through the link")
	for _, p := range []string{"/opt/opscode/service/nginx", "/opt/opscode/service/rel", "opt/opscode/service/rel/"} {
		st, err := f.Stat(p)
		require.NoError(t, err, p)
		assert.True(t, st.IsDir(), p)
		st, err = f.Stat(p + "/down")
		require.NoError(t, err, p)
		assert.True(t, st.Mode().IsRegular(), p)
	}
	st, err := f.Lstat("/opt/opscode/service/nginx")
	require.NoError(t, err)
	assert.Equal(t, fs.ModeSymlink|0o777, st.Mode())
	assert.Equal(t, "nginx", st.Name())
	assert.Equal(t, int64(len("/opt/opscode/sv/nginx")), st.Size(), "a link's size is its target's length")

	// A chain of MaxLinks links resolves; one more is a loop.
	require.NoError(t, f.WriteFile("/end", []byte("end"), 0o644))
	prev := "/end"
	for i := range MaxLinks + 1 {
		l := fmt.Sprintf("/l%d", i)
		require.NoError(t, f.Symlink(prev, l))
		prev = l
	}
	b, err := f.ReadFile(fmt.Sprintf("/l%d", MaxLinks-1))
	require.NoError(t, err)
	assert.Equal(t, "end", string(b))
	_, err = f.Stat(fmt.Sprintf("/l%d", MaxLinks))
	assert.Equal(t, syscall.ELOOP, errno(err))
	require.NoError(t, f.Symlink("/self", "/self"))
	_, err = f.Stat("/self/x")
	assert.Equal(t, syscall.ELOOP, errno(err))

	// A dangling link: Lstat finds it, Stat does not, a write makes its
	// target; an exclusive create does not follow it.
	require.NoError(t, f.Symlink("/var/new", "/dangling"))
	require.NoError(t, f.Mkdir("/var", 0o755))
	_, err = f.Stat("/dangling")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = f.Lstat("/dangling")
	assert.NoError(t, err)
	_, err = f.OpenFile("/dangling", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	assert.ErrorIs(t, err, fs.ErrExist)
	require.NoError(t, f.WriteFile("/dangling", []byte("made"), 0o640))
	b, err = f.ReadFile("/var/new")
	require.NoError(t, err)
	assert.Equal(t, "made", string(b))
	st, err = f.Stat("/var/new")
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o640), st.Mode())

	// RemoveAll of a link removes the link, not what it points to.
	require.NoError(t, f.RemoveAll("/opt/opscode/service/nginx"))
	_, err = f.Stat("/opt/opscode/sv/nginx/down")
	assert.NoError(t, err)
}

func TestRenameReplacesInOneStep(t *testing.T) {
	f, _ := newFS()
	require.NoError(t, f.MkdirAll("/etc/opscode", 0o755))
	require.NoError(t, f.WriteFile("/etc/opscode/rb", []byte("old"), 0o644))
	r, err := f.OpenFile("/etc/opscode/rb", os.O_RDONLY, 0)
	require.NoError(t, err)
	w, err := f.OpenFile("/etc/opscode/.rb.tmp", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	require.NoError(t, err)
	_, err = w.Write([]byte("new"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, f.Rename("/etc/opscode/.rb.tmp", "/etc/opscode/rb"))
	b, err := f.ReadFile("/etc/opscode/rb")
	require.NoError(t, err)
	assert.Equal(t, "new", string(b))
	old, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "old", string(old), "a reader keeps the file it opened")
	ents, err := f.ReadDir("/etc/opscode")
	require.NoError(t, err)
	require.Len(t, ents, 1)
	assert.Equal(t, "rb", ents[0].Name())
	st, _ := ents[0].Info()
	assert.Equal(t, fs.FileMode(0o600), st.Mode(), "the new file's mode")

	// A stage swapped in for a tree, as CopyTree does.
	require.NoError(t, f.MkdirAll("/etc/stage/sub", 0o755))
	require.NoError(t, f.Rename("/etc/opscode", "/etc/old"))
	require.NoError(t, f.Rename("/etc/stage", "/etc/opscode"))
	_, err = f.Stat("/etc/opscode/sub")
	assert.NoError(t, err)
	assert.Equal(t, syscall.EINVAL, errno(f.Rename("/etc/opscode", "/etc/opscode/sub/x")), "into itself")
}

func TestModTimesFollowTheClock(t *testing.T) {
	f, c := newFS()
	require.NoError(t, f.Mkdir("/d", 0o755))
	c.add(time.Minute)
	require.NoError(t, f.WriteFile("/d/f", nil, 0o644))
	st, err := f.Stat("/d/f")
	require.NoError(t, err)
	assert.Equal(t, epoch.Add(time.Minute), st.ModTime())
	st, err = f.Stat("/d")
	require.NoError(t, err)
	assert.Equal(t, epoch.Add(time.Minute), st.ModTime(), "a new entry changes its directory")
	c.add(time.Minute)
	a, err := f.OpenFile("/d/f", os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = a.Write([]byte("x"))
	require.NoError(t, err)
	st, err = f.Stat("/d/f")
	require.NoError(t, err)
	assert.Equal(t, epoch.Add(2*time.Minute), st.ModTime())
	require.NoError(t, f.Chtimes("/d/f", epoch, epoch))
	st, err = f.Stat("/d/f")
	require.NoError(t, err)
	assert.Equal(t, epoch, st.ModTime())
}

// Concurrent writers at their own offsets (pkg/sftp's concurrent writes
// of one upload) and readers of the tree, under the race detector.
func TestConcurrentWritesAndReads(t *testing.T) {
	f, _ := newFS()
	w, err := f.OpenFile("/pkg.deb", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	require.NoError(t, err)
	const chunk, chunks = 1 << 10, 64
	want := make([]byte, chunk*chunks)
	for i := range want {
		want[i] = byte(i % 251)
	}
	var wg sync.WaitGroup
	for i := chunks - 1; i >= 0; i-- {
		wg.Go(func() {
			_, err := w.WriteAt(want[i*chunk:(i+1)*chunk], int64(i*chunk))
			assert.NoError(t, err)
		})
		wg.Go(func() {
			f.Stat("/pkg.deb")
			f.ReadDir("/")
			f.WriteFile(fmt.Sprintf("/f%d", i), []byte("x"), 0o644)
		})
	}
	wg.Wait()
	require.NoError(t, w.Close())
	got, err := f.ReadFile("/pkg.deb")
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got))
	_, err = w.WriteAt([]byte("x"), 0)
	assert.ErrorIs(t, err, os.ErrClosed)
}
