// Package memfs is a file system in memory, with the semantics of a Linux
// one as root sees it: regular files, directories and symbolic links,
// permission bits that are recorded but never refused, links resolved
// inside the tree (an absolute target from its root, a relative one from
// the link's directory), rename replacing a file in one step (and, as
// os.Rename, refusing to replace a directory), and errors as the kernel
// gives them (*fs.PathError or *os.LinkError holding a syscall.Errno, so
// errors.Is(err, fs.ErrNotExist) and pkg/sftp's status mapping behave as
// they do on a real tree).
//
// It is clustertest's node file system: a simulated cluster's nodes write
// some six hundred files each time one is built, and a syscall per Stat
// made those trees a third of the simulation's CPU under the race
// detector. One mutex guards a tree; every method is safe to call from
// many goroutines.
//
// Names are slash-separated paths; a relative name is taken from the root,
// and "." and ".." are resolved lexically (as filepath.Join did for the
// directory trees this replaces). There is no umask: a mode given is the
// mode a file gets, and callers mask it as their process would.
package memfs

import (
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MaxLinks is how many symbolic links one name may pass through before a
// lookup fails with ELOOP.
const MaxLinks = 8

// dirSize is what Stat reports as a directory's size (ext4's block).
const dirSize = 4096

// FS is one file tree.
type FS struct {
	mu   sync.Mutex
	root *inode
	now  func() time.Time
}

// New returns an empty tree (a root directory, 0755) whose files take
// their modification times from now.
func New(now func() time.Time) *FS {
	f := &FS{now: now}
	f.root = &inode{mode: fs.ModeDir | 0o755, mtime: now()}
	return f
}

// inode is a file, directory or link; a hard link is a second dirent
// pointing at the same inode.
type inode struct {
	mode   fs.FileMode // type and permission bits
	mtime  time.Time
	data   []byte   // a regular file's content
	target string   // a link's target
	ents   []dirent // a directory's entries, sorted by name
}

type dirent struct {
	name string
	ino  *inode
}

func (i *inode) isDir() bool  { return i.mode.IsDir() }
func (i *inode) isLink() bool { return i.mode&fs.ModeSymlink != 0 }

func (i *inode) find(name string) (int, bool) {
	return slices.BinarySearchFunc(i.ents, name, func(e dirent, n string) int { return strings.Compare(e.name, n) })
}

func (i *inode) child(name string) *inode {
	if k, ok := i.find(name); ok {
		return i.ents[k].ino
	}
	return nil
}

func (i *inode) link(name string, c *inode, now time.Time) {
	k, ok := i.find(name)
	if ok {
		i.ents[k].ino = c
	} else {
		i.ents = slices.Insert(i.ents, k, dirent{name, c})
	}
	i.mtime = now
}

func (i *inode) unlink(name string, now time.Time) {
	if k, ok := i.find(name); ok {
		i.ents = slices.Delete(i.ents, k, k+1)
		i.mtime = now
	}
}

// size is what stat reports: the content's length, a link's target's, a
// directory's block.
func (i *inode) size() int64 {
	switch {
	case i.isDir():
		return dirSize
	case i.isLink():
		return int64(len(i.target))
	}
	return int64(len(i.data))
}

// modeBits keeps the permission and setuid, setgid and sticky bits of m,
// as chmod(2) does.
func modeBits(m fs.FileMode) fs.FileMode {
	return m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

func (f *FS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	if e.ino.isDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: syscall.EISDIR}
	}
	return slices.Clone(e.ino.data), nil
}

// WriteFile is os.WriteFile: perm is the mode of a file it creates; an
// existing file keeps its mode.
func (f *FS) WriteFile(name string, data []byte, perm fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ino, err := f.open(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	ino.data, ino.mtime = slices.Clone(data), f.now()
	return nil
}

// open finds or makes the inode os.OpenFile(name, flag, perm) would open.
func (f *FS) open(name string, flag int, perm fs.FileMode) (*inode, error) {
	create, excl := flag&os.O_CREATE != 0, flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL
	e, errno := f.resolve(name, !excl) // O_EXCL does not follow a last link
	switch {
	case errno != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: errno}
	case e.ino == nil && !create:
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.ENOENT}
	case e.ino == nil:
		now := f.now()
		e.ino = &inode{mode: modeBits(perm), mtime: now}
		e.dir.link(e.base, e.ino, now)
		return e.ino, nil
	case excl:
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EEXIST}
	case e.ino.isDir() && flag&(os.O_WRONLY|os.O_RDWR) != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	}
	if flag&os.O_TRUNC != 0 && flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		e.ino.data, e.ino.mtime = nil, f.now()
	}
	return e.ino, nil
}

func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookup("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return e.ino.info(baseName(name)), nil
}

func (f *FS) Stat(name string) (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookup("stat", name, true)
	if err != nil {
		return nil, err
	}
	return e.ino.info(baseName(name)), nil
}

// ReadDir lists a directory (a link to one is followed), sorted by name,
// each entry's Info the entry itself (a link is a link).
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	if !e.ino.isDir() {
		return nil, &fs.PathError{Op: "readdirent", Path: name, Err: syscall.ENOTDIR}
	}
	out := make([]fs.DirEntry, len(e.ino.ents))
	for k, d := range e.ino.ents {
		out[k] = fs.FileInfoToDirEntry(d.ino.info(d.name))
	}
	return out, nil
}

// Readlink is a link's target as it was written.
func (f *FS) Readlink(name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if !e.ino.isLink() {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: syscall.EINVAL}
	}
	return e.ino.target, nil
}

// Mkdir makes one directory with mode perm; its parent must exist.
func (f *FS) Mkdir(name string, perm fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mkdir(name, perm)
}

func (f *FS) mkdir(name string, perm fs.FileMode) error {
	e, errno := f.resolve(name, false)
	switch {
	case errno != 0:
		return &fs.PathError{Op: "mkdir", Path: name, Err: errno}
	case e.ino != nil:
		return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.EEXIST}
	}
	now := f.now()
	e.dir.link(e.base, &inode{mode: fs.ModeDir | modeBits(perm), mtime: now}, now)
	return nil
}

// MkdirAll is os.MkdirAll: the directories missing on the way are made
// with mode perm; a directory there (or a link to one) is enough.
func (f *FS) MkdirAll(name string, perm fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := clean(name)
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		e, errno := f.resolve(p[:i], true)
		switch {
		case errno != 0:
			return &fs.PathError{Op: "mkdir", Path: p[:i], Err: errno}
		case e.ino == nil:
			if err := f.mkdir(p[:i], perm); err != nil {
				return err
			}
		case !e.ino.isDir():
			return &fs.PathError{Op: "mkdir", Path: p[:i], Err: syscall.ENOTDIR}
		}
	}
	return nil
}

// Symlink makes link, a symbolic link to target.
func (f *FS) Symlink(target, link string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, errno := f.resolve(link, false)
	switch {
	case errno != 0:
		return &os.LinkError{Op: "symlink", Old: target, New: link, Err: errno}
	case e.ino != nil:
		return &os.LinkError{Op: "symlink", Old: target, New: link, Err: syscall.EEXIST}
	}
	now := f.now()
	e.dir.link(e.base, &inode{mode: fs.ModeSymlink | 0o777, target: target, mtime: now}, now)
	return nil
}

// Link makes newname a hard link to oldname (a link is not followed).
func (f *FS) Link(oldname, newname string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, err := f.lookup("link", oldname, false)
	if err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err.(*fs.PathError).Err}
	}
	if o.ino.isDir() {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EPERM}
	}
	n, errno := f.resolve(newname, false)
	switch {
	case errno != 0:
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: errno}
	case n.ino != nil:
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EEXIST}
	}
	n.dir.link(n.base, o.ino, f.now())
	return nil
}

// Remove removes a file, a link or an empty directory, as os.Remove does.
func (f *FS) Remove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookup("remove", name, false)
	switch {
	case err != nil:
		return err
	case e.dir == nil:
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.EBUSY}
	case e.ino.isDir() && len(e.ino.ents) > 0:
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
	}
	e.dir.unlink(e.base, f.now())
	return nil
}

// RemoveAll removes name and everything under it (a link, not what it
// points to); a name that does not exist is no error.
func (f *FS) RemoveAll(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, errno := f.resolve(name, false)
	switch {
	case errno == syscall.ENOENT || errno == 0 && e.ino == nil:
		return nil
	case errno != 0:
		return &fs.PathError{Op: "unlinkat", Path: name, Err: errno}
	case e.dir == nil:
		return &fs.PathError{Op: "unlinkat", Path: name, Err: syscall.EBUSY}
	}
	e.dir.unlink(e.base, f.now())
	return nil
}

// Rename is os.Rename: a file or link at newname is replaced in the same
// step (rename(2)), a directory there is not (EEXIST, as os.Rename
// answers everywhere); neither name's last link is followed.
func (f *FS) Rename(oldname, newname string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(errno syscall.Errno) error {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: errno}
	}
	o, errno := f.resolve(oldname, false)
	switch {
	case errno != 0:
		return fail(errno)
	case o.ino == nil:
		return fail(syscall.ENOENT)
	case o.dir == nil:
		return fail(syscall.EBUSY)
	}
	n, errno := f.resolve(newname, false)
	switch {
	case errno != 0:
		return fail(errno)
	case n.dir == nil || n.ino != nil && n.ino.isDir():
		return fail(syscall.EEXIST)
	case n.ino == o.ino:
		return nil
	case o.ino.isDir() && f.within(n.dir, o.ino):
		return fail(syscall.EINVAL) // into itself
	case n.ino != nil && o.ino.isDir():
		return fail(syscall.ENOTDIR)
	}
	now := f.now()
	o.dir.unlink(o.base, now)
	n.dir.link(n.base, o.ino, now)
	return nil
}

// within reports whether dir is d or under it.
func (f *FS) within(dir, d *inode) bool {
	if dir == d {
		return true
	}
	for _, e := range d.ents {
		if e.ino.isDir() && f.within(dir, e.ino) {
			return true
		}
	}
	return false
}

// Chmod sets the permission, setuid, setgid and sticky bits of name (a
// link is followed).
func (f *FS) Chmod(name string, mode fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookup("chmod", name, true)
	if err != nil {
		return err
	}
	e.ino.mode = e.ino.mode&fs.ModeType | modeBits(mode)
	return nil
}

// Chtimes sets name's modification time (the tree keeps no access time).
func (f *FS) Chtimes(name string, atime, mtime time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookup("chtimes", name, true)
	if err != nil {
		return err
	}
	e.ino.mtime = mtime
	return nil
}

// Truncate cuts or zero-extends a file to size bytes.
func (f *FS) Truncate(name string, size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookup("truncate", name, true)
	switch {
	case err != nil:
		return err
	case e.ino.isDir():
		return &fs.PathError{Op: "truncate", Path: name, Err: syscall.EISDIR}
	case size < 0:
		return &fs.PathError{Op: "truncate", Path: name, Err: syscall.EINVAL}
	}
	e.ino.data = resize(e.ino.data, size)
	e.ino.mtime = f.now()
	return nil
}

// resize makes b n bytes long, zero-filling what it adds.
func resize(b []byte, n int64) []byte {
	old := int64(len(b))
	if n <= old {
		return b[:n]
	}
	b = slices.Grow(b, int(n-old))[:n]
	clear(b[old:])
	return b
}
