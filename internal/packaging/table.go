package packaging

import "fmt"

// Fact is one value read from the packaging sources, with the place it was
// read: "owner/repo@ref:path:line" (the line is left out when the fact is
// the absence of something in a file). A zero Fact (no value, no source)
// means the generator could not establish it.
type Fact[T any] struct {
	Value  T      `json:"value"`
	Source string `json:"source,omitempty"`
}

func (Fact[T]) isFact() {}

// Known reports whether the generator established the fact.
func (f Fact[T]) Known() bool { return f.Source != "" }

// Table is the generated table: every release the generator read.
type Table struct {
	// Generated says the file is generated and must not be edited.
	Generated string `json:"generated"`
	// Regenerate is the command that rebuilds the table from snapshots.
	Regenerate string `json:"regenerate"`
	// Inputs are the repositories read and the refs (tags or commits)
	// every fact's source names.
	Inputs   []Input   `json:"inputs"`
	Releases []Release `json:"releases"`
}

// Index is what the embedded table holds for all its releases. The table
// is embedded as IndexFile and one ReleaseFile per release, so that a
// process decodes only the releases it asks for: the lab's node program
// starts for every command and needs its node's release alone.
type Index struct {
	Generated  string  `json:"generated"`
	Regenerate string  `json:"regenerate"`
	Inputs     []Input `json:"inputs"`
	// Versions are the releases in the table's order, oldest first.
	Versions []string `json:"versions"`
}

// IndexFile is the name of the file holding the Index.
const IndexFile = "index.json"

// ReleaseFile is the name of the file holding a release's facts.
func ReleaseFile(version string) string { return version + ".json" }

// Input is a source repository and the refs read from it.
type Input struct {
	Repo string   `json:"repo"`
	Refs []string `json:"refs"`
}

// Release is what one private-chef package installs and configures.
type Release struct {
	Version   string    `json:"version"`
	Cookbooks Cookbooks `json:"cookbooks"`
	// Services are the runit services the release's reconfigure defines
	// (runit_service / component_runit_service in the recipes that
	// recipes/default.rb includes), sorted by name.
	Services []Service `json:"services"`
	// ServiceActions are runit_service resources that act on a service
	// rather than define it: the restart 11.2.0's redis_lb recipe runs,
	// the disable of an older release's service (postgres in 1.4.6,
	// opscode-authz in 11.x).
	ServiceActions []ServiceAction `json:"service_actions,omitempty"`
	// LogRoot is /var/log/opscode as recipes/default.rb leaves it.
	LogRoot Dir `json:"log_root"`
	// Upstart is what the reconfigure does to the Upstart jobs running
	// runsvdir on Upstart platforms (Ubuntu, RHEL 6).
	Upstart Upstart `json:"upstart"`
	// Ctl is private-chef-ctl.
	Ctl Ctl `json:"ctl"`
	// EtcOpscode are the files and directories under /etc/opscode the
	// recipes declare, sorted by path.
	EtcOpscode []File `json:"etc_opscode"`
	// ServiceFiles are the files and templates the recipes lay down for
	// the services (configuration under /var/opt/opscode/SERVICE, start
	// scripts under /opt/opscode/embedded/service), sorted by path.
	ServiceFiles []File `json:"service_files"`
	// Keepalived is keepalived's configuration and run script.
	Keepalived Keepalived `json:"keepalived"`
	// Migrations are partybus's migration files, in level order.
	Migrations []Migration `json:"migrations"`
	// LastLevel is the highest migration level shipped.
	LastLevel Fact[Level] `json:"last_level"`
	// PostinstLinks are the links package-scripts/private-chef/postinst
	// makes (ln -sf), as the link paths.
	PostinstLinks []Fact[string] `json:"postinst_links"`
	// Software are the versions of the omnibus software definitions the
	// project builds: config/software/*.rb's literal version, a project
	// override, or (keepalived, runit) omnibus-software's at the
	// Gemfile.lock revision; sorted by name.
	Software []Software `json:"software"`
}

// Software is one omnibus software definition's version.
type Software struct {
	Name    string       `json:"name"`
	Version Fact[string] `json:"version"`
}

// Cookbooks are the cookbooks the release's private-chef cookbook builds on.
type Cookbooks struct {
	// EnterpriseChefCommon is the enterprise-chef-common tag the private-chef
	// cookbook's Berksfile pins; "" before 11 (no such cookbook).
	EnterpriseChefCommon Fact[string] `json:"enterprise_chef_common"`
	// Runit is the runit cookbook: "bundled" for the copy 1.x ships in
	// files/private-chef-cookbooks/runit, else enterprise-chef-common's
	// metadata.rb constraint ("= 1.3.0").
	Runit Fact[string] `json:"runit"`
	// RunitRestartOnUpdate is the runit cookbook's restart_on_update
	// default, when the constraint names one version, or (1.x) whether
	// the bundled runit_service definition subscribes a running service's
	// restart to its run template: a changed run script restarts the
	// service.
	RunitRestartOnUpdate Fact[bool] `json:"runit_restart_on_update"`
}

// ServiceAction is a runit_service resource with actions.
type ServiceAction struct {
	Service string   `json:"service"`
	Actions []string `json:"actions"`
	// Guard is its only_if / not_if, as written.
	Guard  string `json:"guard,omitempty"`
	Recipe string `json:"recipe"`
	// Conditional: the resource sits under a condition in its recipe.
	Conditional bool   `json:"conditional,omitempty"`
	Source      string `json:"source"`
	// CtlStop: the recipe first runs `/opt/opscode/bin/private-chef-ctl
	// stop SERVICE` (an execute resource), the old service's stop before
	// its link goes.
	CtlStop Fact[bool] `json:"ctl_stop"`
	// DeletesSvDir: the recipe deletes /opt/opscode/sv/SERVICE (a
	// directory resource, action :delete), the service gone for good.
	DeletesSvDir Fact[bool] `json:"deletes_sv_dir"`
}

// Roles say where a service runs.
type Role string

const (
	Standalone Role = "standalone" // attribute defaults, no topology
	Backend    Role = "backend"    // HA topology, back end that is not the bootstrap
	Bootstrap  Role = "bootstrap"  // HA topology, the bootstrap back end
	Frontend   Role = "frontend"   // HA topology, front end
)

// Service is one runit service.
type Service struct {
	// Name is the runit name (sv/NAME).
	Name string `json:"name"`
	// Source is where the recipe declares it.
	Source string `json:"source"`
	// Recipe is the recipe that declares it, whose enable attribute
	// (recipes/default.rb: node["private_chef"][RECIPE]["enable"])
	// decides whether it runs.
	Recipe string `json:"recipe"`
	// AttributeKey is the node['private_chef'][KEY] subtree whose 'ha'
	// the service follows (nagios for php-fpm, opscode-expander for the
	// reindexer).
	AttributeKey Fact[string] `json:"attribute_key"`
	// Standalone, Backend, Bootstrap and Frontend say whether the recipe is
	// enabled on that role: the attribute default, then what
	// libraries/private_chef.rb's gen_backend, gen_drbd, gen_keepalived
	// (back ends) or gen_frontend (front ends) set.
	Standalone Fact[bool] `json:"standalone"`
	Backend    Fact[bool] `json:"backend"`
	Bootstrap  Fact[bool] `json:"bootstrap"`
	Frontend   Fact[bool] `json:"frontend"`
	// HA says keepalived moves the service (HA topology): 1.x, it is in
	// attributes' keepalived service_order and its key's 'ha' is true;
	// 11.x, reconfigure writes sv/NAME/keepalive_me.
	HA Fact[bool] `json:"ha"`
	// HAAttribute is where the 'ha' value that decides HA, DownFile and
	// KeepaliveMe comes from (gen_keepalived, or the attribute default).
	HAAttribute Fact[bool] `json:"ha_attribute"`
	// Action is "enable", or "down" for a service defined but kept down
	// (component_runit_service action :down).
	Action Fact[string] `json:"action"`
	// DownFile is what reconfigure does to sv/NAME/down on an HA back end:
	// "created", "deleted", or "unmanaged" (an existing file stays).
	DownFile Fact[string] `json:"down_file"`
	// KeepaliveMe is the same for sv/NAME/keepalive_me.
	KeepaliveMe Fact[string] `json:"keepalive_me"`
	// Log is the service's svlogd directory.
	Log Dir `json:"log"`
}

// Dir is a directory and what the recipes make of it.
type Dir struct {
	Path Fact[string] `json:"path"`
	// Managed says a directory resource declares it; when false, Owner,
	// Group and Mode are unknown (whatever created it decided).
	Managed Fact[bool] `json:"managed"`
	// Owner, Group and Mode as the resource sets them; "" when the
	// resource leaves them out (Chef then keeps an existing directory's
	// and creates a new one as root with the umask's mode).
	Owner Fact[string] `json:"owner"`
	Group Fact[string] `json:"group"`
	Mode  Fact[string] `json:"mode"`
}

// Upstart is what the reconfigure does to Upstart jobs.
type Upstart struct {
	// Jobs are the job files the reconfigure writes.
	Jobs []Job `json:"jobs"`
	// Stops are jobs it stops when they run (initctl stop).
	Stops []Fact[string] `json:"stops,omitempty"`
	// Deletes are job files it deletes.
	Deletes []Fact[string] `json:"deletes,omitempty"`
}

// Job is an Upstart job file.
type Job struct {
	Name string `json:"name"` // the job: opscode-runsvdir
	Path string `json:"path"` // /etc/init/opscode-runsvdir.conf
	// Source is the resource that writes the file.
	Source string `json:"source"`
	// Content is the file or template the job is rendered from.
	Content  Fact[string]   `json:"content"`
	PreStop  Fact[[]string] `json:"pre_stop"`
	PostStop Fact[[]string] `json:"post_stop"`
	Exec     Fact[string]   `json:"exec"`
}

// Ctl is private-chef-ctl.
type Ctl struct {
	// Kind is "omnibus-ctl" (a wrapper around the omnibus-ctl gem) or
	// "script" (1.2.8's own Ruby script).
	Kind Fact[string] `json:"kind"`
	// OmnibusCtl is the omnibus-ctl version: the project's override, else
	// omnibus-software's pin at the revision Gemfile.lock locks.
	OmnibusCtl Fact[string] `json:"omnibus_ctl,omitempty"`
	// OmnibusSoftware is the omnibus-software revision Gemfile.lock locks.
	OmnibusSoftware Fact[string] `json:"omnibus_software,omitempty"`
	// Name is the name the wrapper gives omnibus-ctl (its paths derive
	// from it: /opt/NAME, /etc/NAME, /var/log/NAME).
	Name Fact[string] `json:"name,omitempty"`
	// SVWAIT is what the wrapper exports, 0 when it does not.
	SVWAIT Fact[int] `json:"svwait"`
	// Commands are the commands it answers, sorted.
	Commands []Command `json:"commands"`
	// SvCommands are SV_COMMAND_NAMES: the sv verbs 1.2.8's script passes
	// to a service (`private-chef-ctl SERVICE VERB`), or those omnibus-ctl
	// defines a method for, of which only the command map's are answered.
	SvCommands Fact[[]string] `json:"sv_commands,omitempty"`
	// ServiceFirst: `private-chef-ctl SERVICE COMMAND` (1.2.8's script)
	// rather than omnibus-ctl's `COMMAND SERVICE`.
	ServiceFirst Fact[bool] `json:"service_first"`
	// UnknownCommand is what it prints for a command it does not know.
	UnknownCommand Fact[string] `json:"unknown_command,omitempty"`
	// Reconfigured is what a successful reconfigure prints.
	Reconfigured Fact[string] `json:"reconfigured"`
	// StopAllSkipsKeepalived: a stop/start/restart without a service
	// leaves keepalived alone.
	StopAllSkipsKeepalived Fact[bool] `json:"stop_all_skips_keepalived"`
	// HAStatus is how ha-status decides which services are HA:
	// "attribute-ha" (running config keys with 'ha' true, plus
	// HAStatusExtra) or "keepalive_me" (sv/*/keepalive_me).
	HAStatus      Fact[string]   `json:"ha_status"`
	HAStatusExtra Fact[[]string] `json:"ha_status_extra,omitempty"`
	// HAStatusReads are files ha-status reads with File.read, which
	// raises when one is missing.
	HAStatusReads []Fact[string] `json:"ha_status_reads,omitempty"`
	// UpgradeSleep is the sleep, in seconds, `upgrade` runs between
	// reconfigure and partybus.
	UpgradeSleep Fact[int] `json:"upgrade_sleep"`
}

// Command is a private-chef-ctl command.
type Command struct {
	Name string `json:"name"`
	// Arity 2 takes a service (or argument), 1 takes none; 0 when the
	// script does not say (1.2.8).
	Arity  int    `json:"arity"`
	Source string `json:"source"`
	// NoMethod: omnibus-ctl's command map lists it, but nothing defines
	// the method run sends it to, so it raises NoMethodError (exit 1).
	NoMethod bool `json:"no_method,omitempty"`
}

// File is a file or directory a recipe declares.
type File struct {
	Path string `json:"path"`
	// Kind is the resource type: file, template, directory.
	Kind   string       `json:"kind"`
	Owner  Fact[string] `json:"owner"`
	Group  Fact[string] `json:"group"`
	Mode   Fact[string] `json:"mode"`
	Recipe string       `json:"recipe"`
	// Conditional: the resource sits under a condition in its recipe.
	Conditional bool   `json:"conditional,omitempty"`
	Source      string `json:"source"`
}

// Keepalived is keepalived's configuration as the release renders it.
type Keepalived struct {
	// Directives are keepalived.conf.erb's directives in order, with the
	// attribute defaults filled in.
	Directives []Directive `json:"directives"`
	// RunArgs is the keepalived command line of sv/keepalived/run.
	RunArgs Fact[[]string] `json:"run_args"`
	// ConfRestart says whether a changed keepalived.conf restarts
	// keepalived: "always", "never" (its guard names no service of the
	// release, or the template notifies nothing), or the guard as written.
	ConfRestart Fact[string] `json:"conf_restart"`
	// ClusterShRestart is the same for a changed cluster.sh.
	ClusterShRestart Fact[string] `json:"cluster_sh_restart"`
	// ClusterSVWAIT is what cluster.sh exports as SVWAIT.
	ClusterSVWAIT Fact[int] `json:"cluster_svwait"`
	// ClusterServices is how cluster.sh finds the services it moves:
	// "service_order" (attributes, 1.x) or "keepalive_me" (11.x).
	ClusterServices Fact[string] `json:"cluster_services"`
	// ServiceOrder is attributes' keepalived service_order (1.x): the
	// services cluster.sh starts, in order, when their key is HA.
	ServiceOrder []OrderEntry `json:"service_order,omitempty"`
	// PostHooks are commands cluster.sh runs after starting a service.
	PostHooks []Hook `json:"post_hooks,omitempty"`
}

// Directive is a keepalived.conf line.
type Directive struct {
	// Block is the enclosing block path, e.g. "vrrp_instance PC_VI".
	Block   string `json:"block,omitempty"`
	Keyword string `json:"keyword"`
	// Value is the rest of the line with the attribute default filled
	// in; its source is the attribute when it comes from one.
	Value Fact[string] `json:"value"`
	// When is the template condition the line sits under, as written
	// ("@vrrp_instance_nopreempt"; "!" prefix for an else branch), and
	// WhenDefault its value with attribute defaults.
	When        string `json:"when,omitempty"`
	WhenDefault *bool  `json:"when_default,omitempty"`
	Source      string `json:"source"`
}

// OrderEntry is one entry of 1.x's keepalived service_order.
type OrderEntry struct {
	Key     string `json:"key"`
	Service string `json:"service"`
	Source  string `json:"source"`
}

// Hook is a cluster.sh post-start hook.
type Hook struct {
	Service string `json:"service"`
	Command string `json:"command"`
	Source  string `json:"source"`
}

// Level is a partybus migration level.
type Level struct {
	Major int `json:"major"`
	Minor int `json:"minor"`
}

func (l Level) String() string { return fmt.Sprintf("%d.%d", l.Major, l.Minor) }

// Less orders levels as partybus does.
func (l Level) Less(o Level) bool {
	if l.Major != o.Major {
		return l.Major < o.Major
	}
	return l.Minor < o.Minor
}

// Migration is a partybus migration file.
type Migration struct {
	File   string `json:"file"`
	Level  Level  `json:"level"`
	Source string `json:"source"`
	// BootstrapOnly: the body runs only on the bootstrap
	// (`if Partybus.config.bootstrap_server`).
	BootstrapOnly Fact[bool] `json:"bootstrap_only"`
	// MustBeDataMaster: it calls must_be_data_master.
	MustBeDataMaster Fact[bool] `json:"must_be_data_master"`
	// DataMasterGuard: the body is skipped unless
	// Partybus.config.is_data_master, the level written all the same.
	DataMasterGuard Fact[bool] `json:"data_master_guard"`
	// Schema is the upgrade_schema_to version, 0 when none.
	Schema Fact[int] `json:"schema"`
	// StopsServices are the down_services it stops and starts again.
	StopsServices Fact[[]string] `json:"stops_services,omitempty"`
	// Restarts are services it restarts (private-chef-ctl restart X).
	Restarts Fact[[]string] `json:"restarts,omitempty"`
	// Sleeps are its sleep(N) calls, in seconds.
	Sleeps Fact[[]int] `json:"sleeps,omitempty"`
}
