package clustertest

import (
	"errors"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/pkg/sftp"
)

// The node's SFTP server: its file tree in memory served as RootedSFTP
// serves a directory, with the same answers (the cluster package's
// WriteFile writes a temporary file and renames it over the name, CopyTree
// builds a stage and swaps it in), and the node's time settled before
// every request.

func (n *Node) sftpHandlers() sftp.Handlers {
	h := nodeSFTP{n}
	return sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h}
}

type nodeSFTP struct{ n *Node }

func (h nodeSFTP) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	h.n.Settle()
	return h.n.files.OpenFile(r.Filepath, os.O_RDONLY, 0)
}

func (h nodeSFTP) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	return h.OpenFile(r)
}

func (h nodeSFTP) OpenFile(r *sftp.Request) (sftp.WriterAtReaderAt, error) {
	h.n.Settle()
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
	return h.n.files.OpenFile(r.Filepath, flag, 0o644&^loginUmask)
}

func (h nodeSFTP) Filecmd(r *sftp.Request) error {
	h.n.Settle()
	files, p := h.n.files, r.Filepath
	switch r.Method {
	case "Setstat":
		attrs, flags := r.Attributes(), r.AttrFlags()
		if flags.Permissions {
			if err := files.Chmod(p, attrs.FileMode().Perm()); err != nil {
				return err
			}
		}
		if flags.UidGid {
			if err := h.n.chownIDs(p, attrs.UID, attrs.GID); err != nil {
				return err
			}
		}
		if flags.Acmodtime {
			if err := files.Chtimes(p, time.Unix(int64(attrs.Atime), 0), time.Unix(int64(attrs.Mtime), 0)); err != nil {
				return err
			}
		}
		if flags.Size {
			return files.Truncate(p, int64(attrs.Size))
		}
		return nil
	case "Rename":
		if _, err := files.Lstat(r.Target); err == nil {
			return os.ErrExist // SFTP rename does not overwrite
		}
		return h.n.rename(p, r.Target)
	case "Rmdir":
		return files.Remove(p)
	case "Remove":
		st, err := files.Lstat(p)
		if err == nil && st.IsDir() {
			return errors.New("is a directory")
		}
		return files.Remove(p)
	case "Mkdir":
		return files.Mkdir(p, 0o755&^loginUmask)
	case "Symlink":
		// Filepath is the target, Target the new link (pkg/sftp's order).
		return files.Symlink(r.Filepath, r.Target)
	case "Link":
		return files.Link(p, r.Target)
	}
	return sftp.ErrSSHFxOpUnsupported
}

func (h nodeSFTP) PosixRename(r *sftp.Request) error {
	h.n.Settle()
	return h.n.rename(r.Filepath, r.Target)
}

// rename moves a path and the owners recorded for it and below it, as a
// rename keeps the inodes' owners (CopyTree swaps in a stage it chowned).
func (n *Node) rename(from, to string) error {
	if err := n.files.Rename(from, to); err != nil {
		return err
	}
	from, to = path.Clean(from), path.Clean(to)
	n.Lock(func(n *Node) {
		for p := range n.owners {
			if p == to || strings.HasPrefix(p, to+"/") {
				delete(n.owners, p)
			}
		}
		for p, o := range n.owners {
			if p == from || strings.HasPrefix(p, from+"/") {
				delete(n.owners, p)
				n.owners[to+strings.TrimPrefix(p, from)] = o
			}
		}
	})
	return nil
}

func (h nodeSFTP) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	h.n.Settle()
	files := h.n.files
	switch r.Method {
	case "List":
		ents, err := files.ReadDir(r.Filepath)
		if err != nil {
			return nil, err
		}
		out := make(listerAt, len(ents))
		for i, e := range ents {
			out[i], _ = e.Info() // memfs's entries carry their info
		}
		return out, nil
	case "Stat":
		st, err := files.Stat(r.Filepath)
		if err != nil {
			return nil, err
		}
		return listerAt{st}, nil
	case "Readlink":
		t, err := files.Readlink(r.Filepath)
		if err != nil {
			return nil, err
		}
		return listerAt{linkName(t)}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

func (h nodeSFTP) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	h.n.Settle()
	st, err := h.n.files.Lstat(r.Filepath)
	if err != nil {
		return nil, err
	}
	return listerAt{st}, nil
}

func (h nodeSFTP) Readlink(p string) (string, error) {
	h.n.Settle()
	return h.n.files.Readlink(p)
}

// chownIDs records an SFTP chown (numeric ids) as the node's owner names:
// simName of its ids.
func (n *Node) chownIDs(p string, uid, gid uint32) error {
	if _, err := n.files.Lstat(p); err != nil {
		return err
	}
	n.Lock(func(n *Node) { n.owners[path.Clean(p)] = simName(uid) + ":" + simName(gid) })
	return nil
}
