package upgrade

import (
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/issue"
)

// Severity of a finding.
type Severity string

const (
	OK   Severity = "ok"
	Warn Severity = "warn"
	Fail Severity = "fail"
	// Skip is a check that had nothing to judge: its nodes could not be
	// read, or the topology has none of its role. It says why, never ok.
	Skip Severity = "skipped"
)

// Finding is one result of a check on one node ("" for the whole cluster).
type Finding struct {
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	Node     string   `json:"node,omitempty"`
	// Symptom names what exactly was found, for programs (a runit symptom,
	// "not-master", …); steps of the plan declare the symptoms they remedy.
	Symptom  string   `json:"symptom,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
	Fix      string   `json:"fix,omitempty"`
	Issue    issue.ID `json:"issue,omitempty"` // the known issue, when the finding is one
	// Ignored: the operator ignored the check (WithIgnore); the finding
	// is shown but neither blocks nor counts as a failure or warning.
	Ignored bool `json:"ignored,omitempty"`
}

// Input is what checks judge: the facts, and the upgrade they are for.
type Input struct {
	Facts  Facts
	Target *semver.Version
	// Backup is the operator's declared backup of the bootstrap.
	Backup Backup
	// Apply says the judging is for a run that acts: there a missing
	// backup fails, where a read-only pre-flight or a dry run warns.
	Apply bool
	// Mode is what the cluster should look like (never ModeAuto here).
	Mode Mode

	views map[string]*nodeView
}

// newInput prepares in for judging: each node's facts are parsed once,
// however many checks read them.
func newInput(f Facts, target *semver.Version, backup Backup, mode Mode) Input {
	in := Input{Facts: f, Target: target, Backup: backup, views: map[string]*nodeView{}}
	for _, n := range f.Nodes {
		in.views[n.Node] = &nodeView{NodeFacts: n}
	}
	in.Mode = in.resolveMode(mode)
	return in
}

// resolveMode decides ModeAuto: a cluster whose every node already runs the
// target is judged as just upgraded.
func (in Input) resolveMode(m Mode) Mode {
	if m != ModeAuto {
		return m
	}
	from, _ := installedVersion(in)
	if from != nil && in.Target != nil && from.Equal(in.Target) {
		return ModePostFlight
	}
	return ModePreUpgrade
}

// view returns the parsed facts of a node.
func (in Input) view(n NodeFacts) *nodeView {
	if v, ok := in.views[n.Node]; ok {
		return v
	}
	return &nodeView{NodeFacts: n}
}

// Check is one pre-flight (or post-flight) check.
type Check interface {
	Name() string
	Doc() string     // what it checks, in the runbook's words
	Roles() []string // the roles it looks at
	// Mandatory checks cannot be ignored.
	Mandatory() bool
	// Applies says whether the check runs in mode (pre- or post-upgrade).
	Applies(m Mode) bool
	Check(in Input) []Finding
}

type check struct {
	name, doc string
	roles     []string
	mandatory bool
	modes     []Mode // nil: both
	run       func(in Input) []Finding
}

func (c check) Name() string             { return c.name }
func (c check) Doc() string              { return c.doc }
func (c check) Roles() []string          { return c.roles }
func (c check) Mandatory() bool          { return c.mandatory }
func (c check) Applies(m Mode) bool      { return c.modes == nil || slices.Contains(c.modes, m) }
func (c check) Check(in Input) []Finding { return c.run(in) }

var (
	allRoles      = []string{cluster.RoleBackend, cluster.RoleFrontend}
	backendRole   = []string{cluster.RoleBackend}
	frontendRoles = []string{cluster.RoleFrontend}
	preOnly       = []Mode{ModePreUpgrade}
	postOnly      = []Mode{ModePostFlight}
)

// Checks returns every check, in the runbook's order. The pre-flight runs
// those that apply before an upgrade; the post-flight (the runner's verify
// step, and Preflight on an upgraded cluster) those that apply after.
func Checks() []Check {
	return []Check{
		inputCheck{check{"reachable", "every node of private-chef.rb answers over SSH and its facts could be read", allRoles, true, nil, checkReachable}},
		inputCheck{check{"topology", "private-chef.rb is an HA topology with one bootstrap back end (:bootstrap => true), the same on every node", allRoles, true, nil, checkTopology}},
		check{"version", "every node runs the same version, and the runbook has a path from it to the target (after: every node runs the target)", allRoles, true, nil, checkVersion},
		inputCheck{check{"backup", "a backup of the bootstrap back end was declared (LVM snapshot, VMware snapshot, …)", backendRole, false, preOnly, checkBackup}},
		check{"migration-level", "every node's migration-level matches the front ends and the version table (" + string(issue.OC11297) + ")", allRoles, false, nil, checkMigrationLevel},
		check{"runit-processes", "runsvdir shows only dots after log:, one runsvdir per service dir, no leftover omnibus-ctl, private-chef-ctl or sv", allRoles, false, nil, checkRunitProcesses},
		check{"service-links", "no links to services EC 11 removed (or to nothing) in /opt/opscode/service", allRoles, false, nil, checkServiceLinks},
		check{"log-dir", "/var/log/opscode lets the services reach their logs (755; owned by opscode on EC 11), every SERVICE/current exists, its filesystem is not full", allRoles, false, nil, checkLogDir},
		check{"keepalived-log-dir", "/var/log/opscode/keepalived is owned by opscode on EC 11 (" + string(issue.OC11490) + ")", backendRole, false, nil, checkKeepalivedLogDir},
		check{"non-ssl-port", "private-chef.rb does not set nginx['non_ssl_port'] = false for a target that breaks on it (" + string(issue.OC11540) + ")", allRoles, false, preOnly, checkNonSSLPort},
		check{"config-readable", "private-chef.rb and the services' configurations are readable by the services, not narrowed by a umask (" + string(issue.OC11656) + ")", allRoles, false, nil, checkConfigReadable},
		check{"frontends-stopped", "all front ends are stopped (private-chef-ctl stop)", frontendRoles, false, preOnly, checkFrontendsStopped},
		check{"standby-keepalived-stopped", "keepalived is stopped on the non-bootstrap back end", backendRole, false, preOnly, checkStandbyKeepalived},
		pairCheck{check{"keepalived-pair", "exactly one back end is master and holds the VIP, none in transition", backendRole, false, nil, checkPair}},
		pairCheck{check{"bootstrap-master", "the bootstrap back end is the HA master (partybus refuses to migrate otherwise)", backendRole, false, nil, checkBootstrapMaster}},
		pairCheck{check{"drbd-connected", "DRBD replicates: cs Connected on both back ends (ha-status exit 4)", backendRole, false, nil, checkDRBDConnected}},
		pairCheck{check{"drbd-uptodate", "both DRBD disks are UpToDate, no resync running: a failover before then serves stale data (ha-status exit 4)", backendRole, false, nil, checkDRBDUpToDate}},
		pairCheck{check{"drbd-roles", "DRBD Primary on the keepalived master only; two Primaries are split brain (ha-status exit 4)", backendRole, true, nil, checkDRBDRoles}},
		pairCheck{check{"drbd-mount", "the DRBD data directory is mounted on the master only (ha-status exit 5)", backendRole, false, nil, checkDRBDMount}},
		pairCheck{check{"drbd-peer", "each back end reaches the other's replication address (ha-status exit 6)", backendRole, false, nil, checkDRBDPeer}},
		check{"bootstrap-healthy", "all of the bootstrap's services run, except those the runbook expects down", backendRole, false, preOnly, checkBootstrapHealthy},
		check{"standby-services-stopped", "no HA service runs on the standby back end (" + string(issue.OC11575) + ")", backendRole, false, nil, checkStandbyStopped},
		check{"services-up", "every service the node's role and version run is up, on every node", allRoles, false, postOnly, checkServicesUp},
		check{"keepalived-running", "keepalived runs on both back ends again", backendRole, false, postOnly, checkKeepalivedRunning},
		check{"etc-opscode-perms", "/etc/opscode's files have the owner, group and mode the target's recipes give them (the keys opscode:root 0600)", allRoles, false, postOnly, checkEtcOpscodePerms},
		check{"service-file-perms", "the services' configurations and start scripts have the owner, group and mode the target's recipes give them (opscode's from 11.1.7, " + string(issue.OC11656) + ")", allRoles, false, postOnly, checkServiceFilePerms},
	}
}

// inputCheck is a check that judges the run's inputs (the node list, the
// topology, the declared backup) rather than what the nodes said: it has
// something to judge even when no node could be read.
type inputCheck struct{ check }

func (inputCheck) judgesInputs() bool { return true }

// pairCheck is a check that judges the back ends as a pair (keepalived's
// master and backup, DRBD's two sides): one side alone cannot pass it.
type pairCheck struct{ check }

func (pairCheck) judgesPair() bool { return true }

// runCheck runs c on in and holds every check to the same rules, as
// kubeadm's runner does: each finding carries the check's name; a check
// whose role has no node, or none that could be read, is skipped with
// why, never ok; an ok from some of its nodes names those it could not
// read, and a pair check (keepalived, DRBD) that could read one back end
// only is skipped, since one side cannot judge the pair.
func runCheck(c Check, in Input) []Finding {
	skip := func(why string) []Finding {
		return []Finding{{Check: c.Name(), Severity: Skip, Evidence: []string{why}}}
	}
	_, inputs := c.(interface{ judgesInputs() bool })
	var of, unread []string
	for _, n := range in.Facts.Nodes {
		if slices.Contains(c.Roles(), n.Role) {
			of = append(of, n.Node)
			if n.Err != "" {
				unread = append(unread, n.Node)
			}
		}
	}
	if !inputs {
		switch {
		case len(of) == 0:
			return skip("no " + strings.Join(c.Roles(), " or ") + " in the topology")
		case len(unread) == len(of):
			return skip("no node to judge: " + strings.Join(unread, ", ") + " unreadable")
		}
	}
	fs := c.Check(in)
	for i := range fs {
		if fs[i].Check == "" {
			fs[i].Check = c.Name()
		}
	}
	if inputs || len(unread) == 0 || slices.ContainsFunc(fs, func(f Finding) bool { return f.Severity != OK }) {
		return fs
	}
	if _, pair := c.(interface{ judgesPair() bool }); pair {
		return skip("one side of the pair only: " + strings.Join(unread, ", ") + " unreadable")
	}
	for i := range fs {
		fs[i].Evidence = append(fs[i].Evidence, "not judged: "+strings.Join(unread, ", ")+" unreadable")
	}
	return fs
}

func okFinding(name, detail string) []Finding {
	return []Finding{{Check: name, Severity: OK, Evidence: []string{detail}}}
}

// readable returns the nodes whose facts were read, with the given roles.
func readable(in Input, roles ...string) []*nodeView {
	var out []*nodeView
	for _, n := range in.Facts.Nodes {
		if n.Err == "" && (len(roles) == 0 || slices.Contains(roles, n.Role)) {
			out = append(out, in.view(n))
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

func abbreviateList(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return strings.Join(xs[:n], ", ") + fmt.Sprintf(", … (%d more)", len(xs)-n)
}

// backendView returns the readable facts of the bootstrap (or the
// secondary); unreadable nodes are the reachable check's to report.
func backendView(in Input, bootstrap bool) (*nodeView, bool) {
	get := in.Facts.Topology.Secondary
	if bootstrap {
		get = in.Facts.Topology.Bootstrap
	}
	s, ok := get()
	if !ok {
		return nil, false
	}
	n, found := in.Facts.Node(s.Name)
	if !found || n.Err != "" {
		return nil, false
	}
	return in.view(n), true
}
