// Files on an SSH node, over SFTP (with sudo where the login user may not).

package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"time"

	"github.com/pkg/sftp"
)

func (n *SSH) sftpClient(ctx context.Context) (*sftp.Client, error) {
	c, err := n.get(ctx)
	if err != nil {
		return nil, err
	}
	c.sftpOnce.Do(func() {
		c.sftp, c.sftpErr = sftp.NewClient(c.client,
			sftp.UseConcurrentWrites(true), sftp.MaxConcurrentRequestsPerFile(64))
	})
	if c.sftpErr != nil {
		return nil, fmt.Errorf("%s: sftp: %w", n.Name(), c.sftpErr)
	}
	return c.sftp, nil
}

// withSFTP runs fn with the SFTP client, giving up when ctx ends: pkg/sftp
// calls take no context, so a stalled server is cut off by closing the
// connection.
func (n *SSH) withSFTP(ctx context.Context, fn func(*sftp.Client) error) error {
	cl, err := n.sftpClient(ctx)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- fn(cl) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		n.mu.Lock()
		if n.conn != nil {
			n.conn.close()
			n.conn = nil
		}
		n.mu.Unlock()
		<-done
		return fmt.Errorf("%w (connection closed to stop the transfer)", ctx.Err())
	}
}

func (n *SSH) ReadFile(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := n.withSFTP(ctx, func(cl *sftp.Client) error {
		f, err := cl.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		var b bytes.Buffer
		_, err = f.WriteTo(&b)
		out = b.Bytes()
		return err
	})
	if errors.Is(err, fs.ErrPermission) && n.cfg.User != "root" {
		res, rerr := n.Run(ctx, Cmd{Argv: []string{"cat", "--", name}, Sudo: true})
		if rerr == nil {
			return res.Stdout, nil
		}
	}
	return out, n.fileErr("read", name, err)
}

func (n *SSH) WriteFile(ctx context.Context, name string, data []byte, perm fs.FileMode) error {
	tmp, err := n.writeFrom(ctx, name, bytes.NewReader(data), perm)
	if errors.Is(err, fs.ErrPermission) && n.cfg.User != "root" {
		// The login user may not write there; root may, through sudo.
		script := `umask 077 && cat > "$1" && chmod "$2" "$1" && mv -f "$1" "$3"`
		_, serr := n.Run(ctx, Cmd{Argv: []string{"sh", "-c", script, "sh", tmp, strconv.FormatUint(uint64(perm.Perm()), 8), name}, Stdin: data, Sudo: true})
		if serr == nil {
			return nil
		}
		return fmt.Errorf("%s: write %s: %w (and through sudo: %v)", n.Name(), name, err, serr)
	}
	return n.fileErr("write", name, err)
}

// WriteFileFrom is WriteFile for data too large to hold in memory (a
// package file): it streams r into a temporary file beside name and
// renames it over name.
func (n *SSH) WriteFileFrom(ctx context.Context, name string, r io.Reader, perm fs.FileMode) error {
	_, err := n.writeFrom(ctx, name, r, perm)
	if errors.Is(err, fs.ErrPermission) && n.cfg.User != "root" {
		err = fmt.Errorf("%w (%s may not write there; choose a directory it owns)", err, n.cfg.User)
	}
	return n.fileErr("write", name, err)
}

// writeFrom streams r to a temporary file over SFTP (writes overlap:
// UseConcurrentWrites) and renames it over name; it returns the temporary
// name it used.
func (n *SSH) writeFrom(ctx context.Context, name string, r io.Reader, perm fs.FileMode) (string, error) {
	tmp := path.Join(path.Dir(name), "."+path.Base(name)+".chefha-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	return tmp, n.withSFTP(ctx, func(cl *sftp.Client) error {
		f, err := cl.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if err != nil {
			return err
		}
		_, err = f.ReadFrom(r)
		if err == nil {
			err = f.Chmod(perm)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = cl.PosixRename(tmp, name)
		}
		if err != nil {
			cl.Remove(tmp)
		}
		return err
	})
}

func (n *SSH) Stat(ctx context.Context, name string) (FileInfo, error) {
	var fi FileInfo
	err := n.withSFTP(ctx, func(cl *sftp.Client) error {
		st, err := cl.Lstat(name)
		if err != nil {
			return err
		}
		fi = sftpInfo(name, st)
		if st.Mode()&fs.ModeSymlink != 0 {
			fi.Target, _ = cl.ReadLink(name)
		}
		return nil
	})
	return fi, n.fileErr("stat", name, err)
}

func (n *SSH) ReadDir(ctx context.Context, name string) ([]FileInfo, error) {
	var out []FileInfo
	err := n.withSFTP(ctx, func(cl *sftp.Client) error {
		ents, err := cl.ReadDir(name)
		if err != nil {
			return err
		}
		for _, st := range ents {
			p := path.Join(name, st.Name())
			fi := sftpInfo(p, st)
			if st.Mode()&fs.ModeSymlink != 0 {
				fi.Target, _ = cl.ReadLink(p)
			}
			out = append(out, fi)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, n.fileErr("list", name, err)
}

func sftpInfo(p string, st fs.FileInfo) FileInfo {
	fi := FileInfo{Path: p, Mode: st.Mode(), Size: st.Size(), ModTime: st.ModTime(), UID: -1, GID: -1}
	if fs, ok := st.Sys().(*sftp.FileStat); ok {
		fi.UID, fi.GID = int(fs.UID), int(fs.GID)
	}
	return fi
}

func (n *SSH) fileErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var se *sftp.StatusError
	if errors.As(err, &se) && se.FxCode() == sftp.ErrSSHFxNoSuchFile {
		err = fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	return fmt.Errorf("%s: %s %s: %w", n.Name(), op, name, err)
}

// Mkdir makes a directory, or sets the mode of one that exists.
func (n *SSH) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	return n.fileErr("mkdir", name, n.withSFTP(ctx, func(cl *sftp.Client) error {
		err := cl.Mkdir(name)
		if err != nil {
			if st, serr := cl.Stat(name); serr != nil || !st.IsDir() {
				return err
			}
		}
		return cl.Chmod(name, perm)
	}))
}

// Rename renames, replacing newname if it is a file (posix-rename@openssh.com).
func (n *SSH) Rename(ctx context.Context, oldname, newname string) error {
	return n.fileErr("rename", oldname, n.withSFTP(ctx, func(cl *sftp.Client) error {
		return cl.PosixRename(oldname, newname)
	}))
}

func (n *SSH) RemoveAll(ctx context.Context, name string) error {
	return n.fileErr("remove", name, n.withSFTP(ctx, func(cl *sftp.Client) error {
		return cl.RemoveAll(name)
	}))
}

func (n *SSH) Chown(ctx context.Context, name string, uid, gid int) error {
	return n.fileErr("chown", name, n.withSFTP(ctx, func(cl *sftp.Client) error {
		return cl.Chown(name, uid, gid)
	}))
}

func (n *SSH) Symlink(ctx context.Context, target, name string) error {
	return n.fileErr("symlink", name, n.withSFTP(ctx, func(cl *sftp.Client) error {
		return cl.Symlink(target, name)
	}))
}

// SHA256 hashes files on the node with sha256sum, so a copy is verified
// without reading it back.
func (n *SSH) SHA256(ctx context.Context, paths []string) ([][sha256.Size]byte, error) {
	return remoteSHA256(ctx, n, false, paths)
}
