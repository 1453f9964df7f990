package clustertest

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/chefha/chefha/internal/ecmodel"
)

// The node's file system, under Root: the Host interface's Files, with
// /proc/drbd, /proc/mounts and runsv's pid files answered from the
// simulation's state.

// Path maps a node path to the file tree.
func (n *Node) Path(p string) string { return filepath.Join(n.Root, filepath.Clean("/"+p)) }

func (n *Node) ReadFile(p string) ([]byte, error) {
	switch p = path.Clean(p); {
	case p == "/proc/drbd":
		if !n.backend() {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return []byte(n.c.drbd.proc(n)), nil
	case p == "/proc/mounts":
		return []byte(n.procMounts()), nil
	case strings.HasPrefix(p, ecmodel.SvDir+"/") && strings.HasSuffix(p, "/supervise/pid"):
		name := strings.TrimSuffix(strings.TrimPrefix(p, ecmodel.SvDir+"/"), "/supervise/pid")
		if s := n.svcs[name]; s != nil && s.up {
			return []byte(strconv.Itoa(s.pid) + "\n"), nil
		}
		return nil, nil
	}
	return os.ReadFile(n.Path(p))
}

func (n *Node) WriteFile(p string, b []byte, perm fs.FileMode) error {
	full := n.Path(p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(full, b, perm); err != nil {
		return err
	}
	n.wrote(p)
	return os.Chmod(full, perm&^n.umask)
}

// wrote counts a write against the back end's volume: service data
// changing under /var/opt/opscode fills its snapshots (see LVM).
func (n *Node) wrote(p string) {
	if n.vols != nil && strings.HasPrefix(path.Clean(p), "/var/opt/opscode/") {
		n.vols.wrote()
	}
}

func (n *Node) AppendFile(p string, b []byte, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(n.Path(p)), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(n.Path(p), os.O_CREATE|os.O_APPEND|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	n.wrote(p)
	return errors.Join(err, f.Close())
}

// Remove removes a file; a service link going away makes runsvdir stop
// its runsv, which stops the service.
func (n *Node) Remove(p string) error {
	if err := os.Remove(n.Path(p)); err != nil {
		return err
	}
	if path.Dir(path.Clean(p)) == ecmodel.ServiceDir && len(n.jobs) > 0 {
		if s := n.svcs[path.Base(p)]; s != nil && s.up {
			s.up, s.since = false, n.Now()
			n.serviceChanged(path.Base(p), false)
		}
	}
	return nil
}

// Symlink makes a link; a new service link under a running runsvdir gets
// a runsv, which starts the service unless it has a down file.
func (n *Node) Symlink(target, link string) error {
	if err := os.Symlink(target, n.Path(link)); err != nil {
		return err
	}
	name := path.Base(link)
	if path.Dir(path.Clean(link)) == ecmodel.ServiceDir && len(n.jobs) > 0 {
		if _, ok := n.svName(name); ok && n.normallyUp(name) && !n.svc(name).up {
			s := n.svc(name)
			s.up, s.pid, s.since = true, n.pid(), n.Now()
			n.serviceChanged(name, true)
		}
	}
	return nil
}
func (n *Node) RemoveAll(p string) error                  { return os.RemoveAll(n.Path(p)) }
func (n *Node) Lstat(p string) (fs.FileInfo, error)       { return os.Lstat(n.Path(p)) }
func (n *Node) ReadDir(p string) ([]fs.DirEntry, error)   { return os.ReadDir(n.Path(p)) }
func (n *Node) MkdirAll(p string, perm fs.FileMode) error { return os.MkdirAll(n.Path(p), perm) }
func (n *Node) Chmod(p string, perm fs.FileMode) error    { return os.Chmod(n.Path(p), perm) }
func (n *Node) Mount(device, dir string) error            { n.mounts = append(n.mounts, dir); return nil }
func (n *Node) Umount(dir string) error {
	n.mounts = slices.DeleteFunc(n.mounts, func(m string) bool { return m == dir })
	return nil
}

// Stat follows links inside the node's tree.
func (n *Node) Stat(p string) (fs.FileInfo, error) {
	for range 8 {
		st, err := os.Lstat(n.Path(p))
		if err != nil || st.Mode()&fs.ModeSymlink == 0 {
			return st, err
		}
		t, _ := os.Readlink(n.Path(p))
		if !strings.HasPrefix(t, "/") {
			t = path.Join(path.Dir(p), t)
		}
		p = t
	}
	return nil, &fs.PathError{Op: "stat", Path: p, Err: errors.New("too many levels of symbolic links")}
}

// Chown records an owner: the tests run as one user, real nodes have opscode.
func (n *Node) Chown(p, owner string) error {
	if _, err := os.Lstat(n.Path(p)); err != nil {
		return err
	}
	n.owners[path.Clean(p)] = owner
	return nil
}

// Owner is the recorded owner, or what the packaging makes it.
func (n *Node) Owner(p string) (string, error) {
	p = path.Clean(p)
	if _, err := os.Lstat(n.Path(p)); err != nil {
		return "", err
	}
	if o, ok := n.owners[p]; ok {
		return o, nil
	}
	if strings.HasPrefix(p, ecmodel.LogDir+"/") {
		o := n.configured().LogOwner
		return o + ":" + o, nil
	}
	return "root:root", nil
}

// configured is the release the last reconfigure applied (ecmodel.Load's
// Configured), read from the two files that decide it: owners and
// statuses ask for it once per file, and need nothing else Load parses.
func (n *Node) configured() ecmodel.Release {
	rels := n.c.releases
	if b, err := n.ReadFile(ecmodel.ModelDir + "/release"); err == nil {
		if r, ok := rels[strings.TrimSpace(string(b))]; ok {
			return r
		}
	}
	if v, err := ecmodel.InstalledVersion(n); err == nil {
		if r, ok := rels[v]; ok {
			return r
		}
	}
	return rels["1.4.6"]
}

func (n *Node) procMounts() string {
	out := "/dev/sda1 / ext4 rw,relatime,errors=remount-ro 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n/dev/sda3 /var/log ext4 rw,relatime 0 0\n"
	for _, m := range n.mounts {
		out += ecmodel.DRBDDevice + " " + m + " ext4 rw,relatime 0 0\n"
	}
	return out
}
