package upgrade

import (
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/issue"
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
	MitigateAvoided    MitigationKind = "avoided"    // chefha never does what sets it off
)

// KnownIssue is one bug of the runbook's "Known Issues", as data: the one
// place that says what it affects, how it is seen, and what chefha does.
type KnownIssue struct {
	ID    issue.ID
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
	// Mitigated is what a signature means in the output of a command that
	// already ran with the issue's mitigation (its Mitigation, e.g. the
	// SVWAIT chefha exports): no longer this issue, but what is then
	// left. "" when a signature names the issue whatever the command.
	Mitigated string
	// Source is where the facts about it come from (tag and path of
	// chef-boneyard/opscode-omnibus unless said otherwise).
	Source string
}

// ranMitigated reports whether a command line carries the issue's
// mitigation, so that its signature in the output means Mitigated.
func (k KnownIssue) ranMitigated(cmd string) bool {
	return k.Mitigated != "" && k.Mitigation == MitigateSVWait && strings.Contains(cmd, svwait)
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

// KnownIssues is the registry: every OC issue of the runbook, with the
// versions it bites on as the packaging sources show them (which is
// sometimes not what the runbook's "before 11.1.8" says).
func KnownIssues() []KnownIssue {
	before1118 := constraint(">= 11.0.0, < 11.1.8")
	from1x := constraint("< 11.0.0")
	return []KnownIssue{
		{ID: issue.OC11297, Title: "EC 11.0.x not saving its migration-level state on HA back end machines",
			// Fresh 11.1.0–11.1.6 back ends have the same trigger code.
			From: constraint(">= 11.0.0, < 11.1.7"), Check: "migration-level", Mitigation: MitigateWorkaround,
			Action: "compare every node's migration-level with the front ends and the version table; copy the right level to the back ends (old file kept) before upgrading",
			// 11.1.7+'s sanity check, run after pg_upgrade (a back end's first
			// reconfigure after 1.x) when the file is missing
			// (recipes/partybus.rb:54-77 @11.1.8).
			Signatures: []string{"migration-level file is missing or corrupt"},
			Source:     "11.0.2–11.1.6 recipes/partybus.rb: the 'set initial migration level' execute subscribes only to directory[/var/opt/opscode], which an HA back end's interrupted first install never reaches; 11.1.7 adds the subscription to directory[/var/opt/opscode/postgresql] (1ddab5ff, fab306a5)"},
		{ID: issue.OC11382, Title: "HA upgrades to 11.1.3+ fail because keepalived restart interferes with partybus migrations",
			// The unconditional restart is there from 11.0.1 (keepalived.rb:24,31
			// @11.0.1); 11.0.0 asks should_notify?("kepalived"), a service
			// that never exists (libraries/helper.rb:78-80 @11.0.0), so it
			// never restarts. The runbook names 11.1.3+. No source prints a
			// message of its own: partybus fails on whatever the stopped
			// services do to it, so there is no signature.
			Target: constraint(">= 11.0.1, < 11.1.8"), Mitigation: MitigateGate,
			Action: "gate on a stable keepalived pair (bootstrap master, no transition) before and after every upgrade step; re-run upgrade once after a gate (partybus resumes from the level reached)",
			Source: "11.0.1+ recipes/keepalived.rb: keepalived.conf and cluster.sh notify :restart on keepalived; 11.1.7 private-chef-ctl-commands/upgrade.rb adds the 120 s sleep before partybus, 11.1.8 keepalived_safemode"},
		{ID: issue.OC11426, Title: "Upgrade runit ownership issue OPC 1.4.6 → EC 11.1.3+",
			// No upper bound: the runbook files it under "Before 11.1.8"
			// (ha-upgrade-notes.rst:38,42), but neither CHANGELOG.md @11.2.0
			// (11.1.7, 11.1.8) names it nor does anything between 11.1.6 and
			// 11.1.8 re-own what 1.x's svlogd left (git diff 11.1.6 11.1.8
			// -- files/private-chef-cookbooks files/private-chef-upgrades).
			From: from1x, Target: constraint(">= 11.0.0"), Check: "log-dir", Mitigation: MitigateWorkaround,
			Action: "chown -R opscode:opscode /var/log/opscode before the EC 11 reconfigure and upgrade, so svlogd (run as opscode on EC 11) can rotate the logs 1.x's root svlogd left",
			Source: "no code names it, and no release's code fixes it: the runbook ('OPC 1.4.6 -> EC11.1.3+'); the related code: 11.1.3+ recipes/default.rb manages /var/log/opscode itself opscode:opscode 0755 (7aa73aa2), migration 1.8 chowns only SERVICE/*"},
		{ID: issue.OC11490, Title: "Root ownership of /var/log/opscode/keepalived prevents keepalived from running properly",
			Target: before1118, Check: "keepalived-log-dir", Mitigation: MitigateWorkaround,
			Action: "chown -R opscode:opscode /var/log/opscode/keepalived before reconfiguring: EC 11's keepalived svlogd runs as opscode and cannot write a root-owned directory",
			Source: "11.0.2–11.1.6 recipes/keepalived.rb (no owner) with chpst -u opscode svlogd; 11.1.7 sets opscode 0700"},
		{ID: issue.OC11540, Title: "Setting non_ssl_port to false causes invalid opscode-account configuration",
			Target: constraint(">= 11.1.3, < 11.2.0"), Check: "non-ssl-port", Mitigation: MitigateCheck,
			Action: "remove nginx['non_ssl_port'] = false from /etc/opscode/private-chef.rb before the upgrade: the reconfigure succeeds silently and writes internal_lb_url http://127.0.0.1:false; set it again after 11.2.0",
			Source: "11.1.3–11.1.8 templates/default/opscode-account-config.rb.erb; fixed in 11.2.0 libraries/helper.rb internal_lb_url"},
		{ID: issue.OC11575, Title: "Services start automatically at boot on backup/passive machine in HA mode",
			Target: constraint(">= 11.0.0, < 11.2.0"), Check: "standby-services-stopped", Mitigation: MitigateCheck,
			Action: "stop the standby's HA services by name before the upgrade, and start only keepalived on the standby at the end (cluster.sh decides what it runs): before 11.2.0 there are no down files",
			Source: "enterprise-chef-common 0.4.4 (11.2.0) writes down files; 11.0–11.1.8 write none"},
		{ID: issue.OC11601, Title: "During an upgrade redis_lb isn't restarted before the attempt to reconfigure it",
			From: constraint(">= 11.1.0"), Target: constraint(">= 11.1.0, < 11.2.0"), Mitigation: MitigateWorkaround,
			Action:     "private-chef-ctl restart redis_lb before every reconfigure and upgrade of a node that has it",
			Signatures: []string{"127.0.0.1:16379"},
			Source:     "11.1.x recipes/redis_lb.rb restarts only when its template changed; 11.2.0 restarts unconditionally"},
		{ID: issue.OC11656, Title: "Test umask inheritance and cleanup ownership in EC11 embedded cookbooks",
			Target: before1118, Check: "config-readable", Mitigation: MitigateWorkaround,
			Action: "run reconfigure and upgrade with umask 022; check private-chef.rb and the services' configurations are readable afterwards, and after the upgrade that bookshelf's, oc_bifrost's, opscode-certificate's, opscode-chef-mover's, opscode-erchef's and opscode-org-creator's are opscode's (service-file-perms; umask 022 does not undo root ownership: 11.1.7 sets owners explicitly)",
			Source: "chef-boneyard/opscode-omnibus commit 634da696 (in 11.1.7), 'Set explicit owner and group for services without them': the services' recipes, read into the packaging table's ServiceFiles"},
		{ID: issue.OC11657, Title: "Default svwait timeout of 7 seconds is too short, causes many unnecessary failures during reconfigure/upgrade",
			From: constraint("< 11.1.7"), Mitigation: MitigateSVWait, // the installed private-chef-ctl stops services before the new one exists
			Action:     "export SVWAIT=30 for every private-chef-ctl call (the 11.1.7+ wrapper exports it itself, overriding the caller's)",
			Signatures: []string{"timeout: run: ", "timeout: down: "},
			Mitigated: "a service did not get there within " + strings.TrimPrefix(svwait, "SVWAIT=") + " s (chefha's wait, not " + string(issue.OC11657) + "'s 7 s default): " +
				"it is slower than that to stop or start; its log says why (private-chef-ctl tail SERVICE)",
			Source: "11.1.7 config/software/private-chef-ctl.rb: export SVWAIT=30"},
		{ID: issue.OC11658, Title: "oc_authz_migrator failures are not trapped, leaving Authz → Bifrost data un-migrated",
			// 0.0.1 (11.0.0–11.1.6) exits 0 on failure and nothing in the
			// output tells it; 0.0.3 (11.1.7+) exits non-zero, partybus
			// raises, and the upgrade fails loudly (its signature below).
			From: from1x, Target: constraint(">= 11.0.0, < 11.1.7"), Mitigation: MitigateManual,
			Action: "chefha cannot see this failure: the migrator's output is not known and it exits 0. After the bootstrap's upgrade, check by hand on it: " +
				"su - opscode-pgsql -c \"/opt/opscode/embedded/bin/psql bifrost -Atc 'select (select count(*) from auth_actor),(select count(*) from auth_group),(select count(*) from auth_object),(select count(*) from auth_container)'\" " +
				"and curl -s http://127.0.0.1:5984/authorization (doc_count): empty bifrost tables beside a populated couch database mean migration 1.9 did not migrate; stop and contact support. 11.1.7+ targets fail loudly instead",
			Signatures: []string{"oc_authz_migrator/scripts/opc-run.sh"},
			Source:     "config/software/oc_authz_migrator.rb: 0.0.1 through 11.1.6, 0.0.3 from 11.1.7 ('exit immediately on errors', CHANGELOG); partybus/lib/partybus/command_runner.rb raises on a non-zero exit; files/private-chef-upgrades/001/009_migrate_authz.rb; oc_bifrost 1.4.4 schema/deploy/base.sql"},
		{ID: issue.OC11662, Title: "redis_lb timeout is too short for the real world",
			Target: constraint(">= 11.1.0, < 11.1.7"), Mitigation: MitigateManual,
			Action: "nginx-lua's redis timeouts: set lb['redis_connection_timeout'] = 1000 in private-chef.rb (60 ms before 11.1.7, used for connect and keepalive alike; lb['redis_keepalive_timeout'] exists only from 11.1.7 and does nothing before)",
			Source: "11.1.0–11.1.6 attributes/default.rb lb['redis_connection_timeout'] = 60 and templates/default/nginx/scripts/config.lua.erb; 11.1.7 attributes/default.rb:257 adds redis_keepalive_timeout 2000 (371db13c)"},
		{ID: issue.OC11669, Title: "During 1.4.x → EC 11.x upgrade keepalived transitions to backup because of the opscode-runsvdir → private-chef-runsvdir change",
			From: constraint(">= 1.4.0, < 1.5.0"), Target: before1118, Mitigation: MitigateGate,
			Action: "after reconfiguring the bootstrap, wait until keepalived reports it master again and stable for the hold period",
			Source: "enterprise-chef-common 0.3.0 recipes/runit_upstart.rb stops opscode-runsvdir (the rename is in 11.0.0)"},
		{ID: issue.OC11670, Title: "Partybus migration step 1.9 silently fails to run if keepalived is still in transition",
			From: from1x, Target: before1118, Mitigation: MitigateGate,
			// v1.rb's must_be_data_master, where partybus' config says the
			// bootstrap is not the data master (1.10, 1.12, 1.13; 1.9 from
			// 11.1.8).
			Signatures: []string{"must be the HA-master"},
			Action:     "never start reconfigure or upgrade on the bootstrap unless it is a stable master: partybus freezes is_data_master from current_cluster_status at reconfigure time, skips 1.9 and still writes the level, so re-reading the level cannot catch it",
			Source:     "11.1.7 files/private-chef-upgrades/001/009_*.rb skips silently; 11.1.8 fails with must_be_data_master"},
	}
}

// SourceIssues are the registry's records of the bugs beyond the
// runbook's (issue.FromSources), from the packaging sources.
func SourceIssues() []KnownIssue {
	return []KnownIssue{
		{ID: issue.OC11499, Title: "ha-status reports \"found VRRP address and I am not master\" on a passive back end that does not hold the VIP",
			Check: "keepalived-pair", Mitigation: MitigateAvoided,
			Action: "chefha never takes ha-status's word for who holds the VIP: it reads ip -o -4 addr show and matches the VIP exactly (10.0.0.1 is not 10.0.0.10); where your own checks run ha-status, read that error against ip addr on the passive back end before acting on it",
			Source: "files/private-chef-ctl-commands/ha.rb:79 @11.1.8 (the same blob 11.1.6–11.2.x): `ip a show dev DEV` =~ /VIP/, unescaped and unanchored; 11.1.7's and 11.1.8's CHANGELOG list the fix, whose code (3afb34d9, /inet6? #{Regexp.escape(vip)}/) is first in 12.0.0"},
		{ID: issue.OC11574, Title: "A bare private-chef-ctl start, stop or restart acts on keepalived too",
			Mitigation: MitigateAvoided,
			Action:     "chefha never sends a bare start or restart to the standby back end: it stops HA services there by name and starts keepalived alone; a bare stop (the runit recovery) reaches the bootstrap only once the standby's keepalived is stopped, so nothing fails over, and the bare start that ends a hop is meant to start the bootstrap's keepalived. Do the same by hand",
			Source:     "chef/omnibus-ctl 0.0.6–0.0.8 lib/omnibus-ctl.rb: start, stop and restart without a service act on every enabled service, keepalived included (1.4.6–11.2.x; 11.2.0 pins 0.0.8); 0.1.1:253 skips keepalived (64e2088 '[OC-11574] Do not interact with keepalived by default'), which no EC 11 release ships; 1.2.8.3 bin/private-chef-ctl:220-228: a bare start starts only keepalived and nrpe on an HA node, stop and restart act on all"},
		{ID: issue.SecondRunsvdirJob, Title: "11.2.0 starts a second Upstart runsvdir job, private_chef-runsvdir, beside private-chef-runsvdir",
			Target: constraint("= 11.2.0"), Check: "runit-processes", Mitigation: MitigateCheck,
			Action: "the plan calls a hop to 11.2.0 skippable and steers to 11.2.1+; on a node that ran 11.2.0 the runit check sees two runsvdirs on /opt/opscode/service, and the runit recovery stops every runsvdir job a release ever wrote; no release removes the stray job: initctl stop private_chef-runsvdir; rm /etc/init/private_chef-runsvdir.conf",
			Source: "attributes/default.rb:11 @11.2.0 enterprise['name'] = \"private_chef\"; chef-cookbooks/enterprise-chef-common 0.4.4 recipes/runit_upstart.rb:19-41 writes and starts /etc/init/private_chef-runsvdir.conf, whose pre-stop runs /usr/bin/private_chef-ctl, which package-scripts/private-chef/postinst:14 never links; 11.2.1 CHANGELOG (enterprise-chef-common 0.4.5) stops creating it, nothing up to 11.3.2 deletes it"},
	}
}

// Hazards are the dangers with no OC id that every HA upgrade runs into,
// recorded like the known issues.
func Hazards() []KnownIssue {
	return []KnownIssue{
		{ID: issue.StaleFailover, Title: "A failover onto a back end whose DRBD data is not up to date",
			Check: "drbd-uptodate", Mitigation: MitigateGate,
			Action: "check DRBD connected and UpToDate/UpToDate (Primary and the mount on the master only) before any step that can make keepalived transition, and in every gate; refuse to start while a resync runs, showing its progress",
			Source: "1.4.6 and 11.1.8 files/private-chef-ctl-commands/ha.rb: exit 4 DRBD state, 5 DRBD mount, 6 peer ping"},
	}
}

// KnownIssuesFor lists the issues that bite on any hop of a plan from →
// to (PlanHops' hops; a direct from → to when they cannot be planned),
// then the hazards every upgrade runs into.
func KnownIssuesFor(from, to *semver.Version) []KnownIssue {
	hops, _ := PlanHops(from, to)
	if len(hops) == 0 && from != nil && to != nil && !from.Equal(to) {
		hops = []Hop{{From: from, To: to}}
	}
	var out []KnownIssue
	for _, k := range append(KnownIssues(), SourceIssues()...) {
		for _, h := range hops {
			if k.AppliesTo(h.From, h.To) {
				out = append(out, k)
				break
			}
		}
	}
	if len(hops) > 0 {
		out = append(out, Hazards()...)
	}
	return out
}

// LookupIssue returns the registry's record of id: a known issue of the
// runbook, one the sources show, or a hazard.
func LookupIssue(id issue.ID) (KnownIssue, bool) {
	for _, k := range append(append(KnownIssues(), SourceIssues()...), Hazards()...) {
		if k.ID == id {
			return k, true
		}
	}
	return KnownIssue{}, false
}
