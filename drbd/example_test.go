package drbd_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/chefha/chefha/drbd"
)

// readyToFailOver is what an upgrade tool asks before it lets keepalived
// move the master to the backup: is the backup's copy of pc0
// (/dev/drbd0) complete and current?
func readyToFailOver(masterProc, backupProc string) error {
	master, err := drbd.ParseProc(strings.NewReader(masterProc))
	if err != nil {
		return fmt.Errorf("be1: %w", err)
	}
	backup, err := drbd.ParseProc(strings.NewReader(backupProc))
	if err != nil {
		return fmt.Errorf("be2: %w", err)
	}
	m, ok1 := master.Minor(0)
	b, ok2 := backup.Minor(0)
	switch {
	case !ok1 || !ok2 || !m.Configured() || !b.Configured():
		return errors.New("pc0 (/dev/drbd0) is not up on both back ends")
	case m.Role == drbd.Primary && b.Role == drbd.Primary:
		return fmt.Errorf("split brain: both back ends are Primary (be1 %s, be2 %s)", m.CState, b.CState)
	case b.Sync != nil && !b.Sync.Verify:
		return fmt.Errorf("be2 is %s: %.1f%% synced, %d of %d MiB to go, about %v",
			b.CState, b.Sync.Percent, b.Sync.LeftKiB/1024, b.Sync.TotalKiB/1024, b.Sync.Finish)
	case b.Disk != drbd.UpToDate:
		return fmt.Errorf("be2's data is %s", b.Disk)
	case !m.Healthy(drbd.Primary) || !b.Healthy(drbd.Secondary):
		return fmt.Errorf("pair not healthy: be1 %v, be2 %v", m, b)
	}
	return nil
}

// An upgrade tool reads /proc/drbd on both back ends and refuses to fail
// over onto data that is not up to date.
func Example() {
	proc := func(minor0 string, progress ...string) string {
		return "version: 8.4.3 (api:1/proto:86-101)\n" +
			"GIT-hash: 89a294209144b68adb3ee85a73221f964d3ee515 build by root@be1, 2013-06-12 10:21:07\n" +
			" 0: " + minor0 + "\n" +
			"    ns:0 nr:2202648 dw:2202648 dr:0 al:0 bm:134 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n" +
			strings.Join(progress, "")
	}
	pairs := [][2]string{{ // healthy
		proc("cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----"),
		proc("cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate C r-----"),
	}, { // the backup was replaced and is still receiving its copy
		proc("cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----",
			"\t[=>..................] sync'ed: 10.4% (18360/20480)M\n",
			"\tfinish: 0:25:23 speed: 12,345 (11,000) K/sec\n"),
		proc("cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r-----",
			"\t[=>..................] sync'ed: 10.4% (18360/20480)M\n",
			"\tfinish: 0:25:23 speed: 12,345 (11,000) want: 40,960 K/sec\n"),
	}, { // the link is down and the master kept writing
		proc("cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown C r-----"),
		proc("cs:WFConnection ro:Secondary/Unknown ds:Outdated/DUnknown C r-----"),
	}, { // both promoted themselves while apart
		proc("cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown   r-----"),
		proc("cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown   r-----"),
	}}
	for _, p := range pairs {
		if err := readyToFailOver(p[0], p[1]); err != nil {
			fmt.Println("do not fail over:", err)
			continue
		}
		fmt.Println("ok to fail over")
	}
	// Output:
	// ok to fail over
	// do not fail over: be2 is SyncTarget: 10.4% synced, 18360 of 20480 MiB to go, about 25m23s
	// do not fail over: be2's data is Outdated
	// do not fail over: split brain: both back ends are Primary (be1 StandAlone, be2 StandAlone)
}

// drbdadm's one-line answers parse to the same types; its complaints are
// typed errors.
func ExampleParseRole() {
	local, peer, err := drbd.ParseRole([]byte("Primary/Secondary\n"))
	fmt.Println(local, peer, err)

	_, _, err = drbd.ParseRole([]byte("0: Failure: (127) Device minor not allocated\n" +
		"Command 'drbdsetup role 0' terminated with exit code 10\n"))
	var ae *drbd.AdmError
	if errors.As(err, &ae) && ae.Kind == drbd.MinorNotAllocated {
		fmt.Println("pc0 is down:", ae.Line)
	}
	// Output:
	// Primary Secondary <nil>
	// pc0 is down: 0: Failure: (127) Device minor not allocated
}
