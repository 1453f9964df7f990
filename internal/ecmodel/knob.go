package ecmodel

import (
	"errors"
	"fmt"
	"time"
)

// Known issues of the runbook. They live here, as plain constants, until
// the lead's leaf package of issue ids exists; this is their one place.
const (
	OC11297 = "OC-11297"
	OC11382 = "OC-11382"
	OC11426 = "OC-11426"
	OC11490 = "OC-11490"
	OC11540 = "OC-11540"
	OC11575 = "OC-11575"
	OC11601 = "OC-11601"
	OC11656 = "OC-11656"
	OC11657 = "OC-11657"
	OC11658 = "OC-11658"
	OC11662 = "OC-11662"
	OC11669 = "OC-11669"
	OC11670 = "OC-11670"
	// Emulation switches that are not OC issues.
	PartybusLocked = "partybus-locked"
	TwoRunsvdirs   = "two-runsvdirs"
)

// Selector picks the nodes a knob acts on: a role word or a node name.
type Selector string

const (
	All       Selector = "all"
	Backends  Selector = "backends"
	Bootstrap Selector = "bootstrap"
	Secondary Selector = "secondary"
	Frontends Selector = "frontends"
)

// Target is one node a knob plants on: its host, and optionally the
// capabilities below.
type Target interface {
	Host
	Name() string
}

// Planter is a cluster a knob can be planted in: the simulation now, the
// lab later.
type Planter interface {
	HostKind() string // "simulation", "lab"
	Select(s Selector) ([]Target, error)
}

// Capabilities a host may offer beyond Host; a knob needing one a target
// lacks fails with a *CannotPlantError.
type (
	// ServiceTiming makes services slow to stop or start.
	ServiceTiming interface {
		SetServiceDelay(service string, stop, start time.Duration) error
	}
	// Processes adds stray processes and runsvdir argv text.
	Processes interface {
		AddProcess(args string) error
		SetRunsvdirLog(text string) error
	}
	// Disks fills the log file system.
	Disks interface{ SetLogFSFull(full bool) error }
	// Transport breaks the SSH path to the node.
	Transport interface {
		DropConnectionAfter(commands int) error
		SetCommandDelay(d time.Duration) error
		StopSSH() error
	}
	// DRBDFaults puts the replicated disk in a failure state.
	DRBDFaults interface{ DRBDFault(f DRBDFault) error }
	// VRRP forces keepalived's state (split brain).
	VRRP interface{ ForceMaster() error }
)

// DRBDFault is a DRBD failure to plant.
type DRBDFault struct {
	Kind string // "disconnect", "inconsistent", "resync", "split-brain", "peer-unreachable"
	// Resync: percent already done and the speed in KiB/s.
	Done  float64
	Speed int
}

// ErrCannotPlant is what every *CannotPlantError matches.
var ErrCannotPlant = errors.New("knob cannot be planted on this host")

// CannotPlantError names the host and the knob it cannot plant.
type CannotPlantError struct {
	Host, Knob, Why string
}

func (e *CannotPlantError) Error() string {
	return fmt.Sprintf("knob %s cannot be planted on the %s: %s", e.Knob, e.Host, e.Why)
}

func (e *CannotPlantError) Is(target error) bool { return target == ErrCannotPlant }

// Knob is one scenario setting, the same value for every host.
type Knob struct {
	Name string
	// Lab reports whether the mechanism can exist in a real-software lab
	// (DRBD cannot: no kernel module).
	Lab   bool
	plant func(p Planter, k Knob) error
}

// Plant puts the knob's state into p.
func (k Knob) Plant(p Planter) error {
	if k.plant == nil {
		return &CannotPlantError{Host: p.HostKind(), Knob: k.Name, Why: "the knob has no planting"}
	}
	return k.plant(p, k)
}

// NewKnob makes a knob planting fn on the nodes sel picks.
func NewKnob(name string, lab bool, sel Selector, fn func(t Target) error) Knob {
	return Knob{Name: name, Lab: lab, plant: func(p Planter, k Knob) error {
		ts, err := p.Select(sel)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if err := fn(t); err != nil {
				var cp *CannotPlantError
				if errors.As(err, &cp) && cp.Host == "" {
					cp.Host, cp.Knob = p.HostKind(), k.Name
				}
				return fmt.Errorf("%s on %s: %w", k.Name, t.Name(), err)
			}
		}
		return nil
	}}
}

// need returns t as capability C, or a CannotPlantError.
func need[C any](t Target, what string) (C, error) {
	c, ok := t.(C)
	if !ok {
		return c, &CannotPlantError{Why: "the host offers no " + what}
	}
	return c, nil
}
