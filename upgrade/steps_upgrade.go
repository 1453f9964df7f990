package upgrade

// The runbook's steps from the install on: install, reconfigure and
// upgrade each node, copy the configuration, start, verify, clean up.

import (
	"fmt"
	"slices"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/internal/packaging"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/runit"
)

func runInstall(r *stepRun) ([]Action, error) {
	var acts []Action
	for _, node := range r.c.all {
		if ok, _ := r.installedAtLeast(node, r.c.hop.To); ok {
			continue
		}
		pf := r.c.pkg(node)
		installer := []string{"dpkg", "-i", pf.upload()}
		if r.c.families[node] == "rhel" {
			installer = []string{"rpm", "-Uvh", pf.upload()}
		}
		acts = append(acts, Action{Kind: ActUpload, Node: node, Src: pf.path, Path: pf.upload(), SHA256: pf.info.SHA256},
			Action{Kind: ActVerifyFile, Node: node, Path: pf.upload(), SHA256: pf.info.SHA256},
			Action{Kind: ActRun, Node: node, Argv: installer, Critical: true})
	}
	return acts, nil
}

func (r *stepRun) installedAtLeast(node string, v *semver.Version) (bool, string) {
	n, ok := r.node(node)
	if !ok {
		return false, node + " could not be read"
	}
	s, err := n.Version()
	if err != nil {
		return false, err.Error()
	}
	have, err := migration.ParseVersion(s)
	if err != nil {
		return false, node + ": " + err.Error()
	}
	if have.LessThan(v) {
		return false, fmt.Sprintf("%s has %s installed", node, have)
	}
	return true, ""
}

func installed(r *stepRun) (bool, string) {
	for _, node := range r.c.all {
		if ok, why := r.installedAtLeast(node, r.c.hop.To); !ok {
			return false, why
		}
	}
	return true, ""
}

func runReconfigureBootstrap(r *stepRun) ([]Action, error) {
	b := r.c.boot
	acts := []Action{inSync(b)}
	if r.c.toEC11() {
		// Ownership first, so the new runsvdir, svlogd and keepalived can
		// write their logs (OC-11426, OC-11490).
		acts = append(acts, r.c.logOwnership(b)...)
	}
	acts = append(acts, r.restartRedis(b)...)
	acts = append(acts, run(b, r.c.converge("reconfigure")...))
	if r.c.toEC11() && r.c.fromPC1() {
		acts = append(acts, stopOldJob(b)...)
	}
	return append(acts, gate(b, b)), nil
}

// runUpgradeNode is one node's `private-chef-ctl upgrade`: ownership first
// on EC 11, the upgrade behind gates on the bootstrap, its output scanned
// for partybus's silent failures, the level read again.
func runUpgradeNode(r *stepRun) ([]Action, error) {
	var acts []Action
	for _, node := range r.step.Nodes {
		if ok, _ := r.upgraded(node); ok && r.c.hop.LevelBefore.Less(r.c.hop.LevelAfter) {
			continue
		}
		boot := node == r.c.boot
		if node == r.c.boot || node == r.c.sec {
			acts = append(acts, inSync(r.c.boot))
		}
		if r.c.toEC11() {
			acts = append(acts, r.c.logOwnership(node)...)
		}
		acts = append(acts, r.restartRedis(node)...)
		if boot {
			acts = append(acts, gate(node))
		}
		acts = append(acts, Action{Kind: ActRun, Node: node, Argv: r.c.converge("upgrade"), Critical: true, RetryAfterGate: boot,
			FailOn: []string{"Unable to obtain file lock"}})
		if r.c.toEC11() && r.c.fromPC1() {
			acts = append(acts, stopOldJob(node)...)
		}
		if boot {
			acts = append(acts, gate(node, node))
		}
		acts = append(acts, Action{Kind: ActVerifyLevel, Node: node, Level: r.c.hop.LevelAfter.String()})
	}
	return acts, nil
}

func (r *stepRun) upgraded(node string) (bool, string) {
	if ok, why := r.installedAtLeast(node, r.c.hop.To); !ok {
		return false, why
	}
	return r.levelsAtLeast([]string{node}, r.c.hop.LevelAfter)
}

// nodesUpgraded is what a recorded upgrade step is checked against: the
// package and the level reached stay, whatever comes after.
func nodesUpgraded(r *stepRun) (bool, string) {
	for _, node := range r.step.Nodes {
		if ok, why := r.upgraded(node); !ok {
			return false, why
		}
	}
	return true, ""
}

// upgradeSeen says an upgrade step that was never recorded already ran:
// only a hop that raises the migration level leaves a trace that tells an
// upgraded node from one merely installed (11.1.6 → 11.1.8 stays at 1.13),
// so on such a hop the upgrade runs again, which partybus takes as
// nothing to migrate.
func upgradeSeen(r *stepRun) (bool, string) {
	if !r.c.hop.LevelBefore.Less(r.c.hop.LevelAfter) {
		return false, "the hop does not change the migration level: no trace to tell"
	}
	return nodesUpgraded(r)
}

// stopOldJob stops Private Chef's runsvdir job once EC 11's runs: the
// runbook warns both may be alive after the job rename. It is usually
// gone already, so its exit status is ignored. Then no runsv of it may
// remain: the reconfigure that stopped it stopped keepalived too, whose
// cluster.sh backup tells services "down" while the job's post-stop tells
// their runsv to exit, and a runsv told both waits for ever holding its
// service's lock (the lab shows it; the runbook's Example met it).
func stopOldJob(node string) []Action {
	return []Action{{Kind: ActRun, Node: node, Argv: []string{"initctl", "stop", "opscode-runsvdir"}, IgnoreExit: true},
		{Kind: ActOrphansGone, Node: node}}
}

func runCopyConfig(r *stepRun) ([]Action, error) {
	var acts []Action
	for _, node := range r.c.others {
		acts = append(acts, Action{Kind: ActCopyTree, Node: node, From: r.c.boot, Path: EtcOpscode})
	}
	return acts, nil
}

// regenerated are the files of /etc/opscode each node's reconfigure
// writes for itself (opscode-omnibus 11.1.8, recipes/default.rb): they
// differ from the bootstrap's once the node is reconfigured.
var regenerated = []string{EtcOpscode + "/chef-server-running.json"}

func configCopied(r *stepRun) (bool, string) {
	b, ok := r.node(r.c.boot)
	if !ok {
		return false, r.c.boot + " could not be read"
	}
	want := b.EtcSums()
	for _, node := range r.c.others {
		n, ok := r.node(node)
		if !ok {
			return false, node + " could not be read"
		}
		have := n.EtcSums()
		for p, sum := range want {
			if !slices.Contains(regenerated, p) && have[p] != sum {
				return false, fmt.Sprintf("%s: %s differs from the bootstrap's", node, p)
			}
		}
	}
	return true, ""
}

// --- the end of a hop

func runStartAll(r *stepRun) ([]Action, error) {
	var acts []Action
	var up []string
	for _, node := range r.c.all {
		if node != r.c.sec {
			acts = append(acts, run(node, ctl("start")...))
			up = append(up, node)
			continue
		}
		// The standby: its own upgrade's reconfigure started every service
		// (no down files before 11.2.0, and the new runsvdir job starts what
		// is linked; OC-11575): stop them by name, then start keepalived
		// alone, never a bare start. cluster.sh decides what it runs.
		var running []string
		if n, ok := r.node(node); ok {
			running = n.haUp()
		}
		for _, s := range r.standbyStops(running) {
			acts = append(acts, r.may(slices.Contains(running, s), s+" runs on "+node, run(node, r.ctlOn(node, "stop", s)...))...)
		}
		acts = append(acts, run(node, r.ctlOn(node, "start", "keepalived")...))
	}
	g := gate(r.c.boot, up...)
	g.Gate.Keepalived = []string{r.c.boot, r.c.sec}
	g.Gate.Quiet = []string{r.c.sec}
	return append(acts, g), nil
}

// standbyStops are the HA services the start at the end may stop on the
// standby, in name order: those running and every HA service of the
// target release, which the standby's own upgrade may have started by
// then (may keeps a run to those running, and a dry run lists them all).
func (r *stepRun) standbyStops(running []string) []string {
	out := slices.Clone(running)
	if rel, _, ok := packaging.Nearest(r.c.to); ok {
		for _, s := range rel.HAServices() {
			if !slices.Contains(out, s) && !slices.Contains(notHA, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

func runVerify(r *stepRun) ([]Action, error) {
	acts := []Action{{Kind: ActPostflight, Level: r.c.hop.LevelAfter.String()}}
	if r.c.last && r.c.o.backup.made() {
		// The runbook wants the backup tested during the entire upgrade:
		// at the end too.
		acts = append(acts, Action{Kind: ActBackupCheck, Node: r.c.boot})
	}
	return acts, nil
}

// --- cleanup phase

func runConfirm(*stepRun) ([]Action, error) {
	return []Action{{Kind: ActConfirm, Why: "the upgraded cluster was tested and verified (private-chef-ctl cleanup removes the old data)"}}, nil
}

func runCleanup(r *stepRun) ([]Action, error) {
	var acts []Action
	for _, node := range r.c.all {
		if ok, _ := cleanNode(r, node); !ok {
			acts = append(acts, run(node, ctl("cleanup")...))
		}
	}
	return acts, nil
}

// cleanNode reports whether none of the services EC 11 removed is left.
func cleanNode(r *stepRun, node string) (bool, string) {
	n, ok := r.node(node)
	if !ok {
		return false, node + " could not be read"
	}
	svcs, _ := n.Services()
	for _, s := range svcs {
		for _, gone := range runit.RemovedInEC11() {
			if s.Service == gone {
				return false, node + " still has " + gone
			}
		}
	}
	return true, ""
}

func cleanedUp(r *stepRun) (bool, string) {
	for _, node := range r.c.all {
		if ok, why := cleanNode(r, node); !ok {
			return false, why
		}
	}
	return true, ""
}
