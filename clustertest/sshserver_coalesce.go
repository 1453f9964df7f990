package clustertest

import (
	"io"
	"sync"
	"time"
)

// coalesceDelay is how long a command's output may wait to be sent with
// what follows it. The model writes a line at a time, and an SSH packet a
// line (a syscall each) was a tenth of a simulated upgrade's CPU; a
// client that shows output as it comes (a heartbeat's last line) sees it
// this much later at most.
const coalesceDelay = 20 * time.Millisecond

// coalescer gathers writes to w and sends them together, coalesceDelay
// after the first of them, or at Close.
type coalescer struct {
	w     io.Writer
	mu    sync.Mutex
	buf   []byte
	timer *time.Timer
	err   error
}

func newCoalescer(w io.Writer) *coalescer { return &coalescer{w: w} }

func (c *coalescer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	c.buf = append(c.buf, p...)
	if c.timer == nil {
		c.timer = time.AfterFunc(coalesceDelay, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.flush()
		})
	}
	return len(p), nil
}

// flush sends what is gathered; c.mu is held.
func (c *coalescer) flush() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if len(c.buf) > 0 && c.err == nil {
		_, c.err = c.w.Write(c.buf)
	}
	c.buf = c.buf[:0]
}

// Close sends what is left; the command has ended.
func (c *coalescer) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flush()
	return c.err
}
