// Package lab runs a real HA Enterprise Chef cluster on one Linux machine,
// from Debian's packages, without containers: every node is a network
// namespace (on a bridge the lab creates), a mount namespace (private bind
// mounts over /opt/opscode, /var/opt/opscode, /var/log/opscode,
// /usr/local/bin, /tmp and /var/lib/chefha-model, an overlay on /etc), a
// PID namespace with its own /proc and a UTS namespace. Inside run the
// real programs: OpenSSH's sshd, runit's runsvdir, runsv, sv and svlogd
// for every service, and on the back ends keepalived with the packaging's
// keepalived.conf (both BACKUP, priority 100, nopreempt, a vrrp_sync_group)
// and a virtual IP.
//
// The Enterprise Chef software itself is internal/ecmodel, the node model
// the simulation (clustertest) runs too: private-chef-ctl (every command,
// at /opt/opscode/bin/private-chef-ctl), reconfigure laying down real
// service directories, run scripts and log run scripts, the runsvdir jobs
// of the packaging's Upstart files, partybus with its real flock, and
// keepalived's notify script cluster.sh, which the real keepalived runs.
// The services are stand-in processes; Spec.NotifyScript takes any notify
// script instead of the model's (the packaging's own cluster.sh drops in).
// Scenarios are clustertest's knobs (Spec.Knobs, Lab.Plant), each planted
// the real way where the lab has the mechanism, or refused with an error
// matching ecmodel.ErrCannotPlant.
//
// DRBD's kernel side is simulated: there is no DRBD module, so the back
// ends' drbdadm, and the /proc/drbd their ha-status reads, answer from the
// model's DRBDPair kept in a directory both back ends share; the data
// directory is a real bind mount of a shared "disk" that only a Primary
// can make, so /proc/mounts shows it move. A back end has its replication
// address (:cluster_ipaddress) as a second address on its interface.
//
// The nodes' programs are the very program that started the lab (see
// labnode.go): a binary that imports lab needs no toolchain and no second
// binary, and its environment variable CHEFHA_LABNODE is the lab's.
//
// Several labs run side by side, in one process or several: each claims
// its own subnet (Spec.Subnet, or a free /24 of 10.231.0.0/16 that no
// interface or route on the host reaches) and names its links and
// namespaces after its claim. A claim is a file under /run/chefha-lab
// locked for the lab's life, so CleanLeftovers (which Start calls) removes
// exactly the labs whose process died.
//
// It needs root, ip (iproute2), unshare and nsenter (util-linux), sshd
// (openssh-server), runit, keepalived and ping (iputils-ping); Start says
// which is missing. It creates the empty mount points /opt/opscode,
// /var/opt/opscode, /var/log/opscode, /var/lib/chefha-model and
// /var/lib/chefha-drbd on the host if they do not exist, and the system
// user opscode; it refuses to run on a machine that is a Chef server.
package lab
