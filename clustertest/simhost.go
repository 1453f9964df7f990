package clustertest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
)

// Node is one simulated Enterprise Chef node: ecmodel's node model on an
// in-memory host (a file tree in a temp dir, emulated runit, Upstart,
// keepalived and DRBD) on the cluster's clock. Read its state with the
// methods below; they lock the cluster.
type Node struct {
	c    *Cluster
	Name string
	Root string // the node's file tree on this machine
	// VIP is backend_vip's address, shown by `ip addr` while keepalived
	// holds it.
	VIP string

	owners     map[string]string
	umask      fs.FileMode
	svcs       map[string]*service
	jobs       []string
	procs      []string // stray processes (knobs)
	runsvLog   string
	diskFull   bool
	nextPID    int
	curPID     int
	vrrp       string // "", "BACKUP" or "MASTER" (keepalived's state)
	hasVIP     bool
	electAt    time.Time
	trans      *ecmodel.Transition
	transAt    time.Time
	mounts     []string
	log        []string
	peer       *Node
	fault      *fault
	clusterIP  string
	forcedVRRP bool
}

type service struct {
	up                    bool
	pid                   int
	since                 time.Time
	stopDelay, startDelay time.Duration
}

// Lock runs fn with the cluster's state locked, after letting due events
// (keepalived elections, cluster.sh steps) happen.
func (n *Node) Lock(fn func(n *Node)) {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	n.c.settle()
	fn(n)
}

// Settle lets the cluster's time catch up with its clock.
func (n *Node) Settle() { n.Lock(func(*Node) {}) }

// Harm is the damage the real bugs would have done on this node.
func (n *Node) Harm() []string { return ecmodel.HarmDone(n) }

// Log is every state-changing command the node ran, in order.
func (n *Node) Log() []string { return slices.Clone(n.log) }

// Current is the node's current_cluster_status.
func (n *Node) Current() string { return n.status(ecmodel.CurrentPath) }

// Requested is the node's requested_cluster_status.
func (n *Node) Requested() string { return n.status(ecmodel.RequestedPath) }

// KeepalivedUp reports whether keepalived runs; KeepalivedState is its
// VRRP state ("MASTER", "BACKUP" or "" when stopped).
func (n *Node) KeepalivedUp() bool      { return n.vrrp != "" }
func (n *Node) KeepalivedState() string { return n.vrrp }

// InTransition reports whether a cluster.sh run holds the lock.
func (n *Node) InTransition() bool { return n.trans != nil }

func (n *Node) status(p string) string {
	b, _ := n.ReadFile(p)
	return strings.TrimSpace(string(b))
}

// Path maps a node path to the file tree.
func (n *Node) Path(p string) string { return filepath.Join(n.Root, filepath.Clean("/"+p)) }

// Host interface: files.

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
	return os.Chmod(full, perm&^n.umask)
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
func (n *Node) Hostname() string                          { return n.Name }
func (n *Node) Now() time.Time                            { return n.c.now() }
func (n *Node) Mount(device, dir string) error            { n.mounts = append(n.mounts, dir); return nil }
func (n *Node) Umount(dir string) error {
	n.mounts = slices.DeleteFunc(n.mounts, func(m string) bool { return m == dir })
	return nil
}
func (n *Node) Sleep(ctx context.Context, d time.Duration) error { n.c.sleep(d); return ctx.Err() }

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

func (n *Node) configured() ecmodel.Release {
	if m, err := ecmodel.Load(n); err == nil {
		return m.Configured
	}
	return ecmodel.Releases()["1.4.6"]
}

func (n *Node) backend() bool { return n == n.c.boot || n == n.c.sec }

// Processes and network.

func (n *Node) PID() int { return n.curPID }

func (n *Node) ProcessAlive(pid int) bool { return n.trans != nil && n.trans.PID == pid }

func (n *Node) pid() int { n.nextPID += 7; return n.nextPID }

func (n *Node) Addresses(dev string) (string, bool) {
	if dev != "eth0" && dev != "eth1" && dev != "lo" {
		return "", false
	}
	out := fmt.Sprintf("2: %s: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP qlen 1000\n    inet %s/24 brd 192.168.4.255 scope global %s\n", dev, n.c.addr(n), dev)
	if n.hasVIP && dev == "eth0" && n.VIP != "" {
		out += fmt.Sprintf("    inet %s/24 scope global secondary eth0\n", n.VIP)
	}
	return out, true
}

func (n *Node) Ping(ip string) bool { return !(n.c.drbd.unreachable && ip == n.c.sec.clusterIP) }

func (n *Node) procMounts() string {
	out := "/dev/sda1 / ext4 rw,relatime,errors=remount-ro 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n/dev/sda3 /var/log ext4 rw,relatime 0 0\n"
	for _, m := range n.mounts {
		out += ecmodel.DRBDDevice + " " + m + " ext4 rw,relatime 0 0\n"
	}
	return out
}

// Capabilities for knobs.

func (n *Node) SetServiceDelay(s string, stop, start time.Duration) error {
	if n.svcs[s] == nil {
		n.svcs[s] = &service{since: n.Now()}
	}
	n.svcs[s].stopDelay, n.svcs[s].startDelay = max(stop, n.svcs[s].stopDelay), max(start, n.svcs[s].startDelay)
	return nil
}
func (n *Node) AddProcess(args string) error        { n.procs = append(n.procs, args); return nil }
func (n *Node) SetRunsvdirLog(text string) error    { n.runsvLog = text; return nil }
func (n *Node) SetLogFSFull(full bool) error        { n.diskFull = full; return nil }
func (n *Node) DRBDFault(f ecmodel.DRBDFault) error { return n.c.drbd.fault(f) }

func (n *Node) DropConnectionAfter(k int) error {
	n.fault.mu.Lock()
	defer n.fault.mu.Unlock()
	n.fault.dropAfter = k
	return nil
}

func (n *Node) SetCommandDelay(d time.Duration) error {
	n.fault.mu.Lock()
	defer n.fault.mu.Unlock()
	n.fault.delay = d
	return nil
}

func (n *Node) StopSSH() error { return n.c.Servers[n.Name].Close() }

// fault is a node's transport trouble, set by the transport knobs.
type fault struct {
	mu        sync.Mutex
	delay     time.Duration // every command takes this long (a slow node)
	dropAfter int           // drop the connection during the Nth command from now (0: never)
}

// target is a Node as knobs see it.
type target struct{ *Node }

func (t target) Name() string { return t.Node.Name }

var _ ecmodel.Target = target{}

// Package is the installed package version (the version manifest's).
func (n *Node) Package() string {
	v, _ := ecmodel.InstalledVersion(n)
	return v
}

// Configured is the release the node's last reconfigure laid down.
func (n *Node) Configured() string { return n.configured().Version }

// HasVIP reports whether keepalived holds the virtual IP here.
func (n *Node) HasVIP() bool { return n.hasVIP }

// ServiceState is one supervised service as runsv sees it.
type ServiceState struct {
	Name           string
	Up, NormallyUp bool
}

// Services lists the linked services' states, sorted by name.
func (n *Node) Services() []ServiceState {
	var out []ServiceState
	for _, s := range n.linkedServices() {
		out = append(out, ServiceState{Name: s, Up: n.svc(s).up, NormallyUp: n.normallyUp(s)})
	}
	return out
}
