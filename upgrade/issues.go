package upgrade

import (
	"github.com/Masterminds/semver/v3"
)

// MitigationKind says how the runner deals with a known issue.
type MitigationKind string

const (
	MitigateCheck      MitigationKind = "check"      // a pre-flight check finds it; the operator fixes it
	MitigateGate       MitigationKind = "gate"       // the runner waits on facts (keepalived stable, services up)
	MitigateSVWait     MitigationKind = "svwait"     // the runner gives sv a longer wait
	MitigateWorkaround MitigationKind = "workaround" // the runner runs an extra step
	MitigateVerify     MitigationKind = "verify"     // the runner re-reads state after a step and stops on a mismatch
	MitigateManual     MitigationKind = "manual"     // an instruction for the operator
)

// KnownIssue is one bug of the runbook's "Known Issues", as data.
type KnownIssue struct {
	ID    string
	Title string
	// From and Target constrain the installed and target versions the bug
	// bites on; nil matches any. A multi-hop plan matches if any hop does.
	From, Target *semver.Constraints
	// Check names the pre-flight check that detects it on a live cluster
	// ("" when it cannot be seen before it happens).
	Check      string
	Mitigation MitigationKind
	// Action is what chefha does about it, in the runbook's terms.
	Action string
	// Signatures are output fragments by which a failed command shows
	// this issue, so the runner's error can name it.
	Signatures []string
}

// AppliesTo reports whether the issue bites on a hop from → to.
func (k KnownIssue) AppliesTo(from, to *semver.Version) bool {
	return (k.From == nil || k.From.Check(from)) && (k.Target == nil || k.Target.Check(to))
}

func constraint(s string) *semver.Constraints {
	c, err := semver.NewConstraint(s)
	if err != nil {
		panic("upgrade: bad constraint " + s + ": " + err.Error())
	}
	return c
}

// KnownIssues is the registry: every OC issue of the runbook. "As of
// 11.1.8" issues are still open in 11.1.8; "before 11.1.8" ones are fixed
// there, so they bite on targets below it (or, for damage already done,
// on clusters coming from the affected version).
func KnownIssues() []KnownIssue {
	before1118 := constraint(">= 11.0.0, < 11.1.8")
	ec11 := constraint(">= 11.0.0")
	from1x := constraint("< 11.0.0")
	return []KnownIssue{
		{ID: "OC-11297", Title: "EC 11.0.x not saving its migration-level state on HA back end machines",
			From: constraint("~11.0"), Check: "migration-level", Mitigation: MitigateWorkaround,
			Action: "compare every node's migration-level with the front ends and the version table; copy the front ends' file to the back ends before upgrading"},
		{ID: "OC-11382", Title: "HA upgrades to 11.1.3+ fail because keepalived restart interferes with partybus migrations",
			Target: constraint(">= 11.1.3, < 11.1.8"), Mitigation: MitigateGate,
			Action:     "gate on a stable keepalived pair (bootstrap master, no transition) before and after every upgrade step; re-run upgrade from the level reached",
			Signatures: []string{"must be the HA-master", "postgresql went away"}},
		{ID: "OC-11426", Title: "Upgrade runit ownership issue OPC 1.4.6 → EC 11.1.3+",
			From: from1x, Target: before1118, Check: "log-dir", Mitigation: MitigateWorkaround,
			Action: "chown -R opscode:opscode /var/log/opscode before starting the new runsvdir"},
		{ID: "OC-11490", Title: "Root ownership of /var/log/opscode/keepalived prevents keepalived from running properly",
			Target: before1118, Check: "keepalived-log-dir", Mitigation: MitigateWorkaround,
			Action: "chown -R opscode:opscode /var/log/opscode/keepalived before reconfiguring"},
		{ID: "OC-11540", Title: "Setting non_ssl_port to false causes invalid opscode-account configuration",
			Target: before1118, Check: "non-ssl-port", Mitigation: MitigateCheck,
			Action:     "remove nginx['non_ssl_port'] = false from /etc/opscode/private-chef.rb before the upgrade; set it again after 11.1.8",
			Signatures: []string{"opscode-account: invalid configuration", "non_ssl_port"}},
		{ID: "OC-11575", Title: "Services start automatically at boot on backup/passive machine in HA mode",
			Target: ec11, Check: "standby-services-stopped", Mitigation: MitigateCheck,
			Action: "stop the HA services on the standby back end (private-chef-ctl stop) before the upgrade and after any reboot"},
		{ID: "OC-11601", Title: "During an upgrade redis_lb isn't restarted before the attempt to reconfigure it",
			From: ec11, Target: ec11, Mitigation: MitigateWorkaround,
			Action:     "private-chef-ctl restart redis_lb before every reconfigure and upgrade",
			Signatures: []string{"127.0.0.1:16379"}},
		{ID: "OC-11656", Title: "Test umask inheritance and cleanup ownership in EC11 embedded cookbooks",
			Target: before1118, Check: "config-readable", Mitigation: MitigateWorkaround,
			Action: "run reconfigure and upgrade with umask 022; check /etc/opscode files are readable afterwards"},
		{ID: "OC-11657", Title: "Default svwait timeout of 7 seconds is too short, causes many unnecessary failures during reconfigure/upgrade",
			From: constraint("< 11.1.8"), Mitigation: MitigateSVWait, // the installed private-chef-ctl stops services before the new one exists
			Action:     "export SVWAIT=30 (and sv -w 30) for every private-chef-ctl and sv call",
			Signatures: []string{"timeout: run: ", "timeout: down: "}},
		{ID: "OC-11658", Title: "oc_authz_migrator failures are not trapped, leaving Authz → Bifrost data un-migrated",
			From: from1x, Target: before1118, Mitigation: MitigateVerify,
			Action:     "scan the upgrade output for oc_authz_migrator errors and stop with the log lines, even though partybus exits 0",
			Signatures: []string{"oc_authz_migrator"}},
		{ID: "OC-11662", Title: "redis_lb timeout is too short for the real world",
			Target: before1118, Mitigation: MitigateSVWait,
			Action:     "start redis_lb with a 60 s wait and gate on sv status before going on",
			Signatures: []string{"timeout: down: redis_lb"}},
		{ID: "OC-11669", Title: "During 1.4.x → EC 11.x upgrade keepalived transitions to backup because of the opscode-runsvdir → private-chef-runsvdir change",
			From: constraint(">= 1.4.0, < 1.5.0"), Target: before1118, Mitigation: MitigateGate,
			Action: "after reconfiguring the bootstrap, wait until keepalived reports it master again and stable for the hold period"},
		{ID: "OC-11670", Title: "Partybus migration step 1.9 silently fails to run if keepalived is still in transition",
			From: from1x, Target: before1118, Mitigation: MitigateGate,
			Action: "never start upgrade while requested ≠ current; re-read the migration level afterwards and compare with the version table"},
	}
}

// KnownIssuesFor lists the issues that bite on any hop of a plan from →
// to (PlanHops' hops; a direct from → to when they cannot be planned).
func KnownIssuesFor(from, to *semver.Version) []KnownIssue {
	hops, _ := PlanHops(from, to)
	if len(hops) == 0 && from != nil && to != nil && !from.Equal(to) {
		hops = []Hop{{From: from, To: to}}
	}
	var out []KnownIssue
	for _, k := range KnownIssues() {
		for _, h := range hops {
			if k.AppliesTo(h.From, h.To) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}
