package keepalived

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/runit"
)

var errNoNode = errors.New("keepalived watch: no node given for this back end")

// watchPaths are the files a poll reads: cluster.sh's, except in tests
// that point a real shell at files of their own.
type watchPaths struct{ current, requested, lock, log string }

var defaultWatchPaths = watchPaths{current: CurrentStatusPath, requested: RequestedPath, lock: LockPath, log: ClusterLogPath}

// sectionNames are the poll script's sections, in order.
var sectionNames = []string{"current", "requested", "lock", "ps", "addrs", "logstat", "log", "logstat2", "status"}

// commands are what one poll runs on a node, a section each, in one `sh
// -c` script: the runbook's two terminals (`cat current_cluster_status` in
// a loop and `private-chef-ctl tail keepalived`) plus what says whether a
// transition runs and who serves. cluster.log is stat'ed before and after
// it is read, so the bytes read are known to be the file's last ones (see
// logFollower).
func (p watchPaths) commands() map[string]string {
	q := cluster.ShellQuote
	return map[string]string{
		"current":   "cat " + q(p.current),
		"requested": "cat " + q(p.requested),
		"lock":      "cat " + q(p.lock),
		"ps":        "ps -eo pid,ppid,user,stat,args",
		"addrs":     "ip -o -4 addr show",
		"logstat":   "stat -c '%s %i' " + q(p.log),
		"log":       logTail(p.log),
		"logstat2":  "stat -c '%s %i' " + q(p.log),
		"status":    "private-chef-ctl status",
	}
}

// section is one command's output and exit status.
type section struct {
	out string
	rc  int
}

// pollOutput is one node's sections, by name.
type pollOutput map[string]section

// script is the poll's shell script. Its section markers carry a
// nonce drawn for the poll, so that no line of a node's file (cluster.log
// is written by whoever can run cluster.sh) can pass for a marker.
func (p watchPaths) script(nonce string) string {
	var b strings.Builder
	cmds := p.commands()
	for _, name := range sectionNames {
		// printf puts the status line on a line of its own even after
		// output that does not end in a newline (a log line being written);
		// parsePoll takes that one newline off again.
		fmt.Fprintf(&b, "echo @@%s:%s\n%s 2>&1\nprintf '\\n@@%s-rc:%%d\\n' $?\n", nonce, name, cmds[name], nonce)
	}
	b.WriteString("true\n")
	return b.String()
}

// parsePoll splits the script's output into sections; every section must
// be there, or the output was cut short.
func parsePoll(out, nonce string) (pollOutput, error) {
	mark, markRC := "@@"+nonce+":", "@@"+nonce+"-rc:"
	secs := pollOutput{}
	var name string
	var body strings.Builder
	for _, line := range strings.SplitAfter(out, "\n") {
		t := strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(t, mark):
			name = strings.TrimPrefix(t, mark)
			body.Reset()
		case strings.HasPrefix(t, markRC) && name != "":
			rc, err := strconv.Atoi(strings.TrimPrefix(t, markRC))
			if err != nil {
				return nil, fmt.Errorf("bad status line %q in the watch script's output", t)
			}
			secs[name] = section{out: strings.TrimSuffix(body.String(), "\n"), rc: rc}
			name = ""
		case name != "":
			body.WriteString(line)
		}
	}
	for _, name := range sectionNames {
		if _, ok := secs[name]; !ok {
			return nil, fmt.Errorf("no %s section in the watch script's output (cut short?)", name)
		}
	}
	return secs, nil
}

// read runs one poll's script on n. It reads as root, as the facts
// do: private-chef-ctl status needs it.
func (p watchPaths) read(ctx context.Context, n cluster.Node) (pollOutput, error) {
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	nonce := "chefha-watch-" + hex.EncodeToString(raw[:])
	res, err := n.Run(ctx, cluster.Cmd{Argv: []string{"sh", "-c", p.script(nonce)}, Sudo: true})
	if err != nil {
		return nil, err
	}
	out, err := parsePoll(string(res.Stdout), nonce)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Name(), err)
	}
	return out, nil
}

// snapshot builds a node's snapshot from its sections, moving its log
// follower on.
func (p pollOutput) snapshot(paths watchPaths, name, vip string, log *logFollower, backlog int) NodeSnapshot {
	s := NodeSnapshot{NodeState: NodeState{Name: name}}
	problem := func(format string, a ...any) { s.Problems = append(s.Problems, fmt.Sprintf(format, a...)) }
	cur := p["current"]
	if cur.rc != 0 {
		s.Err = fmt.Errorf("%s: cannot read %s: %s", name, paths.current, oneLine(cur.out))
		return s
	}
	var err error
	if s.Current, err = ParseStatus(paths.current, []byte(cur.out)); err != nil {
		s.Err = fmt.Errorf("%s: %w", name, err)
		return s
	}
	if req := p["requested"]; req.rc == 0 {
		if s.Requested, err = ParseStatus(paths.requested, []byte(req.out)); err != nil {
			problem("%v", err)
		}
	}
	// A missing lock file is the normal case: no transition runs.
	if lock := p["lock"]; lock.rc == 0 {
		if s.LockPID, err = ParseLock(paths.lock, []byte(lock.out)); err != nil {
			problem("%v", err)
		} else {
			s.LockAlive, err = pidAlive(p["ps"], s.LockPID)
			if err != nil {
				problem("whether lock holder pid %d runs: %v", s.LockPID, err)
			}
		}
	}
	if vip != "" {
		if a := p["addrs"]; a.rc != 0 {
			problem("ip -o -4 addr show failed: %s", oneLine(a.out))
		} else {
			s.HasVIP = hasAddress(a.out, vip)
		}
	}
	lines, gap, err := log.next(paths.log, p["logstat"], p["log"], p["logstat2"], backlog)
	if err != nil {
		problem("%v", err)
	}
	s.Log, s.LogGap = lines, gap
	for _, l := range lines {
		if e, err := parseEvent(strings.TrimRight(l, " \r")); err == nil {
			s.Events = append(s.Events, e)
		}
	}
	s.Services, err = countServices(p["status"])
	if err != nil {
		problem("%v", err)
	}
	return s
}

// pidAlive reads the ps section: is pid a live (not zombie) process?
func pidAlive(ps section, pid int) (bool, error) {
	if ps.rc != 0 {
		return false, fmt.Errorf("ps failed: %s", oneLine(ps.out))
	}
	procs, err := runit.ParsePS(strings.NewReader(ps.out))
	if err != nil {
		return false, err
	}
	for _, pr := range procs {
		if pr.PID == pid {
			return !strings.HasPrefix(pr.Stat, "Z"), nil
		}
	}
	return false, nil
}

// hasAddress reports whether `ip -o -4 addr show` lists addr ("inet
// 192.168.4.7/24").
func hasAddress(out, addr string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				if a, _, _ := strings.Cut(f[i+1], "/"); a == addr {
					return true
				}
			}
		}
	}
	return false
}

// countServices reads private-chef-ctl status. Its exit status is 3 when a
// service is down: information, not failure.
func countServices(st section) (*ServiceCount, error) {
	if st.rc != 0 && st.rc != 3 {
		return nil, fmt.Errorf("private-chef-ctl status exited %d: %s", st.rc, oneLine(st.out))
	}
	svcs, err := runit.ParseStatus(strings.NewReader(st.out))
	if err != nil {
		return nil, fmt.Errorf("private-chef-ctl status: %w", err)
	}
	c := &ServiceCount{}
	for _, sv := range svcs {
		switch {
		case sv.State == runit.StateDisabled:
			// Not supervised: neither up nor down.
		case sv.Up():
			c.Up++
		default:
			c.Down++
			c.Stopped = append(c.Stopped, sv.Service)
		}
	}
	return c, nil
}

// oneLine is a command's complaint, short, for a problem or an error.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	if s == "" {
		return "no output"
	}
	return s
}
