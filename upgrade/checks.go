package upgrade

import (
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/runit"
)

// Severity of a finding.
type Severity string

const (
	OK   Severity = "ok"
	Warn Severity = "warn"
	Fail Severity = "fail"
)

// Finding is one result of a check on one node ("" for the whole cluster).
type Finding struct {
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	Node     string   `json:"node,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
	Fix      string   `json:"fix,omitempty"`
	Issue    string   `json:"issue,omitempty"` // the OC id, when the finding is a known issue
}

// Input is what checks judge: the facts, and the upgrade they are for.
type Input struct {
	Facts  Facts
	Target *semver.Version
	// Backup describes the operator's backup of the bootstrap ("LVM
	// snapshot vg0/chef-20261125"); empty when none was declared.
	Backup string
}

// Check is one pre-flight check.
type Check interface {
	Name() string
	Doc() string     // what it checks, in the runbook's words
	Roles() []string // the roles it looks at
	// Mandatory checks cannot be ignored.
	Mandatory() bool
	Check(in Input) []Finding
}

type check struct {
	name, doc string
	roles     []string
	mandatory bool
	run       func(in Input) []Finding
}

func (c check) Name() string             { return c.name }
func (c check) Doc() string              { return c.doc }
func (c check) Roles() []string          { return c.roles }
func (c check) Mandatory() bool          { return c.mandatory }
func (c check) Check(in Input) []Finding { return c.run(in) }

var (
	allRoles      = []string{cluster.RoleBackend, cluster.RoleFrontend}
	backendRole   = []string{cluster.RoleBackend}
	frontendRoles = []string{cluster.RoleFrontend}
)

// Checks returns every pre-flight check, in the runbook's order.
func Checks() []Check {
	return []Check{
		check{"reachable", "every node of private-chef.rb answers over SSH and its facts could be read", allRoles, true, checkReachable},
		check{"topology", "private-chef.rb is an HA topology with one bootstrap back end (:bootstrap => true), the same on every node", allRoles, true, checkTopology},
		check{"version", "every node runs the same version, and the runbook has a path from it to the target", allRoles, true, checkVersion},
		check{"backup", "a backup of the bootstrap back end was declared (LVM snapshot, VMware snapshot, …)", backendRole, false, checkBackup},
		check{"migration-level", "every node's migration-level matches the front ends and the version table (OC-11297)", allRoles, false, checkMigrationLevel},
		check{"runit-processes", "runsvdir shows only dots after log:, one runsvdir per service dir, no leftover omnibus-ctl, private-chef-ctl or sv", allRoles, false, checkRunitProcesses},
		check{"service-links", "no links to services EC 11 removed (or to nothing) in /opt/opscode/service", allRoles, false, checkServiceLinks},
		check{"log-dir", "/var/log/opscode is mode 755 (owned by opscode on EC 11), every SERVICE/current exists, its filesystem is not full", allRoles, false, checkLogDir},
		check{"keepalived-log-dir", "/var/log/opscode/keepalived is owned by opscode on EC 11 (OC-11490)", backendRole, false, checkKeepalivedLogDir},
		check{"non-ssl-port", "private-chef.rb does not set nginx['non_ssl_port'] = false for a target that breaks on it (OC-11540)", allRoles, false, checkNonSSLPort},
		check{"config-readable", "private-chef.rb is readable by the services, not left 600 by a umask (OC-11656)", allRoles, false, checkConfigReadable},
		check{"frontends-stopped", "all front ends are stopped (private-chef-ctl stop)", frontendRoles, false, checkFrontendsStopped},
		check{"standby-keepalived-stopped", "keepalived is stopped on the non-bootstrap back end", backendRole, false, checkStandbyKeepalived},
		check{"keepalived-pair", "exactly one back end is master and holds the VIP, none in transition", backendRole, false, checkPair},
		check{"bootstrap-master", "the bootstrap back end is the HA master (partybus refuses to migrate otherwise)", backendRole, false, checkBootstrapMaster},
		check{"bootstrap-healthy", "all of the bootstrap's services run, except those the runbook expects down", backendRole, false, checkBootstrapHealthy},
		check{"standby-services-stopped", "no HA service runs on the standby back end (OC-11575)", backendRole, false, checkStandbyStopped},
	}
}

func okFinding(name, detail string) []Finding {
	return []Finding{{Check: name, Severity: OK, Evidence: []string{detail}}}
}

// readable returns the nodes whose facts were read, with the given roles.
func readable(in Input, roles ...string) []NodeFacts {
	var out []NodeFacts
	for _, n := range in.Facts.Nodes {
		if n.Err == "" && (len(roles) == 0 || slices.Contains(roles, n.Role)) {
			out = append(out, n)
		}
	}
	return out
}

func result(name string, fs []Finding, okDetail string) []Finding {
	if len(fs) == 0 {
		return okFinding(name, okDetail)
	}
	return fs
}

func checkReachable(in Input) []Finding {
	var fs []Finding
	for _, n := range in.Facts.Nodes {
		if n.Err != "" {
			fs = append(fs, Finding{Check: "reachable", Severity: Fail, Node: n.Node, Evidence: []string{n.Err},
				Fix: "make the node reachable over SSH (address, key, known_hosts, sudo) and run again"})
		}
	}
	return result("reachable", fs, fmt.Sprintf("%d nodes read", len(in.Facts.Nodes)))
}

func checkTopology(in Input) []Finding {
	t := in.Facts.Topology
	if t.Kind != cluster.TopologyHA {
		return []Finding{{Check: "topology", Severity: Fail, Evidence: []string{fmt.Sprintf("topology %q", t.Kind)},
			Fix: "chefha upgrades HA clusters: private-chef.rb must say topology \"ha\""}}
	}
	boot, ok := t.Bootstrap()
	if !ok {
		return []Finding{{Check: "topology", Severity: Fail, Evidence: []string{"no server with :bootstrap => true"},
			Fix: "mark the original bootstrap back end with :bootstrap => true in /etc/opscode/private-chef.rb"}}
	}
	var fs []Finding
	bf, _ := in.Facts.Node(boot.Name)
	want, _ := bf.ok("topology")
	for _, n := range readable(in) {
		got, ok := n.ok("topology")
		switch {
		case !ok:
			fs = append(fs, Finding{Check: "topology", Severity: Fail, Node: n.Node, Evidence: []string{"cannot read " + cluster.TopologyPath + ": " + strings.TrimSpace(got)},
				Fix: "copy /etc/opscode from the bootstrap " + boot.Name + " to this node"})
		case got != want:
			fs = append(fs, Finding{Check: "topology", Severity: Warn, Node: n.Node, Evidence: []string{cluster.TopologyPath + " differs from the bootstrap's"},
				Fix: "copy /etc/opscode from the bootstrap " + boot.Name + " to this node (the runner does this after upgrading the bootstrap)"})
		}
	}
	sec, _ := t.Secondary()
	return result("topology", fs, fmt.Sprintf("HA: bootstrap %s, secondary %s, %d front ends", boot.Name, sec.Name, len(t.Frontends())))
}

// installedVersion is the version most nodes run (the runbook assumes one).
func installedVersion(in Input) (*semver.Version, []Finding) {
	var fs []Finding
	seen := map[string][]string{}
	for _, n := range readable(in) {
		v, err := n.Version()
		if err != nil {
			fs = append(fs, Finding{Check: "version", Severity: Fail, Node: n.Node, Evidence: []string{err.Error()},
				Fix: "check that Private Chef / Enterprise Chef is installed on this node"})
			continue
		}
		seen[v] = append(seen[v], n.Node)
	}
	var best string
	for v, nodes := range seen {
		if best == "" || len(nodes) > len(seen[best]) || len(nodes) == len(seen[best]) && v < best {
			best = v
		}
	}
	for v, nodes := range seen {
		if v != best {
			for _, node := range nodes {
				fs = append(fs, Finding{Check: "version", Severity: Fail, Node: node, Evidence: []string{"runs " + v + ", the others " + best},
					Fix: "bring every node to the same version before upgrading (install " + best + " here, or finish the interrupted upgrade)"})
			}
		}
	}
	if best == "" {
		return nil, fs
	}
	v, err := migration.ParseVersion(best)
	if err != nil {
		fs = append(fs, Finding{Check: "version", Severity: Fail, Evidence: []string{err.Error()}})
	}
	return v, fs
}

func checkVersion(in Input) []Finding {
	from, fs := installedVersion(in)
	if from == nil {
		return fs
	}
	if in.Target == nil {
		return result("version", fs, "all nodes run "+from.String()+" (no target given)")
	}
	hops, err := PlanHops(from, in.Target)
	if pe, ok := err.(*PlanError); ok {
		for _, m := range pe.Mandatory {
			fs = append(fs, Finding{Check: "version", Severity: Fail, Evidence: []string{m}, Fix: "choose a target the runbook supports (11.1.3+)"})
		}
		for _, s := range pe.Skippable {
			fs = append(fs, Finding{Check: "version", Severity: Warn, Evidence: []string{s}, Fix: "upgrade to 11.1.3 or later, as the runbook advises"})
		}
	}
	var plan []string
	for _, h := range hops {
		plan = append(plan, h.String())
	}
	if len(plan) == 0 {
		plan = []string{"nothing to do"}
	}
	return result("version", fs, "all nodes run "+from.String()+"; plan: "+strings.Join(plan, ", then "))
}

func checkBackup(in Input) []Finding {
	if in.Backup != "" {
		return okFinding("backup", "declared: "+in.Backup)
	}
	boot, _ := in.Facts.Topology.Bootstrap()
	return []Finding{{Check: "backup", Severity: Warn, Node: boot.Name, Evidence: []string{"no backup declared"},
		Fix: "back up the bootstrap's data (LVM snapshot, VMware snapshot, …), test it, and declare it (-backup 'what and where')"}}
}

func checkMigrationLevel(in Input) []Finding {
	var fs []Finding
	var nodes []migration.NodeLevel
	for _, n := range readable(in) {
		out, ok := n.ok("level")
		nl := migration.NodeLevel{Node: n.Node, Frontend: n.Role == cluster.RoleFrontend}
		if !ok {
			nl.Err = fmt.Errorf("cannot read %s: %s", migration.Path, strings.TrimSpace(out))
		} else {
			nl.Level, nl.Err = migration.Parse([]byte(out))
		}
		nodes = append(nodes, nl)
	}
	var expected *migration.Level
	if from, _ := installedVersion(in); from != nil {
		if l, err := migration.Expected(from); err == nil {
			expected = &l
		}
	}
	cmp, err := migration.Compare(nodes, expected)
	if err != nil {
		return []Finding{{Check: "migration-level", Severity: Fail, Evidence: []string{err.Error()}, Issue: "OC-11297",
			Fix: "decide which level is right from the version table and write it on every node"}}
	}
	for _, m := range cmp.Mismatches {
		fs = append(fs, Finding{Check: "migration-level", Severity: Fail, Node: m.Node, Evidence: []string{m.String() + " (" + cmp.WantFrom + ")"},
			Fix: cmp.Fix() + ": partybus reads a wrong or unreadable level as 0.0 and re-runs every migration", Issue: "OC-11297"})
	}
	return result("migration-level", fs, "every node holds "+cmp.Want.String())
}

func runitFindings(name string, sev Severity, n NodeFacts, rf []runit.Finding) []Finding {
	var fs []Finding
	for _, f := range rf {
		ev := append([]string{string(f.Symptom) + ": " + f.Subject}, f.Evidence...)
		fs = append(fs, Finding{Check: name, Severity: sev, Node: n.Node, Evidence: ev, Fix: f.Fix})
	}
	return fs
}

func checkRunitProcesses(in Input) []Finding {
	var fs []Finding
	for _, n := range readable(in) {
		ps, err := n.Processes()
		if err != nil {
			fs = append(fs, Finding{Check: "runit-processes", Severity: Fail, Node: n.Node, Evidence: []string{err.Error()}})
			continue
		}
		rs := runit.FindRunsvdirs(ps)
		if len(rs) == 0 {
			fs = append(fs, Finding{Check: "runit-processes", Severity: Fail, Node: n.Node, Evidence: []string{"no runsvdir process"},
				Fix: "start the supervision tree: initctl start private-chef-runsvdir (opscode-runsvdir before EC 11)"})
		}
		fs = append(fs, runitFindings("runit-processes", Fail, n, runit.DiagnoseProcesses(ps))...)
	}
	return result("runit-processes", fs, "runsvdir healthy everywhere")
}

func nodeIsEC11(n NodeFacts) bool {
	v, err := n.Version()
	return err == nil && strings.HasPrefix(v, "11.")
}

func checkServiceLinks(in Input) []Finding {
	var fs []Finding
	for _, n := range readable(in) {
		out, ok := n.ok("links")
		if !ok {
			fs = append(fs, Finding{Check: "service-links", Severity: Warn, Node: n.Node, Evidence: []string{"cannot list " + runit.DefaultServiceDir + ": " + strings.TrimSpace(out)}})
			continue
		}
		links, err := runit.ParseLinks(strings.NewReader(out))
		if err != nil {
			fs = append(fs, Finding{Check: "service-links", Severity: Warn, Node: n.Node, Evidence: []string{err.Error()}})
			continue
		}
		fs = append(fs, runitFindings("service-links", Warn, n, runit.DiagnoseServiceLinks(runit.DefaultServiceDir, links, nodeIsEC11(n)))...)
	}
	return result("service-links", fs, "no stale service links")
}

// stats parses the stat section (stat's complaints about missing files went
// to the same output; they are what "missing" means, so they are skipped).
func (n NodeFacts) stats() []runit.FileStat {
	s := n.Sections["stat"]
	var keep []string
	for _, l := range strings.Split(s.Output, "\n") {
		if l != "" && !strings.HasPrefix(l, "stat: ") {
			keep = append(keep, l)
		}
	}
	st, _ := runit.ParseStat(strings.NewReader(strings.Join(keep, "\n")))
	return st
}

func (n NodeFacts) stat(path string) (runit.FileStat, bool) {
	for _, s := range n.stats() {
		if s.Path == path {
			return s, true
		}
	}
	return runit.FileStat{}, false
}

func checkLogDir(in Input) []Finding {
	var fs []Finding
	for _, n := range readable(in) {
		dir, ok := n.stat(runit.DefaultLogDir)
		if !ok {
			fs = append(fs, Finding{Check: "log-dir", Severity: Fail, Node: n.Node, Evidence: []string{runit.DefaultLogDir + " is missing"},
				Fix: "mkdir -m 755 " + runit.DefaultLogDir + " and reconfigure"})
			continue
		}
		ld := runit.LogDir{Dir: dir, Files: n.stats()}
		if svcs, err := n.Services(); err == nil {
			for _, s := range svcs {
				if s.Service != "keepalived" && s.Up() {
					ld.Services = append(ld.Services, s.Service)
				}
			}
		}
		for _, sec := range []string{"df", "dfi"} {
			if out, ok := n.ok(sec); ok {
				if u, err := runit.ParseDF(strings.NewReader(out)); err == nil {
					ld.Usage = append(ld.Usage, u...)
				}
			}
		}
		owner := ""
		if nodeIsEC11(n) {
			owner = "opscode"
		}
		rf := runit.DiagnoseLogDir(ld, owner)
		for i := range rf {
			if rf[i].Symptom == runit.SymptomLogDirOwner {
				rf[i].Fix = "(OC-11426) " + rf[i].Fix
			}
		}
		fs = append(fs, runitFindings("log-dir", Fail, n, rf)...)
	}
	return result("log-dir", fs, "log directories healthy")
}

func checkKeepalivedLogDir(in Input) []Finding {
	// Before EC 11 the directory is root's by design; the runner chowns it
	// before the EC 11 reconfigure. On EC 11 a root-owned one is the bug.
	var fs []Finding
	for _, n := range readable(in, cluster.RoleBackend) {
		st, ok := n.stat("/var/log/opscode/keepalived")
		if !ok || st.Owner == "opscode" || !nodeIsEC11(n) {
			continue
		}
		fs = append(fs, Finding{Check: "keepalived-log-dir", Severity: Fail, Node: n.Node, Issue: "OC-11490",
			Evidence: []string{fmt.Sprintf("/var/log/opscode/keepalived is owned by %s:%s", st.Owner, st.Group)},
			Fix:      "chown -R opscode:opscode /var/log/opscode/keepalived, or keepalived cannot run on EC 11 (the runner does this before reconfiguring)"})
	}
	return result("keepalived-log-dir", fs, "keepalived can write its log")
}

// checkNonSSLPort reads each node's private-chef.rb as gathered: the file
// on disk is what reconfigure will use.
func checkNonSSLPort(in Input) []Finding {
	sev := Warn
	if in.Target == nil || in.Target.LessThan(semver.MustParse("11.1.8")) {
		sev = Fail
	}
	var fs []Finding
	parsed := map[string]cluster.Topology{} // nodes mostly hold the same file
	for _, n := range readable(in) {
		rb, ok := n.ok("topology")
		if !ok {
			continue
		}
		top, seen := parsed[rb]
		if !seen {
			var err error
			if top, err = cluster.ParseTopology(strings.NewReader(rb)); err != nil {
				continue // the topology check reports it
			}
			parsed[rb] = top
		}
		if v, ok := top.Setting("nginx['non_ssl_port']"); ok && v == "false" {
			fs = append(fs, Finding{Check: "non-ssl-port", Severity: sev, Node: n.Node, Issue: "OC-11540",
				Evidence: []string{"private-chef.rb sets nginx['non_ssl_port'] = false"},
				Fix:      "remove that line from /etc/opscode/private-chef.rb before the upgrade (EC 11 before 11.1.8 writes an invalid opscode-account config); set it again afterwards"})
		}
	}
	return result("non-ssl-port", fs, "nginx['non_ssl_port'] not set to false")
}

func checkConfigReadable(in Input) []Finding {
	var fs []Finding
	for _, n := range readable(in) {
		st, ok := n.stat(cluster.TopologyPath)
		if !ok {
			continue
		}
		if st.Mode.Perm()&0o044 == 0 {
			fs = append(fs, Finding{Check: "config-readable", Severity: Warn, Node: n.Node, Issue: "OC-11656",
				Evidence: []string{fmt.Sprintf("%s has mode %#o", cluster.TopologyPath, uint32(st.Mode.Perm()))},
				Fix:      "chmod 644 " + cluster.TopologyPath + " and run reconfigure with umask 022"})
		}
	}
	return result("config-readable", fs, "configuration readable")
}

// upServices lists the node's running services (keepalived aside).
func upServices(n NodeFacts) []string {
	svcs, err := n.Services()
	if err != nil {
		return nil
	}
	var up []string
	for _, s := range svcs {
		if s.State == runit.StateRun && s.Service != "keepalived" {
			up = append(up, s.Service)
		}
	}
	return up
}

func checkFrontendsStopped(in Input) []Finding {
	var fs []Finding
	for _, n := range readable(in, cluster.RoleFrontend) {
		if up := upServices(n); len(up) > 0 {
			fs = append(fs, Finding{Check: "frontends-stopped", Severity: Warn, Node: n.Node,
				Evidence: []string{fmt.Sprintf("%d services running: %s", len(up), abbreviateList(up, 5))},
				Fix:      "private-chef-ctl stop on every front end (the runner does this first)"})
		}
	}
	return result("frontends-stopped", fs, "front ends stopped")
}

func abbreviateList(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return strings.Join(xs[:n], ", ") + fmt.Sprintf(", … (%d more)", len(xs)-n)
}

func keepalivedRunning(n NodeFacts) bool {
	ps, err := n.Processes()
	if err != nil {
		return false
	}
	for _, p := range ps {
		if strings.HasSuffix(p.Name(), "keepalived") {
			return true
		}
	}
	return false
}

// backendFacts returns the readable facts of the bootstrap (or the
// secondary); unreadable nodes are the reachable check's to report.
func backendFacts(in Input, bootstrap bool) (NodeFacts, bool) {
	get := in.Facts.Topology.Secondary
	if bootstrap {
		get = in.Facts.Topology.Bootstrap
	}
	s, ok := get()
	if !ok {
		return NodeFacts{}, false
	}
	n, found := in.Facts.Node(s.Name)
	return n, found && n.Err == ""
}

func checkStandbyKeepalived(in Input) []Finding {
	n, ok := backendFacts(in, false)
	if !ok {
		return nil
	}
	if keepalivedRunning(n) {
		return []Finding{{Check: "standby-keepalived-stopped", Severity: Warn, Node: n.Node, Evidence: []string{"keepalived is running"},
			Fix: "private-chef-ctl stop keepalived on " + n.Node + " so the bootstrap stays the active machine (the runner does this; it may trigger a failover)"}}
	}
	return okFinding("standby-keepalived-stopped", "keepalived stopped on "+n.Node)
}

func pair(in Input) (keepalived.Pair, bool) {
	t := in.Facts.Topology
	boot, ok1 := t.Bootstrap()
	sec, ok2 := t.Secondary()
	if !ok1 || !ok2 {
		return keepalived.Pair{}, false
	}
	vip := ""
	if t.BackendVIP != nil {
		vip, _, _ = strings.Cut(t.BackendVIP.IPAddress, "/")
	}
	bf, _ := in.Facts.Node(boot.Name)
	sf, _ := in.Facts.Node(sec.Name)
	return keepalived.Pair{Bootstrap: bf.KeepalivedState(vip), Secondary: sf.KeepalivedState(vip)}, true
}

func keepalivedFindings(name string, kf []keepalived.Finding) []Finding {
	var fs []Finding
	for _, f := range kf {
		fs = append(fs, Finding{Check: name, Severity: Fail, Node: f.Node, Evidence: []string{string(f.Problem) + ": " + f.Detail}, Fix: f.Fix})
	}
	return fs
}

func checkPair(in Input) []Finding {
	p, ok := pair(in)
	if !ok {
		return nil
	}
	var kf []keepalived.Finding
	for _, f := range keepalived.Judge(p) {
		if f.Problem != keepalived.ProblemUnreadable { // reachable reports those
			kf = append(kf, f)
		}
	}
	m, _ := p.Master()
	return result("keepalived-pair", keepalivedFindings("keepalived-pair", kf), "master: "+m.Name)
}

func checkBootstrapMaster(in Input) []Finding {
	p, ok := pair(in)
	if !ok || p.Bootstrap.Err != nil {
		return nil
	}
	return result("bootstrap-master", keepalivedFindings("bootstrap-master", keepalived.JudgeBootstrapMaster(p)), p.Bootstrap.Name+" is master")
}

func checkBootstrapHealthy(in Input) []Finding {
	n, ok := backendFacts(in, true)
	if !ok {
		return nil
	}
	svcs, err := n.Services()
	if err != nil {
		return []Finding{{Check: "bootstrap-healthy", Severity: Fail, Node: n.Node, Evidence: []string{err.Error()}}}
	}
	var down []string
	for _, s := range svcs {
		if s.Service == "keepalived" || slices.Contains(runit.ExpectedDownDuringUpgrade(), s.Service) {
			continue
		}
		if s.State != runit.StateRun {
			down = append(down, s.Service)
		}
	}
	if len(down) > 0 {
		return []Finding{{Check: "bootstrap-healthy", Severity: Fail, Node: n.Node,
			Evidence: []string{fmt.Sprintf("%d services not running: %s", len(down), abbreviateList(down, 6))},
			Fix:      "private-chef-ctl start on " + n.Node + " and check each service's log under /var/log/opscode; the bootstrap must be healthy before the upgrade"}}
	}
	return okFinding("bootstrap-healthy", fmt.Sprintf("%d services running on %s", len(svcs), n.Node))
}

func checkStandbyStopped(in Input) []Finding {
	n, ok := backendFacts(in, false)
	if !ok {
		return nil
	}
	if up := upServices(n); len(up) > 0 {
		return []Finding{{Check: "standby-services-stopped", Severity: Fail, Node: n.Node, Issue: "OC-11575",
			Evidence: []string{fmt.Sprintf("%d HA services running on the standby: %s", len(up), abbreviateList(up, 5))},
			Fix:      "private-chef-ctl stop on " + n.Node + " (services started at boot on the passive back end)"}}
	}
	return okFinding("standby-services-stopped", "standby services stopped")
}
