package clustertest

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/migration"
)

// install lays every node out as a fresh HA install of its running
// release (Options.Version unless NodeOptions say otherwise): the
// package's files, `partybus init`'s level, the runsvdir job, then the
// model's reconfigure, the master-to-be first, each back end given time to
// settle so that it wins the first election; then the installed package's
// manifest where that is newer than what runs.
func (c *Cluster) install(o Options, rb string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	master, other := c.boot, c.sec
	if o.Master == c.sec.Name {
		master, other = c.sec, c.boot
	}
	order := append([]*Node{master, other}, c.list...)
	done := map[*Node]bool{}
	for _, n := range order {
		if done[n] {
			continue
		}
		done[n] = true
		installed, running, err := o.releases(n.Name)
		if err != nil {
			return err
		}
		if err := c.installNode(n, o, rb, running); err != nil {
			return err
		}
		if installed != running {
			if err := ecmodel.WriteVersionFile(n, installed); err != nil {
				return err
			}
		}
		if n.backend() {
			c.sleep(electionTime + 2*c.transitionTime)
		}
	}
	if master.Current() != "master" || other.Current() != "backup" {
		return fmt.Errorf("clustertest: the pair did not settle: %s %q, %s %q", master.Name, master.Current(), other.Name, other.Current())
	}
	return nil
}

// installNode installs and reconfigures one node as release version.
func (c *Cluster) installNode(n *Node, o Options, rb, version string) error {
	rel := ecmodel.Releases()[version]
	for _, d := range []string{"/usr/bin", "/var/log/opscode", ecmodel.ServiceDir, ecmodel.SvDir, ecmodel.InitDir, "/etc/opscode", "/tmp", ecmodel.ModelDir} {
		if err := n.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	osRelease := o.Nodes[n.Name].OSRelease
	if osRelease == "" {
		osRelease = "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"12.04\"\n"
	}
	versionPath, versionFile := ecmodel.VersionFile(version)
	files := map[string]string{
		versionPath:       string(versionFile),
		"/etc/os-release": osRelease,
		migration.Path:    string(migration.Format(rel.Level())),
	}
	tree := o.Nodes[n.Name].EtcOpscode
	if tree == nil {
		tree = o.EtcOpscode
	}
	if tree == nil {
		files["/etc/opscode/pivotal.pem"] = "-----BEGIN RSA PRIVATE KEY-----\n(simulated)\n"
		files["/etc/opscode/webui_priv.pem"] = "-----BEGIN RSA PRIVATE KEY-----\n(simulated webui)\n"
	} else if err := n.etcTree(tree); err != nil {
		return fmt.Errorf("clustertest: %s: /etc/opscode: %w", n.Name, err)
	}
	if _, err := n.Lstat(cluster.TopologyPath); err != nil {
		files[cluster.TopologyPath] = rb
	}
	if n.backend() {
		files[ecmodel.DRBDDisk], files[ecmodel.DRBDDevice] = "", ""
		if err := n.MkdirAll(ecmodel.DRBDDataDir, 0o755); err != nil {
			return err
		}
	}
	for p, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".pem") {
			mode = 0o600
		}
		if err := n.WriteFile(p, []byte(content), mode); err != nil {
			return err
		}
	}
	if err := n.StartJob(context.Background(), rel.RunsvdirJob()); err != nil {
		return err
	}
	if code := ecmodel.Ctl(context.Background(), n, []string{"reconfigure"}, ecmodel.IO{Stdout: io.Discard, Stderr: io.Discard}); code != 0 {
		return fmt.Errorf("clustertest: %s: reconfigure failed (%d)", n.Name, code)
	}
	return nil
}

// now is the cluster's time: the clock plus the time its commands slept.
func (c *Cluster) now() time.Time {
	t := c.at
	if t.IsZero() {
		t = c.clock().Add(c.offset)
	}
	c.seen.Store(t.UnixNano())
	return t
}

// fileTime is the files' modification time: the cluster's time when it
// was last read, under the lock (a command's start, an SFTP request's
// settle). The file trees ask for it holding only their own lock, and
// Options.Clock need not be safe to call from many goroutines.
func (c *Cluster) fileTime() time.Time { return time.Unix(0, c.seen.Load()) }

// sleep moves the cluster's time on by d and runs what falls due.
func (c *Cluster) sleep(d time.Duration) {
	for d > 0 {
		step := min(d, time.Second)
		if c.sleepFn != nil {
			c.sleepFn(step)
		} else {
			c.offset += step
		}
		d -= step
		c.settle()
	}
}

func (c *Cluster) addr(n *Node) string {
	if s, ok := c.Topology.Server(n.Name); ok {
		return s.Host()
	}
	return "127.0.0.1"
}

// HostKind names the simulation in CannotPlantError.
func (c *Cluster) HostKind() string { return "simulation" }

// Select returns the nodes a knob selector names.
func (c *Cluster) Select(s Selector) ([]Target, error) {
	var out []ecmodel.Target
	add := func(ns ...*Node) {
		for _, n := range ns {
			out = append(out, target{n})
		}
	}
	switch s {
	case ecmodel.All:
		add(c.list...)
	case ecmodel.Backends:
		add(c.boot, c.sec)
	case ecmodel.Bootstrap:
		add(c.boot)
	case ecmodel.Secondary:
		add(c.sec)
	case ecmodel.Frontends:
		for _, f := range c.Topology.Frontends() {
			add(c.Nodes[f.Name])
		}
	default:
		n, ok := c.Nodes[string(s)]
		if !ok {
			return nil, fmt.Errorf("clustertest: no node %s", s)
		}
		add(n)
	}
	return out, nil
}

// Plant puts a knob into a running cluster.
func (c *Cluster) Plant(k Knob) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settle()
	defer c.settle()
	return k.Plant(c)
}
