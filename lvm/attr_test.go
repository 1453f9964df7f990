package lvm

import "testing"

func TestParseAttr(t *testing.T) {
	type flags struct{ snap, origin, thin, pool, invalid, merging, active, open, skip bool }
	tests := []struct {
		attr, why string
		want      flags
	}{
		// lib/metadata/lv.c (HEAD) and lvs(8).
		{"owi-aos---", "origin of a snapshot, mounted", flags{origin: true, active: true, open: true}},
		{"swi-a-s---", "classic snapshot, active", flags{snap: true, active: true}},
		{"swi-I-s---", "overfilled snapshot (lvm2 test/shell/snapshot-raid.sh)", flags{snap: true, invalid: true, active: true}},
		{"swi-S-s---", "invalid snapshot, suspended", flags{snap: true, invalid: true, active: true}},
		{"Swi-a-s---", "merging snapshot (test/shell/snapshot-merge-stack.sh)", flags{snap: true, merging: true, active: true}},
		{"Owi-a-s---", "origin with a merging snapshot", flags{origin: true, merging: true, active: true}},
		{"swi-m-s---", "snapshot merge failed", flags{snap: true, active: true}},
		{"swi---s---", "inactive snapshot", flags{snap: true}},
		{"twi-aotz--", "thin pool (lvmthin(7))", flags{thin: true, pool: true, active: true, open: true}},
		{"Vwi---tz-k", "thin snapshot as created: inactive, skip activation", flags{thin: true, skip: true}},
		{"Vwi-a-tz--", "thin volume", flags{thin: true, active: true}},
		{"Swi---tz-k", "merging thin snapshot (lvmthin(7))", flags{snap: true, thin: true, merging: true, skip: true}},
		{"-wi-ao----", "plain linear LV, mounted", flags{active: true, open: true}},
		{"-wi-XX--X-", "state unknown", flags{}},
		// lvm2 2.02.98: 9 characters; 2.02.89–2.02.97: 8.
		{"swi-a-s--", "2.02.98 snapshot", flags{snap: true, active: true}},
		{"owi-aos-", "2.02.89 origin", flags{origin: true, active: true, open: true}},
		// Up to 2.02.88: 6 characters; 2.02.58–2.02.96 upper-case an
		// invalid snapshot's type as well (lib/report/report.c _lvstatus_disp).
		{"Swi-I-", "2.02.87 invalid snapshot", flags{snap: true, invalid: true, active: true}},
		{"owi-ao", "2.02.66 origin", flags{origin: true, active: true, open: true}},
	}
	for _, tt := range tests {
		a, err := ParseAttr(tt.attr)
		if err != nil {
			t.Errorf("%s: %v", tt.attr, err)
			continue
		}
		got := flags{a.IsSnapshot(), a.IsOrigin(), a.IsThin(), a.IsThinPool(), a.Invalid(), a.Merging(), a.Active(), a.DeviceOpen(), a.SkipActivation()}
		if got != tt.want {
			t.Errorf("%s (%s):\n got %+v\nwant %+v", tt.attr, tt.why, got, tt.want)
		}
		if a.String() != tt.attr {
			t.Errorf("String() = %q, want %q", a.String(), tt.attr)
		}
	}
	for _, bad := range []string{"", "swi", "swi-a-s", "swi-a-s----", "swi-a-s-- ", "swi-a-s-1-", "swi-a-s-é"} {
		if a, err := ParseAttr(bad); err == nil {
			t.Errorf("%q accepted as %+v", bad, a)
		}
	}
	if (Attr{}).String() != "" {
		t.Error("zero Attr renders")
	}
}

func TestAttrHealth(t *testing.T) {
	tests := []struct {
		attr                               string
		partial, failed, noData, metaRO, m bool
	}{
		{"twi-aotzF-", false, true, false, false, false},
		{"twi-aotzD-", false, false, true, false, false},
		{"twi-aotzM-", false, false, false, true, false},
		{"Vwi-aotzF-", false, true, false, false, false},
		{"-wi-ao--p-", true, false, false, false, false},
		{"swi-M-s---", false, false, false, false, true},
	}
	for _, tt := range tests {
		a := mustAttr(t, tt.attr)
		if a.Partial() != tt.partial || a.PoolFailed() != tt.failed || a.OutOfDataSpace() != tt.noData ||
			a.MetadataReadOnly() != tt.metaRO || a.MergeFailed() != tt.m {
			t.Errorf("%s: partial %v failed %v noData %v metaRO %v mergeFailed %v", tt.attr,
				a.Partial(), a.PoolFailed(), a.OutOfDataSpace(), a.MetadataReadOnly(), a.MergeFailed())
		}
	}
	if !mustAttr(t, "swi-M-s---").Suspended() || mustAttr(t, "swi-a-s---").Suspended() {
		t.Error("Suspended")
	}
}
