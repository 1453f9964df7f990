// Package replica builds a replica of a production HA Enterprise Chef
// cluster, for the runbook's first rule: "All upgrades should be performed
// first with a copy of production data, but in an environment that is
// non-essential."
//
// A replica is built from what chefha reads of production, read-only: the
// facts (upgrade.Gather, kept in memory: the saved form has its secrets
// redacted) and the bootstrap's /etc/opscode, copied over SFTP into the
// replica's private directory (mode 0700, every file 0600, removed by
// Close). FromFacts turns them into a Spec — the same node names and
// roles, installed versions and running releases, migration levels (a
// back end lagging as OC-11297 leaves it), keepalived master, runit state
// (log directory modes and owners, stale links, a second runsvdir,
// leftover processes), DRBD state, the bootstrap's LVM volume — and a
// Target starts it: the in-process simulation (Simulation) now, the lab
// later. The replica answers under production's names through its own
// OpenSSH config and known_hosts, so the plan built against it is
// production's plan, by hash, and upgrade.Rehearse can run it there.
//
// What a target cannot reproduce (DRBD's data, the packages' own
// contents, the data's volume, …) is listed in the replica's Report, and
// goes into the rehearsal's record.
//
//	facts := upgrade.Gather(ctx, prod)
//	boot, _ := prod.Node(bootstrapName)
//	r, err := replica.New(ctx, replica.Source{Facts: facts, Bootstrap: boot}, replica.Options{})
//	if err != nil { ... }
//	defer r.Close()
//	cl, err := r.Dial(ctx) // production's names, the replica's nodes
//	rh, err := upgrade.Rehearse(ctx, cl, prodPlan, opts...)
package replica
