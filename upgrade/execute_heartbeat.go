package upgrade

import (
	"fmt"
	"sync"
	"time"
)

// heartbeatEvery is how often a command that runs on says so: a reconfigure
// or an upgrade takes minutes on a real node, and an operator who sees
// nothing for that long cannot tell it from a hang.
const heartbeatEvery = 10 * time.Second

// heartbeatWhile emits an EventProgress for a every heartbeat (by the
// machine's clock, which the command's runtime is) until the returned
// func is called.
func (r *Runner) heartbeatWhile(step Step, a Action, what string) (stop func()) {
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
				r.emit(Event{Kind: EventProgress, Step: step.ID, Node: a.Node, Elapsed: time.Since(start),
					Message: fmt.Sprintf("still running after %s: %s", time.Since(start).Round(time.Second), what)})
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
