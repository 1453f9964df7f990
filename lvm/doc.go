// Package lvm keeps the upgrade's backup alive: the LVM snapshot of the
// bootstrap back end's data that the HA upgrade runbook wants "available
// during the entire upgrade process".
//
// A classic (copy-on-write) snapshot holds the old copy of every block
// the origin rewrites. When those copies outgrow the snapshot, the kernel
// drops it: from then on it is invalid, silently, and reads fail at the
// moment it is needed. So chefha sizes the snapshot from the data in use
// (SnapshotSize), creates it (CreateSnapshotArgs), and before every later
// step reads `lvs` (LVSArgs, ParseReport) and judges it (CheckSnapshot):
// still there, still valid, how full — stopping before the next step past
// a threshold with the `lvextend` that makes room (ExtendArgs). A thin
// snapshot never overflows by itself; the pool it shares can, so for a
// thin snapshot the pool's Data% and Meta% are what is judged.
//
// Everything here is pure: argv builders and parsers of what lvm2,
// findmnt and df print. Running them on a node is the caller's job, with
// LC_ALL=C in the environment (lvm2 prints percentages with the locale's
// decimal comma otherwise; the parsers accept either).
//
// Formats follow lvm2's source (lvmteam/lvm2, tags v2_02_66 to v2_03_39):
// the report fields of lib/report/columns.h, lv_attr as
// lib/metadata/lv.c (lib/report/report.c before 2.02.99) builds it and
// lvs(8) documents it, percentages as libdm's dm_report_field_percent
// prints them ("%.2f", blank when unset), sizes with `--units b
// --nosuffix` as whole bytes, the JSON of `--reportformat json` (lvm2
// 2.02.158 and later) and the `|`-separated text of older releases such
// as RHEL 6's 2.02.x, and the error lines of tools/toollib.c,
// tools/lvcreate.c and lib/metadata/lv_manip.c. QueryFor picks the form
// and the fields the installed lvm2 knows (ParseVersion reads `lvm
// version`).
//
// In an HA Enterprise Chef pair the service data is not on the root file
// system: /var/opt/opscode/drbd/data is DRBD's /dev/drbd0, which sits on
// the logical volume private_chef['drbd']['disk'] (default
// /dev/opscode/drbd; chef-boneyard/opscode-omnibus 11.1.8,
// files/private-chef-cookbooks/private-chef/attributes/default.rb). That
// LV is what to snapshot, as Opscode's own files/private-chef-scripts/drbd-backups
// does; DeviceLV refuses /dev/drbdN and says so.
package lvm
