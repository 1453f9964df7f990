package clustertest

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/chefha/chefha/lvm"
)

// LVM is a back end's volume group as lvm2 shows it: the logical volume
// under DRBD (private_chef['drbd']['disk'], /dev/opscode/drbd by default)
// and the classic snapshots taken of it. The simulated node answers `lvm
// version`, `lvs` (JSON with --reportformat json from lvm2 2.02.158, the
// `|`-separated text form before), `lvcreate -s` and `lvextend` from it,
// and `findmnt --target` and `df -P -k` for the DRBD data directory.
//
// A snapshot fills as the service data changes: every file the node
// writes under /var/opt/opscode stands for Churn bytes of the volume
// rewritten (the emulation keeps no database; its writes there measure the
// upgrade's work), each changed chunk copied into every snapshot once.
// Past its size a snapshot is invalid, as the kernel drops it.
type LVM struct {
	VG, LV string // default opscode, drbd
	// Size is the LV's size (default 100 GiB), ExtentSize the VG's extent
	// (default 4 MiB) and Free the VG's free space (default 20 GiB).
	Size, ExtentSize, Free int64
	// Used is what df reports in use on the data directory (default 12 GiB).
	Used int64
	// Version is what `lvm version` prints after "LVM version:" (default
	// "2.03.16(2) (2022-05-18)", Debian 12's).
	Version string
	// Churn is the volume's bytes one write under /var/opt/opscode
	// rewrites (default 1 MiB).
	Churn int64

	// Exec, when set, runs the lvm2 commands (lvm, lvs, lvcreate,
	// lvextend) instead of the simulation, and Write rewrites n bytes of
	// the origin: a test hands a real volume group on a loop device here
	// (upgrade/runner_lvm_test.go). findmnt and df still answer from the
	// fields above.
	Exec  func(ctx context.Context, argv []string, stdout, stderr io.Writer) int
	Write func(n int64) error
}

func (l LVM) withDefaults() LVM {
	if l.VG == "" {
		l.VG = "opscode"
	}
	if l.LV == "" {
		l.LV = "drbd"
	}
	if l.Size == 0 {
		l.Size = 100 << 30
	}
	if l.ExtentSize == 0 {
		l.ExtentSize = 4 << 20
	}
	if l.Free == 0 {
		l.Free = 20 << 30
	}
	if l.Used == 0 {
		l.Used = 12 << 30
	}
	if l.Version == "" {
		l.Version = "2.03.16(2) (2022-05-18)"
	}
	if l.Churn == 0 {
		l.Churn = 1 << 20
	}
	return l
}

// volumes is one back end's simulated volume group.
type volumes struct {
	cfg     LVM
	version lvm.Version
	free    int64
	snaps   []*snapshot
	// writes counts the writes under /var/opt/opscode, for the tests.
	writes int
}

type snapshot struct {
	name    string
	size    int64 // the copy-on-write store
	changed int64 // origin bytes rewritten since it was taken
	dropped bool  // overflowed: the kernel invalidated it, for good
}

func newVolumes(cfg LVM) (*volumes, error) {
	cfg = cfg.withDefaults()
	v, err := lvm.ParseVersion([]byte("LVM version: " + cfg.Version))
	if err != nil {
		return nil, fmt.Errorf("clustertest: LVM.Version: %w", err)
	}
	if cfg.Used > cfg.Size {
		return nil, fmt.Errorf("clustertest: LVM.Used %d exceeds LVM.Size %d", cfg.Used, cfg.Size)
	}
	return &volumes{cfg: cfg, version: v, free: cfg.Free}, nil
}

// cowUsed is what a store holding changed bytes of the origin uses: the
// chunks (4 KiB), 16 bytes of exception table per chunk and the header
// chunk, as dm-snapshot's persistent store keeps them.
func cowUsed(changed int64) int64 {
	chunks := (changed + lvm.ChunkSize - 1) / lvm.ChunkSize
	return (1+chunks)*lvm.ChunkSize + chunks*16
}

func (s *snapshot) invalid() bool { return s.dropped }

func (s *snapshot) percent() float64 {
	if s.invalid() {
		return 100
	}
	return math.Min(100, float64(cowUsed(s.changed))*100/float64(s.size))
}

// wrote is a write under /var/opt/opscode: the origin changes.
func (v *volumes) wrote() {
	v.writes++
	if v.cfg.Write != nil {
		v.cfg.Write(v.cfg.Churn)
		return
	}
	for _, s := range v.snaps {
		s.changed = min(s.changed+v.cfg.Churn, v.cfg.Size)
		s.dropped = s.dropped || cowUsed(s.changed) > s.size
	}
}

// LVMWrites is how many writes under /var/opt/opscode the node made, each
// rewriting LVM.Churn bytes of its volume.
func (n *Node) LVMWrites() int {
	if n.vols == nil {
		return 0
	}
	return n.vols.writes
}

// lvmCommand is lvm2's lvm, lvs, lvcreate and lvextend on a back end.
func (n *Node) lvmCommand(ctx context.Context, argv []string, e shellIO) int {
	v := n.vols
	if v == nil {
		fmt.Fprintf(e.Stderr, "sh: 1: %s: not found\n", argv[0])
		return 127
	}
	if v.cfg.Exec != nil {
		return v.cfg.Exec(ctx, argv, e.Stdout, e.Stderr)
	}
	switch argv[0] {
	case "lvm":
		if len(argv) == 2 && argv[1] == "version" {
			fmt.Fprintf(e.Stdout, "  LVM version:     %s\n  Library version: 1.02.185 (2022-05-18)\n  Driver version:  4.48.0\n", v.cfg.Version)
			return 0
		}
	case "lvs":
		return v.lvs(argv, e)
	case "lvcreate":
		return v.lvcreate(argv, e)
	case "lvextend":
		return v.lvextend(argv, e)
	}
	return notEmulated(argv, e)
}

// sizeArg reads lvcreate's and lvextend's -L argument as lvm2 does
// (tools/lvmcmdline.c _size_arg): a number, a fraction allowed, and a unit
// of b (bytes), s (sectors), k, m (the default), g, t, p or e, powers of
// 1024 whatever the case; "+" in front for lvextend.
func sizeArg(s string) (int64, bool) {
	s = strings.TrimPrefix(s, "+")
	mult := float64(1 << 20)
	if s != "" {
		switch u := strings.ToLower(s[len(s)-1:]); u {
		case "b":
			mult = 1
		case "s":
			mult = 512
		case "k", "m", "g", "t", "p", "e":
			mult = math.Pow(1024, float64(strings.Index("kmgtpe", u)+1))
		}
		if strings.ContainsAny(s[len(s)-1:], "bBsSkKmMgGtTpPeE") {
			s = s[:len(s)-1]
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f*mult > 1<<62 {
		return 0, false
	}
	return int64(math.Ceil(f * mult)), true
}

// lvArgs reads an lvcreate or lvextend command line: -s, -L SIZE (or
// --size), -n NAME (or --name) in any order, and one VG/LV.
func lvArgs(argv []string) (snapshot bool, size, name, target string, ok bool) {
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "-s" || a == "--snapshot":
			snapshot = true
		case (a == "-L" || a == "--size" || a == "-n" || a == "--name") && i+1 < len(argv):
			i++
			if a == "-n" || a == "--name" {
				name = argv[i]
			} else {
				size = argv[i]
			}
		case strings.HasPrefix(a, "-L") && len(a) > 2:
			size = a[2:]
		case strings.HasPrefix(a, "-n") && len(a) > 2:
			name = a[2:]
		case strings.HasPrefix(a, "-") || target != "":
			return false, "", "", "", false
		default:
			target = a
		}
	}
	return snapshot, size, name, target, strings.Contains(target, "/")
}

func (v *volumes) roundUp(n int64) int64 {
	x := v.cfg.ExtentSize
	return (n + x - 1) / x * x
}

// lvcreate -s -L SIZEb -n NAME VG/ORIGIN.
func (v *volumes) lvcreate(argv []string, e shellIO) int {
	snap, sz, name, target, ok := lvArgs(argv)
	if !ok || !snap || name == "" {
		return notEmulated(argv, e)
	}
	size, ok := sizeArg(sz)
	if !ok {
		return notEmulated(argv, e)
	}
	vg, origin, _ := strings.Cut(target, "/")
	if _, err := lvm.CreateSnapshotArgs(vg, origin, name, 512); err != nil {
		fmt.Fprintf(e.Stderr, "  %v\n  Run `lvcreate --help' for more information.\n", strings.TrimPrefix(err.Error(), "lvm: "))
		return 3
	}
	switch {
	case vg != v.cfg.VG:
		fmt.Fprintf(e.Stderr, "  Volume group \"%s\" not found\n  Cannot process volume group %s\n", vg, vg)
		return 5
	case origin != v.cfg.LV:
		fmt.Fprintf(e.Stderr, "  Couldn't find origin volume '%s'.\n", origin)
		return 5
	case name == v.cfg.LV || v.snap(name) != nil:
		fmt.Fprintf(e.Stderr, "  Logical Volume \"%s\" already exists in volume group \"%s\"\n", name, vg)
		return 5
	}
	want := v.roundUp(size)
	if want != size {
		fmt.Fprintf(e.Stdout, "  Rounding up size to full physical extent %s.\n", displaySize(want))
	}
	whole := lvm.LV{VG: vg, Name: origin, Size: v.cfg.Size, ExtentSize: v.cfg.ExtentSize}
	if ceiling, err := lvm.SnapshotSize(whole, whole.Size, 0); err == nil && want > ceiling {
		fmt.Fprintf(e.Stdout, "  Reducing COW size %s down to maximum usable size %s.\n", displaySize(want), displaySize(ceiling))
		want = ceiling
	}
	if want > v.free {
		fmt.Fprintf(e.Stderr, "  Volume group \"%s\" has insufficient free space (%d extents): %d required.\n", vg, v.free/v.cfg.ExtentSize, want/v.cfg.ExtentSize)
		return 5
	}
	v.free -= want
	v.snaps = append(v.snaps, &snapshot{name: name, size: want})
	fmt.Fprintf(e.Stdout, "  Logical volume \"%s\" created.\n", name)
	return 0
}

func (v *volumes) snap(name string) *snapshot {
	for _, s := range v.snaps {
		if s.name == name {
			return s
		}
	}
	return nil
}

// lvextend -L +SIZEb VG/LV, for a snapshot's store.
func (v *volumes) lvextend(argv []string, e shellIO) int {
	snap, sz, lvName, target, ok := lvArgs(argv)
	if !ok || snap || lvName != "" || !strings.HasPrefix(sz, "+") {
		return notEmulated(argv, e)
	}
	add, ok := sizeArg(sz)
	if !ok {
		return notEmulated(argv, e)
	}
	vg, name, _ := strings.Cut(target, "/")
	s := v.snap(name)
	if vg != v.cfg.VG || s == nil {
		if vg == v.cfg.VG && name == v.cfg.LV {
			fmt.Fprintln(e.Stderr, "  Snapshot origin volumes can be resized only while inactive: try lvchange -an.")
			return 5
		}
		fmt.Fprintf(e.Stderr, "  Failed to find logical volume \"%s/%s\"\n", vg, name)
		return 5
	}
	add = v.roundUp(add)
	if add > v.free {
		fmt.Fprintf(e.Stderr, "  Insufficient free space: %d extents needed, but only %d available\n", add/v.cfg.ExtentSize, v.free/v.cfg.ExtentSize)
		return 5
	}
	x := v.cfg.ExtentSize
	fmt.Fprintf(e.Stdout, "  Size of logical volume %s/%s changed from %s (%d extents) to %s (%d extents).\n",
		vg, name, displaySize(s.size), s.size/x, displaySize(s.size+add), (s.size+add)/x)
	v.free -= add
	s.size += add
	fmt.Fprintf(e.Stdout, "  Logical volume %s/%s successfully resized.\n", vg, name)
	return 0
}
