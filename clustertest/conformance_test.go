package clustertest_test

import (
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/conformance"
)

// simHost runs the conformance table's steps on a simulated cluster, on
// its fake clock.
type simHost struct{ *sim }

func (h simHost) Run(t *testing.T, role conformance.Role, _ bool, argv ...string) (string, string, int) {
	t.Helper()
	// The simulation's cluster.sh returns at once anyway, its transition
	// going on on the clock: a background step runs as any other.
	node := map[conformance.Role]string{conformance.Bootstrap: be1, conformance.Secondary: be2, conformance.Frontend: fe1}[role]
	return h.sim.run(t, node, argv...)
}

func (h simHost) Advance(d time.Duration) bool {
	h.clock.Advance(d)
	return true
}

// The conformance table (internal/conformance, which the lab runs too) on
// the simulation.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, c := range conformance.Table() {
		t.Run(c.Name, func(t *testing.T) {
			var knobs []clustertest.Knob
			knobs = append(knobs, c.Knobs...)
			conformance.RunCase(t, simHost{start(t, c.Version, knobs...)}, c)
		})
	}
}
