package upgrade

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/drbd"
	"github.com/chefha/chefha/keepalived"
)

// Watch defaults, each with the reason for its value.
const (
	// DefaultWatchInterval is the runbook's monitoring loop: `cat
	// current_cluster_status; sleep 1`.
	DefaultWatchInterval = time.Second
	// DefaultWatchTimeout bounds one look at the cluster. A node that does
	// not answer in time is shown with its error; the stream goes on.
	DefaultWatchTimeout = 10 * time.Second
)

// WatchOptions shape a Watch. The zero value looks once a second on the
// wall clock and follows no run.
type WatchOptions struct {
	// Interval is the time from one look's start to the next's (default
	// DefaultWatchInterval). A look that takes longer is followed at once.
	Interval time.Duration
	// Timeout bounds one look (default DefaultWatchTimeout).
	Timeout time.Duration
	// Clock is what the looks wait on (default keepalived.RealClock);
	// tests pass a fake one and move it.
	Clock keepalived.Clock
	// Backlog is how many existing cluster.log lines the first snapshot
	// carries: 0 means keepalived.DefaultBacklog, a negative number none.
	Backlog int
	// Journal is a run's journal: each snapshot then says which of its
	// steps runs, or where it stopped. Nil: no run is followed.
	Journal Journal
	// Ignore names findings (WatchProblems, any letter case) that are
	// still shown but marked Ignored, and so raise no alarm.
	Ignore []string
}

// WatchSnapshot is one look at the cluster.
type WatchSnapshot struct {
	// Seq numbers the snapshots of a Watch from 1.
	Seq int
	// Time is when the look started, on the watch's clock.
	Time time.Time
	// Backends are the bootstrap and the secondary, in that order.
	Backends [2]WatchBackend
	// Frontends are the front ends, in topology order.
	Frontends []WatchFrontend
	// Step is the run of WatchOptions.Journal; nil without one.
	Step *WatchStep
	// Findings are what is wrong, the pair's (keepalived.Judge, without
	// the VIP's when the topology names no backend_vip) first.
	Findings []WatchFinding
}

// WatchBackend is what one look read of a back end.
type WatchBackend struct {
	// NodeSnapshot is its keepalived state, new cluster.log lines and
	// services; its Err is set when the node could not be read at all.
	keepalived.NodeSnapshot
	// DRBD is its resource (DRBDResource) as read from /proc/drbd, or from
	// drbdadm where that cannot be read; DRBDErr says why neither could
	// (the node's Err when the node could not be read at all).
	DRBD    drbd.Resource
	DRBDErr error
}

// WatchFrontend is what one look read of a front end.
type WatchFrontend struct {
	Name string
	// Err is set when the node could not be read (unreachable, the read
	// timed out): nothing else is known of it.
	Err error
	// Services counts its runit services; nil when private-chef-ctl status
	// could not be read (Problems says why).
	Services *keepalived.ServiceCount
	Problems []string
}

// WatchFinding is one thing wrong with the cluster.
type WatchFinding struct {
	Problem string // one of WatchProblems
	Node    string // "" for the pair or the cluster as a whole
	Detail  string
	Fix     string
	// Ignored is set for a Problem WatchOptions.Ignore names: shown, but
	// no alarm.
	Ignored bool
}

// Pair is the back ends as a keepalived.Pair, for keepalived's judges.
func (s WatchSnapshot) Pair() keepalived.Pair {
	return keepalived.Pair{Bootstrap: s.Backends[0].NodeState, Secondary: s.Backends[1].NodeState}
}

// Alarm reports whether the snapshot has a finding that is not ignored.
func (s WatchSnapshot) Alarm() bool {
	return slices.ContainsFunc(s.Findings, func(f WatchFinding) bool { return !f.Ignored })
}

// UnknownProblemError names a finding to ignore that the watch never
// reports.
type UnknownProblemError struct{ Name string }

func (e *UnknownProblemError) Error() string {
	return fmt.Sprintf("the watch has no finding called %q (its findings: %s)", e.Name, strings.Join(WatchProblems(), ", "))
}

// errNoPair is a topology without the two back ends the watch follows.
var errNoPair = errors.New("watch: the topology names no bootstrap and secondary back end")

// Watch looks at the cluster every Interval and sends a snapshot of each
// look, the first at once: both back ends (keepalived, the new cluster.log
// lines, services, DRBD), every front end (its services), and where the
// run of the journal given is. Each look reads each node in one command
// session, all nodes at once, as the pre-flight's facts are read. It never
// writes to a node and takes no lock: it runs beside an upgrade.
//
// A node that cannot be read is shown with its error; the stream goes on,
// and the node is read again at the next look. The channel is unbuffered:
// a slow reader delays the next look rather than piling snapshots up.
// Cancelling ctx ends the current look and closes the channel once every
// goroutine of the watch has returned. The error is a topology without an
// HA pair or an *UnknownProblemError.
func Watch(ctx context.Context, c *cluster.Cluster, opts WatchOptions) (<-chan WatchSnapshot, error) {
	boot, okb := c.Topology.Bootstrap()
	sec, oks := c.Topology.Secondary()
	if !okb || !oks {
		return nil, errNoPair
	}
	ignore, err := watchIgnore(opts.Ignore)
	if err != nil {
		return nil, err
	}
	w := &watcher{o: opts.withDefaults(), c: c, backends: [2]string{boot.Name, sec.Name}, ignore: ignore, vip: vipOf(c.Topology)}
	for i := range w.follow {
		w.follow[i].Backlog = w.o.Backlog
	}
	for _, s := range c.Topology.Frontends() {
		w.frontends = append(w.frontends, s.Name)
	}
	return w.run(ctx), nil
}

func (o WatchOptions) withDefaults() WatchOptions {
	if o.Interval <= 0 {
		o.Interval = DefaultWatchInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultWatchTimeout
	}
	if o.Clock == nil {
		o.Clock = keepalived.RealClock{}
	}
	switch {
	case o.Backlog == 0:
		o.Backlog = keepalived.DefaultBacklog
	case o.Backlog < 0:
		o.Backlog = 0
	}
	return o
}

// watcher is a Watch's state between looks: where each back end's log
// was left.
type watcher struct {
	o         WatchOptions
	c         *cluster.Cluster
	backends  [2]string
	frontends []string
	vip       string
	ignore    map[string]bool
	follow    [2]keepalived.Follower
}

func (w *watcher) run(ctx context.Context) <-chan WatchSnapshot {
	out := make(chan WatchSnapshot)
	clock, interval := w.o.Clock, w.o.Interval
	go func() {
		defer close(out)
		for seq := 1; ; seq++ {
			start := clock.Now()
			s := w.look(ctx, seq, start)
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

// The sections a look reads: what keepalived.Reading needs and DRBD on a
// back end, the run's lock on the bootstrap when a run is followed, the
// services on a front end.
var (
	watchBackendSections = []string{"current", "requested", "lock", "ps", "addrs",
		"clusterlog-stat", "clusterlog", "clusterlog-stat-after", "status",
		"drbd", "drbd-role", "drbd-cstate", "drbd-dstate"}
	watchLockSections     = []string{"run-lock", "run-lock-mtime", "clock"}
	watchFrontendSections = []string{"status"}
)

func (w *watcher) look(ctx context.Context, seq int, now time.Time) WatchSnapshot {
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	names := slices.Concat(w.backends[:], w.frontends)
	var nodes []cluster.Node
	for _, name := range names {
		if n, ok := w.c.Node(name); ok && n != nil {
			nodes = append(nodes, n)
		}
	}
	rs := cluster.Each(ctx, nodes, 0, func(ctx context.Context, n cluster.Node) (map[string]Section, error) {
		only := watchFrontendSections
		switch n.Name() {
		case w.backends[0]:
			only = watchBackendSections
			if w.o.Journal != nil {
				only = slices.Concat(only, watchLockSections)
			}
		case w.backends[1]:
			only = watchBackendSections
		}
		secs, err := readNode(ctx, n, "", w.o.Timeout, only...)
		var ue *UnreadableError
		if err != nil && !errors.As(err, &ue) {
			err = fmt.Errorf("%s: %w", n.Name(), err)
		}
		return secs, err
	})
	read := map[string]cluster.NodeResult[map[string]Section]{}
	for _, r := range rs {
		read[r.Node] = r
	}
	result := func(name string) (map[string]Section, error) {
		r, ok := read[name]
		if !ok {
			return nil, fmt.Errorf("%s: not a node of the cluster dialled", name)
		}
		return r.Value, r.Err
	}

	s := WatchSnapshot{Seq: seq, Time: now}
	for i, name := range w.backends {
		secs, err := result(name)
		s.Backends[i] = w.backend(i, name, secs, err)
	}
	for _, name := range w.frontends {
		secs, err := result(name)
		s.Frontends = append(s.Frontends, frontend(name, secs, err))
	}
	if w.o.Journal != nil {
		secs, _ := result(w.backends[0])
		st := readStep(ctx, w.o.Journal, secs)
		s.Step = &st
	}
	s.Findings = w.judge(s)
	return s
}

// backend builds the i-th back end's snapshot from its sections, moving
// its log on (not when it could not be read: its lines wait).
func (w *watcher) backend(i int, name string, secs map[string]Section, err error) WatchBackend {
	if err != nil {
		return WatchBackend{NodeSnapshot: keepalived.NodeSnapshot{NodeState: keepalived.NodeState{Name: name, Err: err}}, DRBDErr: err}
	}
	out := func(sec string) keepalived.Output { return keepalived.Output{Text: secs[sec].Output, RC: secs[sec].RC} }
	b := WatchBackend{NodeSnapshot: w.follow[i].Snapshot(name, w.vip, keepalived.Reading{
		Current: out("current"), Requested: out("requested"), Lock: out("lock"), PS: out("ps"), Addrs: out("addrs"),
		LogStat: out("clusterlog-stat"), Log: out("clusterlog"), LogStat2: out("clusterlog-stat-after"), Status: out("status"),
	})}
	view := nodeView{NodeFacts: NodeFacts{Node: name, Sections: secs}}
	b.DRBD, b.DRBDErr = view.DRBD()
	return b
}

func frontend(name string, secs map[string]Section, err error) WatchFrontend {
	f := WatchFrontend{Name: name, Err: err}
	if err != nil {
		return f
	}
	st := secs["status"]
	if f.Services, err = keepalived.CountServices(keepalived.Output{Text: st.Output, RC: st.RC}); err != nil {
		f.Problems = append(f.Problems, err.Error())
	}
	return f
}
