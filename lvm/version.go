package lvm

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Version is an lvm2 release: 2.02.98 is {2, 2, 98}.
type Version struct{ Major, Minor, Patch int }

// jsonSince is the first lvm2 with `--reportformat json` (WHATS_NEW of
// 2.02.158, 25 June 2016: "Recognize --reportformat {basic|json}").
// The 2.02 releases RHEL 6 and Ubuntu 12.04 ship predate it: QueryFor
// gives them the text form.
var jsonSince = Version{2, 2, 158}

func (v Version) String() string { return fmt.Sprintf("%d.%02d.%d", v.Major, v.Minor, v.Patch) }

// Less orders releases.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

// JSON reports whether this lvm2 prints `--reportformat json` (2.02.158
// and later).
func (v Version) JSON() bool { return !v.Less(jsonSince) }

// VersionArgs is the command whose output ParseVersion reads.
func VersionArgs() []string { return []string{"lvm", "version"} }

// ParseVersion reads the "LVM version:" line of `lvm version` (or `lvs
// --version`), as tools/lvmcmdline.c prints it:
//
//	LVM version:     2.02.143(2)-RHEL6 (2016-12-13)
//	Library version: 1.02.117-RHEL6 (2016-12-13)
//	Driver version:  4.33.1
//
// The other lines (and the "Configuration:" line of newer releases) are
// ignored.
func ParseVersion(out []byte) (Version, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "LVM version:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return Version{}, fmt.Errorf("lvm version: empty %q line", "LVM version:")
		}
		// "2.02.143(2)-RHEL6": the release, the library's ABI in
		// parentheses, a vendor suffix.
		s := f[0]
		if i := strings.IndexAny(s, "(-"); i >= 0 {
			s = s[:i]
		}
		p := strings.Split(s, ".")
		if len(p) != 3 {
			return Version{}, fmt.Errorf("lvm version: %q is not MAJOR.MINOR.PATCH", f[0])
		}
		var n [3]int
		for i, x := range p {
			v, err := strconv.Atoi(x)
			if err != nil || v < 0 || v > 9999 {
				return Version{}, fmt.Errorf("lvm version: %q is not MAJOR.MINOR.PATCH", f[0])
			}
			n[i] = v
		}
		return Version{n[0], n[1], n[2]}, nil
	}
	if err := sc.Err(); err != nil {
		return Version{}, fmt.Errorf("lvm version: %w", err)
	}
	return Version{}, fmt.Errorf("lvm version: no %q line (is this the output of `lvm version`?)", "LVM version:")
}
