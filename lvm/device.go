package lvm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"
)

// Mount is the file system that holds a path, as findmnt reports it.
type Mount struct {
	// Source is the device ("/dev/mapper/vg0-chef"), without the
	// "[/dir]" findmnt appends for a bind mount of a subdirectory.
	Source string
	// Root is that subdirectory of the source file system ("" for a
	// whole file system).
	Root   string
	Target string // the mount point
	FSType string
}

// FindmntArgs is the command ParseFindmnt reads: the file system holding
// path, in raw form (spaces in paths escaped as \x20; the default form
// leaves them bare and ambiguous).
//
//	findmnt -n -r -o SOURCE,TARGET,FSTYPE --target PATH
//
// findmnt exits 1 and prints nothing when path does not exist. Before
// util-linux 2.22 (2012) --target matched only a mount point itself, not
// a path below it; there (RHEL 6, Ubuntu 12.04) use DFArgs.
func FindmntArgs(p string) ([]string, error) {
	if !path.IsAbs(p) {
		return nil, fmt.Errorf("lvm: findmnt: %q is not an absolute path", p)
	}
	return []string{"findmnt", "-n", "-r", "-o", "SOURCE,TARGET,FSTYPE", "--target", p}, nil
}

// ParseFindmnt reads `findmnt -n -o SOURCE,TARGET,FSTYPE --target PATH`
// in its raw (-r), default, pairs (-P) or JSON (-J) form. When mounts
// are stacked on the mount point findmnt lists each, in mount order; the
// last is the one on top, the one that holds the path, and is returned.
func ParseFindmnt(out []byte) (Mount, error) {
	t := bytes.TrimSpace(out)
	if len(t) == 0 {
		return Mount{}, fmt.Errorf("findmnt: no file system listed (the path does not exist, or findmnt before util-linux 2.22 found no mount point there: use df -P)")
	}
	var ms []Mount
	if t[0] == '{' {
		var doc struct {
			FS []struct{ Source, Target, FSType *string } `json:"filesystems"`
		}
		if err := json.Unmarshal(t, &doc); err != nil {
			return Mount{}, fmt.Errorf("findmnt -J: %w", err)
		}
		for i, f := range doc.FS {
			if f.Source == nil || f.Target == nil || f.FSType == nil {
				return Mount{}, fmt.Errorf("findmnt -J: entry %d lacks source, target or fstype", i+1)
			}
			ms = append(ms, Mount{Source: *f.Source, Target: *f.Target, FSType: *f.FSType})
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(t))
		for n := 1; sc.Scan(); n++ {
			m, err := findmntLine(sc.Text())
			if err != nil {
				return Mount{}, fmt.Errorf("findmnt line %d: %w", n, err)
			}
			ms = append(ms, m)
		}
		if err := sc.Err(); err != nil {
			return Mount{}, fmt.Errorf("findmnt: %w", err)
		}
	}
	if len(ms) == 0 {
		return Mount{}, fmt.Errorf("findmnt: no file system listed")
	}
	m := ms[len(ms)-1]
	if m.Source == "" || m.Target == "" {
		return Mount{}, fmt.Errorf("findmnt: empty source or target")
	}
	if i := strings.IndexByte(m.Source, '['); i > 0 && strings.HasSuffix(m.Source, "]") {
		m.Source, m.Root = m.Source[:i], m.Source[i+1:len(m.Source)-1]
	}
	return m, nil
}

func findmntLine(l string) (Mount, error) {
	if strings.HasPrefix(l, "SOURCE=") { // -P
		var m Mount
		rest := l
		for _, k := range []struct {
			key string
			dst *string
		}{{"SOURCE", &m.Source}, {"TARGET", &m.Target}, {"FSTYPE", &m.FSType}} {
			var ok bool
			if rest, ok = strings.CutPrefix(strings.TrimLeft(rest, " "), k.key+`="`); !ok {
				return Mount{}, fmt.Errorf("want %s=\"…\" in %q", k.key, l)
			}
			i := strings.IndexByte(rest, '"')
			if i < 0 {
				return Mount{}, fmt.Errorf("unterminated %s in %q", k.key, l)
			}
			v, err := unescapeHex(rest[:i])
			if err != nil {
				return Mount{}, err
			}
			*k.dst, rest = v, rest[i+1:]
		}
		if strings.TrimSpace(rest) != "" {
			return Mount{}, fmt.Errorf("more than SOURCE, TARGET and FSTYPE in %q", l)
		}
		return m, nil
	}
	f := strings.Fields(l)
	if len(f) != 3 {
		return Mount{}, fmt.Errorf("%d columns, want SOURCE TARGET FSTYPE (a path with spaces? run findmnt with -r): %q", len(f), l)
	}
	var vals [3]string
	for i, s := range f {
		v, err := unescapeHex(s)
		if err != nil {
			return Mount{}, err
		}
		vals[i] = v
	}
	return Mount{Source: vals[0], Target: vals[1], FSType: vals[2]}, nil
}

// unescapeHex undoes findmnt's \xHH escapes (raw and pairs output).
func unescapeHex(s string) (string, error) {
	if !strings.Contains(s, `\x`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && s[i+1] == 'x' {
			n, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				return "", fmt.Errorf("bad escape in %q", s)
			}
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

// DiskUsage is a line of `df -P -k PATH`, in bytes.
type DiskUsage struct {
	Source            string
	Size, Used, Avail int64
	Target            string
}

// DFArgs is the command ParseDF reads: POSIX df, which every back end
// has, in 1024-byte blocks.
//
//	df -P -k PATH
func DFArgs(p string) ([]string, error) {
	if !path.IsAbs(p) {
		return nil, fmt.Errorf("lvm: df: %q is not an absolute path", p)
	}
	return []string{"df", "-P", "-k", p}, nil
}

// ParseDF reads `df -P -k PATH`: a header naming the block size
// ("1024-blocks"; "512-blocks" is honoured too) and one line. Used is
// what SnapshotSize sizes a snapshot from.
func ParseDF(out []byte) (DiskUsage, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return DiskUsage{}, fmt.Errorf("df -P: %d lines, want a header and one file system", len(lines))
	}
	h := strings.Fields(lines[0])
	if len(h) < 2 {
		return DiskUsage{}, fmt.Errorf("df -P: header %q", lines[0])
	}
	var unit int64
	switch h[1] {
	case "1024-blocks":
		unit = 1024
	case "512-blocks":
		unit = 512
	default:
		return DiskUsage{}, fmt.Errorf("df -P: block size %q, want 1024-blocks (run df -P -k)", h[1])
	}
	f := strings.Fields(lines[1])
	if len(f) < 6 || !strings.HasSuffix(f[4], "%") {
		return DiskUsage{}, fmt.Errorf("df -P: %q is not FILESYSTEM BLOCKS USED AVAILABLE CAPACITY MOUNTPOINT", lines[1])
	}
	var n [3]int64
	for i := range n {
		v, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil || v < 0 || v > (1<<62)/unit {
			return DiskUsage{}, fmt.Errorf("df -P: %q is not a block count", f[i+1])
		}
		n[i] = v * unit
	}
	// The mount point is the rest of the line: it may hold spaces.
	rest := lines[1]
	for i := 0; i < 5; i++ {
		rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
		rest = rest[strings.IndexFunc(rest, unicode.IsSpace):] // Fields found 6, so there is one
	}
	return DiskUsage{Source: f[0], Size: n[0], Used: n[1], Avail: n[2], Target: strings.TrimSpace(rest)}, nil
}

// NotLVError is a device that is not an LVM logical volume.
type NotLVError struct {
	Device string
	Hint   string
}

func (e *NotLVError) Error() string {
	return "device " + e.Device + " is not an LVM logical volume: " + e.Hint
}

// Directories under /dev that hold devices other than volume groups.
var nonVGDirs = map[string]bool{
	"mapper": true, "disk": true, "md": true, "cciss": true, "ida": true, "rd": true, "etherd": true,
	"drbd": true, "block": true, "char": true, "vx": true, "zvol": true, "bus": true, "pts": true,
	"shm": true, "fd": true, "net": true, "input": true, "snd": true, "dri": true, "mqueue": true, "hugepages": true,
}

// DeviceLV names the volume group and LV of an LVM device path:
// /dev/VG/LV, or /dev/mapper/VG-LV where device-mapper doubles each '-'
// inside a name (/dev/mapper/my--vg-my--lv is my-vg/my-lv; libdm's
// dm_split_lvm_name). The answer is only syntax — a cryptsetup or
// multipath device in /dev/mapper can look the same — so confirm it with
// an lvs report (FindDevice). DRBD devices, /dev/dm-N, partitions and
// device-mapper layers (VG-LV-real, -cow, -tpool) are a *NotLVError.
func DeviceLV(dev string) (vg, lv string, err error) {
	p := path.Clean(dev)
	rest, ok := strings.CutPrefix(p, "/dev/")
	if !ok {
		return "", "", &NotLVError{dev, "not under /dev"}
	}
	base := path.Base(p)
	switch {
	case strings.HasPrefix(base, "drbd") && !strings.Contains(rest, "/"):
		return "", "", &NotLVError{dev, "a DRBD device: snapshot the LV under it instead, private_chef['drbd']['disk'] in private-chef.rb (default /dev/opscode/drbd; `drbdadm sh-ll-dev pc0` names it)"}
	case strings.HasPrefix(base, "dm-") && !strings.Contains(rest, "/"):
		return "", "", &NotLVError{dev, "a device-mapper minor: /sys/block/" + base + "/dm/name gives its /dev/mapper name"}
	}
	dir, name, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", &NotLVError{dev, "a disk or partition, not /dev/VG/LV or /dev/mapper/VG-LV"}
	}
	if dir == "mapper" {
		if strings.Contains(name, "/") {
			return "", "", &NotLVError{dev, "not a /dev/mapper name"}
		}
		vg, lv, layer := splitDMName(name)
		switch {
		case layer != "":
			return "", "", &NotLVError{dev, fmt.Sprintf("an internal layer %q of %s/%s, not a volume to snapshot", layer, vg, lv)}
		case lv == "":
			return "", "", &NotLVError{dev, "a device-mapper name without VG-LV (multipath, cryptsetup?)"}
		}
		if checkName("volume group", vg) != nil || checkName("logical volume", lv) != nil {
			return "", "", &NotLVError{dev, "its name does not split into valid VG and LV names"}
		}
		return vg, lv, nil
	}
	if nonVGDirs[dir] || strings.Contains(name, "/") {
		return "", "", &NotLVError{dev, "/dev/" + dir + "/ does not hold LVM volumes"}
	}
	if checkName("volume group", dir) != nil || checkName("logical volume", name) != nil {
		return "", "", &NotLVError{dev, "not valid VG and LV names"}
	}
	return dir, name, nil
}

// splitDMName undoes dm_build_dm_name: VG-LV[-LAYER], each '-' inside a
// part doubled. A '-' that ends the name is part of it (libdm's _unquote).
func splitDMName(s string) (vg, lv, layer string) {
	var parts [3]strings.Builder
	k := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' && i+1 < len(s) {
			if s[i+1] == '-' {
				i++
			} else if k < 2 {
				k++
				continue
			}
		}
		parts[k].WriteByte(c)
	}
	return parts[0].String(), parts[1].String(), parts[2].String()
}

// FindDevice returns the LV of an lvs report that dev (as findmnt or df
// printed it) is: by lv_path or lv_dm_path, or by the VG and LV names
// DeviceLV reads from it.
func FindDevice(lvs []LV, dev string) (LV, error) {
	p := path.Clean(dev)
	for _, lv := range lvs {
		if (lv.Path != "" && lv.Path == p) || (lv.DMPath != "" && lv.DMPath == p) {
			return lv, nil
		}
	}
	vg, name, err := DeviceLV(dev)
	if err != nil {
		return LV{}, err
	}
	for _, lv := range lvs {
		if lv.VG == vg && lv.Name == name {
			return lv, nil
		}
	}
	return LV{}, &NotLVError{dev, fmt.Sprintf("lvs does not list %s/%s", vg, name)}
}
