package memfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
)

// DirFS is the tree under dir as an io/fs file system, as os.DirFS is a
// directory's: names are unrooted (fs.ValidPath), and links resolve in
// the whole tree, an absolute target from its root. Tests read a node's
// files through it with fs.ReadFile, fs.Glob and fs.WalkDir.
func (f *FS) DirFS(dir string) fs.FS { return dirFS{f: f, dir: clean(dir)} }

type dirFS struct {
	f   *FS
	dir string
}

var (
	_ fs.StatFS     = dirFS{}
	_ fs.ReadFileFS = dirFS{}
	_ fs.ReadDirFS  = dirFS{}
	_ fs.ReadLinkFS = dirFS{}
)

// full is name in the tree, or the error an invalid name gets.
func (d dirFS) full(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return path.Join(d.dir, name), nil
}

// named puts the caller's name back into an error about the full one.
func named(err error, name string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
	}
	return err
}

func (d dirFS) Open(name string) (fs.File, error) {
	full, err := d.full("open", name)
	if err != nil {
		return nil, err
	}
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	e, err := d.f.lookup("open", full, true)
	if err != nil {
		return nil, named(err, name)
	}
	if e.ino.isDir() {
		ents := make([]fs.DirEntry, len(e.ino.ents))
		for k, c := range e.ino.ents {
			ents[k] = fs.FileInfoToDirEntry(c.ino.info(c.name))
		}
		return &dirFile{info: e.ino.info(path.Base(name)), ents: ents}, nil
	}
	return &File{f: d.f, ino: e.ino, name: name, flag: os.O_RDONLY}, nil
}

func (d dirFS) Stat(name string) (fs.FileInfo, error) {
	full, err := d.full("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := d.f.Stat(full)
	return fi, named(err, name)
}

func (d dirFS) Lstat(name string) (fs.FileInfo, error) {
	full, err := d.full("lstat", name)
	if err != nil {
		return nil, err
	}
	fi, err := d.f.Lstat(full)
	return fi, named(err, name)
}

func (d dirFS) ReadFile(name string) ([]byte, error) {
	full, err := d.full("open", name)
	if err != nil {
		return nil, err
	}
	b, err := d.f.ReadFile(full)
	return b, named(err, name)
}

func (d dirFS) ReadDir(name string) ([]fs.DirEntry, error) {
	full, err := d.full("open", name)
	if err != nil {
		return nil, err
	}
	ents, err := d.f.ReadDir(full)
	return ents, named(err, name)
}

func (d dirFS) ReadLink(name string) (string, error) {
	full, err := d.full("readlink", name)
	if err != nil {
		return "", err
	}
	t, err := d.f.Readlink(full)
	return t, named(err, name)
}

// dirFile is an open directory: its entries as they were when it was
// opened, read in turn by ReadDir.
type dirFile struct {
	info info
	ents []fs.DirEntry
	read int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Close() error               { return nil }

func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.ents[d.read:]
	if n > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if n > 0 && len(rest) > n {
		rest = rest[:n]
	}
	d.read += len(rest)
	return rest, nil
}
