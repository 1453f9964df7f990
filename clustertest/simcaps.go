package clustertest

import (
	"sync"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
)

// The capabilities knobs plant through (ecmodel's ServiceTiming, Processes,
// Disks, Transport, DRBDFaults), beyond the Host interface.

func (n *Node) SetServiceDelay(s string, stop, start time.Duration) error {
	if n.svcs[s] == nil {
		n.svcs[s] = &service{since: n.Now()}
	}
	n.svcs[s].stopDelay, n.svcs[s].startDelay = max(stop, n.svcs[s].stopDelay), max(start, n.svcs[s].startDelay)
	return nil
}
func (n *Node) AddProcess(args string) error        { n.procs = append(n.procs, args); return nil }
func (n *Node) SetRunsvdirLog(text string) error    { n.runsvLog = text; return nil }
func (n *Node) SetLogFSFull(full bool) error        { n.diskFull = full; return nil }
func (n *Node) DRBDFault(f ecmodel.DRBDFault) error { return n.c.drbd.fault(f) }

func (n *Node) DropConnectionAfter(k int) error {
	n.fault.mu.Lock()
	defer n.fault.mu.Unlock()
	n.fault.dropAfter = k
	return nil
}

func (n *Node) SetCommandDelay(d time.Duration) error {
	n.fault.mu.Lock()
	defer n.fault.mu.Unlock()
	n.fault.delay = d
	return nil
}

func (n *Node) StopSSH() error { return n.c.Servers[n.Name].Close() }

// fault is a node's transport trouble, set by the transport knobs.
type fault struct {
	mu        sync.Mutex
	delay     time.Duration // every command takes this long (a slow node)
	dropAfter int           // drop the connection during the Nth command from now (0: never)
}
