package ecmodel

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
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

// KnobOC11297: 11.0.x back ends do not save their migration level; their
// file is empty now and an upgrade to 11.0.x empties it again. (Lab: yes,
// the level files emptied and the model's partybus armed.)
func KnobOC11297() Knob {
	return arm(issue.OC11297, Backends, func(t Target) error { return t.WriteFile(migration.Path, nil, 0o644) })
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

// KnobOC11662: redis_lb takes 12 s to come up, longer than sv waits.
// (Lab: yes: a check script in its service directory fails for 12 s after
// each start, and the real sv start waits for it and times out.)
func KnobOC11662() Knob {
	return arm(issue.OC11662, All, func(t Target) error {
		st, err := need[ServiceTiming](t, "service timing")
		if err != nil {
			return err
		}
		return st.SetServiceDelay("redis_lb", 0, 12*time.Second)
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

// KnobTwoRunsvdirs leaves both Upstart runsvdir jobs alive on the bootstrap.
// (Lab: yes: two real runsvdirs on one service directory, their runsv
// fighting over each service's supervise lock.)
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

// KnobRunsvdirRespawned: the bootstrap's runsvdir died and Upstart (the
// job's respawn stanza) started another; the old one's runsv live on,
// orphaned, each holding its service's supervise/lock, so the new
// runsvdir's runsv for them cannot start — the runbook's Example, "stuck
// on the old OPC 1.4.6 processes". (Lab: yes: the job's runsvdir
// SIGKILLed and the job started again.)
func KnobRunsvdirRespawned() Knob {
	return NewKnob("runsvdir-respawned", true, Bootstrap, func(t Target) error {
		if r, ok := t.(RunsvdirRespawner); ok {
			return r.RespawnRunsvdir()
		}
		p, err := need[Processes](t, "process planting")
		if err != nil {
			return err
		}
		ents, err := t.ReadDir(ServiceDir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := p.AddProcess("runsv " + e.Name()); err != nil {
				return err
			}
		}
		return nil
	})
}

// KnobMigrationLevel sets one node's level file. (Lab: yes, the file.)
func KnobMigrationLevel(node, content string) Knob {
	return NewKnob("migration-level", true, Selector(node), func(t Target) error {
		return t.WriteFile(migration.Path, []byte(content), 0o644)
	})
}

// KnobRunsvdirErrors puts svlogd's complaints into the bootstrap's runsvdir
// argv. (Lab: yes: opscode-erchef's log directory removed and its svlogd
// restarted; the real svlogd fails and the real runsvdir writes what it
// said into its argv.)
func KnobRunsvdirErrors() Knob {
	return NewKnob("runsvdir-errors", true, Bootstrap, func(t Target) error {
		if ls, ok := t.(LogServices); ok {
			return ls.BreakLogDir("opscode-erchef")
		}
		p, err := need[Processes](t, "process planting")
		if err != nil {
			return err
		}
		m := "svlogd: pausing: unable to rename current: /var/log/opscode/opscode-erchef: file does not exist?"
		return p.SetRunsvdirLog(m + m)
	})
}

// KnobLeftoverCtl leaves an omnibus-ctl and an sv process on the bootstrap.
// (Lab: yes: two idle processes with those command lines, which ps shows.)
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

// KnobLogDirMode makes /var/log/opscode mode 700 on the bootstrap. (Lab:
// yes, chmod.)
func KnobLogDirMode() Knob {
	return NewKnob("log-dir-mode", true, Bootstrap, func(t Target) error { return t.Chmod(LogDir, 0o700) })
}

// KnobLogDirOwner makes /var/log/opscode root's on the bootstrap. (Lab:
// yes, chown.)
func KnobLogDirOwner() Knob {
	return NewKnob("log-dir-owner", true, Bootstrap, func(t Target) error { return t.Chown(LogDir, "root:root") })
}

// KnobCurrentMissing removes opscode-erchef's log current on the bootstrap.
// (Lab: yes: removed under the running svlogd, which goes on writing the
// unlinked file.)
func KnobCurrentMissing() Knob {
	return NewKnob("current-missing", true, Bootstrap, func(t Target) error { return t.Remove(LogDir + "/opscode-erchef/current") })
}

// KnobLogFSFull fills the bootstrap's log file system. (Lab: yes: a small
// tmpfs holding a copy of /var/log/opscode is moved over it and filled, so
// df and every writer see it full.)
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
// removed on the bootstrap. (Lab: yes: the real runsvdir tries to
// supervise them and complains.)
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
// `private-chef-ctl status` prints "NAME disabled". (Lab: yes: the link
// removed, and the real runsvdir stops supervising it.)
func KnobServiceDisabled(node, service string) Knob {
	return NewKnob("service-disabled", true, Selector(node), func(t Target) error { return t.Remove(ServiceDir + "/" + service) })
}

// KnobServiceDown stops one service on one node. (Lab: yes, sv stop.)
func KnobServiceDown(node, service string) Knob {
	return NewKnob("service-down", true, Selector(node), func(t Target) error {
		t.Sv(context.Background(), "stop", service, 7*time.Second, true)
		return nil
	})
}

// KnobFrontendsStopped stops every service on the front ends. (Lab: yes,
// sv stop.)
func KnobFrontendsStopped() Knob {
	return NewKnob("frontends-stopped", true, Frontends, func(t Target) error {
		ents, _ := t.ReadDir(ServiceDir)
		for _, e := range ents {
			t.Sv(context.Background(), "stop", e.Name(), 7*time.Second, true)
		}
		return nil
	})
}

// KnobStandbyKeepalivedStopped stops keepalived on the secondary. (Lab:
// yes: sv stop, and the real keepalived's notify_stop runs cluster.sh.)
func KnobStandbyKeepalivedStopped() Knob {
	return NewKnob("standby-keepalived-stopped", true, Secondary, func(t Target) error {
		t.Sv(context.Background(), "stop", "keepalived", 7*time.Second, true)
		return nil
	})
}

// KnobMasterTransitionFailed: the bootstrap's last master transition gave
// up on its first service (cluster.sh's error_exit "Cannot start X", as
// when a runsv of a stopped job still holds that service's lock).
// keepalived stays master with the VIP, current_cluster_status says
// backup, the HA services are down, and nothing runs the transition
// again. (Lab: yes: the files and sv stop; the real keepalived stays
// master.)
func KnobMasterTransitionFailed() Knob {
	return NewKnob("master-transition-failed", true, Bootstrap, func(t Target) error {
		n, err := Load(t)
		if err != nil {
			return err
		}
		svcs := n.clusterServices()
		if len(svcs) == 0 {
			return fmt.Errorf("master-transition-failed: %s has no HA service", t.Name())
		}
		for _, s := range slices.Backward(svcs) {
			t.Sv(context.Background(), "stop", s, 7*time.Second, true)
		}
		t.WriteFile(RequestedPath, []byte("master\n"), 0o644)
		t.WriteFile(CurrentPath, []byte("backup\n"), 0o644)
		t.Remove(LockPath)
		n.log("Transitioning to master")
		n.log("DRBD primary takeover successful")
		n.log("Starting service " + svcs[0])
		n.log("Cannot start " + svcs[0])
		return nil
	})
}

// MachinePath holds a simulated node's `uname -m` (x86_64 when absent).
const MachinePath = ModelDir + "/machine"

// KnobMachine makes a node's hardware another (`uname -m`, e.g.
// "aarch64"). (Lab: no: a lab node's uname is the host's.)
func KnobMachine(node, machine string) Knob {
	return NewKnob("machine-"+machine, false, Selector(node), func(t Target) error {
		return t.WriteFile(MachinePath, []byte(machine+"\n"), 0o644)
	})
}

// KnobSplitBrain makes the secondary take the VIP and DRBD primary too.
// (Lab: yes: the pair's DRBD is the model's (no kernel module) and goes
// StandAlone with both Primary; the secondary's real keepalived is
// restarted on a virtual router id its peer does not speak, hears no
// master and takes the VIP.)
func KnobSplitBrain() Knob {
	return NewKnob("split-brain", true, Secondary, func(t Target) error {
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
// (Lab: yes, with DRBD simulated: the lab has no DRBD kernel module, so
// its drbdadm and the /proc/drbd its ha-status reads are the model's
// DRBDPair, kept where both back ends see it; the data directory is a real
// bind mount. peer-unreachable also removes the secondary's replication
// address from its interface, so the real ping fails.)
func KnobDRBD(f DRBDFault) Knob {
	return NewKnob("drbd-"+f.Kind, true, Secondary, func(t Target) error {
		d, err := need[DRBDFaults](t, "DRBD")
		if err != nil {
			return err
		}
		return d.DRBDFault(f)
	})
}

// KnobRHEL makes every node a RHEL node (rpm instead of dpkg). (Lab: yes,
// as far as /etc/os-release goes: the node's dpkg and rpm, the model's
// Install, follow it; the programs under it stay Debian's.)
func KnobRHEL() Knob {
	return NewKnob("rhel", true, All, func(t Target) error {
		// Debian's /etc/os-release is a link to /usr/lib/os-release: the
		// node gets a file of its own instead.
		t.Remove("/etc/os-release")
		return t.WriteFile("/etc/os-release", []byte("NAME=\"Red Hat Enterprise Linux Server\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"6.5\"\n"), 0o644)
	})
}

// KnobFile writes a file on one node. (Lab: yes, in the node's own trees:
// /etc, /opt/opscode, /var/opt/opscode, /var/log/opscode, /tmp.)
func KnobFile(node, path, content string, mode fs.FileMode) Knob {
	return NewKnob("file", true, Selector(node), func(t Target) error { return t.WriteFile(path, []byte(content), mode) })
}

// Transport knobs. The lab stops a node's real sshd; it cannot cut a
// connection mid-command or slow one down without a traffic shaper, and
// refuses those two.

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

// KnobUnreachable stops node's SSH server. (Lab: yes, the node's sshd
// killed.)
func KnobUnreachable(node string) Knob {
	return NewKnob("unreachable", true, Selector(node), func(t Target) error {
		tr, err := need[Transport](t, "transport control")
		if err != nil {
			return err
		}
		return tr.StopSSH()
	})
}
