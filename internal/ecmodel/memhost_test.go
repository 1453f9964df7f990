package ecmodel

import (
	"context"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"
)

// memHost is a Host in memory for the model's own tests: files and
// links in a map, services up or down by name, the VIP on eth0 when vip
// is set. It does only what the tests ask of it.
type memHost struct {
	files map[string]*memFile
	up    map[string]bool // service name → running
	vip   string          // an address `ip a show dev eth0` lists
	now   time.Time
	// jobs are the runsvdir jobs running; orphaned says a stopped one's
	// runsv live on; signals are what SignalOrphanRunsv was given.
	jobs     []string
	orphaned bool
	signals  []syscall.Signal
}

type memFile struct {
	data  []byte
	mode  fs.FileMode
	link  string // symlink target
	owner string
}

func newMemHost() *memHost {
	return &memHost{files: map[string]*memFile{"/": {mode: fs.ModeDir | 0o755}}, up: map[string]bool{},
		now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), jobs: []string{"private-chef-runsvdir"}}
}

func (h *memHost) mkdirs(name string) {
	for d := path.Dir(name); ; d = path.Dir(d) {
		if _, ok := h.files[d]; !ok {
			h.files[d] = &memFile{mode: fs.ModeDir | 0o755}
		}
		if d == "/" {
			return
		}
	}
}

func (h *memHost) ReadFile(name string) ([]byte, error) {
	f, ok := h.files[path.Clean(name)]
	if !ok || f.mode.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return slices.Clone(f.data), nil
}

func (h *memHost) WriteFile(name string, data []byte, perm fs.FileMode) error {
	name = path.Clean(name)
	h.mkdirs(name)
	h.files[name] = &memFile{data: slices.Clone(data), mode: perm}
	return nil
}

func (h *memHost) AppendFile(name string, data []byte, perm fs.FileMode) error {
	b, _ := h.ReadFile(name)
	return h.WriteFile(name, append(b, data...), perm)
}

func (h *memHost) Remove(name string) error {
	if _, ok := h.files[path.Clean(name)]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(h.files, path.Clean(name))
	return nil
}

func (h *memHost) RemoveAll(name string) error {
	name = path.Clean(name)
	for p := range h.files {
		if p == name || strings.HasPrefix(p, name+"/") {
			delete(h.files, p)
		}
	}
	return nil
}

func (h *memHost) Lstat(name string) (fs.FileInfo, error) {
	f, ok := h.files[path.Clean(name)]
	if !ok {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
	}
	mode := f.mode
	if f.link != "" {
		mode = fs.ModeSymlink | 0o777
	}
	return memInfo{name: path.Base(name), size: int64(len(f.data)), mode: mode}, nil
}

func (h *memHost) Stat(name string) (fs.FileInfo, error) {
	if f, ok := h.files[path.Clean(name)]; ok && f.link != "" {
		return h.Lstat(f.link)
	}
	return h.Lstat(name)
}

func (h *memHost) ReadDir(name string) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	prefix := strings.TrimSuffix(path.Clean(name), "/") + "/"
	for p := range h.files {
		if rest, ok := strings.CutPrefix(p, prefix); ok && rest != "" && !strings.Contains(rest, "/") {
			st, _ := h.Lstat(p)
			out = append(out, fs.FileInfoToDirEntry(st))
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

type memInfo struct {
	name string
	size int64
	mode fs.FileMode
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return i.mode }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.mode.IsDir() }
func (i memInfo) Sys() any           { return nil }

func (h *memHost) MkdirAll(name string, perm fs.FileMode) error {
	h.mkdirs(path.Join(name, "x"))
	return nil
}

func (h *memHost) Symlink(target, link string) error {
	h.mkdirs(link)
	h.files[path.Clean(link)] = &memFile{link: target}
	return nil
}

func (h *memHost) Chmod(name string, perm fs.FileMode) error {
	if f, ok := h.files[path.Clean(name)]; ok {
		f.mode = f.mode&fs.ModeType | perm
	}
	return nil
}

func (h *memHost) Chown(name, owner string) error {
	if f, ok := h.files[path.Clean(name)]; ok {
		f.owner = owner
	}
	return nil
}

func (h *memHost) Owner(name string) (string, error) {
	if f, ok := h.files[path.Clean(name)]; ok && f.owner != "" {
		return f.owner, nil
	}
	return "root:root", nil
}

// Sv answers LSB status as runit 2.1.1 does: 0 running, 3 down.
func (h *memHost) Sv(ctx context.Context, verb, dir string, wait time.Duration, lsb bool) (string, int) {
	name := path.Base(dir)
	switch verb {
	case "status":
		if h.up[name] {
			return "run: " + name + ": (pid 1234) 60s; run: log: (pid 1233) 60s\n", 0
		}
		return "down: " + name + ": 60s, normally up; run: log: (pid 1233) 60s\n", 3
	case "start":
		h.up[name] = true
	case "stop":
		h.up[name] = false
	}
	return "ok: " + name + "\n", 0
}

func (h *memHost) ProcessGroup(int) (int, bool)                     { return 0, false }
func (h *memHost) KillGroup(int) []int                              { return nil }
func (h *memHost) DRBDAdm(context.Context, ...string) (string, int) { return "", 0 }
func (h *memHost) Mount(string, string) error                       { return nil }
func (h *memHost) Umount(string) error                              { return nil }
func (h *memHost) Hostname() string                                 { return "be1.chefha.test" }
func (h *memHost) PID() int                                         { return 4242 }
func (h *memHost) ProcessAlive(int) bool                            { return false }
func (h *memHost) Now() time.Time                                   { return h.now }
func (h *memHost) Sleep(ctx context.Context, d time.Duration) error {
	h.now = h.now.Add(d)
	return ctx.Err()
}
func (h *memHost) Ping(ip string) bool { return ip != "" }
func (h *memHost) Addresses(dev string) (string, bool) {
	if dev != "eth0" {
		return "", false
	}
	out := "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n    inet 192.168.4.1/24 scope global eth0\n"
	if h.vip != "" {
		out += "    inet " + h.vip + "/24 scope global secondary eth0\n"
	}
	return out, true
}

var _ Host = (*memHost)(nil)

func (h *memHost) Jobs() []string         { return slices.Clone(h.jobs) }
func (h *memHost) Supervised(string) bool { return true }
func (h *memHost) StartJob(_ context.Context, job string) error {
	h.jobs = append(h.jobs, job)
	return nil
}

// StopJob: runsvdir exits, its runsv orphaned.
func (h *memHost) StopJob(_ context.Context, job string) error {
	h.jobs = slices.DeleteFunc(h.jobs, func(j string) bool { return j == job })
	h.orphaned = true
	return nil
}

// SignalOrphanRunsv: on TERM the orphans stop their services; on HUP they
// die and the services run on.
func (h *memHost) SignalOrphanRunsv(_ context.Context, sig syscall.Signal) error {
	h.signals = append(h.signals, sig)
	if h.orphaned && sig == syscall.SIGTERM {
		for s := range h.up {
			h.up[s] = false
		}
	}
	h.orphaned = false
	return nil
}
