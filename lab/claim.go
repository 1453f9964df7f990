package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/chefha/chefha/lab/internal/hostnet"
)

// Every lab on a machine holds a claim: /run/chefha-lab/ID.lab, locked with
// flock by the lab's process for the lab's whole life and naming its
// subnet. The kernel drops the lock when the process dies, however it dies,
// so a claim whose lock can be taken is a dead lab's, and its namespaces,
// links and files are leftovers; a locked one is a live lab's, in this
// process or another. alloc.lock is held while a lab picks its subnet and
// writes its claim, and while leftovers go, so two Starts racing pick
// different subnets. Claims live on /run (tmpfs): a reboot, which takes the
// namespaces and links too, clears them.
const claimDir = "/run/chefha-lab"

// Where a lab's files go: not under /tmp, which each node covers with its
// own.
const labDirPrefix = "/var/tmp/chefha-lab."

// labFSOptions are those of the tmpfs that holds a lab's files. On the
// machine's disk every status file runsv renames, every log line svlogd
// writes and every file a node's programs change was block I/O: on a
// virtual machine each write a trap to the hypervisor (runsv, which
// renames its status files at every change of its service, spent most of
// its CPU there). The size is a bound, not a reservation: a lab holds a
// few tens of MB.
const labFSOptions = "size=2g,mode=0700"

// pool is where Start looks for a subnet when the Spec names none: the /24s
// of 10.231.0.0/16, in order.
var pool = netip.MustParsePrefix("10.231.0.0/16")

type claimRecord struct {
	ID     string       `json:"id"`
	Subnet netip.Prefix `json:"subnet"`
	PID    int          `json:"pid"` // for people reading the file; the lock is what counts
}

// claim is a lab's hold on its subnet and names.
type claim struct {
	claimRecord
	f *os.File // locked until release
}

// Names of a lab's links and namespaces: "chl-" and the claim's six hex
// digits, then br, vN or nN. The longest, chl-xxxxxx-v999, is Linux's 15
// characters for an interface name.
var (
	labName = regexp.MustCompile(`^chl-([0-9a-f]{6})-(br|v[0-9]+|n[0-9]+)$`)
	labID   = regexp.MustCompile(`^[0-9a-f]{6}$`)
)

func bridgeName(id string) string       { return "chl-" + id + "-br" }
func vethName(id string, i int) string  { return fmt.Sprintf("chl-%s-v%d", id, i) }
func netnsName(id string, i int) string { return fmt.Sprintf("chl-%s-n%d", id, i) }
func labDir(id string) string           { return labDirPrefix + id }

// addr returns the i-th address of s (0 is the network's own).
func addr(s netip.Prefix, i int) netip.Addr {
	a := s.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Addresses in a lab's subnet of size n: the nodes from the first up, the
// host's end of the bridge on the last before broadcast, the VIP below it.
func hostIndex(s netip.Prefix) int { return 1<<(32-s.Bits()) - 2 }
func vipIndex(s netip.Prefix) int  { return 1<<(32-s.Bits()) - 3 }

// clusterIndex is back end b's replication address (its
// :cluster_ipaddress, DRBD's), below the VIP.
func clusterIndex(s netip.Prefix, b int) int { return 1<<(32-s.Bits()) - 4 - b }

// checkSubnet says whether s can hold a lab of nodes nodes.
func checkSubnet(s netip.Prefix, nodes int) error {
	if !s.IsValid() || !s.Addr().Is4() {
		return fmt.Errorf("lab: subnet %v: want an IPv4 network such as 10.231.7.0/24", s)
	}
	if s != s.Masked() {
		return fmt.Errorf("lab: subnet %v has host bits set: the network is %v", s, s.Masked())
	}
	// network, nodes, two replication addresses, VIP, host, broadcast
	if s.Bits() > 30 || 1<<(32-s.Bits()) < nodes+6 {
		return fmt.Errorf("lab: subnet %v is too small for %d nodes, their 2 replication addresses, a VIP and the host: use a larger network", s, nodes)
	}
	return nil
}

// claimSubnet picks a subnet for a lab of nodes nodes (want, when valid),
// one that no interface or route on the host reaches and no live lab
// claims, and claims it. It removes dead labs' leftovers on the way.
func claimSubnet(ctx context.Context, want netip.Prefix, nodes int) (*claim, error) {
	if want.IsValid() {
		if err := checkSubnet(want, nodes); err != nil {
			return nil, err
		}
	}
	var c *claim
	err := withAllocLock(ctx, func() error {
		live, err := cleanDead(ctx)
		if err != nil {
			return err
		}
		used, err := hostnet.Used(ctx)
		if err != nil {
			return fmt.Errorf("lab: read the host's networks: %w", err)
		}
		s, err := pick(want, nodes, used, live)
		if err != nil {
			return err
		}
		c, err = newClaim(s)
		return err
	})
	return c, err
}

// pick returns want if it is free, else the first free /24 of the pool.
func pick(want netip.Prefix, nodes int, used, live []netip.Prefix) (netip.Prefix, error) {
	free := func(p netip.Prefix) error {
		if u, ok := hostnet.Overlap(p, live); ok {
			return fmt.Errorf("lab: subnet %v overlaps %v, another lab's on this machine: choose another Spec.Subnet or leave it empty", p, u)
		}
		if u, ok := hostnet.Overlap(p, used); ok {
			return fmt.Errorf("lab: subnet %v overlaps %v, which this host's interfaces or routes use (ip -o addr; ip route show table all): choose another Spec.Subnet or leave it empty", p, u)
		}
		return nil
	}
	if want.IsValid() {
		return want, free(want)
	}
	for i := 0; i < 1<<(24-pool.Bits()); i++ {
		p := netip.PrefixFrom(addr(pool, i<<8), 24)
		if free(p) == nil {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("lab: no free /24 left in %v (other labs or the host's networks hold them all): name one in Spec.Subnet", pool)
}

// newClaim writes and locks a claim for s under a fresh ID, and makes the
// lab's directory. The caller holds alloc.lock.
func newClaim(s netip.Prefix) (*claim, error) {
	for tries := 0; tries < 10; tries++ {
		var b [3]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		f, err := os.OpenFile(filepath.Join(claimDir, id+".lab"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		c := &claim{claimRecord{ID: id, Subnet: s, PID: os.Getpid()}, f}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			c.release()
			return nil, fmt.Errorf("lab: lock %s: %w", f.Name(), err)
		}
		rec, _ := json.Marshal(c.claimRecord)
		if _, err := f.Write(append(rec, '\n')); err != nil {
			c.release()
			return nil, err
		}
		if err := os.Mkdir(labDir(id), 0o700); err != nil {
			c.release()
			return nil, err
		}
		if err := syscall.Mount("chefha-lab", labDir(id), "tmpfs", 0, labFSOptions); err != nil {
			os.Remove(labDir(id))
			c.release()
			return nil, fmt.Errorf("lab: the lab's file system: %w", err)
		}
		return c, nil
	}
	return nil, errors.New("lab: no unused claim ID after 10 tries")
}

// release drops the claim: the lab's resources must be gone already.
func (c *claim) release() {
	os.Remove(c.f.Name())
	c.f.Close()
}

// withAllocLock runs f holding alloc.lock, waiting for it as long as ctx
// allows.
func withAllocLock(ctx context.Context, f func() error) error {
	lf, err := lockAlloc(ctx)
	if err != nil {
		return err
	}
	defer lf.Close() // closing drops the lock
	return f()
}

// lockAlloc takes alloc.lock, waiting for it as long as ctx allows;
// closing the file drops it.
func lockAlloc(ctx context.Context) (*os.File, error) {
	if err := os.MkdirAll(claimDir, 0o700); err != nil {
		return nil, err
	}
	lf, err := os.OpenFile(filepath.Join(claimDir, "alloc.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return lf, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			lf.Close()
			return nil, fmt.Errorf("lab: lock %s: %w", lf.Name(), err)
		}
		select {
		case <-ctx.Done():
			lf.Close()
			return nil, fmt.Errorf("lab: waiting for %s (another lab is starting): %w", lf.Name(), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// CleanLeftovers removes what labs whose process is gone (a killed test
// run, a crashed program) left behind: their nodes' processes, network
// namespaces, links, files and claims. Labs whose process lives, in this
// process or another, are left alone, whoever started them. Start calls
// it.
func CleanLeftovers(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root", ErrUnsupported)
	}
	return withAllocLock(ctx, func() error {
		_, err := cleanDead(ctx)
		return err
	})
}

// cleanDead removes dead labs and returns the subnets the live ones hold.
// The caller holds alloc.lock.
func cleanDead(ctx context.Context) ([]netip.Prefix, error) {
	ents, err := os.ReadDir(claimDir)
	if err != nil {
		return nil, err
	}
	var live []netip.Prefix
	alive := map[string]bool{}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".lab")
		if !ok {
			continue
		}
		f, err := os.OpenFile(filepath.Join(claimDir, e.Name()), os.O_RDWR, 0)
		if err != nil {
			continue // released meanwhile
		}
		var rec claimRecord
		b, _ := os.ReadFile(f.Name())
		json.Unmarshal(b, &rec)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
			alive[id] = true
			if rec.Subnet.IsValid() {
				live = append(live, rec.Subnet)
			}
			f.Close()
			continue
		}
		// Dead: what its ID names goes below; the claim goes last.
		removeLab(ctx, id)
		os.Remove(f.Name())
		f.Close()
	}
	// Anything left named like a lab but claimed by no live one (a claim
	// removed before its lab was, or a run killed mid-Close).
	stray := map[string]bool{}
	for _, n := range append(netnsNames(ctx), linkNames(ctx)...) {
		if m := labName.FindStringSubmatch(n); m != nil && !alive[m[1]] {
			stray[m[1]] = true
		}
	}
	dirs, _ := filepath.Glob(labDirPrefix + "*")
	for _, d := range dirs {
		if id := strings.TrimPrefix(d, labDirPrefix); labID.MatchString(id) && !alive[id] {
			stray[id] = true
		}
	}
	for id := range stray {
		removeLab(ctx, id)
	}
	return live, nil
}

// removeLab kills and deletes everything named after a lab's ID.
func removeLab(ctx context.Context, id string) {
	for _, ns := range netnsNames(ctx) {
		if m := labName.FindStringSubmatch(ns); m != nil && m[1] == id {
			killNetNS(ctx, ns)
		}
	}
	for _, l := range linkNames(ctx) {
		if m := labName.FindStringSubmatch(l); m != nil && m[1] == id {
			deleteLink(ctx, l)
		}
	}
	removeLabDir(labDir(id))
}

// removeLabDir deletes a lab's files and unmounts its file systems (its
// DRBD disk and the lab's own tmpfs; a lab left by a version that had none
// has no mount). The files go first, while the tmpfs is still mounted
// here: a node process that outlived the lab holds a copy of the mount,
// and a detached tmpfs keeps its files' memory until that copy is gone.
func removeLabDir(dir string) error {
	syscall.Unmount(drbdDisk(dir), syscall.MNT_DETACH)
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			os.RemoveAll(filepath.Join(dir, e.Name())) // the rest is removed below or reported
		}
	}
	syscall.Unmount(dir, syscall.MNT_DETACH)
	return os.RemoveAll(dir)
}

// drbdDisk is a lab's shared DRBD disk, a tmpfs on the host.
func drbdDisk(dir string) string { return filepath.Join(dir, "drbd", "disk") }
