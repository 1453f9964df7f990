package upgrade

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/drbd"
)

// A host list (cluster.ParseHosts) names the nodes but none of their
// addresses, so the topology cannot say where a back end's DRBD peer
// replicates. The back end itself knows: Enterprise Chef's reconfigure
// writes resource pc0, both back ends with their replication addresses,
// to DRBDResFile, and drbdadm connects to the peer's address from there.
// The gather reads that file on every node; where the topology names no
// peer address, it learns the address from the file and pings it in a
// second, short session on the back end (pingLearntPeer).

// DRBDResFile is the file that holds resource pc0 on an HA back end:
// recipes/drbd.rb renders templates/default/pc0.res.erb to
// File.join(drbd dir, "etc", "pc0.res"), the dir attribute being
// /var/opt/opscode/drbd (chef-boneyard/opscode-omnibus, files/
// private-chef-cookbooks/private-chef/, at 1.2.8.3, 1.4.6, 11.0.2,
// 11.1.6, 11.1.8 and 11.2.0 alike), and drbd.conf, which /etc/drbd.conf
// links to, includes it. chefha reads the file rather than `drbdadm dump
// pc0`: it is there whether or not DRBD's tools and module work, its
// format is the template's at every release rather than the installed
// drbd-utils' (8.3 and 8.4 dump differently), drbdadm refuses a config
// whose on sections do not name the host (the very case worth
// reporting), and it holds no secret (the shared secret is in drbd.conf)
// for saved facts to redact.
const DRBDResFile = "/var/opt/opscode/drbd/etc/pc0.res"

// PeerAddressError says why no replication address could be learnt for
// a back end's DRBD peer from the back end's own DRBD configuration;
// drbd-peer is then skipped with it.
type PeerAddressError struct {
	Node   string
	Path   string // the file read: DRBDResFile
	Reason string
	Err    error // the parser's error, when the file does not read as drbd.conf
}

func (e *PeerAddressError) Error() string {
	s := e.Node + ": no replication address known for its DRBD peer: " + e.Path + " " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *PeerAddressError) Unwrap() error { return e.Err }

// DRBDPeer is the node's DRBD peer as the node's own DRBDResFile gives it:
// of resource pc0's two on sections, the one that is not this node. This
// node's section is the one DRBD itself would pick, by `uname -n`; where
// that names neither (the section names a name the node does not go by),
// the one named as the node is in the cluster, and then the one whose
// address the node holds. An error (*PeerAddressError) says why there is
// none: the file was not read or is missing, does not read as drbd.conf,
// does not name a pair, or names neither host as this node.
func (n NodeFacts) DRBDPeer() (drbd.Host, error) {
	fail := func(reason string, err error) (drbd.Host, error) {
		return drbd.Host{}, &PeerAddressError{Node: n.Node, Path: DRBDResFile, Reason: reason, Err: err}
	}
	s, found := n.Sections["drbd-conf"]
	switch {
	case !found:
		return fail("was not read (facts gathered before chefha read it)", nil)
	case s.RC != 0:
		return fail("cannot be read ("+strings.TrimSpace(lastLine(s.Output))+")", nil)
	}
	hosts, err := drbd.ResourceHosts(strings.NewReader(s.Output), DRBDResource)
	if err != nil {
		return fail("does not give resource "+DRBDResource+"'s hosts", err)
	}
	if len(hosts) != 2 {
		return fail(fmt.Sprintf("names %d hosts for resource %s, not a pair", len(hosts), DRBDResource), nil)
	}
	self, why := n.drbdSelf(hosts)
	if self < 0 {
		return fail(why, nil)
	}
	return hosts[1-self], nil
}

// drbdSelf finds this node's section among a pair's, or says why not.
func (n NodeFacts) drbdSelf(hosts []drbd.Host) (int, string) {
	type rule struct {
		by string
		is func(drbd.Host) bool
	}
	var rules []rule
	if name, ok := n.ok("hostname"); ok && strings.TrimSpace(name) != "" {
		name = strings.TrimSpace(name)
		rules = append(rules, rule{"uname -n " + name, func(h drbd.Host) bool { return h.Is(name) }})
	}
	rules = append(rules, rule{"the node name " + n.Node, func(h drbd.Host) bool { return h.Is(n.Node) }})
	if own := n.ownAddrs(); len(own) > 0 {
		rules = append(rules, rule{"the node's addresses", func(h drbd.Host) bool { return slices.Contains(own, h.Addr.Addr().Unmap().WithZone("")) }})
	}
	var tried []string
	for _, r := range rules {
		var match []int
		for i, h := range hosts {
			if r.is(h) {
				match = append(match, i)
			}
		}
		switch len(match) {
		case 1:
			return match[0], ""
		case 2:
			return -1, fmt.Sprintf("names both its hosts as this node by %s", r.by)
		}
		tried = append(tried, r.by)
	}
	var names []string
	for _, h := range hosts {
		names = append(names, strings.Join(h.Names, " ")+" ("+h.Addr.String()+")")
	}
	return -1, fmt.Sprintf("names neither host as this node (%s): its hosts are %s", strings.Join(tried, ", "), strings.Join(names, " and "))
}

// ownAddrs are the node's IPv4 addresses (`ip -o -4 addr show`).
func (n NodeFacts) ownAddrs() []netip.Addr {
	out, _ := n.ok("addrs")
	var addrs []netip.Addr
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet" && f[i] != "inet6" {
				continue
			}
			ip, _, _ := strings.Cut(f[i+1], "/")
			if a, err := netip.ParseAddr(ip); err == nil {
				addrs = append(addrs, a.Unmap().WithZone(""))
			}
		}
	}
	return addrs
}

// pairMember reports whether node is one of the HA pair.
func pairMember(t cluster.Topology, node string) bool {
	boot, ok1 := t.Bootstrap()
	sec, ok2 := t.Secondary()
	return ok1 && ok2 && (node == boot.Name || node == sec.Name)
}

// pingLearntPeer runs the drbd-peer section on back end n, whose sections
// secs were just read without it (the topology names no peer address),
// against the peer address its own DRBDResFile gives, and adds it to
// secs. It is a second session on the node, as short as the first one's
// ping and under the same context, so the gather's deadline holds it too.
// Nothing is added when the file gives no peer (DRBDPeer says why, and
// the check reports it) or the session fails (the check reports the
// address as not pinged).
func pingLearntPeer(ctx context.Context, n cluster.Node, secs map[string]Section, timeout time.Duration) {
	peer, err := NodeFacts{Node: n.Name(), Sections: secs}.DRBDPeer()
	if err != nil {
		return
	}
	ping, err := readNode(ctx, n, peer.Addr.Addr().String(), timeout, "drbd-peer")
	if err != nil {
		return
	}
	secs["drbd-peer"] = ping["drbd-peer"]
}
