package lvm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCommandArgs(t *testing.T) {
	tests := []struct {
		name string
		f    func() ([]string, error)
		want []string
	}{
		{"snapshot", func() ([]string, error) {
			return CreateSnapshotArgs("opscode", "drbd", "drbd-pre-upgrade", 24633147392)
		},
			[]string{"lvcreate", "-s", "-L", "24633147392b", "-n", "drbd-pre-upgrade", "opscode/drbd"}},
		{"thin snapshot", func() ([]string, error) { return CreateThinSnapshotArgs("opscode", "drbd", "drbd-pre-upgrade") },
			[]string{"lvcreate", "-s", "-n", "drbd-pre-upgrade", "opscode/drbd"}},
		{"extend", func() ([]string, error) { return ExtendArgs("my-vg", "my-snap", 4194304) },
			[]string{"lvextend", "-L", "+4194304b", "my-vg/my-snap"}},
		{"pool metadata", func() ([]string, error) { return ExtendPoolMetadataArgs("opscode", "pool0", 104857600) },
			[]string{"lvextend", "--poolmetadatasize", "+104857600b", "opscode/pool0"}},
	}
	for _, tt := range tests {
		got, err := tt.f()
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %q, %v", tt.name, got, err)
		}
	}
	bad := []struct {
		name string
		f    func() ([]string, error)
	}{
		{"size not sectors", func() ([]string, error) { return CreateSnapshotArgs("vg0", "chef", "snap1", 1000) }},
		{"zero size", func() ([]string, error) { return CreateSnapshotArgs("vg0", "chef", "snap1", 0) }},
		{"negative add", func() ([]string, error) { return ExtendArgs("vg0", "snap1", -512) }},
		{"option as name", func() ([]string, error) { return CreateSnapshotArgs("vg0", "chef", "-y", 512) }},
		{"option as vg", func() ([]string, error) { return ExtendArgs("--all", "x", 512) }},
		{"slash in name", func() ([]string, error) { return CreateSnapshotArgs("vg0", "chef", "a/b", 512) }},
		{"space in origin", func() ([]string, error) { return CreateThinSnapshotArgs("vg0", "ch ef", "s") }},
		{"reserved prefix", func() ([]string, error) { return CreateSnapshotArgs("vg0", "chef", "snapshot1", 512) }},
		{"reserved pvmove", func() ([]string, error) { return CreateThinSnapshotArgs("vg0", "chef", "pvmove0") }},
		{"reserved suffix", func() ([]string, error) { return CreateSnapshotArgs("vg0", "chef", "chef_tmeta", 512) }},
		{"dots", func() ([]string, error) { return CreateSnapshotArgs("vg0", "..", "s", 512) }},
		{"too long", func() ([]string, error) { return CreateSnapshotArgs("vg0", "chef", strings.Repeat("a", 128), 512) }},
		{"empty pool", func() ([]string, error) { return ExtendPoolMetadataArgs("vg0", "", 512) }},
	}
	for _, tt := range bad {
		if got, err := tt.f(); err == nil {
			t.Errorf("%s: accepted: %q", tt.name, got)
		}
	}
	if _, err := CreateSnapshotArgs("vg0", "chef", strings.Repeat("a", 127), 512); err != nil {
		t.Errorf("127-character name: %v", err)
	}
}

func TestParseCommandError(t *testing.T) {
	tests := []struct {
		file, cmd string
		exit      int
		kind      ErrorKind
		message   string
	}{
		{"lvcreate-exists-2.03.txt", "lvcreate", 5, Exists, `Logical Volume "drbd-pre-upgrade" already exists in volume group "opscode"`},
		{"lvcreate-exists-2.02.98.txt", "lvcreate", 5, Exists, `Logical volume "drbd-pre-upgrade" already exists in volume group "opscode"`},
		{"lvcreate-nospace-2.03.txt", "lvcreate", 5, NoSpace, `Volume group "opscode" has insufficient free space (2559 extents): 5120 required.`},
		{"lvcreate-nospace-2.02.66.txt", "lvcreate", 5, NoSpace, `Insufficient free extents (2559) in volume group opscode: 5120 required`},
		{"lvcreate-origin-notfound.txt", "lvcreate", 5, NotFound, `Couldn't find origin volume 'drbd'.`},
		{"lvcreate-vg-notfound-2.03.txt", "lvcreate", 5, VGNotFound, `Volume group "opscode" not found`},
		{"lvextend-nospace.txt", "lvextend", 5, NoSpace, `Insufficient free space: 5120 extents needed, but only 2559 available`},
		{"lvextend-nospace-suitable.txt", "lvextend", 5, NoSpace, `Insufficient suitable allocatable extents for logical volume drbd-pre-upgrade: 2561 more required`},
		{"lvextend-notfound-2.03.txt", "lvextend", 5, NotFound, `Failed to find logical volume "opscode/drbd-pre-upgrade"`},
		{"lvextend-notfound-2.02.98.txt", "lvextend", 5, NotFound, `Logical volume drbd-pre-upgrade not found in volume group opscode`},
		{"lvextend-size-not-sectors.txt", "lvextend", 3, Usage, `Size is not a multiple of 512. Try using 1073741312 or 1073741824.`},
		{"lvextend-other.txt", "lvextend", 5, OtherError, `Snapshot origin volumes can be resized only while inactive: try lvchange -an`},
		{"lvs-notfound-2.03.txt", "lvs", 5, NotFound, `Failed to find logical volume "opscode/nosuch"`},
		{"lvs-notfound-2.02.98.txt", "lvs", 5, NotFound, `One or more specified logical volume(s) not found.`},
		{"lvs-vg-notfound-2.02.98.txt", "lvs", 5, VGNotFound, `Volume group "nosuch" not found`},
		{"lvs-vg-notfound-fd-leak-2.02.143.txt", "lvs", 5, VGNotFound, `Volume group "nosuch" not found`},
		{"lvcreate-no-device-mapper.txt", "lvcreate", 3, NoDeviceMapper, `/dev/mapper/control: open failed: No such device`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			stderr := readFixture(t, "stderr/"+tt.file)
			err := ParseCommandError(tt.cmd, tt.exit, stderr)
			var ce *CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v", err)
			}
			if ce.Kind != tt.kind || ce.Message != tt.message || ce.Exit != tt.exit || ce.Command != tt.cmd {
				t.Errorf("got %s %q exit %d, want %s %q", ce.Kind, ce.Message, ce.Exit, tt.kind, tt.message)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.message) || !strings.Contains(msg, ce.Fix()) {
				t.Errorf("Error() = %q", msg)
			}
			// Exit 0 is success, whatever was printed.
			if err := ParseCommandError(tt.cmd, 0, stderr); err != nil {
				t.Errorf("exit 0: %v", err)
			}
		})
	}
	err := ParseCommandError("lvs", 5, nil)
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Kind != OtherError || ce.Message != "no message" {
		t.Errorf("empty stderr: %#v", err)
	}
	err = ParseCommandError("lvs", 5, []byte("  WARNING: only a warning\n"))
	if !errors.As(err, &ce) || ce.Message != "WARNING: only a warning" {
		t.Errorf("warning only: %#v", err)
	}
	if s := ErrorKind(42).String(); s != "ErrorKind(42)" {
		t.Error(s)
	}
}
