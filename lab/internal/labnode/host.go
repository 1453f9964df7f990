package labnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/lab/internal/svdir"
)

// Host is a lab node as ecmodel sees it: its real files, its real runit
// (runsvdir, runsv, sv, svlogd), its real keepalived and network, and the
// pair's simulated DRBD. Made by Inside, it is the node's own programs'
// view (private-chef-ctl, cluster.sh, initctl, …); made by Outside, it acts
// on a node from the process that started the lab, for knobs: files
// through the node's root (/proc/PID/root, which sees its mounts), and
// everything that must happen in the node's namespaces by running the node
// program there.
type Host struct {
	name string
	// root is "" inside the node, /proc/PID/root outside it.
	root string
	// pid is the node's PID 1 as the lab's process sees it (outside only).
	pid int
}

// Inside is the Host of the node this program runs in, called name.
func Inside(name string) *Host { return &Host{name: name} }

// Outside is the Host of the node whose PID 1 is pid (as this process
// sees it), called name.
func Outside(name string, pid int) *Host {
	return &Host{name: name, root: fmt.Sprintf("/proc/%d/root", pid), pid: pid}
}

// Name is the node's name (ecmodel.Target).
func (h *Host) Name() string { return h.name }

// Hostname is the node's FQDN.
func (h *Host) Hostname() string { return h.name }

var _ ecmodel.Target = (*Host)(nil)

// Writable are the node's own trees: everything else a node sees is the
// lab machine's, shared by every node, and a node's software must not
// change it (the postinst's /usr/bin/private-chef-ctl link stands in
// /usr/local/bin instead).
var Writable = []string{"/etc", "/opt/opscode", "/var/opt/opscode", "/var/log/opscode", "/usr/local/bin", "/tmp", ecmodel.ModelDir, DRBDDir}

func own(name string) bool {
	name = path.Clean(name)
	for _, w := range Writable {
		if name == w || strings.HasPrefix(name, w+"/") {
			return true
		}
	}
	return false
}

func (h *Host) p(name string) string { return h.root + path.Clean("/"+name) }

// real resolves the symbolic links of a node path inside the node (its
// links are node paths, and from outside the node an absolute one would
// otherwise lead out of it): every component, or all but the last when
// follow is false. What does not exist is kept as it is.
func (h *Host) real(name string, follow bool) string {
	name = path.Clean("/" + name)
	for range 16 {
		dir, base := path.Split(name)
		dir = h.realDir(path.Clean(dir))
		name = path.Join(dir, base)
		if !follow || name == "/" {
			return name
		}
		t, err := os.Readlink(h.p(name))
		if err != nil {
			return name
		}
		if !path.IsAbs(t) {
			t = path.Join(dir, t)
		}
		name = path.Clean(t)
	}
	return name
}

// realDir resolves every link of a directory path.
func (h *Host) realDir(dir string) string {
	if dir == "/" {
		return dir
	}
	return h.real(dir, true)
}

// guard refuses to change what resolves outside the node's own trees.
func (h *Host) guard(op, name string, follow bool) (string, error) {
	r := h.real(name, follow)
	if !own(r) {
		return "", &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%s is outside the lab node's own trees (the lab machine's, shared by every node)", r)}
	}
	return h.p(r), nil
}

// ReadFile reads a node file. /proc/drbd is the pair's simulated DRBD as
// the kernel module would print it; /proc/mounts the node's mount table.
func (h *Host) ReadFile(name string) ([]byte, error) {
	switch path.Clean(name) {
	case "/proc/drbd":
		var out string
		err := h.drbd(false, func(p *ecmodel.DRBDPair) { out = p.Proc(h.name, time.Now()) })
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		return []byte(out), nil
	case "/proc/mounts":
		if h.root != "" {
			return os.ReadFile(fmt.Sprintf("/proc/%d/mounts", h.pid))
		}
	}
	return os.ReadFile(h.p(h.real(name, true)))
}

func umask() fs.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return fs.FileMode(m)
}

// WriteFile writes in place (a flock on the file survives it, as partybus's
// truncating open does), with perm masked by the umask.
func (h *Host) WriteFile(name string, data []byte, perm fs.FileMode) error {
	p, err := h.guard("open", name, true)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, data, perm); err != nil {
		return err
	}
	return os.Chmod(p, perm&^umask())
}

func (h *Host) AppendFile(name string, data []byte, perm fs.FileMode) error {
	p, err := h.guard("open", name, true)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (h *Host) Remove(name string) error {
	p, err := h.guard("remove", name, false)
	if err != nil {
		return err
	}
	return os.Remove(p)
}

func (h *Host) RemoveAll(name string) error {
	p, err := h.guard("remove", name, false)
	if err != nil {
		return err
	}
	return os.RemoveAll(p)
}

// Lstat and Stat: /dev/drbd0 and the disk under it exist on a back end as
// the simulated DRBD's device nodes (the lab has no kernel module to make
// them).
func (h *Host) Lstat(name string) (fs.FileInfo, error) {
	if fi, ok := h.drbdDevice(name); ok {
		return fi, nil
	}
	return os.Lstat(h.p(h.real(name, false)))
}

func (h *Host) Stat(name string) (fs.FileInfo, error) {
	if fi, ok := h.drbdDevice(name); ok {
		return fi, nil
	}
	return os.Stat(h.p(h.real(name, true)))
}

func (h *Host) ReadDir(name string) ([]fs.DirEntry, error) {
	return os.ReadDir(h.p(h.real(name, true)))
}

func (h *Host) MkdirAll(name string, perm fs.FileMode) error {
	p, err := h.guard("mkdir", name, true)
	if err != nil {
		return err
	}
	return os.MkdirAll(p, perm)
}

func (h *Host) Symlink(target, link string) error {
	p, err := h.guard("symlink", link, false)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.Symlink(target, p)
}

func (h *Host) Chmod(name string, perm fs.FileMode) error {
	p, err := h.guard("chmod", name, true)
	if err != nil {
		return err
	}
	return os.Chmod(p, perm)
}

// Chown takes "user:group" names, looked up in the node's /etc (the lab
// machine's, under the node's overlay). Like chown(1) it follows a link.
func (h *Host) Chown(name, owner string) error {
	p, err := h.guard("chown", name, true)
	if err != nil {
		return err
	}
	u, g, _ := strings.Cut(owner, ":")
	uid, err := lookup(u, false)
	if err != nil {
		return err
	}
	gid := -1
	if g != "" {
		if gid, err = lookup(g, true); err != nil {
			return err
		}
	}
	return os.Chown(p, uid, gid)
}

func lookup(name string, group bool) (int, error) {
	if group {
		g, err := user.LookupGroup(name)
		if err != nil {
			return 0, err
		}
		return strconv.Atoi(g.Gid)
	}
	u, err := user.Lookup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(u.Uid)
}

func (h *Host) Owner(name string) (string, error) {
	st, err := os.Lstat(h.p(h.real(name, false)))
	if err != nil {
		return "", err
	}
	sys := st.Sys().(*syscall.Stat_t)
	u, g := strconv.Itoa(int(sys.Uid)), strconv.Itoa(int(sys.Gid))
	if x, err := user.LookupId(u); err == nil {
		u = x.Username
	}
	if x, err := user.LookupGroupId(g); err == nil {
		g = x.Name
	}
	return u + ":" + g, nil
}

// PID is the running command's process id in the node (cluster.sh's $$).
func (h *Host) PID() int {
	if h.root != "" {
		return 0
	}
	return os.Getpid()
}

// ProcessAlive is cluster.sh's `-d /proc/$pid`, in the node's own /proc.
func (h *Host) ProcessAlive(pid int) bool {
	_, err := os.Stat(h.p("/proc/" + strconv.Itoa(pid)))
	return err == nil
}

func (h *Host) Now() time.Time { return time.Now() }

func (h *Host) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Addresses is `ip a show dev DEV` in the node's network namespace.
func (h *Host) Addresses(dev string) (string, bool) {
	out, code := h.run(context.Background(), nil, tool("ip"), "a", "show", "dev", dev)
	return out, code == 0
}

// Ping is `ping -c 1 -W 1 IP` from the node.
func (h *Host) Ping(ip string) bool {
	_, code := h.run(context.Background(), nil, tool("ping"), "-c", "1", "-W", "1", ip)
	return code == 0
}

// run runs argv in the node with env added to a clean environment, and
// returns its output (stdout and stderr) and exit status. Outside the node
// it goes through nsenter into all the node's namespaces.
func (h *Host) run(ctx context.Context, env []string, argv ...string) (string, int) {
	var cmd *exec.Cmd
	if h.root == "" {
		cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	} else {
		cmd = exec.CommandContext(ctx, tool("nsenter"), append([]string{"-t", strconv.Itoa(h.pid), "-a"}, argv...)...)
	}
	cmd.Env = append([]string{"PATH=" + NodePath}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return out.String(), ee.ExitCode()
	}
	return out.String() + err.Error() + "\n", 127
}

// hostop runs one of the node program's host operations in the node (see
// Main's "hostop"): what only a process inside the node can do.
func (h *Host) hostop(ctx context.Context, args ...string) (string, int) {
	return h.run(ctx, svdir.Env("hostop"), append([]string{svdir.Program}, args...)...)
}

// NodePath is the PATH the node's own programs run with: runsvdir-start's
// (/opt/opscode/bin and embedded/bin first), then the node's
// /usr/local/bin and the machine's.
const NodePath = "/opt/opscode/bin:/opt/opscode/embedded/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"

// tool is the machine's program name (looked up in the system
// directories, as a node's /usr/local/bin holds the lab's shims).
func tool(name string) string {
	for _, d := range []string{"/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"} {
		if _, err := os.Stat(d + name); err == nil {
			return d + name
		}
	}
	return name
}
