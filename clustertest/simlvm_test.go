package clustertest

import (
	"io"
	"strings"
	"testing"
)

// FuzzLVMCommand feeds the simulated lvm2 any command line after a few
// ordinary ones: it answers or says it does not emulate it, never panics,
// and its volume group stays consistent (free space never negative, no
// snapshot of no size, every extent accounted for).
func FuzzLVMCommand(f *testing.F) {
	for _, s := range []string{
		"lvcreate -s -L 104857600b -n pre opscode/drbd",
		"lvcreate -s -n chef-pre -L 20G opscode/drbd",
		"lvextend -L +4194304b opscode/pre",
		"lvextend --size +1.5g opscode/pre",
		"lvs --reportformat json --units b --nosuffix -o lv_name,vg_name,lv_attr,lv_size,snap_percent opscode",
		"lvs --noheadings --separator | --units b --nosuffix -o lv_name,vg_name,lv_attr,lv_size opscode/pre",
		"lvs opscode/pre",
		"lvcreate -s -L -5b -n x opscode/drbd",
		"lvextend -L +1e300g opscode/pre",
		"lvcreate -s -L 0.0000001 -n x opscode/drbd",
		"lvm version",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		v, err := newVolumes(LVM{Size: 1 << 30, Used: 64 << 20, Free: 512 << 20})
		if err != nil {
			t.Fatal(err)
		}
		n := &Node{vols: v}
		e := shellIO{Stdout: io.Discard, Stderr: io.Discard, env: map[string]string{}}
		argv, err := Split(line)
		if err != nil || len(argv) == 0 {
			return
		}
		for _, a := range [][]string{{"lvcreate", "-s", "-L", "8m", "-n", "pre", "opscode/drbd"}, argv, {"lvs", "opscode"}} {
			switch a[0] {
			case "lvm", "lvs", "lvcreate", "lvextend":
				n.lvmCommand(t.Context(), a, e)
			}
			v.wrote()
		}
		var used int64
		for _, s := range v.snaps {
			if s.size <= 0 || s.size%v.cfg.ExtentSize != 0 || strings.TrimSpace(s.name) == "" {
				t.Fatalf("snapshot %+v after %q", s, line)
			}
			used += s.size
		}
		if v.free < 0 || used+v.free != v.cfg.Free {
			t.Fatalf("free %d, snapshots %d, of %d after %q", v.free, used, v.cfg.Free, line)
		}
	})
}
