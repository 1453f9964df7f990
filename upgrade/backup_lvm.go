package upgrade

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/lvm"
)

// LVMSnapshot is the runbook's "LVM snapshot" of the bootstrap, made and
// watched by chefha: the snapshot is sized from the data in use and a
// margin, recorded in the journal, and before every later step checked to
// be still there and under Threshold percent full; past it the run stops
// before the next step, saying how full it is and the lvextend that makes
// room, and goes on once it was extended. chefha never removes it.
type LVMSnapshot struct {
	// VG and LV are the origin: the logical volume under DRBD
	// (private_chef['drbd']['disk'], default /dev/opscode/drbd; the data
	// directory itself is /dev/drbd0 on top of it).
	VG, LV string
	// Name is the snapshot's name (default chefha-pre-upgrade).
	Name string
	// Margin is added to the data in use to size the snapshot, as a
	// fraction of it (default 0.5): the upgrade rewrites a part of the
	// data, and the snapshot holds the old copy of every block rewritten.
	Margin float64
	// Threshold is how full (percent) the snapshot may get before the run
	// stops for it to be extended (default 80).
	Threshold float64
}

func (s LVMSnapshot) withDefaults() LVMSnapshot {
	if s.VG == "" && s.LV == "" {
		s.VG, s.LV = "opscode", "drbd"
	}
	if s.Name == "" {
		s.Name = "chefha-pre-upgrade"
	}
	if s.Margin == 0 {
		s.Margin = 0.5
	}
	if s.Threshold == 0 {
		s.Threshold = 80
	}
	return s
}

func (s LVMSnapshot) String() string {
	s = s.withDefaults()
	return fmt.Sprintf("LVM snapshot %s/%s of %s/%s (stop past %g%% full)", s.VG, s.Name, s.VG, s.LV, s.Threshold)
}

// lvmRun runs an lvm2 command as root with C number formats, returning
// its stdout, or its own error parsed (*lvm.CommandError).
func lvmRun(ctx context.Context, n cluster.Node, argv []string) ([]byte, error) {
	res, err := n.Run(ctx, cluster.Cmd{Argv: append([]string{"env", "LC_ALL=C"}, argv...), Sudo: true})
	var ee *cluster.ExitError
	if errors.As(err, &ee) {
		if perr := lvm.ParseCommandError(argv[0], ee.Result.ExitCode, ee.Result.Stderr); perr != nil {
			return nil, fmt.Errorf("%s: %w", n.Name(), perr)
		}
	}
	return res.Stdout, err
}

// lvmReport reads lvs of the volume group, in the form the node's lvm2 knows.
func lvmReport(ctx context.Context, n cluster.Node, vg string) ([]lvm.LV, error) {
	out, err := lvmRun(ctx, n, lvm.VersionArgs())
	if err != nil {
		return nil, err
	}
	v, err := lvm.ParseVersion(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Name(), err)
	}
	q := lvm.QueryFor(v)
	args, err := q.Args(vg, "")
	if err != nil {
		return nil, err
	}
	if out, err = lvmRun(ctx, n, args); err != nil {
		return nil, err
	}
	lvs, err := q.Parse(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("%s: lvs: %w", n.Name(), err)
	}
	return lvs, nil
}

// checkSnapshot is the snapshot's state on the node.
func (s LVMSnapshot) check(ctx context.Context, n cluster.Node) (lvm.SnapshotCheck, error) {
	s = s.withDefaults()
	lvs, err := lvmReport(ctx, n, s.VG)
	if err != nil {
		return lvm.SnapshotCheck{}, err
	}
	return lvm.CheckSnapshot(lvs, s.VG, s.Name, s.Threshold)
}

// create makes the snapshot, sized from what the data directory holds.
func (s LVMSnapshot) create(ctx context.Context, n cluster.Node) (lvm.SnapshotCheck, int64, error) {
	s = s.withDefaults()
	lvs, err := lvmReport(ctx, n, s.VG)
	if err != nil {
		return lvm.SnapshotCheck{}, 0, err
	}
	var origin *lvm.LV
	for i := range lvs {
		if lvs[i].Name == s.LV {
			origin = &lvs[i]
		}
	}
	if origin == nil {
		return lvm.SnapshotCheck{}, 0, fmt.Errorf("%s: no logical volume %s/%s to snapshot (give the volume that holds %s, under DRBD)", n.Name(), s.VG, s.LV, DRBDDataDir)
	}
	dfArgs, err := lvm.DFArgs(DRBDDataDir)
	if err != nil {
		return lvm.SnapshotCheck{}, 0, err
	}
	out, err := lvmRun(ctx, n, dfArgs)
	if err != nil {
		return lvm.SnapshotCheck{}, 0, err
	}
	du, err := lvm.ParseDF(out)
	if err != nil {
		return lvm.SnapshotCheck{}, 0, fmt.Errorf("%s: df %s: %w", n.Name(), DRBDDataDir, err)
	}
	size, err := lvm.SnapshotSize(*origin, du.Used, s.Margin)
	if err != nil {
		return lvm.SnapshotCheck{}, 0, err
	}
	args, err := lvm.CreateSnapshotArgs(s.VG, s.LV, s.Name, size)
	if err != nil {
		return lvm.SnapshotCheck{}, 0, err
	}
	if _, err := lvmRun(ctx, n, args); err != nil {
		return lvm.SnapshotCheck{}, 0, err
	}
	c, err := s.check(ctx, n)
	return c, size, err
}
