// Package labnode is the Enterprise Chef side of a lab node: PID 1 of the
// node's namespaces (init), and, by the role it is started in,
// private-chef-ctl, initctl and dpkg/rpm acting on the node's real files
// and driving its real runit and keepalived, keepalived's hook, and the
// stand-in processes of the services. The version table, the migrations
// and partybus's messages are clustertest/ecnode's, so the lab and the
// simulation agree.
//
// It has no binary of its own: package lab makes any program that imports
// it a lab node when started with svdir.RoleEnv naming a role, and places
// that program in every node.
package labnode

import (
	"fmt"
	"os"
)

// Main runs the node program in role name with args (what follows the
// program's name on its command line) and returns its exit status.
func Main(name string, args []string) int {
	switch name {
	case "init":
		return initNode(args)
	case "private-chef-ctl":
		return ctl(args)
	case "initctl":
		return initctl(args)
	case "dpkg", "rpm":
		return install(name, args)
	case "service":
		return service(args)
	case "ha-hook":
		return haHook(args)
	}
	fmt.Fprintf(os.Stderr, "chefha-labnode: unknown role %q\n", name)
	return 2
}
