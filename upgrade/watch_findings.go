package upgrade

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/chefha/chefha/drbd"
	"github.com/chefha/chefha/keepalived"
)

// The watch's own findings, beside keepalived.Judge's.
const (
	WatchDRBDUnreadable     = "drbd-unreadable"
	WatchDRBDSplitBrain     = "drbd-split-brain"
	WatchDRBDDisconnected   = "drbd-disconnected"
	WatchDRBDNotUpToDate    = "drbd-not-uptodate"
	WatchFrontendUnreadable = "frontend-unreachable"
	WatchFrontendDown       = "frontend-services-down"
	WatchJournalUnreadable  = "journal-unreadable"
)

// WatchProblems are the names of every finding a Watch reports, for
// WatchOptions.Ignore.
func WatchProblems() []string {
	out := []string{}
	for _, p := range []keepalived.Problem{keepalived.ProblemUnreadable, keepalived.ProblemSplitBrain, keepalived.ProblemNoMaster,
		keepalived.ProblemInTransition, keepalived.ProblemTransitionFailed, keepalived.ProblemVIPNotOnMaster,
		keepalived.ProblemVIPOnBackup, keepalived.ProblemFault} {
		out = append(out, string(p))
	}
	return append(out, WatchDRBDUnreadable, WatchDRBDSplitBrain, WatchDRBDDisconnected, WatchDRBDNotUpToDate,
		WatchFrontendUnreadable, WatchFrontendDown, WatchJournalUnreadable)
}

// watchIgnore checks the names to ignore and returns them lower-cased.
func watchIgnore(names []string) (map[string]bool, error) {
	known := WatchProblems()
	out := map[string]bool{}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if !slices.Contains(known, n) {
			return nil, &UnknownProblemError{Name: n}
		}
		out[n] = true
	}
	return out, nil
}

// judge lists what is wrong in s: the pair's keepalived findings, then
// DRBD's, the front ends', the journal's; each marked when ignored. A
// finding's Detail names its node, as keepalived's do.
func (w *watcher) judge(s WatchSnapshot) []WatchFinding {
	var out []WatchFinding
	for _, f := range keepalived.Judge(s.Pair()) {
		if w.vip == "" && (f.Problem == keepalived.ProblemVIPNotOnMaster || f.Problem == keepalived.ProblemVIPOnBackup) {
			continue // no backend_vip: not looked for
		}
		out = append(out, WatchFinding{Problem: string(f.Problem), Node: f.Node, Detail: f.Detail, Fix: f.Fix})
	}
	out = append(out, judgeDRBD(s.Backends)...)
	for _, f := range s.Frontends {
		switch {
		case f.Err != nil:
			out = append(out, WatchFinding{Problem: WatchFrontendUnreadable, Node: f.Name, Detail: f.Err.Error(),
				Fix: "check that the node is up and reachable over SSH; while it cannot be read, nothing is known of it"})
		case f.Services != nil && f.Services.Down > 0:
			out = append(out, WatchFinding{Problem: WatchFrontendDown, Node: f.Name, Detail: f.Name + ": " + strings.Join(f.Services.Stopped, ", ") + " not running",
				Fix: "during an upgrade the front ends are stopped on purpose (ignore this finding then); otherwise private-chef-ctl start on " + f.Name})
		}
	}
	if st := s.Step; st != nil && st.Err != nil && !errors.Is(st.Err, ErrNoJournal) {
		out = append(out, WatchFinding{Problem: WatchJournalUnreadable, Detail: st.Err.Error(),
			Fix: "check the journal's path and permissions: without it the run's step is not known"})
	}
	for i := range out {
		out[i].Ignored = w.ignore[out[i].Problem]
	}
	return out
}

// judgeDRBD judges the pair's replication, as ha-status does: connected,
// one Primary, both disks UpToDate. A back end that could not be read at
// all is keepalived's unreadable finding already.
func judgeDRBD(bs [2]WatchBackend) []WatchFinding {
	var out []WatchFinding
	primaries := 0
	for _, b := range bs {
		switch {
		case b.Err != nil && errors.Is(b.DRBDErr, b.Err):
		case b.DRBDErr != nil:
			out = append(out, WatchFinding{Problem: WatchDRBDUnreadable, Node: b.Name, Detail: b.Name + ": " + b.DRBDErr.Error(),
				Fix: "load DRBD and bring the resource " + DRBDResource + " up (drbdadm up " + DRBDResource + "): Enterprise Chef's HA data lives on it"})
		case b.DRBD.Role == drbd.Primary:
			primaries++
		}
	}
	if primaries == 2 {
		return append(out, WatchFinding{Problem: WatchDRBDSplitBrain, Detail: fmt.Sprintf("both %s and %s are DRBD Primary", bs[0].Name, bs[1].Name),
			Fix: "stop: resolve the DRBD split brain by hand (choose the node whose data survives, drbdadm secondary and connect --discard-my-data on the other) before anything else"})
	}
	for _, b := range bs {
		r := b.DRBD
		switch {
		case b.DRBDErr != nil:
		case r.StandAlone():
			out = append(out, WatchFinding{Problem: WatchDRBDDisconnected, Node: b.Name,
				Detail: b.Name + ": " + r.String() + ": not replicating and not trying to: split brain detected, or disconnected by hand",
				Fix:    "look for \"Split-Brain detected\" in the kernel log; after split-brain recovery (or if it was disconnected by hand) drbdadm connect " + DRBDResource})
		case !r.Connected():
			out = append(out, WatchFinding{Problem: WatchDRBDDisconnected, Node: b.Name, Detail: b.Name + ": " + r.String() + ": not replicating",
				Fix: "reconnect the replication link (drbdadm connect " + DRBDResource + " on both back ends; check the cluster addresses and the link between them)"})
		case r.Disk != drbd.UpToDate:
			// The side whose disk lags reports it: a resync is one finding.
			detail := b.Name + ": " + r.String()
			if r.Sync != nil && !r.Sync.Verify {
				detail += fmt.Sprintf(", resync %.1f%% done", r.Sync.Percent)
			}
			out = append(out, WatchFinding{Problem: WatchDRBDNotUpToDate, Node: b.Name, Detail: detail,
				Fix: "wait until both disks are UpToDate: a failover before that serves stale data or none"})
		}
	}
	return out
}
