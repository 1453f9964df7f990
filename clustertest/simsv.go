package clustertest

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
)

// Emulated runit (runsv under a runsvdir job; sv 2.1.2's messages and exit
// codes: `man sv`, checked against Debian's runit) and Upstart.

// svName resolves what sv was given: a name (under /opt/opscode/service,
// as /opt/opscode/init/NAME does) or a path.
func (n *Node) svName(dir string) (string, bool) {
	name := path.Base(dir)
	if !strings.Contains(dir, "/") {
		dir = path.Join(ecmodel.ServiceDir, dir)
	}
	st, err := n.Stat(dir)
	return name, err == nil && st.IsDir()
}

func (n *Node) svc(name string) *service {
	s := n.svcs[name]
	if s == nil {
		s = &service{since: n.Now().Add(-time.Hour), pid: n.pid()}
		n.svcs[name] = s
	}
	return s
}

func (n *Node) normallyUp(name string) bool {
	_, err := n.Lstat(path.Join(ecmodel.SvDir, name, "down"))
	return err != nil
}

// statusLine is runsv's state as sv prints it, with the log service.
func (n *Node) statusLine(shown, name string) string {
	s := n.svc(name)
	secs := int(n.Now().Sub(s.since).Seconds())
	var b strings.Builder
	if s.up {
		fmt.Fprintf(&b, "run: %s: (pid %d) %ds", shown, s.pid, secs)
		if !n.normallyUp(name) {
			b.WriteString(", normally down")
		}
	} else {
		fmt.Fprintf(&b, "down: %s: %ds", shown, secs)
		if n.normallyUp(name) {
			b.WriteString(", normally up")
		}
	}
	fmt.Fprintf(&b, "; run: log: (pid %d) %ds", s.pid-1, secs+1)
	return b.String()
}

// ProcessGroup is a running service's process group: its own, as a run
// script's `chpst -P` (or runsv's setsid) gives it; any other live
// process is a group leader too.
func (n *Node) ProcessGroup(pid int) (int, bool) {
	for _, s := range n.svcs {
		if s.up && s.pid == pid {
			return pid, true
		}
	}
	return pid, n.ProcessAlive(pid)
}

// KillGroup takes down the service whose group pgrp is (a stop that
// timed out left it draining): runsv, told to stop it, leaves it down.
func (n *Node) KillGroup(pgrp int) []int {
	for name, s := range n.svcs {
		if s.up && s.pid == pgrp {
			s.up, s.since = false, n.Now()
			n.serviceChanged(name, false)
			return []int{pgrp}
		}
	}
	return nil
}

// Sv is `/opt/opscode/init/NAME VERB` (lsb) or `sv -w WAIT VERB DIR`.
func (n *Node) Sv(ctx context.Context, verb, dir string, wait time.Duration, lsb bool) (string, int) {
	name, ok := n.svName(dir)
	shown := dir
	if !ok {
		return fmt.Sprintf("fail: %s: unable to change to service directory: file does not exist\n", shown), 1
	}
	if !n.supervised() {
		if verb == "status" && lsb {
			return fmt.Sprintf("warning: %s: unable to open supervise/ok: file does not exist\n", shown), 4
		}
		return fmt.Sprintf("warning: %s: unable to open supervise/ok: file does not exist\n", shown), 1
	}
	s := n.svc(name)
	now := n.Now()
	n.settleStop(name, s, now)
	switch verb {
	case "status":
		code := 0
		if lsb && !s.up {
			code = 3
		}
		return n.statusLine(shown, name) + "\n", code
	case "stop", "down", "force-stop", "shutdown":
		if s.up && s.stopDelay > wait {
			// runsv TERMed it; it goes down once it has drained, though sv
			// stops waiting first.
			if s.termAt.IsZero() {
				s.termAt = now
			}
			return fmt.Sprintf("timeout: run: %s: (pid %d) %ds, want down, got TERM\n", shown, s.pid, int(now.Sub(s.since).Seconds())), 1
		}
		if s.up {
			s.up, s.since = false, now
			n.serviceChanged(name, false)
		}
	case "start", "up", "once":
		s.termAt = time.Time{} // wanted up again: runsv keeps what still runs
		if !s.up {
			s.up, s.pid, s.since = true, n.pid(), now
			n.serviceChanged(name, true)
			// It comes up later than sv waits (KnobSlowStart), or does not
			// stay up (keepalived under OC-11490): sv gives up waiting.
			if s.startDelay > wait || !s.up {
				return fmt.Sprintf("timeout: down: %s: 0s, normally up, want up\n", shown), 1
			}
		}
	case "restart", "force-restart", "force-reload", "term", "kill", "hup", "interrupt", "quit", "alarm", "cont", "pause", "1", "2":
		if slices.Contains([]string{"hup", "alarm", "interrupt", "quit", "cont", "pause", "1", "2"}, verb) { // signals only (USR1, USR2)
			break
		}
		if s.up && s.stopDelay > wait && verb != "kill" {
			return fmt.Sprintf("timeout: run: %s: (pid %d) %ds, want down, got TERM\n", shown, s.pid, int(now.Sub(s.since).Seconds())), 1
		}
		if s.up {
			s.up = false
			n.serviceChanged(name, false)
		}
		s.up, s.pid, s.since = true, n.pid(), now
		n.serviceChanged(name, true)
		if name == "redis_lb" && verb == "restart" {
			n.WriteFile(ecmodel.ModelDir+"/redis_lb-restarted", nil, 0o644)
		}
	default:
		return fmt.Sprintf("usage: sv [-v] [-w sec] command service ...\n"), 100
	}
	if verb == "up" || verb == "down" || verb == "once" {
		return "", 0 // sv prints nothing for these without -v
	}
	return "ok: " + n.statusLine(shown, name) + "\n", 0
}

// serviceChanged lets keepalived's VRRP follow its runsv.
func (n *Node) serviceChanged(name string, up bool) {
	if name == "keepalived" {
		n.c.keepalivedChanged(n, up)
	}
}

// Jobs are the Upstart runsvdir jobs running.
func (n *Node) Jobs() []string { return slices.Clone(n.jobs) }

// supervised reports whether runsv run for the linked services: a
// runsvdir's, or the orphans a stopped one left.
func (n *Node) supervised() bool { return len(n.jobs) > 0 || n.orphaned }

// Supervised: the simulation's runsvdir supervises every link at once.
func (n *Node) Supervised(string) bool { return n.supervised() }

// StartJob starts a runsvdir job: runsv comes up for every linked service
// and starts those without a down file; svlogd recreates a missing current.
func (n *Node) StartJob(ctx context.Context, job string) error {
	if slices.Contains(n.jobs, job) {
		return fmt.Errorf("initctl: Job is already running: %s", job)
	}
	// A runsvdir's runsv start the services only where no runsv holds
	// their supervise locks: not beside another runsvdir's, nor beside the
	// orphans of a stopped one.
	first := !n.supervised()
	n.jobs = append(n.jobs, job)
	ents, _ := n.ReadDir(ecmodel.ServiceDir)
	for _, e := range ents {
		name := e.Name()
		if _, ok := n.svName(name); !ok {
			continue
		}
		cur := path.Join(n.configured().LogDirOf(name), "current")
		if _, err := n.Lstat(path.Dir(cur)); err == nil {
			if _, err := n.Lstat(cur); err != nil {
				n.WriteFile(cur, nil, 0o644)
			}
		}
		if s := n.svc(name); first && !s.up && n.normallyUp(name) {
			s.up, s.pid, s.since = true, n.pid(), n.Now()
			n.serviceChanged(name, true)
		}
	}
	root := n.configured().LogRootOwner()
	if o, _ := n.Owner(ecmodel.LogDir); first && (root == "" || o == root+":"+root) {
		n.runsvLog = ""
	}
	return nil
}

// StopJob ends a runsvdir job's runsvdir: it exits on TERM and leaves its
// runsv processes (and so the services) running, orphaned (runsvdir(8)).
// The first job's runsvdir is the one whose runsv hold the locks; a
// second one's runsv never got them.
func (n *Node) StopJob(ctx context.Context, job string) error {
	i := slices.Index(n.jobs, job)
	if i < 0 {
		return fmt.Errorf("initctl: Unknown instance: ")
	}
	n.jobs = slices.Delete(n.jobs, i, i+1)
	if i == 0 {
		n.orphaned = true
	}
	return nil
}

// SignalOrphanRunsv is `pkill -SIG -P 1 runsv$`: the orphaned runsv, and
// the stray ones (AddProcess "runsv NAME"), get sig. On TERM each stops
// its service and exits; a running runsvdir's runsv then start the
// services without a down file. On HUP they die and their services run
// on: unsupervised, or adopted by a running runsvdir's runsv (the real
// ones would start a second instance beside; the simulation keeps one).
func (n *Node) SignalOrphanRunsv(ctx context.Context, sig syscall.Signal) error {
	for i, p := range n.procs {
		if name, ok := strings.CutPrefix(p, "runsv "); ok {
			if sig == syscall.SIGTERM {
				n.orphanGone(name)
			}
			n.procs[i] = ""
		}
	}
	if !n.orphaned {
		return nil
	}
	n.orphaned = false
	if sig != syscall.SIGTERM {
		return nil
	}
	for _, name := range n.linkedNames() {
		if s := n.svc(name); s.up {
			s.up, s.since, s.termAt = false, n.Now(), time.Time{}
			n.serviceChanged(name, false)
		}
	}
	if len(n.jobs) > 0 {
		for _, name := range n.linkedNames() {
			if s := n.svc(name); !s.up && n.normallyUp(name) {
				s.up, s.pid, s.since = true, n.pid(), n.Now()
				n.serviceChanged(name, true)
			}
		}
	}
	return nil
}
