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

// row is one LV's fields as lvs prints them.
func (v *volumes) rows() []map[string]string {
	c := v.cfg
	// lv_attr by release (lvm/attr.go): 6 characters to 2.02.88, 8 from
	// 2.02.89, 9 in 2.02.98, 10 from 2.02.99; 2.02.58–2.02.96 upper-case an
	// invalid snapshot's type.
	width := 10
	switch {
	case v.version.Less(lvm.Version{Major: 2, Minor: 2, Patch: 89}):
		width = 6
	case v.version.Less(lvm.Version{Major: 2, Minor: 2, Patch: 98}):
		width = 8
	case v.version.Less(lvm.Version{Major: 2, Minor: 2, Patch: 99}):
		width = 9
	}
	attr := func(s string) string { return s[:width] }
	common := func(name string) map[string]string {
		return map[string]string{"lv_name": name, "vg_name": c.VG, "pool_lv": "", "metadata_percent": "", "lv_metadata_size": "",
			"lv_path": "/dev/" + c.VG + "/" + name, "lv_dm_path": "/dev/mapper/" + dmName(c.VG) + "-" + dmName(name),
			"vg_extent_size": strconv.FormatInt(c.ExtentSize, 10), "vg_free": strconv.FormatInt(v.free, 10)}
	}
	origin := common(c.LV)
	origin["lv_attr"], origin["lv_size"], origin["origin"] = attr("-wi-ao----"), strconv.FormatInt(c.Size, 10), ""
	if len(v.snaps) > 0 {
		origin["lv_attr"] = attr("owi-aos---")
	}
	origin["snap_percent"], origin["data_percent"], origin["lv_snapshot_invalid"] = "", "", "unknown"
	out := []map[string]string{origin}
	for _, s := range v.snaps {
		r := common(s.name)
		r["lv_attr"], r["lv_size"], r["origin"] = attr("swi-a-s---"), strconv.FormatInt(s.size, 10), c.LV
		p := fmt.Sprintf("%.2f", s.percent())
		r["snap_percent"], r["data_percent"], r["lv_snapshot_invalid"] = p, p, ""
		if s.invalid() {
			r["lv_attr"], r["lv_snapshot_invalid"] = attr("swi-I-s---"), "snapshot invalid"
			if !v.version.Less(lvm.Version{Major: 2, Minor: 2, Patch: 58}) && v.version.Less(lvm.Version{Major: 2, Minor: 2, Patch: 97}) {
				r["lv_attr"] = "S" + r["lv_attr"][1:]
			}
		}
		out = append(out, r)
	}
	return out
}

// dmName doubles the hyphens of a name, as device-mapper does.
func dmName(s string) string { return strings.ReplaceAll(s, "-", "--") }

// fieldSince is the first lvm2 release that knows a field
// (lib/report/columns.h); an older one fails on it.
var fieldSince = map[string]lvm.Version{
	"pool_lv": {Major: 2, Minor: 2, Patch: 89}, "data_percent": {Major: 2, Minor: 2, Patch: 89},
	"metadata_percent": {Major: 2, Minor: 2, Patch: 89}, "lv_metadata_size": {Major: 2, Minor: 2, Patch: 89},
	"lv_snapshot_invalid": {Major: 2, Minor: 2, Patch: 108}, "lv_path": {Major: 2, Minor: 2, Patch: 68},
	"lv_dm_path": {Major: 2, Minor: 2, Patch: 108},
}

// lvs [--reportformat json | --noheadings --separator S] --units b
// --nosuffix -o FIELDS VG[/LV], as lvm2 prints it (lvm/testdata).
func (v *volumes) lvs(argv []string, e shellIO) int {
	var fields []string
	var targets []string
	json, headings, sep, bytes := false, true, " ", false
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		val := func() string {
			if i+1 < len(argv) {
				i++
				return argv[i]
			}
			return ""
		}
		switch a {
		case "--reportformat":
			if v.version.Less(lvm.Version{Major: 2, Minor: 2, Patch: 158}) {
				fmt.Fprintf(e.Stderr, "lvs: unrecognized option '--reportformat'\n  Error during parsing of command line.\n")
				return 3
			}
			json = val() == "json"
		case "--noheadings":
			headings = false
		case "--separator":
			sep = val()
		case "--units":
			bytes = val() == "b"
		case "--nosuffix":
		case "-o":
			fields = strings.Split(val(), ",")
		default:
			if strings.HasPrefix(a, "-") {
				return notEmulated(argv, e)
			}
			targets = append(targets, a)
		}
	}
	if len(argv) == 2 && len(targets) == 1 {
		return v.lvsPlain(targets[0], e)
	}
	if !bytes || len(fields) == 0 || headings && !json || len(targets) != 1 {
		return notEmulated(argv, e)
	}
	for _, f := range fields {
		if since, ok := fieldSince[f]; ok && v.version.Less(since) {
			fmt.Fprintf(e.Stderr, "  Unrecognised field: %s\n", f)
			return 5
		}
	}
	vg, lv, _ := strings.Cut(targets[0], "/")
	if vg != v.cfg.VG {
		fmt.Fprintf(e.Stderr, "  Volume group \"%s\" not found\n  Cannot process volume group %s\n", vg, vg)
		return 5
	}
	var rows []map[string]string
	for _, r := range v.rows() {
		if lv == "" || r["lv_name"] == lv {
			rows = append(rows, r)
		}
	}
	if lv != "" && len(rows) == 0 {
		fmt.Fprintf(e.Stderr, "  Failed to find logical volume \"%s/%s\"\n", vg, lv)
		return 5
	}
	if json {
		fmt.Fprint(e.Stdout, "  {\n      \"report\": [\n          {\n              \"lv\": [\n")
		for i, r := range rows {
			var kv []string
			for _, f := range fields {
				kv = append(kv, strconv.Quote(f)+":"+strconv.Quote(r[f]))
			}
			end := ",\n"
			if i == len(rows)-1 {
				end = "\n"
			}
			fmt.Fprintf(e.Stdout, "                  {%s}%s", strings.Join(kv, ", "), end)
		}
		fmt.Fprint(e.Stdout, "              ]\n          }\n      ]\n  }\n")
		return 0
	}
	for _, r := range rows {
		var vals []string
		for _, f := range fields {
			vals = append(vals, r[f])
		}
		fmt.Fprintf(e.Stdout, "  %s\n", strings.Join(vals, sep))
	}
	return 0
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

// displaySize is lvm2's display_size in its default units.
func displaySize(n int64) string {
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	f, u := float64(n)/1024, 0
	for f >= 1024 && u < len(units)-1 {
		f, u = f/1024, u+1
	}
	return fmt.Sprintf("%.2f %s", f, units[u])
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

// mountOf is the file system holding p: the DRBD device on the data
// directory where it is mounted, the log file system, or the root.
func (n *Node) mountOf(p string) (source, target, fstype string) {
	source, target, fstype = "/dev/sda1", "/", "ext4"
	for _, l := range strings.Split(n.procMounts(), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || !strings.HasPrefix(f[1], "/") {
			continue
		}
		if (p == f[1] || strings.HasPrefix(p, strings.TrimSuffix(f[1], "/")+"/")) && len(f[1]) >= len(target) {
			source, target, fstype = f[0], f[1], f[2]
		}
	}
	return source, target, fstype
}

// findmntTarget is `findmnt -n -r -o SOURCE,TARGET,FSTYPE --target PATH`
// (lvm.FindmntArgs): the raw form, exit 1 for a path that does not exist.
func (n *Node) findmntTarget(argv []string, e shellIO) int {
	if strings.Join(argv[1:len(argv)-2], " ") != "-n -r -o SOURCE,TARGET,FSTYPE" || argv[len(argv)-2] != "--target" {
		return notEmulated(argv, e)
	}
	p := argv[len(argv)-1]
	if _, err := n.Lstat(p); err != nil {
		return 1
	}
	src, target, fstype := n.mountOf(p)
	fmt.Fprintf(e.Stdout, "%s %s %s\n", src, target, fstype)
	return 0
}

// dfData is `df -P -k PATH` of a path on the DRBD data directory, sized
// from the volume under it.
func (n *Node) dfData(p string, e shellIO) int {
	src, target, _ := n.mountOf(p)
	size, used := int64(20511356)*1024, int64(4102271)*1024
	if src == "/dev/drbd0" && n.vols != nil {
		size, used = n.vols.cfg.Size, n.vols.cfg.Used
	}
	k := func(b int64) int64 { return b / 1024 }
	avail := size - used
	fmt.Fprintln(e.Stdout, "Filesystem     1024-blocks      Used Available Capacity Mounted on")
	fmt.Fprintf(e.Stdout, "%-14s %11d %9d %9d %7d%% %s\n", src, k(size), k(used), k(avail), (used*100+size-1)/size, target)
	return 0
}

// lvsPlain is `lvs VG[/LV]` with lvm2's default columns and sizes in its
// default units (a backup check command such as `lvs vg0/chef-pre`).
func (v *volumes) lvsPlain(target string, e shellIO) int {
	vg, lv, _ := strings.Cut(target, "/")
	if vg != v.cfg.VG {
		fmt.Fprintf(e.Stderr, "  Volume group \"%s\" not found\n  Cannot process volume group %s\n", vg, vg)
		return 5
	}
	var rows [][]string
	for _, r := range v.rows() {
		if lv == "" || r["lv_name"] == lv {
			size, _ := strconv.ParseInt(r["lv_size"], 10, 64)
			rows = append(rows, []string{r["lv_name"], r["vg_name"], r["lv_attr"], shortSize(size), r["origin"], r["data_percent"]})
		}
	}
	if len(rows) == 0 {
		fmt.Fprintf(e.Stderr, "  Failed to find logical volume \"%s/%s\"\n", vg, lv)
		return 5
	}
	fmt.Fprintf(e.Stdout, "  %-20s %-8s %-10s %8s %-6s %-20s %s\n", "LV", "VG", "Attr", "LSize", "Pool", "Origin", "Data%")
	for _, r := range rows {
		fmt.Fprintf(e.Stdout, "  %-20s %-8s %-10s %8s %-6s %-20s %s\n", r[0], r[1], r[2], r[3], "", r[4], r[5])
	}
	return 0
}

// shortSize is lvs' default size column: "20.00g".
func shortSize(n int64) string {
	f, u := float64(n)/1024, 0
	for f >= 1024 && u < 3 {
		f, u = f/1024, u+1
	}
	return fmt.Sprintf("%.2f%c", f, "kmgt"[u])
}
