package clustertest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/upgrade"
)

// A simulated cluster with one of the runbook's problems planted, checked
// by the pre-flight over real SSH.
func Example() {
	ctx := context.Background()
	sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 2, Knobs: []clustertest.Knob{
		clustertest.MigrationLevel("be2.chefha.test", ""), // OC-11297: an empty migration-level file
		clustertest.FrontendsStopped(),
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sim.Close()
	cl, err := sim.Dial(ctx) // a *cluster.Cluster, each node behind its own SSH server
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Close()

	be1, _ := cl.Node("be1.chefha.test")
	res, err := be1.Run(ctx, cluster.Command("cat", "/opt/opscode/version-manifest.txt"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(res.Stdout))

	rep, err := upgrade.Preflight(ctx, cl, upgrade.WithTarget("11.1.8"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range rep.Findings {
		if f.Severity == upgrade.Fail {
			fmt.Println("fail:", f.Check, f.Node, f.Issue)
		}
	}
	// Output:
	// private-chef 1.4.6
	// fail: migration-level be2.chefha.test OC-11297
}

// WritePackage writes a real package file; a simulated node installs it
// as dpkg would, by the version inside it.
func ExampleWritePackage() {
	dir, err := os.MkdirTemp("", "chefha-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	for _, family := range []string{"debian", "rhel"} {
		p, err := clustertest.WritePackage(dir, family, "11.1.8")
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(family, filepath.Base(p))
	}
	_, err = clustertest.WritePackage(dir, "suse", "11.1.8")
	fmt.Println(err)
	// Output:
	// debian private-chef_11.1.8-1_amd64.deb
	// rhel private-chef-11.1.8-1.el6.x86_64.rpm
	// clustertest: package family "suse": want debian (a .deb) or rhel (an .rpm)
}
