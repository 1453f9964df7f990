package keepalived

import (
	"fmt"
	"strings"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/runit"
)

// Reading a back end over and over, as a watch does: the caller runs the
// commands (upgrade reads every node one way, in one command session) and
// hands their output to a Follower, which remembers where cluster.log was
// left between looks.

const (
	// DefaultBacklog is how many of cluster.log's existing lines a watch's
	// first look shows: what `tail` (and `private-chef-ctl tail
	// keepalived`) shows when it starts.
	DefaultBacklog = 10
	// LogTailBytes is how much of cluster.log's end a read takes (`tail
	// -c`): a transition writes about 40 lines of 60–80 bytes, so a look
	// sees a score of transitions; more written between two looks, or a
	// line longer than this, is reported as a gap, never silently dropped,
	// and a node whose log holds a line of 300 MB is still read.
	LogTailBytes = 64 << 10
)

// ClusterLogStat is the command that prints cluster.log's size and inode
// (`stat -c '%s %i'`): a Reading runs it just before and just after
// ClusterLogTail, so that the bytes read are known to be the file's last.
var ClusterLogStat = logStatCmd(ClusterLogPath)

func logStatCmd(path string) string { return "stat -c '%s %i' " + cluster.ShellQuote(path) }

// Output is what one command printed (its output and error streams
// together) and its exit status.
type Output struct {
	Text string
	RC   int
}

// Reading is one look at a back end: each command's output, all run in
// one command session in this order, as root (private-chef-ctl status
// needs it).
type Reading struct {
	Current   Output // cat CurrentStatusPath
	Requested Output // cat RequestedPath
	Lock      Output // cat LockPath
	PS        Output // ps -eo pid,ppid,user,stat,args
	Addrs     Output // ip -o -4 addr show
	// LogStat, Log and LogStat2 are ClusterLogStat, ClusterLogTail and
	// ClusterLogStat again.
	LogStat, Log, LogStat2 Output
	Status                 Output // private-chef-ctl status
}

// NodeSnapshot is what one look read of one back end.
type NodeSnapshot struct {
	// NodeState is the node's HA state. Its Err is set when the node could
	// not be read at all (unreachable, a command session refused, its
	// current_cluster_status missing or garbled); the other fields then say
	// nothing. Its Events are those of Log's lines that cluster.sh wrote
	// (date -R stamped); a line that is not one is in Log only.
	NodeState
	// Log holds cluster.log's lines written since the previous look,
	// oldest first; at the first look, the log's last Backlog lines. A
	// line being written (no newline yet) waits for the next look. A node
	// that could not be read keeps its lines for the next look that reads
	// it.
	Log []string
	// LogGap says lines were written that Log does not hold: more than
	// LogTailBytes since the previous look, a line longer than that, or a
	// rotated log whose start is already out of the window.
	LogGap bool
	// Services counts the node's runit services (`private-chef-ctl
	// status`); nil when they could not be read (Problems says why).
	Services *ServiceCount
	// Problems are what could not be read on a node that was otherwise
	// read, each naming the file or command and why: a lock file that
	// holds no PID, a private-chef-ctl that failed, …
	Problems []string
}

// ServiceCount is how many of a node's services run.
type ServiceCount struct {
	Up   int
	Down int
	// Stopped names the services that are not up (down, finishing, asked
	// to go down, or failing), sorted as private-chef-ctl lists them.
	Stopped []string
}

// Follower turns one back end's successive Readings into NodeSnapshots,
// each with the cluster.log lines written since the one before. The zero
// value shows no old lines at the first look.
type Follower struct {
	// Backlog is how many of cluster.log's existing lines the first
	// snapshot carries (DefaultBacklog is tail's).
	Backlog int
	log     logFollower
	paths   watchPaths // zero: the files cluster.sh writes
}

// watchPaths are the files a Reading read: cluster.sh's, except in tests
// that point a real shell at files of their own.
type watchPaths struct{ current, requested, lock, log string }

var defaultWatchPaths = watchPaths{current: CurrentStatusPath, requested: RequestedPath, lock: LockPath, log: ClusterLogPath}

// Snapshot reads r as the back end called name, moving the log on. vip is
// backend_vip's address; "" leaves HasVIP false, not looked for.
func (f *Follower) Snapshot(name, vip string, r Reading) NodeSnapshot {
	paths := f.paths
	if paths == (watchPaths{}) {
		paths = defaultWatchPaths
	}
	s := NodeSnapshot{NodeState: NodeState{Name: name}}
	problem := func(format string, a ...any) { s.Problems = append(s.Problems, fmt.Sprintf(format, a...)) }
	if r.Current.RC != 0 {
		s.Err = fmt.Errorf("%s: cannot read %s: %s", name, paths.current, oneLine(r.Current.Text))
		return s
	}
	var err error
	if s.Current, err = ParseStatus(paths.current, []byte(r.Current.Text)); err != nil {
		s.Err = fmt.Errorf("%s: %w", name, err)
		return s
	}
	if r.Requested.RC == 0 {
		if s.Requested, err = ParseStatus(paths.requested, []byte(r.Requested.Text)); err != nil {
			problem("%v", err)
		}
	}
	// A missing lock file is the normal case: no transition runs.
	if r.Lock.RC == 0 {
		if s.LockPID, err = ParseLock(paths.lock, []byte(r.Lock.Text)); err != nil {
			problem("%v", err)
		} else if s.LockAlive, err = pidAlive(r.PS, s.LockPID); err != nil {
			problem("whether lock holder pid %d runs: %v", s.LockPID, err)
		}
	}
	if vip != "" {
		if r.Addrs.RC != 0 {
			problem("ip -o -4 addr show failed: %s", oneLine(r.Addrs.Text))
		} else {
			s.HasVIP = hasAddress(r.Addrs.Text, vip)
		}
	}
	lines, gap, err := f.log.next(paths.log, r.LogStat, r.Log, r.LogStat2, f.Backlog)
	if err != nil {
		problem("%v", err)
	}
	s.Log, s.LogGap = lines, gap
	for _, l := range lines {
		if e, err := parseEvent(strings.TrimRight(l, " \r")); err == nil {
			s.Events = append(s.Events, e)
		}
	}
	if s.Services, err = CountServices(r.Status); err != nil {
		problem("%v", err)
	}
	return s
}

// pidAlive reads the ps output: is pid a live (not zombie) process?
func pidAlive(ps Output, pid int) (bool, error) {
	if ps.RC != 0 {
		return false, fmt.Errorf("ps failed: %s", oneLine(ps.Text))
	}
	procs, err := runit.ParsePS(strings.NewReader(ps.Text))
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

// CountServices reads `private-chef-ctl status` on any node, back end or
// front end. Its exit status is 3 when a service is down: information,
// not failure. Services not supervised (disabled) are neither up nor down.
func CountServices(st Output) (*ServiceCount, error) {
	if st.RC != 0 && st.RC != 3 {
		return nil, fmt.Errorf("private-chef-ctl status exited %d: %s", st.RC, oneLine(st.Text))
	}
	svcs, err := runit.ParseStatus(strings.NewReader(st.Text))
	if err != nil {
		return nil, fmt.Errorf("private-chef-ctl status: %w", err)
	}
	c := &ServiceCount{}
	for _, sv := range svcs {
		switch {
		case sv.State == runit.StateDisabled:
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
