package lvm_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/chefha/chefha/lvm"
)

// lvsReport is `lvs --reportformat json --units b --nosuffix -o
// lvm.LVSFields opscode` on a back end whose snapshot is pct full.
func lvsReport(pct string) string {
	row := func(name, attr, size, origin, snap, inv string) string {
		dm := strings.ReplaceAll(name, "-", "--")
		return `{"lv_name":"` + name + `", "vg_name":"opscode", "lv_attr":"` + attr + `", "lv_size":"` + size +
			`", "origin":"` + origin + `", "pool_lv":"", "snap_percent":"` + snap + `", "data_percent":"` + snap +
			`", "metadata_percent":"", "lv_metadata_size":"", "lv_snapshot_invalid":"` + inv +
			`", "lv_path":"/dev/opscode/` + name + `", "lv_dm_path":"/dev/mapper/opscode-` + dm +
			`", "vg_extent_size":"4194304", "vg_free":"32212254720"}`
	}
	return `  {
      "report": [
          {
              "lv": [
                  ` + row("drbd", "owi-aos---", "107374182400", "", "", "unknown") + `,
                  ` + row("drbd-pre-upgrade", "swi-a-s---", "24633147392", "drbd", pct, "") + `
              ]
          }
      ]
  }`
}

// Before the upgrade chefha sizes the snapshot from the data in use;
// before every later step it checks the snapshot is still a backup and
// stops, with the lvextend to run, once it is too full.
func Example() {
	// `df -P -k /var/opt/opscode/drbd/data` and the origin from lvs.
	du, err := lvm.ParseDF([]byte("Filesystem 1024-blocks Used Available Capacity Mounted on\n" +
		"/dev/drbd0 104806400 18874368 85932032 19% /var/opt/opscode/drbd/data\n"))
	if err != nil {
		panic(err)
	}
	lvs, err := lvm.ParseReport(strings.NewReader(lvsReport("0.00")))
	if err != nil {
		panic(err)
	}
	origin := lvs[0] // /dev/opscode/drbd, the disk under DRBD
	size, err := lvm.SnapshotSize(origin, du.Used, 0.25)
	if err != nil {
		panic(err)
	}
	argv, err := lvm.CreateSnapshotArgs("opscode", "drbd", "drbd-pre-upgrade", size)
	if err != nil {
		panic(err)
	}
	fmt.Println("backup:", strings.Join(argv, " "))

	for _, fill := range []string{"12.34", "83.17"} {
		lvs, err := lvm.ParseReport(strings.NewReader(lvsReport(fill)))
		if err != nil {
			panic(err)
		}
		c, err := lvm.CheckSnapshot(lvs, "opscode", "drbd-pre-upgrade", 80)
		var se *lvm.SnapshotError
		switch {
		case errors.As(err, &se) && se.Problem == lvm.SnapshotFull:
			fmt.Printf("stop at %.2f%%: run %s\n", se.Percent, strings.Join(se.Extend[0], " "))
		case err != nil:
			fmt.Println("stop:", err)
		default:
			fmt.Printf("snapshot %s is %.2f%% full: go on\n", c.Snapshot.FullName(), c.Percent)
		}
	}
	// Output:
	// backup: lvcreate -s -L 24633147392b -n drbd-pre-upgrade opscode/drbd
	// snapshot opscode/drbd-pre-upgrade is 12.34% full: go on
	// stop at 83.17%: run lvextend -L +26587693056b opscode/drbd-pre-upgrade
}
