package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
)

// Tree is a copy of a directory tree of a node, kept on this machine in a
// private directory: every directory 0700 and every file 0600, whatever
// they were on the node, whose modes are kept beside them and reported by
// FS. Symlinks are kept as names and targets, never made on this machine.
type Tree struct {
	dir   string
	modes map[string]fs.FileMode // path below the root ("." for it) → mode on the node
	links map[string]string      // symlink → target
	// Files and Bytes count the regular files copied.
	Files int
	Bytes int64
}

// A copy's bounds: /etc/opscode holds tens of files of a few KiB; a root
// that holds more is not the configuration directory, and a copy kept in
// memory (/dev/shm) must not take this machine's memory with it (a 200 MB
// file left in /etc/opscode took /dev/shm to 1 GB, one copy per node).
const (
	maxTreeFiles = 10000
	maxTreeBytes = 64 << 20
)

// CopyTree copies the tree at root on n into dir (made 0700; it must not
// exist), reading only: Stat, ReadDir and ReadFile, over SFTP for an SSH
// node (through sudo cat where the login user may not read a file).
func CopyTree(ctx context.Context, n cluster.Node, root, dir string) (*Tree, error) {
	t := &Tree{dir: dir, modes: map[string]fs.FileMode{}, links: map[string]string{}}
	fail := func(err error) (*Tree, error) {
		return nil, fmt.Errorf("copy %s:%s: %w", n.Name(), root, err)
	}
	st, err := n.Stat(ctx, root)
	if err != nil {
		return fail(err)
	}
	if !st.IsDir() {
		return fail(errors.New("not a directory"))
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fail(err)
	}
	t.modes["."] = st.Mode
	for queue := []string{"."}; len(queue) > 0; queue = queue[1:] {
		rel := queue[0]
		list, err := n.ReadDir(ctx, path.Join(root, rel))
		if err != nil {
			return fail(err)
		}
		for _, fi := range list {
			name := fi.Name()
			if name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
				return fail(fmt.Errorf("%s lists the name %q", path.Join(root, rel), name))
			}
			r := path.Join(rel, name)
			local := filepath.Join(dir, filepath.FromSlash(r))
			switch {
			case fi.Mode&fs.ModeSymlink != 0:
				target := fi.Target
				if target == "" {
					if target, err = readLink(ctx, n, path.Join(root, r)); err != nil {
						return fail(err)
					}
				}
				t.links[r], t.modes[r] = target, fi.Mode
			case fi.IsDir():
				if err := os.Mkdir(local, 0o700); err != nil {
					return fail(err)
				}
				t.modes[r] = fi.Mode
				queue = append(queue, r)
			case fi.Mode.IsRegular():
				if t.Files++; t.Files > maxTreeFiles {
					return fail(fmt.Errorf("more than %d files: not a configuration directory", maxTreeFiles))
				}
				if t.Bytes+fi.Size > maxTreeBytes {
					return fail(fmt.Errorf("%s (%d KiB) would take the copy past its bound of %d MiB for the whole tree: a configuration directory holds kilobytes (move what is not configuration out of %s)",
						path.Join(root, r), fi.Size>>10, maxTreeBytes>>20, root))
				}
				b, err := n.ReadFile(ctx, path.Join(root, r))
				if err != nil {
					return fail(err)
				}
				if t.Bytes+int64(len(b)) > maxTreeBytes {
					return fail(fmt.Errorf("%s grew past the copy's bound of %d MiB while it was read", path.Join(root, r), maxTreeBytes>>20))
				}
				if err := writeNew(local, b); err != nil {
					return fail(err)
				}
				t.modes[r], t.Bytes = fi.Mode, t.Bytes+int64(len(b))
			default:
				return fail(fmt.Errorf("%s is a %s: only files, directories and symlinks are copied", path.Join(root, r), fi.Mode.Type()))
			}
		}
	}
	return t, nil
}

// readLink asks the node for a link's target when its listing did not say.
func readLink(ctx context.Context, n cluster.Node, p string) (string, error) {
	res, err := n.Run(ctx, cluster.Cmd{Argv: []string{"readlink", "--", p}, Sudo: true})
	if err != nil {
		return "", fmt.Errorf("readlink %s: %w", p, err)
	}
	return strings.TrimSuffix(string(res.Stdout), "\n"), nil
}

// writeNew creates a file 0600 that must not exist yet.
func writeNew(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Close())
}

// Dir is where the copy is on this machine.
func (t *Tree) Dir() string { return t.dir }

// Mode is the mode a path had on the node ("." for the root).
func (t *Tree) Mode(rel string) (fs.FileMode, bool) {
	m, ok := t.modes[path.Clean(rel)]
	return m, ok
}

// ReadFile is a copied file's content.
func (t *Tree) ReadFile(rel string) ([]byte, error) { return fs.ReadFile(t.FS(), rel) }

// derive makes a copy of t in dir with some files replaced (content) or
// removed (nil), each new file with mode; it serves a node whose tree
// differs from the bootstrap's.
func (t *Tree) derive(dir string, change map[string][]byte, mode fs.FileMode) (*Tree, error) {
	d := &Tree{dir: dir, modes: map[string]fs.FileMode{}, links: map[string]string{}}
	for r, m := range t.modes {
		d.modes[r] = m
	}
	for r, l := range t.links {
		d.links[r] = l
	}
	err := fs.WalkDir(os.DirFS(t.dir), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		local := filepath.Join(dir, filepath.FromSlash(p))
		if e.IsDir() {
			return os.Mkdir(local, 0o700)
		}
		if _, changed := change[p]; changed {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(t.dir, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		d.Files, d.Bytes = d.Files+1, d.Bytes+int64(len(b))
		return writeNew(local, b)
	})
	if err != nil {
		return nil, err
	}
	for r, b := range change {
		r = path.Clean(r)
		if b == nil {
			delete(d.modes, r)
			delete(d.links, r)
			continue
		}
		local := filepath.Join(dir, filepath.FromSlash(r))
		if err := os.MkdirAll(filepath.Dir(local), 0o700); err != nil {
			return nil, err
		}
		for p := path.Dir(r); p != "."; p = path.Dir(p) {
			if _, ok := d.modes[p]; !ok {
				d.modes[p] = fs.ModeDir | 0o755
			}
		}
		delete(d.links, r)
		if err := writeNew(local, b); err != nil {
			return nil, err
		}
		d.modes[r] = mode
		d.Files, d.Bytes = d.Files+1, d.Bytes+int64(len(b))
	}
	return d, nil
}

// FS serves the copy with the node's modes: what a Target lays down as
// the node's tree.
func (t *Tree) FS() fs.FS { return treeFS{t} }

type treeFS struct{ t *Tree }

func (f treeFS) check(op, name string) error {
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if _, ok := f.t.modes[name]; !ok {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return nil
}

// resolve follows symlinks whose targets stay inside the copy; one that
// leaves it (an absolute target, or ../ above the root) cannot be opened.
func (f treeFS) resolve(op, name string) (string, error) {
	for range 16 {
		target, ok := f.t.links[name]
		if !ok {
			return name, nil
		}
		next := path.Join(path.Dir(name), target)
		if path.IsAbs(target) || !fs.ValidPath(next) {
			return "", &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("a symlink to %s, outside the copy: %w", target, fs.ErrNotExist)}
		}
		if err := f.check(op, next); err != nil {
			return "", err
		}
		name = next
	}
	return "", &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
}

func (f treeFS) Open(name string) (fs.File, error) {
	if err := f.check("open", name); err != nil {
		return nil, err
	}
	fi, err := f.Stat(name)
	if err != nil {
		return nil, err
	}
	if name, err = f.resolve("open", name); err != nil {
		return nil, err
	}
	if fi.IsDir() {
		ents, err := f.ReadDir(name)
		if err != nil {
			return nil, err
		}
		return &dirFile{info: fi.(info), ents: ents}, nil
	}
	file, err := os.DirFS(f.t.dir).Open(name)
	if err != nil {
		return nil, err
	}
	return regularFile{File: file, fi: fi}, nil
}

// regularFile is a copied file that states the node's mode.
type regularFile struct {
	fs.File
	fi fs.FileInfo
}

func (r regularFile) Stat() (fs.FileInfo, error) { return r.fi, nil }

// dirFile is a directory of the copy, listed as the node had it.
type dirFile struct {
	info
	ents []fs.DirEntry
	off  int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.ents[d.off:]
	if n <= 0 {
		d.off = len(d.ents)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(n, len(rest))]
	d.off += len(rest)
	return rest, nil
}

// Stat follows a symlink, as fs.Stat does; Lstat does not.
func (f treeFS) Stat(name string) (fs.FileInfo, error) {
	if err := f.check("stat", name); err != nil {
		return nil, err
	}
	r, err := f.resolve("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(r)
	if err == nil && r != name {
		i := fi.(info)
		i.name = path.Base(name)
		fi = i
	}
	return fi, err
}

func (f treeFS) Lstat(name string) (fs.FileInfo, error) {
	if err := f.check("lstat", name); err != nil {
		return nil, err
	}
	return f.info(name)
}

func (f treeFS) info(name string) (fs.FileInfo, error) {
	fi := info{name: path.Base(name), mode: f.t.modes[name]}
	if t, ok := f.t.links[name]; ok {
		fi.size = int64(len(t))
		return fi, nil
	}
	st, err := os.Lstat(filepath.Join(f.t.dir, filepath.FromSlash(name)))
	if err != nil {
		return nil, err
	}
	fi.size, fi.mtime = st.Size(), st.ModTime()
	return fi, nil
}

func (f treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := f.check("readdir", name); err != nil {
		return nil, err
	}
	var names []string
	for r := range f.t.modes {
		if r != "." && path.Dir(r) == name {
			names = append(names, r)
		}
	}
	slices.Sort(names)
	out := make([]fs.DirEntry, 0, len(names))
	for _, r := range names {
		fi, err := f.info(r)
		if err != nil {
			return nil, err
		}
		out = append(out, fs.FileInfoToDirEntry(fi))
	}
	return out, nil
}

func (f treeFS) ReadLink(name string) (string, error) {
	if err := f.check("readlink", name); err != nil {
		return "", err
	}
	t, ok := f.t.links[name]
	if !ok {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: errors.New("not a symlink")}
	}
	return t, nil
}

type info struct {
	name  string
	mode  fs.FileMode
	size  int64
	mtime time.Time
}

func (i info) Name() string       { return i.name }
func (i info) Size() int64        { return i.size }
func (i info) Mode() fs.FileMode  { return i.mode }
func (i info) ModTime() time.Time { return i.mtime }
func (i info) IsDir() bool        { return i.mode.IsDir() }
func (i info) Sys() any           { return nil }
