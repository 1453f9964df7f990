package ecmodel

import (
	"maps"
	"path"
	"slices"
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
	// InternalLBURL is how templates/default/opscode-account-config.rb.erb
	// renders Chef::Config[:internal_lb_url]: "http" (11.1.3–11.1.8:
	// http://VIP:non_ssl_port, "http://127.0.0.1:false" when it is false,
	// OC-11540), "helper" (11.2.0 libraries/helper.rb internal_lb_url:
	// https://VIP:ssl_port then), "" where the model does not render it.
	InternalLBURL string
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

// The facts below are the packaging table's (internal/packaging), read the
// first time a release is asked: each names the table's field.

// OmnibusCtl is the omnibus-ctl gem behind private-chef-ctl (Ctl.OmnibusCtl:
// 0.0.6 for 1.4.6 and 11.0.2, 0.0.7 for 11.1.x, 0.0.8 for 11.2.0), "" for
// 1.2.8, whose private-chef-ctl is its own script.
func (r Release) OmnibusCtl() string {
	p, ok := r.packaging()
	if !ok {
		return ""
	}
	return p.Ctl.OmnibusCtl.Value
}

// StopAllSkipsKeepalived reports whether `private-chef-ctl stop|start|restart`
// without a service leaves keepalived alone (Ctl.StopAllSkipsKeepalived:
// omnibus-ctl 0.1.1's `next if service_name == "keepalived"`; 0.0.6–0.0.8
// act on every enabled service).
func (r Release) StopAllSkipsKeepalived() bool {
	p, ok := r.packaging()
	return ok && p.Ctl.StopAllSkipsKeepalived.Value
}

// ServiceFirst reports whether private-chef-ctl takes SERVICE COMMAND (1.2.8's
// own script) instead of omnibus-ctl's COMMAND SERVICE (Ctl.ServiceFirst).
func (r Release) ServiceFirst() bool {
	p, ok := r.packaging()
	return ok && p.Ctl.ServiceFirst.Value
}

// WrapperSVWAIT is what the private-chef-ctl wrapper exports (Ctl.SVWAIT:
// `export SVWAIT=30` from 11.1.7), 0 when it leaves SVWAIT alone.
func (r Release) WrapperSVWAIT() int {
	p, ok := r.packaging()
	if !ok {
		return 0
	}
	return p.Ctl.SVWAIT.Value
}

// UpgradeSleep is the sleep `private-chef-ctl upgrade` runs between
// reconfigure and partybus (Ctl.UpgradeSleep: two minutes from 11.1.7).
func (r Release) UpgradeSleep() time.Duration {
	p, ok := r.packaging()
	if !ok {
		return 0
	}
	return time.Duration(p.Ctl.UpgradeSleep.Value) * time.Second
}

// KeepaliveMe reports whether reconfigure marks HA services with
// sv/X/keepalive_me, which 11.x's cluster.sh and ha-status glob (a
// service's KeepaliveMe "created").
func (r Release) KeepaliveMe() bool {
	return r.anyService(func(s packaging.Service) bool { return s.KeepaliveMe.Value == "created" })
}

// DownFiles reports whether reconfigure creates sv/X/down for the HA
// services of an HA back end and deletes it for the others (a service's
// DownFile "created": 1.x and 11.2.0; 11.0–11.1.8's enterprise-chef-common
// 0.3.0 neither writes nor removes one, OC-11575).
func (r Release) DownFiles() bool {
	return r.anyService(func(s packaging.Service) bool { return s.DownFile.Value == "created" })
}

// KeepalivedLogOwned reports whether recipes/keepalived.rb gives
// /var/log/opscode/keepalived an owner, re-owning an existing directory
// (keepalived's Log.Owner: opscode, mode 0700, from 11.1.7; OC-11490).
func (r Release) KeepalivedLogOwned() bool {
	return r.anyService(func(s packaging.Service) bool { return s.Name == "keepalived" && s.Log.Owner.Value != "" })
}

// AuthzMigrator is the oc_authz_migrator migration 1.9 runs (Software):
// 0.0.1 in 11.0.2–11.1.6, whose opc-run.sh swallows its errors
// (OC-11658); 0.0.3 from 11.1.7. "" before 11.
func (r Release) AuthzMigrator() string {
	p, ok := r.packaging()
	if !ok {
		return ""
	}
	v, _ := p.SoftwareVersion("oc_authz_migrator")
	return v
}

// AuthzNeedsMaster reports whether 009_migrate_authz.rb calls
// must_be_data_master (its MustBeDataMaster, 11.1.8+). Through 11.1.7 its
// body is guarded by `if Partybus.config.is_data_master` and skipped
// silently otherwise, the level written all the same (OC-11670).
func (r Release) AuthzNeedsMaster() bool {
	p, ok := r.packaging()
	if !ok {
		return false
	}
	for _, m := range p.Migrations {
		if m.File == "009_migrate_authz.rb" {
			return m.MustBeDataMaster.Value
		}
	}
	return false
}

func (r Release) anyService(f func(packaging.Service) bool) bool {
	p, ok := r.packaging()
	return ok && slices.ContainsFunc(p.Services, f)
}

// IsHA reports whether name is one of the release's HA services.
func (r Release) IsHA(name string) bool { return slices.Contains(r.HA(), name) }

// HA are the services keepalived moves (the table's HA), in cluster.sh's
// start order: 1.x walks attributes' keepalived service_order; 11.x globs
// sv/*/keepalive_me (enterprise-chef-common's component_runit_service),
// sorted. keepalived is not one of them.
func (r Release) HA() []string {
	p, ok := r.packaging()
	if !ok {
		return nil
	}
	ha := func(name string) bool {
		s, ok := p.Service(name)
		return ok && s.HA.Value && name != "keepalived"
	}
	var out []string
	if len(p.Keepalived.ServiceOrder) > 0 {
		for _, e := range p.Keepalived.ServiceOrder {
			if ha(e.Service) && !slices.Contains(out, e.Service) {
				out = append(out, e.Service)
			}
		}
		return out
	}
	for _, name := range p.ServiceNames() {
		if ha(name) {
			out = append(out, name)
		}
	}
	return out
}

// Services returns what a node of the given role runs (the table's
// ServicesFor: recipes/default.rb's list, attributes' enable defaults and
// gen_backend, gen_frontend and gen_keepalived), sorted, without
// keepalived.
func (r Release) Services(backend, bootstrap bool) []string {
	role := packaging.Frontend
	switch {
	case backend && bootstrap:
		role = packaging.Bootstrap
	case backend:
		role = packaging.Backend
	}
	return r.servicesFor(role)
}

func (r Release) servicesFor(roles ...packaging.Role) []string {
	p, ok := r.packaging()
	if !ok {
		return nil
	}
	var out []string
	for _, role := range roles {
		for _, s := range p.ServicesFor(role) {
			if s != "keepalived" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// BootstrapOnly are the back-end services only the bootstrap runs
// (opscode-chef-mover: gen_backend enables it for !!bootstrap).
func (r Release) BootstrapOnly() []string {
	var out []string
	backend := r.servicesFor(packaging.Backend)
	for _, s := range r.servicesFor(packaging.Bootstrap) {
		if !slices.Contains(backend, s) {
			out = append(out, s)
		}
	}
	return out
}

// AllServices are the services any node of the release runs, sorted.
func (r Release) AllServices() []string {
	return r.servicesFor(packaging.Backend, packaging.Bootstrap, packaging.Frontend)
}

// RestartsRedisLB reports whether recipes/redis_lb.rb restarts redis_lb on
// the data master unconditionally before writing its keys (a redis_lb
// restart among the table's ServiceActions: 11.2.0); 11.1.x restart it
// only when its config template changed (OC-11601).
func (r Release) RestartsRedisLB() bool {
	p, ok := r.packaging()
	return ok && slices.ContainsFunc(p.ServiceActions, func(a packaging.ServiceAction) bool {
		return a.Service == "redis_lb" && slices.Contains(a.Actions, "restart")
	})
}

// Level is the last migration the release ships (the table's LastLevel:
// files/private-chef-upgrades/001).
func (r Release) Level() migration.Level {
	p, ok := r.packaging()
	if !ok {
		return migration.Level{}
	}
	return migration.Level{Major: p.LastLevel.Value.Major, Minor: p.LastLevel.Value.Minor}
}

// Pending returns the migrations above from, in partybus order (the
// table's Migrations).
func (r Release) Pending(from migration.Level) []Migration {
	p, ok := r.packaging()
	if !ok {
		return nil
	}
	var out []Migration
	for _, m := range p.Migrations {
		lvl := migration.Level{Major: m.Level.Major, Minor: m.Level.Minor}
		if from.Less(lvl) {
			out = append(out, Migration{Level: lvl, File: m.File, DataMaster: m.MustBeDataMaster.Value})
		}
	}
	return out
}

// Releases are the versions the model knows, by version string. The
// table is built once and each caller gets its own map; a release reads
// its facts from the packaging table the first time it is asked.
func Releases() map[string]Release { return maps.Clone(releaseTable()) }

var releaseTable = sync.OnceValue(buildReleases)

func buildReleases() map[string]Release {
	ec := func(v string) Release {
		r := Release{Version: v, LogOwner: "opscode"}
		switch {
		case v >= "11.2.0":
			r.InternalLBURL = "helper"
		case v >= "11.1.3":
			r.InternalLBURL = "http"
		}
		return r
	}
	rels := map[string]Release{
		"1.2.8":  {Version: "1.2.8", LogOwner: "root"},
		"1.4.6":  {Version: "1.4.6", LogOwner: "root"},
		"11.0.2": ec("11.0.2"),
		"11.1.6": ec("11.1.6"),
		"11.1.8": ec("11.1.8"),
		"11.2.0": ec("11.2.0"),
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
