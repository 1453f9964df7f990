// Package lab runs a real HA Enterprise Chef cluster on one Linux machine,
// from Debian's packages, without containers: every node is a network
// namespace (on a bridge the lab creates), a mount namespace (private bind
// mounts over /opt/opscode, /var/opt/opscode, /var/log/opscode,
// /usr/local/bin and /tmp, an overlay on /etc), a PID namespace with its own
// /proc and a UTS namespace. Inside run the real programs: OpenSSH sshd,
// runit's runsvdir/runsv/svlogd for every service, and on the back ends
// keepalived with unicast VRRP, a virtual IP and the keepalived package's
// notify script. private-chef-ctl, initctl and dpkg/rpm are
// lab/cmd/chefha-labnode, which shares clustertest/ecnode's version table
// and migrations.
//
// It needs root, ip (iproute2), unshare (util-linux), sshd
// (openssh-server), runit and keepalived; Start says which is missing. It
// creates the empty mount points /opt/opscode, /var/opt/opscode and
// /var/log/opscode on the host if they do not exist, and the system user
// opscode; it refuses to run on a machine that is a Chef server.
package lab
