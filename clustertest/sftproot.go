package clustertest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pkg/sftp"
)

// RootedSFTP serves a node's file tree over SFTP: every path the client
// names (absolute, as on a real node) is mapped under root, and symlink
// targets are kept as the node would see them. before, if set, runs first
// on every request (the emulated node uses it to let time pass).
func RootedSFTP(root string, before func()) sftp.Handlers {
	h := &rootFS{root: root, before: before}
	return sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h}
}

type rootFS struct {
	root   string
	before func()
}

func (h *rootFS) path(p string) string {
	return filepath.Join(h.root, filepath.Clean("/"+p))
}

func (h *rootFS) tick() {
	if h.before != nil {
		h.before()
	}
}

func (h *rootFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	h.tick()
	return os.Open(h.path(r.Filepath))
}

func (h *rootFS) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	h.tick()
	return h.OpenFile(r)
}

func (h *rootFS) OpenFile(r *sftp.Request) (sftp.WriterAtReaderAt, error) {
	h.tick()
	pf := r.Pflags()
	flag := 0
	switch {
	case pf.Read && pf.Write:
		flag = os.O_RDWR
	case pf.Write:
		flag = os.O_WRONLY
	}
	if pf.Creat {
		flag |= os.O_CREATE
	}
	if pf.Trunc {
		flag |= os.O_TRUNC
	}
	if pf.Excl {
		flag |= os.O_EXCL
	}
	if pf.Append {
		flag |= os.O_APPEND
	}
	return os.OpenFile(h.path(r.Filepath), flag, 0o644)
}

func (h *rootFS) Filecmd(r *sftp.Request) error {
	h.tick()
	p := h.path(r.Filepath)
	switch r.Method {
	case "Setstat":
		attrs, flags := r.Attributes(), r.AttrFlags()
		if flags.Permissions {
			if err := os.Chmod(p, attrs.FileMode().Perm()); err != nil {
				return err
			}
		}
		if flags.UidGid {
			if err := os.Lchown(p, int(attrs.UID), int(attrs.GID)); err != nil {
				return err
			}
		}
		if flags.Size {
			return os.Truncate(p, int64(attrs.Size))
		}
		return nil
	case "Rename":
		if _, err := os.Lstat(h.path(r.Target)); err == nil {
			return os.ErrExist // SFTP rename does not overwrite
		}
		return os.Rename(p, h.path(r.Target))
	case "Rmdir":
		return os.Remove(p)
	case "Remove":
		st, err := os.Lstat(p)
		if err == nil && st.IsDir() {
			return errors.New("is a directory")
		}
		return os.Remove(p)
	case "Mkdir":
		return os.Mkdir(p, 0o755)
	case "Symlink":
		// Filepath is the target, Target the new link (pkg/sftp's order).
		return os.Symlink(r.Filepath, h.path(r.Target))
	case "Link":
		return os.Link(p, h.path(r.Target))
	}
	return sftp.ErrSSHFxOpUnsupported
}

func (h *rootFS) PosixRename(r *sftp.Request) error {
	h.tick()
	return os.Rename(h.path(r.Filepath), h.path(r.Target))
}

type listerAt []os.FileInfo

func (l listerAt) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if n+int(off) == len(l) {
		return n, io.EOF
	}
	return n, nil
}

func (h *rootFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	h.tick()
	p := h.path(r.Filepath)
	switch r.Method {
	case "List":
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		var out listerAt
		for _, e := range ents {
			fi, err := e.Info()
			if err != nil {
				return nil, err
			}
			out = append(out, fi)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
		return out, nil
	case "Stat":
		st, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		if st.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			if !strings.HasPrefix(target, "/") {
				target = filepath.Join(filepath.Dir(r.Filepath), target)
			}
			if st, err = os.Stat(h.path(target)); err != nil {
				return nil, err
			}
		}
		return listerAt{st}, nil
	case "Readlink":
		t, err := os.Readlink(p)
		if err != nil {
			return nil, err
		}
		return listerAt{linkName(t)}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

func (h *rootFS) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	h.tick()
	st, err := os.Lstat(h.path(r.Filepath))
	if err != nil {
		return nil, err
	}
	return listerAt{st}, nil
}

func (h *rootFS) Readlink(p string) (string, error) {
	h.tick()
	return os.Readlink(h.path(p))
}

// linkName is a FileInfo whose Name is a symlink's target, which is how
// pkg/sftp's request server returns Readlink answers.
type linkName string

func (l linkName) Name() string       { return string(l) }
func (l linkName) Size() int64        { return 0 }
func (l linkName) Mode() os.FileMode  { return os.ModeSymlink }
func (l linkName) ModTime() time.Time { return time.Time{} }
func (l linkName) IsDir() bool        { return false }
func (l linkName) Sys() any           { return nil }
