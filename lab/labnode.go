package lab

import (
	"os"

	"github.com/chefha/chefha/lab/internal/labnode"
	"github.com/chefha/chefha/lab/internal/svdir"
)

// A lab node's programs (its init, private-chef-ctl, initctl, dpkg, rpm,
// keepalived's hook and every service) are the program that started the
// lab: Start places its executable in each node, and the node's shims and
// run scripts start it with svdir.RoleEnv naming the role. Whatever
// imports this package can therefore be a node, with no toolchain and no
// second binary: examples/preflight -lab from anywhere, and `go test` of
// any package whose test binary starts a lab.
//
// The takeover is an init function rather than a lab.Init() that main (or
// TestMain) must call: a binary that forgot the call would still start
// labs, and every node would then run that binary's own main in each role,
// failing inside the node where nobody reads the error. RoleEnv is set only
// by the lab's shims and run scripts, so for any other run this init does
// nothing. It runs after the packages lab imports have initialised and
// before main's own packages, main, or a test binary's flag parsing.
func init() {
	role, ok := os.LookupEnv(svdir.RoleEnv)
	if !ok {
		return
	}
	// The node's own children (sshd, runsvdir, sv, services) start clean:
	// a run script or shim sets the role of each program it starts.
	os.Unsetenv(svdir.RoleEnv)
	os.Exit(labnode.Main(role, os.Args[1:]))
}
