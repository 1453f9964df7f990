package upgrade

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/runit"
)

// ActionKind is what an action does. Every action that changes a node goes
// through Runner.act, so a dry run lists exactly what a real run does.
type ActionKind string

const (
	ActRun         ActionKind = "run"          // run Argv on Node
	ActUpload      ActionKind = "upload"       // copy local Src to Node:Path
	ActWrite       ActionKind = "write"        // write Content to Node:Path, keeping the old file beside it
	ActCopyTree    ActionKind = "copy-tree"    // copy From:Path to Node:Path (verified, old tree kept)
	ActGate        ActionKind = "gate"         // wait: keepalived stable with Master, Node's services up, runsvdir healthy
	ActVerifyLevel ActionKind = "verify-level" // read Node's migration level, want Level
	ActCheckRunit  ActionKind = "check-runit"  // runsvdir healthy and no leftover processes on Node
	ActConfirm     ActionKind = "confirm"      // stop unless the operator confirmed
)

// Action is one thing the runner does.
type Action struct {
	Kind    ActionKind `json:"kind"`
	Node    string     `json:"node,omitempty"`
	Argv    []string   `json:"argv,omitempty"`
	Src     string     `json:"src,omitempty"`
	From    string     `json:"from,omitempty"`
	Path    string     `json:"path,omitempty"`
	Content string     `json:"content,omitempty"`
	Level   string     `json:"level,omitempty"`
	Master  string     `json:"master,omitempty"`
	// FailOn are output lines that mean failure even on exit 0: partybus
	// swallows oc_authz_migrator errors (OC-11658) and exits 0 when its
	// lock is held.
	FailOn []string `json:"fail_on,omitempty"`
	// RetryAfterGate re-runs a failed command once after a stable-master
	// gate: partybus resumes from the level reached (OC-11382).
	RetryAfterGate bool `json:"retry_after_gate,omitempty"`
	// IgnoreExit accepts a non-zero exit (stopping a job that may not run).
	IgnoreExit bool   `json:"ignore_exit,omitempty"`
	Why        string `json:"why,omitempty"`
}

func (a Action) String() string {
	switch a.Kind {
	case ActRun:
		return fmt.Sprintf("%s: %s", a.Node, cluster.ShellJoin(a.Argv))
	case ActUpload:
		return fmt.Sprintf("%s: upload %s to %s", a.Node, a.Src, a.Path)
	case ActWrite:
		return fmt.Sprintf("%s: write %q to %s (old file kept)", a.Node, strings.TrimSpace(a.Content), a.Path)
	case ActCopyTree:
		return fmt.Sprintf("%s: copy %s:%s to %s (verified, old tree kept)", a.Node, a.From, a.Path, a.Path)
	case ActGate:
		return fmt.Sprintf("wait until %s is keepalived master and stable, %s's services run and runsvdir is healthy", a.Master, a.Node)
	case ActVerifyLevel:
		return fmt.Sprintf("%s: verify migration level is %s", a.Node, a.Level)
	case ActCheckRunit:
		return fmt.Sprintf("%s: check runsvdir and leftover processes", a.Node)
	case ActConfirm:
		return "confirm: " + a.Why
	}
	return string(a.Kind)
}

// Changes reports whether the action changes a node (gates and checks
// only read).
func (a Action) Changes() bool {
	switch a.Kind {
	case ActRun, ActUpload, ActWrite, ActCopyTree:
		return true
	}
	return false
}

// StepKind names what a step is for; its "already done?" test is chosen by kind.
type StepKind string

const (
	StepBackup           StepKind = "backup"
	StepReconfigureAll   StepKind = "reconfigure-all"
	StepStopFrontends    StepKind = "stop-frontends"
	StepStopKeepalived   StepKind = "stop-standby-keepalived"
	StepRepairLevels     StepKind = "repair-migration-levels"
	StepCheckRunit       StepKind = "check-runit"
	StepRecoverRunit     StepKind = "recover-runit"
	StepBootstrapHealthy StepKind = "bootstrap-healthy"
	StepInstall          StepKind = "install-package"
	StepReconfigureBoot  StepKind = "reconfigure-bootstrap"
	StepUpgradeBootstrap StepKind = "upgrade-bootstrap"
	StepCopyConfig       StepKind = "copy-etc-opscode"
	StepUpgradeSecondary StepKind = "upgrade-secondary"
	StepUpgradeFrontend  StepKind = "upgrade-frontend"
	StepStartAll         StepKind = "start-all"
	StepVerify           StepKind = "verify"
	StepCleanup          StepKind = "cleanup"
)

// Step is one step of the runbook, on the nodes its actions name.
type Step struct {
	ID      string        `json:"id"` // unique and stable: "hop1/08-install-package"
	Hop     int           `json:"hop"`
	Kind    StepKind      `json:"kind"`
	Title   string        `json:"title"`
	Issues  []string      `json:"issues,omitempty"` // OC ids the step mitigates
	Target  string        `json:"target"`           // the hop's target version
	Level   string        `json:"level"`            // the hop's level after
	Nodes   []string      `json:"nodes,omitempty"`
	Actions []Action      `json:"actions"`
	Timeout time.Duration `json:"timeout"`
}

// Plan is the whole upgrade: its steps, and the inputs they came from.
type Plan struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Topology string `json:"topology"` // hash of the servers and roles
	Steps    []Step `json:"steps"`
}

// Hash identifies the plan: a resumed run must have the same one.
func (p Plan) Hash() string {
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// PlanOptions shape the plan.
type PlanOptions struct {
	// BackupCommand runs on the bootstrap before each hop (an LVM or VM
	// snapshot). Without it the plan is refused unless BackupWaived says
	// why (e.g. "snapshot taken by the storage team, ticket 1234").
	BackupCommand []string
	BackupWaived  string
	// Packages maps a package family ("debian", "rhel") and version to the
	// local package file: Packages["debian"]["11.1.8"] = ".../private-chef_11.1.8-1_amd64.deb".
	Packages map[string]map[string]string
	// RecoverRunit adds the runbook's runsvdir recovery on nodes whose
	// runsvdir is unhealthy, instead of stopping.
	RecoverRunit bool
	// Cleanup adds `private-chef-ctl cleanup` at the end; it still waits for
	// the operator's confirmation (Runner.ConfirmCleanup).
	Cleanup bool
	// StepTimeout bounds each step (default 30 minutes).
	StepTimeout time.Duration
}

// ErrNoBackup refuses a plan without a backup.
var ErrNoBackup = errors.New("no backup: give the command that backs up the bootstrap (-backup-cmd, e.g. an LVM snapshot) or waive it with the reason (-backup-waived)")

// svwait is the longer sv wait chefha gives every private-chef-ctl call (OC-11657).
const svwait = "SVWAIT=30"

func ctl(args ...string) []string {
	return append([]string{"env", svwait, "private-chef-ctl"}, args...)
}

// withUmask runs argv under umask 022: EC 11 before 11.1.8 lets the
// caller's umask into files its services must read (OC-11656).
func withUmask(argv []string) []string {
	return append([]string{"sh", "-c", `umask 022; exec "$@"`, "chefha"}, argv...)
}

// BuildPlan turns the facts of a cluster and a target into the runbook's
// steps, per hop. It refuses what the pre-flight calls mandatory failures
// (unreachable nodes, no bootstrap, no path) and a plan without a backup.
func BuildPlan(f Facts, target *semver.Version, o PlanOptions) (Plan, error) {
	if o.StepTimeout == 0 {
		o.StepTimeout = 30 * time.Minute
	}
	if len(o.BackupCommand) == 0 && o.BackupWaived == "" {
		return Plan{}, ErrNoBackup
	}
	in := Input{Facts: f, Target: target}
	if err := blocking(in, o); err != nil {
		return Plan{}, err
	}
	from, vf := installedVersion(in)
	for _, fd := range vf {
		if fd.Severity == Fail {
			return Plan{}, fmt.Errorf("cannot plan: %s: %s", fd.Node, strings.Join(fd.Evidence, "; "))
		}
	}
	hops, err := PlanHops(from, target)
	var pe *PlanError
	if err != nil && !(errors.As(err, &pe) && pe.OnlySkippable()) {
		return Plan{}, err
	}
	t := f.Topology
	boot, _ := t.Bootstrap()
	sec, _ := t.Secondary()
	p := Plan{From: from.String(), To: target.String(), Topology: topologyHash(t)}
	var all, fes []string
	for _, s := range t.Servers {
		all = append(all, s.Name)
	}
	for _, s := range t.Frontends() {
		fes = append(fes, s.Name)
	}
	families := map[string]string{}
	for _, n := range f.Nodes {
		fam, err := n.Family()
		if err != nil {
			return Plan{}, err
		}
		families[n.Node] = fam
	}
	for hi, h := range hops {
		hop := hi + 1
		to := h.To.String()
		issues := KnownIssuesFor(h.From, h.To)
		has := func(id string) bool {
			for _, k := range issues {
				if k.ID == id {
					return true
				}
			}
			return false
		}
		toEC11 := h.To.Major() == 11
		umask := has("OC-11656")
		// converge is reconfigure or upgrade: the commands that write files.
		converge := func(verb string) []string {
			if umask {
				return withUmask(ctl(verb))
			}
			return ctl(verb)
		}
		n := 0
		add := func(kind StepKind, title string, nodes []string, acts []Action, ids ...string) {
			n++
			p.Steps = append(p.Steps, Step{ID: fmt.Sprintf("hop%d/%02d-%s", hop, n, kind), Hop: hop, Kind: kind, Title: title,
				Issues: ids, Target: to, Level: h.LevelAfter.String(), Nodes: nodes, Actions: acts, Timeout: o.StepTimeout})
		}
		gate := Action{Kind: ActGate, Node: boot.Name, Master: boot.Name}

		// Pre-flight, as the runbook orders it.
		if len(o.BackupCommand) > 0 {
			add(StepBackup, "back up the bootstrap back end", []string{boot.Name}, []Action{{Kind: ActRun, Node: boot.Name, Argv: o.BackupCommand}})
		} else {
			add(StepBackup, "backup waived: "+o.BackupWaived, nil, nil)
		}
		if hi == 0 && o.RecoverRunit {
			// Before anything else: a reconfigure under a broken runsvdir
			// is how the runbook's example went wrong.
			var acts []Action
			for _, fd := range checkRunitProcesses(in) {
				if fd.Severity == Fail && fd.Node != "" && !containsNode(acts, fd.Node) {
					acts = append(acts, recoverRunit(fd.Node, h.From)...)
				}
			}
			if len(acts) > 0 {
				add(StepRecoverRunit, "recover runsvdir as the runbook does", nodesOf(acts), acts, "OC-11426")
			}
		}
		var acts []Action
		for _, node := range all {
			if !strings.HasPrefix(h.From.String(), "1.") && has("OC-11601") {
				acts = append(acts, Action{Kind: ActRun, Node: node, Argv: ctl("restart", "redis_lb")})
			}
			acts = append(acts, Action{Kind: ActRun, Node: node, Argv: converge("reconfigure")})
		}
		add(StepReconfigureAll, "reconfigure all machines so they are in a sane state", all, acts, "OC-11601", "OC-11657")
		acts = nil
		for _, node := range fes {
			acts = append(acts, Action{Kind: ActRun, Node: node, Argv: ctl("stop")})
		}
		add(StepStopFrontends, "stop all front ends", fes, acts, "OC-11657")
		add(StepStopKeepalived, "stop keepalived on the non-bootstrap back end "+sec.Name, []string{sec.Name},
			[]Action{{Kind: ActRun, Node: sec.Name, Argv: ctl("stop", "keepalived")}, gate}, "OC-11382")
		if hi == 0 {
			// Levels are repaired from the facts read before the run.
			var acts []Action
			for _, fd := range checkMigrationLevel(in) {
				if fd.Severity == Fail && fd.Node != "" {
					acts = append(acts, Action{Kind: ActWrite, Node: fd.Node, Path: migration.Path, Content: string(migration.Format(h.LevelBefore))})
				}
			}
			add(StepRepairLevels, "make every migration-level match the front ends and the version table", nodesOf(acts), acts, "OC-11297")
		}
		acts = nil
		for _, node := range all {
			acts = append(acts, Action{Kind: ActCheckRunit, Node: node})
		}
		add(StepCheckRunit, "check runsvdir status on every machine", all, acts)
		add(StepBootstrapHealthy, "the bootstrap is master and healthy, the standby's services are stopped", []string{boot.Name, sec.Name},
			[]Action{{Kind: ActRun, Node: sec.Name, Argv: ctl("stop")}, gate}, "OC-11575")

		// Upgrade steps.
		acts = nil
		for _, node := range all {
			pkg := o.Packages[families[node]][to]
			if pkg == "" {
				return Plan{}, fmt.Errorf("no %s package for %s (node %s): give one with -package", families[node], to, node)
			}
			dst := path.Join("/tmp", path.Base(pkg))
			installer := []string{"dpkg", "-i", dst}
			if families[node] == "rhel" {
				installer = []string{"rpm", "-Uvh", dst}
			}
			acts = append(acts, Action{Kind: ActUpload, Node: node, Src: pkg, Path: dst}, Action{Kind: ActRun, Node: node, Argv: installer})
		}
		add(StepInstall, "install the "+to+" package on all machines", all, acts)
		acts = nil
		if toEC11 {
			// Ownership first, so the new runsvdir and keepalived can write.
			acts = append(acts, Action{Kind: ActRun, Node: boot.Name, Argv: []string{"chown", "-R", "opscode:opscode", runit.DefaultLogDir}})
		}
		if !strings.HasPrefix(h.From.String(), "1.") && has("OC-11601") {
			acts = append(acts, Action{Kind: ActRun, Node: boot.Name, Argv: ctl("restart", "redis_lb")})
		}
		acts = append(acts, Action{Kind: ActRun, Node: boot.Name, Argv: converge("reconfigure")})
		if toEC11 && h.From.Major() == 1 {
			acts = append(acts, stopOldJob(boot.Name))
		}
		acts = append(acts, gate)
		add(StepReconfigureBoot, "reconfigure the bootstrap and wait for a stable master", []string{boot.Name}, acts, "OC-11426", "OC-11490", "OC-11601", "OC-11656", "OC-11669")
		redis := !strings.HasPrefix(h.From.String(), "1.") && has("OC-11601")
		add(StepUpgradeBootstrap, "upgrade the bootstrap", []string{boot.Name}, upgradeActions(boot.Name, h, true, toEC11, redis, converge, gate), "OC-11382", "OC-11658", "OC-11670")
		acts = nil
		for _, node := range all {
			if node != boot.Name {
				acts = append(acts, Action{Kind: ActCopyTree, Node: node, From: boot.Name, Path: "/etc/opscode"})
			}
		}
		add(StepCopyConfig, "copy /etc/opscode from the bootstrap to every machine", nodesOf(acts), acts)
		add(StepUpgradeSecondary, "upgrade the secondary back end", []string{sec.Name}, upgradeActions(sec.Name, h, false, toEC11, redis, converge, gate), "OC-11297")
		for _, fe := range fes {
			add(StepUpgradeFrontend, "upgrade front end "+fe, []string{fe}, upgradeActions(fe, h, false, toEC11, redis, converge, gate))
		}
		acts = nil
		for _, node := range all {
			acts = append(acts, Action{Kind: ActRun, Node: node, Argv: ctl("start")})
		}
		acts = append(acts, gate)
		add(StepStartAll, "start all machines", all, acts, "OC-11662")
		acts = nil
		for _, node := range all {
			acts = append(acts, Action{Kind: ActVerifyLevel, Node: node, Level: h.LevelAfter.String()}, Action{Kind: ActCheckRunit, Node: node})
		}
		add(StepVerify, "verify every machine is at "+to+" and migration level "+h.LevelAfter.String(), all, acts)
	}
	if o.Cleanup && len(hops) > 0 && hops[len(hops)-1].To.Major() == 11 {
		last := len(hops)
		acts := []Action{{Kind: ActConfirm, Why: "the upgraded cluster was tested and verified (private-chef-ctl cleanup removes the old data)"}}
		for _, node := range all {
			acts = append(acts, Action{Kind: ActRun, Node: node, Argv: ctl("cleanup")})
		}
		p.Steps = append(p.Steps, Step{ID: fmt.Sprintf("hop%d/99-%s", last, StepCleanup), Hop: last, Kind: StepCleanup,
			Title: "remove old data on all machines", Target: p.To, Nodes: all, Actions: acts, Timeout: o.StepTimeout})
	}
	return p, nil
}

// BlockedError lists the pre-flight failures a plan cannot work around:
// the runner stops before harm, not in the middle.
type BlockedError struct{ Findings []Finding }

func (e *BlockedError) Error() string {
	var parts []string
	for _, f := range e.Findings {
		node := f.Node
		if node == "" {
			node = "cluster"
		}
		issue := ""
		if f.Issue != "" {
			issue = " [" + f.Issue + "]"
		}
		parts = append(parts, fmt.Sprintf("%s: %s%s: %s; fix: %s", node, f.Check, issue, strings.Join(f.Evidence, "; "), f.Fix))
	}
	return "cannot plan the upgrade until these are fixed:\n  " + strings.Join(parts, "\n  ")
}

// blocking runs the checks whose failures the plan has no step for.
// Migration levels, front ends, the standby's keepalived and services,
// and log ownership on the way to EC 11 are steps of the plan; runsvdir
// errors are too when RecoverRunit is set.
func blocking(in Input, o PlanOptions) error {
	var fs []Finding
	for _, c := range Checks() {
		switch c.Name() {
		case "reachable", "topology", "version", "non-ssl-port", "keepalived-pair", "bootstrap-healthy", "keepalived-log-dir", "log-dir", "runit-processes":
		default:
			continue
		}
		for _, f := range c.Check(in) {
			if f.Severity != Fail {
				continue
			}
			if c.Name() == "log-dir" && len(f.Evidence) > 0 && strings.HasPrefix(f.Evidence[0], string(runit.SymptomLogDirOwner)) {
				continue // the plan chowns before the EC 11 reconfigure
			}
			if c.Name() == "runit-processes" && o.RecoverRunit && len(f.Evidence) > 0 &&
				(strings.HasPrefix(f.Evidence[0], string(runit.SymptomRunsvdirErrors)) || strings.HasPrefix(f.Evidence[0], string(runit.SymptomTwoRunsvdirs))) {
				continue // the plan recovers runsvdir
			}
			fs = append(fs, f)
		}
	}
	if len(fs) > 0 {
		return &BlockedError{Findings: fs}
	}
	return nil
}

// upgradeActions are one node's upgrade: ownership first on EC 11, the
// upgrade with the output markers of silent failures, the level re-read.
func upgradeActions(node string, h Hop, bootstrap, toEC11, restartRedis bool, converge func(string) []string, gate Action) []Action {
	var acts []Action
	if toEC11 {
		acts = append(acts, Action{Kind: ActRun, Node: node, Argv: []string{"chown", "-R", "opscode:opscode", runit.DefaultLogDir}})
	}
	if restartRedis { // upgrade reconfigures first (OC-11601)
		acts = append(acts, Action{Kind: ActRun, Node: node, Argv: ctl("restart", "redis_lb")})
	}
	up := Action{Kind: ActRun, Node: node, Argv: converge("upgrade"),
		FailOn: []string{"oc_authz_migrator: ERROR", "Unable to obtain file lock"}}
	if bootstrap {
		up.RetryAfterGate = true
		acts = append(acts, gate)
	}
	acts = append(acts, up)
	if toEC11 && h.From.Major() == 1 {
		acts = append(acts, stopOldJob(node))
	}
	if bootstrap {
		acts = append(acts, gate)
	}
	return append(acts, Action{Kind: ActVerifyLevel, Node: node, Level: h.LevelAfter.String()})
}

// stopOldJob stops Private Chef's runsvdir job once EC 11's runs: the
// runbook warns both may be alive after the job rename. It is usually
// gone already, so its exit status is ignored.
func stopOldJob(node string) Action {
	return Action{Kind: ActRun, Node: node, Argv: []string{"initctl", "stop", "opscode-runsvdir"}, IgnoreExit: true}
}

// recoverRunit is the runbook's recovery of a bad runsvdir on one node
// running version v: stop, stop both Upstart jobs, fix the log dir (owned
// by opscode on EC 11, mode 755 before), start the job of v.
func recoverRunit(node string, v *semver.Version) []Action {
	job, fix := "opscode-runsvdir", []string{"chmod", "755", runit.DefaultLogDir}
	if v.Major() == 11 {
		job, fix = "private-chef-runsvdir", []string{"chown", "-R", "opscode:opscode", runit.DefaultLogDir}
	}
	return []Action{
		{Kind: ActRun, Node: node, Argv: ctl("stop")},
		{Kind: ActRun, Node: node, Argv: []string{"initctl", "stop", "opscode-runsvdir"}, IgnoreExit: true},
		{Kind: ActRun, Node: node, Argv: []string{"initctl", "stop", "private-chef-runsvdir"}, IgnoreExit: true},
		{Kind: ActRun, Node: node, Argv: fix},
		{Kind: ActRun, Node: node, Argv: []string{"initctl", "start", job}},
		{Kind: ActCheckRunit, Node: node},
	}
}

func nodesOf(acts []Action) []string {
	var out []string
	for _, a := range acts {
		if a.Node != "" && !containsString(out, a.Node) {
			out = append(out, a.Node)
		}
	}
	return out
}

func containsNode(acts []Action, node string) bool { return containsString(nodesOf(acts), node) }

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func topologyHash(t cluster.Topology) string {
	var b strings.Builder
	for _, s := range t.Servers {
		fmt.Fprintf(&b, "%s %s %v\n", s.Name, s.Role, s.Bootstrap)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}
