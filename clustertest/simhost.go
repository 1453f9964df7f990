package clustertest

import (
	"slices"
	"strings"
	"time"

	"github.com/chefha/chefha/clustertest/internal/memfs"
	"github.com/chefha/chefha/internal/ecmodel"
)

// Node is one simulated Enterprise Chef node: ecmodel's node model on an
// in-memory host (a file tree in memory, emulated runit, Upstart,
// keepalived and DRBD) on the cluster's clock. Read its state with the
// methods below; they lock the cluster. Its files (ReadFile, WriteFile,
// Stat, FS, …) take their own lock and may be read at any time.
type Node struct {
	c     *Cluster
	Name  string
	files *memfs.FS // the node's file tree
	// VIP is backend_vip's address, shown by `ip addr` while keepalived
	// holds it.
	VIP string

	owners map[string]string
	svcs   map[string]*service
	jobs   []string
	// orphaned: the runsv of the linked services outlived the runsvdir
	// that started them (its job stopped) and still hold their services'
	// supervise locks, children of init, until a post-stop signals them.
	orphaned   bool
	procs      []string // stray processes (knobs)
	runsvLog   string
	diskFull   bool
	nextPID    int
	curPID     int
	vrrp       string // "", "BACKUP" or "MASTER" (keepalived's state)
	hasVIP     bool
	electAt    time.Time
	trans      *ecmodel.Transition
	transArg   string // the state cluster.sh was started with
	transAt    time.Time
	mounts     []string
	log        []string
	peer       *Node
	fault      *fault
	clusterIP  string
	forcedVRRP bool
	vols       *volumes // a back end's volume group (LVM)
}

type service struct {
	up                    bool
	pid                   int
	since                 time.Time
	stopDelay, startDelay time.Duration
	// termAt is when runsv TERMed a service that takes stopDelay to go
	// down; sv stopped waiting, but the service goes down all the same.
	termAt time.Time
}

// settle brings s down once the stop runsv asked for has had its time.
func (n *Node) settleStop(name string, s *service, now time.Time) {
	if s.termAt.IsZero() || now.Sub(s.termAt) < s.stopDelay {
		return
	}
	s.up, s.since, s.termAt = false, s.termAt.Add(s.stopDelay), time.Time{}
	n.serviceChanged(name, false)
}

// Lock runs fn with the cluster's state locked, after letting due events
// (keepalived elections, cluster.sh steps) happen.
func (n *Node) Lock(fn func(n *Node)) {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	n.c.settle()
	fn(n)
}

// Settle lets the cluster's time catch up with its clock.
func (n *Node) Settle() { n.Lock(func(*Node) {}) }

// Harm is the damage the real bugs would have done on this node.
func (n *Node) Harm() []string { return ecmodel.HarmDone(n) }

// Log is every state-changing command the node ran, in order.
func (n *Node) Log() []string { return slices.Clone(n.log) }

// Current is the node's current_cluster_status.
func (n *Node) Current() string { return n.status(ecmodel.CurrentPath) }

// Requested is the node's requested_cluster_status.
func (n *Node) Requested() string { return n.status(ecmodel.RequestedPath) }

// KeepalivedUp reports whether keepalived runs; KeepalivedState is its
// VRRP state ("MASTER", "BACKUP" or "" when stopped).
func (n *Node) KeepalivedUp() bool      { return n.vrrp != "" }
func (n *Node) KeepalivedState() string { return n.vrrp }

// InTransition reports whether a cluster.sh run holds the lock.
func (n *Node) InTransition() bool { return n.trans != nil }

func (n *Node) status(p string) string {
	b, _ := n.ReadFile(p)
	return strings.TrimSpace(string(b))
}

// target is a Node as knobs see it.
type target struct{ *Node }

func (t target) Name() string { return t.Node.Name }

var _ ecmodel.Target = target{}

// Package is the installed package version (the version manifest's).
func (n *Node) Package() string {
	v, _ := ecmodel.InstalledVersion(n)
	return v
}

// Configured is the release the node's last reconfigure laid down.
func (n *Node) Configured() string { return n.configured().Version }

// HasVIP reports whether keepalived holds the virtual IP here.
func (n *Node) HasVIP() bool { return n.hasVIP }

// ServiceState is one supervised service as runsv sees it.
type ServiceState struct {
	Name           string
	Up, NormallyUp bool
}

// Services lists the linked services' states, sorted by name.
func (n *Node) Services() []ServiceState {
	var out []ServiceState
	for _, s := range n.linkedServices() {
		out = append(out, ServiceState{Name: s, Up: n.svc(s).up, NormallyUp: n.normallyUp(s)})
	}
	return out
}
