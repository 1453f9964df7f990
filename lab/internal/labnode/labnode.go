// Command chefha-labnode is the Enterprise Chef side of a lab node: PID 1
// of the node's namespaces (init), and, by the name it is called as,
// private-chef-ctl, initctl and dpkg/rpm acting on the node's real files
// and driving its real runit and keepalived. The version table, the
// migrations and partybus's messages are clustertest/ecnode's, so the lab
// and the simulation agree.
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if name == "chefha-labnode" && len(args) > 0 {
		name, args = args[0], args[1:]
	}
	var code int
	switch name {
	case "init":
		code = initNode(args)
	case "private-chef-ctl":
		code = ctl(args)
	case "initctl":
		code = initctl(args)
	case "dpkg", "rpm":
		code = install(name, args)
	case "service":
		code = service(args)
	case "ha-hook":
		code = haHook(args)
	default:
		fmt.Fprintf(os.Stderr, "chefha-labnode: unknown role %q\n", name)
		code = 2
	}
	os.Exit(code)
}
