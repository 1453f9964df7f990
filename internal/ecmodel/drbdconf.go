package ecmodel

import (
	"fmt"
	"strings"
)

// DRBD's resource file as reconfigure lays it down on an HA back end
// (chef-boneyard/opscode-omnibus, files/private-chef-cookbooks/
// private-chef/): libraries/private_chef.rb's gen_redundant runs gen_drbd
// for a back end of an HA topology (@1.4.6 and @11.1.8), which enables
// the drbd recipe; recipes/drbd.rb renders templates/default/pc0.res.erb
// to File.join(drbd dir, "etc", "pc0.res") mode "0655" (@1.2.8.3,
// @1.4.6, @11.0.2 lines 29–33; @11.1.8, @11.2.0 lines 31–37, owner and
// group root), next to drbd.conf, which includes etc/*.res and which
// /etc/drbd.conf links to. drbdadm reads the pair's replication addresses
// from it, and so does chefha's drbd-peer check where the operator's host
// list names none. The packaging table (internal/packaging) carries the
// template's owner and mode (ServiceFiles); the path, port and text are
// read from the tags named.
const (
	// DRBDEtcDir is drbd_etc_dir: the drbd dir attribute,
	// /var/opt/opscode/drbd (attributes/default.rb @1.4.6:543,
	// @11.1.8:513), plus "etc".
	DRBDEtcDir = "/var/opt/opscode/drbd/etc"
	// DRBDResFile holds resource pc0.
	DRBDResFile = DRBDEtcDir + "/pc0.res"
	// DRBDPort is the primary's and secondary's port attribute
	// (attributes/default.rb @1.4.6:552,555, @11.1.8:522,525).
	DRBDPort = 7788
)

// pc0Res renders pc0.res.erb for the installed release with
// gen_drbd's attributes: primary and secondary are the back ends in
// private-chef.rb's order (PrivateChef['servers'].each), each its server
// name and :cluster_ipaddress, else :ipaddress, as written (nothing when
// neither is set: the template then renders ":7788", which drbdadm
// refuses); sync_rate 40M, device /dev/drbd0, disk /dev/opscode/drbd and
// flexible_meta_disk internal are attributes/default.rb's. The template
// is one text at 1.2.8.3, 1.4.6 and 11.0.2 (blob 97e2a19) and another
// from 11.1.0 to 11.2.0 (blob b6aeec0, @11.1.8), which writes
// "address ipv6 [IP]:PORT;" when private-chef.rb sets use_ipv6 (gen_drbd
// @11.1.8:273, drbd ipv6_on = use_ipv6). Chef renders templates with
// Erubis, which drops a line holding only a <% … %> statement, so both
// generations render the same text for IPv4. An operator's own
// drbd['primary'] or drbd['secondary'] in private-chef.rb (gen_drbd
// sets them with ||=) is not modelled.
func (n *Node) pc0Res() string {
	ipv6 := n.Installed.Version >= "11.1" && n.setting("use_ipv6") == "true"
	var b strings.Builder
	b.WriteString("resource pc0 {\n  syncer {\n    rate 40M;\n  }\n \n")
	for i, s := range n.Topology.Backends() {
		if i > 1 {
			break // gen_drbd's ||= keeps the first two
		}
		if i == 1 {
			b.WriteString("\n")
		}
		ip := s.ClusterIPAddress
		if ip == "" {
			ip = s.IPAddress
		}
		addr := fmt.Sprintf("%s:%d", ip, DRBDPort)
		if ipv6 {
			addr = fmt.Sprintf("ipv6 [%s]:%d", ip, DRBDPort)
		}
		fmt.Fprintf(&b, "  on %s {\n    device %s;\n    disk %s;\n    flexible-meta-disk  internal;\n    address %s;\n  }\n", s.Name, DRBDDevice, DRBDDisk, addr)
	}
	b.WriteString("}\n")
	return b.String()
}

// writeDRBDConfig is recipes/drbd.rb's directories and pc0.res.
func (n *Node) writeDRBDConfig() {
	n.H.MkdirAll(DRBDEtcDir, 0o755)
	n.writeIfChanged(DRBDResFile, n.pc0Res(), n.Installed.serviceFileMode(DRBDResFile))
}
