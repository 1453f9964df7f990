package clustertest

import (
	"io/fs"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
)

// Knob is one scenario setting: a host-neutral value that plants a failure
// state through the model's host interface, the same value for the
// simulation and the lab. A host that cannot plant it (DRBD on a lab
// without the kernel module) fails with an error matching ErrCannotPlant.
type Knob = ecmodel.Knob

// Selector names the nodes a knob plants on ("bootstrap", "secondary",
// "backends", "frontends", "all", or a node's name), and Target is one of
// them: the types of Cluster.Select (and lab.Lab.Select), named here so
// that an importer can write them.
type (
	Selector = ecmodel.Selector
	Target   = ecmodel.Target
)

// DRBDFault is a DRBD failure state for DRBD.
type DRBDFault = ecmodel.DRBDFault

// ErrCannotPlant matches every *CannotPlantError.
var ErrCannotPlant = ecmodel.ErrCannotPlant

// CannotPlantError names the host and the knob it cannot plant.
type CannotPlantError = ecmodel.CannotPlantError

// The runbook's known issues (each knob's doc in internal/ecmodel/knobs.go
// says whether a real-software lab can have it).

func OC11297() Knob { return ecmodel.KnobOC11297() } // back ends lose their migration level
func OC11382() Knob { return ecmodel.KnobOC11382() } // keepalived restarts under partybus
func OC11426() Knob { return ecmodel.KnobOC11426() } // log dir left to root after 1.4 → 11
func OC11490() Knob { return ecmodel.KnobOC11490() } // keepalived log dir root's: no keepalived
func OC11540() Knob { return ecmodel.KnobOC11540() } // non_ssl_port false breaks reconfigure
func OC11575() Knob { return ecmodel.KnobOC11575() } // HA services running on the standby
func OC11601() Knob { return ecmodel.KnobOC11601() } // reconfigure needs redis_lb restarted
func OC11656() Knob { return ecmodel.KnobOC11656() } // umask 077 during reconfigure
func OC11657() Knob { return ecmodel.KnobOC11657() } // opscode-expander stops slower than sv waits

// SlowStop makes service take d to stop on every node: with d beyond
// SVWAIT=30, migration 1.9's stop of it times out and partybus dies
// leaving the services it stopped down.
func SlowStop(service string, d time.Duration) Knob { return ecmodel.KnobSlowStop(service, d) }

// SlowStart makes service take d to come up on every node: beyond sv's
// wait, its start times out though it comes up all the same.
func SlowStart(service string, d time.Duration) Knob { return ecmodel.KnobSlowStart(service, d) }
func OC11658() Knob                                  { return ecmodel.KnobOC11658() } // authz migration fails silently
func OC11669() Knob                                  { return ecmodel.KnobOC11669() } // 1.4 → 11 reconfigure drops the master
func OC11670() Knob                                  { return ecmodel.KnobOC11670() } // migration 1.9 skipped mid-transition

// PartybusLocked makes the migration-level lock look held on every node.
func PartybusLocked() Knob { return ecmodel.KnobPartybusLocked() }

// MigrationLevel sets one node's level file to content.
func MigrationLevel(node, content string) Knob { return ecmodel.KnobMigrationLevel(node, content) }

// The runbook's runit symptoms.

func RunsvdirErrors() Knob    { return ecmodel.KnobRunsvdirErrors() }    // svlogd errors in runsvdir's argv
func TwoRunsvdirs() Knob      { return ecmodel.KnobTwoRunsvdirs() }      // both Upstart jobs alive
func RunsvdirRespawned() Knob { return ecmodel.KnobRunsvdirRespawned() } // orphaned runsv hold the locks
func LeftoverCtl() Knob       { return ecmodel.KnobLeftoverCtl() }       // stray omnibus-ctl and sv
func LogDirMode() Knob        { return ecmodel.KnobLogDirMode() }        // /var/log/opscode mode 700
func LogDirOwner() Knob       { return ecmodel.KnobLogDirOwner() }       // /var/log/opscode owned by root
func CurrentMissing() Knob    { return ecmodel.KnobCurrentMissing() }    // a log current removed
func LogFSFull() Knob         { return ecmodel.KnobLogFSFull() }         // log file system full
func StaleLinks() Knob        { return ecmodel.KnobStaleLinks() }        // dangling service links

// Cluster states.

func FrontendsStopped() Knob         { return ecmodel.KnobFrontendsStopped() }
func StandbyKeepalivedStopped() Knob { return ecmodel.KnobStandbyKeepalivedStopped() }
func SplitBrain() Knob               { return ecmodel.KnobSplitBrain() }
func MasterTransitionFailed() Knob   { return ecmodel.KnobMasterTransitionFailed() } // cluster.sh master gave up
func RHEL() Knob                     { return ecmodel.KnobRHEL() }

// Machine makes one node's hardware another (uname -m, e.g. "aarch64").
func Machine(node, machine string) Knob { return ecmodel.KnobMachine(node, machine) }

// ServiceDown stops one service on one node.
func ServiceDown(node, service string) Knob { return ecmodel.KnobServiceDown(node, service) }

// ServiceDisabled unlinks one service (its sv directory stays).
func ServiceDisabled(node, service string) Knob { return ecmodel.KnobServiceDisabled(node, service) }

// File writes a file on one node.
func File(node, path, content string, mode fs.FileMode) Knob {
	return ecmodel.KnobFile(node, path, content, mode)
}

// DRBD knobs (the simulation only: a lab has no DRBD kernel module).

func DRBDDisconnected() Knob    { return ecmodel.KnobDRBD(DRBDFault{Kind: "disconnect"}) }
func DRBDInconsistent() Knob    { return ecmodel.KnobDRBD(DRBDFault{Kind: "inconsistent"}) }
func DRBDPeerUnreachable() Knob { return ecmodel.KnobDRBD(DRBDFault{Kind: "peer-unreachable"}) }
func DRBDReconnect() Knob       { return ecmodel.KnobDRBD(DRBDFault{Kind: "reconnect"}) }
func DRBDStandAlone() Knob      { return ecmodel.KnobDRBD(DRBDFault{Kind: "standalone"}) } // StandAlone, roles kept

// DRBDResync starts a resync of the secondary, done percent already
// synced, at speed KiB/s on the cluster's clock.
func DRBDResync(done float64, speed int) Knob {
	return ecmodel.KnobDRBD(DRBDFault{Kind: "resync", Done: done, Speed: speed})
}

// Transport faults.

func DropMidCommand(node string, nth int) Knob   { return ecmodel.KnobDropMidCommand(node, nth) }
func SlowNode(node string, d time.Duration) Knob { return ecmodel.KnobSlowNode(node, d) }
func Unreachable(node string) Knob               { return ecmodel.KnobUnreachable(node) }
