package main

import (
	"github.com/chefha/chefha/internal/packaging"
)

// retirement reads what a recipe that acts on a service it no longer
// defines does around that action (1.4.6 recipes/postgresql.rb:24-35 for
// 1.2.8's postgres, 11.x recipes/oc_bifrost.rb:12-23 for opscode-authz):
// an execute running `/opt/opscode/bin/private-chef-ctl stop NAME`, and a
// directory resource deleting /opt/opscode/sv/NAME. Each fact is false,
// sourced to the recipe, when the recipe has no such resource.
func retirement(rc *Recipe, name string) (ctlStop, deletesSvDir packaging.Fact[bool]) {
	ctlStop = packaging.Fact[bool]{Value: false, Source: rc.File}
	deletesSvDir = packaging.Fact[bool]{Value: false, Source: rc.File}
	for _, res := range rc.Resources {
		if res.Name.Kind != Str {
			continue
		}
		switch {
		case res.Type == "execute" && res.Name.S == "/opt/opscode/bin/private-chef-ctl stop "+name:
			ctlStop = packaging.Fact[bool]{Value: true, Source: res.Source()}
		case res.Type == "directory" && res.Name.S == "/opt/opscode/sv/"+name:
			if action, _, _ := res.Prop("action"); contains(symbols(action), "delete") {
				deletesSvDir = packaging.Fact[bool]{Value: true, Source: res.Source()}
			}
		}
	}
	return ctlStop, deletesSvDir
}
