package keepalived

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Default gate timings, each with the reason for its value.
const (
	// DefaultHold is how long the pair must stay stable, with no new
	// cluster.log transition, before the gate opens. cluster.sh exports
	// SVWAIT=30: a transition's service starts and stops may take that
	// long each, so 30 s without news means none is under way.
	DefaultHold = 30 * time.Second
	// DefaultTimeout bounds the wait. The runbook says "WAIT about 2
	// minutes until all services have returned to a normal, working
	// state"; chefha allows twice that before it gives up and says why.
	DefaultTimeout = 4 * time.Minute
	// DefaultPoll matches the runbook's monitoring loop (`sleep 1`) loosely:
	// state files change at most a few times per transition.
	DefaultPoll = 2 * time.Second
)

// Clock is the time source the Gate waits on; tests pass a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

func (RealClock) Now() time.Time                         { return time.Now() }
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Gate waits until a back-end pair is stable: Master is master and the
// other node backup, neither in transition, the VIP (when reported) on the
// master only, and no new cluster.log transition for Hold.
type Gate struct {
	// Read observes the pair once. A node that cannot be read is reported
	// through its NodeState.Err; an error return aborts the wait.
	Read func(ctx context.Context) (Pair, error)
	// Master is the name of the node that must end up master.
	Master  string
	Clock   Clock
	Hold    time.Duration
	Timeout time.Duration
	Poll    time.Duration
	// CheckVIP requires the VIP on the master and not on the backup.
	CheckVIP bool
	// Extra, if set, is asked after each Read for what else keeps the
	// gate closed (services still starting, a resync): its findings count
	// as instability, so the hold starts once everything is settled, and
	// are reported beside the pair's own.
	Extra func(ctx context.Context, p Pair) []Finding
	// OnPoll, if set, is told what every look saw.
	OnPoll func(GateStatus)
}

// GateStatus is one look of a gate at the pair.
type GateStatus struct {
	Pair      Pair
	Findings  []Finding // what keeps the gate closed; none once it is about to open
	StableFor time.Duration
	Hold      time.Duration
	Waited    time.Duration
	TimeoutAt time.Time
}

// GateTimeoutError says what the gate last saw on each node, and for how
// long, when the pair did not settle in time.
type GateTimeoutError struct {
	Waited   time.Duration
	Master   string
	Nodes    []SeenState
	Findings []Finding
}

// SeenState is a node's last observed state and how long it had held it.
type SeenState struct {
	Summary string
	For     time.Duration
}

func (e *GateTimeoutError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "keepalived pair not stable with %s master after %s:", e.Master, e.Waited.Round(time.Second))
	for _, n := range e.Nodes {
		fmt.Fprintf(&b, " [%s, for %s]", n.Summary, n.For.Round(time.Second))
	}
	if len(e.Findings) > 0 {
		fmt.Fprintf(&b, "; %s", Summary(e.Findings))
	}
	return b.String()
}

// Wait polls until the pair is stable for Hold, the Timeout passes, or ctx
// ends. It returns the last observation.
func (g Gate) Wait(ctx context.Context) (Pair, error) {
	clock := g.Clock
	if clock == nil {
		clock = RealClock{}
	}
	hold, timeout, poll := g.Hold, g.Timeout, g.Poll
	if hold == 0 {
		hold = DefaultHold
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if poll == 0 {
		poll = DefaultPoll
	}
	start := clock.Now()
	var stableSince time.Time
	seen := map[string]SeenState{}
	since := map[string]time.Time{}
	var last Pair
	var lastFindings []Finding
	lastLogged := map[string]string{} // each node's newest transition line, as last seen
	lastReset := ""                   // the transition that last restarted the hold
	looks, unreadLooks, lastUnread := 0, 0, ""
	for {
		now := clock.Now()
		rctx, cancel := context.WithTimeout(ctx, max(poll, 10*time.Second))
		p, err := g.Read(rctx)
		cancel()
		if err != nil {
			return p, fmt.Errorf("keepalived gate: %w", err)
		}
		last = p
		looks++
		for _, n := range []NodeState{p.Bootstrap, p.Secondary} {
			if n.Err != nil {
				unreadLooks++
				lastUnread = n.Err.Error()
				break
			}
		}
		for _, n := range []NodeState{p.Bootstrap, p.Secondary} {
			s := n.Summary()
			if prev, ok := seen[n.Name]; !ok || prev.Summary != s {
				since[n.Name] = now
			}
			seen[n.Name] = SeenState{Summary: s, For: now.Sub(since[n.Name])}
		}
		lastFindings = g.findings(p)
		if g.Extra != nil {
			// Asked even while the pair is unsettled: what it finds (a runsv
			// holding the lock of a service cluster.sh cannot start) is often
			// why the pair does not settle.
			lastFindings = append(lastFindings, g.Extra(ctx, p)...)
		}
		stableFor := time.Duration(0)
		if len(lastFindings) == 0 {
			if stableSince.IsZero() {
				stableSince = now
			}
			// A transition logged since the last look restarts the hold. New
			// lines are told by what they say, not by their time: the nodes'
			// clocks are not this machine's.
			for _, n := range []NodeState{p.Bootstrap, p.Secondary} {
				if n.Err != nil {
					continue // a look that read nothing says nothing of transitions
				}
				key := ""
				if e, ok := LastTransition(n.Events); ok {
					key = e.Time.String() + " " + string(e.Kind) + " " + string(e.To)
				}
				if prev, seenBefore := lastLogged[n.Name]; seenBefore && prev != key {
					stableSince = now
					lastReset = n.Name + " logged " + key
				}
				lastLogged[n.Name] = key
			}
			stableFor = now.Sub(stableSince)
		} else {
			stableSince = time.Time{}
		}
		if g.OnPoll != nil {
			g.OnPoll(GateStatus{Pair: p, Findings: lastFindings, StableFor: stableFor, Hold: hold, Waited: now.Sub(start), TimeoutAt: start.Add(timeout)})
		}
		if len(lastFindings) == 0 && stableFor >= hold {
			return p, nil
		}
		if now.Sub(start) >= timeout {
			e := &GateTimeoutError{Waited: now.Sub(start), Master: g.Master, Findings: lastFindings}
			for _, n := range []NodeState{last.Bootstrap, last.Secondary} {
				e.Nodes = append(e.Nodes, seen[n.Name])
			}
			switch {
			case len(lastFindings) > 0:
			case lastReset != "" && now.Sub(stableSince) < hold:
				e.Findings = []Finding{{Problem: ProblemInTransition, Detail: fmt.Sprintf("cluster.log kept logging transitions within the %s hold (last: %s): the pair is flapping", hold, lastReset)}}
			case unreadLooks > 0:
				// Reads that failed now and then kept the hold from running
				// its length: that is what to fix, not the pair.
				e.Findings = []Finding{{Problem: ProblemUnreadable, Detail: fmt.Sprintf("%d of %d looks could not read a node (last: %s), and each restarted the %s hold", unreadLooks, looks, lastUnread, hold)}}
			default:
				e.Findings = []Finding{{Problem: ProblemInTransition, Detail: fmt.Sprintf("the pair was stable for %s of the %s hold when the gate's time ran out", now.Sub(stableSince).Round(time.Second), hold)}}
			}
			return last, e
		}
		// Look again when the hold would end if nothing changes, or after
		// one poll, whichever is sooner: a hold of H ends within a short poll
		// of H, not rounded up to a whole one.
		wait := poll
		if len(lastFindings) == 0 && hold-stableFor < wait {
			wait = hold - stableFor
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("keepalived gate: %w", ctx.Err())
		case <-clock.After(wait):
		}
	}
}

func (g Gate) findings(p Pair) []Finding {
	var out []Finding
	for _, f := range Judge(p) {
		if !g.CheckVIP && (f.Problem == ProblemVIPNotOnMaster || f.Problem == ProblemVIPOnBackup) {
			continue
		}
		out = append(out, f)
	}
	if len(out) > 0 {
		return out
	}
	m, _ := p.Master()
	if m.Name != g.Master {
		out = append(out, Finding{Problem: ProblemBootstrapNotMaster, Node: g.Master,
			Detail: fmt.Sprintf("%s is master, want %s", m.Name, g.Master)})
	}
	return out
}
