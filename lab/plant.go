package lab

import (
	"fmt"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/lab/internal/labnode"
)

// A lab is an ecmodel.Planter: knobs plant through its nodes' hosts, which
// act on each node from this process (see labnode.Outside).
var _ ecmodel.Planter = (*Lab)(nil)

// HostKind names the lab in a CannotPlantError.
func (l *Lab) HostKind() string { return "lab" }

// Select returns the nodes a knob selector names.
func (l *Lab) Select(s clustertest.Selector) ([]clustertest.Target, error) {
	var out []ecmodel.Target
	for _, n := range l.Nodes {
		var pick bool
		switch s {
		case ecmodel.All:
			pick = true
		case ecmodel.Backends:
			pick = n.Backend
		case ecmodel.Bootstrap:
			pick = n.Bootstrap
		case ecmodel.Secondary:
			pick = n.Backend && !n.Bootstrap
		case ecmodel.Frontends:
			pick = !n.Backend
		default:
			pick = n.Name == string(s)
		}
		if !pick {
			continue
		}
		h, err := n.host()
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lab: no node %s", s)
	}
	return out, nil
}

// Plant puts a knob into the running lab (Start plants Spec.Knobs so). A
// knob the lab cannot plant is an error matching ecmodel.ErrCannotPlant
// (clustertest.ErrCannotPlant).
func (l *Lab) Plant(k ecmodel.Knob) error {
	if err := k.Plant(l); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// host is the node as the node model sees it, acting on it from this
// process: its files, runit, keepalived and network.
func (n *Node) host() (*labnode.Host, error) {
	pid, err := n.pid1()
	if err != nil {
		return nil, err
	}
	return labnode.Outside(n.Name, pid), nil
}
