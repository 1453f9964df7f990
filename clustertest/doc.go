// Package clustertest gives tests of HA Chef tooling a real cluster to talk
// to, the way net/http/httptest gives a real server: New starts two back
// ends and N front ends, each an emulated Enterprise Chef node (the model
// in internal/ecmodel, on an emulated runit, keepalived and DRBD) behind
// its own SSH server on 127.0.0.1 (x/crypto/ssh, SFTP served from the
// node's file tree, which is in memory: Node.FS reads it), with known_hosts
// and SSH configs the cluster package uses unchanged. Knobs reproduce each
// known issue and runit symptom of the runbook, and transport faults; a
// FakeClock makes a two-minute keepalived wait take milliseconds.
//
//	sim, err := clustertest.New(clustertest.Options{
//		Version: "1.4.6", Frontends: 3,
//		Knobs:   []clustertest.Knob{clustertest.OC11297(), clustertest.RunsvdirErrors()},
//	})
//	if err != nil { ... }
//	defer sim.Close()
//	cl, err := sim.Dial(ctx) // a *cluster.Cluster over real SSH
//	if err != nil { ... }
//	defer cl.Close()
//	be1, _ := cl.Node("be1.chefha.test")
//	res, err := be1.Run(ctx, cluster.Command("private-chef-ctl", "status"))
//
// A cluster can also be made to look like a given one (a replica of
// production, see package replica): Options.PrivateChefRB gives its
// servers, Options.EtcOpscode its configuration tree, Options.Master the
// keepalived master, Options.Nodes each node's installed and running
// release, migration level and runit state (RunitState). Each back end has
// a volume group (Options.LVM) whose snapshots fill as the node writes its
// data, for the upgrade's LVM backup.
//
// SSHServer, underneath, is a general in-process SSH server for tests.
package clustertest
