// Package keepalived reads and judges the HA state of Enterprise Chef back
// ends: the cluster status files keepalived's notify script (cluster.sh)
// writes, its cluster.log, and `private-chef-ctl ha-status`; it judges a
// back-end pair (split brain, no master, bootstrap not master), and its
// Gate replaces the runbook's "WAIT about 2 minutes" with a poll that
// returns once the pair has been stable for a hold period.
//
// The parsers and judges take bytes and return values, touching nothing: a
// Follower turns what a node printed, look after look, into snapshots
// with the cluster.log lines each look added; Gate polls through a reader
// and a clock the caller gives, so it is tested with a fake clock and used
// against real nodes unchanged. Reading the nodes is upgrade's (its facts
// and upgrade.Watch).
package keepalived
