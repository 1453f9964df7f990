package clustertest

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/migration"
)

// install lays every node out as a fresh HA install of version: the
// package's files, `partybus init`'s level, the runsvdir job, then the
// model's reconfigure, back ends first, each given time to settle so the
// bootstrap's keepalived wins the first election.
func (c *Cluster) install(version, rb string) error {
	rel := ecmodel.Releases()[version]
	c.mu.Lock()
	defer c.mu.Unlock()
	order := append([]*Node{c.boot, c.sec}, c.list...)
	done := map[*Node]bool{}
	for _, n := range order {
		if done[n] {
			continue
		}
		done[n] = true
		for _, d := range []string{"/var/log/opscode", ecmodel.ServiceDir, ecmodel.SvDir, ecmodel.InitDir, "/etc/opscode", "/tmp", ecmodel.ModelDir} {
			if err := n.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		files := map[string]string{
			ecmodel.ManifestPath:          "private-chef " + version + "\n",
			"/etc/os-release":             "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"12.04\"\n",
			cluster.TopologyPath:          rb,
			"/etc/opscode/pivotal.pem":    "-----BEGIN RSA PRIVATE KEY-----\n(simulated)\n",
			"/etc/opscode/webui_priv.pem": "-----BEGIN RSA PRIVATE KEY-----\n(simulated webui)\n",
			migration.Path:                string(migration.Format(rel.Level)),
		}
		if n.backend() {
			files[ecmodel.DRBDDisk], files[ecmodel.DRBDDevice] = "", ""
			if err := n.MkdirAll(ecmodel.DRBDDataDir, 0o755); err != nil {
				return err
			}
		}
		for p, content := range files {
			mode := os.FileMode(0o644)
			if p == "/etc/opscode/pivotal.pem" || p == "/etc/opscode/webui_priv.pem" {
				mode = 0o600
			}
			if err := n.WriteFile(p, []byte(content), mode); err != nil {
				return err
			}
		}
		if err := n.StartJob(context.Background(), rel.Job); err != nil {
			return err
		}
		if code := ecmodel.Ctl(context.Background(), n, []string{"reconfigure"}, ecmodel.IO{Stdout: io.Discard, Stderr: io.Discard}); code != 0 {
			return fmt.Errorf("clustertest: %s: reconfigure failed (%d)", n.Name, code)
		}
		if n.backend() {
			c.sleep(electionTime + 2*c.transitionTime)
		}
	}
	if c.boot.Current() != "master" || c.sec.Current() != "backup" {
		return fmt.Errorf("clustertest: the pair did not settle: %s %q, %s %q", c.boot.Name, c.boot.Current(), c.sec.Name, c.sec.Current())
	}
	return nil
}

// now is the cluster's time: the clock plus the time its commands slept.
func (c *Cluster) now() time.Time {
	if !c.at.IsZero() {
		return c.at
	}
	return c.clock().Add(c.offset)
}

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
func (c *Cluster) Select(s ecmodel.Selector) ([]ecmodel.Target, error) {
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
