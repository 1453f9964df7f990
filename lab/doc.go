// Package lab runs a real HA Enterprise Chef cluster on one Linux machine,
// from Debian's packages, without containers: every node is a network
// namespace (on a bridge the lab creates), a mount namespace (private bind
// mounts over /opt/opscode, /var/opt/opscode, /var/log/opscode,
// /usr/local/bin and /tmp, an overlay on /etc), a PID namespace with its own
// /proc and a UTS namespace. Inside run the real programs: OpenSSH sshd,
// runit's runsvdir/runsv/svlogd for every service, and on the back ends
// keepalived with unicast VRRP, a virtual IP and the keepalived package's
// notify script. private-chef-ctl, initctl, dpkg/rpm and the services are
// lab/internal/labnode, which shares clustertest/ecnode's version table and
// migrations, run by the very program that started the lab (see
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
// (openssh-server), runit and keepalived; Start says which is missing. It
// creates the empty mount points /opt/opscode, /var/opt/opscode and
// /var/log/opscode on the host if they do not exist, and the system user
// opscode; it refuses to run on a machine that is a Chef server.
package lab
