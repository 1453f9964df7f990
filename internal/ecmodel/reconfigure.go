package ecmodel

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/chefha/chefha/issue"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// Reconfigure is `private-chef-ctl reconfigure`: chef-solo lays the
// installed release down (services enabled per role, keepalive_me and down
// files, log directories, the runsvdir job, keepalived's files, partybus'
// config, chef-server-running.json) and private-chef-ctl prints what the
// packaging says it does ("opscode Reconfigured!": omnibus-ctl's
// display_name; 1.2.8's own script "Chef Server Reconfigured!").
func (n *Node) Reconfigure(ctx context.Context, io IO) int {
	if st := n.converge(ctx, io); st != 0 {
		return st
	}
	done, _ := n.Installed.ctlSays()
	fmt.Fprintln(io.Stdout, done)
	return 0
}

func (n *Node) converge(ctx context.Context, io IO) int {
	rel, h := n.Installed, n.H
	fmt.Fprintln(io.Stdout, "Starting Chef Client, version 11.4.4")
	ha := n.HATopology() && n.Backend()
	master := n.Status(CurrentPath) == "master" || (n.Status(CurrentPath) == "" && n.Bootstrap())
	// OC-11601 bites where redis_lb already runs (11.1.x to a later 11.1.x):
	// a node coming from 11.0 or 1.x has no redis_lb to restart yet, and
	// 11.2.0 restarts it before using it. Only the data master restarts it
	// and writes its keys (recipes/redis_lb.rb @11.1.0–11.1.8: notifies
	// :restart and the ruby_block, both `if is_data_master?`; ECC 0.3.0
	// libraries/helpers.rb: an HA back end is the data master when
	// current_cluster_status says master, or, with none, when it is the
	// bootstrap): the passive back end's reconfigure never fails on it.
	if _, err := h.Lstat(ModelDir + "/redis_lb-restarted"); err != nil && n.Bug(issue.OC11601) && !rel.RestartsRedisLB() && (!ha || master) &&
		slices.Contains(rel.Services(n.Backend(), n.Bootstrap()), "redis_lb") &&
		slices.Contains(n.Configured.Services(n.Backend(), n.Bootstrap()), "redis_lb") && n.Configured.Version != rel.Version {
		fmt.Fprintln(io.Stderr, "Errno::ECONNREFUSED: Connection refused - connect(2) for 127.0.0.1:16379")
		return 1
	}
	owner, bugOwner := rel.LogOwner+":"+rel.LogOwner, ""
	if n.Bug(issue.OC11426) && strings.HasPrefix(rel.Version, "11.") {
		owner, _ = h.Owner(LogDir) // the bug: ownership is not fixed
		bugOwner = owner
	}
	h.MkdirAll(LogDir, 0o755) // a new one root's
	if root := rel.LogRootOwner(); root != "" && !n.Bug(issue.OC11426) {
		// recipes/default.rb's directory resource (11.1.3+); before, no
		// resource owns it and it keeps whatever owner it has.
		h.Chown(LogDir, root+":"+root)
	}
	// 1.x's runit_service asks should_notify?("keepalived") as the recipe
	// is compiled, before anything changes: linked and running.
	keepalivedRan := false
	if n.linked("keepalived") {
		_, st := h.Sv(ctx, "status", "keepalived", 0, true)
		keepalivedRan = st == 0
	}
	// keepalived_safemode (11.1.8): on the data master still under
	// opscode-runsvdir, restart keepalived as MASTER and wait for DRBD.
	safemode := ha && master && rel.Version >= "11.1.8" && !n.Bug(issue.OC11669) && slices.Contains(h.Jobs(), "opscode-runsvdir")
	n.retire(ctx) // the other 1.x services wait for cleanup
	for _, s := range rel.Services(n.Backend(), n.Bootstrap()) {
		n.enable(s, ha && rel.IsHA(s), owner, bugOwner)
	}
	if len(h.Jobs()) == 0 {
		// The runit recipe comes before the services' (recipes/default.rb
		// @1.4.6 include_recipe "runit"; @11.1.8 "enterprise::runit"), and
		// each runit_service waits for its runsv: a fresh node's services
		// are all supervised before keepalived, the last, is linked.
		h.StartJob(ctx, rel.RunsvdirJob())
	}
	for _, s := range rel.KeptDown() {
		// runit_service … action :down ("defined, but dead":
		// recipes/opscode-chef-mover.rb @11.0.2–11.2.0): linked, then told
		// down once its runsv supervises it.
		if slices.Contains(rel.Services(n.Backend(), n.Bootstrap()), s) && n.linked(s) {
			n.waitSupervised(ctx, s)
			h.Sv(ctx, "down", s, 7*time.Second, false)
		}
	}
	for _, s := range allServices(rel) {
		if !slices.Contains(rel.Services(n.Backend(), n.Bootstrap()), s) && n.linked(s) {
			h.Remove(path.Join(ServiceDir, s)) // runit_service :disable
		}
	}
	n.startDatabase(ctx, !ha || master)
	if ha {
		// recipes/drbd.rb: the DRBD directories, the data dir (mount
		// point) among them, and the resource file.
		h.MkdirAll(DRBDDataDir, 0o755)
		n.writeDRBDConfig()
		h.MkdirAll(KeepalivedDir+"/bin", 0o755)
		h.MkdirAll(LogDir+"/keepalived", 0o755) // 0755 from the umask until 11.1.7
		// OC-11490: before 11.1.7 the directory resource names no owner, so
		// a root-owned directory stays root's; 11.1.7's (and safe mode's)
		// re-owns it opscode, 0700.
		if !n.Bug(issue.OC11490) || safemode || rel.KeepalivedLogOwned() {
			h.Chown(LogDir+"/keepalived", owner)
		}
		if safemode || rel.KeepalivedLogOwned() {
			h.Chmod(LogDir+"/keepalived", 0o700)
		}
		state := "BACKUP"
		if safemode {
			state = "MASTER"
		}
		conf := n.writeIfChanged(KeepalivedConf, n.keepalivedConf(state), 0o644)
		sh := n.writeIfChanged(ClusterSh, n.clusterShText(), 0o755)
		run := n.enable("keepalived", false, owner, bugOwner)
		n.waitSupervised(ctx, "keepalived")
		if rel.restartsKeepalived(conf, sh, run, keepalivedRan) && n.linked("keepalived") {
			h.Sv(ctx, "restart", "keepalived", 30*time.Second, true) // notifies :restart
			if safemode && !n.waitForMount(ctx, io) {
				return 1
			}
		}
		if safemode {
			// The keepalived recipe renders the same template again with
			// the attributes' BACKUP, and its delayed :restart follows.
			if n.writeIfChanged(KeepalivedConf, n.keepalivedConf("BACKUP"), 0o644) {
				defer h.Sv(ctx, "restart", "keepalived", 30*time.Second, true)
			}
		}
	}
	n.switchJobs(ctx)
	n.writeRunning(ha)
	n.layEtcOpscode()
	n.writeAccountConfig()
	n.writePartybusConfig(master && !n.midTransition())
	n.layServiceFiles()
	if n.Bug(issue.OC11656) && strings.HasPrefix(rel.Version, "11.") && rel.Version < "11.1.7" {
		h.Chmod(TopologyPath, 0o600) // the cookbooks inherit a hardened umask
	}
	levelMissing := n.levelMissingAfterPgUpgrade(io) // a delayed notification: the run fails last
	h.WriteFile(ModelDir+"/release", []byte(rel.Version+"\n"), 0o644)
	n.Configured = rel
	if levelMissing {
		return 1
	}
	fmt.Fprintln(io.Stdout, "Chef Client finished, 84 resources updated")
	return 0
}

// waitForMount is keepalived_safemode's wait_for_drbd_mount block.
func (n *Node) waitForMount(ctx context.Context, io IO) bool {
	fmt.Fprintln(io.Stdout, "keepalived restarted, waiting for DRBD mount to return")
	for attempt := 0; attempt <= 120; attempt++ {
		mounts, _ := n.H.ReadFile("/proc/mounts")
		if strings.Contains(string(mounts), DRBDDataDir) && n.Status(RequestedPath) == "master" {
			fmt.Fprintln(io.Stdout, "DRBD mount has returned, proceeding")
			return true
		}
		if attempt == 120 {
			fmt.Fprintln(io.Stderr, "ERROR: Timeout waiting for DRBD mount to return")
			return false
		}
		fmt.Fprint(io.Stdout, ".")
		if n.H.Sleep(ctx, time.Second) != nil {
			return false
		}
	}
	return false
}

// AccountConfig is where opscode-account's environment config goes
// (attributes: opscode-account dir /var/opt/opscode/opscode-account,
// environment "privatechef"; recipes/opscode-account.rb etc/ENV.rb).
const AccountConfig = "/var/opt/opscode/opscode-account/etc/privatechef.rb"

// writeAccountConfig renders the internal_lb_url line of
// opscode-account-config.rb.erb where opscode-account runs. With
// nginx['non_ssl_port'] = false, 11.1.3–11.1.8 write
// 'http://127.0.0.1:false' and the reconfigure succeeds (OC-11540);
// 11.2.0's helper switches to https and ssl_port.
func (n *Node) writeAccountConfig() {
	rel := n.Installed
	if rel.InternalLBURL == "" || !slices.Contains(rel.Services(n.Backend(), n.Bootstrap()), "opscode-account") {
		return
	}
	port, tls := n.setting("nginx['non_ssl_port']"), false
	if port == "" {
		port = "80" // attributes/default.rb nginx non_ssl_port
	}
	if port == "false" && rel.InternalLBURL == "helper" {
		port, tls = n.setting("nginx['ssl_port']"), true
		if port == "" {
			port = "443"
		}
	}
	url := "http://127.0.0.1:" + port // lb_internal vip 127.0.0.1
	if tls {
		url = "https://127.0.0.1:" + port
	}
	n.H.MkdirAll(path.Dir(AccountConfig), 0o700)
	n.writeIfChanged(AccountConfig, "Chef::Config[:internal_lb_url] = '"+url+"'\n", 0o644)
}

func (n *Node) setting(key string) string {
	v, _ := n.Topology.Setting(key)
	return v
}

func (n *Node) writeIfChanged(name, content string, perm fs.FileMode) bool {
	if b, err := n.H.ReadFile(name); err == nil && string(b) == content {
		return false
	}
	n.H.WriteFile(name, []byte(content), perm)
	return true
}

// enable is runit_service (1.x) or component_runit_service (11.x): sv
// dir, run script, log dir, the service link, and for an HA service on an
// HA back end the marker files the release manages (keepalive_me, down).
// The log directory gets what its directory resource sets (ownLogDir;
// owner where the table does not know the service, bugOwner under
// OC-11426); keepalived's is converge's. It reports whether the run
// script changed.
func (n *Node) enable(s string, ha bool, owner, bugOwner string) (runChanged bool) {
	h, sv, rel := n.H, path.Join(SvDir, s), n.Installed
	h.MkdirAll(path.Join(sv, "log"), 0o755)
	runChanged = n.writeIfChanged(path.Join(sv, "run"), runScript(rel, s), 0o755)
	n.writeIfChanged(path.Join(sv, "log", "run"), logRunScript(rel, s), 0o755)
	dir := rel.LogDirOf(s)
	_, err := h.Lstat(dir)
	fresh := err != nil
	if fresh {
		// The directory resource; current is svlogd's, made by the user
		// the log run script runs it as.
		h.MkdirAll(dir, 0o755)
		h.WriteFile(path.Join(dir, "current"), nil, 0o644)
		h.Chown(path.Join(dir, "current"), svlogdUser(rel))
	}
	if s != "keepalived" {
		n.ownLogDir(s, dir, fresh, owner, bugOwner)
	}
	for _, f := range []struct {
		name          string
		managed, want bool
	}{{"keepalive_me", rel.KeepaliveMe(), ha}, {"down", rel.DownFiles(), ha}} {
		p := path.Join(sv, f.name)
		switch {
		case !f.managed: // left as it is (a 1.x down file survives 11.0–11.1.8)
		case f.want:
			h.WriteFile(p, nil, 0o644)
		default:
			h.Remove(p)
		}
	}
	// runit_service's lsb_init: /opt/opscode/init/NAME, the sv that
	// omnibus-ctl and ha.rb call, in LSB mode by its name.
	if _, err := h.Lstat(path.Join(InitDir, s)); err != nil {
		h.Symlink(EmbeddedSv, path.Join(InitDir, s))
	}
	if !n.linked(s) {
		h.Symlink(sv, path.Join(ServiceDir, s))
	}
	return runChanged
}

// waitSupervised is runit_service's supervise_NAME_sleep (runit/
// definitions/runit_service.rb @1.4.6): until a runsv supervises the
// service, sleep 1, with no limit (runsvdir sees a new link within 5 s).
// keepalived, enabled last, so starts when every other service has its
// runsv, and its first cluster.sh backup finds them all.
func (n *Node) waitSupervised(ctx context.Context, s string) {
	for len(n.H.Jobs()) > 0 && !n.H.Supervised(s) {
		if n.H.Sleep(ctx, time.Second) != nil {
			return
		}
	}
}

// EmbeddedSv is runit's sv as the package ships it (runit 2.1.1, its
// default service directory patched to /opt/opscode/service).
const EmbeddedSv = "/opt/opscode/embedded/bin/sv"

func allServices(rel Release) []string {
	all := rel.AllServices()
	slices.Sort(all)
	return slices.Compact(all)
}

func (n *Node) keepalivedEnabled() bool {
	var rc running
	b, err := n.H.ReadFile(RunningJSON)
	return err == nil && json.Unmarshal(b, &rc) == nil && rc.PrivateChef.Keepalived.Enable
}

// running is the part of chef-server-running.json ha.rb reads.
type running struct {
	PrivateChef struct {
		Role       string `json:"role"`
		Topology   string `json:"topology"`
		Keepalived struct {
			Enable    bool   `json:"enable"`
			IPAddress string `json:"vrrp_instance_ipaddress"`
			Dev       string `json:"vrrp_instance_ipaddress_dev"`
			Interface string `json:"vrrp_instance_interface"`
		} `json:"keepalived"`
		DRBD struct {
			Enable    bool   `json:"enable"`
			Disk      string `json:"disk"`
			Device    string `json:"device"`
			DataDir   string `json:"data_dir"`
			Primary   peer   `json:"primary"`
			Secondary peer   `json:"secondary"`
		} `json:"drbd"`
	} `json:"private_chef"`
	Runit struct {
		SvDir string `json:"sv_dir"`
	} `json:"runit"`
}

type peer struct {
	FQDN string `json:"fqdn"`
	IP   string `json:"ip"`
}

func (n *Node) writeRunning(ha bool) {
	var rc running
	p := &rc.PrivateChef
	p.Role, p.Topology, rc.Runit.SvDir = n.Me.Role, n.Topology.Kind, SvDir
	p.DRBD.Disk, p.DRBD.Device, p.DRBD.DataDir = DRBDDisk, DRBDDevice, DRBDDataDir
	if ha {
		p.Keepalived.Enable, p.DRBD.Enable = true, true
		if v := n.Topology.BackendVIP; v != nil {
			p.Keepalived.IPAddress, p.Keepalived.Dev, p.Keepalived.Interface = v.IPAddress, v.Device, v.Device
			if !strings.HasPrefix(n.Installed.Version, "11.") {
				p.Keepalived.Interface = v.HeartbeatDevice // 1.x: heartbeat_device
			}
		}
		for i, s := range n.Topology.Backends() {
			ip := s.ClusterIPAddress
			if ip == "" {
				ip = s.Host()
			}
			if i == 0 {
				p.DRBD.Primary = peer{s.Name, ip}
			} else {
				p.DRBD.Secondary = peer{s.Name, ip}
			}
		}
	}
	b, _ := json.MarshalIndent(rc, "", "  ")
	n.H.WriteFile(RunningJSON, append(b, '\n'), 0o600)
}

// writePartybusConfig is recipes/partybus.rb's template: is_data_master is
// fixed at reconfigure time from current_cluster_status.
func (n *Node) writePartybusConfig(master bool) {
	role := n.Me.Role
	cfg := fmt.Sprintf("Partybus.configure do |c|\n  c.migration_state_file          = \"/var/opt/opscode/upgrades/migration-level\"\n"+
		"  c.private_chef_role             = \"%s\"\n  c.database_service_name         = \"postgres\"\n"+
		"  c.is_data_master                = %t\n  c.bootstrap_server              = %t\nend\n",
		role, n.Backend() && master, n.Bootstrap())
	n.H.WriteFile(PartybusConfig, []byte(cfg), 0o644)
}

// Cleanup is `private-chef-ctl cleanup`: post_11_upgrade_cleanup's
// package_cleaner unlinks and removes the 1.x services (without stopping
// them first) and their log directories.
func (n *Node) Cleanup(ctx context.Context, io IO) int {
	if !strings.HasPrefix(n.Installed.Version, "11.") {
		fmt.Fprintln(io.Stdout, "I don't know that command.")
		return 1
	}
	for _, s := range n.svNames() {
		if RemovedInEC11(s) {
			n.H.Remove(path.Join(ServiceDir, s))
			n.H.Remove(path.Join(InitDir, s))
			n.H.RemoveAll(path.Join(SvDir, s))
			n.H.RemoveAll(path.Join(LogDir, s)) // the service's whole tree
		}
	}
	return 0
}

// family names cluster.sh.erb's generation, which changes between 1.4.6
// and 11.0.2 and not again up to 11.2.0 (the services it names aside):
// the model's cluster.sh carries it, so that the hop to 11 rewrites it;
// whether a rewrite restarts keepalived is the release's
// (restartsKeepalived).
func family(r Release) string {
	if strings.HasPrefix(r.Version, "11.") {
		return "11.x"
	}
	return "1.x"
}

// midTransition reports whether the reconfigure of an upgrade on the
// bootstrap, with OC-11670 armed, reads current_cluster_status while
// keepalived is still moving it back to master: is_data_master?
// (enterprise-chef-common libraries/helpers.rb) then says false, and
// partybus' config keeps that for the whole run. Once.
func (n *Node) midTransition() bool {
	if !n.upgrading || !n.Bootstrap() || !n.Bug(issue.OC11670) {
		return false
	}
	Disarm(n.H, issue.OC11670)
	return true
}
