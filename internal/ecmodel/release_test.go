package ecmodel

import (
	"slices"
	"testing"
)

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

// 1.x's cluster.sh starts the HA services in keepalived's service_order
// (attributes/default.rb @1.4.6:587, @1.2.8.3:536; 1.2.8 names its
// database postgres); 11.x's globs keepalive_me, sorted.
func TestHAOrder(t *testing.T) {
	rels := Releases()
	for v, want := range map[string][]string{
		"1.2.8":  {"couchdb", "postgres", "rabbitmq", "redis"},
		"1.4.6":  {"couchdb", "postgresql", "rabbitmq", "redis"},
		"11.1.8": {"bookshelf", "couchdb", "nginx", "oc_bifrost"},
	} {
		if got := rels[v].HA(); len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Errorf("%s HA() = %v, want it to start %v", v, got, want)
		}
	}
}
