package lvm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// checkName applies lvm2's rule for VG and LV names (lib/misc/lvm-string.c,
// _validate_name): 1 to 127 of [A-Za-z0-9+_.-], not starting with '-'
// (which would also read as an option), not "." or "..".
func checkName(what, n string) error {
	switch {
	case n == "":
		return fmt.Errorf("lvm: empty %s name", what)
	case len(n) > 127:
		return fmt.Errorf("lvm: %s name %.20q… is longer than lvm2's 127 characters", what, n)
	case n[0] == '-':
		return fmt.Errorf("lvm: %s name %q starts with '-'", what, n)
	case n == "." || n == "..":
		return fmt.Errorf("lvm: %s name %q is reserved", what, n)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("lvm: %s name %q has %q: lvm2 allows only A-Z a-z 0-9 + _ . -", what, n, c)
		}
	}
	return nil
}

// checkNewLV adds the restrictions on a new LV's name
// (apply_lvname_restrictions): the prefixes and the component suffixes
// lvm2 keeps for itself.
func checkNewLV(n string) error {
	if err := checkName("logical volume", n); err != nil {
		return err
	}
	for _, p := range []string{"pvmove", "snapshot"} {
		if strings.HasPrefix(n, p) {
			return fmt.Errorf("lvm: new LV name %q: names starting %q are reserved by lvm2", n, p)
		}
	}
	if i := strings.IndexByte(n, '_'); i >= 0 {
		for _, s := range []string{"_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_wcorig", "_mimage", "_mlog",
			"_rimage", "_rmeta", "_tdata", "_tmeta", "_vdata", "_imeta", "_iorig", "_pmspare", "_vorigin"} {
			if strings.Contains(n[i:], s) {
				return fmt.Errorf("lvm: new LV name %q: names including %q are reserved by lvm2", n, s)
			}
		}
	}
	return nil
}

// bytesArg is a size argument in bytes. lvm2 takes "b" as bytes and
// refuses a byte count that is not whole sectors ("Size is not a
// multiple of 512", tools/lvmcmdline.c _size_arg).
func bytesArg(sign string, n int64) (string, error) {
	if n <= 0 || n%512 != 0 {
		return "", fmt.Errorf("lvm: size %d is not a positive multiple of 512 bytes", n)
	}
	return sign + strconv.FormatInt(n, 10) + "b", nil
}

// CreateSnapshotArgs is the command that takes a classic snapshot NAME of
// VG/ORIGIN with a copy-on-write store of size bytes (SnapshotSize):
//
//	lvcreate -s -L <size>b -n NAME VG/ORIGIN
//
// lvm2 rounds the size up to whole extents ("Rounding up size to full
// physical extent …") and down to what can hold the whole origin
// ("Reducing COW size … down to maximum usable size …"), and prints
// `Logical volume "NAME" created.` (no final "." before 2.02.112); exit 0.
// Failures exit 5 with, on stderr (ParseCommandError):
//
//	Logical Volume "NAME" already exists in volume group "VG"     (Exists; "Logical volume" before 2.02.145)
//	Volume group "VG" has insufficient free space (N extents): M required.   (NoSpace; before 2.02.83: "Insufficient free extents (N) in volume group VG: M required")
//	Couldn't find origin volume 'ORIGIN'.                          (NotFound)
//	Volume group "VG" not found                                    (VGNotFound)
func CreateSnapshotArgs(vg, origin, name string, size int64) ([]string, error) {
	if err := checkName("volume group", vg); err != nil {
		return nil, err
	}
	if err := checkName("logical volume", origin); err != nil {
		return nil, err
	}
	if err := checkNewLV(name); err != nil {
		return nil, err
	}
	sz, err := bytesArg("", size)
	if err != nil {
		return nil, err
	}
	return []string{"lvcreate", "-s", "-L", sz, "-n", name, vg + "/" + origin}, nil
}

// CreateThinSnapshotArgs is the command that takes a thin snapshot of a
// thin volume: no size, it shares the origin's pool.
//
//	lvcreate -s -n NAME VG/ORIGIN
//
// lvm2 creates it with the activation-skip flag set (lv_attr "Vwi---tz-k",
// lvmthin(7)): it stays inactive until `lvchange -ay -K VG/NAME`.
func CreateThinSnapshotArgs(vg, origin, name string) ([]string, error) {
	if err := checkName("volume group", vg); err != nil {
		return nil, err
	}
	if err := checkName("logical volume", origin); err != nil {
		return nil, err
	}
	if err := checkNewLV(name); err != nil {
		return nil, err
	}
	return []string{"lvcreate", "-s", "-n", name, vg + "/" + origin}, nil
}

// ExtendArgs is the command that grows VG/LV (a snapshot's store, or a
// thin pool's data) by add bytes:
//
//	lvextend -L +<add>b VG/LV
//
// It prints "Size of logical volume VG/LV changed from … to …" and
// "Logical volume VG/LV successfully resized."; exit 0. Failures exit 5:
//
//	Insufficient free space: N extents needed, but only M available   (NoSpace)
//	Failed to find logical volume "VG/LV"                             (NotFound; before 2.02.112: Logical volume LV not found in volume group VG)
//
// An invalid snapshot stays invalid however large it grows.
func ExtendArgs(vg, lv string, add int64) ([]string, error) {
	if err := checkName("volume group", vg); err != nil {
		return nil, err
	}
	if err := checkName("logical volume", lv); err != nil {
		return nil, err
	}
	sz, err := bytesArg("+", add)
	if err != nil {
		return nil, err
	}
	return []string{"lvextend", "-L", sz, vg + "/" + lv}, nil
}

// ExtendPoolMetadataArgs grows a thin pool's metadata by add bytes
// (lvm2 2.02.99 and later):
//
//	lvextend --poolmetadatasize +<add>b VG/POOL
func ExtendPoolMetadataArgs(vg, pool string, add int64) ([]string, error) {
	if err := checkName("volume group", vg); err != nil {
		return nil, err
	}
	if err := checkName("logical volume", pool); err != nil {
		return nil, err
	}
	sz, err := bytesArg("+", add)
	if err != nil {
		return nil, err
	}
	return []string{"lvextend", "--poolmetadatasize", sz, vg + "/" + pool}, nil
}

// ErrorKind says why an lvm2 command failed.
type ErrorKind int

const (
	// OtherError is a failure none of the kinds below describes; the
	// CommandError's Message says what lvm2 said.
	OtherError ErrorKind = iota
	// NotFound: the logical volume (or the snapshot's origin) does not exist.
	NotFound
	// VGNotFound: the volume group does not exist (or is not visible).
	VGNotFound
	// Exists: an LV of that name is already there.
	Exists
	// NoSpace: the volume group has too few free extents.
	NoSpace
	// Usage: lvm2 refused the command line (exit 3), e.g. a size that is
	// not whole sectors.
	Usage
	// NoDeviceMapper: the kernel has no device-mapper (or lvm2 runs
	// without root): nothing can be activated or snapshotted.
	NoDeviceMapper
)

var kindNames = [...]string{"error", "not found", "volume group not found", "already exists", "no space", "usage", "no device-mapper"}

func (k ErrorKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "ErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// CommandError is an lvm2 command that failed, with what it said.
type CommandError struct {
	Command string // "lvcreate", "lvextend", "lvs"
	Exit    int    // 5 (ECMD_FAILED) for most failures, 3 for usage
	Kind    ErrorKind
	Message string   // the line that decided Kind, or the first error line
	Lines   []string // every line lvm2 printed, unindented
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%s failed (exit %d, %s): %s; %s", e.Command, e.Exit, e.Kind, e.Message, e.Fix())
}

// Fix says what the operator can do about it.
func (e *CommandError) Fix() string {
	switch e.Kind {
	case NotFound:
		return "check the names with `lvs VG`: the volume is not there (removed, renamed, or in another VG)"
	case VGNotFound:
		return "check the volume group with `vgs`: it is not visible on this node"
	case Exists:
		return "choose another snapshot name, or remove the old one with lvremove after making sure it is not a backup still needed"
	case NoSpace:
		return "free extents are short: add a disk to the volume group (pvcreate, vgextend VG /dev/NEW) or ask for less"
	case NoDeviceMapper:
		return "lvm2 cannot reach the kernel's device-mapper: run it as root, with the dm_mod module loaded (/dev/mapper/control must exist)"
	case Usage:
		return "the command line was refused: see `man " + e.Command + "`"
	}
	return "see the message; `" + e.Command + " -v` says more"
}

var errorPatterns = []struct {
	re   *regexp.Regexp
	kind ErrorKind
}{
	// Without device-mapper lvcreate also fails its segment type check
	// and exits 3, as if the command line were wrong: look for this first.
	{regexp.MustCompile(`^/dev/mapper/control: open failed|^Failure to communicate with kernel device-mapper driver`), NoDeviceMapper},
	{regexp.MustCompile(`^Failed to find logical volume "`), NotFound},
	{regexp.MustCompile(`^One or more specified logical volume\(s\) not found`), NotFound},
	{regexp.MustCompile(`^Logical volume \S+ not found in volume group`), NotFound},
	{regexp.MustCompile(`^Logical volume \S+ not found\.?$`), NotFound},
	{regexp.MustCompile(`^Couldn't find origin (logical )?volume`), NotFound},
	{regexp.MustCompile(`^Volume group "[^"]*" not found`), VGNotFound},
	{regexp.MustCompile(`^(historical )?Logical [Vv]olume "?[^"\s]*"? already exists in `), Exists},
	{regexp.MustCompile(`^Volume group "[^"]*" has insufficient free space`), NoSpace},
	{regexp.MustCompile(`^Insufficient (free extents|free space|suitable (contiguous )?allocatable extents)`), NoSpace},
}

// ParseCommandError turns a failed lvm2 command — its exit status and
// what it printed on stderr — into a *CommandError; nil when exit is 0
// (lvm2 also prints warnings on success). The kind comes from the error
// lines of lvm2 2.02.66 to 2.03 (tools/toollib.c, tools/lvcreate.c,
// tools/lvresize.c, lib/metadata/lv_manip.c).
func ParseCommandError(command string, exit int, stderr []byte) error {
	if exit == 0 {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(string(stderr), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return newCommandError(command, exit, lines)
}

func newCommandError(command string, exit int, lines []string) *CommandError {
	e := &CommandError{Command: command, Exit: exit, Lines: lines}
	for _, l := range lines {
		for _, p := range errorPatterns {
			if p.re.MatchString(l) {
				e.Kind, e.Message = p.kind, l
				return e
			}
		}
	}
	if exit == 3 {
		e.Kind = Usage
	}
	for _, l := range lines {
		// Warnings and lvm's complaint about inherited descriptors are
		// not why it failed.
		if !strings.HasPrefix(l, "WARNING:") && !strings.HasPrefix(l, "File descriptor ") {
			e.Message = l
			return e
		}
	}
	if e.Message = "no message"; len(lines) > 0 {
		e.Message = lines[0]
	}
	return e
}
