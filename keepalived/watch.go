package keepalived

import (
	"context"
	"time"

	"github.com/chefha/chefha/cluster"
)

// Watch defaults, each with the reason for its value.
const (
	// DefaultWatchInterval is the runbook's monitoring loop: `cat
	// current_cluster_status; sleep 1`.
	DefaultWatchInterval = time.Second
	// DefaultBacklog is how many of cluster.log's existing lines the first
	// snapshot carries: what `tail` (and `private-chef-ctl tail
	// keepalived`) shows when it starts.
	DefaultBacklog = 10
	// DefaultWatchTimeout bounds one poll of both back ends. A node that
	// does not answer in time is shown with its error; the stream goes on.
	DefaultWatchTimeout = 10 * time.Second
	// LogTailBytes is how much of cluster.log's end a read takes (`tail
	// -c`): a transition writes about 40 lines of 60–80 bytes, so a poll
	// sees a score of transitions; more written between two polls, or a
	// line longer than this, is reported as a gap, never silently dropped,
	// and a node whose log holds a line of 300 MB is still read.
	LogTailBytes = 64 << 10
)

// WatchOptions shape a Watch. The zero value watches without looking for
// the VIP, once a second, on the wall clock.
type WatchOptions struct {
	// VIP is backend_vip's address (cluster.Topology.BackendVIP.IPAddress):
	// who holds it is read from `ip -o -4 addr show`. Empty: the VIP is not
	// looked for, and Judge's VIP findings are left out.
	VIP string
	// Interval is the time from one poll's start to the next's (default
	// DefaultWatchInterval). A poll that takes longer is followed at once.
	Interval time.Duration
	// Timeout bounds one poll (default DefaultWatchTimeout).
	Timeout time.Duration
	// Clock is what the polls wait on (default RealClock); tests pass a
	// fake one and move it.
	Clock Clock
	// Backlog is how many existing cluster.log lines the first snapshot
	// carries: 0 means DefaultBacklog, a negative number none.
	Backlog int
}

// Snapshot is one look at the back-end pair.
type Snapshot struct {
	// Seq numbers the snapshots of a Watch from 1.
	Seq int
	// Time is when the poll started, on the watch's clock.
	Time      time.Time
	Bootstrap NodeSnapshot
	Secondary NodeSnapshot
	// Findings are Judge's, for the pair as read (without the VIP findings
	// when no VIP was given).
	Findings []Finding
}

// Pair is the snapshot as a Pair, for Judge, JudgeBootstrapMaster or a
// Gate.
func (s Snapshot) Pair() Pair {
	return Pair{Bootstrap: s.Bootstrap.NodeState, Secondary: s.Secondary.NodeState}
}

// Nodes are the bootstrap and the secondary, in that order.
func (s Snapshot) Nodes() [2]NodeSnapshot { return [2]NodeSnapshot{s.Bootstrap, s.Secondary} }

// NodeSnapshot is what one poll read of one back end.
type NodeSnapshot struct {
	// NodeState is the node's HA state. Its Err is set when the node could
	// not be read at all (unreachable, a command session refused, its
	// current_cluster_status missing or garbled); the other fields then say
	// nothing. Its Events are those of Log's lines that cluster.sh wrote
	// (date -R stamped); a line that is not one is in Log only.
	NodeState
	// Log holds cluster.log's lines written since the previous snapshot,
	// oldest first; in the first snapshot, the log's last Backlog lines. A
	// line being written (no newline yet) waits for the next snapshot. A
	// node that could not be read keeps its lines for the next snapshot
	// that reads it.
	Log []string
	// LogGap says lines were written that Log does not hold: more than
	// LogTailBytes since the previous snapshot, a line longer than that, or a rotated log whose
	// start is already out of the window.
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

// Watch polls the two back ends (the bootstrap first) every Interval and
// sends a Snapshot of each poll, the first at once. Each poll reads each
// node in one command session (a shell script with a section per file or
// command), both nodes at once. It never writes to a node and takes no
// lock: it can run beside an upgrade.
//
// A node that cannot be read is a snapshot whose NodeSnapshot.Err says
// why; the stream goes on, and the node is read again at the next poll.
// The channel is unbuffered: a slow reader delays the next poll rather
// than piling snapshots up. Cancelling ctx ends the current poll and
// closes the channel once every goroutine of the watch has returned.
func Watch(ctx context.Context, backends [2]cluster.Node, opts WatchOptions) <-chan Snapshot {
	w := &watcher{opts: opts.withDefaults(), nodes: backends, paths: defaultWatchPaths}
	return w.run(ctx)
}

func (w *watcher) run(ctx context.Context) <-chan Snapshot {
	out := make(chan Snapshot)
	clock, interval := w.opts.Clock, w.opts.Interval
	go func() {
		defer close(out)
		for seq := 1; ; seq++ {
			start := clock.Now()
			s := w.poll(ctx, seq, start)
			if ctx.Err() != nil {
				return
			}
			// Ask for the next tick before handing the snapshot over: a test
			// that moves a fake clock once it has the snapshot then always
			// finds the wait registered.
			tick := clock.After(start.Add(interval).Sub(clock.Now()))
			select {
			case out <- s:
			case <-ctx.Done():
				return
			}
			select {
			case <-tick:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func (o WatchOptions) withDefaults() WatchOptions {
	if o.Interval <= 0 {
		o.Interval = DefaultWatchInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultWatchTimeout
	}
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	switch {
	case o.Backlog == 0:
		o.Backlog = DefaultBacklog
	case o.Backlog < 0:
		o.Backlog = 0
	}
	return o
}

// watcher is a Watch's state between polls: where each node's log was
// left.
type watcher struct {
	opts  WatchOptions
	nodes [2]cluster.Node
	paths watchPaths
	logs  [2]logFollower
}

func (w *watcher) poll(ctx context.Context, seq int, now time.Time) Snapshot {
	pctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	var live []cluster.Node
	var idx []int
	var snaps [2]NodeSnapshot
	for i, n := range w.nodes {
		if n == nil {
			snaps[i].Name = [2]string{"bootstrap", "secondary"}[i]
			snaps[i].Err = errNoNode
			continue
		}
		live, idx = append(live, n), append(idx, i)
	}
	rs := cluster.Each(pctx, live, 0, func(ctx context.Context, n cluster.Node) (pollOutput, error) {
		return w.paths.read(ctx, n)
	})
	for j, r := range rs {
		i := idx[j]
		if r.Err != nil {
			snaps[i] = NodeSnapshot{NodeState: NodeState{Name: live[j].Name(), Err: r.Err}}
			continue
		}
		snaps[i] = r.Value.snapshot(w.paths, live[j].Name(), w.opts.VIP, &w.logs[i], w.opts.Backlog)
	}
	s := Snapshot{Seq: seq, Time: now, Bootstrap: snaps[0], Secondary: snaps[1]}
	for _, f := range Judge(s.Pair()) {
		if w.opts.VIP == "" && (f.Problem == ProblemVIPNotOnMaster || f.Problem == ProblemVIPOnBackup) {
			continue
		}
		s.Findings = append(s.Findings, f)
	}
	return s
}
