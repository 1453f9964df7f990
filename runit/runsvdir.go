package runit

import (
	"strings"
)

// Runsvdir is one runsvdir process and what its argv says about its health.
type Runsvdir struct {
	Process Process
	// ServiceDir is the directory runsvdir scans (the -P argument's
	// directory), e.g. /opt/opscode/service.
	ServiceDir string
	// Log is the raw text of runsvdir's log window: what follows "log:" in
	// its argv. Healthy runsvdirs have only padding dots there.
	Log string
	// Errors holds each distinct message in the log window, oldest first.
	// The window is a rolling one, so the oldest is usually cut at its
	// front; a cut message that is the tail of a whole one seen later in the
	// window is not listed twice.
	Errors []string
	// Runsv lists the runsv children (empty when the listing had no PPID
	// column).
	Runsv []Process
}

// Healthy reports whether runsvdir's log window holds no current error
// (see Current).
func (r Runsvdir) Healthy() bool { return len(r.Current()) == 0 }

// Current is Errors less the messages that no longer hold. The window is
// history: runsvdir keeps a message there until later ones push it out.
// One kind of message says itself whether it still holds: a runsv that
// could not take its service's supervise/lock ("runsv NAME: fatal: unable
// to lock supervise/lock: temporary failure") met another runsv holding
// it — a second runsvdir on the same directory, or the old runsvdir job's
// runsv still stopping their services when the job that replaced it
// started (the 11.x reconfigure swaps opscode-runsvdir for
// private-chef-runsvdir so). Such a runsv exits at once and runsvdir
// starts another later, so a runsv child of this runsvdir for NAME now
// means the lock is its own: the message is resolved. Without a PPID
// column no child is known, and nothing is resolved.
func (r Runsvdir) Current() []string {
	var out []string
	for _, m := range r.Errors {
		if name, ok := LockContention(m); ok && r.supervises(name) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// LockContention returns the service a log message names when it is a
// runsv that could not take that service's supervise/lock ("runsv NAME:
// fatal: unable to lock supervise/lock: temporary failure"). The oldest
// message of the rolling window is cut at its front ("unsv NAME: fatal:
// …"): it is still runsv's, and its name is whole when the cut left a
// blank before it; a name cut too is returned as it reads.
func LockContention(msg string) (string, bool) {
	head, _, ok := strings.Cut(msg, ": fatal: unable to lock supervise/lock")
	if !ok || head == "" {
		return "", false
	}
	i := strings.LastIndexByte(head, ' ')
	if i < 0 {
		return head, true
	}
	if !strings.HasSuffix("runsv", head[:i]) || i == len(head)-1 {
		return "", false
	}
	return head[i+1:], true
}

// supervises reports whether a runsv child of this runsvdir runs for name.
func (r Runsvdir) supervises(name string) bool {
	for _, c := range r.Runsv {
		if a := c.Argv(); len(a) == 2 && a[1] == name {
			return true
		}
	}
	return false
}

// FindRunsvdirs returns every runsvdir process in ps, in listing order.
func FindRunsvdirs(ps []Process) []Runsvdir {
	var out []Runsvdir
	for _, p := range ps {
		if p.Name() != "runsvdir" {
			continue
		}
		r := Runsvdir{Process: p}
		r.ServiceDir, r.Log = splitRunsvdirArgs(p.Command)
		r.Errors = logMessages(r.Log)
		for _, c := range Children(ps, p.PID) {
			if c.Name() == "runsv" {
				r.Runsv = append(r.Runsv, c)
			}
		}
		out = append(out, r)
	}
	return out
}

// splitRunsvdirArgs reads `runsvdir [-P] dir [log]` as ps prints it. The
// log argument is everything after the directory; it starts with "log:" by
// the packaging's convention (runsvdir-start passes 'log: ....').
func splitRunsvdirArgs(cmd string) (dir, log string) {
	rest := cmd
	next := func() string {
		rest = strings.TrimLeft(rest, " ")
		i := strings.IndexByte(rest, ' ')
		if i < 0 {
			w := rest
			rest = ""
			return w
		}
		w := rest[:i]
		rest = rest[i+1:]
		return w
	}
	next() // argv[0]
	dir = next()
	if dir == "-P" {
		dir = next()
	}
	log = rest
	if strings.HasPrefix(log, "log:") {
		log = strings.TrimPrefix(log[len("log:"):], " ")
	}
	return dir, log
}

// Message starts that runit's programs put in front of what they write to
// stderr. In the argv window, message ends show as '\n' (read from
// /proc/PID/cmdline), '?' (older procps) or ' ' (procps 4); a space is also
// a space inside a message, so these starts are what separate messages then.
var messageStarts = []string{"svlogd: ", "runsv ", "runsvdir: ", "runsv: "}

// logMessages splits runsvdir's log window into distinct messages.
func logMessages(window string) []string {
	// Padding dots, at the front and between messages, are not text.
	var pieces []string
	for _, line := range strings.FieldsFunc(window, func(r rune) bool { return r == '\n' || r == '?' }) {
		pieces = append(pieces, splitAtStarts(line)...)
	}
	var msgs []string
	seen := map[string]bool{}
	for i, p := range pieces {
		m := strings.Trim(p, ". \t")
		if m == "" || seen[m] {
			continue
		}
		// The first piece may be the cut tail of a message repeated whole
		// later on; the whole one stands for it.
		if i == 0 && tailOfLater(m, pieces[1:]) {
			continue
		}
		seen[m] = true
		msgs = append(msgs, m)
	}
	return msgs
}

// splitAtStarts cuts s before every message start.
func splitAtStarts(s string) []string {
	var out []string
	from := 0
	for i := 1; i < len(s); i++ {
		if s[i-1] != ' ' && s[i-1] != '.' {
			continue
		}
		for _, st := range messageStarts {
			if strings.HasPrefix(s[i:], st) {
				out = append(out, s[from:i])
				from = i
				break
			}
		}
	}
	return append(out, s[from:])
}

func tailOfLater(frag string, later []string) bool {
	for _, l := range later {
		l = strings.Trim(l, ". \t")
		if len(l) > len(frag) && strings.HasSuffix(l, frag) {
			return true
		}
	}
	return false
}

// Leftovers returns what is left of a supervision tree once its runsvdir
// jobs are stopped: every runsvdir, runsv and svlogd, and the services
// they left running unsupervised — a process reparented to init (PPID 1)
// whose command runs something under root (Enterprise Chef's
// "/opt/opscode/"): a runsv killed by the 11.x job's post-stop HUP leaves
// its service running. Zombies are gone already. A listing without a PPID
// column shows only the first kind.
func Leftovers(ps []Process, root string) []Process {
	var out []Process
	for _, p := range ps {
		if strings.HasPrefix(p.Stat, "Z") {
			continue
		}
		switch {
		case p.Name() == "runsvdir" || p.Name() == "runsv" || p.Name() == "svlogd":
			out = append(out, p)
		case p.PPID == 1 && strings.Contains(p.Command, root) && !isCtlProcess(p):
			out = append(out, p)
		}
	}
	return out
}

// Supervised reports whether a runsvdir's runsv supervises service (a
// runsv with that argument whose parent is a runsvdir).
func Supervised(ps []Process, service string) bool {
	under, _ := runsvByParent(ps)
	for _, p := range under {
		if a := p.Argv(); len(a) > 1 && a[1] == service {
			return true
		}
	}
	return false
}

// OrphanRunsv returns the runsv processes whose parent is no runsvdir
// (zombies aside; a listing without a PPID column shows none). Such a
// runsv outlived its job: the 1.x job's post-stop TERMs its runsv, but
// cluster.sh's backup transition, which keepalived's stop starts at the
// same moment, then tells some of them "down" (sv stop), and a runsv told
// down after exit waits for ever, holding its service's supervise/lock.
func OrphanRunsv(ps []Process) []Process {
	_, orphans := runsvByParent(ps)
	return orphans
}

// runsvByParent splits the live runsv processes into those a runsvdir
// started and those whose parent is no runsvdir; a runsv whose parent is
// not known (no PPID column) is in neither.
func runsvByParent(ps []Process) (underRunsvdir, orphans []Process) {
	parents := map[int]Process{}
	for _, p := range ps {
		parents[p.PID] = p
	}
	for _, p := range ps {
		if p.Name() != "runsv" || p.PPID == 0 || strings.HasPrefix(p.Stat, "Z") {
			continue
		}
		if parent, ok := parents[p.PPID]; ok && parent.Name() == "runsvdir" {
			underRunsvdir = append(underRunsvdir, p)
		} else {
			orphans = append(orphans, p)
		}
	}
	return underRunsvdir, orphans
}
