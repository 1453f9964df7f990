package lvm

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pct(p float64) *float64 { return &p }
func yes() *bool             { b := true; return &b }
func no() *bool              { b := false; return &b }

const (
	gib = int64(1) << 30
	ext = int64(4194304)
)

func mustAttr(t testing.TB, s string) Attr {
	t.Helper()
	a, err := ParseAttr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// wantLV is the part of an LV the fixture tables compare; nil pointers
// mean "not reported".
type wantLV struct {
	full, attr      string
	size            int64
	origin, pool    string
	snap, data, met *float64
	invalid         *bool
	path, dmpath    string
	extent, free    int64
}

func checkLVs(t *testing.T, got []LV, want []wantLV) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d LVs, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.FullName() != w.full || g.Attr.String() != w.attr || g.Size != w.size || g.Origin != w.origin || g.Pool != w.pool ||
			!reflect.DeepEqual(g.SnapPercent, w.snap) || !reflect.DeepEqual(g.DataPercent, w.data) || !reflect.DeepEqual(g.MetadataPercent, w.met) ||
			!reflect.DeepEqual(g.SnapInvalid, w.invalid) || g.Path != w.path || g.DMPath != w.dmpath || g.ExtentSize != w.extent || g.VGFree != w.free {
			t.Errorf("LV %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

var (
	opsOrigin = wantLV{full: "opscode/drbd", attr: "owi-aos---", size: 100 * gib, path: "/dev/opscode/drbd", dmpath: "/dev/mapper/opscode-drbd", extent: ext, free: 30 * gib}
	opsSnap12 = wantLV{full: "opscode/drbd-pre-upgrade", attr: "swi-a-s---", size: 20 * gib, origin: "drbd", snap: pct(12.34), data: pct(12.34), invalid: no(),
		path: "/dev/opscode/drbd-pre-upgrade", dmpath: "/dev/mapper/opscode-drbd--pre--upgrade", extent: ext, free: 30 * gib}
)

func with(w wantLV, f func(*wantLV)) wantLV { f(&w); return w }

func TestParseReportFixtures(t *testing.T) {
	vg0 := func(name string, size int64, attr string) wantLV {
		return wantLV{full: "vg0/" + name, attr: attr, size: size, path: "/dev/vg0/" + name, dmpath: "/dev/mapper/vg0-" + name, extent: ext, free: 2*gib + 3*ext}
	}
	tfree := 40 * gib
	thin := func(name, attr string, size int64, f func(*wantLV)) wantLV {
		w := wantLV{full: "opscode/" + name, attr: attr, size: size, path: "/dev/opscode/" + name,
			dmpath: "/dev/mapper/opscode-" + strings.ReplaceAll(name, "-", "--"), extent: ext, free: tfree}
		f(&w)
		return w
	}
	tests := []struct {
		file string
		want []wantLV
	}{
		{"lvs-2.03.16-classic-12.json", []wantLV{opsOrigin, opsSnap12}},
		{"lvs-2.03.16-classic-12-json_std.json", []wantLV{opsOrigin, opsSnap12}},
		{"lvs-2.03.16-classic-invalid.json", []wantLV{opsOrigin, with(opsSnap12, func(w *wantLV) {
			w.attr, w.snap, w.data, w.invalid = "swi-I-s---", pct(100), pct(100), yes()
		})}},
		{"lvs-2.03.16-thin.json", []wantLV{
			thin("drbd-hourly", "Vwi-a-tz--", 80*gib, func(w *wantLV) { w.origin, w.pool, w.data = "drbd", "pool0", pct(54.10) }),
			thin("drbd-pre-upgrade", "Vwi---tz-k", 80*gib, func(w *wantLV) { w.origin, w.pool = "drbd", "pool0" }),
			thin("drbd", "Vwi-aotz--", 80*gib, func(w *wantLV) { w.pool, w.data = "pool0", pct(54.12) }),
			thin("pool0", "twi-aotz--", 100*gib, func(w *wantLV) { w.data, w.met = pct(43.27), pct(12.05) }),
		}},
		{"lvs-2.03.16-multi.json", []wantLV{
			{full: "my-vg/my-lv", attr: "-wi-ao----", size: 50 * gib, path: "/dev/my-vg/my-lv", dmpath: "/dev/mapper/my--vg-my--lv", extent: 32 << 20, free: 14 * gib},
			{full: "my-vg/scratch", attr: "-wi-------", size: 8 * gib, path: "/dev/my-vg/scratch", dmpath: "/dev/mapper/my--vg-scratch", extent: 32 << 20, free: 14 * gib},
			opsOrigin,
			with(opsSnap12, func(w *wantLV) { w.snap, w.data = pct(57.80), pct(57.80) }),
			vg0("root", 20*gib, "-wi-ao----"),
			vg0("swap_1", 4*gib, "-wi-ao----"),
		}},
		// The text form in LVSFields order: lvm2 2.02.108 to 2.02.157
		// know every field but print no JSON.
		{"lvs-2.02.143-rhel6.txt", []wantLV{opsOrigin,
			with(opsSnap12, func(w *wantLV) { w.snap, w.data = pct(81.06), pct(81.06) }),
			vg0("root", 20*gib, "-wi-ao----"), vg0("swap_1", 4*gib, "-wi-ao----")}},
		{"lvs-2.02.143-prefixes.txt", []wantLV{opsOrigin, with(opsSnap12, func(w *wantLV) { w.snap, w.data = pct(81.06), pct(81.06) })}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseReport(strings.NewReader(string(readFixture(t, tt.file))))
			if err != nil {
				t.Fatal(err)
			}
			checkLVs(t, got, tt.want)
		})
	}
}

// Older lvm2 prints fewer fields; QueryFor asks for those it knows and
// Query.Parse reads them back.
func TestQueryLegacyFixtures(t *testing.T) {
	noDM := func(w wantLV) wantLV { w.dmpath, w.invalid = "", nil; return w }
	tests := []struct {
		file    string
		version Version
		nfields int
		want    []wantLV
	}{
		{"lvs-2.02.98-rhel6.txt", Version{2, 2, 98}, 13, []wantLV{
			noDM(with(opsOrigin, func(w *wantLV) { w.attr = "owi-aos--" })),
			noDM(with(opsSnap12, func(w *wantLV) { w.attr, w.snap, w.data = "swi-a-s--", pct(57.80), pct(57.80) })),
			{full: "vg0/root", attr: "-wi-ao---", size: 20 * gib, path: "/dev/vg0/root", extent: ext, free: 2*gib + 3*ext},
			{full: "vg0/swap_1", attr: "-wi-ao---", size: 4 * gib, path: "/dev/vg0/swap_1", extent: ext, free: 2*gib + 3*ext},
		}},
		{"lvs-2.02.87-rhel6-invalid.txt", Version{2, 2, 87}, 9, []wantLV{
			noDM(with(opsOrigin, func(w *wantLV) { w.attr = "owi-ao" })),
			noDM(with(opsSnap12, func(w *wantLV) { w.attr, w.snap, w.data = "Swi-I-", pct(100), nil })),
			{full: "vg0/root", attr: "-wi-ao", size: 20 * gib, path: "/dev/vg0/root", extent: ext, free: 2*gib + 3*ext},
			{full: "vg0/swap_1", attr: "-wi-ao", size: 4 * gib, path: "/dev/vg0/swap_1", extent: ext, free: 2*gib + 3*ext},
		}},
		{"lvs-2.02.66-ubuntu1204.txt", Version{2, 2, 66}, 8, []wantLV{
			noDM(with(opsOrigin, func(w *wantLV) { w.attr, w.path = "owi-ao", "" })),
			noDM(with(opsSnap12, func(w *wantLV) { w.attr, w.snap, w.data, w.path = "swi-a-", pct(3.41), nil, "" })),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			q := QueryFor(tt.version)
			if q.JSON || len(q.Fields) != tt.nfields {
				t.Fatalf("QueryFor(%v) = %+v, want text with %d fields", tt.version, q, tt.nfields)
			}
			got, err := q.Parse(strings.NewReader(string(readFixture(t, tt.file))))
			if err != nil {
				t.Fatal(err)
			}
			checkLVs(t, got, tt.want)
			// The same text is not LVSFields: ParseReport refuses it.
			if _, err := ParseReport(strings.NewReader(string(readFixture(t, tt.file)))); err == nil {
				t.Error("ParseReport read legacy text as if in LVSFields order")
			}
		})
	}
	if got := QueryFor(Version{2, 2, 66}).Fields; got[len(got)-1] != "vg_free" || strings.Contains(strings.Join(got, ","), "lv_path") {
		t.Errorf("2.02.66 fields %v", got)
	}
	if q := QueryFor(Version{2, 2, 158}); !q.JSON || strings.Join(q.Fields, ",") != LVSFields {
		t.Errorf("2.02.158: %+v", q)
	}
	if q := QueryFor(Version{2, 2, 157}); q.JSON || strings.Join(q.Fields, ",") != LVSFields {
		t.Errorf("2.02.157: %+v", q)
	}
}

func TestLVSArgs(t *testing.T) {
	got, err := LVSArgs("opscode", "")
	want := []string{"lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", LVSFields, "opscode"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("LVSArgs = %q, %v", got, err)
	}
	got, err = QueryFor(Version{2, 2, 98}).Args("opscode", "drbd-pre-upgrade")
	want = []string{"lvs", "--noheadings", "--separator", "|", "--units", "b", "--nosuffix", "-o",
		"lv_name,vg_name,lv_attr,lv_size,origin,pool_lv,snap_percent,data_percent,metadata_percent,lv_metadata_size,lv_path,vg_extent_size,vg_free",
		"opscode/drbd-pre-upgrade"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("2.02.98 Args = %q, %v", got, err)
	}
	if got, err := (Query{JSON: true}).Args("vg0", ""); err == nil {
		t.Errorf("a query without fields: %q", got)
	}
	for _, bad := range [][2]string{{"", ""}, {"-a", ""}, {"vg0", "--all"}, {"vg 0", ""}, {"vg0", "a/b"}, {"..", ""}} {
		if _, err := LVSArgs(bad[0], bad[1]); err == nil {
			t.Errorf("LVSArgs(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

// lvm2 2.03.26 and later report errors inside the JSON.
func TestParseReportLogError(t *testing.T) {
	lvs, err := ParseReport(strings.NewReader(string(readFixture(t, "lvs-2.03.28-notfound-log.json"))))
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Kind != NotFound || ce.Exit != 5 || ce.Command != "lvs" ||
		ce.Message != `Failed to find logical volume "opscode/drbd-pre-upgrade"` {
		t.Fatalf("err = %#v", err)
	}
	if len(lvs) != 0 {
		t.Errorf("lvs = %v", lvs)
	}
}

func TestParseReportVariants(t *testing.T) {
	row := func(vals ...string) string {
		v := []string{"drbd-pre-upgrade", "opscode", "swi-a-s---", "21474836480", "drbd", "", "12.34", "12.34", "", "", "", "/dev/opscode/drbd-pre-upgrade", "/dev/mapper/opscode-drbd--pre--upgrade", "4194304", "0"}
		for i := 0; i+1 < len(vals); i += 2 {
			for j, f := range strings.Split(LVSFields, ",") {
				if f == vals[i] {
					v[j] = vals[i+1]
				}
			}
		}
		return "  " + strings.Join(v, "|") + "\n"
	}
	one := func(s string) LV {
		t.Helper()
		lvs, err := ParseReport(strings.NewReader(s))
		if err != nil || len(lvs) != 1 {
			t.Fatalf("%q: %v, %v", s, lvs, err)
		}
		return lvs[0]
	}
	if lv := one(row("snap_percent", "82,45")); *lv.SnapPercent != 82.45 {
		t.Errorf("decimal comma: %v", *lv.SnapPercent)
	}
	if lv := one(row("lv_size", "21474836480B")); lv.Size != 20*gib {
		t.Errorf("B suffix: %d", lv.Size)
	}
	for _, v := range []string{"1", "snapshot invalid"} {
		if lv := one(row("lv_snapshot_invalid", v)); lv.SnapInvalid == nil || !*lv.SnapInvalid || !lv.Invalid() {
			t.Errorf("lv_snapshot_invalid %q: %v", v, lv.SnapInvalid)
		}
	}
	// lvm2 2.02.108 to 2.02.168 call an inactive snapshot invalid.
	if lv := one(row("lv_attr", "swi---s---", "lv_snapshot_invalid", "snapshot invalid", "snap_percent", "")); lv.Invalid() {
		t.Error("inactive snapshot judged invalid from lv_snapshot_invalid")
	}
	if lv := one(row("lv_snapshot_invalid", "-1")); lv.SnapInvalid != nil {
		t.Error("-1 is unknown")
	}
	if lvs, err := ParseReport(strings.NewReader("\n\n")); err != nil || len(lvs) != 0 {
		t.Errorf("empty text: %v %v", lvs, err)
	}
	if lvs, err := ParseReport(strings.NewReader(`{"report":[{"lv":[]}]}`)); err != nil || len(lvs) != 0 {
		t.Errorf("empty JSON: %v %v", lvs, err)
	}
	// A subset of fields in JSON is read; what is missing stays unset.
	lv := one(`{"report":[{"lv":[{"lv_name":"chef","vg_name":"vg0","lv_attr":"-wi-ao----","lv_size":"4194304"}]}]}`)
	if lv.SnapPercent != nil || lv.Path != "" || lv.DevicePath() != "/dev/vg0/chef" {
		t.Errorf("subset: %+v", lv)
	}
}

func TestParseReportMalformed(t *testing.T) {
	good := string(readFixture(t, "lvs-2.03.16-classic-12.json"))
	text := string(readFixture(t, "lvs-2.02.143-rhel6.txt"))
	tests := []struct{ name, in, want string }{
		{"truncated JSON", good[:len(good)/2], "not lvm2's JSON"},
		{"trailing text", good + "  WARNING: something\n", "text after"},
		{"no lv report", `{"report":[{"vg":[]}]}`, `no "lv" report`},
		{"no report", `{"log":[]}`, `no "report"`},
		{"missing attr", `{"report":[{"lv":[{"lv_name":"a","vg_name":"b","lv_size":"1"}]}]}`, "no lv_attr"},
		{"bad attr", strings.Replace(good, `"swi-a-s---"`, `"swi-a-s-1-"`, 1), "lv_attr"},
		{"short attr", strings.Replace(good, `"swi-a-s---"`, `"swi-a"`, 1), "lv_attr"},
		{"size with unit", strings.Replace(good, `"21474836480"`, `"20.00g"`, 1), "--units b"},
		{"negative size", strings.Replace(good, `"21474836480"`, `"-1"`, 1), "not a size"},
		{"percent over 100", strings.Replace(good, `"snap_percent":"12.34"`, `"snap_percent":"112.34"`, 1), "not a percentage"},
		{"percent exponent", strings.Replace(good, `"snap_percent":"12.34"`, `"snap_percent":"1e1"`, 1), "not a percentage"},
		{"percent sign", strings.Replace(good, `"snap_percent":"12.34"`, `"snap_percent":"+12.34"`, 1), "not a percentage"},
		{"percent two points", strings.Replace(good, `"snap_percent":"12.34"`, `"snap_percent":"12.3.4"`, 1), "not a percentage"},
		{"size sign", strings.Replace(good, `"21474836480"`, `"+21474836480"`, 1), "not a size"},
		{"percent NaN", strings.Replace(good, `"snap_percent":"12.34"`, `"snap_percent":"NaN"`, 1), "not a percentage"},
		{"binary junk", strings.Replace(good, `"lv_snapshot_invalid":""`, `"lv_snapshot_invalid":"maybe"`, 1), "lv_snapshot_invalid"},
		{"object value", strings.Replace(good, `"origin":"drbd"`, `"origin":{}`, 1), "unexpected JSON value"},
		{"bool value", strings.Replace(good, `"origin":"drbd"`, `"origin":true`, 1), "unexpected JSON value"},
		{"empty name", strings.Replace(good, `"lv_name":"drbd"`, `"lv_name":""`, 1), "empty lv_name"},
		{"text short row", strings.Replace(text, "|4194304|", "|", 1), "values, want 15"},
		{"text headings", "  LV|VG|Attr|LSize\n", "values, want 15"},
		{"text aligned columns", "  drbd  opscode owi-aos--- 107374182400\n", "values, want 15"},
		{"text prefix not asked", strings.Replace(string(readFixture(t, "lvs-2.02.143-prefixes.txt")), "LVM2_POOL_LV=", "LVM2_SEG_COUNT=", 1), "not asked for"},
		{"text duplicate prefix", strings.Replace(string(readFixture(t, "lvs-2.02.143-prefixes.txt")), "LVM2_POOL_LV=", "LVM2_ORIGIN=", 1), "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lvs, err := ParseReport(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q (lvs %v)", err, tt.want, lvs)
			}
			if lvs != nil {
				t.Errorf("LVs returned with a parse error: %v", lvs)
			}
		})
	}
	if _, err := ParseText(strings.NewReader(""), []string{"lv_name", "vg_name", "lv_attr"}); err == nil {
		t.Error("fields without lv_size accepted")
	}
	if _, err := ParseText(strings.NewReader(""), []string{"lv_name", "vg_name", "lv_attr", "lv_size", "seg_count"}); err == nil {
		t.Error("unknown field accepted")
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		file string
		want Version
		json bool
	}{
		{"version/rhel6-2.02.143.txt", Version{2, 2, 143}, false},
		{"version/ubuntu1204-2.02.66.txt", Version{2, 2, 66}, false},
		{"version/debian12-2.03.16.txt", Version{2, 3, 16}, true},
		{"version/no-driver.txt", Version{2, 3, 16}, true},
	}
	for _, tt := range tests {
		v, err := ParseVersion(readFixture(t, tt.file))
		if err != nil || v != tt.want || v.JSON() != tt.json {
			t.Errorf("%s: %v %v (JSON %v)", tt.file, v, err, v.JSON())
		}
	}
	if s := (Version{2, 2, 98}).String(); s != "2.02.98" {
		t.Errorf("String = %q", s)
	}
	for _, bad := range []string{"", "  Library version: 1.02.117\n", "  LVM version:\n", "  LVM version:     2.02(2)\n", "  LVM version:     two.02.98(2)\n"} {
		if v, err := ParseVersion([]byte(bad)); err == nil {
			t.Errorf("%q: %v accepted", bad, v)
		}
	}
}

func BenchmarkParseReport(b *testing.B) {
	in := string(readFixture(b, "lvs-2.03.16-multi.json"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseReport(strings.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseReport(f *testing.F) {
	files, _ := filepath.Glob("testdata/lvs-*")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lvs, err := ParseReport(strings.NewReader(string(in)))
		var ce *CommandError
		if err != nil && !errors.As(err, &ce) {
			if lvs != nil {
				t.Fatalf("LVs with a parse error: %v", lvs)
			}
			return
		}
		for _, lv := range lvs {
			if lv.Name == "" || lv.VG == "" || lv.Size < 0 || lv.ExtentSize < 0 || lv.VGFree < 0 {
				t.Fatalf("bad LV %+v", lv)
			}
			if n := len(lv.Attr.String()); n != 6 && n != 8 && n != 9 && n != 10 {
				t.Fatalf("attr %q", lv.Attr)
			}
			if _, err := ParseAttr(lv.Attr.String()); err != nil {
				t.Fatal(err)
			}
			for _, p := range []*float64{lv.SnapPercent, lv.DataPercent, lv.MetadataPercent} {
				if p != nil && !(*p >= 0 && *p <= 100) {
					t.Fatalf("percent %v", *p)
				}
			}
			if p, ok := lv.Full(); ok && !(p >= 0 && p <= 100) {
				t.Fatalf("Full %v", p)
			}
		}
	})
}

func TestParseReportJSONDetails(t *testing.T) {
	// json_std prints string lists as arrays; warnings in the log are
	// not errors.
	in := `{"report":[{"lv":[{"lv_name":"chef","vg_name":"vg0","lv_attr":"-wi-ao----","lv_size":4194304,"origin":["x","y"],"snap_percent":null}]}],
	  "log":[{"log_seq_num":1,"log_type":"warn","log_message":"WARNING: something","log_ret_code":1}]}`
	lvs, err := QueryFor(Version{2, 3, 16}).Parse(strings.NewReader(in))
	if err != nil || len(lvs) != 1 || lvs[0].Origin != "x,y" || lvs[0].Size != ext {
		t.Fatalf("%+v %v", lvs, err)
	}
	// An error entry with no usable return code still fails the command.
	in = `{"report":[{"lv":[]}],"log":[{"log_type":"error","log_message":"Volume group \"vg9\" not found","log_ret_code":"x"}]}`
	_, err = ParseReport(strings.NewReader(in))
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Kind != VGNotFound || ce.Exit != 5 {
		t.Errorf("log error: %#v", err)
	}
	for _, bad := range []string{
		`{"report":[{"lv":[]}],"log":[{"log_type":{},"log_message":"x"}]}`,
		`{"report":[{"lv":[]}],"log":[{"log_type":"error","log_message":[1]}]}`,
		`{"report":[{"lv":[{"lv_name":"a","vg_name":"b","lv_attr":"-wi-ao----","lv_size":"1","origin":[1]}]}]}`,
	} {
		if lvs, err := ParseReport(strings.NewReader(bad)); err == nil {
			t.Errorf("%s accepted: %v", bad, lvs)
		}
	}
	if got := VersionArgs(); strings.Join(got, " ") != "lvm version" {
		t.Error(got)
	}
	if _, err := ParseReport(errReader{}); err == nil {
		t.Error("read error lost")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection lost") }
