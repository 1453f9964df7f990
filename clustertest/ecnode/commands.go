package ecnode

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Split splits a command line into words with POSIX quoting ('…', "…", \x),
// the inverse of cluster.ShellJoin.
func Split(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated '")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New(`unterminated "`)
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

func (n *Node) cat(argv []string, e Exec) int {
	status := 0
	for _, p := range argv[1:] {
		if p == "--" {
			continue
		}
		b, err := os.ReadFile(n.Path(p))
		if err != nil {
			fmt.Fprintf(e.Stderr, "cat: %s: No such file or directory\n", p)
			status = 1
			continue
		}
		e.Stdout.Write(b)
	}
	return status
}

// ps prints `ps aux` or `ps -eo pid,ppid,user,stat,args`, procps-ng style.
func (n *Node) ps(argv []string, e Exec) int {
	type row struct {
		pid, ppid        int
		user, stat, args string
	}
	rows := []row{{1, 0, "root", "Ss", "/sbin/init"}}
	for i, job := range n.Runsvdirs {
		pid := 700 + i*100
		log := "log: " + strings.Repeat(".", 395)
		if n.RunsvdirLog != "" {
			msg := n.RunsvdirLog
			log = "log: " + strings.Repeat(".", max(0, 395-len(msg))) + msg
		}
		rows = append(rows, row{pid - 1, 1, "root", "Ss", "/bin/sh /opt/opscode/embedded/bin/runsvdir-start # " + job})
		rows = append(rows, row{pid, pid - 1, "root", "S", "runsvdir -P /opt/opscode/service " + log})
	}
	for _, s := range n.sortedServices() {
		rows = append(rows, row{s.PID - 2, 700, "root", "Ss", "runsv " + s.Name})
		rows = append(rows, row{s.PID - 1, s.PID - 2, "root", "S", "svlogd -tt /var/log/opscode/" + s.Name})
		if s.Up {
			rows = append(rows, row{s.PID, s.PID - 2, "opscode", "Ssl", "/opt/opscode/embedded/bin/" + s.Name})
		}
	}
	if n.KeepalivedUp {
		rows = append(rows, row{600, 1, "root", "Ss", "/opt/opscode/embedded/sbin/keepalived"})
	}
	for i, l := range n.Leftovers {
		rows = append(rows, row{5000 + i, 1, "root", "S", l})
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

func (n *Node) statusLine(s *Service) string {
	secs := int(n.Clock().Sub(s.Since).Seconds())
	var b strings.Builder
	if s.Up {
		fmt.Fprintf(&b, "run: %s: (pid %d) %ds", s.Name, s.PID, secs)
		if !s.NormallyUp {
			b.WriteString(", normally down")
		}
	} else {
		fmt.Fprintf(&b, "down: %s: %ds", s.Name, secs)
		if s.NormallyUp {
			b.WriteString(", normally up")
		}
	}
	fmt.Fprintf(&b, "; run: log: (pid %d) %ds", s.PID-1, secs)
	return b.String()
}

// sv status|start|stop [-w N] SERVICE…, as runit 2.1.2's sv.c prints.
func (n *Node) sv(argv []string, e Exec) int {
	args := argv[1:]
	wait := 7 * time.Second // OC-11657: sv's default
	if secs, err := strconv.Atoi(n.svwait); err == nil {
		wait = time.Duration(secs) * time.Second
	}
	if len(args) >= 2 && args[0] == "-w" {
		secs, err := strconv.Atoi(args[1])
		if err != nil {
			return notEmulated(argv, e)
		}
		wait, args = time.Duration(secs)*time.Second, args[2:]
	}
	if len(args) < 2 {
		fmt.Fprintln(e.Stderr, "usage: sv [-v] [-w sec] command service ...")
		return 100
	}
	status := 0
	for _, p := range args[1:] {
		s, ok := n.Services[filepath.Base(p)]
		if !ok {
			fmt.Fprintf(e.Stdout, "fail: %s: unable to change to service directory: file does not exist\n", p)
			status = 151
			continue
		}
		switch args[0] {
		case "status":
			fmt.Fprintln(e.Stdout, n.statusLine(s))
			if !s.Up {
				status = max(status, 3)
			}
		case "stop", "down":
			if s.Up && s.StopDelay > wait {
				fmt.Fprintf(e.Stdout, "timeout: run: %s: (pid %d) %ds, want down, got TERM\n", s.Name, s.PID, int(n.Clock().Sub(s.Since).Seconds()))
				status = 1
				continue
			}
			if s.Up {
				s.Up, s.Since = false, n.Clock()
			}
			fmt.Fprintf(e.Stdout, "ok: %s\n", n.statusLine(s))
		case "start", "up":
			if !s.Up && s.StartDelay > wait {
				// It comes up, but later than sv waits (OC-11662).
				s.Up, s.PID, s.Since = true, n.pid(), n.Clock()
				fmt.Fprintf(e.Stdout, "timeout: down: %s: 0s, normally up, want up\n", s.Name)
				status = 1
				continue
			}
			if !s.Up {
				s.Up, s.PID, s.Since = true, n.pid(), n.Clock()
			}
			fmt.Fprintf(e.Stdout, "ok: %s\n", n.statusLine(s))
		default:
			return notEmulated(argv, e)
		}
	}
	return status
}

// stat -c FORMAT PATH…, for the formats chefha uses (runit.StatFormat).
func (n *Node) stat(argv []string, e Exec) int {
	if len(argv) < 4 || argv[1] != "-c" {
		return notEmulated(argv, e)
	}
	format, status := argv[2], 0
	for _, p := range argv[3:] {
		if p == "--" {
			continue
		}
		st, err := os.Lstat(n.Path(p))
		if err != nil {
			fmt.Fprintf(e.Stderr, "stat: cannot statx '%s': No such file or directory\n", p)
			status = 1
			continue
		}
		kind := "regular file"
		switch {
		case st.IsDir():
			kind = "directory"
		case st.Mode()&fs.ModeSymlink != 0:
			kind = "symbolic link"
		case st.Size() == 0:
			kind = "regular empty file"
		}
		u, g, _ := strings.Cut(n.owner(p), ":")
		out := format
		for k, v := range map[string]string{
			"%a": strconv.FormatUint(uint64(st.Mode().Perm()), 8), "%U": u, "%G": g,
			"%s": strconv.FormatInt(st.Size(), 10), "%Y": strconv.FormatInt(st.ModTime().Unix(), 10), "%F": kind, "%n": p,
		} {
			out = strings.ReplaceAll(out, k, v)
		}
		fmt.Fprintln(e.Stdout, out)
	}
	return status
}

// owner is the "user:group" stat prints for a path: a knob's override, or
// what the release's packaging makes it (the emulator runs as one user, a
// real node has opscode).
func (n *Node) owner(p string) string {
	p = filepath.Clean(p)
	if o, ok := n.Owners[p]; ok {
		return o
	}
	if strings.HasPrefix(p, "/var/log/opscode/") {
		return n.Release.ServiceOwner + ":" + n.Release.ServiceOwner
	}
	return "root:root"
}

func (n *Node) df(argv []string, e Exec) int {
	if len(argv) < 3 || (argv[1] != "-P" && argv[1] != "-Pi") {
		return notEmulated(argv, e)
	}
	if argv[1] == "-P" {
		fmt.Fprintln(e.Stdout, "Filesystem     1024-blocks     Used Available Capacity Mounted on")
		if n.DiskFull {
			fmt.Fprintln(e.Stdout, "/dev/sda3         20511356 20511356         0     100% /var/log")
		} else {
			fmt.Fprintln(e.Stdout, "/dev/sda3         20511356  4102271  15344121      22% /var/log")
		}
		return 0
	}
	fmt.Fprintln(e.Stdout, "Filesystem      Inodes  IUsed   IFree IUse% Mounted on")
	fmt.Fprintln(e.Stdout, "/dev/sda3      1310720  48211 1262509    4% /var/log")
	return 0
}

// find DIR -mindepth 1 -maxdepth 1 -printf FORMAT (runit.LinkFormat).
func (n *Node) find(argv []string, e Exec) int {
	if len(argv) != 8 || argv[2] != "-mindepth" || argv[4] != "-maxdepth" || argv[6] != "-printf" {
		return notEmulated(argv, e)
	}
	dir := argv[1]
	ents, err := os.ReadDir(n.Path(dir))
	if err != nil {
		fmt.Fprintf(e.Stderr, "find: '%s': No such file or directory\n", dir)
		return 1
	}
	names := make([]string, 0, len(ents))
	for _, en := range ents {
		names = append(names, en.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		full := filepath.Join(n.Path(dir), name)
		st, _ := os.Lstat(full)
		kind, target, tkind := "f", "", "f"
		switch {
		case st.IsDir():
			kind, tkind = "d", "d"
		case st.Mode()&fs.ModeSymlink != 0:
			kind = "l"
			target, _ = os.Readlink(full)
			tst, err := os.Stat(n.Path(target))
			switch {
			case err != nil:
				tkind = "N"
			case tst.IsDir():
				tkind = "d"
			}
		}
		out := strings.NewReplacer("%f", name, "%y", kind, "%l", target, "%Y", tkind, `\t`, "\t", `\n`, "\n").Replace(argv[7])
		fmt.Fprint(e.Stdout, out)
	}
	return 0
}

// initctl status|start|stop JOB, as Upstart prints it. Stopping a runsvdir
// job takes its runsv and services down; starting it brings the normally-up
// services back, and svlogd recreates missing current files.
func (n *Node) initctl(argv []string, e Exec) int {
	if len(argv) != 3 {
		return notEmulated(argv, e)
	}
	job := argv[2]
	known := job == "opscode-runsvdir" || job == "private-chef-runsvdir"
	switch argv[1] {
	case "status":
	case "stop":
		if !known {
			fmt.Fprintln(e.Stderr, "initctl: Unknown job: "+job)
			return 1
		}
		n.Log = append(n.Log, strings.Join(argv, " "))
		running := false
		var keep []string
		for _, j := range n.Runsvdirs {
			if j == job {
				running = true
			} else {
				keep = append(keep, j)
			}
		}
		if !running {
			fmt.Fprintln(e.Stderr, "initctl: Unknown instance: ")
			return 1
		}
		n.Runsvdirs = keep
		if len(keep) == 0 {
			for _, s := range n.Services {
				s.Up = false
			}
		}
		fmt.Fprintf(e.Stdout, "%s stop/waiting\n", job)
		return 0
	case "start":
		if !known {
			fmt.Fprintln(e.Stderr, "initctl: Unknown job: "+job)
			return 1
		}
		n.Log = append(n.Log, strings.Join(argv, " "))
		for _, j := range n.Runsvdirs {
			if j == job {
				fmt.Fprintln(e.Stderr, "initctl: Job is already running: "+job)
				return 1
			}
		}
		n.Runsvdirs = append(n.Runsvdirs, job)
		if n.owner("/var/log/opscode") == n.Release.ServiceOwner+":"+n.Release.ServiceOwner {
			n.RunsvdirLog = ""
		}
		for _, s := range n.sortedServices() {
			n.WriteFile("/var/log/opscode/"+s.Name+"/current", "", 0o644)
			if s.NormallyUp && !s.Up {
				s.Up, s.PID, s.Since = true, n.pid(), n.Clock()
			}
		}
		fmt.Fprintf(e.Stdout, "%s start/running, process %d\n", job, 699)
		return 0
	default:
		return notEmulated(argv, e)
	}
	for i, j := range n.Runsvdirs {
		if j == argv[2] {
			fmt.Fprintf(e.Stdout, "%s start/running, process %d\n", j, 699+i*100)
			return 0
		}
	}
	if argv[2] == "opscode-runsvdir" || argv[2] == "private-chef-runsvdir" {
		fmt.Fprintf(e.Stdout, "%s stop/waiting\n", argv[2])
		return 0
	}
	fmt.Fprintln(e.Stderr, "initctl: Unknown job: "+argv[2])
	return 1
}

func (n *Node) test(argv []string, e Exec) int {
	if len(argv) != 3 || argv[1] != "-e" {
		return notEmulated(argv, e)
	}
	if _, err := os.Lstat(n.Path(argv[2])); err != nil {
		return 1
	}
	return 0
}

// tail -n N FILE.
func (n *Node) tail(argv []string, e Exec) int {
	if len(argv) != 4 || argv[1] != "-n" {
		return notEmulated(argv, e)
	}
	k, err := strconv.Atoi(argv[2])
	if err != nil {
		return notEmulated(argv, e)
	}
	b, err := os.ReadFile(n.Path(argv[3]))
	if err != nil {
		fmt.Fprintf(e.Stderr, "tail: cannot open '%s' for reading: No such file or directory\n", argv[3])
		return 1
	}
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	fmt.Fprint(e.Stdout, strings.Join(lines[max(0, len(lines)-k):], ""))
	return 0
}

// ip -o -4 addr show: the node's addresses, the VIP on eth0 when it holds it.
func (n *Node) ip(argv []string, e Exec) int {
	if strings.Join(argv[1:], " ") != "-o -4 addr show" {
		return notEmulated(argv, e)
	}
	fmt.Fprintln(e.Stdout, "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever")
	fmt.Fprintln(e.Stdout, "2: eth0    inet 192.168.4.250/24 brd 192.168.4.255 scope global eth0\\       valid_lft forever preferred_lft forever")
	if n.HasVIP && n.VIP != "" {
		fmt.Fprintf(e.Stdout, "2: eth0    inet %s/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever\n", n.VIP)
	}
	return 0
}

// printf FORMAT ARG…, for %s, %d, %% and the escapes \n and \t.
func (n *Node) printf(argv []string, e Exec) int {
	if len(argv) < 2 {
		return notEmulated(argv, e)
	}
	format, args := argv[1], argv[2:]
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case c == '\\' && i+1 < len(format):
			i++
			switch format[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(format[i])
			}
		case c == '%' && i+1 < len(format):
			i++
			switch format[i] {
			case '%':
				b.WriteByte('%')
			case 's', 'd':
				if len(args) > 0 {
					b.WriteString(args[0])
					args = args[1:]
				}
			default:
				return notEmulated(argv, e)
			}
		default:
			b.WriteByte(c)
		}
	}
	fmt.Fprint(e.Stdout, b.String())
	return 0
}
