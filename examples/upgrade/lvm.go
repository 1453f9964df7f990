package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/termsafe"
	"github.com/chefha/chefha/lvm"
	"github.com/chefha/chefha/replica"
	"github.com/chefha/chefha/upgrade"
)

// defaultDRBDDisk is private_chef['drbd']['disk']'s default
// (chef-boneyard/opscode-omnibus 11.1.8, files/private-chef-cookbooks/
// private-chef/attributes/default.rb).
const defaultDRBDDisk = "/dev/opscode/drbd"

// findVolume finds the logical volume under DRBD's data directory on the
// bootstrap, reading only: findmnt names what holds the directory; DRBD's
// device is not what to snapshot, the LV under it is
// (private_chef['drbd']['disk'] in the bootstrap's private-chef.rb,
// /dev/opscode/drbd by default); lvs confirms the LV exists. It says how
// it found it.
func findVolume(ctx context.Context, n cluster.Node) (vg, lv, how string, err error) {
	run := func(argv []string) ([]byte, error) {
		res, err := n.Run(ctx, cluster.Cmd{Argv: append([]string{"env", "LC_ALL=C"}, argv...), Sudo: true})
		var ee *cluster.ExitError
		if errors.As(err, &ee) {
			if perr := lvm.ParseCommandError(argv[0], ee.Result.ExitCode, ee.Result.Stderr); perr != nil && argv[0] != "findmnt" {
				return nil, perr
			}
		}
		return res.Stdout, err
	}
	args, err := lvm.FindmntArgs(upgrade.DRBDDataDir)
	if err != nil {
		return "", "", "", err
	}
	out, err := run(args)
	if err != nil {
		return "", "", "", fmt.Errorf("%s: findmnt %s: %w (is DRBD's data directory there and mounted?)", n.Name(), upgrade.DRBDDataDir, err)
	}
	m, err := lvm.ParseFindmnt(out)
	if err != nil {
		return "", "", "", fmt.Errorf("%s: %w", n.Name(), err)
	}
	dev := m.Source
	how = fmt.Sprintf("findmnt: %s holds %s", m.Source, m.Target)
	if strings.HasPrefix(path.Base(dev), "drbd") {
		dev = defaultDRBDDisk
		if rb, err := n.ReadFile(ctx, cluster.TopologyPath); err == nil {
			if top, err := cluster.ParseTopology(bytes.NewReader(rb)); err == nil {
				if v, ok := top.Setting("drbd['disk']"); ok {
					if s, err := strconv.Unquote(v); err == nil {
						dev = s
					} else {
						dev = strings.Trim(v, `'"`)
					}
				}
			}
		}
		how += "; DRBD's disk under it is " + dev + " (private_chef['drbd']['disk'])"
	}
	if vg, lv, err = lvm.DeviceLV(dev); err != nil {
		return "", "", "", fmt.Errorf("%s: %w; give -lvm-vg and -lvm-lv", n.Name(), err)
	}
	if out, err = run(lvm.VersionArgs()); err != nil {
		return "", "", "", fmt.Errorf("%s: lvm version: %w", n.Name(), err)
	}
	v, err := lvm.ParseVersion(out)
	if err != nil {
		return "", "", "", fmt.Errorf("%s: %w", n.Name(), err)
	}
	q := lvm.QueryFor(v)
	if args, err = q.Args(vg, ""); err != nil {
		return "", "", "", err
	}
	if out, err = run(args); err != nil {
		return "", "", "", fmt.Errorf("%s: lvs %s: %w", n.Name(), vg, err)
	}
	lvs, err := q.Parse(bytes.NewReader(out))
	if err != nil {
		return "", "", "", fmt.Errorf("%s: lvs: %w", n.Name(), err)
	}
	found, err := lvm.FindDevice(lvs, dev)
	if err != nil {
		return "", "", "", fmt.Errorf("%s: %w; give -lvm-vg and -lvm-lv", n.Name(), err)
	}
	return found.VG, found.Name, how + "; lvs lists " + found.FullName(), nil
}

// lvmBackup is -backup-lvm: the snapshot of the volume under DRBD, given
// or found on the bootstrap; for -rehearse also the volume as production
// has it, for the replica.
func lvmBackup(ctx context.Context, cl *cluster.Cluster, vg, lv string, rehearsing bool, timeout time.Duration, o *output) (*upgrade.LVMSnapshot, *replica.Volume, int) {
	fail := func(err error) (*upgrade.LVMSnapshot, *replica.Volume, int) {
		fmt.Fprintln(o.stderr, "upgrade: -backup-lvm:", termsafe.String(err.Error()))
		return nil, nil, exitUsage
	}
	boot, ok := cl.Topology.Bootstrap()
	if !ok {
		return fail(errors.New("the topology has no bootstrap"))
	}
	n, _ := cl.Node(boot.Name)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if vg == "" {
		var how string
		var err error
		if vg, lv, how, err = findVolume(ctx, n); err != nil {
			return fail(err)
		}
		if o.format == "text" {
			fmt.Fprintf(o.stdout, "backup: LVM snapshot of %s/%s on %s (%s)\n", termsafe.Line(vg), termsafe.Line(lv), termsafe.Line(boot.Name), termsafe.Line(how))
		}
	}
	snap := &upgrade.LVMSnapshot{VG: vg, LV: lv}
	if !rehearsing {
		return snap, nil, exitOK
	}
	v, err := replica.ReadVolume(ctx, n, vg, lv)
	if err != nil {
		return fail(err)
	}
	return snap, &v, exitOK
}

// productionVolume is the volume under DRBD as production has it, for a
// replica whose backup is a command pair (an lvcreate of it then works
// there); nil when it cannot be found, and the replica says so.
func productionVolume(ctx context.Context, cl *cluster.Cluster, timeout time.Duration) *replica.Volume {
	boot, _ := cl.Topology.Bootstrap()
	n, ok := cl.Node(boot.Name)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	vg, lv, _, err := findVolume(ctx, n)
	if err != nil {
		return nil
	}
	v, err := replica.ReadVolume(ctx, n, vg, lv)
	if err != nil {
		return nil
	}
	return &v
}
