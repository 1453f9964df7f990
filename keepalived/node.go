package keepalived

import (
	"fmt"
	"time"
)

// NodeState is what was read of one back end's HA state.
type NodeState struct {
	Name      string
	Current   Status
	Requested Status
	// LockPID is the PID in cluster-transition.lock (0: no lock file);
	// LockAlive says whether that process still runs (a stale lock from a
	// killed cluster.sh does not mean a transition is running).
	LockPID   int
	LockAlive bool
	// HasVIP reports whether the node holds the backend_vip address.
	HasVIP bool
	// Events are cluster.log's lines, oldest first.
	Events []Event
	// Err is set when the node could not be read: it says nothing about
	// the node's state.
	Err error
}

// InTransition reports a state change in progress or one that failed:
// requested ≠ current, or the transition lock held by a live process.
func (n NodeState) InTransition() bool {
	return n.Requested != "" && n.Requested != n.Current || n.LockPID > 0 && n.LockAlive
}

// FailedTransition returns the message cluster.sh gave up with when the
// node is left in a transition that failed: the requested state is not
// the current one, no live process holds the lock, and the last thing
// cluster.log says since the newest "Transitioning to" is an error_exit
// (Cannot start X, …). keepalived does not run the script again: the node
// stays there until someone does.
func (n NodeState) FailedTransition() (Event, bool) {
	if n.Requested == "" || n.Requested == n.Current || n.LockPID > 0 && n.LockAlive {
		return Event{}, false
	}
	for i := len(n.Events) - 1; i >= 0; i-- {
		e := n.Events[i]
		switch {
		case e.GaveUp():
			return e, true
		case e.Kind == EventTransitioning, e.Kind == EventTransitioned:
			return Event{}, false
		}
	}
	return Event{}, false
}

// LastTransition returns the time of the newest transition in cluster.log.
func (n NodeState) LastTransition() (time.Time, bool) {
	e, ok := LastTransition(n.Events)
	return e.Time, ok
}

// Summary is a one-line description for errors and logs.
func (n NodeState) Summary() string { return n.Name + ": " + n.state() }

// state is Summary without the node's name, for a finding, which names
// its node itself.
func (n NodeState) state() string {
	if n.Err != nil {
		return fmt.Sprintf("unreadable (%v)", n.Err)
	}
	s := string(n.Current)
	if n.Requested != "" && n.Requested != n.Current {
		s += fmt.Sprintf(" (requested %s)", n.Requested)
	}
	if n.LockPID > 0 && n.LockAlive {
		s += fmt.Sprintf(", transition lock held by pid %d", n.LockPID)
	}
	if n.HasVIP {
		s += ", holds VIP"
	}
	return s
}
