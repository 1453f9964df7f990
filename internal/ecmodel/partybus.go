package ecmodel

import (
	"context"
	"fmt"
	"github.com/chefha/chefha/issue"
	"slices"
	"strings"
	"time"

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
	n.upgrading = true
	defer func() { n.upgrading = false }()
	if n.converge(ctx, io) != 0 {
		return 1
	}
	done, _ := n.Installed.ctlSays()
	fmt.Fprintln(io.Stdout, done)
	if n.Bug(issue.OC11382) && n.HATopology() && n.Backend() && n.linked("keepalived") {
		// OC-11382: keepalived restarts as the reconfigure ends (its
		// delayed :restart): notify_stop runs cluster.sh backup, which
		// stops the HA services partybus is about to use, and the pair
		// elects a master again. The 11.1.7+ sleep outlasts it.
		Disarm(n.H, issue.OC11382)
		n.H.Sv(ctx, "restart", "keepalived", 30*time.Second, true)
	}
	if d := n.Installed.UpgradeSleep; d > 0 {
		fmt.Fprintln(io.Stdout, "Sleeping for 2 minutes before migration")
		if b, err := n.H.ReadFile(UpgradeSleepOverride); err == nil {
			if o, err := time.ParseDuration(strings.TrimSpace(string(b))); err == nil {
				d = o
			}
		}
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

// UpgradeSleepOverride, when a host writes a duration there (e.g. "5s"),
// is how long upgrade.rb's `sleep 120` lasts: a host on real time (the
// lab) shortens it for its tests. The message stays the packaging's.
const UpgradeSleepOverride = ModelDir + "/upgrade-sleep"

func (n *Node) plog(io IO, format string, a ...any) {
	fmt.Fprintf(io.Stdout, "[private-chef-upgrade] - "+format+"\n", a...)
}

// partybus is `bin/partybus upgrade`: under an exclusive flock of the
// level file, every migration above the saved level, the level written
// after each (DSLRunner#run).
func (n *Node) partybus(ctx context.Context, io IO) int {
	rel, h := n.Installed, n.H
	locked := n.Bug(PartybusLocked)
	if fl, ok := h.(FileLocker); ok && !locked {
		unlock, got, err := fl.TryLock(migration.Path)
		if err != nil {
			fmt.Fprintf(io.Stderr, "partybus: %v\n", err)
			return 1
		}
		if got {
			defer unlock()
		}
		locked = !got
	}
	if locked {
		n.plog(io, "ERROR: Unable to obtain file lock on %s", migration.Path)
		return 0 // bin/partybus falls off its end
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
	for _, m := range pending {
		n.plog(io, "Current Migration Version: %s", state)
		n.plog(io, "Starting Migration %s", m.Level)
		if code := n.runMigration(ctx, io, m, dataMaster, bootstrapServer); code != 0 {
			return code
		}
		n.plog(io, "Finished Migration %s in 0.1 seconds", m.Level)
		state = m.Level
		if n.Bug(issue.OC11297) && n.Backend() && strings.HasPrefix(rel.Version, "11.0.") {
			// 11.0.x back ends do not save the level: the file is never
			// written (recipes/partybus.rb @11.0.2–11.1.6); nothing in the
			// packaging writes an empty one.
			h.Remove(migration.Path)
			continue
		}
		h.WriteFile(migration.Path, migration.Format(m.Level), 0o644)
	}
	return 0
}

// schemaMigrations call upgrade_schema_to (001–007, 010, 011).
var schemaMigrations = []int{1, 2, 3, 4, 5, 6, 7, 10, 11}

func (n *Node) runMigration(ctx context.Context, io IO, m Migration, dataMaster, bootstrapServer bool) int {
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
	if m.Level.Minor == 9 && !n.Installed.AuthzNeedsMaster {
		// 009_migrate_authz.rb through 11.1.7: `if is_data_master`, with
		// is_data_master frozen by the last reconfigure.
		if !dataMaster {
			if bootstrapServer {
				n.Harm("migration 1.9 (authz to bifrost) skipped: is_data_master was false when the upgrade's reconfigure wrote partybus' config, and its level was written (OC-11670)")
			}
			return 0
		}
		return n.migrateAuthz(ctx, io)
	}
	if m.DataMaster && !bootstrapServer {
		return 0 // `if Partybus.config.bootstrap_server`
	}
	if m.DataMaster && !dataMaster {
		fmt.Fprint(io.Stdout, MustBeMaster)
		return 1
	}
	if m.Level.Minor == 9 {
		return n.migrateAuthz(ctx, io)
	}
	if db && (slices.Contains(schemaMigrations, m.Level.Minor) || m.DataMaster) {
		return n.dbUp(ctx, io)
	}
	return 0
}

// dbUp stands for the migration's first SQL: it fails while postgresql
// is down (cluster.sh backup stopped it).
func (n *Node) dbUp(ctx context.Context, io IO) int {
	if _, code := n.H.Sv(ctx, "status", "postgresql", 0, true); code != 0 {
		fmt.Fprintln(io.Stderr, "PG::ConnectionBad: could not connect to server: Connection refused")
		return 1
	}
	return 0
}

// authzMigrate is the command 009_migrate_authz.rb runs between stopping
// and starting the services: opc-run.sh on the couch file under
// couchdb['data_dir'], which is /var/opt/opscode/drbd/data/couchdb on an
// HA back end (libraries/private_chef.rb @11.1.8:261) and
// /var/opt/opscode/couchdb/db otherwise (attributes/default.rb).
func (n *Node) authzMigrate() string {
	dir := "/var/opt/opscode/couchdb/db"
	if n.HATopology() && n.Backend() {
		dir = DRBDDataDir + "/couchdb"
	}
	return "/opt/opscode/embedded/service/oc_authz_migrator/scripts/opc-run.sh " + dir + "/authorization.couch"
}

// migrateAuthz is migration 1.9's body. With OC-11658 armed the migrator
// fails. What it prints is not known (its source was never published, so
// the model prints none of it): 0.0.1 (11.0.2–11.1.6) exits 0 all the
// same, and partybus goes on, silent; 0.0.3 (11.1.7+, "exit immediately
// on errors") exits non-zero and partybus' run_command raises
// (partybus/lib/partybus/command_runner.rb), Ruby printing the uncaught
// RuntimeError.
func (n *Node) migrateAuthz(ctx context.Context, io IO) int {
	if code := n.dbUp(ctx, io); code != 0 {
		return code
	}
	cmd := n.authzMigrate()
	fmt.Fprintf(io.Stdout, "[private-chef-upgrade] - \tRunning Command: %s with options {}\n", cmd)
	if !n.Bug(issue.OC11658) {
		return 0
	}
	if n.Installed.AuthzMigrator == "0.0.1" {
		n.Harm("authz data un-migrated: oc_authz_migrator 0.0.1 failed and partybus went on (OC-11658)")
		return 0
	}
	fmt.Fprintf(io.Stderr, "/opt/opscode/embedded/service/partybus/lib/partybus/command_runner.rb:16:in `run_command': "+
		"Partybus failed to execute command '%s' exitstatus: 1 (RuntimeError)\n", cmd)
	return 1
}
