package drbd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixture returns a testdata file without its first "# source" line.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	if bytes.HasPrefix(b, []byte("# ")) {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return b
}

func parseFixture(t testing.TB, name string) Status {
	t.Helper()
	st, err := ParseProc(bytes.NewReader(fixture(t, name)))
	require.NoError(t, err, name)
	return st
}

func TestParseProcFixtures(t *testing.T) {
	type want struct {
		version  string
		api      int
		proto    [2]int
		build    string // prefix
		minors   []int
		summary  string // minor 0 (or the first)
		protocol byte
		flags    string
		connected, upToDate, syncing, standAlone, bothPrimary,
		healthyPrimary, healthySecondary bool
		oos    uint64
		hasOOS bool
	}
	tests := map[string]want{
		"proc-8.4.3-master.txt": {version: "8.4.3", api: 1, proto: [2]int{86, 101}, build: "GIT-hash: 89a2942", minors: []int{0},
			summary: "cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate", protocol: 'C', flags: "r-----",
			connected: true, upToDate: true, healthyPrimary: true, hasOOS: true},
		"proc-8.4.3-backup.txt": {version: "8.4.3", api: 1, proto: [2]int{86, 101}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate", protocol: 'C', flags: "r-----",
			connected: true, upToDate: true, healthySecondary: true, hasOOS: true},
		"proc-8.4-users-guide.txt": {version: "8.4.0", api: 1, proto: [2]int{86, 100}, build: "GIT-hash:", minors: []int{0, 1, 2},
			summary: "cs:Connected ro:Secondary/Secondary ds:UpToDate/UpToDate", protocol: 'C', flags: "r-----",
			connected: true, upToDate: true, hasOOS: true},
		"proc-8.4-users-guide-initial.txt": {version: "8.4.1", api: 1, proto: [2]int{86, 100}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:Connected ro:Secondary/Secondary ds:Inconsistent/Inconsistent", protocol: 'C', flags: "r-----",
			connected: true, oos: 524236, hasOOS: true},
		"proc-8.3.12-users-guide.txt": {version: "8.3.12", api: 88, proto: [2]int{86, 96}, build: "GIT-hash: e2a8ef4", minors: []int{0},
			summary: "cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate", protocol: 'C', flags: "r-----",
			connected: true, upToDate: true, healthySecondary: true, hasOOS: true},
		"proc-8.3.13-dual-primary.txt": {version: "8.3.13", api: 88, proto: [2]int{86, 96}, build: "GIT-hash:", minors: []int{0, 1},
			summary: "cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate", protocol: 'C', flags: "r-----",
			connected: true, upToDate: true, bothPrimary: true, hasOOS: true},
		"proc-8.3.11-wfconnection.txt": {version: "8.3.11", api: 88, proto: [2]int{86, 96}, build: "srcversion: F937DCB2E5D83C6CCE4A6C9", minors: []int{0, 1},
			summary: "cs:WFConnection ro:Primary/Unknown ds:UpToDate/Outdated", protocol: 'C', flags: "r-----", hasOOS: true},
		"proc-8.2.4-users-guide.txt": {version: "8.2.4", api: 88, proto: [2]int{86, 88}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:Connected ro:Secondary/Secondary ds:UpToDate/UpToDate", protocol: 'C', flags: "r---",
			connected: true, upToDate: true},
		"proc-8.0.13-syncsource.txt": {version: "8.0.13", api: 86, proto: [2]int{86, 86}, build: "GIT-hash: ee3ad77", minors: []int{0},
			summary: "cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent", protocol: 'C', flags: "r---",
			connected: true, syncing: true},
		"proc-8.0.13-standalone-zimbra1.txt": {version: "8.0.13", api: 86, proto: [2]int{86, 86}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown", flags: "r---", standAlone: true},
		"proc-8.0.13-standalone-zimbra2.txt": {version: "8.0.13", api: 86, proto: [2]int{86, 86}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:StandAlone ro:Secondary/Unknown ds:UpToDate/DUnknown", flags: "r---", standAlone: true},
		"proc-8.4.3-syncsource.txt": {version: "8.4.3", api: 1, proto: [2]int{86, 101}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent", protocol: 'C', flags: "r-----",
			connected: true, syncing: true, oos: 18801236, hasOOS: true},
		"proc-8.4.3-synctarget.txt": {version: "8.4.3", api: 1, proto: [2]int{86, 101}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate", protocol: 'C', flags: "r-----",
			connected: true, syncing: true, oos: 18801236, hasOOS: true},
		"proc-8.4.3-details.txt": {version: "8.4.3", api: 1, proto: [2]int{86, 101}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate", protocol: 'C', flags: "r-----",
			connected: true, syncing: true, oos: 18801236, hasOOS: true},
		"proc-8.3.11-kernel-sync.txt": {version: "8.3.11", api: 88, proto: [2]int{86, 96}, build: "srcversion: 71955441799F513ACA6DA60", minors: []int{0, 1},
			summary: "cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent", protocol: 'C', flags: "r-----",
			connected: true, syncing: true, oos: 34325204, hasOOS: true},
		"proc-8.4.3-split-brain-be1.txt": {version: "8.4.3", api: 1, proto: [2]int{86, 101}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown", flags: "r-----", standAlone: true, oos: 4096, hasOOS: true},
		"proc-8.4.3-split-brain-be2.txt": {version: "8.4.3", api: 1, proto: [2]int{86, 101}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown", flags: "r-----", standAlone: true, oos: 8224, hasOOS: true},
		"proc-8.4.3-wfconnection-primary.txt": {version: "8.4.3", api: 1, proto: [2]int{86, 101}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown", protocol: 'C', flags: "r-----", oos: 1536, hasOOS: true},
		"proc-8.4.3-outdated-secondary.txt": {version: "8.4.3", api: 1, proto: [2]int{86, 101}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:WFConnection ro:Secondary/Unknown ds:Outdated/DUnknown", protocol: 'C', flags: "r-----", hasOOS: true},
		"proc-8.4.3-diskless.txt": {version: "8.4.3", api: 1, proto: [2]int{86, 101}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:Connected ro:Primary/Secondary ds:Diskless/UpToDate", protocol: 'C', flags: "r-----", connected: true, hasOOS: true},
		"proc-8.3.12-unconfigured.txt": {version: "8.3.12", api: 88, proto: [2]int{86, 96}, build: "GIT-hash:", minors: []int{0, 1, 5},
			summary: "cs:Unconfigured"},
		"proc-8.4.3-verify.txt": {version: "8.4.3", api: 1, proto: [2]int{86, 101}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:VerifyS ro:Primary/Secondary ds:UpToDate/UpToDate", protocol: 'C', flags: "r-----",
			connected: true, upToDate: true, hasOOS: true},
		"proc-8.3.4-verify-old.txt": {version: "8.3.4", api: 88, proto: [2]int{86, 91}, build: "GIT-hash:", minors: []int{0},
			summary: "cs:VerifyT ro:Secondary/Primary ds:UpToDate/UpToDate", protocol: 'C', flags: "r----",
			connected: true, upToDate: true, hasOOS: true},
	}
	entries, err := os.ReadDir("testdata")
	require.NoError(t, err)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "proc-") {
			assert.Contains(t, tests, e.Name(), "fixture without a test case")
		}
	}
	for name, w := range tests {
		t.Run(name, func(t *testing.T) {
			st := parseFixture(t, name)
			assert.Equal(t, w.version, st.Version)
			assert.Equal(t, w.api, st.API)
			assert.Equal(t, w.proto, [2]int{st.ProtoMin, st.ProtoMax})
			assert.True(t, strings.HasPrefix(st.Build, w.build), "build %q", st.Build)
			var minors []int
			for _, r := range st.Resources {
				minors = append(minors, r.Minor)
			}
			assert.Equal(t, w.minors, minors)
			r := st.Resources[0]
			assert.Equal(t, w.summary, r.String())
			assert.Equal(t, w.protocol, r.Protocol)
			assert.Equal(t, w.flags, r.Flags)
			assert.Equal(t, w.connected, r.Connected(), "Connected")
			assert.Equal(t, w.upToDate, r.UpToDate(), "UpToDate")
			assert.Equal(t, w.syncing, r.Syncing(), "Syncing")
			assert.Equal(t, w.standAlone, r.StandAlone(), "StandAlone")
			assert.Equal(t, w.bothPrimary, r.BothPrimary(), "BothPrimary")
			assert.Equal(t, w.healthyPrimary, r.Healthy(Primary), "Healthy(Primary)")
			assert.Equal(t, w.healthySecondary, r.Healthy(Secondary), "Healthy(Secondary)")
			assert.Equal(t, w.oos, r.Counters.OutOfSyncKiB)
			assert.Equal(t, w.hasOOS, r.Counters.HasOutOfSync)
			assert.Equal(t, r.CState.showsProgress(), r.Sync != nil, "progress iff SyncSource/Target or Verify")
			assert.False(t, r.Suspended())
		})
	}
}

func TestParseProcDetails(t *testing.T) {
	st := parseFixture(t, "proc-8.4.3-master.txt")
	r, ok := st.Minor(0)
	require.True(t, ok)
	assert.Equal(t, "/dev/drbd0", r.Device())
	assert.Equal(t, Counters{NetSend: 10873412, DiskWrite: 10873388, DiskRead: 2299745, ActivityLog: 1524, Bitmap: 312,
		Epochs: 1, WriteOrder: 'f', HasOutOfSync: true}, r.Counters)
	_, ok = st.Minor(1)
	assert.False(t, ok)

	// 8.0: ten counters, no ep/wo/oos; the resync in MiB.
	r = parseFixture(t, "proc-8.0.13-syncsource.txt").Resources[0]
	assert.Equal(t, Counters{NetSend: 1470888, DiskWrite: 1506701312, DiskRead: 1248337611, ActivityLog: 3148857,
		Bitmap: 3148835, LocalPending: 248, Pending: 8, Unacked: 253}, r.Counters)
	assert.Equal(t, &Progress{Percent: 0.2, LeftKiB: 1300156 * 1024, TotalKiB: 1301592 * 1024,
		Finish: 3*time.Hour + 11*time.Minute + 56*time.Second, Speed: 115524, AvgSpeed: 105032}, r.Sync)

	src := parseFixture(t, "proc-8.4.3-syncsource.txt").Resources[0]
	tgt := parseFixture(t, "proc-8.4.3-synctarget.txt").Resources[0]
	assert.Equal(t, &Progress{Percent: 10.4, LeftKiB: 18360 * 1024, TotalKiB: 20480 * 1024,
		Finish: 25*time.Minute + 23*time.Second, Speed: 12345, AvgSpeed: 11000}, src.Sync)
	assert.Equal(t, uint64(40960), tgt.Sync.Want)
	assert.Equal(t, uint64(2120*1024), tgt.Sync.DoneKiB())
	// oos is exact KiB; the MiB figure is rounded down.
	assert.Equal(t, tgt.Counters.OutOfSyncKiB/4096*4096, tgt.Sync.LeftKiB)

	d := parseFixture(t, "proc-8.4.3-details.txt").Resources[0]
	assert.Equal(t, tgt.Sync, d.Sync, "proc_details=1 adds a recent rate, a sector line and LRU stats; the rest is the same")

	k := parseFixture(t, "proc-8.3.11-kernel-sync.txt")
	assert.Equal(t, &Progress{Percent: 18.2, LeftKiB: 33520 * 1024, TotalKiB: 40960 * 1024,
		Finish: 13*time.Minute + 58*time.Second, Speed: 40960, AvgSpeed: 38554}, k.Resources[0].Sync)
	assert.Equal(t, &Progress{Percent: 50.2, LeftKiB: 513000, TotalKiB: 1024000,
		Finish: 12 * time.Second, Speed: 40960, AvgSpeed: 39800, Want: 40960}, k.Resources[1].Sync)

	v := parseFixture(t, "proc-8.4.3-verify.txt").Resources[0]
	assert.True(t, v.Sync.Verify)
	assert.True(t, v.CState.Verifying())
	assert.False(t, v.Syncing(), "verify is not a resync")
	assert.Equal(t, uint64(102400), v.Sync.Want)

	old := parseFixture(t, "proc-8.3.4-verify-old.txt").Resources[0]
	assert.Equal(t, &Progress{Verify: true, Percent: 42, LeftKiB: (5242880 - 2202009) * 4, TotalKiB: 5242880 * 4}, old.Sync)

	u := parseFixture(t, "proc-8.3.12-unconfigured.txt")
	assert.False(t, u.Resources[0].Configured())
	assert.Equal(t, Resource{Minor: 5, CState: Unconfigured}, u.Resources[2])
	assert.True(t, u.Resources[1].Configured())
	assert.False(t, u.Resources[0].Connected())
}

func TestStatusStringRoundTrip(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	require.NoError(t, err)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "proc-") {
			continue
		}
		st := parseFixture(t, e.Name())
		again, err := ParseProc(strings.NewReader(st.String()))
		require.NoError(t, err, "%s re-printed:\n%s", e.Name(), st.String())
		assert.Equal(t, st, again, e.Name())
	}
	// 8.4 fixtures re-print byte for byte, but for progress figures in KiB.
	got := parseFixture(t, "proc-8.4.3-synctarget.txt").String()
	assert.Equal(t, string(fixture(t, "proc-8.4.3-synctarget.txt")), strings.Replace(got, "(18800640/20971520)K", "(18360/20480)M", 1))
	assert.Equal(t, string(fixture(t, "proc-8.4.3-split-brain-be1.txt")), parseFixture(t, "proc-8.4.3-split-brain-be1.txt").String())
	assert.Equal(t, string(fixture(t, "proc-8.3.12-unconfigured.txt")), parseFixture(t, "proc-8.3.12-unconfigured.txt").String())
}

func TestParseProcErrors(t *testing.T) {
	head := "version: 8.4.3 (api:1/proto:86-101)\nGIT-hash: 89a294209144b68adb3ee85a73221f964d3ee515 build by root@be1, 2013-06-12 10:21:07\n"
	connected := " 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n"
	counters := "    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n"
	syncing := " 0: cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r-----\n" + counters
	bar := "\t[=>..................] sync'ed: 10.4% (18360/20480)M\n"
	finish := "\tfinish: 0:25:23 speed: 12,345 (11,000) want: 40,960 K/sec\n"
	tests := []struct {
		name, in, want string
		line           int // 0: no line number in the error
	}{
		{"empty", "", "empty", 0},
		{"only blanks", "\n\n  \n", "empty", 0},
		{"garbage", "hello world\n", "want \"version:", 1},
		{"binary", "\x00\x01\x02\xff\n", "want \"version:", 1},
		{"drbd 9", "version: 9.0.6-1 (api:2/proto:86-112)\nGIT-hash: 08cda190c4f544a0c4e15ba792bbf47c69707b42 build by buildsystem@linbit, 2016-12-23 13:29:04\nTransports (api:15): tcp (1.0.0)\n", "drbdsetup status", 1},
		{"drbd 0.7", "version: 0.7.25 (api:79/proto:74)\n", "predates 8.0", 1},
		{"bad version", "version: eight (api:1/proto:86-101)\n", "not a DRBD release", 1},
		{"bad api", "version: 8.4.3 (api:x/proto:86-101)\n" + counters, "api:N/proto", 1},
		{"proto backwards", "version: 8.4.3 (api:1/proto:101-86)\n", "api:N/proto", 1},
		{"huge api", "version: 8.4.3 (api:99999999999999999999/proto:86-101)\n", "api:N/proto", 1},
		{"cut after version", "version: 8.4.3 (api:1/proto:86-101)\n", "build line is missing", 0},
		{"no build line", "version: 8.4.3 (api:1/proto:86-101)\n" + connected + counters, "build line", 2},
		{"counters first", head + counters, "no minor before it", 3},
		{"cut after minor line", head + connected, "no counters line", 3},
		{"cut mid minor line", head + " 0: cs:Connected ro:Primary/Secon\n", "want \"ro:R/R", 3},
		{"unknown cstate", head + " 0: cs:Syncing ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n" + counters, `unknown connection state "Syncing"`, 3},
		{"unknown role", head + " 0: cs:Connected ro:Master/Secondary ds:UpToDate/UpToDate C r-----\n" + counters, "unknown role", 3},
		{"unknown disk", head + " 0: cs:Connected ro:Primary/Secondary ds:Fresh/UpToDate C r-----\n" + counters, "unknown disk state", 3},
		{"0.7 ld:", head + " 0: cs:Connected st:Primary/Secondary ld:Consistent\n" + counters, "want \"ro:R/R", 3},
		{"bad protocol", head + " 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate D r-----\n" + counters, "protocol", 3},
		{"bad flags", head + " 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C x-----\n" + counters, "I/O flags", 3},
		{"long flags", head + " 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r------\n" + counters, "I/O flags", 3},
		{"unconfigured with fields", head + " 0: cs:Unconfigured ro:Secondary/Unknown\n", "after cs:Unconfigured", 3},
		{"counters for unconfigured", head + " 0: cs:Unconfigured\n" + counters, "unconfigured", 4},
		{"minor twice", head + connected + counters + connected + counters, "ascending", 5},
		{"minor descending", head + " 3: cs:Unconfigured\n 1: cs:Unconfigured\n", "ascending", 4},
		{"huge minor", head + " 99999999999: cs:Unconfigured\n", "out of range", 3},
		{"two counters", head + connected + counters + counters, "second counters", 5},
		{"unknown counter", head + connected + "    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f xx:0\n", `want oos:`, 4},
		{"counter out of order", head + connected + "    nr:0 ns:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n", "want the counters line", 4},
		{"counters cut short", head + connected + "    ns:0 nr:0 dw:0 dr:0 al:0\n", "got 5 fields", 4},
		{"ep and wo without oos", head + connected + "    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f\n", "got 12 fields", 4},
		{"huge counter", head + connected + "    ns:99999999999999999999999 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n", "out of range", 4},
		{"negative unsigned counter", head + connected + "    ns:-1 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n", "invalid syntax", 4},
		{"bad write order", head + connected + "    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:x oos:0\n", "not b, f, d or n", 4},
		{"progress while connected", head + connected + counters + bar + finish, "only for SyncSource", 5},
		{"sync without progress", head + syncing, "progress lines are missing", 3},
		{"bar without finish", head + syncing + bar, "cut short", 3},
		{"finish without bar", head + syncing + finish, "without the progress bar", 5},
		{"two bars", head + syncing + bar + bar, "second progress bar", 6},
		{"verified while syncing", head + syncing + "\t[=>..................] verified: 10.4% (18360/20480)M\n" + finish, "verified:", 5},
		{"bad bar", head + syncing + "\t[=>..x...............] sync'ed: 10.4% (18360/20480)M\n" + finish, "progress bar", 5},
		{"percent over 100", head + syncing + "\t[===================>] sync'ed:100.1% (0/20480)M\n" + finish, "over 100", 5},
		{"percent no decimal", head + syncing + "\t[=>..................] sync'ed: 10% (18360/20480)M\n" + finish, "not N.N%", 5},
		{"bad unit", head + syncing + "\t[=>..................] sync'ed: 10.4% (18360/20480)G\n" + finish, "K or M", 5},
		{"no paren", head + syncing + "\t[=>..................] sync'ed: 10.4% 18360/20480)M\n" + finish, "K or M", 5},
		{"MiB overflow", head + syncing + "\t[=>..................] sync'ed: 10.4% (18014398509481984/18014398509481984)M\n" + finish, "out of range", 5},
		{"junk after figures", head + syncing + "\t[=>..................] sync'ed: 10.4% (18360/20480)M eta soon\n" + finish, "after the figures", 5},
		{"bad finish time", head + syncing + bar + "\tfinish: 0:61:22 speed: 12,345 (11,000) K/sec\n", "H:MM:SS", 6},
		{"negative minutes", head + syncing + bar + "\tfinish: 0:-1:22 speed: 12,345 (11,000) K/sec\n", "H:MM:SS", 6},
		{"bad grouping", head + syncing + bar + "\tfinish: 0:25:23 speed: 12,34 (11,000) K/sec\n", "not a number", 6},
		{"no K/sec", head + syncing + bar + "\tfinish: 0:25:23 speed: 12,345 (11,000)\n", "finish line", 6},
		{"junk after K/sec", head + syncing + bar + "\tfinish: 0:25:23 speed: 12,345 (11,000) K/sec soon\n", "unexpected", 6},
		{"unclosed average", head + syncing + bar + "\tfinish: 0:25:23 speed: 12,345 (11,000 K/sec\n", "unclosed", 6},
		{"sector before finish", head + syncing + bar + "\t 10% sector pos: 1/2\n", "before the finish", 6},
		{"bad sector line", head + syncing + bar + finish + "\t 10% sector pos: x/2\n", "sector position", 7},
		{"old verify while syncing", head + syncing + "\t 42%      2202009/5242880\n", "verify progress", 5},
		{"old verify done > total", head + " 0: cs:VerifyS ro:Primary/Secondary ds:UpToDate/UpToDate C r----\n" + counters + "\t 42%      9/5\n", "exceeds", 5},
		{"lru before counters", head + connected + "\tresync: used:0/61 hits:0\n", "before the counters", 4},
		{"bad lru", head + connected + counters + "\tresync: used:zero hits:0\n", "used:N/M", 5},
		{"lru dump", head + connected + counters + "\tnn: lc_number refcnt rs_left\n", "proc_details=2", 5},
		{"progress after lru", head + syncing + bar + finish + "\tresync: used:0/61 hits:0\n" + "\t 10% sector pos: 1/2\n", "after the LRU", 8},
		{"garbage after minor", head + connected + counters + "all is well\n", "only for SyncSource", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProc(strings.NewReader(tt.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			var pe *ParseError
			if tt.line == 0 {
				assert.False(t, errors.As(err, &pe), "%v", err)
				return
			}
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.line, pe.Line, "%v", err)
			assert.Contains(t, err.Error(), "/proc/drbd line")
		})
	}
}

// Edges DRBD prints that no fixture holds.
func TestParseProcVariants(t *testing.T) {
	head := "version: 8.3.8 (api:88/proto:86-94)\nGIT-hash: d78846e52224fd00562f7c225bcc25b2d422321d build by cssint@erzc20, 2010-06-17 14:47:26\n"
	counters := "    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:b oos:4\n"
	parse := func(t *testing.T, s string) Resource {
		t.Helper()
		st, err := ParseProc(strings.NewReader(s))
		require.NoError(t, err)
		return st.Resources[0]
	}
	// 8.3.8 (LINBIT/drbd "Preparing 8.3.8" d78846e52224): queue_delay after the
	// SyncTarget figures, want with old grouping; 5 flags.
	r := parse(t, head+" 0: cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r----\n"+counters+
		"\t[>....................] sync'ed:  0.1% (2047/2048)M queue_delay: 0.2 ms\n\tfinish: 1:23:45 speed: 1234,567 (999) want: 250 K/sec\n")
	assert.Equal(t, uint64(1234567), r.Sync.Speed)
	assert.Equal(t, uint64(250), r.Sync.Want)
	assert.Equal(t, 0.1, r.Sync.Percent)
	// ...and delay_probe on SyncSource.
	r = parse(t, head+" 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r----\n"+counters+
		"\t[>....................] sync'ed:  0.1% (2047/2048)M delay_probe: 1734\n\tfinish: 1:23:45 speed: 1,234 (999) K/sec\n")
	assert.Equal(t, uint64(1234), r.Sync.Speed)
	// Before 8.3.9 a stalled resync prints "stalled" for the finish line.
	r = parse(t, head+" 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r----\n"+counters+
		"\t[>....................] sync'ed:  0.1% (2047/2048)M\n\tstalled\n")
	assert.True(t, r.Sync.Stalled)
	// 8.3.9+: "(stalled)" after K/sec; 100.0% has no space after the colon.
	r = parse(t, head+" 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----\n"+counters+
		"\t[===================>] sync'ed:100.0% (0/2048)M\n\tfinish: 0:00:00 speed: 0 (1,000) K/sec (stalled)\n")
	assert.True(t, r.Sync.Stalled)
	assert.Equal(t, 100.0, r.Sync.Percent)
	// A finish estimate past time.Duration saturates instead of failing.
	r = parse(t, head+" 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----\n"+counters+
		"\t[>....................] sync'ed:  0.0% (4194304/4194304)M\n\tfinish: 11111111111:00:00 speed: 0 (0) K/sec (stalled)\n")
	assert.Equal(t, maxFinish, r.Sync.Finish)
	// Suspended I/O, congestion flag, protocol A, Ahead.
	r = parse(t, head+" 0: cs:Ahead ro:Primary/Secondary ds:UpToDate/Outdated A s---ns\n"+counters)
	assert.True(t, r.Suspended())
	assert.True(t, r.Connected())
	assert.Equal(t, byte('A'), r.Protocol)
	// Copied from a web page: whitespace collapsed, Windows line ends.
	r = parse(t, "version: 8.4.1 (api:1/proto:86-100)\r\nGIT-hash: 91b4c048c1a0e06777b5f65d312b38d47abaea80 build by buildsystem@linbit, 2011-12-20 12:58:48\r\n0: cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate C r-----\r\nns:0 nr:12 dw:12 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:b oos:0\r\n")
	assert.True(t, r.Healthy(Secondary))
	// 8.2.4 to 8.2.6 (LINBIT/drbd "Preparing 8.2.4" fc00c6e00a1b) print the
	// verify progress with an oos count in bits and spaced figures.
	r = parse(t, "version: 8.2.4 (api:88/proto:86-88)\nGIT-hash: fc00c6e00a1b6039bfcebe37afa3e7e28dbd92fa build by buildsystem@linbit, 2008-01-11 12:44:36\n"+
		" 0: cs:VerifyS st:Primary/Secondary ds:UpToDate/UpToDate C r---\n    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0\n"+
		"\t 42% oos:0  2202009 / 5242880 \n")
	assert.Equal(t, &Progress{Verify: true, Percent: 42, LeftKiB: (5242880 - 2202009) * 4, TotalKiB: 5242880 * 4}, r.Sync)
	// A module compiled into the kernel prints "built-in".
	_, err := ParseProc(strings.NewReader("version: 8.3.11 (api:88/proto:86-96)\nbuilt-in\n"))
	assert.NoError(t, err, "no minors is fine: the module is loaded, nothing configured")
}

func FuzzParseProc(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	require.NoError(f, err)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "proc-") {
			f.Add(fixture(f, e.Name()))
		}
	}
	// Shapes no fixture holds: 8.3.8's queue_delay, the old "stalled" line.
	f.Add([]byte("version: 8.3.8 (api:88/proto:86-94)\nGIT-hash: d78846e5\n 0: cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r----\n" +
		"    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:b oos:4\n" +
		"\t[>....................] sync'ed:  0.1% (2047/2048)M queue_delay: 0.2 ms\n\tfinish: 1:23:45 speed: 1234,567 (999) want: 250 K/sec\n"))
	f.Add([]byte("version: 8.3.0 (api:88/proto:86-89)\nbuilt-in\n 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r---\n" +
		"    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:b oos:4\n\t[>....................] sync'ed:  0.1% (2047/2048)M\n\tstalled\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		st, err := ParseProc(bytes.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range st.Resources {
			if !r.CState.Valid() || (r.Configured() && (!r.Role.Valid() || !r.PeerRole.Valid() || !r.Disk.Valid() || !r.PeerDisk.Valid())) {
				t.Fatalf("accepted an unknown state: %+v", r)
			}
			if (r.Sync != nil) != r.CState.showsProgress() {
				t.Fatalf("progress %v for %s", r.Sync, r.CState)
			}
			if r.Sync != nil && (r.Sync.Percent < 0 || r.Sync.Percent > 100 || r.Sync.Finish < 0) {
				t.Fatalf("bad progress %+v", *r.Sync)
			}
		}
		again, err := ParseProc(strings.NewReader(st.String()))
		if err != nil {
			t.Fatalf("re-printed status does not parse: %v\n%s", err, st.String())
		}
		assert.Equal(t, st, again)
	})
}

func BenchmarkParseProc(b *testing.B) {
	in := fixture(b, "proc-8.3.11-kernel-sync.txt")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseProc(bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}
