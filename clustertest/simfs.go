package clustertest

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/chefha/chefha/internal/ecmodel"
)

// The node's file system, in memory (memfs): the Host interface's Files,
// with /proc/drbd, /proc/mounts and runsv's pid files answered from the
// simulation's state. Where os's calls applied the test process's umask
// (MkdirAll, AppendFile's create), the login umask stands in for it, so
// modes no longer depend on who runs the tests.

// FS is the node's file tree as an io/fs file system rooted at its /
// (names unrooted: "etc/opscode/private-chef.rb"), for tests that read it
// with fs.ReadFile, fs.Glob or fs.WalkDir. Links resolve inside the node;
// /proc is not there (ReadFile answers it).
func (n *Node) FS() fs.FS { return n.files.DirFS("/") }

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
	return n.files.ReadFile(p)
}

// loginUmask is the umask a login session starts with.
const loginUmask fs.FileMode = 0o022

func (n *Node) WriteFile(p string, b []byte, perm fs.FileMode) error {
	return n.writeFile(p, b, perm, loginUmask)
}

func (n *Node) writeFile(p string, b []byte, perm, umask fs.FileMode) error {
	if err := n.files.MkdirAll(path.Dir(path.Clean("/"+p)), 0o755); err != nil {
		return err
	}
	if err := n.files.WriteFile(p, b, perm&^umask); err != nil {
		return err
	}
	n.wrote(p)
	return n.files.Chmod(p, perm&^umask) // a file that was there keeps its mode otherwise
}

// wrote counts a write against the back end's volume: service data
// changing under /var/opt/opscode fills its snapshots (see LVM).
func (n *Node) wrote(p string) {
	if n.vols != nil && strings.HasPrefix(path.Clean(p), "/var/opt/opscode/") {
		n.vols.wrote()
	}
}

func (n *Node) AppendFile(p string, b []byte, perm fs.FileMode) error {
	if err := n.files.MkdirAll(path.Dir(path.Clean("/"+p)), 0o755); err != nil {
		return err
	}
	f, err := n.files.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, perm&^loginUmask)
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
	if err := n.files.Remove(p); err != nil {
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
	if err := n.files.Symlink(target, link); err != nil {
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
func (n *Node) RemoveAll(p string) error                { return n.files.RemoveAll(p) }
func (n *Node) Lstat(p string) (fs.FileInfo, error)     { return n.files.Lstat(p) }
func (n *Node) ReadDir(p string) ([]fs.DirEntry, error) { return n.files.ReadDir(p) }
func (n *Node) MkdirAll(p string, perm fs.FileMode) error {
	return n.files.MkdirAll(p, perm&^loginUmask)
}
func (n *Node) Chmod(p string, perm fs.FileMode) error { return n.files.Chmod(p, perm) }

// Stat follows links inside the node's tree (memfs.MaxLinks of them).
func (n *Node) Stat(p string) (fs.FileInfo, error) { return n.files.Stat(p) }

func (n *Node) Mount(device, dir string) error { n.mounts = append(n.mounts, dir); return nil }
func (n *Node) Umount(dir string) error {
	n.mounts = slices.DeleteFunc(n.mounts, func(m string) bool { return m == dir })
	return nil
}

// Chown records an owner: the tests run as one user, real nodes have opscode.
func (n *Node) Chown(p, owner string) error {
	if _, err := n.files.Lstat(p); err != nil {
		return err
	}
	n.owners[path.Clean(p)] = owner
	return nil
}

// Owner is the recorded owner, or what the packaging makes it.
func (n *Node) Owner(p string) (string, error) {
	p = path.Clean(p)
	if _, err := n.files.Lstat(p); err != nil {
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
