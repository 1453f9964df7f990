package ecmodel

import (
	"context"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/chefha/chefha/migration"
)

// The runbook's failure states as knobs. Lab says whether a real-software
// lab can have the mechanism; a host lacking a capability fails the plant.

func arm(id string, sel Selector, now func(t Target) error) Knob {
	return NewKnob(id, true, sel, func(t Target) error {
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

// KnobOC11297: 11.0.x back ends do not save their migration level; their
// file is empty now and an upgrade to 11.0.x empties it again. (Lab: yes.)
func KnobOC11297() Knob {
	return arm(OC11297, Backends, func(t Target) error { return t.WriteFile(migration.Path, nil, 0o644) })
}

// KnobOC11382: keepalived restarts as the upgrade's reconfigure ends on
// the back ends, once: cluster.sh backup stops the services partybus
// needs, and before 11.1.7 (no sleep) the migrations die part-way. The
// 11.1.7+ two-minute sleep outlasts the flap. (Lab: yes.)
func KnobOC11382() Knob { return arm(OC11382, Bootstrap, nil) }

// KnobOC11426: after 1.4.6 → 11 /var/log/opscode stays root's, svlogd
// (opscode) cannot rotate. (Lab: yes.)
func KnobOC11426() Knob {
	return arm(OC11426, All, func(t Target) error {
		if isEC11(t) {
			return t.Chown(LogDir, "root:root")
		}
		return nil
	})
}

// KnobOC11490: /var/log/opscode/keepalived owned by root: EC 11's
// svlogd runs as opscode and keepalived does not stay up. Reconfigures
// before 11.1.7 keep the owner; 11.1.7's re-owns it. (Lab: yes.)
func KnobOC11490() Knob {
	return arm(OC11490, Backends, func(t Target) error { return t.Chown(LogDir+"/keepalived", "root:root") })
}

// KnobOC11540 sets nginx['non_ssl_port'] = false in private-chef.rb: the
// next 11.1.3–11.1.8 reconfigure succeeds and writes opscode-account's
// internal_lb_url as http://127.0.0.1:false. (Lab: yes.)
func KnobOC11540() Knob {
	return arm(OC11540, All, func(t Target) error {
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
// (Lab: yes.)
func KnobOC11575() Knob {
	return arm(OC11575, Secondary, func(t Target) error {
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
// package install. (Lab: yes.)
func KnobOC11601() Knob { return arm(OC11601, All, nil) }

// KnobOC11656: a 077 umask leaves private-chef.rb unreadable to the
// services. (Lab: yes.)
func KnobOC11656() Knob {
	return arm(OC11656, All, func(t Target) error { return t.Chmod(TopologyPath, 0o600) })
}

// KnobOC11657: opscode-expander takes 10 s to stop, longer than sv's 7 s.
// (Lab: yes, with a slow run script.)
func KnobOC11657() Knob {
	return arm(OC11657, All, func(t Target) error {
		st, err := need[ServiceTiming](t, "service timing")
		if err != nil {
			return err
		}
		return st.SetServiceDelay("opscode-expander", 10*time.Second, 0)
	})
}

// KnobOC11658: oc_authz_migrator fails in migration 1.9. 0.0.1 (11.0.2–
// 11.1.6) swallows the failure and partybus succeeds; 0.0.3 (11.1.7+)
// exits non-zero and the upgrade fails. (Lab: yes.)
func KnobOC11658() Knob { return arm(OC11658, Bootstrap, nil) }

// KnobOC11662: redis_lb takes 12 s to come up, longer than sv waits.
// (Lab: yes, with a slow run script.)
func KnobOC11662() Knob {
	return arm(OC11662, All, func(t Target) error {
		st, err := need[ServiceTiming](t, "service timing")
		if err != nil {
			return err
		}
		return st.SetServiceDelay("redis_lb", 0, 12*time.Second)
	})
}

// KnobOC11669: the 1.4 → 11 reconfigure drops the bootstrap to backup even
// on 11.1.8 (its keepalived_safemode skipped). Before 11.1.8 the restart of
// keepalived does it anyway. (Lab: yes.)
func KnobOC11669() Knob { return arm(OC11669, Bootstrap, nil) }

// KnobOC11670: the bootstrap's next upgrade starts while keepalived is
// still moving it back to master, so its reconfigure freezes
// is_data_master = false into partybus' config. Through 11.1.7 migration
// 1.9 is then skipped silently and its level written (1.10's
// must_be_data_master fails next); 11.1.8 fails loudly at 1.9. (Lab: yes.)
func KnobOC11670() Knob { return arm(OC11670, Bootstrap, nil) }

// KnobPartybusLocked makes the migration-level lock look held: upgrade
// logs the lock error and exits 0. (Lab: yes, a process holding flock.)
func KnobPartybusLocked() Knob { return arm(PartybusLocked, All, nil) }

// KnobTwoRunsvdirs leaves both Upstart runsvdir jobs alive on the bootstrap.
// (Lab: yes.)
func KnobTwoRunsvdirs() Knob {
	return arm(TwoRunsvdirs, Bootstrap, func(t Target) error {
		for _, j := range []string{"opscode-runsvdir", "private-chef-runsvdir"} {
			if !contains(t.Jobs(), j) {
				if err := t.StartJob(context.Background(), j); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// KnobMigrationLevel sets one node's level file. (Lab: yes.)
func KnobMigrationLevel(node, content string) Knob {
	return NewKnob("migration-level", true, Selector(node), func(t Target) error {
		return t.WriteFile(migration.Path, []byte(content), 0o644)
	})
}

// KnobRunsvdirErrors puts svlogd's complaints into the bootstrap's runsvdir
// argv. (Lab: yes, a missing log directory.)
func KnobRunsvdirErrors() Knob {
	return NewKnob("runsvdir-errors", true, Bootstrap, func(t Target) error {
		p, err := need[Processes](t, "process planting")
		if err != nil {
			return err
		}
		m := "svlogd: pausing: unable to rename current: /var/log/opscode/opscode-erchef: file does not exist?"
		return p.SetRunsvdirLog(m + m)
	})
}

// KnobLeftoverCtl leaves an omnibus-ctl and an sv process on the bootstrap.
// (Lab: yes.)
func KnobLeftoverCtl() Knob {
	return NewKnob("leftover-ctl", true, Bootstrap, func(t Target) error {
		p, err := need[Processes](t, "process planting")
		if err != nil {
			return err
		}
		if err := p.AddProcess("/opt/opscode/embedded/bin/ruby /opt/opscode/embedded/bin/omnibus-ctl opscode /opt/opscode/embedded/service/omnibus-ctl upgrade"); err != nil {
			return err
		}
		return p.AddProcess("/opt/opscode/embedded/bin/sv start /opt/opscode/service/opscode-chef-mover")
	})
}

// KnobLogDirMode makes /var/log/opscode mode 700 on the bootstrap. (Lab: yes.)
func KnobLogDirMode() Knob {
	return NewKnob("log-dir-mode", true, Bootstrap, func(t Target) error { return t.Chmod(LogDir, 0o700) })
}

// KnobLogDirOwner makes /var/log/opscode root's on the bootstrap. (Lab: yes.)
func KnobLogDirOwner() Knob {
	return NewKnob("log-dir-owner", true, Bootstrap, func(t Target) error { return t.Chown(LogDir, "root:root") })
}

// KnobCurrentMissing removes opscode-erchef's log current on the bootstrap.
// (Lab: yes.)
func KnobCurrentMissing() Knob {
	return NewKnob("current-missing", true, Bootstrap, func(t Target) error { return t.Remove(LogDir + "/opscode-erchef/current") })
}

// KnobLogFSFull fills the bootstrap's log file system. (Lab: yes, a small
// loop-mounted file system.)
func KnobLogFSFull() Knob {
	return NewKnob("log-fs-full", true, Bootstrap, func(t Target) error {
		d, err := need[Disks](t, "disk filling")
		if err != nil {
			return err
		}
		return d.SetLogFSFull(true)
	})
}

// KnobStaleLinks leaves a dangling service link and one to a service EC 11
// removed on the bootstrap. (Lab: yes.)
func KnobStaleLinks() Knob {
	return NewKnob("stale-links", true, Bootstrap, func(t Target) error {
		if err := t.Symlink(SvDir+"/nagios-gone", ServiceDir+"/nagios-old"); err != nil {
			return err
		}
		if _, err := t.Lstat(ServiceDir + "/nagios"); err != nil {
			return t.Symlink(SvDir+"/nagios", ServiceDir+"/nagios")
		}
		return nil
	})
}

// KnobServiceDisabled unlinks a service, leaving its sv directory:
// `private-chef-ctl status` prints "NAME disabled". (Lab: yes.)
func KnobServiceDisabled(node, service string) Knob {
	return NewKnob("service-disabled", true, Selector(node), func(t Target) error { return t.Remove(ServiceDir + "/" + service) })
}

// KnobServiceDown stops one service on one node. (Lab: yes.)
func KnobServiceDown(node, service string) Knob {
	return NewKnob("service-down", true, Selector(node), func(t Target) error {
		t.Sv(context.Background(), "stop", service, 7*time.Second, true)
		return nil
	})
}

// KnobFrontendsStopped stops every service on the front ends. (Lab: yes.)
func KnobFrontendsStopped() Knob {
	return NewKnob("frontends-stopped", true, Frontends, func(t Target) error {
		ents, _ := t.ReadDir(ServiceDir)
		for _, e := range ents {
			t.Sv(context.Background(), "stop", e.Name(), 7*time.Second, true)
		}
		return nil
	})
}

// KnobStandbyKeepalivedStopped stops keepalived on the secondary. (Lab: yes.)
func KnobStandbyKeepalivedStopped() Knob {
	return NewKnob("standby-keepalived-stopped", true, Secondary, func(t Target) error {
		t.Sv(context.Background(), "stop", "keepalived", 7*time.Second, true)
		return nil
	})
}

// KnobSplitBrain makes the secondary take the VIP and DRBD primary too.
// (Lab: no — DRBD.)
func KnobSplitBrain() Knob {
	return NewKnob("split-brain", false, Secondary, func(t Target) error {
		v, err := need[VRRP](t, "VRRP control")
		if err != nil {
			return err
		}
		d, err := need[DRBDFaults](t, "DRBD")
		if err != nil {
			return err
		}
		if err := d.DRBDFault(DRBDFault{Kind: "split-brain"}); err != nil {
			return err
		}
		return v.ForceMaster()
	})
}

// KnobDRBD puts the pair's DRBD in a failure state: "disconnect" (both
// WFConnection, the secondary falls behind), "inconsistent" (the
// secondary's disk Inconsistent, disconnected), "resync" (SyncSource/
// SyncTarget from done% at speed KiB/s on the host clock),
// "peer-unreachable" (the secondary's replication address does not ping).
// (Lab: no — DRBD needs a kernel module.)
func KnobDRBD(f DRBDFault) Knob {
	return NewKnob("drbd-"+f.Kind, false, Secondary, func(t Target) error {
		d, err := need[DRBDFaults](t, "DRBD")
		if err != nil {
			return err
		}
		return d.DRBDFault(f)
	})
}

// KnobRHEL makes every node a RHEL node (rpm instead of dpkg). (Lab: no —
// the lab's hosts are Debian.)
func KnobRHEL() Knob {
	return NewKnob("rhel", false, All, func(t Target) error {
		return t.WriteFile("/etc/os-release", []byte("NAME=\"Red Hat Enterprise Linux Server\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"6.5\"\n"), 0o644)
	})
}

// KnobFile writes a file on one node. (Lab: yes.)
func KnobFile(node, path, content string, mode fs.FileMode) Knob {
	return NewKnob("file", true, Selector(node), func(t Target) error { return t.WriteFile(path, []byte(content), mode) })
}

// Transport knobs. (Lab: not yet — they need a traffic shaper.)

// KnobDropMidCommand cuts node's SSH connection during its nth command.
func KnobDropMidCommand(node string, nth int) Knob {
	return NewKnob("drop-mid-command", false, Selector(node), func(t Target) error {
		tr, err := need[Transport](t, "transport control")
		if err != nil {
			return err
		}
		return tr.DropConnectionAfter(nth)
	})
}

// KnobSlowNode makes every command on node take d longer.
func KnobSlowNode(node string, d time.Duration) Knob {
	return NewKnob("slow-node", false, Selector(node), func(t Target) error {
		tr, err := need[Transport](t, "transport control")
		if err != nil {
			return err
		}
		return tr.SetCommandDelay(d)
	})
}

// KnobUnreachable stops node's SSH server.
func KnobUnreachable(node string) Knob {
	return NewKnob("unreachable", true, Selector(node), func(t Target) error {
		tr, err := need[Transport](t, "transport control")
		if err != nil {
			return err
		}
		return tr.StopSSH()
	})
}
