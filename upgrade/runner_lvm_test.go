package upgrade_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/peer"
	"github.com/chefha/chefha/lvm"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lvmEnv is an upgradeEnv whose back ends have the volume group vg.
func lvmEnv(t *testing.T, vg clustertest.LVM) *upgradeEnv {
	t.Helper()
	clock := clustertest.NewFakeClock(epoch)
	sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 1, Clock: clock.Now, Sleep: clock.Advance, LVM: &vg})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	clock.Advance(time.Minute)
	for _, n := range sim.Nodes {
		n.Settle()
	}
	cl, err := sim.Dial(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	dir := t.TempDir()
	return &upgradeEnv{sim: sim, cl: cl, clock: clock, packages: writePackages(t, dir), dir: dir,
		journal: upgrade.FileJournal{Path: filepath.Join(dir, "journal", "upgrade.json")}}
}

// snapshotFill reads the snapshot's fill on the bootstrap as the runner
// does, through lvs over SSH.
func snapshotFill(t *testing.T, e *upgradeEnv, vg, name string) float64 {
	t.Helper()
	n, _ := e.cl.Node(e.sim.Bootstrap().Name)
	args, err := lvm.LVSArgs(vg, "")
	require.NoError(t, err)
	res, err := n.Run(context.Background(), cluster.Cmd{Argv: append([]string{"env", "LC_ALL=C"}, args...), Sudo: true})
	require.NoError(t, err, "%s", res.Stderr)
	lvs, err := lvm.ParseReport(strings.NewReader(string(res.Stdout)))
	require.NoError(t, err)
	for _, lv := range lvs {
		if lv.Name == name {
			p, _ := lv.Full()
			return p
		}
	}
	t.Fatalf("no snapshot %s/%s in lvs", vg, name)
	return 0
}

// testSnapshotStopsAndResumes is the runbook's "tested backups available
// during the entire upgrade" with a snapshot that fills: the upgrade of
// the bootstrap rewrites much of its data (here: the node's own writes
// under /var/opt/opscode, then a burst as a long migration would make),
// the runner stops before the next step saying how full the snapshot is
// and the lvextend that makes room, and once that ran the run resumes
// from the journal to the end.
func testSnapshotStopsAndResumes(t *testing.T, e *upgradeEnv, vg string) {
	const snap = "chefha-pre-upgrade"
	backup := upgrade.WithBackup(upgrade.Backup{LVM: &upgrade.LVMSnapshot{VG: vg, LV: "drbd", Threshold: 80}})
	burst := false
	var events []upgrade.Event
	r := e.runner("11.1.8", nil, backup, upgrade.WithEvents(func(ev upgrade.Event) {
		events = append(events, ev)
		if ev.Kind != upgrade.EventStepDone || ev.Step != "hop1/upgrade-bootstrap" || burst {
			return
		}
		burst = true
		// The data changes until the snapshot is 90% full: past the
		// threshold, short of overflowing.
		for snapshotFill(t, e, vg, snap) < 90 {
			require.NoError(t, e.sim.Plant(clustertest.File(e.sim.Bootstrap().Name, "/var/opt/opscode/drbd/data/postgresql/base", "rewritten", 0o600)))
		}
	}))
	err := r.Run(context.Background())
	var se *upgrade.StepError
	require.ErrorAs(t, err, &se, "the run stops for the snapshot")
	assert.Equal(t, "hop1/copy-etc-opscode", se.Step, "before the step after the burst")
	var full *lvm.SnapshotError
	require.ErrorAs(t, err, &full)
	assert.Equal(t, lvm.SnapshotFull, full.Problem)
	assert.GreaterOrEqual(t, full.Percent, 90.0)
	assert.Less(t, full.Percent, 100.0)
	require.Len(t, full.Extend, 1)
	assert.Equal(t, []string{"lvextend", "-L"}, full.Extend[0][:2])
	assert.Equal(t, vg+"/"+snap, full.Extend[0][3])
	msg := err.Error()
	assert.Contains(t, msg, fmt.Sprintf("%.2f%%", full.Percent), "it says how full")
	assert.Contains(t, msg, strings.Join(full.Extend[0], " "), "and the lvextend to run")
	assert.Contains(t, msg, "then run again", "and that the run goes on from there")
	failed := events[len(events)-1]
	for _, ev := range events {
		if ev.Kind == upgrade.EventStepFailed {
			failed = ev
		}
	}
	assert.Equal(t, se.Step, failed.Step, "the failure is an event of the step it stopped before")
	rec, lerr := e.journal.Load(context.Background())
	require.NoError(t, lerr)
	_, done := rec.Steps[se.Step]
	assert.False(t, done, "the step it stopped before did not run")
	require.Len(t, rec.Backups, 1)
	assert.Equal(t, vg+"/"+snap, rec.Backups[0].Snapshot, "the journal names the snapshot")
	assert.Equal(t, "lvm", rec.Backups[0].Kind)

	// Run again before extending: it stops at the same place, for the same
	// reason, rather than taking the full snapshot for a lost one.
	var again []upgrade.Event
	err = e.runner("11.1.8", &again, backup).Run(context.Background())
	var se2 *upgrade.StepError
	require.ErrorAs(t, err, &se2, "still full: stops again")
	assert.Equal(t, se.Step, se2.Step)
	var full2 *lvm.SnapshotError
	require.ErrorAs(t, err, &full2)
	assert.Equal(t, lvm.SnapshotFull, full2.Problem)
	assert.True(t, slices.ContainsFunc(again, func(ev upgrade.Event) bool {
		return ev.Kind == upgrade.EventStepFailed && ev.Snapshot != nil && ev.Snapshot.Problem == "full"
	}), "the stop carries the snapshot's fill")

	boot, _ := e.cl.Node(e.sim.Bootstrap().Name)
	res, err := boot.Run(context.Background(), cluster.Cmd{Argv: full.Extend[0], Sudo: true})
	require.NoError(t, err, "%s%s", res.Stdout, res.Stderr)
	assert.Less(t, snapshotFill(t, e, vg, snap), 80.0)

	require.NoError(t, e.runner("11.1.8", nil, backup).Run(context.Background()), "resumed once extended")
	e.assertUpgraded(t, "11.1.8", "1.13")
	assert.Less(t, snapshotFill(t, e, vg, snap), 80.0, "still a usable backup at the end")
	for name, log := range e.logs() {
		assert.Equal(t, 1, strings.Count(log, "private-chef-ctl upgrade"), "%s upgraded once", name)
	}
}

// On the simulation's LVM: a 1 GiB volume holding 64 MiB of data gets a
// 100 MiB snapshot; each write rewrites 1 MiB of it.
func TestLVMSnapshotStopsTheRunAndExtendingResumesIt(t *testing.T) {
	t.Parallel()
	e := lvmEnv(t, clustertest.LVM{Size: 1 << 30, Used: 64 << 20, Free: 1 << 30, Churn: 1 << 20})
	testSnapshotStopsAndResumes(t, e, "opscode")
}

// The same against real LVM on a loop device, where the kernel has
// device-mapper: the simulated bootstrap's lvm2 commands run on this
// machine and its writes rewrite the real origin volume. The machines
// chefha is developed and tested on (2026: a kernel built without
// device-mapper) have never run it: there it is skipped as optional, and
// the simulation's LVM covers the same path.
func TestLVMSnapshotStopsTheRunOnRealLVM(t *testing.T) {
	if ok, why := kernelHasDeviceMapper(); !ok {
		// No package brings device-mapper into a kernel without it.
		peer.Optional(t, "this kernel has no device-mapper ("+why+"), so real LVM (Debian's lvm2) cannot run here; the simulation's LVM covers the same path")
	}
	peer.NeedRoot(t, "losetup, pvcreate and lvcreate on a loop device")
	for _, p := range []string{"lvm", "pvcreate", "vgcreate", "lvcreate", "lvs", "lvextend"} {
		peer.Need(t, p, "lvm2")
	}
	peer.Need(t, "losetup", "mount")
	vg, dev := loopVG(t, 512<<20, 256<<20)
	e := lvmEnv(t, clustertest.LVM{VG: vg, LV: "drbd", Size: 256 << 20, Used: 48 << 20, Churn: 1 << 20,
		Exec: func(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Env = append(os.Environ(), "LC_ALL=C", "LVM_SUPPRESS_FD_WARNINGS=1")
			cmd.Stdout, cmd.Stderr = stdout, stderr
			var ee *exec.ExitError
			if err := cmd.Run(); errors.As(err, &ee) {
				return ee.ExitCode()
			} else if err != nil {
				fmt.Fprintln(stderr, err)
				return 127
			}
			return 0
		},
		Write: originWriter(dev, 256<<20),
	})
	testSnapshotStopsAndResumes(t, e, vg)
}

// loopVG makes a volume group on a loop device of size bytes with an LV
// "drbd" of lv bytes, removed when the test ends; it returns the VG's name
// and the LV's device.
func loopVG(t *testing.T, size, lv int64) (string, string) {
	t.Helper()
	sh := func(argv ...string) string {
		t.Helper()
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		require.NoError(t, err, "%s: %s", strings.Join(argv, " "), out)
		return strings.TrimSpace(string(out))
	}
	img := filepath.Join(t.TempDir(), "pv.img")
	require.NoError(t, os.WriteFile(img, nil, 0o600))
	require.NoError(t, os.Truncate(img, size))
	loop := sh("losetup", "-f", "--show", img)
	t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
	b := make([]byte, 4)
	rand.Read(b)
	vg := "chefhatest" + hex.EncodeToString(b)
	sh("pvcreate", "-ff", "-y", loop)
	t.Cleanup(func() { exec.Command("pvremove", "-ff", "-y", loop).Run() })
	sh("vgcreate", vg, loop)
	t.Cleanup(func() { exec.Command("vgremove", "-f", vg).Run() })
	sh("lvcreate", "-y", "-L", fmt.Sprintf("%db", lv), "-n", "drbd", vg)
	return vg, "/dev/" + vg + "/drbd"
}

// originWriter rewrites the origin volume n bytes at a time, moving on
// through it, synced so that device-mapper copies the old chunks into the
// snapshot before the call returns.
func originWriter(dev string, size int64) func(n int64) error {
	var off int64
	return func(n int64) error {
		f, err := os.OpenFile(dev, os.O_WRONLY|os.O_SYNC, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		buf := make([]byte, n)
		rand.Read(buf)
		if off+n > size {
			off = 0
		}
		if _, err := f.WriteAt(buf, off); err != nil {
			return err
		}
		off += n
		return f.Sync()
	}
}

// kernelHasDeviceMapper asks the kernel, not the file system: a
// /dev/mapper/control node is left wherever lvm2 or dmsetup ran once, also
// on a kernel without device-mapper, whose misc devices (/proc/misc) then
// lack it.
func kernelHasDeviceMapper() (bool, string) {
	b, err := os.ReadFile("/proc/misc")
	if err != nil {
		return false, "no /proc/misc: " + err.Error()
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[1] == "device-mapper" {
			return true, ""
		}
	}
	return false, "/proc/misc names no device-mapper"
}

// A snapshot with the backup's name that this run did not make (an
// earlier run's) is refused before anything runs: counted as this run's,
// a rollback would restore stale data.
func TestAnEarlierSnapshotIsNotThisRunsBackup(t *testing.T) {
	t.Parallel()
	e := lvmEnv(t, clustertest.LVM{Size: 1 << 30, Used: 64 << 20, Free: 1 << 30, Churn: 1 << 20})
	be1 := e.sim.Bootstrap().Name
	n, _ := e.cl.Node(be1)
	_, err := n.Run(context.Background(), cluster.Cmd{Argv: []string{"lvcreate", "-s", "-L", "104857600b", "-n", "chefha-pre-upgrade", "opscode/drbd"}, Sudo: true})
	require.NoError(t, err)
	before := e.logs()
	backup := upgrade.WithBackup(upgrade.Backup{LVM: &upgrade.LVMSnapshot{VG: "opscode", LV: "drbd"}})
	err = e.runner("11.1.8", nil, backup).Run(context.Background())
	var fe *upgrade.ForeignBackupError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, be1, fe.Node)
	assert.Equal(t, "opscode/chefha-pre-upgrade", fe.Snapshot)
	assert.Contains(t, err.Error(), "lvremove opscode/chefha-pre-upgrade")
	assertOnlyTheLock(t, before, e.logs())
}

// assertOnlyTheLock checks that nothing but taking and giving back the
// run's lock changed the nodes between before and after.
func assertOnlyTheLock(t *testing.T, before, after map[string]string) {
	t.Helper()
	for node, log := range after {
		for _, line := range strings.Split(strings.TrimPrefix(log, before[node]), "\n") {
			if line != "" && !strings.Contains(line, "/var/opt/opscode/upgrades") {
				t.Errorf("%s: ran %q before the refusal", node, line)
			}
		}
	}
}

// The same for a backup command whose check already passes: it cannot
// tell this run's backup from an older one.
func TestABackupCheckThatPassesBeforehandIsRefused(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	be1 := e.sim.Bootstrap().Name
	n, _ := e.cl.Node(be1)
	_, err := n.Run(context.Background(), cluster.Cmd{Argv: []string{"mkdir", "/tmp/chefha-backup"}, Sudo: true})
	require.NoError(t, err)
	before := e.logs()
	err = e.runner("11.1.8", nil).Run(context.Background())
	var fe *upgrade.ForeignBackupError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, be1, fe.Node)
	assert.Empty(t, fe.Snapshot)
	assertOnlyTheLock(t, before, e.logs())
}

// losingJournal fails the first save that records a made snapshot, as a
// crash between lvcreate and the journal would.
type losingJournal struct {
	upgrade.Journal
	lost bool
}

func (j *losingJournal) Save(ctx context.Context, r upgrade.Record) error {
	for _, b := range r.Backups {
		if b.Kind == "lvm" && !b.Pending && !j.lost {
			j.lost = true
			return errors.New("crashed")
		}
	}
	return j.Journal.Save(ctx, r)
}

// A snapshot made after the journal recorded that it was about to be is
// this run's: the run that goes on after a crash in between keeps it.
func TestASnapshotMadeBeforeACrashIsKept(t *testing.T) {
	t.Parallel()
	e := lvmEnv(t, clustertest.LVM{Size: 1 << 30, Used: 64 << 20, Free: 1 << 30, Churn: 1 << 20})
	backup := upgrade.WithBackup(upgrade.Backup{LVM: &upgrade.LVMSnapshot{VG: "opscode", LV: "drbd"}})
	j := &losingJournal{Journal: e.journal}
	err := e.runner("11.1.8", nil, backup, upgrade.WithJournal(j)).Run(context.Background())
	require.ErrorContains(t, err, "crashed")
	require.True(t, j.lost)
	var events []upgrade.Event
	require.NoError(t, e.runner("11.1.8", &events, backup).Run(context.Background()))
	var kept bool
	for _, ev := range events {
		kept = kept || ev.Kind == upgrade.EventFinding && strings.Contains(ev.Message, "is there: it is kept")
	}
	assert.True(t, kept, "the snapshot made before the crash is the run's backup")
	e.assertUpgraded(t, "11.1.8", "1.13")
}

// The dry run says so too, before the operator applies anything.
func TestAnEarlierSnapshotStopsTheDryRun(t *testing.T) {
	t.Parallel()
	e := lvmEnv(t, clustertest.LVM{Size: 1 << 30, Used: 64 << 20, Free: 1 << 30, Churn: 1 << 20})
	n, _ := e.cl.Node(e.sim.Bootstrap().Name)
	_, err := n.Run(context.Background(), cluster.Cmd{Argv: []string{"lvcreate", "-s", "-L", "104857600b", "-n", "chefha-pre-upgrade", "opscode/drbd"}, Sudo: true})
	require.NoError(t, err)
	backup := upgrade.WithBackup(upgrade.Backup{LVM: &upgrade.LVMSnapshot{VG: "opscode", LV: "drbd"}})
	err = e.runner("11.1.8", nil, backup, upgrade.WithDryRun()).Run(context.Background())
	var fe *upgrade.ForeignBackupError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "opscode/chefha-pre-upgrade", fe.Snapshot)
}

// A snapshot that overflows in the middle of a step: the runner stops
// before the step's next command, names the backup lost and records the
// loss in the journal; a resumed run with the same backup stops again,
// and one with the backup waived goes on to the end, its journal keeping
// the loss beside the waiver.
func TestALostSnapshotStopsTheRunAndAWaiverGoesOn(t *testing.T) {
	t.Parallel()
	e := lvmEnv(t, clustertest.LVM{Size: 1 << 30, Used: 64 << 20, Free: 1 << 30, Churn: 1 << 20})
	backup := upgrade.WithBackup(upgrade.Backup{LVM: &upgrade.LVMSnapshot{VG: "opscode", LV: "drbd", Threshold: 80}})
	burst := false
	r := e.runner("11.1.8", nil, backup, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind != upgrade.EventActionDone || ev.Step != "hop1/reconfigure-bootstrap" || burst {
			return
		}
		burst = true
		for range 200 { // 200 MiB rewritten: past the 100 MiB snapshot
			require.NoError(t, e.sim.Plant(clustertest.File(e.sim.Bootstrap().Name, "/var/opt/opscode/drbd/data/postgresql/base", "rewritten", 0o600)))
		}
	}))
	err := r.Run(context.Background())
	require.True(t, burst)
	var lost *upgrade.BackupLostError
	require.ErrorAs(t, err, &lost)
	assert.Equal(t, "opscode/chefha-pre-upgrade", lost.Snapshot)
	assert.Equal(t, "hop1/reconfigure-bootstrap", lost.Step, "stopped inside the step, before its next command")
	assert.Contains(t, err.Error(), "nothing restores the cluster to before the upgrade through it")
	assert.Contains(t, err.Error(), "the backup on be1.chefha.test is lost", "it names the node")
	rec, lerr := e.journal.Load(context.Background())
	require.NoError(t, lerr)
	_, done := rec.Steps["hop1/reconfigure-bootstrap"]
	assert.False(t, done)
	require.Len(t, rec.Backups, 1)
	assert.Contains(t, rec.Backups[0].Lost, "invalid before hop1/reconfigure-bootstrap")

	err = e.runner("11.1.8", nil, backup).Run(context.Background())
	require.ErrorAs(t, err, &lost, "the same backup: lost again, never taken for a backup")

	var events []upgrade.Event
	waived := upgrade.WithBackup(upgrade.Backup{Waived: "the snapshot overflowed during the upgrade"})
	require.NoError(t, e.runner("11.1.8", &events, waived).Run(context.Background()))
	e.assertUpgraded(t, "11.1.8", "1.13")
	rec, lerr = e.journal.Load(context.Background())
	require.NoError(t, lerr)
	require.Len(t, rec.Backups, 2)
	assert.NotEmpty(t, rec.Backups[0].Lost, "the loss stays in the journal")
	assert.Equal(t, "waived", rec.Backups[1].Kind)
	assert.Equal(t, "the snapshot overflowed during the upgrade", rec.Backups[1].Waived)
	assert.True(t, slices.ContainsFunc(events, func(ev upgrade.Event) bool {
		return ev.Kind == upgrade.EventFinding && strings.Contains(ev.Message, "the run goes on without a backup")
	}))
}
