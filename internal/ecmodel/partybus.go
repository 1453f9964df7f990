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
	if d := n.Installed.UpgradeSleep(); d > 0 {
		fmt.Fprintln(io.Stdout, "Sleeping for 2 minutes before migration")
		if err := n.H.Sleep(ctx, n.upgradeSleep(d)); err != nil {
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
// is how long the upgrade's sleeps last (upgrade.rb's `sleep 120`,
// migration 1.10's `sleep(60)`): a host on real time (the lab) shortens
// them for its tests. The messages stay the packaging's.
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
	if err != nil {
		// bin/partybus:70 @11.0.2 opens the file RDWR|CREAT for its lock:
		// a missing level becomes an empty file, read as 0.0.
		h.WriteFile(migration.Path, nil, 0o644)
	}
	state, perr := migration.Parse(b)
	if err != nil || perr != nil {
		state = migration.Level{} // MigrationState rescues JSON::ParserError as 0.0
		if prev := n.Configured.Level(); n.Configured.Version != "" && prev.Minor > 0 {
			n.Harm("migration-level unreadable (%q): partybus re-ran every migration from 0.0", strings.TrimSpace(string(b)))
		}
	}
	pending := rel.Pending(state)
	n.plog(io, "Latest Migration Available: %s", rel.Level())
	// Ruby 1.9.3's Array#inspect calls each MigrationFile's to_s
	// ("MAJOR.MINOR"); Ruby 2.0 stopped that (Feature #6130).
	var levels []string
	for _, m := range pending {
		levels = append(levels, m.Level.String())
	}
	n.plog(io, "Migrations to Run: [%s]", strings.Join(levels, ", "))
	loaded := state // bin/partybus:59 prints the level it loaded, never reassigned
	for _, m := range pending {
		n.plog(io, "Current Migration Version: %s", loaded)
		n.plog(io, "Starting Migration %s", m.Level)
		if code := n.runMigration(ctx, io, m, dataMaster, bootstrapServer); code != 0 {
			return code
		}
		n.plog(io, "Finished Migration %s in 0.1 seconds", m.Level)
		state = m.Level
		// DSLRunner#run writes the level after every migration, on every
		// node (partybus/lib/partybus/dsl_runner.rb:13-17 @11.0.2):
		// OC-11297 is the install's missing file, not partybus'.
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
	if m.Level.Minor == 9 && !n.Installed.AuthzNeedsMaster() {
		// 009_migrate_authz.rb through 11.1.7: `if is_data_master`, with
		// is_data_master frozen by the last reconfigure.
		if !dataMaster {
			if bootstrapServer {
				n.Harm("migration 1.9 (authz to bifrost) skipped: is_data_master was false when the upgrade's reconfigure wrote partybus' config, and its level was written (OC-11670)")
			}
			return 0
		}
		return n.withServicesDown(ctx, io, func() int { return n.migrateAuthz(ctx, io) })
	}
	if m.DataMaster && !bootstrapServer {
		return 0 // `if Partybus.config.bootstrap_server`
	}
	if m.DataMaster && !dataMaster {
		fmt.Fprint(io.Stdout, MustBeMaster)
		return 1
	}
	switch m.Level.Minor {
	case 9:
		return n.withServicesDown(ctx, io, func() int { return n.migrateAuthz(ctx, io) })
	case 10:
		return n.moveChef(ctx, io)
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
	if n.Installed.AuthzMigrator() == "0.0.1" {
		n.Harm("authz data un-migrated: oc_authz_migrator 0.0.1 failed and partybus went on (OC-11658)")
		return 0
	}
	fmt.Fprintf(io.Stderr, "/opt/opscode/embedded/service/partybus/lib/partybus/command_runner.rb:16:in `run_command': "+
		"Partybus failed to execute command '%s' exitstatus: 1 (RuntimeError)\n", cmd)
	return 1
}

// migrationDownServices are the services migrations 1.9 and 1.10 stop
// before they migrate and start again after, in this order
// (files/private-chef-upgrades/001/009_migrate_authz.rb:8-19 and
// 010_chef_mover.rb:25-39, the same at 11.0.2, 11.1.8 and 11.2.0).
// opscode-rabbitmq is no runit service on EC 11: omnibus-ctl's loop over
// sv/* matches nothing and exits 0, so rabbitmq itself is never stopped.
var migrationDownServices = []string{"nginx", "opscode-org-creator", "bookshelf", "oc_bifrost", "opscode-account", "opscode-certificate",
	"opscode-erchef", "opscode-expander", "opscode-expander-reindexer", "opscode-solr", "opscode-webui", "opscode-rabbitmq"}

// runCommand is partybus' run_command (command_runner.rb): it logs the
// command, runs it, and raises on a non-zero exit, which nothing rescues:
// partybus dies with the RuntimeError, the level left at the previous
// migration and what it stopped left stopped.
func (n *Node) runCommand(ctx context.Context, io IO, argv ...string) int {
	cmd := strings.Join(argv, " ")
	fmt.Fprintf(io.Stdout, "[private-chef-upgrade] - \tRunning Command: %s with options {}\n", cmd)
	if argv[0] != "private-chef-ctl" {
		return 0 // the migration's own scripts: the model has no data to move
	}
	if code := n.Ctl(ctx, argv[1:], IO{Stdout: io.Stdout, Stderr: io.Stderr, Env: io.Env}); code != 0 {
		fmt.Fprintf(io.Stderr, "/opt/opscode/embedded/service/partybus/lib/partybus/command_runner.rb:16:in `run_command': "+
			"Partybus failed to execute command '%s' exitstatus: %d (RuntimeError)\n", cmd, code)
		return 1
	}
	return 0
}

// withServicesDown is the frame of migrations 1.9 and 1.10: stop the
// services, run body, start them again in reverse order. A command that
// fails ends the migration there.
func (n *Node) withServicesDown(ctx context.Context, io IO, body func() int) int {
	for _, s := range migrationDownServices {
		if code := n.runCommand(ctx, io, "private-chef-ctl", "stop", s); code != 0 {
			return code
		}
	}
	if code := body(); code != 0 {
		return code
	}
	for _, s := range slices.Backward(migrationDownServices) {
		if code := n.runCommand(ctx, io, "private-chef-ctl", "start", s); code != 0 {
			return code
		}
	}
	return 0
}

// moverSleep is 010_chef_mover.rb's sleep(60) after it restarts
// opscode-chef-mover (from 11.0.2).
const moverSleep = 60 * time.Second

// moveChef is migration 1.10's body (010_chef_mover.rb @11.0.2–11.2.0):
// the pre-created orgs deleted, the services stopped, opscode-chef-mover
// restarted and given a minute, the migration and its log check, the
// mover stopped again (it is kept down), the services started.
func (n *Node) moveChef(ctx context.Context, io IO) int {
	if code := n.runCommand(ctx, io, "/opt/opscode/embedded/bin/ruby", "/opt/opscode/embedded/service/opscode-chef-mover/scripts/delete-pre-created-orgs.rb"); code != 0 {
		return code
	}
	return n.withServicesDown(ctx, io, func() int {
		if code := n.runCommand(ctx, io, "private-chef-ctl", "restart", "opscode-chef-mover"); code != 0 {
			return code
		}
		if err := n.H.Sleep(ctx, n.upgradeSleep(moverSleep)); err != nil {
			return 130
		}
		for _, argv := range [][]string{
			{"/opt/opscode/embedded/bin/escript", "/opt/opscode/embedded/service/opscode-chef-mover/scripts/migrate"},
			{"/opt/opscode/embedded/service/opscode-chef-mover/scripts/check_logs.rb", "/var/log/opscode/opscode-chef-mover/console.log"},
			{"private-chef-ctl", "stop", "opscode-chef-mover"},
		} {
			if code := n.runCommand(ctx, io, argv...); code != 0 {
				return code
			}
		}
		return 0
	})
}

// upgradeSleep is how long a sleep of the upgrade lasts: d, or what a host
// on real time wrote to UpgradeSleepOverride.
func (n *Node) upgradeSleep(d time.Duration) time.Duration {
	if b, err := n.H.ReadFile(UpgradeSleepOverride); err == nil {
		if o, err := time.ParseDuration(strings.TrimSpace(string(b))); err == nil {
			return o
		}
	}
	return d
}

// levelMissingAfterPgUpgrade is 11.1.7+'s 'migration-level file sanity
// check' ruby_block (recipes/partybus.rb:54-77 @11.1.8): notified (delayed)
// by private-chef_pg_upgrade[upgrade_if_necessary], which acts when the
// previous run's postgresql data_dir differs from this one's
// (providers/pg_upgrade.rb:54-95 @11.1.8): 1.x's drbd/data/postgresql
// (libraries/private_chef.rb:238 @1.4.6) against 11.x's postgresql_9.2
// (:270 @11.1.8), so a back end's first 11.1.7+ reconfigure after 1.x. Its
// not_if 'test -f' lets it raise only when the file is missing, as an
// OC-11297 back end's is. The 'set initial migration level' execute does
// not rescue it: its back end trigger, directory[/var/opt/opscode/
// postgresql], already exists from 1.x (postgresql.rb:54-57 @1.4.6). It
// reports whether it printed the failure.
func (n *Node) levelMissingAfterPgUpgrade(io IO) bool {
	rel, prev := n.Installed, n.Configured
	if !n.Backend() || !strings.HasPrefix(prev.Version, "1.") || !strings.HasPrefix(rel.Version, "11.") || rel.Version < "11.1.7" {
		return false
	}
	if _, err := n.H.Lstat(migration.Path); err == nil {
		return false
	}
	fmt.Fprintf(io.Stderr, "RuntimeError\n------------\nERROR:\nThe %s file is missing or corrupt!  "+
		"Please read http://docs.opscode.com/upgrade_server_ha_notes.html#pre-flight-check and correct this file before proceeding\n\n"+
		"Error message No such file or directory - %s\n", migration.Path, migration.Path)
	return true
}
