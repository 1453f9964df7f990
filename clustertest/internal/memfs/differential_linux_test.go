package memfs

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// tree is what the differential test does to a tree: the calls the
// simulation makes, with os's signatures.
type tree interface {
	Mkdir(string, fs.FileMode) error
	MkdirAll(string, fs.FileMode) error
	WriteFile(string, []byte, fs.FileMode) error
	ReadFile(string) ([]byte, error)
	Remove(string) error
	RemoveAll(string) error
	Rename(string, string) error
	Symlink(string, string) error
	Link(string, string) error
	Readlink(string) (string, error)
	Lstat(string) (fs.FileInfo, error)
	Stat(string) (fs.FileInfo, error)
	ReadDir(string) ([]fs.DirEntry, error)
	Chmod(string, fs.FileMode) error
	Truncate(string, int64) error
	create(string) error // O_WRONLY|O_CREATE|O_EXCL
}

// osTree is a real directory, names taken under it.
type osTree struct{ root string }

func (o osTree) p(name string) string                              { return filepath.Join(o.root, clean(name)) }
func (o osTree) Mkdir(n string, m fs.FileMode) error               { return os.Mkdir(o.p(n), m) }
func (o osTree) MkdirAll(n string, m fs.FileMode) error            { return os.MkdirAll(o.p(n), m) }
func (o osTree) WriteFile(n string, b []byte, m fs.FileMode) error { return os.WriteFile(o.p(n), b, m) }
func (o osTree) ReadFile(n string) ([]byte, error)                 { return os.ReadFile(o.p(n)) }
func (o osTree) Remove(n string) error                             { return os.Remove(o.p(n)) }
func (o osTree) RemoveAll(n string) error                          { return os.RemoveAll(o.p(n)) }
func (o osTree) Rename(a, b string) error                          { return os.Rename(o.p(a), o.p(b)) }
func (o osTree) Symlink(t, l string) error                         { return os.Symlink(t, o.p(l)) }
func (o osTree) Link(a, b string) error                            { return os.Link(o.p(a), o.p(b)) }
func (o osTree) Readlink(n string) (string, error)                 { return os.Readlink(o.p(n)) }
func (o osTree) Lstat(n string) (fs.FileInfo, error)               { return os.Lstat(o.p(n)) }
func (o osTree) Stat(n string) (fs.FileInfo, error)                { return os.Stat(o.p(n)) }
func (o osTree) ReadDir(n string) ([]fs.DirEntry, error)           { return os.ReadDir(o.p(n)) }
func (o osTree) Chmod(n string, m fs.FileMode) error               { return os.Chmod(o.p(n), m) }
func (o osTree) Truncate(n string, size int64) error               { return os.Truncate(o.p(n), size) }
func (o osTree) create(n string) error {
	f, err := os.OpenFile(o.p(n), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		f.Close()
	}
	return err
}

// memTree is the tree in memory, with the umask os applies to new files.
type memTree struct {
	*FS
	umask fs.FileMode
}

func (m memTree) Mkdir(n string, p fs.FileMode) error    { return m.FS.Mkdir(n, p&^m.umask) }
func (m memTree) MkdirAll(n string, p fs.FileMode) error { return m.FS.MkdirAll(n, p&^m.umask) }
func (m memTree) WriteFile(n string, b []byte, p fs.FileMode) error {
	return m.FS.WriteFile(n, b, p&^m.umask)
}
func (m memTree) create(n string) error {
	f, err := m.FS.OpenFile(n, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644&^m.umask)
	if err == nil {
		f.Close()
	}
	return err
}

// TestSameAsTheKernel runs the same calls on a real directory and on the
// tree in memory, and wants the same answers: errors (their errno), file
// contents, modes and listings. Link targets are relative, so that the
// real ones stay in the directory.
func TestSameAsTheKernel(t *testing.T) {
	umask := fs.FileMode(syscall.Umask(0))
	syscall.Umask(int(umask))
	real, mem := osTree{t.TempDir()}, memTree{FS: New(func() time.Time { return time.Time{} }), umask: umask}
	steps := []struct {
		name string
		do   func(tree) string
	}{
		{"mkdir", func(x tree) string { return res(x.Mkdir("/a", 0o755)) }},
		{"mkdir again", func(x tree) string { return res(x.Mkdir("/a", 0o755)) }},
		{"mkdir without parent", func(x tree) string { return res(x.Mkdir("/x/y", 0o755)) }},
		{"write", func(x tree) string { return res(x.WriteFile("/a/f", []byte("hello"), 0o644)) }},
		{"mkdir under a file", func(x tree) string { return res(x.Mkdir("/a/f/g", 0o755)) }},
		{"mkdirall under a file", func(x tree) string { return res(x.MkdirAll("/a/f/g/h", 0o755)) }},
		{"read", func(x tree) string { return read(x, "/a/f") }},
		{"read a directory", func(x tree) string { return read(x, "/a") }},
		{"read nothing", func(x tree) string { return read(x, "/nope") }},
		{"links", func(x tree) string {
			return res(x.Symlink("a", "/l"), x.Symlink("a/f", "/lf"), x.Symlink("missing", "/dang"), x.Symlink("c", "/lc"))
		}},
		{"link over a file", func(x tree) string { return res(x.Symlink("x", "/a/f")) }},
		{"read through a link", func(x tree) string { return read(x, "/lf") + read(x, "/l/f") }},
		{"stat a dangling link", func(x tree) string { return stat(x, "/dang") + lstat(x, "/dang") }},
		{"write through a dangling link", func(x tree) string {
			return res(x.WriteFile("/dang", []byte("new"), 0o600)) + read(x, "/missing") + lstat(x, "/missing")
		}},
		{"exclusive create on a link", func(x tree) string { return res(x.create("/dang")) }},
		{"exclusive create", func(x tree) string { return res(x.create("/a/new"), x.create("/a/new")) }},
		{"readlink", func(x tree) string { return readlink(x, "/a/f") + readlink(x, "/l") + readlink(x, "/nope") }},
		{"list", func(x tree) string { return list(x, "/") + list(x, "/l") + list(x, "/a/f") + list(x, "/nope") }},
		{"remove a full directory", func(x tree) string { return res(x.Remove("/a"), x.Remove("/nope")) }},
		{"rename a file", func(x tree) string { return res(x.Rename("/a/f", "/b")) + read(x, "/b") + lstat(x, "/a/f") }},
		{"rename over a file", func(x tree) string {
			return res(x.WriteFile("/a/g", []byte("x"), 0o640), x.Rename("/a/g", "/b")) + read(x, "/b") + lstat(x, "/b")
		}},
		{"rename a file over a directory", func(x tree) string {
			return res(x.Mkdir("/c", 0o700), x.WriteFile("/c/h", nil, 0o644), x.Rename("/b", "/c"))
		}},
		{"rename over a full directory", func(x tree) string { return res(x.Rename("/a", "/c")) }},
		{"rename over an empty directory", func(x tree) string { return res(x.Mkdir("/e", 0o755), x.Rename("/a", "/e")) + list(x, "/e") }},
		{"rename a directory over a file", func(x tree) string { return res(x.Rename("/e", "/b")) }},
		{"rename into itself", func(x tree) string { return res(x.Rename("/e", "/e/sub")) }},
		{"rename nothing", func(x tree) string { return res(x.Rename("/nope", "/z")) }},
		{"rename over a link", func(x tree) string { return res(x.Rename("/b", "/lc")) + lstat(x, "/lc") + lstat(x, "/c") }},
		{"loop", func(x tree) string {
			return res(x.Symlink("s1", "/s2"), x.Symlink("s2", "/s1")) + stat(x, "/s1") + stat(x, "/s1/x")
		}},
		{"mkdirall", func(x tree) string {
			return res(x.MkdirAll("/p/q/r", 0o750), x.MkdirAll("/lc/q", 0o755), x.MkdirAll("/l/q", 0o755), x.MkdirAll("/p", 0o755)) + lstat(x, "/p/q") + lstat(x, "/e/q")
		}},
		{"hard link", func(x tree) string {
			return res(x.Link("/missing", "/hard"), x.WriteFile("/hard", []byte("h2"), 0o644), x.Link("/c", "/hc"), x.Link("/missing", "/b")) + read(x, "/missing")
		}},
		{"truncate", func(x tree) string {
			return res(x.Truncate("/missing", 5)) + read(x, "/missing") + res(x.Truncate("/missing", 1)) + read(x, "/missing") + res(x.Truncate("/c", 0), x.Truncate("/nope", 0))
		}},
		{"chmod", func(x tree) string {
			return res(x.Chmod("/lf", 0o700), x.Chmod("/c", 0o755|fs.ModeSticky), x.Chmod("/nope", 0o644)) + lstat(x, "/e/f") + lstat(x, "/lf") + lstat(x, "/c")
		}},
		{"remove a link", func(x tree) string { return res(x.Remove("/l")) + lstat(x, "/e") }},
		{"remove an empty directory", func(x tree) string { return res(x.Remove("/p/q/r")) + list(x, "/p/q") }},
		{"removeall", func(x tree) string {
			return res(x.RemoveAll("/lc"), x.RemoveAll("/nope"), x.RemoveAll("/c"), x.RemoveAll("/x/y/z")) + list(x, "/")
		}},
	}
	for _, s := range steps {
		assert.Equal(t, s.do(real), s.do(mem), s.name)
	}
}

// res is a list of calls' outcomes: ok, or the errno.
func res(errs ...error) string {
	var out []string
	for _, err := range errs {
		out = append(out, outcome(err))
	}
	return strings.Join(out, " ") + ";"
}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	return errno(err).Error()
}

func read(x tree, n string) string {
	b, err := x.ReadFile(n)
	if err != nil {
		return outcome(err) + ";"
	}
	return string(b) + ";"
}

func readlink(x tree, n string) string {
	t, err := x.Readlink(n)
	if err != nil {
		return outcome(err) + ";"
	}
	return t + ";"
}

func describe(fi fs.FileInfo, err error) string {
	if err != nil {
		return outcome(err) + ";"
	}
	size := fi.Size()
	if fi.IsDir() {
		size = 0 // a directory's size is the file system's own
	}
	return fi.Name() + " " + fi.Mode().String() + " " + strconv.FormatInt(size, 10) + ";"
}

func stat(x tree, n string) string  { return describe(x.Stat(n)) }
func lstat(x tree, n string) string { return describe(x.Lstat(n)) }

func list(x tree, n string) string {
	ents, err := x.ReadDir(n)
	if err != nil {
		return outcome(err) + ";"
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name()+":"+e.Type().String())
	}
	return strings.Join(slices.Clip(out), ",") + ";"
}
