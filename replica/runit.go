package replica

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/runit"
	"github.com/chefha/chefha/upgrade"
)

// The runbook's runit state of a node, read from its facts as a target
// plants it: the runsvdir jobs, runsvdir's log window, leftover control
// and partybus processes, the log directories' and private-chef.rb's
// modes and owners, missing log currents, stale and missing service
// links, which services run, a full log file system.

// runitState reads what of n's supervision differs from a fresh install
// of its running release.
func runitState(n upgrade.NodeFacts, running string, svcs []runit.ServiceStatus, known []Release, s *Spec) clustertest.RunitState {
	var r clustertest.RunitState
	note := func(format string, a ...any) { s.Notes = append(s.Notes, n.Node+": "+fmt.Sprintf(format, a...)) }
	var parts []string
	carried := func(format string, a ...any) { parts = append(parts, fmt.Sprintf(format, a...)) }
	defer func() {
		if len(parts) > 0 {
			s.Carried = append(s.Carried, n.Node+": runit: "+strings.Join(parts, "; "))
		}
	}()

	jobs, unread := n.RunsvdirJobs()
	readable := len(unread) == 0
	if readable {
		r.Jobs = append([]string{}, jobs...)
		if len(jobs) > 1 {
			carried("two runsvdir jobs running (%s)", strings.Join(jobs, ", "))
		}
	} else {
		note("the Upstart runsvdir jobs %s could not be read: the replica runs its release's", strings.Join(unread, ", "))
	}

	if ps, err := n.Processes(); err != nil {
		note("ps could not be read (%v): no leftover processes or runsvdir log planted", err)
	} else {
		leftover := map[int]bool{}
		for _, f := range runit.DiagnoseProcesses(ps) {
			if f.Symptom == runit.SymptomLeftoverCtl {
				if pid, err := strconv.Atoi(strings.TrimPrefix(f.Subject, "pid ")); err == nil {
					leftover[pid] = true
				}
			}
		}
		for _, p := range ps {
			if strings.HasPrefix(p.Stat, "Z") {
				continue
			}
			if leftover[p.PID] || holdsPartybusLock(p) {
				r.Processes = append(r.Processes, p.Command)
				carried("leftover process %q", abbreviate(p.Command, 80))
			}
		}
		for _, d := range runit.FindRunsvdirs(ps) {
			if !d.Healthy() {
				r.RunsvdirLog = strings.TrimLeft(strings.TrimPrefix(d.Log, "log:"), " .")
				carried("runsvdir's log window holds %d message(s)", len(d.Errors))
				break
			}
		}
	}

	stats := statsOf(n)
	var files []string
	for _, p := range []string{runit.DefaultLogDir, runit.DefaultLogDir + "/keepalived", cluster.TopologyPath} {
		for _, st := range stats {
			if st.Path == p {
				r.Files = append(r.Files, clustertest.FileState{Path: p, Mode: st.Mode, Owner: st.Owner + ":" + st.Group})
				files = append(files, fmt.Sprintf("%s %s %s", p, runit.FormatMode(st.Mode), st.Owner+":"+st.Group))
			}
		}
	}
	if len(files) > 0 {
		carried("modes and owners %s", strings.Join(files, ", "))
	}
	if len(stats) > 0 {
		for _, sv := range svcs {
			if sv.Service == "keepalived" || !sv.Up() {
				continue
			}
			cur := path.Join(runit.DefaultLogDir, sv.Service, "current")
			if !slices.ContainsFunc(stats, func(st runit.FileStat) bool { return st.Path == cur }) {
				r.Missing = append(r.Missing, cur)
				carried("%s missing", cur)
			}
		}
	}

	var rel Release
	for _, k := range known {
		if k.Version == running {
			rel = k
		}
	}
	backend := n.Role == cluster.RoleBackend
	want := rel.services(backend, n.Bootstrap)
	if backend {
		want = append(slices.Clone(want), "keepalived")
	}
	have := slices.Clone(want)
	if out, ok := n.Sections["links"]; ok && out.RC == 0 {
		links, err := runit.ParseLinks(strings.NewReader(out.Output))
		if err != nil {
			note("the service links could not be read (%v)", err)
		} else {
			linked := map[string]bool{}
			for _, l := range links {
				linked[l.Name] = true
				if l.IsLink && (l.Dangling || !slices.Contains(want, l.Name)) {
					r.Links = append(r.Links, clustertest.Link{Name: l.Name, Target: l.Target, Dangling: l.Dangling})
					carried("service link %s -> %s", l.Name, l.Target)
					if !l.Dangling {
						have = append(have, l.Name)
					}
				}
			}
			for _, w := range want {
				if !linked[w] {
					r.Unlinked = append(r.Unlinked, w)
					have = slices.DeleteFunc(have, func(x string) bool { return x == w })
					carried("%s not linked (disabled)", w)
				}
			}
		}
	}
	for _, sv := range svcs {
		switch {
		case sv.State == runit.StateDisabled:
		case !slices.Contains(have, sv.Service):
			note("service %s (%s) is not one the replica's %s node of release %s has: not reproduced", sv.Service, sv.State, n.Role, running)
		case sv.Up():
			r.Up = append(r.Up, sv.Service)
		default:
			r.Down = append(r.Down, sv.Service)
		}
	}
	if len(r.Down) > 0 {
		carried("down: %s", strings.Join(r.Down, ", "))
	}
	if out, ok := n.Sections["df"]; ok && out.RC == 0 {
		if us, err := runit.ParseDF(strings.NewReader(out.Output)); err == nil {
			for _, u := range us {
				if u.Full() {
					r.LogFSFull = true
					carried("the log file system %s is full", u.MountedOn)
				}
			}
		}
	}
	return r
}

// holdsPartybusLock reports a running partybus, which holds the
// migration-level file's flock.
func holdsPartybusLock(p runit.Process) bool {
	argv := p.Argv()
	for i := 0; i < len(argv) && i < 3; i++ {
		if path.Base(argv[i]) == "partybus" {
			return true
		}
	}
	return false
}

// statsOf parses the stat section, leaving out stat's complaints about
// files that do not exist.
func statsOf(n upgrade.NodeFacts) []runit.FileStat {
	var keep []string
	for _, l := range strings.Split(n.Sections["stat"].Output, "\n") {
		if l != "" && !strings.HasPrefix(l, "stat: ") {
			keep = append(keep, l)
		}
	}
	st, _ := runit.ParseStat(strings.NewReader(strings.Join(keep, "\n")))
	return st
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
