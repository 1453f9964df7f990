package upgrade

import (
	"fmt"

	"github.com/chefha/chefha/issue"
)

// runbook is the HA upgrade runbook as one ordered list of steps, top to
// bottom as the operator reads it: the pre-flight, then the upgrade steps.
// BuildPlan repeats it for every hop. Each step says when it applies
// (when), on which nodes, what it does from the cluster's facts at its turn
// (run), which pre-flight failures it remedies, and the observable result
// that tells a resumed or repeated run that it is done (done).
func runbook() []stepDef {
	return []stepDef{
		{kind: StepBackup, title: titleBackup, nodes: onBootstrap,
			run: runBackup, done: backupDone, verify: backupKept, skipWhenDone: true},

		// Not a numbered step but the runbook's Example: recover a broken
		// runsvdir before anything else runs under it.
		{kind: StepRecoverRunit, title: fixed("recover runsvdir as the runbook's example does (stop, remove stale links, fix the log dir, start the job)"),
			ids: []issue.ID{issue.OC11426, issue.OC11574, issue.SecondRunsvdirJob}, when: recoverRunit, nodes: onAll, waits: "the bootstrap master and stable again",
			remedy: remedies{"runit-processes": {"runsvdir-errors", "two-runsvdirs", "orphan-runsv", "leftover-ctl-process"},
				"service-links": {"stale-service-link"}, "log-dir": {"log-dir-mode", "log-dir-owner"}},
			run: runRecoverRunit, done: runitRecovered},

		{kind: StepReconfigureAll, title: fixed("reconfigure all machines so they are in a sane state"),
			ids: []issue.ID{issue.OC11601, issue.OC11657, issue.OC11656, issue.OC11490, issue.StaleFailover}, nodes: onAll, waits: "DRBD in sync before the back ends reconfigure",
			remedy: remedies{"keepalived-log-dir": {"owner"}},
			run:    runReconfigureAll},

		{kind: StepStopFrontends, title: fixed("stop all front ends"),
			ids: []issue.ID{issue.OC11657}, nodes: onFrontends, undoneBy: []StepKind{StepUpgradeFrontend, StepStartAll},
			remedy: remedies{"frontends-stopped": nil},
			run:    runStopFrontends, done: frontendsStopped, skipWhenDone: true},

		{kind: StepStopKeepalived, title: titleStopKeepalived, nodes: onBackends,
			ids: []issue.ID{issue.OC11382, issue.StaleFailover}, waits: "DRBD in sync before keepalived stops; then the bootstrap master and stable, DRBD Primary there", undoneBy: []StepKind{StepUpgradeSecondary, StepStartAll},
			remedy: remedies{"standby-keepalived-stopped": nil, "bootstrap-master": {"bootstrap-not-master"}},
			run:    runStopStandbyKeepalived, done: standbyKeepalivedStopped, verify: standbyKeepalivedDown, skipWhenDone: true},

		{kind: StepRepairLevels, title: fixed("make every migration-level match the front ends and the version table"),
			ids: []issue.ID{issue.OC11297}, nodes: onAll,
			remedy: remedies{"migration-level": {"mismatch"}},
			run:    runRepairLevels, done: levelsBefore, skipWhenDone: true},

		{kind: StepCheckRunit, title: fixed("check runsvdir status on every machine"), nodes: onAll,
			run: runCheckRunit},

		{kind: StepBootstrapHealthy, title: fixed("the bootstrap is master and healthy, the standby's services are stopped"),
			ids: []issue.ID{issue.OC11575}, nodes: onBackends, waits: "the bootstrap master, stable, its services up",
			remedy: remedies{"standby-services-stopped": {"running"}},
			run:    runBootstrapHealthy},

		{kind: StepInstall, title: func(c *hopCtx) string { return "install the " + c.to + " package on all machines" },
			nodes: onAll, run: runInstall, done: installed, skipWhenDone: true},

		{kind: StepReconfigureBoot, title: fixed("reconfigure the bootstrap and wait for a stable master"),
			ids:   []issue.ID{issue.OC11426, issue.OC11490, issue.OC11601, issue.OC11656, issue.OC11669, issue.StaleFailover},
			nodes: onBootstrap, waits: "DRBD in sync before; then the bootstrap master and stable, DRBD Primary there, its services up",
			remedy: remedies{"log-dir": {"log-dir-owner"}, "keepalived-log-dir": {"owner"}},
			run:    runReconfigureBootstrap},

		{kind: StepUpgradeBootstrap, title: fixed("upgrade the bootstrap"),
			ids:   []issue.ID{issue.OC11382, issue.OC11658, issue.OC11670, issue.StaleFailover},
			nodes: onBootstrap, waits: "DRBD in sync and the bootstrap master and stable, before and after",
			run: runUpgradeNode, done: upgradeSeen, verify: nodesUpgraded, skipWhenDone: true},

		{kind: StepCopyConfig, title: fixed("copy /etc/opscode from the bootstrap to every machine"),
			nodes: onOthers, undoneBy: []StepKind{StepReconfigureBoot, StepUpgradeBootstrap},
			run: runCopyConfig, done: configCopied},

		{kind: StepUpgradeSecondary, title: fixed("upgrade the secondary back end"),
			ids: []issue.ID{issue.OC11297, issue.StaleFailover}, nodes: onSecondary, waits: "DRBD in sync before",
			run: runUpgradeNode, done: upgradeSeen, verify: nodesUpgraded, skipWhenDone: true},

		{kind: StepUpgradeFrontend, title: func(c *hopCtx) string { return "upgrade front end " + c.node },
			nodes: onFrontends, perNode: true,
			run: runUpgradeNode, done: upgradeSeen, verify: nodesUpgraded, skipWhenDone: true},

		{kind: StepStartAll, title: fixed("start all machines (keepalived only on the standby)"),
			ids: []issue.ID{issue.OC11575, issue.OC11574}, nodes: onAll, waits: "every node's services up, the bootstrap master and stable",
			run: runStartAll},

		{kind: StepVerify, title: func(c *hopCtx) string {
			return "verify every machine is at " + c.to + " and migration level " + c.hop.LevelAfter.String()
		}, nodes: onAll, run: runVerify},
	}
}

// cleanupRunbook is the runbook's last step, as a phase of its own: run it
// once the upgraded cluster was tested and verified.
func cleanupRunbook() []stepDef {
	return []stepDef{
		{kind: StepConfirm, title: fixed("the operator confirms the upgraded cluster was tested and verified"),
			run: runConfirm},
		{kind: StepCleanup, title: fixed("remove old data on all machines (private-chef-ctl cleanup)"), nodes: onAll,
			remedy: remedies{"service-links": {"stale-service-link"}},
			run:    runCleanup, done: cleanedUp, skipWhenDone: true},
		{kind: StepVerify, title: fixed("verify the cleaned-up cluster"), nodes: onAll, run: runVerify},
	}
}

func fixed(s string) func(*hopCtx) string { return func(*hopCtx) string { return s } }

func titleBackup(c *hopCtx) string {
	switch {
	case !c.o.backup.made() && c.o.backup.Waived == "":
		return "no backup declared: the run refuses to start until one is"
	case !c.o.backup.made():
		return "backup waived: " + c.o.backup.Waived
	case c.index > 1:
		return "check that the backup of " + c.boot + " is still there"
	}
	return fmt.Sprintf("back up the bootstrap %s before the upgrade", c.boot)
}

func titleStopKeepalived(c *hopCtx) string {
	return "stop keepalived on the non-bootstrap back end " + c.sec
}

func recoverRunit(c *hopCtx) bool { return c.index == 1 && c.o.recoverRunit }
