package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chefha/chefha/internal/termsafe"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/upgrade"
)

// Each part of a snapshot in words, one line each; every part that came
// from a node is escaped.

// state is a back end's keepalived state, for a line of its own.
func state(n upgrade.WatchBackend) string {
	if n.Err != nil {
		return nodeErr(n.Name, n.Err)
	}
	s := string(n.Current)
	if n.Requested != "" && n.Requested != n.Current {
		s += " (requested " + string(n.Requested) + ")"
	}
	if l := lock(n); l != "-" {
		s += ", lock " + l
	}
	if n.HasVIP {
		s += ", holds the VIP"
	}
	return s + ", services " + services(n.Services)
}

// nodeErr says why a node could not be read: "unreachable" and the cause
// when the read could not run (SSH failed, it timed out), "unreadable"
// and what was wrong with what it printed otherwise.
func nodeErr(name string, err error) string {
	var ue *upgrade.UnreadableError
	if errors.As(err, &ue) {
		return "unreachable: " + termsafe.Line(strings.TrimPrefix(err.Error(), name+" unreadable: "))
	}
	return "unreadable: " + termsafe.Line(err.Error())
}

// lock is the transition lock: "-" when there is none; "stale" when the
// process that took it is gone.
func lock(n upgrade.WatchBackend) string {
	switch {
	case n.LockPID == 0:
		return "-"
	case n.LockAlive:
		return fmt.Sprintf("pid %d live", n.LockPID)
	}
	return fmt.Sprintf("pid %d stale", n.LockPID)
}

// services counts a node's services: "?" when they could not be read.
func services(c *keepalived.ServiceCount) string {
	switch {
	case c == nil:
		return "?"
	case c.Down == 0:
		return fmt.Sprintf("%d up", c.Up)
	}
	return fmt.Sprintf("%d up, %d down", c.Up, c.Down)
}

// drbdLine is a back end's DRBD resource: the connection, the roles and
// the disks as /proc/drbd prints them (this node's first), a resync's
// progress, and what a state that does not replicate means.
func drbdLine(n upgrade.WatchBackend) string {
	if n.DRBDErr != nil {
		if n.Err != nil {
			return "unknown: the node could not be read"
		}
		return "unreadable: " + termsafe.Line(n.DRBDErr.Error())
	}
	r := n.DRBD
	if !r.Configured() {
		return string(r.CState) + ": the resource is down (drbdadm up " + upgrade.DRBDResource + ")"
	}
	s := fmt.Sprintf("%s %s/%s %s/%s", r.CState, r.Role, r.PeerRole, r.Disk, r.PeerDisk)
	switch p := r.Sync; {
	case p != nil:
		what := "resync"
		if p.Verify {
			what = "verify"
		}
		s += fmt.Sprintf(", %s %.1f%% done", what, p.Percent)
		if p.Stalled {
			s += ", stalled"
		} else if p.Finish > 0 {
			s += ", " + clockDuration(p.Finish) + " left"
		}
	case r.StandAlone():
		s += ": not replicating (split brain, or disconnected by hand)"
	case !r.Connected():
		s += ": not replicating"
	case r.Syncing():
		s += ": resync starting"
	}
	return s
}

// clockDuration is d as DRBD's finish estimate prints it, h:mm:ss.
func clockDuration(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

// frontendLine is a front end: its services, or why nothing is known of
// it. A front end that could not be read is never shown as up.
func frontendLine(f upgrade.WatchFrontend) string {
	if f.Err != nil {
		return nodeErr(f.Name, f.Err)
	}
	s := "services " + services(f.Services)
	if f.Services != nil && f.Services.Down > 0 {
		s += " (down: " + termsafe.Line(strings.Join(f.Services.Stopped, ", ")) + ")"
	}
	return s
}

// stepLines say where the journal's run is: the step running, or where
// it stopped, then the step done last. Times are on loc (the watch's).
func stepLines(st *upgrade.WatchStep, loc *time.Location) []string {
	journal := termsafe.Line(st.Journal)
	switch {
	case errors.Is(st.Err, upgrade.ErrNoJournal):
		return []string{"no run recorded yet in " + journal}
	case st.Err != nil:
		return []string{"journal " + journal + " unreadable: " + termsafe.Line(st.Err.Error())}
	}
	at := func(t time.Time) string { return t.In(loc).Format("15:04:05") }
	step := func(i int, s upgrade.Step) string {
		return fmt.Sprintf("step %d/%d %s", i, st.Total, termsafe.Line(s.ID))
	}
	var first string
	switch {
	case st.Finished():
		first = "finished: every step done"
	case st.Running:
		first = step(st.NextIndex, st.Next) + " running since " + at(st.Since)
		if o := st.Owner; o != nil {
			first += fmt.Sprintf(" (pid %d on %s)", o.PID, termsafe.Line(o.Host))
		}
	default:
		first = "stopped before " + step(st.NextIndex, st.Next)
		switch o := st.Owner; {
		case o != nil && st.OwnerAlive:
			first += fmt.Sprintf("; the lock is held by pid %d on %s, a run of another plan", o.PID, termsafe.Line(o.Host))
		case o != nil && st.LockProblem == "":
			first += fmt.Sprintf("; a stale lock of pid %d on %s is left", o.PID, termsafe.Line(o.Host))
		case o != nil:
			first += fmt.Sprintf("; the lock of pid %d on %s is there, alive or not", o.PID, termsafe.Line(o.Host))
		}
	}
	if st.LockProblem != "" && !st.Finished() {
		first += "; lock: " + termsafe.Line(st.LockProblem)
	}
	last := "last done: none yet"
	if st.LastIndex > 0 {
		how := "done"
		if st.LastRecord.Found {
			how = "found done"
		}
		last = fmt.Sprintf("last %s: %s at %s (took %s)", how, step(st.LastIndex, st.Last), at(st.LastRecord.Finished), st.LastRecord.Took.Round(time.Second))
	}
	return []string{first, last}
}

// findingLines are the findings, each with its fix on the next line
// (ignored ones marked, without it), then the back ends' problems. A
// finding's detail names its node.
func findingLines(s upgrade.WatchSnapshot) []string {
	var out []string
	for _, f := range s.Findings {
		if f.Ignored {
			out = append(out, termsafe.Line("IGNORED "+f.Problem+": "+f.Detail))
			continue
		}
		out = append(out, termsafe.Line(f.Problem+": "+f.Detail))
		if f.Fix != "" {
			out = append(out, "  fix: "+termsafe.Line(f.Fix))
		}
	}
	for _, n := range s.Backends {
		for _, p := range n.Problems {
			out = append(out, termsafe.Line("unread: "+n.Name+": "+p))
		}
	}
	for _, n := range s.Frontends {
		for _, p := range n.Problems {
			out = append(out, termsafe.Line("unread: "+n.Name+": "+p))
		}
	}
	return out
}
