package labnode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
)

// The lab has no DRBD kernel module. A back end's DRBD is the model's
// DRBDPair, kept in DRBDDir, a directory the lab shares between its two
// back ends (what the kernel modules would keep, and the disk they would
// replicate): drbdadm answers from it, ha-status's /proc/drbd is printed
// from it, and cluster.sh's mount of /dev/drbd0 is a real bind mount of
// the shared disk on the data directory, which only a Primary can make.
const (
	DRBDDir   = "/var/lib/chefha-drbd"
	DRBDState = DRBDDir + "/pair.json"
	DRBDDisk  = DRBDDir + "/disk"
)

var errNoDRBD = errors.New("no DRBD on this node")

// drbd runs fn on the pair's state under its lock, and saves it when save.
func (h *Host) drbd(save bool, fn func(p *ecmodel.DRBDPair)) error {
	// A front end has no DRBD directory of its own: DRBDDir there is the
	// machine's empty mount point, which must stay empty.
	if _, err := os.Stat(h.p(DRBDState)); err != nil {
		return errNoDRBD
	}
	lf, err := os.OpenFile(h.p(DRBDDir+"/pair.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return errNoDRBD
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	b, err := os.ReadFile(h.p(DRBDState))
	if err != nil {
		return errNoDRBD
	}
	var p ecmodel.DRBDPair
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("%s: %w", DRBDState, err)
	}
	// A resync this node is the target of stands still while the node
	// has ecmodel.HoldPath (a test's hold; the pair records it, so that
	// the peer sees it stand still too).
	_, err = h.Stat(ecmodel.HoldPath)
	held := p.HoldSync(h.name, err == nil, time.Now())
	fn(&p)
	if !save && !held {
		return nil
	}
	b, _ = json.MarshalIndent(&p, "", "  ")
	tmp := h.p(DRBDState + ".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, h.p(DRBDState))
}

// DRBDAdm is drbdadm 8.4 for resource pc0; a front end has none.
func (h *Host) DRBDAdm(ctx context.Context, args ...string) (string, int) {
	var out, harm string
	var code int
	mounted := h.mounted(ecmodel.DRBDDataDir)
	save := len(args) > 0 && (args[0] == "primary" || args[0] == "secondary")
	err := h.drbd(save, func(p *ecmodel.DRBDPair) { out, code, harm = p.Adm(h.name, mounted, time.Now(), args...) })
	if errors.Is(err, errNoDRBD) {
		return "drbdadm: command not found\n", 127
	}
	if err != nil {
		return err.Error() + "\n", 20
	}
	if harm != "" {
		h.AppendFile(ecmodel.ModelDir+"/harm", []byte(h.name+": "+harm+"\n"), 0o644)
	}
	return out, code
}

// DRBDFault puts the pair in a failure state, this node the one that
// suffers it. peer-unreachable takes its replication address (its
// :cluster_ipaddress) off its interface, so the peer's real ping fails;
// reconnect puts it back.
func (h *Host) DRBDFault(f ecmodel.DRBDFault) error {
	err := h.drbd(true, func(p *ecmodel.DRBDPair) {
		now := time.Now()
		p.Fault(f, h.name, now)
		// A resync planted while the node is held starts held.
		_, err := h.Stat(ecmodel.HoldPath)
		p.HoldSync(h.name, err == nil, now)
	})
	if err != nil {
		return err
	}
	switch f.Kind {
	case "peer-unreachable":
		if out, code := h.hostop(context.Background(), "cluster-addr", "del"); code != 0 {
			return fmt.Errorf("take the replication address off: %s", strings.TrimSpace(out))
		}
	case "reconnect":
		if out, code := h.hostop(context.Background(), "cluster-addr", "add"); code != 0 && !strings.Contains(out, "File exists") {
			return fmt.Errorf("put the replication address back: %s", strings.TrimSpace(out))
		}
	}
	return nil
}

// clusterAddr adds or removes the node's replication address (see
// DRBDFault); the lab puts it on eth0 beside the public one.
func (h *Host) clusterAddr(op string) (string, int) {
	n, err := ecmodel.Load(h)
	if err != nil {
		return err.Error() + "\n", 1
	}
	ip := n.Me.ClusterIPAddress
	if ip == "" || ip == n.Me.Host() {
		return "no replication address of its own: " + n.Me.Name + "\n", 1
	}
	bits, _ := os.ReadFile(h.p(ecmodel.ModelDir + "/cluster-prefix"))
	cidr := ip + "/" + strings.TrimSpace(string(bits))
	return h.run(context.Background(), nil, tool("ip"), "addr", op, cidr, "dev", "eth0")
}

// drbdDevice answers for /dev/drbd0 and /dev/opscode/drbd on a back end.
func (h *Host) drbdDevice(name string) (fs.FileInfo, bool) {
	name = path.Clean(name)
	if name != ecmodel.DRBDDevice && name != ecmodel.DRBDDisk {
		return nil, false
	}
	if _, err := os.Stat(h.p(DRBDState)); err != nil {
		return nil, false
	}
	return device(path.Base(name)), true
}

type device string

func (d device) Name() string       { return string(d) }
func (d device) Size() int64        { return 0 }
func (d device) Mode() fs.FileMode  { return fs.ModeDevice | 0o660 }
func (d device) ModTime() time.Time { return time.Time{} }
func (d device) IsDir() bool        { return false }
func (d device) Sys() any           { return nil }

// mounted reports whether dir is a mount point in the node.
func (h *Host) mounted(dir string) bool {
	b, _ := h.ReadFile("/proc/mounts")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == dir {
			return true
		}
	}
	return false
}

// Mount is cluster.sh's `mount /dev/drbd0 DIR`: the shared disk bind
// mounted on DIR, which fails as the real mount would on a Secondary or
// on a directory already mounted.
func (h *Host) Mount(device, dir string) error {
	if h.root != "" {
		if out, code := h.hostop(context.Background(), "mount", device, dir); code != 0 {
			return errors.New(strings.TrimSpace(out))
		}
		return nil
	}
	primary := false
	if err := h.drbd(false, func(p *ecmodel.DRBDPair) { primary = p.Primary(h.name) }); err != nil {
		return fmt.Errorf("mount: %s: special device does not exist", device)
	}
	if !primary {
		return fmt.Errorf("mount: %s: wrong medium type", device)
	}
	if h.mounted(dir) {
		return fmt.Errorf("mount: %s: %s already mounted on %s", dir, device, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := syscall.Mount(DRBDDisk, dir, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount: %s: %w", dir, err)
	}
	return nil
}

// Umount is `umount -f DIR`.
func (h *Host) Umount(dir string) error {
	if h.root != "" {
		if out, code := h.hostop(context.Background(), "umount", dir); code != 0 {
			return errors.New(strings.TrimSpace(out))
		}
		return nil
	}
	if err := syscall.Unmount(dir, syscall.MNT_FORCE); err != nil {
		return fmt.Errorf("umount: %s: %w", dir, err)
	}
	return nil
}
