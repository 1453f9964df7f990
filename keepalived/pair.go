package keepalived

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Problem names a pair-level finding.
type Problem string

const (
	ProblemUnreadable         Problem = "unreadable"
	ProblemSplitBrain         Problem = "split-brain"
	ProblemNoMaster           Problem = "no-master"
	ProblemBootstrapNotMaster Problem = "bootstrap-not-master"
	ProblemInTransition       Problem = "in-transition"
	ProblemTransitionFailed   Problem = "transition-failed"
	ProblemVIPNotOnMaster     Problem = "vip-not-on-master"
	ProblemVIPOnBackup        Problem = "vip-on-backup"
	ProblemFault              Problem = "fault"
)

// Finding is one thing wrong with the pair.
type Finding struct {
	Problem Problem
	Node    string // "" for pair-wide findings
	Detail  string
	Fix     string
}

func (f Finding) String() string {
	if f.Node == "" {
		return fmt.Sprintf("%s: %s", f.Problem, f.Detail)
	}
	return fmt.Sprintf("%s: %s: %s", f.Problem, f.Node, f.Detail)
}

// Pair is the two back ends of an HA cluster.
type Pair struct {
	Bootstrap NodeState
	Secondary NodeState
}

// Master returns the node that is master, if exactly one is.
func (p Pair) Master() (NodeState, bool) {
	b, s := p.Bootstrap.Current == Master, p.Secondary.Current == Master
	switch {
	case b && !s:
		return p.Bootstrap, true
	case s && !b:
		return p.Secondary, true
	}
	return NodeState{}, false
}

// Judge lists what is wrong with the pair: exactly one master holding the
// VIP and the other backup is healthy. Bootstrap-is-master is checked
// separately (JudgeBootstrapMaster) because a healthy pair may have the
// secondary as master outside an upgrade.
func Judge(p Pair) []Finding {
	var out []Finding
	nodes := []NodeState{p.Bootstrap, p.Secondary}
	for _, n := range nodes {
		switch {
		case errors.Is(n.Err, ErrNoClusterStatus):
			out = append(out, Finding{Problem: ProblemUnreadable, Node: n.Name, Detail: n.Err.Error(),
				Fix: "cluster.sh writes " + RequestedPath + " before " + CurrentStatusPath + " on every transition: give it the node's current state (cp " + CurrentStatusPath + " " + RequestedPath + "), or run the transition again on " + n.Name})
		case n.Err != nil:
			out = append(out, Finding{Problem: ProblemUnreadable, Node: n.Name, Detail: n.Err.Error(),
				Fix: "check that the node is up and reachable, and that keepalived has run once (private-chef-ctl reconfigure)"})
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, n := range nodes {
		if e, ok := n.FailedTransition(); ok {
			out = append(out, Finding{Problem: ProblemTransitionFailed, Node: n.Name,
				Detail: fmt.Sprintf("%s; cluster.sh %s gave up at %s: %s, and keepalived does not run it again", n.state(), n.Requested, e.Time.Format(time.TimeOnly), e.Message),
				Fix:    "fix what made it give up, then run the transition again on " + n.Name + ": " + ClusterShPath + " " + string(n.Requested)})
		} else if n.InTransition() {
			out = append(out, Finding{Problem: ProblemInTransition, Node: n.Name, Detail: n.state(),
				Fix: "wait for the transition to finish (private-chef-ctl tail keepalived); a lock whose process is gone is stale: remove " + LockPath})
		}
		if n.Current == Fault {
			out = append(out, Finding{Problem: ProblemFault, Node: n.Name, Detail: n.state(),
				Fix: "keepalived put the node in fault: check the VRRP interface and " + ClusterLogPath})
		}
	}
	bm, sm := p.Bootstrap.Current == Master, p.Secondary.Current == Master
	switch {
	case bm && sm:
		out = append(out, Finding{Problem: ProblemSplitBrain, Detail: fmt.Sprintf("both %s and %s are master", p.Bootstrap.Name, p.Secondary.Name),
			Fix: "stop keepalived on the secondary (private-chef-ctl stop keepalived) and check the heartbeat link; both nodes may be writing to DRBD"})
	case !bm && !sm:
		out = append(out, Finding{Problem: ProblemNoMaster, Detail: fmt.Sprintf("%s is %s, %s is %s", p.Bootstrap.Name, p.Bootstrap.Current, p.Secondary.Name, p.Secondary.Current),
			Fix: "start keepalived on the bootstrap (private-chef-ctl start keepalived) and wait for it to become master"})
	}
	for _, n := range nodes {
		switch {
		case n.Current == Master && !n.HasVIP:
			out = append(out, Finding{Problem: ProblemVIPNotOnMaster, Node: n.Name, Detail: n.state() + ", but not the VIP",
				Fix: "the master has not brought the VIP up: check keepalived's log and the backend_vip device"})
		case n.Current != Master && n.HasVIP:
			out = append(out, Finding{Problem: ProblemVIPOnBackup, Node: n.Name, Detail: n.state(),
				Fix: "a " + string(n.Current) + " holds the VIP: restart keepalived on it, or remove the address by hand"})
		}
	}
	return out
}

// JudgeBootstrapMaster checks that the bootstrap is the master: partybus
// migrations refuse to run otherwise ("The bootstrap server must be the
// HA-master at the time of upgrade").
func JudgeBootstrapMaster(p Pair) []Finding {
	if p.Bootstrap.Err == nil && p.Bootstrap.Current == Master && p.Secondary.Current != Master {
		return nil
	}
	return []Finding{{Problem: ProblemBootstrapNotMaster, Node: p.Bootstrap.Name,
		Detail: fmt.Sprintf("%s; %s", p.Bootstrap.Summary(), p.Secondary.Summary()),
		Fix:    "stop keepalived on " + p.Secondary.Name + " (private-chef-ctl stop keepalived) so that " + p.Bootstrap.Name + " becomes master"}}
}

// Summary joins findings for an error message.
func Summary(fs []Finding) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.String()
	}
	return strings.Join(parts, "; ")
}
