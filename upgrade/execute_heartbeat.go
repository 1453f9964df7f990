package upgrade

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/chefha/chefha/cluster"
)

// heartbeatEvery is how often a command that runs on says so: a reconfigure
// or an upgrade takes minutes on a real node, and an operator who sees
// nothing for that long cannot tell it from a hang.
const heartbeatEvery = 10 * time.Second

// heartbeatWhile emits an EventProgress for a every heartbeat (by the
// machine's clock, which the command's runtime is) until the returned
// func is called. The beat carries the last line the command wrote so
// far (out; a detached command's, read from its log on the node): which
// migration partybus is at says more than a time.
func (r *Runner) heartbeatWhile(ctx context.Context, step Step, a Action, what string, out *outputTail) (stop func()) {
	every := r.o.heartbeat
	if every <= 0 {
		every = heartbeatEvery
	}
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				ev := Event{Kind: EventProgress, Step: step.ID, Node: a.Node, Elapsed: time.Since(start),
					Message: fmt.Sprintf("still running after %s: %s", time.Since(start).Round(time.Second), what)}
				line := out.String()
				if a.Critical {
					line = r.detachedLastLine(ctx, step, a, min(every, lastLineTimeout))
				}
				if line != "" {
					ev.LastOutput = line
					ev.Message += "; last output: " + line
				}
				select {
				case <-done:
					return // the command ended while its log was read
				default:
				}
				r.emit(ev)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// lastLineTimeout bounds the read of a detached command's log: a node too
// slow to answer in this long gets a beat without the line, on time.
const lastLineTimeout = 5 * time.Second

// lastLineMax is how much of a last line a beat carries.
const lastLineMax = 200

// detachedLastLine is the last non-empty line the detached command a wrote to its
// log on the node so far, or "" when there is none or it cannot be read
// within timeout. It reads only the log's tail, as root (the log is
// root's, 0600 in a 0700 directory).
func (r *Runner) detachedLastLine(ctx context.Context, step Step, a Action, timeout time.Duration) string {
	n, err := r.node(a.Node)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := n.Run(ctx, cluster.Cmd{Argv: []string{"tail", "-c", "2048", detachedLog(step.ID, a.Node, a.Argv)}, Sudo: true})
	if err != nil {
		return ""
	}
	var l outputTail
	l.Write(res.Stdout)
	return l.String()
}

// outputTail keeps the last non-empty line written to it: a command's
// output as it arrives, read by its heartbeat.
type outputTail struct {
	mu   sync.Mutex
	cur  []byte // the line being written
	last string // the last one ended
}

func (l *outputTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range p {
		switch c {
		case '\n', '\r': // a progress bar's \r ends its line too
			if s := strings.TrimSpace(string(l.cur)); s != "" {
				l.last = s
			}
			l.cur = l.cur[:0]
		default:
			if len(l.cur) < 4*lastLineMax {
				l.cur = append(l.cur, c)
			}
		}
	}
	return len(p), nil
}

// String is the last non-empty line, or the one being written if none
// ended yet, cut to lastLineMax bytes.
func (l *outputTail) String() string {
	if l == nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.last
	if s == "" {
		s = strings.TrimSpace(string(l.cur))
	}
	if len(s) > lastLineMax {
		s = strings.ToValidUTF8(s[:lastLineMax], "") + "…"
	}
	return s
}
