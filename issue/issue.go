// Package issue names the Enterprise Chef bugs that the HA upgrade runbook
// lists under "Known Issues" (OC-xxxxx). It is the one place their ids are
// written: the pre-flight checks, the plan, the runner, the simulated node
// and its knobs all refer to these constants, so a typo is a compile error
// and a new issue is one line here plus its record in upgrade's registry.
//
// What each issue affects and what chefha does about it is not here but in
// upgrade.KnownIssues, which needs the checks and the version ranges.
package issue

// ID is an issue's id in Chef's tracker, e.g. "OC-11297".
type ID string

// The runbook's known issues, in its order.
const (
	OC11297 ID = "OC-11297" // EC 11.0.x does not save its migration level on HA back ends
	OC11382 ID = "OC-11382" // keepalived restart interferes with partybus migrations
	OC11426 ID = "OC-11426" // runit ownership after 1.4.6 → 11.1.3+
	OC11490 ID = "OC-11490" // root-owned /var/log/opscode/keepalived
	OC11540 ID = "OC-11540" // nginx['non_ssl_port'] = false breaks opscode-account's config
	OC11575 ID = "OC-11575" // HA services start at boot on the standby
	OC11601 ID = "OC-11601" // redis_lb not restarted before it is reconfigured
	OC11656 ID = "OC-11656" // umask inheritance and ownership in the EC 11 cookbooks
	OC11657 ID = "OC-11657" // sv's 7 s default wait is too short
	OC11658 ID = "OC-11658" // oc_authz_migrator failures not trapped
	OC11662 ID = "OC-11662" // nginx-lua's redis timeouts too short
	OC11669 ID = "OC-11669" // runsvdir job rename makes keepalived transition
	OC11670 ID = "OC-11670" // migration 1.9 skipped while keepalived is in transition
)

// Bugs the packaging sources show that the runbook's Known Issues do not
// list; chefha meets them on the same clusters.
const (
	OC11499 ID = "OC-11499" // ha-status's VIP regex reports a false error on the passive back end
	OC11574 ID = "OC-11574" // a bare start, stop or restart acts on keepalived too
	// SecondRunsvdirJob has no OC id: 11.2.0 writes and starts a second
	// Upstart runsvdir job (private_chef-runsvdir), fixed in 11.2.1.
	SecondRunsvdirJob ID = "EC-11.2.0-RUNSVDIR"
)

// StaleFailover is not an OC issue but the hazard the HA pair exists to
// avoid, which the runbook's steps risk: keepalived failing the cluster
// over onto a back end whose DRBD copy is not up to date (Inconsistent,
// Outdated, StandAlone, mid-resync), which then serves stale data or none.
// Enterprise Chef's ha-status judges it (exit 4 DRBD state, 5 mount, 6 peer
// ping).
const StaleFailover ID = "HA-DRBD-STALE"

// All lists every known issue, in the runbook's order.
func All() []ID {
	return []ID{OC11297, OC11382, OC11426, OC11490, OC11540, OC11575, OC11601,
		OC11656, OC11657, OC11658, OC11662, OC11669, OC11670}
}

// FromSources lists the bugs beyond the runbook's that the packaging
// sources show.
func FromSources() []ID { return []ID{OC11499, OC11574, SecondRunsvdirJob} }

// Hazards lists the dangers chefha guards against that have no OC id.
func Hazards() []ID { return []ID{StaleFailover} }

// Known reports whether id is one of the runbook's issues, one the sources
// show, or a hazard.
func Known(id ID) bool {
	for _, k := range append(append(All(), FromSources()...), Hazards()...) {
		if k == id {
			return true
		}
	}
	return false
}
