package clustertest

import (
	"os"

	"github.com/chefha/chefha/clustertest/ecnode"
)

func onNode(name string, pick func(*Cluster) []*ecnode.Node, fn func(*ecnode.Node) error) Knob {
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

func backends(c *Cluster) []*ecnode.Node  { return []*ecnode.Node{c.Bootstrap(), c.Secondary()} }
func bootstrap(c *Cluster) []*ecnode.Node { return []*ecnode.Node{c.Bootstrap()} }
func secondary(c *Cluster) []*ecnode.Node { return []*ecnode.Node{c.Secondary()} }

// OC11297: the back ends did not save their migration level (empty file),
// while the front ends hold the right one.
func OC11297() Knob {
	return onNode("OC-11297", backends, func(n *ecnode.Node) error {
		return n.WriteFile("/var/opt/opscode/upgrades/migration-level", "", 0o644)
	})
}

// MigrationLevel sets one node's level file to content.
func MigrationLevel(name, content string) Knob {
	return onNode("migration-level", func(c *Cluster) []*ecnode.Node { return []*ecnode.Node{c.Node(name)} }, func(n *ecnode.Node) error {
		return n.WriteFile("/var/opt/opscode/upgrades/migration-level", content, 0o644)
	})
}

// RunsvdirErrors puts svlogd's complaint into the bootstrap's runsvdir argv.
func RunsvdirErrors() Knob {
	return onNode("runsvdir-errors", bootstrap, func(n *ecnode.Node) error {
		n.RunsvdirLog = "svlogd: pausing: unable to rename current: /var/log/opscode/opscode-erchef: file does not exist?svlogd: pausing: unable to rename current: /var/log/opscode/opscode-erchef: file does not exist?"
		return nil
	})
}

// TwoRunsvdirs leaves both Upstart trees alive on the bootstrap.
func TwoRunsvdirs() Knob {
	return onNode("two-runsvdirs", bootstrap, func(n *ecnode.Node) error {
		n.Runsvdirs = []string{"opscode-runsvdir", "private-chef-runsvdir"}
		return nil
	})
}

// LeftoverCtl leaves a private-chef-ctl and an sv process on the bootstrap.
func LeftoverCtl() Knob {
	return onNode("leftover-ctl", bootstrap, func(n *ecnode.Node) error {
		n.Leftovers = append(n.Leftovers,
			"/opt/opscode/embedded/bin/ruby /opt/opscode/embedded/bin/omnibus-ctl private-chef /opt/opscode/embedded/service/omnibus-ctl upgrade",
			"/opt/opscode/embedded/bin/sv start /opt/opscode/service/opscode-chef-mover")
		return nil
	})
}

// LogDirMode makes /var/log/opscode mode 700 on the bootstrap.
func LogDirMode() Knob {
	return onNode("log-dir-mode", bootstrap, func(n *ecnode.Node) error {
		return os.Chmod(n.Path("/var/log/opscode"), 0o700)
	})
}

// OC11426: after 1.4.6→11 the runit and log dirs are owned by root.
func OC11426() Knob {
	return onNode("OC-11426", bootstrap, func(n *ecnode.Node) error {
		n.Owners["/var/log/opscode"] = "root:root"
		return nil
	})
}

// CurrentMissing removes opscode-erchef's log current on the bootstrap.
func CurrentMissing() Knob {
	return onNode("current-missing", bootstrap, func(n *ecnode.Node) error {
		return os.Remove(n.Path("/var/log/opscode/opscode-erchef/current"))
	})
}

// LogFSFull fills the bootstrap's log filesystem.
func LogFSFull() Knob {
	return onNode("log-fs-full", bootstrap, func(n *ecnode.Node) error { n.DiskFull = true; return nil })
}

// StaleLinks leaves links to removed services (and one dangling) in the
// bootstrap's service dir.
func StaleLinks() Knob {
	return onNode("stale-links", bootstrap, func(n *ecnode.Node) error {
		return os.Symlink("/opt/opscode/sv/nagios-gone", n.Path("/opt/opscode/service/nagios-old"))
	})
}

// OC11575: HA services started at boot on the passive back end.
func OC11575() Knob {
	return onNode("OC-11575", secondary, func(n *ecnode.Node) error {
		for _, s := range n.Services {
			s.Up = true
		}
		return nil
	})
}

// OC11540: non_ssl_port set to false in private-chef.rb.
func OC11540() Knob {
	return Knob{Name: "OC-11540", Apply: func(c *Cluster) error {
		for _, n := range c.Nodes {
			b, err := os.ReadFile(n.Path("/etc/opscode/private-chef.rb"))
			if err != nil {
				return err
			}
			if err := n.WriteFile("/etc/opscode/private-chef.rb", string(b)+"nginx['non_ssl_port'] = false\n", 0o644); err != nil {
				return err
			}
		}
		return nil
	}}
}

// FrontendsStopped stops every service on the front ends, as the
// pre-flight asks.
func FrontendsStopped() Knob {
	return Knob{Name: "frontends-stopped", Apply: func(c *Cluster) error {
		for _, s := range c.Topology.Frontends() {
			c.Node(s.Name).Lock(func(n *ecnode.Node) {
				for _, svc := range n.Services {
					svc.Up = false
				}
			})
		}
		return nil
	}}
}

// StandbyKeepalivedStopped stops keepalived on the secondary, as the
// pre-flight asks.
func StandbyKeepalivedStopped() Knob {
	return onNode("standby-keepalived-stopped", secondary, func(n *ecnode.Node) error { n.KeepalivedUp = false; return nil })
}

// SplitBrain makes both back ends master.
func SplitBrain() Knob {
	return onNode("split-brain", secondary, func(n *ecnode.Node) error {
		n.HasVIP = true
		for _, f := range []string{"current_cluster_status", "requested_cluster_status"} {
			if err := n.WriteFile("/var/opt/opscode/keepalived/"+f, "master\n", 0o644); err != nil {
				return err
			}
		}
		return nil
	})
}
