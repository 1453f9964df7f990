// Package chefha makes high-availability Enterprise Chef upgrades safe and
// boring: it turns the HA upgrade runbook (Private Chef 1.2.x / 1.4.6+ to
// Enterprise Chef 11.1.3+) into code that reads the cluster, says what is
// wrong before anything is touched, plans the version hops, and runs the
// upgrade node by node, resumably.
//
// Data flows one way, observe → diagnose → plan → act:
//
//	cluster      observe/act: topology from private-chef.rb; Node (SSH + SFTP, local, recording, replay); CopyTree
//	runit        diagnose: ps trees, runsvdir's argv log, sv status, log-dir health
//	keepalived   diagnose: cluster status files, cluster.log, ha-status; the stable-master gate
//	drbd         diagnose: /proc/drbd (DRBD 8.0–8.4) and drbdadm role/cstate/dstate; is the backup's copy up to date?
//	lvm          plan/act: the backup's LVM snapshot: size it, create it, and before every step check it is valid and not too full (lvs, lvextend)
//	migration    diagnose: migration-level files and the version table
//	issue        the known issues' ids (OC-xxxxx), written once; upgrade's registry says what each affects
//	upgrade      plan/act: version hops, facts, preflight checks, known issues, the resumable runner
//	runreport    report: a run's journal and events as Markdown, an SVG timeline and JSON, for the change board
//	replica      a replica of production built from its facts, to rehearse the plan on (the runbook's first rule)
//	clustertest  a simulated HA cluster over real SSH, for tests and demos (its nodes run internal/ecmodel, the one model of a Chef node)
//	lab          a real HA cluster in Linux namespaces: sshd, runit and keepalived for real
//
// examples/preflight, examples/upgrade and examples/watch (the runbook's two
// monitoring terminals in one) are the thin binaries operators run.
//
// This root package holds no code; import the packages above.
package chefha
