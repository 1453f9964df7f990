package lvm

import (
	"io"
	"strings"
)

// LV is one row of `lvs`: a logical volume and the facts about its
// volume group that sizing and extending need.
type LV struct {
	VG, Name string
	Attr     Attr
	// Size is lv_size in bytes: for a classic snapshot, the size of its
	// copy-on-write store, not of the origin.
	Size int64
	// Origin is the snapshot's origin LV, for classic and thin snapshots.
	Origin string
	// Pool is the thin pool of a thin volume.
	Pool string
	// SnapPercent, DataPercent and MetadataPercent are snap_percent,
	// data_percent and metadata_percent; nil where lvm2 prints nothing:
	// an inactive volume, a field that does not apply, or a field this
	// lvm2 does not have. For a classic snapshot data_percent repeats
	// snap_percent (lib/report/report.c, _datapercent_disp).
	SnapPercent, DataPercent, MetadataPercent *float64
	// MetadataSize is a thin pool's metadata LV size in bytes, 0 if unknown.
	MetadataSize int64
	// SnapInvalid is lv_snapshot_invalid (lvm2 2.02.108 and later); nil
	// for other volumes or where not reported. Before 2.02.169 an
	// inactive snapshot is reported invalid; Invalid accounts for that.
	SnapInvalid *bool
	// Path is /dev/VG/LV and DMPath /dev/mapper/VG-LV; empty where this
	// lvm2 does not report them (lv_path since 2.02.68, lv_dm_path since
	// 2.02.108) or for hidden volumes.
	Path, DMPath string
	// ExtentSize and VGFree are the volume group's vg_extent_size and
	// vg_free in bytes: sizes round up to whole extents, and an
	// extension cannot take more than is free.
	ExtentSize, VGFree int64
}

// FullName is "VG/LV", the form lvm2's commands take.
func (lv LV) FullName() string { return lv.VG + "/" + lv.Name }

// IsThinSnapshot reports a thin volume that was taken as a snapshot.
func (lv LV) IsThinSnapshot() bool { return lv.Attr.Type == 'V' && lv.Origin != "" }

// Invalid reports a classic snapshot the kernel dropped: lv_attr's state,
// or lv_snapshot_invalid on an active snapshot (an inactive one is
// reported invalid by lvm2 2.02.108 to 2.02.168 whatever its state).
func (lv LV) Invalid() bool {
	if lv.Attr.Invalid() {
		return true
	}
	return lv.Attr.IsSnapshot() && lv.Attr.Active() && lv.SnapInvalid != nil && *lv.SnapInvalid
}

// Full gives how full the volume is, in percent: snap_percent for a
// classic snapshot (data_percent where snap_percent is not reported),
// data_percent for a thin volume or pool. ok is false for other volumes
// and while the value is unknown (inactive). A thin snapshot's own
// figure only says how much of it is mapped; what can overflow is its
// pool, which CheckSnapshot judges.
func (lv LV) Full() (percent float64, ok bool) {
	var p *float64
	switch {
	case lv.Attr.IsSnapshot():
		p = lv.SnapPercent
		if p == nil {
			p = lv.DataPercent
		}
	case lv.Attr.IsThin():
		p = lv.DataPercent
	}
	if p == nil {
		return 0, false
	}
	return *p, true
}

// DevicePath is the LV's /dev path: lv_path, or /dev/VG/LV where this
// lvm2 does not report it.
func (lv LV) DevicePath() string {
	if lv.Path != "" {
		return lv.Path
	}
	return "/dev/" + lv.VG + "/" + lv.Name
}

// Fields chefha asks lvs for, with the first lvm2 release that knows
// each (lib/report/columns.h by tag). A field an lvm2 does not know makes
// lvs fail ("Unrecognised field"), so QueryFor leaves those out.
var lvsFields = []struct {
	name  string
	since Version
}{
	{"lv_name", Version{}},
	{"vg_name", Version{}},
	{"lv_attr", Version{}},
	{"lv_size", Version{}},
	{"origin", Version{}},
	{"pool_lv", Version{2, 2, 89}},
	{"snap_percent", Version{}},
	{"data_percent", Version{2, 2, 89}},
	{"metadata_percent", Version{2, 2, 89}},
	{"lv_metadata_size", Version{2, 2, 89}},
	{"lv_snapshot_invalid", Version{2, 2, 108}},
	{"lv_path", Version{2, 2, 68}},
	{"lv_dm_path", Version{2, 2, 108}},
	{"vg_extent_size", Version{}},
	{"vg_free", Version{}},
}

// LVSFields is the -o list of LVSArgs: every field LV holds. The vg_*
// fields are the LV's volume group's; lvs reports them on every row.
const LVSFields = "lv_name,vg_name,lv_attr,lv_size,origin,pool_lv,snap_percent,data_percent,metadata_percent,lv_metadata_size,lv_snapshot_invalid,lv_path,lv_dm_path,vg_extent_size,vg_free"

// Query is one way of asking lvs: JSON or `|`-separated text, and the
// fields, as suits the lvm2 on the node.
type Query struct {
	JSON   bool
	Fields []string
}

// QueryFor returns the query for lvm2 release v: JSON with LVSFields
// from 2.02.158 on; before that the text form with the fields v knows.
func QueryFor(v Version) Query {
	q := Query{JSON: v.JSON()}
	for _, f := range lvsFields {
		if !v.Less(f.since) {
			q.Fields = append(q.Fields, f.name)
		}
	}
	return q
}

// Args is the lvs command line: all the LVs of vg, or the one LV vg/lv
// when lv is given. CheckSnapshot wants the whole VG (the snapshot with
// its origin or pool). With lv given, a missing LV is an error:
// "Failed to find logical volume" (lvm2 2.02.112 and later), "One or
// more specified logical volume(s) not found." before (exit 5). On a
// non-zero exit, parse stdout first — lvm2 2.03.26 and later put the
// messages into the JSON, which Parse returns as a *CommandError — and
// otherwise read stderr with ParseCommandError.
//
// JSON: lvs --reportformat json --units b --nosuffix -o FIELDS VG[/LV]
// Text: lvs --noheadings --separator | --units b --nosuffix -o FIELDS VG[/LV]
func (q Query) Args(vg, lv string) ([]string, error) {
	if err := checkFields(q.Fields); err != nil {
		return nil, err
	}
	if err := checkName("volume group", vg); err != nil {
		return nil, err
	}
	target := vg
	if lv != "" {
		if err := checkName("logical volume", lv); err != nil {
			return nil, err
		}
		target += "/" + lv
	}
	argv := []string{"lvs"}
	if q.JSON {
		argv = append(argv, "--reportformat", "json")
	} else {
		argv = append(argv, "--noheadings", "--separator", "|")
	}
	return append(argv, "--units", "b", "--nosuffix", "-o", strings.Join(q.Fields, ","), target), nil
}

// Parse reads what Args's command printed on stdout.
func (q Query) Parse(stdout io.Reader) ([]LV, error) {
	if q.JSON {
		return parseJSON(stdout)
	}
	return ParseText(stdout, q.Fields)
}

// LVSArgs is the lvs command line for lvm2 2.02.158 and later: JSON,
// with LVSFields. See Query.Args.
func LVSArgs(vg, lv string) ([]string, error) {
	return Query{JSON: true, Fields: strings.Split(LVSFields, ",")}.Args(vg, lv)
}

// ParseReport reads lvs output: the JSON of --reportformat json (or
// json_std) with LVSFields or any subset of them, or the text form
// (--noheadings --separator '|' --units b --nosuffix) in LVSFields order.
// For the text form with fewer fields (an older lvm2), use ParseText or
// Query.Parse.
//
// lvm2 2.03.26 and later put the command's error messages into the JSON
// ("log"); those come back as a *CommandError, together with the LVs
// that were reported.
func ParseReport(r io.Reader) ([]LV, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "{") {
		return parseJSON(strings.NewReader(t))
	}
	return ParseText(strings.NewReader(string(b)), strings.Split(LVSFields, ","))
}
