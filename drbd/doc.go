// Package drbd reads the state of DRBD, the block device an HA Enterprise
// Chef pair replicates its data on, so that an upgrade never fails over
// onto a back end whose copy is not up to date.
//
// /proc/drbd is the kernel module's status file: a version line, a build
// line, then per configured minor (/dev/drbdN) a state line and a counters
// line, plus progress lines while a resync or online verify runs:
//
//	version: 8.4.3 (api:1/proto:86-101)
//	GIT-hash: 89a294209144b68adb3ee85a73221f964d3ee515 build by root@be1, 2013-06-12 10:21:07
//	 0: cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r-----
//	    ns:0 nr:2202648 dw:2202648 dr:0 al:0 bm:134 lo:1 pe:5 ua:1 ap:0 ep:1 wo:f oos:18801236
//		[=>..................] sync'ed: 10.4% (18360/20480)M
//		finish: 0:25:23 speed: 12,345 (11,000) want: 40,960 K/sec
//
// ParseProc reads it as DRBD 8.0 to 8.4 print it (drbd_proc.c in
// LINBIT/drbd and in the Linux kernel): "st:" for the roles before 8.3.0,
// "ro:" since; 10 or 13 counters (ep, wo and oos since 8.2.7); 4 to 6 I/O flags;
// the progress formats of 8.0 to 8.4, including the distribution kernels'
// module, which prints "srcversion:" for the build and, above 4 GiB to
// sync, "…(33520/40960)Mfinish: …" on one line. DRBD 9 moved resources out
// of /proc/drbd (read `drbdsetup status` there) and is refused, never
// read as "no resources". ParseRole, ParseCState and ParseDState read
// `drbdadm role|cstate|dstate RES`; drbdadm's complaints (resource not in
// the config, minor not allocated, module not loaded) are *AdmError.
//
// Enterprise Chef (chef-boneyard/opscode-omnibus, tag 11.1.8; cookbook
// paths under files/private-chef-cookbooks/private-chef/) keeps its data
// on resource pc0, device /dev/drbd0 over the logical volume
// /dev/opscode/drbd, mounted at /var/opt/opscode/drbd/data on the master
// only (attributes/default.rb, templates/default/pc0.res.erb). Its drbd.conf (templates/default/
// drbd.conf.erb, linked from /etc/drbd.conf) uses protocol C, detaches
// the disk on an I/O error, and after a split brain syncs from the node
// that was primary first when neither is primary now
// (after-sb-0pri discard-younger-primary), from the primary when one is
// (after-sb-1pri discard-secondary), and otherwise calls the
// pri-lost-after-sb handler (after-sb-2pri); its split-brain handler
// mails the admin. keepalived's notify script cluster.sh
// (templates/default/cluster.sh.erb) promotes with `drbdadm primary pc0`
// (up to 300 tries a second apart) and mounts; `private-chef-ctl ha-status`
// (files/private-chef-ctl-commands/ha.rb) greps /proc/drbd for
// "cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate" on the master
// and "cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate" on the
// backup, which Resource.Healthy checks. recipes/drbd.rb tells the admin
// to install drbd84-utils and kmod-drbd84 on RHEL 6, drbd8-utils (with
// the kernel's own module) on Debian and Ubuntu.
//
// ResourceHosts reads a resource's `on HOST { … address IP:PORT; }`
// sections from drbd.conf text: Enterprise Chef's reconfigure writes pc0
// to /var/opt/opscode/drbd/etc/pc0.res (recipes/drbd.rb, at every tag
// from 1.2.8.3 to 11.2.0), both back ends with the address DRBD
// replicates over (libraries/private_chef.rb gen_drbd: each server's
// :cluster_ipaddress, else :ipaddress; port 7788), so a back end knows its
// peer's replication address even when the operator named the cluster by
// a host list without addresses.
//
// Everything here is pure: functions take the bytes a file or command
// held and return values; reading the node is the caller's job.
package drbd
