package ecmodel

import (
	"context"
	"path"
	"strings"
	"time"

	"github.com/chefha/chefha/issue"

	"github.com/chefha/chefha/migration"
)

// The runbook's failure states as knobs. Each says what the lab (package
// lab: real runit, keepalived, sshd and files, the model as the Chef
// software) does with it; Lab says whether it plants it. A host lacking a
// capability a knob needs fails the plant with a *CannotPlantError.
//
// The knobs that arm a known issue make the model itself behave as the
// buggy release did; in the lab the model is the node's private-chef-ctl,
// reconfigure and partybus, so the same arming reproduces them there, and
// what follows from them (a keepalived restart, a transition, svlogd
// failing) happens to the lab's real programs.

func arm(id issue.ID, sel Selector, now func(t Target) error) Knob {
	return NewKnob(string(id), true, sel, func(t Target) error {
		if err := Arm(t, id); err != nil {
			return err
		}
		if now != nil {
			return now(t)
		}
		return nil
	})
}

func isEC11(t Target) bool {
	v, _ := InstalledVersion(t)
	return strings.HasPrefix(v, "11.")
}

// KnobOC11297: back ends installed fresh before 11.1.7 never got their
// migration level (the "set initial migration level" execute subscribes
// only to directory[/var/opt/opscode], which the back end's interrupted
// first install never reaches: recipes/partybus.rb @1.4.6–11.1.6): their
// file is missing, never empty. partybus' own upgrade writes it again
// (dsl_runner.rb @11.0.2), from 0.0. (Lab: yes, the level files removed.)
func KnobOC11297() Knob {
	return arm(issue.OC11297, Backends, func(t Target) error { return t.Remove(migration.Path) })
}

// KnobOC11382: keepalived restarts as the upgrade's reconfigure ends on
// the back ends, once: cluster.sh backup stops the services partybus
// needs, and before 11.1.7 (no sleep) the migrations die part-way. The
// 11.1.7+ two-minute sleep outlasts the flap. (Lab: yes: the model's
// upgrade restarts the real keepalived, whose notify_stop runs cluster.sh
// backup while the peer's keepalived takes over.)
func KnobOC11382() Knob { return arm(issue.OC11382, Bootstrap, nil) }

// KnobOC11426: after 1.4.6 → 11 /var/log/opscode stays root's, svlogd
// (opscode) cannot rotate. (Lab: yes, the directory chowned to root and
// the model's reconfigure armed to keep it so.)
func KnobOC11426() Knob {
	return arm(issue.OC11426, All, func(t Target) error {
		if isEC11(t) {
			return t.Chown(LogDir, "root:root")
		}
		return nil
	})
}

// KnobOC11490: /var/log/opscode/keepalived owned by root: EC 11's
// svlogd runs as opscode and keepalived does not stay up. Reconfigures
// before 11.1.7 keep the owner; 11.1.7's re-owns it. The files in it are
// root's too, as 1.x's svlogd (run as root) left them. (Lab: yes: all of
// it chowned to root and keepalived's svlogd restarted; on EC 11 the real
// svlogd, run as opscode by the log run script, cannot lock it and
// runsvdir shows its complaint.)
func KnobOC11490() Knob {
	return arm(issue.OC11490, Backends, func(t Target) error {
		dir := LogDir + "/keepalived"
		ents, _ := t.ReadDir(dir)
		for _, e := range ents {
			if err := t.Chown(path.Join(dir, e.Name()), "root:root"); err != nil {
				return err
			}
		}
		if err := t.Chown(dir, "root:root"); err != nil {
			return err
		}
		if ls, ok := t.(LogServices); ok {
			return ls.RestartLog("keepalived")
		}
		return nil
	})
}

// KnobOC11540 sets nginx['non_ssl_port'] = false in private-chef.rb: the
// next 11.1.3–11.1.8 reconfigure succeeds and writes opscode-account's
// internal_lb_url as http://127.0.0.1:false. (Lab: yes, private-chef.rb
// edited; the model's reconfigure writes the URL.)
func KnobOC11540() Knob {
	return arm(issue.OC11540, All, func(t Target) error {
		rb, err := t.ReadFile(TopologyPath)
		if err != nil {
			return err
		}
		return t.WriteFile(TopologyPath, append(rb, "nginx['non_ssl_port'] = false\n"...), 0o644)
	})
}

// KnobOC11575: the passive back end boots, and runsv starts every HA
// service that has no down file: all of them on 11.0–11.1.8, none on 1.x
// and 11.2.0, whose reconfigure writes down files (see Release.DownFiles).
// (Lab: yes: the real sv starts them, as the boot's runsv would.)
func KnobOC11575() Knob {
	return arm(issue.OC11575, Secondary, func(t Target) error {
		n, err := Load(t)
		if err != nil {
			return err
		}
		for _, s := range n.clusterServices() {
			if _, err := t.Lstat(path.Join(SvDir, s, "down")); err != nil {
				t.Sv(context.Background(), "start", s, 7*time.Second, true)
			}
		}
		return nil
	})
}

// KnobOC11601: reconfigure fails until redis_lb is restarted after the
// package install. (Lab: yes, the model's reconfigure armed.)
func KnobOC11601() Knob { return arm(issue.OC11601, All, nil) }

// KnobOC11656: a 077 umask leaves private-chef.rb unreadable to the
// services. (Lab: yes, private-chef.rb chmod 600 and the model's
// reconfigure armed.)
func KnobOC11656() Knob {
	return arm(issue.OC11656, All, func(t Target) error { return t.Chmod(TopologyPath, 0o600) })
}

// KnobSlowStop: service takes d to stop on every node, d longer than
// SVWAIT=30: partybus' `private-chef-ctl stop SERVICE` in migration 1.9 or
// 1.10 times out, run_command raises, and the services the migration had
// stopped stay down until partybus runs again. (Lab: yes: the service's
// process drains d after TERM.)
func KnobSlowStop(service string, d time.Duration) Knob {
	return NewKnob("slow-stop", true, All, func(t Target) error {
		st, err := need[ServiceTiming](t, "service timing")
		if err != nil {
			return err
		}
		return st.SetServiceDelay(service, d, 0)
	})
}

// KnobOC11657: opscode-expander takes 10 s to stop, longer than sv's 7 s.
// (Lab: yes: the service's process drains 10 s after TERM, and the real sv
// times out at 7 s unless SVWAIT is longer.)
func KnobOC11657() Knob {
	return arm(issue.OC11657, All, func(t Target) error {
		st, err := need[ServiceTiming](t, "service timing")
		if err != nil {
			return err
		}
		return st.SetServiceDelay("opscode-expander", 10*time.Second, 0)
	})
}

// KnobOC11658: oc_authz_migrator fails in migration 1.9. 0.0.1 (11.0.2–
// 11.1.6) swallows the failure and partybus succeeds; 0.0.3 (11.1.7+)
// exits non-zero and the upgrade fails. (Lab: yes, the model's migration
// armed.)
func KnobOC11658() Knob { return arm(issue.OC11658, Bootstrap, nil) }

// KnobSlowStart: service takes d to come up on every node, d longer than
// sv's wait to fail its start. No known issue: OC-11662 is nginx-lua's
// 60 ms redis timeouts on the front ends (lb['redis_connection_timeout'],
// attributes/default.rb @11.1.0–11.1.6), which every such cluster has and
// no upgrade step shows; its mitigation is the operator's setting. (Lab:
// yes: a check script in its service directory fails for d after each
// start, and the real sv start waits for it and times out.)
func KnobSlowStart(service string, d time.Duration) Knob {
	return NewKnob("slow-start", true, All, func(t Target) error {
		st, err := need[ServiceTiming](t, "service timing")
		if err != nil {
			return err
		}
		return st.SetServiceDelay(service, 0, d)
	})
}

// KnobOC11669: the 1.4 → 11 reconfigure drops the bootstrap to backup even
// on 11.1.8 (its keepalived_safemode skipped). Before 11.1.8 the restart of
// keepalived does it anyway. (Lab: yes: the model's safe mode is skipped,
// and stopping the 1.x runsvdir job the real way TERMs every runsv,
// keepalived's too: its notify_stop runs cluster.sh backup, and the peer's
// real keepalived takes over.)
func KnobOC11669() Knob { return arm(issue.OC11669, Bootstrap, nil) }

// KnobOC11670: the bootstrap's next upgrade starts while keepalived is
// still moving it back to master, so its reconfigure freezes
// is_data_master = false into partybus' config. Through 11.1.7 migration
// 1.9 is then skipped silently and its level written (1.10's
// must_be_data_master fails next); 11.1.8 fails loudly at 1.9. (Lab: yes,
// the model's reconfigure armed.)
func KnobOC11670() Knob { return arm(issue.OC11670, Bootstrap, nil) }

// KnobPartybusLocked makes the migration-level lock held: upgrade logs the
// lock error and exits 0. (Lab: yes: a process on each node holds the
// flock of the level file, and the model's partybus, taking the real lock,
// fails to get it. The simulation arms the model's switch instead.)
func KnobPartybusLocked() Knob {
	return NewKnob(string(PartybusLocked), true, All, func(t Target) error {
		if l, ok := t.(Locks); ok {
			return l.HoldLock(migration.Path)
		}
		return Arm(t, PartybusLocked)
	})
}
