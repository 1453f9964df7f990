// Package ecmodel is one model of a Private Chef / Enterprise Chef HA node,
// written from the packaging sources (chef-boneyard/opscode-omnibus at
// 1.2.8.3 … 11.2.0, chef/omnibus-ctl, chef-cookbooks/enterprise-chef-common)
// rather than from the runbook: the release table, private-chef-ctl's
// commands as omnibus-ctl runs them, reconfigure, partybus, ha-status and
// keepalived's cluster.sh. It runs against a Host (files, runit, Upstart,
// network, DRBD, a clock), so the simulation (clustertest) and the lab run
// the same code; every piece of node state the real software keeps in a
// file is kept in that file.
//
// Knobs are the scenario vocabulary: host-neutral values that plant a
// failure state through a Planter, or fail with ErrCannotPlant.
package ecmodel
