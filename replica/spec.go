package replica

import (
	"bytes"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/drbd"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/runit"
	"github.com/chefha/chefha/upgrade"
)

// Spec is production as a replica reproduces it: what a Target builds.
// FromFacts makes one; a target lists what of it it cannot have.
type Spec struct {
	// Topology is production's, as the upgrade read it: the replica is
	// dialled with it, so the plan names the same nodes.
	Topology cluster.Topology
	// PrivateChefRB is the bootstrap's private-chef.rb.
	PrivateChefRB []byte
	// Version is the bootstrap's installed version.
	Version string
	// EtcOpscode is the bootstrap's /etc/opscode with production's
	// modes; nil when it was not copied.
	EtcOpscode fs.FS
	// Master is the back end keepalived holds master on.
	Master string
	Nodes  map[string]NodeSpec
	// DRBD is the pair's DRBD state to plant; nil when healthy.
	DRBD *clustertest.DRBDFault
	// Volume is the bootstrap's LVM volume under DRBD; nil when unknown.
	Volume *Volume
	// Notes are what FromFacts could not carry over, for the Report.
	Notes []string
	// Carried are what it did, for the Report.
	Carried []string
}

// NodeSpec is one node of production.
type NodeSpec struct {
	Role      string
	Bootstrap bool
	// Installed is the package's version; Running the release the last
	// reconfigure laid down, told from the services it runs.
	Installed, Running string
	// Level is the migration-level file as read (nil with LevelMissing:
	// there was none).
	Level        *string
	LevelMissing bool
	OSRelease    string
	// EtcOpscode is the node's /etc/opscode where it differs from the
	// bootstrap's; nil when the same.
	EtcOpscode fs.FS
	Runit      clustertest.RunitState
}

// Release is a release a Target can run, with the services a node of
// each role runs on it (keepalived aside): what tells which release a
// node's services are from.
type Release struct {
	Version  string
	Backend  []string
	Boot     []string // back-end services only the bootstrap runs
	Frontend []string
}

// etcDiff is how a node's /etc/opscode differs from the bootstrap's, by
// the sums the facts hold: paths below /etc/opscode whose content differs,
// or which only one of them has.
func etcDiff(boot, n upgrade.NodeFacts) (differ, missing, extra []string) {
	want, have := boot.EtcSums(), n.EtcSums()
	for p, sum := range want {
		if p == upgrade.EtcOpscode+"/chef-server-running.json" {
			continue // each node's reconfigure writes its own
		}
		switch h, ok := have[p]; {
		case !ok:
			missing = append(missing, p)
		case h != sum:
			differ = append(differ, p)
		}
	}
	for p := range have {
		if _, ok := want[p]; !ok && p != upgrade.EtcOpscode+"/chef-server-running.json" {
			extra = append(extra, p)
		}
	}
	slices.Sort(differ)
	slices.Sort(missing)
	slices.Sort(extra)
	return differ, missing, extra
}

// FromFacts reads production's facts (as upgrade.Gather returned them: in
// memory, unredacted) and the bootstrap's /etc/opscode (nil when not
// copied) into a Spec. known lists the releases a target can run, with
// their services, to tell a node's running release by the services it
// runs. Every node must have been read.
func FromFacts(f upgrade.Facts, etc *Tree, known []Release) (Spec, error) {
	if err := f.Validate(); err != nil {
		return Spec{}, err
	}
	boot, ok := f.Topology.Bootstrap()
	if !ok {
		return Spec{}, fmt.Errorf("replica: the topology has no bootstrap")
	}
	bf, ok := f.Node(boot.Name)
	if !ok {
		return Spec{}, fmt.Errorf("replica: no facts of the bootstrap %s", boot.Name)
	}
	s := Spec{Topology: f.Topology, Nodes: map[string]NodeSpec{}}
	for _, n := range f.Nodes {
		if n.Err != "" {
			return Spec{}, fmt.Errorf("replica: %s could not be read (%s): a replica needs every node's facts", n.Node, n.Err)
		}
		for name, sec := range n.Sections {
			if strings.Contains(sec.Output, cluster.Redacted) {
				return Spec{}, fmt.Errorf("replica: the facts of %s have secrets redacted (%s; a saved facts file): gather the facts again, in memory, to build a replica", n.Node, name)
			}
		}
	}
	rb, ok := bf.Sections["topology"]
	if etc != nil {
		b, err := etc.ReadFile("private-chef.rb")
		if err != nil {
			return Spec{}, fmt.Errorf("replica: the copy of %s:/etc/opscode has no private-chef.rb: %w", boot.Name, err)
		}
		s.PrivateChefRB, s.EtcOpscode = b, etc.FS()
		s.Carried = append(s.Carried, fmt.Sprintf("/etc/opscode: %d files (%d bytes) copied from %s, with their modes, into the replica's private directory (files 0600, removed with it)", etc.Files, etc.Bytes, boot.Name))
	} else if ok && rb.RC == 0 {
		s.PrivateChefRB = []byte(rb.Output)
		s.Notes = append(s.Notes, "/etc/opscode was not copied from the bootstrap: the replica has production's private-chef.rb (from the facts) and simulated keys and secrets")
	} else {
		return Spec{}, fmt.Errorf("replica: neither a copy of %s:/etc/opscode nor its private-chef.rb in the facts", boot.Name)
	}
	if err := sameServers(f.Topology, s.PrivateChefRB); err != nil {
		return Spec{}, err
	}
	var err error
	if s.Version, err = bf.Version(); err != nil {
		return Spec{}, fmt.Errorf("replica: %w", err)
	}
	s.Version = releaseOf(s.Version)
	vip := ""
	if f.Topology.BackendVIP != nil {
		vip = f.Topology.BackendVIP.IPAddress
	}
	var masters []string
	for _, n := range f.Nodes {
		ns, err := nodeSpec(n, known, &s)
		if err != nil {
			return Spec{}, err
		}
		if n.Role == cluster.RoleBackend {
			if st := n.KeepalivedState(vip); st.Err == nil && st.Current == keepalived.Master {
				masters = append(masters, n.Node)
			}
		}
		s.Nodes[n.Node] = ns
	}
	switch len(masters) {
	case 1:
		s.Master = masters[0]
		s.Carried = append(s.Carried, "keepalived: "+s.Master+" is master")
	default:
		s.Master = boot.Name
		s.Notes = append(s.Notes, fmt.Sprintf("keepalived: %d back ends report master (%s); the replica makes the bootstrap master", len(masters), strings.Join(masters, ", ")))
	}
	s.DRBD = drbdState(f, &s)
	return s, nil
}

// sameServers checks that private-chef.rb names the servers the facts
// were read from, with the same roles: the simulation's nodes are
// private-chef.rb's, the plan's those of the topology read.
func sameServers(t cluster.Topology, rb []byte) error {
	top, err := cluster.ParseTopology(bytes.NewReader(rb))
	if err != nil {
		return fmt.Errorf("replica: the bootstrap's private-chef.rb: %w", err)
	}
	if len(top.Servers) != len(t.Servers) {
		return fmt.Errorf("replica: the bootstrap's private-chef.rb names %d servers, the cluster was read as %d", len(top.Servers), len(t.Servers))
	}
	for _, s := range t.Servers {
		o, ok := top.Server(s.Name)
		if !ok || o.Role != s.Role || o.Bootstrap != s.Bootstrap {
			return fmt.Errorf("replica: the bootstrap's private-chef.rb does not name %s as %s: read the cluster with that private-chef.rb (its names and roles)", s.Name, s.Role)
		}
	}
	return nil
}

func nodeSpec(n upgrade.NodeFacts, known []Release, s *Spec) (NodeSpec, error) {
	ns := NodeSpec{Role: n.Role, Bootstrap: n.Bootstrap}
	var err error
	if ns.Installed, err = n.Version(); err != nil {
		return ns, fmt.Errorf("replica: %w", err)
	}
	ns.Installed = releaseOf(ns.Installed)
	if lvl, ok := n.Sections["level"]; ok && lvl.RC == 0 {
		content := lvl.Output
		ns.Level = &content
	} else {
		ns.LevelMissing = true
	}
	if os, ok := n.Sections["os"]; ok && os.RC == 0 {
		ns.OSRelease = os.Output
	}
	svcs, err := n.Services()
	if err != nil {
		return ns, fmt.Errorf("replica: %s: private-chef-ctl status: %w", n.Node, err)
	}
	ns.Running = running(ns.Installed, n.Role == cluster.RoleBackend, n.Bootstrap, svcs, known)
	what := fmt.Sprintf("%s: private-chef %s", n.Node, ns.Installed)
	if ns.Running != ns.Installed {
		what += fmt.Sprintf(" installed, the services of %s running (not reconfigured since)", ns.Running)
	}
	switch {
	case ns.LevelMissing:
		what += "; no migration-level file (as OC-11297 leaves a back end)"
	case strings.TrimSpace(*ns.Level) == "":
		what += "; an empty migration-level file"
	default:
		if l, err := n.Level(); err == nil {
			what += "; migration level " + l.String()
		} else {
			what += "; an unreadable migration-level file"
		}
	}
	s.Carried = append(s.Carried, what)
	ns.Runit = runitState(n, ns.Running, svcs, known, s)
	return ns, nil
}

// running tells the release a node runs by its services: the known
// release at or below the installed one whose services for the node's
// role are most like those linked, the installed one on a tie.
func running(installed string, backend, bootstrap bool, svcs []runit.ServiceStatus, known []Release) string {
	var linked []string
	for _, s := range svcs {
		if s.State != runit.StateDisabled && s.Service != "keepalived" {
			linked = append(linked, s.Service)
		}
	}
	best, score := installed, -1.0
	for _, r := range known {
		if versionLess(installed, r.Version) {
			continue
		}
		sc := jaccard(linked, r.services(backend, bootstrap))
		if sc > score || sc == score && r.Version == installed {
			best, score = r.Version, sc
		}
	}
	return best
}

func (r Release) services(backend, bootstrap bool) []string {
	switch {
	case backend && bootstrap:
		return append(slices.Clone(r.Backend), r.Boot...)
	case backend:
		return r.Backend
	}
	return r.Frontend
}

func jaccard(a, b []string) float64 {
	in, union := 0, map[string]bool{}
	for _, x := range a {
		union[x] = true
		if slices.Contains(b, x) {
			in++
		}
	}
	for _, x := range b {
		union[x] = true
	}
	if len(union) == 0 {
		return 1
	}
	return float64(in) / float64(len(union))
}

// versionLess compares dotted release numbers ("1.4.6" < "11.0.2").
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			fmt.Sscan(pa[i], &x)
		}
		if i < len(pb) {
			fmt.Sscan(pb[i], &y)
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// drbdState is the DRBD state to plant, from the back ends' facts.
func drbdState(f upgrade.Facts, s *Spec) *clustertest.DRBDFault {
	boot, _ := f.Topology.Bootstrap()
	sec, _ := f.Topology.Secondary()
	res := map[string]drbd.Resource{}
	for _, name := range []string{boot.Name, sec.Name} {
		n, _ := f.Node(name)
		r, err := procDRBD(n)
		if err != nil {
			s.Notes = append(s.Notes, fmt.Sprintf("DRBD on %s could not be read (%v): the replica's is healthy", name, err))
			return nil
		}
		res[name] = r
	}
	b, c := res[boot.Name], res[sec.Name]
	peer := func(name string) bool { n, _ := f.Node(name); return n.Sections["drbd-peer"].RC == 0 }
	var fault *clustertest.DRBDFault
	switch {
	case b.Role == drbd.Primary && c.Role == drbd.Primary:
		fault = &clustertest.DRBDFault{Kind: "split-brain"}
	case b.CState == drbd.StandAlone || c.CState == drbd.StandAlone:
		fault = &clustertest.DRBDFault{Kind: "standalone"}
	case b.CState.Resyncing() || c.CState.Resyncing():
		done, speed := 0.0, 0
		for _, r := range []drbd.Resource{b, c} {
			if r.Sync != nil {
				done, speed = r.Sync.Percent, int(r.Sync.Speed)
			}
		}
		fault = &clustertest.DRBDFault{Kind: "resync", Done: done, Speed: speed}
	case !peer(boot.Name) || !peer(sec.Name):
		fault = &clustertest.DRBDFault{Kind: "peer-unreachable"}
	case !b.CState.Connected() && c.Disk == drbd.Inconsistent:
		fault = &clustertest.DRBDFault{Kind: "inconsistent"}
	case !b.CState.Connected() || !c.CState.Connected():
		fault = &clustertest.DRBDFault{Kind: "disconnect"}
	}
	if fault != nil {
		s.Carried = append(s.Carried, fmt.Sprintf("DRBD: %s (%s %s %s/%s, %s %s %s/%s)", fault.Kind, boot.Name, b.CState, b.Role, b.Disk, sec.Name, c.CState, c.Role, c.Disk))
	} else {
		s.Carried = append(s.Carried, "DRBD: connected, UpToDate on both back ends")
	}
	return fault
}

// procDRBD reads a back end's DRBD resource from its facts: /proc/drbd,
// or drbdadm's answers.
func procDRBD(n upgrade.NodeFacts) (drbd.Resource, error) {
	if p, ok := n.Sections["drbd"]; ok && p.RC == 0 {
		st, err := drbd.ParseProc(strings.NewReader(p.Output))
		if err != nil {
			return drbd.Resource{}, err
		}
		if r, ok := st.Minor(0); ok {
			return r, nil
		}
		return drbd.Resource{}, fmt.Errorf("/proc/drbd has no minor 0")
	}
	var r drbd.Resource
	var err error
	if r.Role, r.PeerRole, err = drbd.ParseRole([]byte(n.Sections["drbd-role"].Output)); err != nil {
		return r, err
	}
	if r.CState, err = drbd.ParseCState([]byte(n.Sections["drbd-cstate"].Output)); err != nil {
		return r, err
	}
	r.Disk, r.PeerDisk, err = drbd.ParseDState([]byte(n.Sections["drbd-dstate"].Output))
	return r, err
}

// releaseOf is the release a package version belongs to: Private Chef
// 1.2's build versions have a fourth part ("1.2.8.3", pc-version.txt),
// and only the first three decide the release (migration.ParseVersion).
func releaseOf(version string) string {
	if parts := strings.Split(version, "."); len(parts) > 3 {
		return strings.Join(parts[:3], ".")
	}
	return version
}
