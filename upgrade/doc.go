// Package upgrade plans and checks an HA Enterprise Chef upgrade: the
// version hops the runbook allows (PlanHops), the facts of every node
// gathered in one pass (Gather), the pre-flight checks and the known-issues
// registry (Preflight, Report), and the resumable runner that carries the
// runbook's steps out.
//
// It is the only package that ties the others together: runit, keepalived
// and migration judge bytes; cluster reaches the nodes; upgrade reads the
// nodes through cluster and hands the bytes to the judges.
package upgrade
