package packaging

import (
	"sync"
	"testing"
)

// resetCaches forgets every release decoded so far, so that the next call
// pays what the first call of a fresh process pays.
func resetCaches() { load = sync.OnceValues(loadEmbedded) }

// BenchmarkFirstNearest is what a fresh process pays for one release's
// facts: the lab's node program starts for every command run on a lab
// node and asks for the release installed there.
func BenchmarkFirstNearest(b *testing.B) {
	for b.Loop() {
		resetCaches()
		if r, _, ok := Nearest("11.1.8"); !ok || r.Version != "11.1.8" {
			b.Fatalf("Nearest(11.1.8) = %q, %v", r.Version, ok)
		}
	}
}

// BenchmarkFirstLoad is what a fresh process pays for the whole table.
func BenchmarkFirstLoad(b *testing.B) {
	for b.Loop() {
		resetCaches()
		if _, err := Load(); err != nil {
			b.Fatal(err)
		}
	}
}
