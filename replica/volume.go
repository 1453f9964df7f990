package replica

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/lvm"
	"github.com/chefha/chefha/upgrade"
)

// Volume is the bootstrap's LVM volume under DRBD as production has it:
// what a rehearsal backing up with an LVM snapshot needs of the replica's
// bootstrap (the same VG and LV, room in the VG, data in use to size the
// snapshot from, an lvm2 of the same release).
type Volume struct {
	VG, LV string
	// Size is the LV's, ExtentSize and Free the VG's, Used what df says
	// the data directory's file system holds; all in bytes.
	Size, ExtentSize, Free, Used int64
	// Version is what `lvm version` printed after "LVM version:".
	Version string
}

// ReadVolume reads production's volume vg/lv on its bootstrap n, reading
// only: `lvm version`, `lvs` of the VG and `df -P -k` of the DRBD data
// directory, as root with LC_ALL=C.
func ReadVolume(ctx context.Context, n cluster.Node, vg, lv string) (Volume, error) {
	v := Volume{VG: vg, LV: lv}
	run := func(argv []string) ([]byte, error) {
		res, err := n.Run(ctx, cluster.Cmd{Argv: append([]string{"env", "LC_ALL=C"}, argv...), Sudo: true})
		var ee *cluster.ExitError
		if errors.As(err, &ee) {
			if perr := lvm.ParseCommandError(argv[0], ee.Result.ExitCode, ee.Result.Stderr); perr != nil {
				return nil, fmt.Errorf("%s: %w", n.Name(), perr)
			}
		}
		return res.Stdout, err
	}
	out, err := run(lvm.VersionArgs())
	if err != nil {
		return v, err
	}
	ver, err := lvm.ParseVersion(out)
	if err != nil {
		return v, fmt.Errorf("%s: %w", n.Name(), err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "LVM version:"); ok {
			v.Version = strings.TrimSpace(rest)
		}
	}
	q := lvm.QueryFor(ver)
	args, err := q.Args(vg, "")
	if err != nil {
		return v, err
	}
	if out, err = run(args); err != nil {
		return v, err
	}
	lvs, err := q.Parse(bytes.NewReader(out))
	if err != nil {
		return v, fmt.Errorf("%s: lvs: %w", n.Name(), err)
	}
	found := false
	for _, l := range lvs {
		if l.Name == lv {
			v.Size, v.ExtentSize, v.Free, found = l.Size, l.ExtentSize, l.VGFree, true
		}
	}
	if !found {
		return v, fmt.Errorf("%s: lvs lists no %s/%s", n.Name(), vg, lv)
	}
	dfArgs, _ := lvm.DFArgs(upgrade.DRBDDataDir)
	if out, err = run(dfArgs); err != nil {
		return v, err
	}
	du, err := lvm.ParseDF(out)
	if err != nil {
		return v, fmt.Errorf("%s: df %s: %w", n.Name(), upgrade.DRBDDataDir, err)
	}
	v.Used = du.Used
	return v, nil
}

func (v Volume) String() string {
	return fmt.Sprintf("%s/%s: %s, %s in use on the data directory, %s free in the VG, lvm2 %s", v.VG, v.LV,
		bytesIEC(v.Size), bytesIEC(v.Used), bytesIEC(v.Free), v.Version)
}

func bytesIEC(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f, u := float64(n), 0
	for f >= 1024 && u < len(units)-1 {
		f, u = f/1024, u+1
	}
	return fmt.Sprintf("%.1f %s", f, units[u])
}
