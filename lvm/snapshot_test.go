package lvm

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The copy-on-write sizes below are worked by hand from lvm2's
// _cow_max_size (lib/metadata/snapshot_manip.c) with 4 KiB chunks:
// chunks, one metadata chunk per 256 of them (+1), a header, and 1/64
// more. 1 MiB: 256 + 2 + 1 = 259 chunks, +5 = 264 chunks = 1081344.
func TestCowBytes(t *testing.T) {
	for data, want := range map[int64]int64{
		0:           3 * 4096, // header, a metadata chunk, 1/64 rounded up: lvm2's 3-chunk minimum
		1 << 20:     1081344,
		100 * gib:   109477900288, // 26214400 + 102401 + 1 = 26316802 chunks, +411201
		24159191040: 24632537088,
	} {
		if got := cowBytes(data); got != want {
			t.Errorf("cowBytes(%d) = %d, want %d", data, got, want)
		}
	}
}

func TestSnapshotSize(t *testing.T) {
	origin := LV{VG: "opscode", Name: "drbd", Size: 100 * gib, ExtentSize: ext}
	tests := []struct {
		name   string
		origin LV
		used   int64
		margin float64
		want   int64
	}{
		// 18 GiB used, 25% margin: 22.5 GiB of data, its store rounded up to 4 MiB extents.
		{"typical", origin, 18 * gib, 0.25, 24633147392},
		{"empty file system", origin, 0, 0.25, ext},
		// Asking for more than the origin can ever change is capped at
		// the store that holds all of it, in whole extents.
		{"capped", origin, 90 * gib, 0.5, 109479723008},
		{"full", origin, 100 * gib, 0, 109479723008},
		{"extent unknown", LV{VG: "vg0", Name: "chef", Size: 1 << 20}, 1 << 20, 0, 1081344},
		// 12 GiB of data: 3145728 chunks + 12289 metadata + 1 = 3158018,
		// +49345 = 3207363 chunks = 13137358848 bytes: 392 extents of 32 MiB.
		{"32 MiB extents", LV{VG: "my-vg", Name: "my-lv", Size: 50 * gib, ExtentSize: 32 << 20}, 10 * gib, 0.2, 392 << 25},
	}
	for _, tt := range tests {
		got, err := SnapshotSize(tt.origin, tt.used, tt.margin)
		if err != nil || got != tt.want {
			t.Errorf("%s: %d, %v; want %d", tt.name, got, err, tt.want)
		}
		if err == nil && (got%512 != 0 || (tt.origin.ExtentSize > 0 && got%tt.origin.ExtentSize != 0)) {
			t.Errorf("%s: %d is not whole extents", tt.name, got)
		}
		if _, err := CreateSnapshotArgs(tt.origin.VG, tt.origin.Name, "pre-upgrade", got); err != nil {
			t.Errorf("%s: lvcreate refuses it: %v", tt.name, err)
		}
	}
	for _, bad := range []struct {
		origin LV
		used   int64
		margin float64
	}{
		{LV{Name: "x"}, 0, 0},
		{origin, -1, 0},
		{origin, 101 * gib, 0},
		{origin, gib, -0.1},
		{origin, gib, math.NaN()},
		{origin, gib, math.Inf(1)},
		{LV{Size: math.MaxInt64}, 0, 0},
	} {
		if got, err := SnapshotSize(bad.origin, bad.used, bad.margin); err == nil {
			t.Errorf("%+v used %d margin %v: %d accepted", bad.origin, bad.used, bad.margin, got)
		}
	}
}

func TestCheckSnapshot(t *testing.T) {
	parse := func(file string) []LV {
		t.Helper()
		lvs, err := ParseReport(strings.NewReader(string(readFixture(t, file))))
		if err != nil {
			t.Fatal(err)
		}
		return lvs
	}
	classic12 := parse("lvs-2.03.16-classic-12.json")
	c, err := CheckSnapshot(classic12, "opscode", "drbd-pre-upgrade", 80)
	if err != nil || c.Percent != 12.34 || c.Origin == nil || c.Origin.Name != "drbd" || c.CoversOrigin {
		t.Errorf("12%%: %+v %v", c, err)
	}
	thin := parse("lvs-2.03.16-thin.json")
	c, err = CheckSnapshot(thin, "opscode", "drbd-pre-upgrade", 80)
	if err != nil || c.Percent != 43.27 || c.Pool == nil || c.Pool.Name != "pool0" {
		t.Errorf("thin: %+v %v", c, err)
	}
	// The RHEL 6 text, judged after 2.02.87's rules: "Swi-I-".
	legacy, err := QueryFor(Version{2, 2, 87}).Parse(strings.NewReader(string(readFixture(t, "lvs-2.02.87-rhel6-invalid.txt"))))
	if err != nil {
		t.Fatal(err)
	}

	edit := func(lvs []LV, name string, f func(*LV)) []LV {
		out := append([]LV(nil), lvs...)
		for i := range out {
			if out[i].Name == name {
				f(&out[i])
			}
		}
		return out
	}
	attr := func(s string) func(*LV) { return func(lv *LV) { lv.Attr = mustAttr(t, s) } }
	tests := []struct {
		name    string
		lvs     []LV
		snap    string
		problem Problem
		fix     string
		extend  [][]string
	}{
		{"missing", classic12, "nosuch", SnapshotMissing, "backup is gone", nil},
		{"not a snapshot", classic12, "drbd", NotASnapshot, "check the name", nil},
		{"invalid", parse("lvs-2.03.16-classic-invalid.json"), "drbd-pre-upgrade", SnapshotInvalid, "lvremove opscode/drbd-pre-upgrade", nil},
		{"invalid 2.02.87", legacy, "drbd-pre-upgrade", SnapshotInvalid, "cannot be recovered", nil},
		{"merging", edit(classic12, "drbd-pre-upgrade", attr("Swi-a-s---")), "drbd-pre-upgrade", SnapshotMerging, "merge", nil},
		{"merge failed", edit(classic12, "drbd-pre-upgrade", attr("swi-m-s---")), "drbd-pre-upgrade", SnapshotMerging, "merge", nil},
		{"inactive", edit(classic12, "drbd-pre-upgrade", attr("swi---s---")), "drbd-pre-upgrade", SnapshotInactive, "lvchange -ay opscode/drbd-pre-upgrade", nil},
		{"state unknown", edit(classic12, "drbd-pre-upgrade", attr("swi-XX-s--")), "drbd-pre-upgrade", SnapshotUnknown, "/dev/mapper/control", nil},
		{"no percent", edit(classic12, "drbd-pre-upgrade", func(lv *LV) { lv.SnapPercent, lv.DataPercent = nil, nil }), "drbd-pre-upgrade", SnapshotUnknown, "snap_percent", nil},
		// 81.06% of 20 GiB: grow to hold that use at 40%: +20.53 GiB, in 4 MiB extents.
		{"full", parse("lvs-2.02.143-rhel6.txt"), "drbd-pre-upgrade", SnapshotFull, "before the next step run: lvextend -L +22045261824b opscode/drbd-pre-upgrade",
			[][]string{{"lvextend", "-L", "+22045261824b", "opscode/drbd-pre-upgrade"}}},
		// The same with only 10 GiB free in the VG: say so.
		{"full, VG short", edit(parse("lvs-2.02.143-rhel6.txt"), "drbd-pre-upgrade", func(lv *LV) { lv.VGFree = 10 * gib }), "drbd-pre-upgrade", SnapshotFull, "has only 10737418240 bytes free",
			[][]string{{"lvextend", "-L", "+22045261824b", "opscode/drbd-pre-upgrade"}}},
		// Growing past what holds the whole origin is pointless: capped.
		{"full, capped", edit(parse("lvs-2.02.143-rhel6.txt"), "drbd-pre-upgrade", func(lv *LV) { lv.Size = 90 * gib }), "drbd-pre-upgrade", SnapshotFull, "lvextend",
			[][]string{{"lvextend", "-L", "+" + itoa(109479723008-90*gib) + "b", "opscode/drbd-pre-upgrade"}}},
		{"thin pool missing", edit(thin, "pool0", func(lv *LV) { lv.Name = "other" }), "drbd-pre-upgrade", SnapshotUnknown, "lvs opscode", nil},
		{"thin pool failed", edit(thin, "pool0", attr("twi-aotzF-")), "drbd-pre-upgrade", SnapshotInvalid, "lvconvert --repair opscode/pool0", nil},
		{"thin pool metadata read-only", edit(thin, "pool0", attr("twi-aotzM-")), "drbd-pre-upgrade", PoolUnhealthy, "thin_check", nil},
		{"thin pool inactive", edit(thin, "pool0", func(lv *LV) { lv.Attr = mustAttr(t, "twi---tz--"); lv.DataPercent, lv.MetadataPercent = nil, nil }), "drbd-pre-upgrade", SnapshotInactive, "lvchange -ay", nil},
		// 91.50% of 100 GiB data: grow to hold it at 40%.
		{"thin pool data full", edit(thin, "pool0", func(lv *LV) { lv.DataPercent = pct(91.5) }), "drbd-pre-upgrade", SnapshotFull, "lvextend -L +",
			[][]string{{"lvextend", "-L", "+" + itoa(roundUp(int64(math.Ceil(float64(100*gib)*0.915/0.4))-100*gib, ext)) + "b", "opscode/pool0"}}},
		{"thin pool out of data space", edit(thin, "pool0", attr("twi-aotzD-")), "drbd-pre-upgrade", SnapshotFull, "lvextend -L +",
			[][]string{{"lvextend", "-L", "+" + itoa(roundUp(int64(math.Ceil(float64(100*gib)*0.4327/0.4))-100*gib, ext)) + "b", "opscode/pool0"}}},
		{"thin pool metadata full", edit(thin, "pool0", func(lv *LV) { lv.MetadataPercent = pct(85) }), "drbd-pre-upgrade", SnapshotFull, "--poolmetadatasize",
			[][]string{{"lvextend", "--poolmetadatasize", "+" + itoa(roundUp(int64(math.Ceil(104857600*0.85/0.4))-104857600, ext)) + "b", "opscode/pool0"}}},
		{"thin pool metadata size unknown", edit(thin, "pool0", func(lv *LV) { lv.MetadataPercent, lv.MetadataSize = pct(85), 0 }), "drbd-pre-upgrade", SnapshotFull, "--poolmetadatasize +SIZE opscode/pool0", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := CheckSnapshot(tt.lvs, "opscode", tt.snap, 80)
			var se *SnapshotError
			if !errors.As(err, &se) {
				t.Fatalf("got %+v, %v", c, err)
			}
			if se.Problem != tt.problem || !strings.Contains(se.Fix, tt.fix) || !reflect.DeepEqual(se.Extend, tt.extend) {
				t.Errorf("got %s, fix %q, extend %q\nwant %s, fix containing %q, extend %q", se.Problem, se.Fix, se.Extend, tt.problem, tt.fix, tt.extend)
			}
			if !strings.Contains(err.Error(), "opscode/"+tt.snap) || !strings.Contains(err.Error(), tt.problem.String()) {
				t.Errorf("Error() = %q", err)
			}
		})
	}

	// A snapshot big enough for its whole origin cannot overflow.
	covers := edit(parse("lvs-2.02.143-rhel6.txt"), "drbd-pre-upgrade", func(lv *LV) { lv.Size = 109479723008; lv.SnapPercent = pct(95) })
	if c, err := CheckSnapshot(covers, "opscode", "drbd-pre-upgrade", 80); err != nil || !c.CoversOrigin {
		t.Errorf("covering snapshot: %+v %v", c, err)
	}
	for _, th := range []float64{0, 100, -5, math.NaN()} {
		if _, err := CheckSnapshot(classic12, "opscode", "drbd-pre-upgrade", th); err == nil {
			t.Errorf("threshold %v accepted", th)
		}
	}
	if s := Problem(99).String(); s != "Problem(99)" {
		t.Error(s)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
