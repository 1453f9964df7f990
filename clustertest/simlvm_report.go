package clustertest

// lvs as lvm2 prints it: the volume group's logical volumes as JSON or
// text, the columns and sizes of each lvm2 release.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/chefha/chefha/lvm"
)

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

// displaySize is lvm2's display_size in its default units.
func displaySize(n int64) string {
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	f, u := float64(n)/1024, 0
	for f >= 1024 && u < len(units)-1 {
		f, u = f/1024, u+1
	}
	return fmt.Sprintf("%.2f %s", f, units[u])
}

// shortSize is lvs' default size column: "20.00g".
func shortSize(n int64) string {
	f, u := float64(n)/1024, 0
	for f >= 1024 && u < 3 {
		f, u = f/1024, u+1
	}
	return fmt.Sprintf("%.2f%c", f, "kmgt"[u])
}
