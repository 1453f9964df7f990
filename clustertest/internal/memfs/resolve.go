package memfs

import (
	"io/fs"
	"path"
	"strings"
	"syscall"
)

// clean makes name an absolute, clean path without allocating when it
// already is one.
func clean(name string) string {
	if strings.HasPrefix(name, "/") {
		return path.Clean(name)
	}
	return path.Clean("/" + name)
}

// entry is where a name leads: the directory holding it and the name in
// it, and the inode there (nil when nothing is). The root has no dir.
type entry struct {
	dir  *inode
	base string
	ino  *inode
}

// resolve walks name from the root, following every link on the way and
// the last one too when follow is set. A missing last component is not an
// error: its entry has a nil ino, for the calls that create it.
func (f *FS) resolve(name string, follow bool) (entry, syscall.Errno) {
	p, links := clean(name), 0
restart:
	if p == "/" {
		return entry{ino: f.root}, 0
	}
	dir := f.root
	for i := 1; ; {
		j := strings.IndexByte(p[i:], '/')
		last := j < 0
		c := p[i:]
		if !last {
			c = p[i : i+j]
		}
		if !dir.isDir() {
			return entry{}, syscall.ENOTDIR
		}
		ino := dir.child(c)
		switch {
		case ino == nil && last:
			return entry{dir: dir, base: c, ino: nil}, 0
		case ino == nil:
			return entry{}, syscall.ENOENT
		case ino.isLink() && (follow || !last):
			if links++; links > MaxLinks {
				return entry{}, syscall.ELOOP
			}
			if ino.target == "" {
				return entry{}, syscall.ENOENT
			}
			t := ino.target
			if !strings.HasPrefix(t, "/") {
				t = p[:i] + t // p[:i] is the link's directory, with its slash
			}
			if !last {
				t += p[i+j:]
			}
			p = path.Clean(t)
			goto restart
		case last:
			return entry{dir: dir, base: c, ino: ino}, 0
		}
		dir, i = ino, i+j+1
	}
}

// lookup is resolve for an existing name.
func (f *FS) lookup(op, name string, follow bool) (entry, error) {
	e, errno := f.resolve(name, follow)
	if errno == 0 && e.ino == nil {
		errno = syscall.ENOENT
	}
	if errno != 0 {
		return e, &fs.PathError{Op: op, Path: name, Err: errno}
	}
	return e, nil
}
