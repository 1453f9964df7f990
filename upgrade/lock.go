package upgrade

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/proc"
)

// LockPath is the per-node lock directory that keeps two runners apart.
const LockPath = "/var/opt/opscode/upgrades/chefha.lock"

const lockOwnerFile = LockPath + "/owner"

// LockHeartbeat is how often a running runner renews its locks; a lock not
// renewed for LockStale is taken to belong to a run that died on another
// machine (on this machine the owner's process is checked directly).
const (
	LockHeartbeat = 30 * time.Second
	LockStale     = 3 * LockHeartbeat
)

// LockOwner names the process that holds the locks: the machine, the
// process (with its start time, so a reused PID is not mistaken for it),
// and a random nonce that tells two runners of one process apart.
type LockOwner struct {
	Host     string `json:"host"`
	PID      int    `json:"pid"`
	PIDStart string `json:"pid_start,omitempty"`
	// Machine is where PID means something: the machine id, boot id and
	// PID namespace. A host name is no identity (two machines, or two
	// namespaces of one, may share it); only a runner with the same
	// Machine may judge the owner by its process.
	Machine   string    `json:"machine,omitempty"`
	Nonce     string    `json:"nonce"`
	Since     time.Time `json:"since"`
	Heartbeat time.Time `json:"heartbeat"`
	Plan      string    `json:"plan,omitempty"`
}

func (o LockOwner) String() string {
	return fmt.Sprintf("pid %d on %s (run %s, plan %s, since %s)", o.PID, o.Host, o.Nonce, o.Plan, o.Since.Format(time.RFC3339))
}

func newLockOwner(plan string, now time.Time) LockOwner {
	host, _ := os.Hostname()
	nonce := make([]byte, 8)
	rand.Read(nonce)
	return LockOwner{Host: host, PID: os.Getpid(), PIDStart: proc.Start(os.Getpid()), Machine: thisMachine(), Nonce: hex.EncodeToString(nonce),
		Since: now.UTC(), Heartbeat: now.UTC(), Plan: plan}
}

// thisMachine identifies the machine, boot and PID namespace this process
// runs in; "" where /proc or /etc cannot tell (then no owner is judged by
// its process).
func thisMachine() string {
	id, err1 := os.ReadFile("/etc/machine-id")
	boot, err2 := os.ReadFile("/proc/sys/kernel/random/boot_id")
	ns, err3 := os.Readlink("/proc/self/ns/pid")
	if err1 != nil || err2 != nil || err3 != nil {
		return ""
	}
	return strings.TrimSpace(string(id)) + "/" + strings.TrimSpace(string(boot)) + "/" + ns
}

// alive says whether the owner may still run: by its process when it ran
// in this very machine, boot and PID namespace; otherwise by how long ago
// it last renewed the lock, on the node's own clock (age; an owner file
// older than LockStale is a dead run's, whatever any clock says).
func (o LockOwner) alive(age time.Duration) bool {
	if m := thisMachine(); m != "" && o.Machine == m {
		return o.PID > 0 && proc.Start(o.PID) != "" && proc.Start(o.PID) == o.PIDStart
	}
	return age < LockStale
}

// ownerAge is how long ago the owner file on n was written, on n's clock.
func ownerAge(ctx context.Context, n cluster.Node) (time.Duration, error) {
	var at [2]int64
	for i, argv := range [][]string{{"stat", "-c", "%Y", lockOwnerFile}, {"date", "+%s"}} {
		res, err := n.Run(ctx, cluster.Cmd{Argv: argv, Sudo: true})
		if err != nil {
			return 0, err
		}
		if at[i], err = strconv.ParseInt(strings.TrimSpace(string(res.Stdout)), 10, 64); err != nil {
			return 0, fmt.Errorf("the age of %s: %s: %w", lockOwnerFile, argv[0], err)
		}
	}
	return time.Duration(at[1]-at[0]) * time.Second, nil
}

// LockLostError is a lock this run held that another took: the run stops
// before it changes anything more.
type LockLostError struct {
	Node  string
	Owner LockOwner // who holds it now; empty when the lock is gone
}

func (e *LockLostError) Error() string {
	holder := "nobody holds it now"
	if e.Owner.Nonce != "" {
		holder = "it is now held by " + e.Owner.String()
	}
	return fmt.Sprintf("%s: this run's lock %s was taken from it (%s): it stopped before changing anything more; let the other run finish, then run again to resume", e.Node, LockPath, holder)
}

// LockedError is a lock held by a live runner.
type LockedError struct {
	Node  string
	Owner LockOwner
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s: another chefha run holds %s: %s; wait for it to finish (if you are sure it is gone, remove %s on every node)",
		e.Node, LockPath, e.Owner, LockPath)
}

// LockError is a lock that could not be taken for another reason than a
// live owner: the node's own error, named.
type LockError struct {
	Node string
	Err  error
}

func (e *LockError) Error() string {
	return fmt.Sprintf("%s: cannot take the lock %s: %v", e.Node, LockPath, e.Err)
}
func (e *LockError) Unwrap() error { return e.Err }

// locks are the runner's locks on every node.
type locks struct {
	owner LockOwner
	held  []cluster.Node
	emit  func(Event)
}

// lockAll takes the lock on every node, or on none: a failure releases
// the ones taken. A lock whose owner is gone is taken over, with an event
// naming the old owner.
func lockAll(ctx context.Context, nodes []cluster.Node, owner LockOwner, emit func(Event)) (*locks, error) {
	l := &locks{owner: owner, emit: emit}
	for i, n := range nodes {
		// Said as it goes: on a slow link taking every node's lock takes a
		// while, and nothing else is printed meanwhile.
		if emit != nil {
			emit(Event{Kind: EventProgress, Node: n.Name(), Message: fmt.Sprintf("taking the run's lock on %s (%d of %d)", n.Name(), i+1, len(nodes))})
		}
		if err := l.take(ctx, n); err != nil {
			l.release(context.WithoutCancel(ctx))
			return nil, err
		}
		l.held = append(l.held, n)
	}
	return l, nil
}

func (l *locks) take(ctx context.Context, n cluster.Node) error {
	if _, err := n.Run(ctx, cluster.Cmd{Argv: []string{"mkdir", "-p", "/var/opt/opscode/upgrades"}, Sudo: true}); err != nil {
		return &LockError{Node: n.Name(), Err: err}
	}
	for attempt := 0; attempt < 2; attempt++ {
		_, err := n.Run(ctx, cluster.Cmd{Argv: []string{"mkdir", LockPath}, Sudo: true})
		if err == nil {
			return l.writeOwner(ctx, n)
		}
		var ee *cluster.ExitError
		if !errors.As(err, &ee) {
			return &LockError{Node: n.Name(), Err: err}
		}
		old, rerr := readOwner(ctx, n)
		switch {
		case errors.Is(rerr, fs.ErrNotExist):
			// mkdir failed for another reason than a lock (or a runner died
			// between its mkdir and its owner file): say which.
			if _, serr := n.Stat(ctx, LockPath); serr != nil {
				return &LockError{Node: n.Name(), Err: err}
			}
			old = LockOwner{Host: "unknown", Nonce: "none"}
		case rerr != nil:
			return &LockError{Node: n.Name(), Err: rerr}
		}
		if old.Nonce == l.owner.Nonce {
			return nil
		}
		if old.Nonce != "none" {
			age, err := ownerAge(ctx, n)
			if err != nil {
				return &LockError{Node: n.Name(), Err: err}
			}
			if old.alive(age) {
				return &LockedError{Node: n.Name(), Owner: old}
			}
		}
		// The owner is gone: remove its lock and try again. Two runners
		// taking over at once both remove it, and only one wins the mkdir.
		if again, err := readOwner(ctx, n); err == nil && again.Nonce != old.Nonce {
			continue // it changed hands meanwhile: judge the new owner
		}
		if _, err := n.Run(ctx, cluster.Cmd{Argv: []string{"rm", "-rf", LockPath}, Sudo: true}); err != nil {
			return &LockError{Node: n.Name(), Err: fmt.Errorf("take over the lock of %s: %w", old, err)}
		}
		if l.emit != nil {
			l.emit(Event{Kind: EventFinding, Node: n.Name(), Message: "took over the lock of a run that is gone: " + old.String()})
		}
	}
	return &LockError{Node: n.Name(), Err: errors.New("the lock kept changing hands")}
}

func readOwner(ctx context.Context, n cluster.Node) (LockOwner, error) {
	b, err := n.ReadFile(ctx, lockOwnerFile)
	if err != nil {
		return LockOwner{}, err
	}
	var o LockOwner
	if err := json.Unmarshal(b, &o); err != nil {
		// An owner file chefha did not write: treat as a dead owner only by
		// heartbeat (never), i.e. refuse with what it says.
		return LockOwner{Host: "unknown (" + strings.TrimSpace(string(b)) + ")", Nonce: "unreadable", Heartbeat: time.Now()}, nil
	}
	return o, nil
}

func (l *locks) writeOwner(ctx context.Context, n cluster.Node) error {
	b, _ := json.Marshal(l.owner)
	if err := n.WriteFile(ctx, lockOwnerFile, append(b, '\n'), 0o600); err != nil {
		return &LockError{Node: n.Name(), Err: err}
	}
	return nil
}

// renew refreshes the heartbeat on every node whose lock is still this
// run's; a lock another took is not written over: it is reported lost.
func (l *locks) renew(ctx context.Context, now time.Time) error {
	l.owner.Heartbeat = now.UTC()
	var errs []error
	for _, n := range l.held {
		if err := l.check(ctx, n); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := l.writeOwner(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// check says whether the lock on n is still this run's: a LockLostError
// when another run holds it or it is gone.
func (l *locks) check(ctx context.Context, n cluster.Node) error {
	o, err := readOwner(ctx, n)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &LockLostError{Node: n.Name()}
	case err != nil:
		return &LockError{Node: n.Name(), Err: err}
	case o.Nonce != l.owner.Nonce:
		return &LockLostError{Node: n.Name(), Owner: o}
	}
	return nil
}

// checkNode is check for the held lock of the node named name.
func (l *locks) checkNode(ctx context.Context, name string) error {
	for _, n := range l.held {
		if n.Name() == name {
			return l.check(ctx, n)
		}
	}
	return nil
}

// release removes the locks this runner holds (and only those).
func (l *locks) release(ctx context.Context) error {
	var errs []error
	for _, n := range l.held {
		if o, err := readOwner(ctx, n); err == nil && o.Nonce != l.owner.Nonce {
			continue // not ours any more
		}
		if _, err := n.Run(ctx, cluster.Cmd{Argv: []string{"rm", "-rf", LockPath}, Sudo: true}); err != nil {
			errs = append(errs, &LockError{Node: n.Name(), Err: fmt.Errorf("release: %w", err)})
		}
	}
	l.held = nil
	return errors.Join(errs...)
}

// heartbeat renews the locks until stopped, so another machine can tell a
// live run from a dead one.
func (r *Runner) heartbeat(ctx context.Context, l *locks) func() {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-time.After(LockHeartbeat):
				var lost *LockLostError
				if err := l.renew(ctx, time.Now()); errors.As(err, &lost) {
					err := error(lost)
					r.lost.Store(&err)
				}
			}
		}
	}()
	return func() { close(done) }
}
