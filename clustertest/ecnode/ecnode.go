// Package ecnode is a forwarding shim kept so the lab's node command
// (lab/cmd/chefha-labnode) builds while it moves onto internal/ecmodel, the
// one node model behind the simulation and the lab. New code uses ecmodel
// (through clustertest) instead.
package ecnode

import (
	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/migration"
)

// Release is what a version installs and runs, in the shape the lab reads.
type Release struct {
	Version      string
	RunsvdirJob  string // opscode-runsvdir (pre-11) or private-chef-runsvdir
	Services     []string
	Level        Level  // last migration level shipped
	ServiceOwner string // owner of /var/log/opscode: root before EC 11, opscode after
}

// Level is a migration level.
type Level = migration.Level

// Releases are the model's versions; Services are a back end's.
func Releases() map[string]Release {
	out := map[string]Release{}
	for v, r := range ecmodel.Releases() {
		out[v] = Release{Version: v, RunsvdirJob: r.Job, Services: r.Services(true, true), Level: r.Level, ServiceOwner: r.LogOwner}
	}
	return out
}

// RemovedInEC11 reports the 1.x services EC 11 drops; cleanup removes them.
func RemovedInEC11(name string) bool { return ecmodel.RemovedInEC11(name) }

// Migrations lists the partybus levels between two levels, in order.
func Migrations(from, to Level) []Level {
	var out []Level
	for m := from.Minor + 1; m <= to.Minor; m++ {
		out = append(out, Level{Major: 1, Minor: m})
	}
	return out
}

// MustBeMaster is partybus' must_be_data_master banner.
const MustBeMaster = ecmodel.MustBeMaster
