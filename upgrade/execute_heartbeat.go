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
// func is called. A detached command's beat carries the last line it
// wrote so far: which migration partybus is at says more than a time.
func (r *Runner) heartbeatWhile(ctx context.Context, step Step, a Action, what string) (stop func()) {
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
				if a.Critical {
					if line := r.lastLine(ctx, step, a, min(every, lastLineTimeout)); line != "" {
						ev.LastOutput = line
						ev.Message += "; last output: " + line
					}
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

// lastLine is the last non-empty line the detached command a wrote to its
// log on the node so far, or "" when there is none or it cannot be read
// within timeout. It reads only the log's tail, as root (the log is
// root's, 0600 in a 0700 directory).
func (r *Runner) lastLine(ctx context.Context, step Step, a Action, timeout time.Duration) string {
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
	lines := strings.Split(strings.TrimRight(string(res.Stdout), "\r\n\t "), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if len(last) > lastLineMax {
		last = last[:lastLineMax] + "…"
	}
	return last
}
