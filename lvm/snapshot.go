package lvm

import (
	"fmt"
	"math"
	"strings"
)

// ChunkSize is the chunk lvcreate gives a classic snapshot by default:
// 8 sectors (tools/lvcreate.c). The copy-on-write store holds changed
// data in chunks of this size plus 16 bytes of metadata for each.
const ChunkSize = 4096

// cowBytes is the copy-on-write store that holds data bytes of changed
// chunks, counted as lvm2 counts a store covering a whole origin
// (lib/metadata/snapshot_manip.c, _cow_max_size): a header chunk, the
// data chunks, one metadata chunk per ChunkSize/16 of them (plus a
// terminator), and the 1/64 more lvm2 adds for kernels that leak chunks
// on a crash.
func cowBytes(data int64) int64 {
	chunks := (data + ChunkSize - 1) / ChunkSize
	perMeta := int64(ChunkSize / 16)
	meta := (chunks + perMeta) / perMeta
	n := 1 + chunks + meta
	return (n + (n+63)/64) * ChunkSize
}

func roundUp(n, unit int64) int64 {
	if unit <= 0 {
		unit = 512
	}
	return (n + unit - 1) / unit * unit
}

// maxSize is a bound well below int64 overflow for any arithmetic here.
const maxSize = 1 << 60

// SnapshotSize is the size to give a classic snapshot of origin when
// used bytes of its file system are in use (df's Used) and the upgrade
// may rewrite all of that plus margin more (0.2 for 20%): the
// copy-on-write store for used×(1+margin) bytes of changed data, rounded
// up to whole extents (origin.ExtentSize; to 512 bytes when unknown —
// lvm2 then rounds up itself). It never exceeds what holds the whole
// origin: a snapshot that size cannot overflow, and lvm2 reduces a
// larger request to it.
func SnapshotSize(origin LV, used int64, margin float64) (int64, error) {
	switch {
	case origin.Size <= 0 || origin.Size > maxSize:
		return 0, fmt.Errorf("lvm: origin %s has size %d", origin.FullName(), origin.Size)
	case used < 0:
		return 0, fmt.Errorf("lvm: negative used bytes %d", used)
	case used > origin.Size:
		return 0, fmt.Errorf("lvm: %d bytes used on a %d-byte origin %s: df of another file system?", used, origin.Size, origin.FullName())
	case margin < 0 || math.IsNaN(margin) || math.IsInf(margin, 0):
		return 0, fmt.Errorf("lvm: margin %v is not a non-negative fraction", margin)
	}
	want := float64(used) * (1 + margin)
	if want > float64(origin.Size) {
		want = float64(origin.Size)
	}
	size := min(cowBytes(int64(math.Ceil(want))), cowBytes(origin.Size))
	return roundUp(size, origin.ExtentSize), nil
}

// Problem is what CheckSnapshot found wrong.
type Problem int

const (
	// SnapshotMissing: no LV of that name; removed, renamed or merged.
	SnapshotMissing Problem = iota + 1
	// NotASnapshot: the LV exists but is no snapshot.
	NotASnapshot
	// SnapshotInvalid: the kernel dropped it (overfilled) or its thin pool
	// failed; its data is gone.
	SnapshotInvalid
	// SnapshotMerging: it is being merged into its origin, or a merge failed.
	SnapshotMerging
	// SnapshotInactive: it (or its thin pool) is not active, so its fill
	// cannot be read.
	SnapshotInactive
	// SnapshotUnknown: lvm2 did not report what is needed to judge it.
	SnapshotUnknown
	// PoolUnhealthy: its thin pool needs a check or has read-only metadata.
	PoolUnhealthy
	// SnapshotFull: filled past the threshold; Extend makes room.
	SnapshotFull
)

var problemNames = [...]string{"", "missing", "not a snapshot", "invalid", "merging", "inactive", "unknown", "thin pool unhealthy", "full"}

func (p Problem) String() string {
	if p > 0 && int(p) < len(problemNames) {
		return problemNames[p]
	}
	return fmt.Sprintf("Problem(%d)", int(p))
}

// SnapshotError is a snapshot that no longer protects the upgrade, or
// soon will not.
type SnapshotError struct {
	Snapshot  string // VG/NAME
	Problem   Problem
	Percent   float64 // the fill judged (SnapshotFull, SnapshotInvalid)
	Threshold float64
	Detail    string     // what was seen
	Extend    [][]string // SnapshotFull: the commands that bring the fill to half the threshold
	Fix       string
}

func (e *SnapshotError) Error() string {
	return fmt.Sprintf("LVM snapshot %s %s: %s; %s", e.Snapshot, e.Problem, e.Detail, e.Fix)
}

// SnapshotCheck is a snapshot that is fine for now.
type SnapshotCheck struct {
	Snapshot LV
	Origin   *LV // classic: the origin, when in the report
	Pool     *LV // thin: the pool it shares
	// Percent is the fill that threatens the snapshot: Snap% for a
	// classic one, the larger of its pool's Data% and Meta% for a thin one.
	Percent float64
	// CoversOrigin: a classic snapshot large enough for the whole origin,
	// which cannot overflow whatever the fill.
	CoversOrigin bool
}

// CheckSnapshot judges the snapshot vg/name in a report of its whole VG
// (LVSArgs(vg, "")): still there, valid, active, and below threshold
// percent full (0 < threshold < 100). Past the threshold the
// *SnapshotError's Extend holds the lvextend that brings the fill back
// to half the threshold, as far as the volume group's free space allows.
func CheckSnapshot(lvs []LV, vg, name string, threshold float64) (SnapshotCheck, error) {
	if !(threshold > 0 && threshold < 100) {
		return SnapshotCheck{}, fmt.Errorf("lvm: threshold %v is not a percentage between 0 and 100", threshold)
	}
	find := func(n string) *LV {
		for i := range lvs {
			if lvs[i].VG == vg && lvs[i].Name == n {
				return &lvs[i]
			}
		}
		return nil
	}
	full := vg + "/" + name
	fail := func(p Problem, detail, fix string) (SnapshotCheck, error) {
		return SnapshotCheck{}, &SnapshotError{Snapshot: full, Problem: p, Threshold: threshold, Detail: detail, Fix: fix}
	}
	snap := find(name)
	switch {
	case snap == nil:
		return fail(SnapshotMissing, "lvs does not list it",
			"it was removed, renamed or merged: the pre-upgrade backup is gone; restore from another backup, or take a new snapshot knowing it holds the data as it is now")
	case snap.Attr.IsSnapshot():
		return checkClassic(*snap, find(snap.Origin), threshold)
	case snap.IsThinSnapshot():
		return checkThin(*snap, find(snap.Pool), threshold)
	}
	return fail(NotASnapshot, "lv_attr "+snap.Attr.String()+", no origin",
		"check the name: chefha records the snapshot it created")
}

func checkClassic(snap LV, origin *LV, threshold float64) (SnapshotCheck, error) {
	e := &SnapshotError{Snapshot: snap.FullName(), Threshold: threshold}
	attr := "lv_attr " + snap.Attr.String()
	switch {
	case snap.Invalid():
		e.Problem, e.Percent, e.Detail = SnapshotInvalid, 100, attr+": it overflowed (or failed) and the kernel dropped it"
		e.Fix = "its data cannot be recovered and growing it does not help: lvremove " + snap.FullName() + "; the pre-upgrade backup is lost, restore from another backup or go on without one knowingly"
	case snap.Attr.Merging() || snap.Attr.MergeFailed():
		e.Problem, e.Detail = SnapshotMerging, attr+": being merged into its origin (lvconvert --merge), or the merge failed"
		e.Fix = "it is no longer a backup to fall back on: let the merge finish, then take a new backup"
	case snap.Attr.State == 'X':
		e.Problem, e.Detail = SnapshotUnknown, attr+": lvm2 could not read the device state"
		e.Fix = "run lvs as root, on a node whose kernel has device-mapper (/dev/mapper/control)"
	case !snap.Attr.Active():
		e.Problem, e.Detail = SnapshotInactive, attr+": not active, so its fill cannot be read"
		e.Fix = "activate it with its origin: lvchange -ay " + snap.FullName()
	}
	if e.Problem != 0 {
		return SnapshotCheck{}, e
	}
	p, ok := snap.Full()
	if !ok {
		e.Problem, e.Detail, e.Fix = SnapshotUnknown, "lvs reported no Snap%", "ask lvs for snap_percent (LVSFields)"
		return SnapshotCheck{}, e
	}
	c := SnapshotCheck{Snapshot: snap, Origin: origin, Percent: p}
	var ceiling int64 // the size that holds the whole origin
	if origin != nil {
		ceiling = roundUp(cowBytes(origin.Size), snap.ExtentSize)
		c.CoversOrigin = snap.Size >= cowBytes(origin.Size)
	}
	if p < threshold || c.CoversOrigin {
		return c, nil
	}
	e.Problem, e.Percent = SnapshotFull, p
	e.Detail = fmt.Sprintf("%.2f%% of %d bytes used (threshold %g%%)", p, snap.Size, threshold)
	add := grow(snap.Size, p, threshold, snap.ExtentSize)
	if ceiling > 0 && snap.Size+add > ceiling {
		add = ceiling - snap.Size // enough for the whole origin
	}
	e.Fix = extendFix(e, snap, snap.Name, add, "")
	return SnapshotCheck{}, e
}

// grow is how much to add to a volume of size bytes, p percent full, so
// that the same use fills half the threshold: the next check then has
// room to spare.
func grow(size int64, p, threshold float64, extent int64) int64 {
	used := float64(size) * p / 100
	target := math.Ceil(used / (threshold / 200))
	if target > maxSize {
		target = maxSize
	}
	if int64(target) <= size {
		return roundUp(1, extent)
	}
	return roundUp(int64(target)-size, extent)
}

// extendFix fills e.Extend with the lvextend for vg/lv and says what to
// do, minding the VG's free space.
func extendFix(e *SnapshotError, vol LV, lv string, add int64, metaFor string) string {
	var argv []string
	var err error
	if metaFor != "" {
		argv, err = ExtendPoolMetadataArgs(vol.VG, lv, add)
	} else {
		argv, err = ExtendArgs(vol.VG, lv, add)
	}
	if err != nil || add <= 0 {
		return "make room before the next step: lvextend " + vol.VG + "/" + lv
	}
	e.Extend = append(e.Extend, argv)
	fix := "before the next step run: " + strings.Join(argv, " ")
	if vol.ExtentSize > 0 && add > vol.VGFree {
		fix += fmt.Sprintf(" (volume group %s has only %d bytes free: vgextend it with a new disk first)", vol.VG, vol.VGFree)
	}
	return fix
}

func checkThin(snap LV, pool *LV, threshold float64) (SnapshotCheck, error) {
	e := &SnapshotError{Snapshot: snap.FullName(), Threshold: threshold}
	if pool == nil {
		e.Problem, e.Detail, e.Fix = SnapshotUnknown, "its thin pool "+snap.Pool+" is not in the report", "report the whole volume group: lvs "+snap.VG
		return SnapshotCheck{}, e
	}
	pattr := "pool " + pool.Name + " lv_attr " + pool.Attr.String()
	switch {
	case snap.Attr.PoolFailed() || pool.Attr.PoolFailed():
		e.Problem, e.Percent, e.Detail = SnapshotInvalid, 100, pattr+": the thin pool failed, no I/O is possible"
		e.Fix = "repair the pool (lvconvert --repair " + pool.FullName() + ") before anything else; the snapshot may be lost"
	case pool.Attr.MetadataReadOnly() || pool.Attr.State == 'c' || pool.Attr.State == 'C':
		e.Problem, e.Detail = PoolUnhealthy, pattr+": metadata read-only or check needed"
		e.Fix = "check and repair the pool (thin_check, lvconvert --repair " + pool.FullName() + ") before the next step"
	case !pool.Attr.Active() || pool.DataPercent == nil || pool.MetadataPercent == nil:
		e.Problem, e.Detail = SnapshotInactive, pattr+": no Data% or Meta% reported"
		e.Fix = "activate the pool's volumes (lvchange -ay " + pool.FullName() + ")"
	}
	if e.Problem != 0 {
		return SnapshotCheck{}, e
	}
	data, meta := *pool.DataPercent, *pool.MetadataPercent
	c := SnapshotCheck{Snapshot: snap, Pool: pool, Percent: max(data, meta)}
	if c.Percent < threshold && !pool.Attr.OutOfDataSpace() {
		return c, nil
	}
	e.Problem, e.Percent = SnapshotFull, c.Percent
	e.Detail = fmt.Sprintf("its thin pool %s is %.2f%% full of data and %.2f%% of metadata (threshold %g%%)", pool.Name, data, meta, threshold)
	var fixes []string
	if data >= threshold || pool.Attr.OutOfDataSpace() {
		fixes = append(fixes, extendFix(e, *pool, pool.Name, grow(pool.Size, data, threshold, pool.ExtentSize), ""))
	}
	if meta >= threshold {
		if pool.MetadataSize > 0 {
			fixes = append(fixes, extendFix(e, *pool, pool.Name, grow(pool.MetadataSize, meta, threshold, pool.ExtentSize), "meta"))
		} else {
			fixes = append(fixes, "grow the pool's metadata: lvextend --poolmetadatasize +SIZE "+pool.FullName())
		}
	}
	e.Fix = strings.Join(fixes, "; ")
	return SnapshotCheck{}, e
}
