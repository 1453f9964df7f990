package clustertest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/chefha/chefha/internal/ecmodel"
)

// The node's processes as ps and kill see them, and Upstart's initctl.

// ps prints `ps aux` or `ps -eo pid,ppid,user,stat,args`, procps-ng style.
// strayPID is the pid of the first stray process (AddProcess).
const strayPID = 5000

func (n *Node) ps(argv []string, e shellIO) int {
	type row struct {
		pid, ppid        int
		user, stat, args string
	}
	rows := []row{{1, 0, "root", "Ss", "/sbin/init"}}
	for i, job := range n.jobs {
		pid := 700 + i*100
		log := "log: " + strings.Repeat(".", 395)
		if n.runsvLog != "" {
			msg := n.runsvLog
			log = "log: " + strings.Repeat(".", max(0, 395-len(msg))) + msg
		}
		rows = append(rows, row{pid - 1, 1, "root", "Ss", "/bin/sh /opt/opscode/embedded/bin/runsvdir-start # " + job})
		rows = append(rows, row{pid, pid - 1, "root", "S", "runsvdir -P /opt/opscode/service " + log})
	}
	runsvParent := 700
	if n.orphaned {
		runsvParent = 1 // their runsvdir is gone
	}
	supervised := n.supervised()
	for _, name := range n.linkedNames() {
		s := n.svc(name)
		parent := 1 // no runsv: the service runs unsupervised
		if supervised {
			rows = append(rows, row{s.pid - 2, runsvParent, "root", "Ss", "runsv " + name})
			rows = append(rows, row{s.pid - 1, s.pid - 2, "root", "S", "svlogd -tt /var/log/opscode/" + name})
			parent = s.pid - 2
		}
		if s.up {
			bin := "/opt/opscode/embedded/bin/" + name
			if name == "keepalived" {
				bin = "/opt/opscode/embedded/sbin/keepalived"
			}
			rows = append(rows, row{s.pid, parent, "opscode", "Ssl", bin})
		}
	}
	// cluster.sh runs as long as it holds the transition lock (its pid is
	// what the lock file holds): keepalived's child, or a shell's when run
	// by hand.
	if t := n.trans; t != nil {
		ppid := 1
		if k := n.svcs["keepalived"]; k != nil && k.up {
			ppid = k.pid
		}
		rows = append(rows, row{t.PID, ppid, "root", "S", "/bin/bash " + ecmodel.ClusterSh + " " + n.transArg})
	}
	for i, l := range n.procs {
		if l != "" {
			rows = append(rows, row{strayPID + i, 1, "root", "S", l})
		}
	}
	args := strings.Join(argv[1:], " ")
	switch {
	case args == "aux":
		fmt.Fprintln(e.Stdout, "USER       PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND")
		for _, r := range rows {
			fmt.Fprintf(e.Stdout, "%-8s %6d  0.0  0.0   4032   196 ?        %-4s 20:18   0:00 %s\n", r.user, r.pid, r.stat, r.args)
		}
	case args == "-eo pid,ppid,user,stat,args":
		fmt.Fprintln(e.Stdout, "  PID  PPID USER     STAT COMMAND")
		for _, r := range rows {
			fmt.Fprintf(e.Stdout, "%5d %5d %-8s %-4s %s\n", r.pid, r.ppid, r.user, r.stat, r.args)
		}
	default:
		return notEmulated(argv, e)
	}
	return 0
}

// kill -SIGNAL -- PID… ends the stray processes (AddProcess) it names;
// kill exits 1 when a pid runs no process. The simulation's own runsvdir,
// runsv, svlogd and service rows follow its jobs and services, which
// initctl and sv change. A stray runsv NAME held NAME's supervise
// directory: ending it stops NAME (runsv takes its service down before
// it exits, on TERM as on KILL's lost pipe), and a running runsvdir's own
// runsv then starts it again unless it has a down file.
func (n *Node) kill(argv []string, e shellIO) int {
	if len(argv) < 4 || !strings.HasPrefix(argv[1], "-") || argv[2] != "--" {
		return notEmulated(argv, e)
	}
	status := 0
	for _, a := range argv[3:] {
		pid, err := strconv.Atoi(a)
		if err == nil && n.killUnsupervised(pid) {
			continue
		}
		i := pid - strayPID
		if err != nil || i < 0 || i >= len(n.procs) || n.procs[i] == "" {
			fmt.Fprintf(e.Stderr, "kill: (%s) - No such process\n", a)
			status = 1
			continue
		}
		if name, ok := strings.CutPrefix(n.procs[i], "runsv "); ok {
			n.orphanGone(name)
		}
		n.procs[i] = "" // gone; the others keep their pids
	}
	return status
}

// killUnsupervised ends a service that runs with no runsv (its runsvdir
// gone and its runsv dead), as kill does; false when pid is no such
// service.
func (n *Node) killUnsupervised(pid int) bool {
	if n.supervised() {
		return false
	}
	for name, s := range n.svcs {
		if s.up && s.pid == pid {
			s.up, s.since = false, n.Now()
			n.serviceChanged(name, false)
			return true
		}
	}
	return false
}

// orphanGone is a stray runsv of service name ending (kill).
func (n *Node) orphanGone(name string) {
	s, ok := n.svcs[name]
	if !ok || !s.up {
		return
	}
	s.up, s.since = false, n.Now()
	n.serviceChanged(name, false)
	if len(n.jobs) > 0 && n.normallyUp(name) {
		s.up, s.pid = true, n.pid()
		n.serviceChanged(name, true)
	}
}

// initctl status|start|stop JOB, as Upstart prints it.
func (n *Node) initctl(ctx context.Context, argv []string, e shellIO) int {
	if len(argv) != 3 {
		return notEmulated(argv, e)
	}
	job := argv[2]
	if !ecmodel.JobKnown(n, job) {
		fmt.Fprintln(e.Stderr, "initctl: Unknown job: "+job)
		return 1
	}
	running := slices.Contains(n.jobs, job)
	switch argv[1] {
	case "status":
	case "stop":
		n.log = append(n.log, strings.Join(argv, " "))
		if err := ecmodel.StopJob(ctx, n, job); err != nil {
			fmt.Fprintln(e.Stderr, err)
			return 1
		}
		fmt.Fprintf(e.Stdout, "%s stop/waiting\n", job)
		return 0
	case "start":
		n.log = append(n.log, strings.Join(argv, " "))
		if err := n.StartJob(ctx, job); err != nil {
			fmt.Fprintln(e.Stderr, err)
			return 1
		}
		running = true
	default:
		return notEmulated(argv, e)
	}
	if running {
		fmt.Fprintf(e.Stdout, "%s start/running, process %d\n", job, 699+100*slices.Index(n.jobs, job))
	} else {
		fmt.Fprintf(e.Stdout, "%s stop/waiting\n", job)
	}
	return 0
}

// linkedServices are the services runsv supervise, sorted.
func (n *Node) linkedServices() []string {
	if !n.supervised() {
		return nil
	}
	return n.linkedNames()
}

// linkedNames are the services linked in the service directory, sorted.
func (n *Node) linkedNames() []string {
	ents, _ := n.ReadDir("/opt/opscode/service")
	var out []string
	for _, e := range ents {
		if _, ok := n.svName(e.Name()); ok {
			out = append(out, e.Name())
		}
	}
	return out
}
