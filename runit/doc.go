// Package runit reads and judges the runit supervision tree of a Private
// Chef / Enterprise Chef node: the process list (`ps`), runsvdir's argv log,
// `sv status` lines, and the facts about /var/log/opscode and
// /opt/opscode/service that the runbook's "Runit Process Structure and
// Checks" section names.
//
// Everything here is pure: functions take the bytes a command printed and
// return values. Reading a node is the caller's job, so the same code runs on
// a live cluster, on recorded fixtures and in fuzz tests.
//
// The supervision tree on a Chef back end is
//
//	Upstart → opscode-runsvdir (pre-11) or private-chef-runsvdir (11.1.3+)
//	  → runsvdir -P /opt/opscode/service log: ....
//	    → runsv SERVICE → svlogd (SERVICE's stdout into SERVICE/current)
//
// and Diagnose* turn what was read into Findings, one per runbook symptom,
// each with the evidence seen and the runbook's fix.
package runit
