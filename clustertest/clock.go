package clustertest

import (
	"sync"
	"time"
)

// FakeClock is a clock tests move by hand, so a two-minute keepalived
// wait takes no wall time. Its After fires once Advance passes the
// deadline, which lets it drive keepalived.Gate too.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewFakeClock starts at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

// Now is the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d and fires the waits that are due.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
}

// After returns a channel that receives once the clock reaches now+d.
// With AutoAdvance (the default for a gate's polls) use Sleep instead.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

// SteppingClock is a FakeClock whose After advances the clock itself: a
// poller waiting on it runs at once with time moving on, as if the wait
// had happened.
type SteppingClock struct{ *FakeClock }

// After advances the clock by d and returns a fired channel.
func (c SteppingClock) After(d time.Duration) <-chan time.Time {
	c.Advance(d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}
