// Package upgrade plans and checks an HA Enterprise Chef upgrade: the
// version hops the runbook allows (PlanHops), the facts of every node
// gathered in one pass (Gather), the pre-flight checks and the known-issues
// registry (Preflight, Report), and the resumable runner that carries the
// runbook's steps out.
//
// It is the only package that ties the others together: runit, keepalived
// and migration judge bytes; cluster reaches the nodes; upgrade reads the
// nodes through cluster and hands the bytes to the judges.
//
// # Command log
//
// A real run appends every call it makes to a node — the reads of facts
// and gates as well as the actions, each command and file operation — to
// a command log beside its journal's local file (Runner.CommandLog:
// chefha-upgrade.json → chefha-upgrade.commands.log). Every error a run
// ends with, but a stop or a pause, names it (StepError.CommandLog). The
// file is made mode 0600 (its directory 0700); one that others could read
// or write, or in a directory others could write to, is refused
// (*cluster.ModeError, with the chmod that mends it) before any node is
// read, as the journal is: what it holds may already have been read. A
// resumed run appends to it. A dry run keeps none, its reads included: it
// writes nothing on this machine. A log that cannot be written stops no
// run: an EventFinding says so once, and the records after it are lost.
//
// It is plain text. The file's first line says what it is; each run
// starts with a header line, and notes mark its plan, the start of each
// step and how it ended:
//
//	=== 2026-11-25T12:00:00.120Z run: pid 4242 on ops1, journal chefha-upgrade.json
//	--- 2026-11-25T12:00:00.480Z plan upgrade 1.4.6 → 11.1.8: 15 steps, plan 3c9a6e1f0b2d4a77
//	--- 2026-11-25T12:03:10.002Z step hop1/upgrade-bootstrap: upgrade the bootstrap
//	--- 2026-11-25T12:09:41.310Z end: failed (step): step hop1/upgrade-bootstrap (…) on be1: …
//
// A record is a line — start (RFC 3339, UTC, to the millisecond), node,
// operation (run, or a file operation: read, write, stat, readdir, mkdir,
// rename, remove, chown, symlink, sha256), duration, status (exit=N for a
// command that ran; ok, missing or error for the rest) and then, for a
// command, $ (or # when run as root) and the command line as the node's
// shell gets it, for a file operation its path and details — followed by
// indented lines: why a call failed when no exit status says it
// ("error:"), and the last 20 lines (4 KiB at most) of the command's
// standard output ("|") and standard error ("!"):
//
//	2026-11-25T12:03:10.004Z be1 run 6m31.309s exit=1 # env SVWAIT=30 private-chef-ctl upgrade
//	  | … 212 earlier lines
//	  | [2026-11-25T12:09:41+00:00] ERROR: Running exception handlers
//	  ! FATAL: Chef::Exceptions::ChildConvergeError
//	2026-11-25T12:09:41.320Z be1 write 4ms ok /var/opt/opscode/upgrades/chefha.lock/owner (266 bytes, mode 0600)
//
// Secrets are redacted (cluster.RedactSecrets) in commands, output and
// errors; control characters, and a command's newlines, are escaped as Go
// writes them (\n, \x1b). The backup command and its check stand as
// <the backup command> and <the backup check>, their output left out
// unless WithBackupOutput: the journal keeps them only as a hash, since
// they may name credentials no redactor knows. A record is written when
// its call returns, in one write: records of nodes worked on at once
// interleave whole, in the order they ended.
package upgrade
