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
// each (usually ServerConfigs; or LoadSSHConfig by name). All servers are
// dialled at once, and one that cannot be reached does not stop the rest.
//
// Dial always returns a Cluster, to be closed. Every server has a node in
// it: a node Dial could not reach answers every call with an
// *UnreachableError naming it, its address and why. When any node is
// unreachable, the error is a *DialError listing them (errors.As finds it,
// and through it the causes, such as a *HostKeyError). Work that needs
// every node treats that error as fatal (and closes the Cluster); a
// pre-flight reads the nodes it reached and reports the others.
func Dial(ctx context.Context, top Topology, config func(Server) (SSHConfig, error)) (*Cluster, error) {
	type dialled struct {
		node *SSH
		addr string
	}
	name := func(s Server) string { return s.Name }
	rs := fanOut(ctx, top.Servers, name, 0, func(ctx context.Context, s Server) (dialled, error) {
		cfg, err := config(s)
		if err != nil {
			return dialled{}, fmt.Errorf("%s: %w", s.Name, err)
		}
		cfg.Name = s.Name // the node is named as the topology names it
		d := dialled{addr: cfg.addr()}
		d.node, err = DialSSH(ctx, cfg)
		return d, err
	})
	nodes := make(map[string]Node, len(rs))
	var de DialError
	for _, r := range rs {
		if r.Err == nil {
			nodes[r.Node] = r.Value.node
			continue
		}
		ue := &UnreachableError{Node: r.Node, Addr: r.Value.addr, Err: r.Err}
		nodes[r.Node] = unreachable{ue}
		de.Unreachable = append(de.Unreachable, ue)
	}
	c := &Cluster{Topology: top, nodes: nodes}
	if len(de.Unreachable) > 0 {
		de.Total = len(rs)
		return c, &de
	}
	return c, nil
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
