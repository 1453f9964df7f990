package main

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/chefha/chefha/drbd"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/upgrade"
)

func TestDRBDLine(t *testing.T) {
	t.Parallel()
	res := func(cs drbd.ConnState, ro, peerRo drbd.Role, ds, peerDs drbd.DiskState) drbd.Resource {
		return drbd.Resource{CState: cs, Role: ro, PeerRole: peerRo, Disk: ds, PeerDisk: peerDs}
	}
	syncing := res(drbd.SyncTarget, drbd.Secondary, drbd.Primary, drbd.Inconsistent, drbd.UpToDate)
	syncing.Sync = &drbd.Progress{Percent: 42.3, LeftKiB: 11818, TotalKiB: 20480, Finish: 70 * time.Second}
	stalled := syncing
	stalled.Sync = &drbd.Progress{Percent: 42.3, Stalled: true}
	verify := res(drbd.VerifyS, drbd.Primary, drbd.Secondary, drbd.UpToDate, drbd.UpToDate)
	verify.Sync = &drbd.Progress{Verify: true, Percent: 7, Finish: 2*time.Hour + 3*time.Second}
	unreachable := errors.New("be2.chefha.test unreadable: not reached")
	for _, tt := range []struct {
		name string
		b    upgrade.WatchBackend
		want string
	}{
		{"connected, in sync", upgrade.WatchBackend{DRBD: res(drbd.Connected, drbd.Primary, drbd.Secondary, drbd.UpToDate, drbd.UpToDate)},
			"Connected Primary/Secondary UpToDate/UpToDate"},
		{"resync with its progress", upgrade.WatchBackend{DRBD: syncing},
			"SyncTarget Secondary/Primary Inconsistent/UpToDate, resync 42.3% done, 0:01:10 left"},
		{"resync stalled", upgrade.WatchBackend{DRBD: stalled},
			"SyncTarget Secondary/Primary Inconsistent/UpToDate, resync 42.3% done, stalled"},
		{"online verify", upgrade.WatchBackend{DRBD: verify},
			"VerifyS Primary/Secondary UpToDate/UpToDate, verify 7.0% done, 2:00:03 left"},
		{"StandAlone: split brain", upgrade.WatchBackend{DRBD: res(drbd.StandAlone, drbd.Primary, drbd.Unknown, drbd.UpToDate, drbd.DUnknown)},
			"StandAlone Primary/Unknown UpToDate/DUnknown: not replicating (split brain, or disconnected by hand)"},
		{"waiting for the peer", upgrade.WatchBackend{DRBD: res(drbd.WFConnection, drbd.Secondary, drbd.Unknown, drbd.UpToDate, drbd.DUnknown)},
			"WFConnection Secondary/Unknown UpToDate/DUnknown: not replicating"},
		{"resource down", upgrade.WatchBackend{DRBD: drbd.Resource{CState: drbd.Unconfigured}},
			"Unconfigured: the resource is down (drbdadm up pc0)"},
		{"unreadable", upgrade.WatchBackend{DRBDErr: errors.New("cannot read DRBD: /proc/drbd: \x1b[2J")},
			`unreadable: cannot read DRBD: /proc/drbd: \x1b[2J`},
		{"the node unreadable", upgrade.WatchBackend{NodeSnapshot: keepalived.NodeSnapshot{NodeState: keepalived.NodeState{Err: unreachable}}, DRBDErr: unreachable},
			"unknown: the node could not be read"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, drbdLine(tt.b))
		})
	}
}

func TestStepLines(t *testing.T) {
	t.Parallel()
	at := time.Date(2014, 6, 10, 12, 3, 10, 0, time.UTC)
	step := func(id string) upgrade.Step { return upgrade.Step{ID: id} }
	running := upgrade.WatchStep{Journal: "j.json", Total: 14, Next: step("hop1/upgrade-bootstrap"), NextIndex: 7,
		Last: step("hop1/reconfigure-bootstrap"), LastIndex: 6, LastRecord: upgrade.StepRecord{Finished: at, Took: 123 * time.Second},
		Owner: &upgrade.LockOwner{PID: 4242, Host: "ops1"}, OwnerAlive: true, Running: true, Since: at}
	stopped := running
	stopped.Owner, stopped.OwnerAlive, stopped.Running = nil, false, false
	stale := stopped
	stale.Owner = running.Owner
	other := stale
	other.OwnerAlive = true
	unknownAge := stale
	unknownAge.LockProblem = "the age of the lock is not known"
	found := stopped
	found.LastRecord.Found = true
	first := upgrade.WatchStep{Total: 14, Next: step("hop1/backup"), NextIndex: 1}
	finished := upgrade.WatchStep{Total: 14, Last: step("hop1/verify"), LastIndex: 14, LastRecord: upgrade.StepRecord{Finished: at, Took: time.Second}}
	for _, tt := range []struct {
		name string
		st   upgrade.WatchStep
		want []string
	}{
		{"running", running, []string{"step 7/14 hop1/upgrade-bootstrap running since 12:03:10 (pid 4242 on ops1)",
			"last done: step 6/14 hop1/reconfigure-bootstrap at 12:03:10 (took 2m3s)"}},
		{"stopped", stopped, []string{"stopped before step 7/14 hop1/upgrade-bootstrap",
			"last done: step 6/14 hop1/reconfigure-bootstrap at 12:03:10 (took 2m3s)"}},
		{"a stale lock", stale, []string{"stopped before step 7/14 hop1/upgrade-bootstrap; a stale lock of pid 4242 on ops1 is left",
			"last done: step 6/14 hop1/reconfigure-bootstrap at 12:03:10 (took 2m3s)"}},
		{"another plan's run", other, []string{"stopped before step 7/14 hop1/upgrade-bootstrap; the lock is held by pid 4242 on ops1, a run of another plan",
			"last done: step 6/14 hop1/reconfigure-bootstrap at 12:03:10 (took 2m3s)"}},
		{"a lock of unknown age", unknownAge, []string{"stopped before step 7/14 hop1/upgrade-bootstrap; the lock of pid 4242 on ops1 is there, alive or not; lock: the age of the lock is not known",
			"last done: step 6/14 hop1/reconfigure-bootstrap at 12:03:10 (took 2m3s)"}},
		{"found done", found, []string{"stopped before step 7/14 hop1/upgrade-bootstrap",
			"last found done: step 6/14 hop1/reconfigure-bootstrap at 12:03:10 (took 2m3s)"}},
		{"nothing done", first, []string{"stopped before step 1/14 hop1/backup", "last done: none yet"}},
		{"finished", finished, []string{"finished: every step done", "last done: step 14/14 hop1/verify at 12:03:10 (took 1s)"}},
		{"no run yet", upgrade.WatchStep{Journal: "j.json", Err: upgrade.ErrNoJournal}, []string{"no run recorded yet in j.json"}},
		{"unreadable", upgrade.WatchStep{Journal: "j.json", Err: errors.New("j.json: journal: unexpected EOF")},
			[]string{"journal j.json unreadable: j.json: journal: unexpected EOF"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, stepLines(&tt.st, time.UTC))
		})
	}
}
