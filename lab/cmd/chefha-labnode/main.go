// Command chefha-labnode is a lab node's program and nothing else: a
// binary that imports package lab, for lab.Spec.Program. Package lab's
// init takes it over when a node starts it in a role; run by hand it only
// says what it is.
//
// A lab runs its node program for every command of every node (each
// private-chef-ctl, sv wrapper, dpkg and keepalived hook). Tests built
// with -race build this once without it and hand it to lab.Start, so that
// the race detector instruments the library under test, not the nodes.
package main

import (
	"fmt"
	"os"

	_ "github.com/chefha/chefha/lab"
)

func main() {
	fmt.Fprintln(os.Stderr, "chefha-labnode: a lab node's program (lab.Spec.Program); lab.Start runs it inside its nodes")
	os.Exit(2)
}
