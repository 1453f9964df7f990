package ecmodel

import "testing"

// Each release reads the packaging table when first asked: /var/log/opscode
// has an owner from 11.1.3, when recipes/default.rb gained its directory
// resource.
func TestLogRootOwner(t *testing.T) {
	rels := Releases()
	for v, want := range map[string]string{"1.2.8": "", "1.4.6": "", "11.0.2": "", "11.1.6": "opscode", "11.1.8": "opscode", "11.2.0": "opscode"} {
		r, ok := rels[v]
		if !ok {
			t.Fatalf("no release %s", v)
		}
		if got := r.LogRootOwner(); got != want {
			t.Errorf("%s: LogRootOwner() = %q, want %q", v, got, want)
		}
	}
}
