package ecmodel

import (
	"fmt"
	"slices"
	"testing"

	"github.com/chefha/chefha/internal/packaging"
)

// The facts the model's releases still type that the packaging table holds
// too (the services each role runs, the HA services) must agree with the
// table, or this fails naming both. The rest the model reads from the
// table itself (Release.OmnibusCtl, Level, Pending, DownFiles, …).
func TestModelReleasesAgreeWithTheTable(t *testing.T) {
	without := func(list []string, drop ...string) []string {
		var out []string
		for _, s := range list {
			if !slices.Contains(drop, s) {
				out = append(out, s)
			}
		}
		slices.Sort(out)
		return out
	}
	for v, r := range Releases() {
		p, _, ok := packaging.Nearest(v)
		if !ok {
			t.Errorf("%s: not in the packaging table", v)
			continue
		}
		same := func(what string, model, table any) {
			t.Helper()
			if fmt.Sprint(model) != fmt.Sprint(table) {
				t.Errorf("%s %s: the model says %v, the table (%s) %v", v, what, model, p.Version, table)
			}
		}
		notServices := []string{"keepalived"} // the model lists it apart
		same("back-end services", r.Services(true, false), without(p.ServicesFor(packaging.Backend), notServices...))
		same("bootstrap services", r.Services(true, true), without(p.ServicesFor(packaging.Bootstrap), notServices...))
		same("front-end services", r.Services(false, false), without(p.ServicesFor(packaging.Frontend), notServices...))
		same("HA services", without(r.HA), without(p.HAServices(), notServices...))
	}
}
