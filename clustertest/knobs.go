package clustertest

import (
	"os"
	"strings"
	"time"

	"github.com/chefha/chefha/clustertest/ecnode"
)

// Knobs put a cluster into the failure states the runbook names. Each
// reproduces the bug the way the real one behaved: some change the state
// at once (a file's owner), others arm the node so that a later step
// misbehaves (the reconfigure that drops the bootstrap to backup).

func onNodes(name string, pick func(*Cluster) []*ecnode.Node, fn func(*ecnode.Node) error) Knob {
	return Knob{Name: name, Apply: func(c *Cluster) error {
		for _, n := range pick(c) {
			var err error
			n.Lock(func(n *ecnode.Node) { err = fn(n) })
			if err != nil {
				return err
			}
		}
		return nil
	}}
}

func all(c *Cluster) []*ecnode.Node {
	var out []*ecnode.Node
	for _, s := range c.Topology.Servers {
		out = append(out, c.Nodes[s.Name])
	}
	return out
}
func backends(c *Cluster) []*ecnode.Node  { return []*ecnode.Node{c.Bootstrap(), c.Secondary()} }
func bootstrap(c *Cluster) []*ecnode.Node { return []*ecnode.Node{c.Bootstrap()} }
func secondary(c *Cluster) []*ecnode.Node { return []*ecnode.Node{c.Secondary()} }
func named(name string) func(*Cluster) []*ecnode.Node {
	return func(c *Cluster) []*ecnode.Node { return []*ecnode.Node{c.Node(name)} }
}

// bug arms a known issue on the nodes pick returns.
func bug(id string, pick func(*Cluster) []*ecnode.Node, now func(*ecnode.Node) error) Knob {
	return onNodes(id, pick, func(n *ecnode.Node) error {
		n.Bugs[id] = true
		if now != nil {
			return now(n)
		}
		return nil
	})
}

func isEC11(n *ecnode.Node) bool { return strings.HasPrefix(n.Release.Version, "11.") }

// OC11297: 11.0.x back ends do not save their migration level; the back
// ends' file is empty now and an upgrade to 11.0.x leaves it empty again.
func OC11297() Knob {
	return bug("OC-11297", backends, func(n *ecnode.Node) error {
		return n.WriteFile("/var/opt/opscode/upgrades/migration-level", "", 0o644)
	})
}

// OC11382: keepalived restarts during the bootstrap's upgrade and the
// migrations die part-way.
func OC11382() Knob { return bug("OC-11382", bootstrap, nil) }

// OC11426: after 1.4.6 → 11 the log and runit dirs stay owned by root, so
// svlogd cannot rotate and runsvdir's argv fills with errors.
func OC11426() Knob {
	return bug("OC-11426", all, func(n *ecnode.Node) error {
		if isEC11(n) {
			n.Owners["/var/log/opscode"] = "root:root"
		}
		return nil
	})
}

// OC11490: /var/log/opscode/keepalived owned by root: keepalived does not
// run on EC 11.
func OC11490() Knob {
	return bug("OC-11490", backends, func(n *ecnode.Node) error {
		n.Owners["/var/log/opscode/keepalived"] = "root:root"
		return nil
	})
}

// OC11540: nginx['non_ssl_port'] = false in private-chef.rb makes the EC 11
// reconfigure write an invalid opscode-account config.
func OC11540() Knob {
	return bug("OC-11540", all, func(n *ecnode.Node) error {
		rb, err := n.ReadFile("/etc/opscode/private-chef.rb")
		if err != nil {
			return err
		}
		return n.WriteFile("/etc/opscode/private-chef.rb", rb+"nginx['non_ssl_port'] = false\n", 0o644)
	})
}

// OC11575: the HA services started at boot on the passive back end.
func OC11575() Knob {
	return bug("OC-11575", secondary, func(n *ecnode.Node) error {
		for _, s := range n.Services {
			s.Up = s.Name != "opscode-chef-mover"
		}
		return nil
	})
}

// OC11601: reconfigure fails unless redis_lb was restarted after the
// package install.
func OC11601() Knob { return bug("OC-11601", all, nil) }

// OC11656: a umask of 077 during reconfigure leaves files the services
// must read unreadable to them.
func OC11656() Knob {
	return bug("OC-11656", all, func(n *ecnode.Node) error {
		return os.Chmod(n.Path("/etc/opscode/private-chef.rb"), 0o600)
	})
}

// OC11657: opscode-expander takes 10 s to stop, longer than sv's default
// 7 s wait: `sv stop` prints timeout: unless SVWAIT or -w is longer.
func OC11657() Knob {
	return bug("OC-11657", all, func(n *ecnode.Node) error {
		if s, ok := n.Services["opscode-expander"]; ok {
			s.StopDelay = 10 * time.Second
		}
		return nil
	})
}

// OC11658: oc_authz_migrator fails during the 1.13 migration and partybus
// still reports success.
func OC11658() Knob { return bug("OC-11658", bootstrap, nil) }

// OC11662: redis_lb takes 12 s to come up, longer than sv waits.
func OC11662() Knob {
	return bug("OC-11662", all, func(n *ecnode.Node) error {
		if s, ok := n.Services["redis_lb"]; ok {
			s.StartDelay = 12 * time.Second
		}
		return nil
	})
}

// OC11669: the runsvdir job rename during the 1.4 → 11 reconfigure drops
// the bootstrap to backup (then back to master).
func OC11669() Knob { return bug("OC-11669", bootstrap, nil) }

// OC11670: the bootstrap is in a long keepalived transition, during which
// partybus silently skips migration 1.9.
func OC11670() Knob {
	return bug("OC-11670", bootstrap, func(n *ecnode.Node) error {
		n.TransitionTime = 20 * time.Second
		return nil
	})
}

// MigrationLevel sets one node's level file to content.
func MigrationLevel(node, content string) Knob {
	return onNodes("migration-level", named(node), func(n *ecnode.Node) error {
		return n.WriteFile("/var/opt/opscode/upgrades/migration-level", content, 0o644)
	})
}

// PartybusLocked makes the migration-level lock look held on every node:
// upgrade logs the lock error and exits 0.
func PartybusLocked() Knob {
	return onNodes("partybus-locked", all, func(n *ecnode.Node) error { n.PartybusLocked = true; return nil })
}

// RunsvdirErrors puts svlogd's complaints into the bootstrap's runsvdir argv
// (a log directory that went missing).
func RunsvdirErrors() Knob {
	return onNodes("runsvdir-errors", bootstrap, func(n *ecnode.Node) error {
		n.RunsvdirLog = "svlogd: pausing: unable to rename current: /var/log/opscode/opscode-erchef: file does not exist?svlogd: pausing: unable to rename current: /var/log/opscode/opscode-erchef: file does not exist?"
		return nil
	})
}

// TwoRunsvdirs leaves both Upstart trees alive on the bootstrap (and keeps
// them both through the job rename).
func TwoRunsvdirs() Knob {
	return onNodes("two-runsvdirs", bootstrap, func(n *ecnode.Node) error {
		n.Bugs["two-runsvdirs"] = true
		n.Runsvdirs = []string{"opscode-runsvdir", "private-chef-runsvdir"}
		return nil
	})
}

// LeftoverCtl leaves an omnibus-ctl and an sv process on the bootstrap.
func LeftoverCtl() Knob {
	return onNodes("leftover-ctl", bootstrap, func(n *ecnode.Node) error {
		n.Leftovers = append(n.Leftovers,
			"/opt/opscode/embedded/bin/ruby /opt/opscode/embedded/bin/omnibus-ctl private-chef /opt/opscode/embedded/service/omnibus-ctl upgrade",
			"/opt/opscode/embedded/bin/sv start /opt/opscode/service/opscode-chef-mover")
		return nil
	})
}

// LogDirMode makes /var/log/opscode mode 700 on the bootstrap.
func LogDirMode() Knob {
	return onNodes("log-dir-mode", bootstrap, func(n *ecnode.Node) error {
		return os.Chmod(n.Path("/var/log/opscode"), 0o700)
	})
}

// LogDirOwner makes /var/log/opscode owned by root on the bootstrap.
func LogDirOwner() Knob {
	return onNodes("log-dir-owner", bootstrap, func(n *ecnode.Node) error {
		n.Owners["/var/log/opscode"] = "root:root"
		return nil
	})
}

// CurrentMissing removes opscode-erchef's log current on the bootstrap.
func CurrentMissing() Knob {
	return onNodes("current-missing", bootstrap, func(n *ecnode.Node) error {
		return os.Remove(n.Path("/var/log/opscode/opscode-erchef/current"))
	})
}

// LogFSFull fills the bootstrap's log filesystem.
func LogFSFull() Knob {
	return onNodes("log-fs-full", bootstrap, func(n *ecnode.Node) error { n.DiskFull = true; return nil })
}

// StaleLinks leaves a link to a service EC 11 removed, and a dangling one,
// in the bootstrap's service dir.
func StaleLinks() Knob {
	return onNodes("stale-links", bootstrap, func(n *ecnode.Node) error {
		if err := os.Symlink("/opt/opscode/sv/nagios-gone", n.Path("/opt/opscode/service/nagios-old")); err != nil {
			return err
		}
		if _, ok := n.Services["nagios"]; !ok {
			return os.Symlink("/opt/opscode/sv/nagios", n.Path("/opt/opscode/service/nagios"))
		}
		return nil
	})
}

// FrontendsStopped stops every service on the front ends, as the pre-flight asks.
func FrontendsStopped() Knob {
	return onNodes("frontends-stopped", func(c *Cluster) []*ecnode.Node {
		var out []*ecnode.Node
		for _, s := range c.Topology.Frontends() {
			out = append(out, c.Node(s.Name))
		}
		return out
	}, func(n *ecnode.Node) error {
		for _, s := range n.Services {
			s.Up = false
		}
		return nil
	})
}

// StandbyKeepalivedStopped stops keepalived on the secondary, as the pre-flight asks.
func StandbyKeepalivedStopped() Knob {
	return onNodes("standby-keepalived-stopped", secondary, func(n *ecnode.Node) error { n.KeepalivedUp = false; return nil })
}

// SplitBrain makes both back ends master.
func SplitBrain() Knob {
	return onNodes("split-brain", secondary, func(n *ecnode.Node) error {
		n.HasVIP = true
		for _, f := range []string{"current_cluster_status", "requested_cluster_status"} {
			if err := n.WriteFile("/var/opt/opscode/keepalived/"+f, "master\n", 0o644); err != nil {
				return err
			}
		}
		return nil
	})
}

// RHEL makes every node a RHEL node (rpm instead of dpkg).
func RHEL() Knob {
	return onNodes("rhel", all, func(n *ecnode.Node) error {
		n.Family = "rhel"
		return n.WriteFile("/etc/os-release", "NAME=\"Red Hat Enterprise Linux Server\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"6.5\"\n", 0o644)
	})
}

// Transport faults.

func onFault(name, node string, fn func(*fault)) Knob {
	return Knob{Name: name, Apply: func(c *Cluster) error {
		f := c.faults[node]
		f.mu.Lock()
		fn(f)
		f.mu.Unlock()
		return nil
	}}
}

// DropMidCommand cuts node's SSH connection during its nth command from now.
func DropMidCommand(node string, nth int) Knob {
	return onFault("drop-mid-command", node, func(f *fault) { f.dropAfter = nth })
}

// SlowNode makes every command on node take d longer.
func SlowNode(node string, d time.Duration) Knob {
	return onFault("slow-node", node, func(f *fault) { f.delay = d })
}

// Unreachable stops node's SSH server: dials are refused.
func Unreachable(node string) Knob {
	return Knob{Name: "unreachable", Apply: func(c *Cluster) error { return c.Servers[node].Close() }}
}

// ServiceDown stops one service on one node.
func ServiceDown(node, service string) Knob {
	return onNodes("service-down", named(node), func(n *ecnode.Node) error {
		if s, ok := n.Services[service]; ok {
			s.Up = false
		}
		return nil
	})
}

// File writes a file on one node (e.g. a different version manifest or
// private-chef.rb).
func File(node, path, content string, mode os.FileMode) Knob {
	return onNodes("file", named(node), func(n *ecnode.Node) error { return n.WriteFile(path, content, mode) })
}
