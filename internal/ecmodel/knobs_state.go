package ecmodel

// The knobs that are a cluster's state rather than a release's known
// issue: runit and its logs, services, the HA pair, DRBD, the platform and
// the connection (knobs.go has the known issues).

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/chefha/chefha/migration"
)

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
