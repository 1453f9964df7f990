package clustertest_test

import (
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
)

// BenchmarkNew builds a five-node cluster (two back ends, three front
// ends) on a fake clock and closes it: the upgrade package's tests build
// about a hundred.
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		clock := clustertest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
		c, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 3, Clock: clock.Now, Sleep: clock.Advance})
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
