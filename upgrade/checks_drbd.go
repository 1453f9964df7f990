package upgrade

import (
	"fmt"
	"strings"
	"time"

	"github.com/chefha/chefha/drbd"
	"github.com/chefha/chefha/issue"
)

// The DRBD checks judge what Enterprise Chef's own ha-status judges
// (opscode-omnibus 1.4.6 and 11.1.8, files/private-chef-ctl-commands/ha.rb:
// exit 4 for the DRBD state, 5 for the mount, 6 for the peer's ping): the
// data the pair exists for must be replicated and in sync before anything
// can fail the cluster over, or the new master serves stale data or none.

// drbdPair is both back ends' DRBD, with the keepalived master's name.
type drbdPair struct {
	nodes  []*nodeView
	res    map[string]drbd.Resource
	errs   map[string]error
	master string
}

func drbdOf(in Input) (drbdPair, bool) {
	var p drbdPair
	p.res, p.errs = map[string]drbd.Resource{}, map[string]error{}
	for _, boot := range []bool{true, false} {
		n, ok := backendView(in, boot)
		if !ok {
			return p, false // reachable and topology report it
		}
		p.nodes = append(p.nodes, n)
		if r, err := n.DRBD(); err != nil {
			p.errs[n.Node] = err
		} else {
			p.res[n.Node] = r
		}
	}
	if kp, ok := pair(in); ok {
		if m, one := kp.Master(); one {
			p.master = m.Name
		}
	}
	return p, true
}

// unreadable reports the nodes whose DRBD could not be read, once, under
// the first DRBD check.
func (p drbdPair) unreadable(check string) []Finding {
	var fs []Finding
	for _, n := range p.nodes {
		if err := p.errs[n.Node]; err != nil {
			fs = append(fs, Finding{Check: check, Severity: Fail, Node: n.Node, Symptom: "unreadable", Evidence: []string{err.Error()},
				Fix: "load DRBD and bring the resource " + DRBDResource + " up (drbdadm up " + DRBDResource + "): Enterprise Chef's HA data lives on it"})
		}
	}
	return fs
}

func checkDRBDConnected(in Input) []Finding {
	p, ok := drbdOf(in)
	if !ok {
		return nil
	}
	fs := p.unreadable("drbd-connected")
	for _, n := range p.nodes {
		r, ok := p.res[n.Node]
		if ok && !r.Connected() {
			fs = append(fs, Finding{Check: "drbd-connected", Severity: Fail, Node: n.Node, Symptom: string(r.CState), Evidence: []string{r.String()},
				Fix: "reconnect the replication link (drbdadm connect " + DRBDResource + " on both back ends; check the cluster addresses and the link between them); a StandAlone pair after split brain needs the DRBD split-brain recovery first"})
		}
	}
	return result("drbd-connected", fs, "DRBD connected on both back ends")
}

func checkDRBDUpToDate(in Input) []Finding {
	p, ok := drbdOf(in)
	if !ok {
		return nil
	}
	var fs []Finding
	for _, n := range p.nodes {
		r, ok := p.res[n.Node]
		if !ok || r.UpToDate() {
			continue
		}
		ev := []string{r.String()}
		sym := "not-uptodate"
		if r.Syncing() && r.Sync != nil {
			sym = "resync"
			ev = append(ev, fmt.Sprintf("resync %.1f%% done, %s left by DRBD's estimate", r.Sync.Percent, r.Sync.Finish.Round(time.Second)))
		}
		fs = append(fs, Finding{Check: "drbd-uptodate", Severity: Fail, Node: n.Node, Symptom: sym, Evidence: ev, Issue: issue.StaleFailover,
			Fix: "wait until both disks are UpToDate (cat /proc/drbd); a failover before that serves stale data or none"})
	}
	return result("drbd-uptodate", fs, "DRBD UpToDate/UpToDate")
}

func checkDRBDRoles(in Input) []Finding {
	p, ok := drbdOf(in)
	if !ok {
		return nil
	}
	var primaries []string
	for _, n := range p.nodes {
		if r, ok := p.res[n.Node]; ok && r.Role == drbd.Primary {
			primaries = append(primaries, n.Node)
		}
	}
	if len(primaries) == 2 {
		return []Finding{{Check: "drbd-roles", Severity: Fail, Symptom: "split-brain",
			Evidence: []string{fmt.Sprintf("both %s and %s are DRBD Primary: split brain", primaries[0], primaries[1])},
			Fix:      "stop: resolve the DRBD split brain by hand (choose the node whose data survives, drbdadm secondary and connect --discard-my-data on the other) before anything else"}}
	}
	var fs []Finding
	for _, n := range p.nodes {
		r, ok := p.res[n.Node]
		if !ok || p.master == "" {
			continue
		}
		want := drbd.Secondary
		if n.Node == p.master {
			want = drbd.Primary
		}
		if r.Role != want {
			fs = append(fs, Finding{Check: "drbd-roles", Severity: Fail, Node: n.Node, Symptom: "role",
				Evidence: []string{fmt.Sprintf("DRBD %s on the keepalived %s", r.Role, map[bool]string{true: "master", false: "backup"}[n.Node == p.master])},
				Fix:      "let cluster.sh finish its transition (private-chef-ctl tail keepalived), or run private-chef-ctl master-recover / backup-recover on this node"})
		}
	}
	return result("drbd-roles", fs, "DRBD Primary on the master only")
}

func checkDRBDMount(in Input) []Finding {
	p, ok := drbdOf(in)
	if !ok || p.master == "" {
		return nil
	}
	var fs []Finding
	for _, n := range p.nodes {
		master := n.Node == p.master
		if n.drbdMounted() != master {
			what := "is not mounted on the master"
			if !master {
				what = "is mounted on the backup"
			}
			fs = append(fs, Finding{Check: "drbd-mount", Severity: Fail, Node: n.Node, Symptom: "mount",
				Evidence: []string{DRBDDataDir + " " + what},
				Fix:      "the data directory belongs mounted on the keepalived master only: let cluster.sh finish, or mount/umount it as its transition would"})
		}
	}
	return result("drbd-mount", fs, DRBDDataDir+" mounted on the master only")
}

// checkDRBDPeer pings each back end's peer at its replication address:
// the topology's (cluster_ipaddress, else ipaddress, from private-chef.rb),
// or, where the topology names none (a host list), the one the back end's
// own DRBD resource file gives (DRBDPeer). It is skipped, saying why for
// each back end, where neither says or the ping was not run.
func checkDRBDPeer(in Input) []Finding {
	p, ok := drbdOf(in)
	if !ok {
		return nil
	}
	var fs []Finding
	var unknown, learnt []string
	for _, n := range p.nodes {
		addr, from, fix := peerOf(in.Facts.Topology, n.Node), "", "restore the replication link between the back ends (cluster_ipaddress in private-chef.rb)"
		if addr == "" {
			h, err := n.DRBDPeer()
			if err != nil {
				unknown = append(unknown, err.Error())
				continue
			}
			addr = h.Addr.Addr().String()
			from = " (from " + DRBDResFile + ", its host " + strings.Join(h.Names, " ") + ")"
			fix = "restore the replication link between the back ends (the addresses in " + DRBDResFile + ", which reconfigure writes from cluster_ipaddress, else ipaddress, in private-chef.rb)"
			learnt = append(learnt, n.Node+" → "+addr)
		}
		s, pinged := n.Sections["drbd-peer"]
		switch {
		case !pinged:
			unknown = append(unknown, n.Node+": the peer's replication address "+addr+from+" was not pinged (the session that pings it did not run)")
		case s.RC != 0:
			fs = append(fs, Finding{Check: "drbd-peer", Severity: Fail, Node: n.Node, Symptom: "unreachable",
				Evidence: []string{"the peer's replication address " + addr + from + " does not answer ping: " + strings.TrimSpace(lastLine(s.Output))},
				Fix:      fix})
		}
	}
	if len(fs) == 0 && len(unknown) > 0 {
		// Nothing was pinged from some back end, and nothing can be said
		// of the link from there.
		return []Finding{{Check: "drbd-peer", Severity: Skip, Evidence: unknown}}
	}
	detail := "the back ends reach each other's replication address"
	if len(learnt) > 0 {
		detail += " (" + strings.Join(learnt, ", ") + ", from " + DRBDResFile + ")"
	}
	return result("drbd-peer", fs, detail)
}
