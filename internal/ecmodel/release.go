package ecmodel

import (
	"maps"
	"path"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/chefha/chefha/internal/packaging"
	"github.com/chefha/chefha/migration"
)

// Release is what one version of the private-chef package installs and how
// its tools behave. Every field names the packaging source it comes from
// (repository chef-boneyard/opscode-omnibus unless said otherwise).
type Release struct {
	Version string
	// OmnibusCtl is the omnibus-ctl gem behind private-chef-ctl: the
	// omnibus-software pin of the Gemfile.lock at the tag (0.0.6 for 1.4.6
	// and 11.0.2, 0.0.7 for 11.1.x) or config/projects/private-chef.rb's
	// override (0.0.8 for 11.2.0). "" for 1.2.8, whose private-chef-ctl is
	// its own script (files/private-chef-cookbooks/bin/private-chef-ctl).
	OmnibusCtl string
	// Backend and Frontend are the services an HA node of that role runs:
	// recipes/default.rb's service list filtered by attributes/default.rb's
	// enable defaults and libraries/private_chef.rb's gen_backend,
	// gen_frontend and gen_keepalived. keepalived is not listed here.
	Backend, Frontend []string
	// BootstrapOnly are back-end services only the bootstrap runs
	// (opscode-chef-mover: gen_backend enables it for !!bootstrap).
	BootstrapOnly []string
	// HA are the services keepalived moves, in cluster.sh's start order:
	// 1.x uses attributes' keepalived service_order filtered by 'ha'; 11.x
	// globs sv/*/keepalive_me (enterprise-chef-common's
	// component_runit_service) and sorts.
	HA []string
	// Level is the last migration shipped (files/private-chef-upgrades/001).
	Level migration.Level
	// Migrations are the partybus files, in the order partybus sorts them.
	Migrations []Migration
	// WrapperSVWAIT is what the private-chef-ctl wrapper exports
	// (config/software/private-chef-ctl.rb: `export SVWAIT=30` from 11.1.7),
	// 0 when it leaves SVWAIT alone.
	WrapperSVWAIT int
	// DownFiles: reconfigure creates sv/X/down for the HA services of an HA
	// back end and deletes it for the others. 1.x: the bundled runit
	// definition's `down` parameter, passed node[svc]['ha'] by every
	// service recipe (1.4.6 files/private-chef-cookbooks/runit/definitions/
	// runit_service.rb, recipes/couchdb.rb); 11.2.0: enterprise-chef-common
	// 0.4.4 component_runit_service (OC-11575). 11.0–11.1.8 use 0.3.0, which
	// neither writes nor removes a down file: a node upgraded from 1.x
	// keeps its old ones.
	DownFiles bool
	// KeepaliveMe: reconfigure marks HA services with sv/X/keepalive_me,
	// which 11.x's cluster.sh and ha-status glob (enterprise-chef-common
	// component_runit_service, 0.3.0 and 0.4.4); 1.x has no such file.
	KeepaliveMe bool
	// KeepalivedLogOwned: recipes/keepalived.rb gives /var/log/opscode/
	// keepalived owner opscode, mode 0700, re-owning an existing directory
	// (11.1.7+, OC-11490/OC-11656); earlier releases set no owner.
	KeepalivedLogOwned bool
	// AuthzMigrator is the oc_authz_migrator migration 1.9 runs
	// (config/software/oc_authz_migrator.rb): 0.0.1 in 11.0.2–11.1.6, whose
	// opc-run.sh swallows its errors (OC-11658); 0.0.3 from 11.1.7 ("exit
	// immediately on errors", CHANGELOG). "" before 11.
	AuthzMigrator string
	// AuthzNeedsMaster: 009_migrate_authz.rb runs on the bootstrap and
	// calls must_be_data_master (11.1.8+). Through 11.1.7 its body is
	// guarded by `if Partybus.config.is_data_master` and skipped silently
	// otherwise, the level written all the same (OC-11670).
	AuthzNeedsMaster bool
	// InternalLBURL is how templates/default/opscode-account-config.rb.erb
	// renders Chef::Config[:internal_lb_url]: "http" (11.1.3–11.1.8:
	// http://VIP:non_ssl_port, "http://127.0.0.1:false" when it is false,
	// OC-11540), "helper" (11.2.0 libraries/helper.rb internal_lb_url:
	// https://VIP:ssl_port then), "" where the model does not render it.
	InternalLBURL string
	// RestartsRedisLB: recipes/redis_lb.rb restarts redis_lb on the data
	// master unconditionally before writing its keys (11.2.0); 11.1.x
	// restart it only when its config template changed (OC-11601).
	RestartsRedisLB bool
	// UpgradeSleep is the sleep upgrade.rb runs between reconfigure and
	// partybus ("Sleeping for 2 minutes before migration", 11.1.7+).
	UpgradeSleep time.Duration
	// LogOwner owns the services' log directories under /var/log/opscode
	// (root in 1.x, opscode from 11.0, whose svlogd runs as opscode).
	LogOwner string

	// pkg reads the packaging table's release for Version, once, when the
	// model first asks (it asks on every command). Not when the model's
	// table is built: a lab node's process, started for every command,
	// models one or two releases and should decode only theirs.
	pkg func() (*packaging.Release, bool)
}

// packaging is the packaging table's release that stands for r.
func (r Release) packaging() (*packaging.Release, bool) {
	if r.pkg != nil {
		return r.pkg()
	}
	p, _, ok := packaging.Nearest(r.Version)
	return &p, ok
}

// LogDirOf is the directory a service's svlogd writes: the packaging's
// log_directory attribute for the release (postgresql's is
// /var/log/opscode/postgresql/9.2 on EC 11), /var/log/opscode/SERVICE
// where the table does not say.
func (r Release) LogDirOf(service string) string {
	if p, ok := r.packaging(); ok {
		if d, ok := p.LogDir(service); ok && d != "" {
			return d
		}
	}
	return path.Join(LogDir, service)
}

// KeptDown are the services the release's recipes define but keep down
// (runit_service action :down), as the packaging table read them.
func (r Release) KeptDown() []string {
	p, ok := r.packaging()
	if !ok {
		return nil
	}
	var out []string
	for _, s := range p.Services {
		if s.Action.Value == "down" {
			out = append(out, s.Name)
		}
	}
	return out
}

// posthook is the command cluster.sh runs after starting service
// (keepalived's service_posthooks in the packaging table: rabbitmq's
// wait-for-rabbit), "" when none.
func (r Release) posthook(service string) string {
	p, ok := r.packaging()
	if !ok {
		return ""
	}
	for _, h := range p.Keepalived.PostHooks {
		if h.Service == service {
			return h.Command
		}
	}
	return ""
}

// LogRootOwner owns /var/log/opscode itself: the owner the packaging's
// directory resource gives it (recipes/default.rb, from 11.1.3), "" where
// no resource owns it and it stays root's (LogRoot in the packaging
// table).
func (r Release) LogRootOwner() string {
	p, ok := r.packaging()
	if !ok || !p.LogRoot.Managed.Value {
		return ""
	}
	return p.LogRoot.Owner.Value
}

// Migration is one partybus migration file.
type Migration struct {
	Level migration.Level
	File  string
	// DataMaster: the file calls must_be_data_master on the bootstrap.
	DataMaster bool
}

// StopAllSkipsKeepalived reports whether `private-chef-ctl stop|start|restart`
// without a service leaves keepalived alone: omnibus-ctl 0.1.1 added
// `next if service_name == "keepalived" && service != "keepalived" &&
// sv_cmd != "status"`; 0.0.6–0.0.8 act on every enabled service.
func (r Release) StopAllSkipsKeepalived() bool { return r.OmnibusCtl >= "0.1.1" }

// ServiceFirst reports whether private-chef-ctl takes SERVICE COMMAND (1.2.8's
// own script) instead of omnibus-ctl's COMMAND SERVICE.
func (r Release) ServiceFirst() bool { return r.OmnibusCtl == "" }

// IsHA reports whether name is one of the release's HA services.
func (r Release) IsHA(name string) bool { return slices.Contains(r.HA, name) }

// Services returns what a node of the given role runs, sorted, without
// keepalived.
func (r Release) Services(backend, bootstrap bool) []string {
	var out []string
	if backend {
		out = append(out, r.Backend...)
		if bootstrap {
			out = append(out, r.BootstrapOnly...)
		}
	} else {
		out = append(out, r.Frontend...)
	}
	sort.Strings(out)
	return out
}

// Pending returns the migrations above from, in partybus order.
func (r Release) Pending(from migration.Level) []Migration {
	var out []Migration
	for _, m := range r.Migrations {
		if from.Less(m.Level) {
			out = append(out, m)
		}
	}
	return out
}

func migrations(files ...string) []Migration {
	var out []Migration
	for _, f := range files {
		minor := 0
		for _, c := range f[:3] {
			minor = minor*10 + int(c-'0')
		}
		dm := slices.Contains([]string{"009_migrate_authz.rb", "010_chef_mover.rb", "012_erchef_to_sqitch.rb", "013_bcrypt_users.rb"}, f)
		out = append(out, Migration{Level: migration.Level{Major: 1, Minor: minor}, File: f, DataMaster: dm})
	}
	return out
}

// The 1.x service lists (1.2.8.3 and 1.4.6 recipes/default.rb; nagios.rb
// adds fcgiwrap and php-fpm, opscode-expander.rb the reindexer).
var (
	pcBackend = []string{"couchdb", "fcgiwrap", "nagios", "nginx", "nrpe", "opscode-account", "opscode-authz", "opscode-certificate",
		"opscode-chef", "opscode-erchef", "opscode-expander", "opscode-expander-reindexer", "opscode-org-creator", "opscode-solr",
		"opscode-webui", "php-fpm", "postgresql", "rabbitmq", "redis"}
	pcFrontend = []string{"nginx", "nrpe", "opscode-account", "opscode-authz", "opscode-certificate", "opscode-chef", "opscode-erchef", "opscode-webui"}
	// attributes/default.rb keepalived service_order, 1.4.6.
	pcHA = []string{"couchdb", "postgresql", "rabbitmq", "redis", "opscode-authz", "opscode-certificate", "opscode-account", "opscode-solr",
		"opscode-expander", "opscode-expander-reindexer", "opscode-org-creator", "opscode-chef", "opscode-erchef", "opscode-webui",
		"php-fpm", "fcgiwrap", "nagios", "nginx"}
	pcMigrations = []string{"001_ad_migration.rb", "002_erchef_0.11.0.rb", "003_run_history.rb", "004_erchef_0.13.0.rb",
		"005_erchef_0.15.0.rb", "005_seperate_reporting.rb", "006_gzip_nodes.rb", "007_index_checksums.rb"}
	ecMigrations = append(slices.Clone(pcMigrations), "008_fix_logging.rb", "009_migrate_authz.rb", "010_chef_mover.rb",
		"011_upgrade_cbv_schema.rb", "012_erchef_to_sqitch.rb")
)

// ec11 builds an EC 11 release: withRedis adds redis_lb (11.1.0+), cert
// says whether front ends run opscode-certificate (11.1.x+), extra adds
// services (oc_id in 11.2.0).
func ec11(withRedis, cert bool, extra ...string) (backend, frontend, ha []string) {
	backend = []string{"bookshelf", "couchdb", "nginx", "oc_bifrost", "opscode-account", "opscode-certificate", "opscode-erchef",
		"opscode-expander", "opscode-expander-reindexer", "opscode-org-creator", "opscode-solr", "opscode-webui", "postgresql", "rabbitmq"}
	frontend = []string{"nginx", "oc_bifrost", "opscode-account", "opscode-erchef", "opscode-webui"}
	if withRedis {
		backend = append(backend, "redis_lb")
	}
	if cert {
		frontend = append(frontend, "opscode-certificate")
	}
	backend, frontend = append(backend, extra...), append(frontend, extra...)
	// gen_keepalived marks every back-end service but chef-mover HA; the
	// reindexer shares opscode-expander's attributes.
	ha = slices.Clone(backend)
	sort.Strings(backend)
	sort.Strings(frontend)
	sort.Strings(ha)
	return backend, frontend, ha
}

// Releases are the versions the model knows, by version string. The
// table is built once; each caller gets its own map, and shares the
// releases' slices, which nobody changes.
func Releases() map[string]Release { return maps.Clone(releaseTable()) }

var releaseTable = sync.OnceValue(buildReleases)

func buildReleases() map[string]Release {
	b110, f110, h110 := ec11(false, false)
	b111, f111, h111 := ec11(true, true)
	b112, f112, h112 := ec11(true, true, "oc_id")
	ec := func(v, ctl string, b, f, h []string, lvl int, files []string, svwait int, down bool, sleep time.Duration) Release {
		r := Release{Version: v, OmnibusCtl: ctl, Backend: b, Frontend: f, BootstrapOnly: []string{"opscode-chef-mover"}, HA: h,
			Level: migration.Level{Major: 1, Minor: lvl}, Migrations: migrations(files...), WrapperSVWAIT: svwait, DownFiles: down,
			KeepaliveMe: true, UpgradeSleep: sleep, LogOwner: "opscode", AuthzMigrator: "0.0.1"}
		if v >= "11.1.7" {
			r.KeepalivedLogOwned, r.AuthzMigrator = true, "0.0.3"
		}
		r.AuthzNeedsMaster = v >= "11.1.8"
		if !r.AuthzNeedsMaster {
			// Through 11.1.7, 009_migrate_authz.rb guards its body with
			// `if is_data_master` instead of calling must_be_data_master.
			r.Migrations = slices.Clone(r.Migrations)
			for i, m := range r.Migrations {
				if m.File == "009_migrate_authz.rb" {
					r.Migrations[i].DataMaster = false
				}
			}
		}
		switch {
		case v >= "11.2.0":
			r.InternalLBURL, r.RestartsRedisLB = "helper", true
		case v >= "11.1.3":
			r.InternalLBURL = "http"
		}
		return r
	}
	ec13 := append(slices.Clone(ecMigrations), "013_bcrypt_users.rb")
	pcHAFor := func(svcs []string) []string {
		var out []string
		for _, s := range pcHA {
			if slices.Contains(svcs, s) {
				out = append(out, s)
			}
		}
		return out
	}
	// 1.2.8.3 names the database service postgres (recipes/postgresql.rb:114
	// runit_service "postgres"; attributes/default.rb:537 service_order
	// key postgresql, service "postgres"); 1.4.6 renames it postgresql and
	// retires postgres (recipes/postgresql.rb:19-36).
	postgres := func(list []string) []string {
		out := slices.Clone(list)
		if i := slices.Index(out, "postgresql"); i >= 0 {
			out[i] = "postgres"
		}
		return out
	}
	pc128Backend := postgres(pcBackend)
	rels := map[string]Release{
		"1.2.8": {Version: "1.2.8", Backend: pc128Backend, Frontend: pcFrontend, HA: postgres(pcHAFor(pcBackend)),
			Level: migration.Level{Major: 1, Minor: 4}, Migrations: migrations(pcMigrations[:4]...), DownFiles: true, LogOwner: "root"},
		// 1.4.6 ships bookshelf, disabled by default (attributes: enable false).
		"1.4.6": {Version: "1.4.6", OmnibusCtl: "0.0.6", Backend: pcBackend, Frontend: pcFrontend, HA: pcHAFor(pcBackend),
			Level: migration.Level{Major: 1, Minor: 7}, Migrations: migrations(pcMigrations...), DownFiles: true, LogOwner: "root"},
		"11.0.2": ec("11.0.2", "0.0.6", b110, f110, h110, 12, ecMigrations, 0, false, 0),
		"11.1.6": ec("11.1.6", "0.0.7", b111, f111, h111, 13, ec13, 0, false, 0),
		"11.1.8": ec("11.1.8", "0.0.7", b111, f111, h111, 13, ec13, 30, false, 2*time.Minute),
		"11.2.0": ec("11.2.0", "0.0.8", b112, f112, h112, 13, ec13, 30, true, 2*time.Minute),
	}
	for v, r := range rels {
		r.pkg = sync.OnceValues(func() (*packaging.Release, bool) {
			p, _, ok := packaging.Nearest(v)
			return &p, ok
		})
		rels[v] = r
	}
	return rels
}

// RemovedInEC11 reports the 1.x services EC 11 no longer ships; `cleanup`
// removes them (recipes/post_11_upgrade_cleanup.rb at 11.1.8).
func RemovedInEC11(name string) bool {
	return slices.Contains([]string{"opscode-authz", "nagios", "nrpe", "fcgiwrap", "php-fpm", "opscode-chef", "redis", "varnish"}, name)
}
