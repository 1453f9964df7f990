package upgrade

import "time"

// WithHeartbeat shortens the heartbeat of a command that runs on, for the
// tests of the package upgrade_test.
func WithHeartbeat(d time.Duration) Option { return func(o *options) { o.heartbeat = d } }
