package cluster

import (
	"context"
	"errors"
	"fmt"
)

// Cluster is a topology and a node for each of its servers.
type Cluster struct {
	Topology Topology
	nodes    map[string]Node
}

// New builds a cluster from a topology and nodes keyed by server name.
// Every server of the topology needs a node.
func New(top Topology, nodes map[string]Node) (*Cluster, error) {
	for _, s := range top.Servers {
		if nodes[s.Name] == nil {
			return nil, fmt.Errorf("cluster: no node for server %s (private-chef.rb line %d)", s.Name, s.Line)
		}
	}
	return &Cluster{Topology: top, nodes: nodes}, nil
}

// Dial connects to every server of top, using config to say how to reach
// each (e.g. LoadSSHConfig by name, or the server's IP address). All
// servers are dialled at once; every failure is reported.
func Dial(ctx context.Context, top Topology, config func(Server) (SSHConfig, error)) (*Cluster, error) {
	nodes := map[string]Node{}
	name := func(s Server) string { return s.Name }
	rs := fanOut(ctx, top.Servers, name, 0, func(ctx context.Context, s Server) (*SSH, error) {
		cfg, err := config(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		if cfg.Name == "" {
			cfg.Name = s.Name
		}
		return DialSSH(ctx, cfg)
	})
	if err := JoinErrors(rs); err != nil {
		for _, r := range rs {
			if r.Value != nil {
				r.Value.Close()
			}
		}
		return nil, err
	}
	for _, r := range rs {
		nodes[r.Node] = r.Value
	}
	return New(top, nodes)
}

// Node returns the node of the server called name.
func (c *Cluster) Node(name string) (Node, bool) {
	n, ok := c.nodes[name]
	return n, ok
}

// Nodes returns the nodes of servers, in the order given.
func (c *Cluster) Nodes(servers []Server) []Node {
	out := make([]Node, 0, len(servers))
	for _, s := range servers {
		out = append(out, c.nodes[s.Name])
	}
	return out
}

// All returns every node in topology order.
func (c *Cluster) All() []Node { return c.Nodes(c.Topology.Servers) }

// Close closes every node.
func (c *Cluster) Close() error {
	var errs []error
	for _, n := range c.nodes {
		errs = append(errs, n.Close())
	}
	return errors.Join(errs...)
}
