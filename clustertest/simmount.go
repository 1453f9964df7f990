package clustertest

// The mount table as findmnt and df show it for the DRBD data directory.

import (
	"fmt"
	"strings"
)

// mountOf is the file system holding p: the DRBD device on the data
// directory where it is mounted, the log file system, or the root.
func (n *Node) mountOf(p string) (source, target, fstype string) {
	source, target, fstype = "/dev/sda1", "/", "ext4"
	for _, l := range strings.Split(n.procMounts(), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || !strings.HasPrefix(f[1], "/") {
			continue
		}
		if (p == f[1] || strings.HasPrefix(p, strings.TrimSuffix(f[1], "/")+"/")) && len(f[1]) >= len(target) {
			source, target, fstype = f[0], f[1], f[2]
		}
	}
	return source, target, fstype
}

// findmntTarget is `findmnt -n -r -o SOURCE,TARGET,FSTYPE --target PATH`
// (lvm.FindmntArgs): the raw form, exit 1 for a path that does not exist.
func (n *Node) findmntTarget(argv []string, e shellIO) int {
	if strings.Join(argv[1:len(argv)-2], " ") != "-n -r -o SOURCE,TARGET,FSTYPE" || argv[len(argv)-2] != "--target" {
		return notEmulated(argv, e)
	}
	p := argv[len(argv)-1]
	if _, err := n.Lstat(p); err != nil {
		return 1
	}
	src, target, fstype := n.mountOf(p)
	fmt.Fprintf(e.Stdout, "%s %s %s\n", src, target, fstype)
	return 0
}

// dfData is `df -P -k PATH` of a path on the DRBD data directory, sized
// from the volume under it.
func (n *Node) dfData(p string, e shellIO) int {
	src, target, _ := n.mountOf(p)
	size, used := int64(20511356)*1024, int64(4102271)*1024
	if src == "/dev/drbd0" && n.vols != nil {
		size, used = n.vols.cfg.Size, n.vols.cfg.Used
	}
	k := func(b int64) int64 { return b / 1024 }
	avail := size - used
	fmt.Fprintln(e.Stdout, "Filesystem     1024-blocks      Used Available Capacity Mounted on")
	fmt.Fprintf(e.Stdout, "%-14s %11d %9d %9d %7d%% %s\n", src, k(size), k(used), k(avail), (used*100+size-1)/size, target)
	return 0
}
