package lvm

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseFindmnt(t *testing.T) {
	bind := Mount{Source: "/dev/vda", Root: "/tmp/lvmfix/src dir", Target: "/tmp/lvmfix/var opt", FSType: "ext4"}
	tests := []struct {
		file string
		want Mount
	}{
		{"findmnt/raw-root-recorded.txt", Mount{Source: "/dev/vda", Target: "/", FSType: "ext4"}},
		{"findmnt/raw-bind-space-recorded.txt", bind},
		{"findmnt/pairs-bind-space-recorded.txt", bind},
		{"findmnt/json-bind-space-recorded.json", bind},
		// Two mounts on one mount point: the last listed is on top.
		{"findmnt/raw-stacked-recorded.txt", Mount{Source: "tmpfs", Target: "/tmp/lvmfix/var opt", FSType: "tmpfs"}},
		{"findmnt/json-stacked-recorded.json", Mount{Source: "tmpfs", Target: "/tmp/lvmfix/var opt", FSType: "tmpfs"}},
		{"findmnt/raw-lvm.txt", Mount{Source: "/dev/mapper/vg0-opt", Target: "/var/opt", FSType: "ext4"}},
		{"findmnt/raw-lvm-hyphens.txt", Mount{Source: "/dev/mapper/opscode-drbd--pre--upgrade", Target: "/var/opt/opscode-backup", FSType: "ext4"}},
		{"findmnt/raw-drbd.txt", Mount{Source: "/dev/drbd0", Target: "/var/opt/opscode/drbd/data", FSType: "ext4"}},
	}
	for _, tt := range tests {
		got, err := ParseFindmnt(readFixture(t, tt.file))
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v, %v", tt.file, got, err)
		}
	}
	for _, bad := range []string{
		"", // findmnt exits 1, prints nothing
		string(readFixture(t, "findmnt/default-bind-space-recorded.txt")), // spaces unescaped: ambiguous
		"/dev/vda /\n",
		`SOURCE="/dev/vda" TARGET="/"` + "\n",
		`SOURCE="/dev/vda" TARGET="/" FSTYPE="ext4" OPTIONS="rw"` + "\n",
		`SOURCE="/dev/vda TARGET="/" FSTYPE="ext4"` + "\n",
		`/dev/vd\xZZa / ext4`,
		`{"filesystems": [{"source": "/dev/vda", "target": "/"}]}`,
		`{"filesystems": []}`,
		`{"filesystems": `,
	} {
		if m, err := ParseFindmnt([]byte(bad)); err == nil {
			t.Errorf("%q accepted: %+v", bad, m)
		}
	}
	if got, err := FindmntArgs("/var/opt/opscode"); err != nil || !reflect.DeepEqual(got,
		[]string{"findmnt", "-n", "-r", "-o", "SOURCE,TARGET,FSTYPE", "--target", "/var/opt/opscode"}) {
		t.Errorf("FindmntArgs = %q, %v", got, err)
	}
	if _, err := FindmntArgs("-J"); err == nil {
		t.Error("relative path accepted")
	}
}

func TestParseDF(t *testing.T) {
	tests := []struct {
		file string
		want DiskUsage
	}{
		{"df/root-recorded.txt", DiskUsage{"/dev/vda", 264212084 * 1024, 15081496 * 1024, 80419768 * 1024, "/"}},
		{"df/bind-space-recorded.txt", DiskUsage{"/dev/vda", 264212084 * 1024, 15081480 * 1024, 80419784 * 1024, "/tmp/lvmfix/var opt"}},
		{"df/lvm-rhel6.txt", DiskUsage{"/dev/mapper/vg0-opt", 41153856 * 1024, 18 * gib, 20166608 * 1024, "/var/opt"}},
		{"df/drbd-posix-512.txt", DiskUsage{"/dev/drbd0", 209612800 * 512, 36 * gib, 123633664 * 512, "/var/opt/opscode/drbd/data"}},
	}
	for _, tt := range tests {
		got, err := ParseDF(readFixture(t, tt.file))
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v, %v", tt.file, got, err)
		}
	}
	// Any white space separates columns (found by fuzzing: a vertical tab).
	if got, err := ParseDF([]byte("Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda\v1\u00a01 1 1%\v/x y\n")); err != nil ||
		got != (DiskUsage{"/dev/vda", 1024, 1024, 1024, "/x y"}) {
		t.Errorf("odd white space: %+v %v", got, err)
	}
	for _, bad := range []string{
		"",
		"Filesystem 1K-blocks Used Available Use% Mounted on\n/dev/vda 1 1 1 1% /\n", // df without -P
		"Filesystem 1024-blocks Used Available Capacity Mounted on\n",
		"Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 1 x 1 1% /\n",
		"Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 1 1 1 1 /\n",
		"Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 1 -1 1 1% /\n",
		"Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 1 1 1 1% /\n/dev/vdb 1 1 1 1% /x\n",
		"Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 99999999999999999 1 1 1% /\n",
	} {
		if u, err := ParseDF([]byte(bad)); err == nil {
			t.Errorf("%q accepted: %+v", bad, u)
		}
	}
	if got, err := DFArgs("/var/opt/opscode"); err != nil || !reflect.DeepEqual(got, []string{"df", "-P", "-k", "/var/opt/opscode"}) {
		t.Errorf("DFArgs = %q, %v", got, err)
	}
	if _, err := DFArgs("var"); err == nil {
		t.Error("relative path accepted")
	}
}

func TestDeviceLV(t *testing.T) {
	tests := []struct{ dev, vg, lv, hint string }{
		{"/dev/mapper/vg0-chef", "vg0", "chef", ""},
		{"/dev/vg0/chef", "vg0", "chef", ""},
		{"/dev/mapper/my--vg-my--lv", "my-vg", "my-lv", ""},
		{"/dev/mapper/opscode-drbd--pre--upgrade", "opscode", "drbd-pre-upgrade", ""},
		{"/dev/mapper/vg----x-lv", "vg--x", "lv", ""},
		{"/dev/mapper/vg--", "vg-", "", "without VG-LV"}, // a trailing '-' belongs to the name
		{"/dev/mapper/vg0-lv-", "vg0", "lv-", ""},
		{"/dev/mapper/vg0-chef-real", "", "", "internal layer"},
		{"/dev/mapper/vg0-chef--snap-cow", "", "", "internal layer"},
		{"/dev/mapper/mpatha", "", "", "without VG-LV"},
		{"/dev/opscode/drbd", "opscode", "drbd", ""},
		{"/dev/drbd0", "", "", "DRBD"},
		{"/dev/drbd/by-res/pc0", "", "", "does not hold"},
		{"/dev/dm-3", "", "", "/sys/block/dm-3/dm/name"},
		{"/dev/sda1", "", "", "partition"},
		{"/dev/cciss/c0d0p2", "", "", "does not hold"},
		{"/dev/disk/by-uuid/0b1c", "", "", "does not hold"},
		{"/dev/md/0", "", "", "does not hold"},
		{"/dev/vg0/a/b", "", "", "does not hold"},
		{"tmpfs", "", "", "not under /dev"},
		{"/dev/vg 0/chef", "", "", "not valid"},
		{"/dev/mapper/vg0-c%ef", "", "", "does not split"},
	}
	for _, tt := range tests {
		vg, lv, err := DeviceLV(tt.dev)
		if tt.hint == "" {
			if err != nil || vg != tt.vg || lv != tt.lv {
				t.Errorf("%s: %q %q %v", tt.dev, vg, lv, err)
			}
			continue
		}
		var nl *NotLVError
		if !errors.As(err, &nl) || !strings.Contains(err.Error(), tt.hint) {
			t.Errorf("%s: %q %q %v, want hint %q", tt.dev, vg, lv, err, tt.hint)
		}
	}
}

// splitDMName undoes what libdm's dm_build_dm_name does: double each '-'
// and join with one.
func TestSplitDMNameRoundTrip(t *testing.T) {
	quote := func(s string) string { return strings.ReplaceAll(s, "-", "--") }
	for _, vg := range []string{"vg0", "my-vg", "a--b", "x-", "+_.9"} {
		for _, lv := range []string{"chef", "drbd-pre-upgrade", "-", "z-", "lvol0"} {
			if lv == "-" {
				continue // LV names cannot start with '-'
			}
			gv, gl, layer := splitDMName(quote(vg) + "-" + quote(lv))
			if gv != vg || gl != lv || layer != "" {
				t.Errorf("%s/%s -> %q %q %q", vg, lv, gv, gl, layer)
			}
		}
	}
}

func TestFindDevice(t *testing.T) {
	lvs, err := ParseReport(strings.NewReader(string(readFixture(t, "lvs-2.03.16-multi.json"))))
	if err != nil {
		t.Fatal(err)
	}
	for dev, want := range map[string]string{
		"/dev/mapper/my--vg-my--lv": "my-vg/my-lv",
		"/dev/my-vg/my-lv":          "my-vg/my-lv",
		"/dev/mapper/vg0-root":      "vg0/root",
		"/dev//vg0/./root":          "vg0/root",
	} {
		lv, err := FindDevice(lvs, dev)
		if err != nil || lv.FullName() != want {
			t.Errorf("%s: %v %v", dev, lv.FullName(), err)
		}
	}
	// Without lv_path (lvm2 before 2.02.68) the names decide.
	legacy, err := QueryFor(Version{2, 2, 66}).Parse(strings.NewReader(string(readFixture(t, "lvs-2.02.66-ubuntu1204.txt"))))
	if err != nil {
		t.Fatal(err)
	}
	if lv, err := FindDevice(legacy, "/dev/mapper/opscode-drbd"); err != nil || lv.FullName() != "opscode/drbd" {
		t.Errorf("legacy: %v %v", lv, err)
	}
	for _, dev := range []string{"/dev/mapper/luks-0b1c", "/dev/drbd0", "/dev/vg0/home"} {
		var nl *NotLVError
		if _, err := FindDevice(lvs, dev); !errors.As(err, &nl) {
			t.Errorf("%s: %v", dev, err)
		}
	}
}

func FuzzParseFindmnt(f *testing.F) {
	for _, dir := range []string{"findmnt", "df"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if m, err := ParseFindmnt(in); err == nil {
			if m.Source == "" || m.Target == "" {
				t.Fatalf("empty mount %+v", m)
			}
			if vg, lv, err := DeviceLV(m.Source); err == nil && (checkName("vg", vg) != nil || checkName("lv", lv) != nil) {
				t.Fatalf("%q gave invalid names %q %q", m.Source, vg, lv)
			}
		}
		if u, err := ParseDF(in); err == nil && (u.Size < 0 || u.Used < 0 || u.Avail < 0 || u.Source == "") {
			t.Fatalf("bad usage %+v", u)
		}
		if err := ParseCommandError("lvs", 5, in); err == nil {
			t.Fatal("exit 5 gave no error")
		}
	})
}
