package ecmodel

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/chefha/chefha/migration"
)

// MustBeMaster is what must_be_data_master logs (partybus/lib/partybus/
// migration_api/v1.rb at 11.1.8) before partybus exits 1: Logger#log puts
// "[private-chef-upgrade] - " in front of the heredoc.
const MustBeMaster = "[private-chef-upgrade] - ****\nERROR: \n****\nThe bootstrap server must be the HA-master at the time of upgrade.\n" +
	"If the bootstrap server is not currently the HA-master, please see the\nPrivate Chef documentation for issuing a graceful transition of the HA\ncluster.\n****\n"

// Upgrade is `private-chef-ctl upgrade` (private-chef-ctl-commands/
// upgrade.rb): reconfigure, the 11.1.7+ sleep, then partybus; "Chef Server
// Upgraded!" when partybus exits 0, which it also does when it could not
// take the migration-level lock.
func (n *Node) Upgrade(ctx context.Context, io IO) int {
	if n.converge(ctx, io) != 0 {
		return 1
	}
	fmt.Fprintln(io.Stdout, "opscode Reconfigured!")
	if d := n.Installed.UpgradeSleep; d > 0 {
		fmt.Fprintln(io.Stdout, "Sleeping for 2 minutes before migration")
		if err := n.H.Sleep(ctx, d); err != nil {
			return 130
		}
	}
	if n.partybus(ctx, io) != 0 {
		return 1
	}
	fmt.Fprintln(io.Stdout, "Chef Server Upgraded!")
	return 0
}

func (n *Node) plog(io IO, format string, a ...any) {
	fmt.Fprintf(io.Stdout, "[private-chef-upgrade] - "+format+"\n", a...)
}

// partybus is `bin/partybus upgrade`: under an exclusive flock of the
// level file, every migration above the saved level, the level written
// after each (DSLRunner#run).
func (n *Node) partybus(ctx context.Context, io IO) int {
	rel, h := n.Installed, n.H
	if n.Bug(PartybusLocked) {
		n.plog(io, "ERROR: Unable to obtain file lock on %s", migration.Path)
		return 0
	}
	cfg, _ := h.ReadFile(PartybusConfig)
	dataMaster := strings.Contains(string(cfg), "is_data_master                = true")
	bootstrapServer := strings.Contains(string(cfg), "bootstrap_server              = true")
	b, err := h.ReadFile(migration.Path)
	state, perr := migration.Parse(b)
	if err != nil || perr != nil {
		state = migration.Level{} // MigrationState rescues JSON::ParserError as 0.0
		if prev := n.Configured.Level; n.Configured.Version != "" && prev.Minor > 0 {
			n.Harm("migration-level unreadable (%q): partybus re-ran every migration from 0.0", strings.TrimSpace(string(b)))
		}
	}
	pending := rel.Pending(state)
	n.plog(io, "Latest Migration Available: %s", rel.Level)
	var objs []string
	for i, m := range pending {
		objs = append(objs, fmt.Sprintf("#<Partybus::MigrationFile:0x%016x @path=\"/opt/opscode/embedded/upgrades/001/%s\", @major=%d, @minor=%d>",
			0x3fe1a2b4c000+i*0x28, m.File, m.Level.Major, m.Level.Minor))
	}
	n.plog(io, "Migrations to Run: [%s]", strings.Join(objs, ", "))
	for i, m := range pending {
		n.plog(io, "Current Migration Version: %s", state)
		n.plog(io, "Starting Migration %s", m.Level)
		if n.Bug(OC11670) && m.Level.Minor == 9 && n.Status(RequestedPath) != n.Status(CurrentPath) {
			// OC-11670: 1.9 does nothing while keepalived moves, and its
			// level is written all the same.
			n.Harm("migration 1.9 skipped while keepalived was in transition (OC-11670)")
		} else if code := n.runMigration(ctx, io, m, i, dataMaster, bootstrapServer); code != 0 {
			return code
		}
		n.plog(io, "Finished Migration %s in 0.1 seconds", m.Level)
		state = m.Level
		content := migration.Format(m.Level)
		if n.Bug(OC11297) && n.Backend() && strings.HasPrefix(rel.Version, "11.0.") {
			content = nil // 11.0.x back ends do not save the level
		}
		h.WriteFile(migration.Path, content, 0o644)
	}
	return 0
}

// schemaMigrations call upgrade_schema_to (001–007, 010, 011).
var schemaMigrations = []int{1, 2, 3, 4, 5, 6, 7, 10, 11}

func (n *Node) runMigration(ctx context.Context, io IO, m Migration, i int, dataMaster, bootstrapServer bool) int {
	db := n.Backend() && bootstrapServer
	if slices.Contains(schemaMigrations, m.Level.Minor) {
		fmt.Fprintf(io.Stdout, "[private-chef-upgrade] - \tPrivate Chef Role: %s\n", n.Me.Role)
		if !db {
			fmt.Fprintln(io.Stdout, "[private-chef-upgrade] - \tSkipping Schema Upgrade")
		} else {
			// db_up? asks `private-chef-ctl status postgres`, a service
			// that does not exist, so it always says up.
			fmt.Fprintln(io.Stdout, "[private-chef-upgrade] - \tDatabase Up")
		}
	}
	if m.DataMaster && bootstrapServer && !dataMaster {
		fmt.Fprint(io.Stdout, MustBeMaster)
		return 1
	}
	if n.Bug(OC11382) && db && i == 1 {
		// keepalived restarts under partybus: the run dies part-way.
		Disarm(n.H, OC11382)
		n.H.Sv(ctx, "restart", "keepalived", 30e9, true)
		fmt.Fprintln(io.Stderr, "Errno::ECONNREFUSED: postgresql went away")
		return 1
	}
	if db && (slices.Contains(schemaMigrations, m.Level.Minor) || m.DataMaster) {
		if out, code := n.H.Sv(ctx, "status", "postgresql", 0, true); code != 0 {
			_ = out
			fmt.Fprintln(io.Stderr, "PG::ConnectionBad: could not connect to server: Connection refused")
			return 1
		}
	}
	if m.Level.Minor == 9 && db && n.Bug(OC11658) {
		fmt.Fprintln(io.Stdout, "[private-chef-upgrade] - \tRunning Command: /opt/opscode/embedded/service/oc_authz_migrator/scripts/opc-run.sh with options {}")
		fmt.Fprintln(io.Stdout, "oc_authz_migrator: ERROR: failed to migrate 12 authz groups; continuing")
		n.Harm("authz data un-migrated (OC-11658)")
	}
	return 0
}
