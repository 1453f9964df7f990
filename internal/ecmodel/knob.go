package ecmodel

import (
	"errors"
	"fmt"
	"time"

	"github.com/chefha/chefha/issue"
)

// Emulation switches a node can have armed beside the known issues (whose
// ids are package issue's constants): they are not Chef bugs, so issue
// does not list them, but the model arms and reads them the same way.
const (
	PartybusLocked issue.ID = "partybus-locked"
	TwoRunsvdirs   issue.ID = "two-runsvdirs"
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
	// RunsvdirRespawner kills the runsvdir of the running job and starts
	// the job again, as Upstart's respawn does: the old runsvdir's runsv
	// live on.
	RunsvdirRespawner interface{ RespawnRunsvdir() error }
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
	// Locks holds a file lock in a process of its own, as a second
	// partybus would.
	Locks interface{ HoldLock(name string) error }
	// LogServices restarts a service's svlogd, which then meets its log
	// directory as it now is; BreakLogDir removes the directory first, so
	// the real svlogd fails and runsvdir shows its complaint.
	LogServices interface {
		RestartLog(service string) error
		BreakLogDir(service string) error
	}
)

// DRBDFault is a DRBD failure to plant.
type DRBDFault struct {
	Kind string // "disconnect", "inconsistent", "resync", "standalone", "split-brain", "peer-unreachable", "reconnect"
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
