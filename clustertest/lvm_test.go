package clustertest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/lvm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func startLVM(t *testing.T, vg clustertest.LVM) *sim {
	t.Helper()
	clock := clustertest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	c, err := clustertest.New(clustertest.Options{Version: "11.1.8", Frontends: 1, Clock: clock.Now, Sleep: clock.Advance, LVM: &vg})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	cl, err := c.Dial(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return &sim{Cluster: c, cl: cl, clock: clock}
}

// lvmRun runs an lvm2 command as upgrade does (LC_ALL=C), failing the test
// on an error lvm.ParseCommandError does not read.
func (s *sim) lvm(t *testing.T, node string, argv ...string) (string, error) {
	t.Helper()
	out, stderr, code := s.run(t, node, append([]string{"env", "LC_ALL=C"}, argv...)...)
	return out, lvm.ParseCommandError(argv[0], code, []byte(stderr))
}

// report reads the VG as the node's lvm2 release asks for it.
func (s *sim) report(t *testing.T, node, vg string) []lvm.LV {
	t.Helper()
	out, err := s.lvm(t, node, lvm.VersionArgs()...)
	require.NoError(t, err)
	v, err := lvm.ParseVersion([]byte(out))
	require.NoError(t, err)
	q := lvm.QueryFor(v)
	args, err := q.Args(vg, "")
	require.NoError(t, err)
	out, err = s.lvm(t, node, args...)
	require.NoError(t, err)
	lvs, err := q.Parse(strings.NewReader(out))
	require.NoError(t, err, out)
	return lvs
}

// The bootstrap's volume answers lvm2's commands in the form each release
// prints (JSON from 2.02.158, text before, attrs of 6 to 10 characters),
// read back by the lvm package; a snapshot fills as the node writes under
// /var/opt/opscode, stops being usable past its size, and lvextend makes
// room.
func TestLVMSnapshotFillsAndExtends(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"2.03.16(2) (2022-05-18)", "2.02.143(2)-RHEL6 (2016-12-13)", "2.02.98(2)-RHEL6 (2012-10-15)", "2.02.66(2) (2010-05-20)"} {
		t.Run(strings.Fields(version)[0], func(t *testing.T) {
			t.Parallel()
			s := startLVM(t, clustertest.LVM{Size: 1 << 30, Used: 64 << 20, Free: 512 << 20, Churn: 4 << 20, Version: version})
			lvs := s.report(t, be1, "opscode")
			require.Len(t, lvs, 1)
			origin := lvs[0]
			assert.Equal(t, "opscode/drbd", origin.FullName())
			assert.Equal(t, int64(1<<30), origin.Size)
			assert.Equal(t, int64(512<<20), origin.VGFree)
			assert.Equal(t, "/dev/opscode/drbd", origin.DevicePath())

			out, err := s.lvm(t, be1, "df", "-P", "-k", ecmodel.DRBDDataDir)
			require.NoError(t, err)
			du, err := lvm.ParseDF([]byte(out))
			require.NoError(t, err, out)
			assert.Equal(t, int64(64<<20), du.Used)
			assert.Equal(t, "/dev/drbd0", du.Source, "the master has DRBD mounted")
			size, err := lvm.SnapshotSize(origin, du.Used, 0.5)
			require.NoError(t, err)
			argv, err := lvm.CreateSnapshotArgs("opscode", "drbd", "pre", size)
			require.NoError(t, err)
			out, err = s.lvm(t, be1, argv...)
			require.NoError(t, err)
			assert.Contains(t, out, `Logical volume "pre" created`)
			_, err = s.lvm(t, be1, argv...)
			var ce *lvm.CommandError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, lvm.Exists, ce.Kind)

			c, err := lvm.CheckSnapshot(s.report(t, be1, "opscode"), "opscode", "pre", 80)
			require.NoError(t, err)
			assert.Equal(t, size, c.Snapshot.Size)
			assert.Less(t, c.Percent, 1.0, "nothing rewritten yet")

			// Each write under /var/opt/opscode rewrites 4 MiB: a ~96 MiB
			// store passes 80% after ~20 of them.
			var fullErr *lvm.SnapshotError
			for i := 0; i < 40; i++ {
				require.NoError(t, s.Plant(clustertest.File(be1, "/var/opt/opscode/data/chunk", "x", 0o644)))
				if _, err = lvm.CheckSnapshot(s.report(t, be1, "opscode"), "opscode", "pre", 80); err != nil {
					break
				}
			}
			require.ErrorAs(t, err, &fullErr)
			require.Equal(t, lvm.SnapshotFull, fullErr.Problem, fullErr.Error())
			assert.GreaterOrEqual(t, fullErr.Percent, 80.0)
			require.Len(t, fullErr.Extend, 1)
			_, err = s.lvm(t, be1, fullErr.Extend[0]...)
			require.NoError(t, err)
			c, err = lvm.CheckSnapshot(s.report(t, be1, "opscode"), "opscode", "pre", 80)
			require.NoError(t, err, "extended to half the threshold")
			assert.InDelta(t, 40, c.Percent, 2)

			_, err = s.lvm(t, be1, "lvextend", "-L", "+1073741824b", "opscode/pre")
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, lvm.NoSpace, ce.Kind)
			_, err = s.lvm(t, be1, "lvextend", "-L", "+4194304b", "opscode/nosuch")
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, lvm.NotFound, ce.Kind)

			for i := 0; i < 200; i++ {
				require.NoError(t, s.Plant(clustertest.File(be1, "/var/opt/opscode/data/chunk", "x", 0o644)))
			}
			_, err = lvm.CheckSnapshot(s.report(t, be1, "opscode"), "opscode", "pre", 80)
			require.ErrorAs(t, err, &fullErr)
			assert.Equal(t, lvm.SnapshotInvalid, fullErr.Problem, "overflowed: the kernel dropped it")
			_, err = s.lvm(t, be1, "lvextend", "-L", "+4194304b", "opscode/pre")
			require.NoError(t, err)
			_, err = lvm.CheckSnapshot(s.report(t, be1, "opscode"), "opscode", "pre", 80)
			require.ErrorAs(t, err, &fullErr)
			assert.Equal(t, lvm.SnapshotInvalid, fullErr.Problem, "growing an invalid snapshot does not bring it back")
		})
	}
}

// The LV and its data directory are found as the example finds them:
// findmnt names DRBD's device on the master, private_chef['drbd']['disk']
// the LV under it; a volume group or LV that is not there is lvm2's error.
func TestLVMFindAndErrors(t *testing.T) {
	t.Parallel()
	s := startLVM(t, clustertest.LVM{VG: "vg-chef", LV: "chef-data"})
	argv, err := lvm.FindmntArgs(ecmodel.DRBDDataDir)
	require.NoError(t, err)
	out, _, code := s.run(t, be1, argv...)
	require.Equal(t, 0, code)
	m, err := lvm.ParseFindmnt([]byte(out))
	require.NoError(t, err)
	assert.Equal(t, lvm.Mount{Source: "/dev/drbd0", Target: ecmodel.DRBDDataDir, FSType: "ext4"}, m)
	_, _, err = lvm.DeviceLV(m.Source)
	var nl *lvm.NotLVError
	assert.ErrorAs(t, err, &nl, "DRBD's device is not the LV to snapshot")

	out, _, code = s.run(t, be2, argv...)
	require.Equal(t, 0, code)
	m, err = lvm.ParseFindmnt([]byte(out))
	require.NoError(t, err)
	assert.Equal(t, "/", m.Target, "the standby has no DRBD mounted")

	lvs := s.report(t, be1, "vg-chef")
	lv, err := lvm.FindDevice(lvs, "/dev/mapper/vg--chef-chef--data")
	require.NoError(t, err)
	assert.Equal(t, "vg-chef/chef-data", lv.FullName())

	var ce *lvm.CommandError
	args, _ := lvm.LVSArgs("opscode", "")
	_, err = s.lvm(t, be1, args...)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, lvm.VGNotFound, ce.Kind)
	args, _ = lvm.LVSArgs("vg-chef", "nosuch")
	_, err = s.lvm(t, be1, args...)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, lvm.NotFound, ce.Kind)
	_, err = s.lvm(t, be1, "lvcreate", "-s", "-L", "4194304b", "-n", "snap", "vg-chef/nosuch")
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, lvm.NotFound, ce.Kind)
	_, err = s.lvm(t, be1, "lvcreate", "-s", "-L", "1099511627776b", "-n", "snap", "vg-chef/chef-data")
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, lvm.NoSpace, ce.Kind)
	_, stderr, code := s.run(t, fe1, "lvs")
	assert.Equal(t, 127, code, "a front end has no LVM here")
	assert.Contains(t, stderr, "not found")
}

// An operator's own backup pair, as the README gives it, works on the
// simulated volume too: lvm2's size units and option order, and a plain
// `lvs VG/LV` as the check.
func TestLVMBackupCommandPair(t *testing.T) {
	t.Parallel()
	s := startLVM(t, clustertest.LVM{VG: "vg0", LV: "chef", Size: 100 << 30, Free: 40 << 30})
	_, stderr, code := s.run(t, be1, "sh", "-c", "lvs vg0/chef-pre-upgrade")
	assert.Equal(t, 5, code, "no backup yet")
	assert.Contains(t, stderr, `Failed to find logical volume "vg0/chef-pre-upgrade"`)
	out, stderr, code := s.run(t, be1, "sh", "-c", "lvcreate -s -n chef-pre-upgrade -L 20G vg0/chef")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `Logical volume "chef-pre-upgrade" created.`)
	out, _, code = s.run(t, be1, "sh", "-c", "lvs vg0/chef-pre-upgrade")
	assert.Equal(t, 0, code)
	assert.Regexp(t, `chef-pre-upgrade +vg0 +swi-a-s--- +20\.00g +chef +0\.00`, out)
	_, _, code = s.run(t, be1, "lvextend", "--size", "+1.5g", "vg0/chef-pre-upgrade")
	assert.Equal(t, 0, code)
	c, err := lvm.CheckSnapshot(s.report(t, be1, "vg0"), "vg0", "chef-pre-upgrade", 80)
	require.NoError(t, err)
	assert.Equal(t, int64(21<<30+512<<20), c.Snapshot.Size)
	_, _, code = s.run(t, be1, "lvcreate", "-s", "-L", "12x", "-n", "x", "vg0/chef")
	assert.Equal(t, 127, code, "a size lvm2 would refuse is not guessed")
}
