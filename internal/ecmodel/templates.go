package ecmodel

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chefha/chefha/internal/packaging"
)

// The files reconfigure renders from the packaging's templates
// (chef-boneyard/opscode-omnibus, files/private-chef-cookbooks/
// private-chef/templates/default/), as real programs read them: the lab's
// keepalived reads keepalived.conf, its runsv runs the run scripts, its
// svlogd runs as the log run script says.

// KeepalivedConf is where recipes/keepalived.rb renders keepalived.conf.
const KeepalivedConf = KeepalivedDir + "/etc/keepalived.conf"

// keepalivedConf renders keepalived.conf.erb (the same template at 1.4.6,
// 11.0.2 and 11.1.8 but for the unicast lines) with the attributes of
// attributes/default.rb and libraries/private_chef.rb's gen_keepalived:
// both back ends state BACKUP (safe mode's MASTER aside), priority 100,
// nopreempt, preempt_delay 30, one vrrp_sync_group, notify_stop running
// cluster.sh backup. Unicast: 1.x and 11.0.x the opscode-patched
// keepalived's vrrp_unicast_bind/peer with the cluster addresses (1.4.6
// gen_keepalived: cluster_ipaddress || ipaddress, interface
// heartbeat_device); 11.1.x keepalived 1.2.9's unicast_srcip/unicast_peer
// with the public ipaddress (11.1.8 gen_keepalived, interface device).
func (n *Node) keepalivedConf(state string) string {
	rel := n.Installed
	vip, dev, iface := "", "eth0", "eth0"
	if v := n.Topology.BackendVIP; v != nil {
		vip, dev, iface = v.IPAddress, v.Device, v.Device
		if !strings.HasPrefix(rel.Version, "11.") && v.HeartbeatDevice != "" {
			iface = v.HeartbeatDevice
		}
	}
	addr := func(ip, cluster string) string {
		if !strings.HasPrefix(rel.Version, "11.") && cluster != "" {
			return cluster
		}
		return ip
	}
	bind, peer := addr(n.Me.Host(), n.Me.ClusterIPAddress), ""
	for _, s := range n.Topology.Backends() {
		if s.Name != n.Me.Name {
			peer = addr(s.Host(), s.ClusterIPAddress)
		}
	}
	unicast := fmt.Sprintf("    vrrp_unicast_bind %s\n    vrrp_unicast_peer %s\n", bind, peer)
	if rel.Version >= "11.1" {
		unicast = fmt.Sprintf("    unicast_srcip %s\n    unicast_peer { \n                %s\n    }\n", bind, peer)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "! Configuration File for keepalived\n\nglobal_defs {\n  notification_email {\n    %s\n  }\n\n"+
		"  smtp_server 127.0.0.1\n  smtp_connect_timeout 30\n}\n\n", n.notificationEmail())
	b.WriteString("vrrp_sync_group PC_GROUP {\n  group {\n    PC_VI\n  }\n}\n\n")
	fmt.Fprintf(&b, "vrrp_instance PC_VI {\n    state %s\n    preempt_delay 30\n    nopreempt\n    interface %s\n"+
		"    virtual_router_id 1\n    priority 100\n%s    advert_int 1\n", state, iface, unicast)
	for _, to := range []string{"backup", "master", "fault"} {
		fmt.Fprintf(&b, "\t\tnotify_%s \"%s %s\"\n", to, ClusterSh, to)
	}
	fmt.Fprintf(&b, "\t\tnotify_stop \"%s backup\"\n", ClusterSh)
	fmt.Fprintf(&b, "    authentication {\n        auth_type PASS\n        auth_pass %s\n    }\n", n.vrrpPassword())
	fmt.Fprintf(&b, "    virtual_ipaddress {\n      %s dev %s\n    }\n}\n\n", vip, dev)
	return b.String()
}

func (n *Node) notificationEmail() string {
	if v := strings.Trim(n.setting("notification_email"), `"'`); v != "" {
		return v
	}
	return "pc-default@opscode.com" // attributes/default.rb
}

// SecretsPath is where 11.x's generate_secrets keeps the passwords it made
// (libraries/private_chef.rb at 11.1.8).
const SecretsPath = "/etc/opscode/private-chef-secrets.json"

// vrrpPassword is keepalived's auth_pass: the generated secret when the
// secrets file has one, else attributes/default.rb's "sneakybeaky".
func (n *Node) vrrpPassword() string {
	var secrets struct {
		Keepalived struct {
			Password string `json:"vrrp_instance_password"`
		} `json:"keepalived"`
	}
	if b, err := n.H.ReadFile(SecretsPath); err == nil && json.Unmarshal(b, &secrets) == nil && secrets.Keepalived.Password != "" {
		return secrets.Keepalived.Password
	}
	return "sneakybeaky"
}

// NotifyScriptOverride is where a host puts a notify script of its own
// (the packaging's cluster.sh, rendered from its template): reconfigure
// then writes that to cluster.sh instead of the model's.
const NotifyScriptOverride = ModelDir + "/notify-script"

// ClusterShProgram is the program the model's cluster.sh hands the
// transition to: a host that runs real keepalived provides it (the
// model's Transition as a command).
const ClusterShProgram = "/opt/opscode/embedded/bin/chefha-cluster.sh"

// clusterShText is what reconfigure writes to cluster.sh: the host's own
// notify script, or the model's, which runs the model's cluster.sh. Like
// cluster.sh.erb it names the services it starts, in order, so a change
// of that list (redis_lb in 11.1) changes the file and restarts
// keepalived, as the template's notifies :restart does.
func (n *Node) clusterShText() string {
	if b, err := n.H.ReadFile(NotifyScriptOverride); err == nil {
		return string(b)
	}
	return fmt.Sprintf("#!/bin/sh\n# cluster.sh of private-chef %s (templates/default/cluster.sh.erb), run by chefha's node model\n"+
		"# services: %s\nexec %s \"$@\"\n", family(n.Installed), strings.Join(n.clusterServicesFor(n.Installed), " "), ClusterShProgram)
}

// clusterServicesFor is clusterServices for the release being laid down.
func (n *Node) clusterServicesFor(rel Release) []string {
	if strings.HasPrefix(rel.Version, "11.") {
		var out []string
		for _, s := range rel.Services(n.Backend(), n.Bootstrap()) {
			if rel.IsHA(s) {
				out = append(out, s)
			}
		}
		return out
	}
	return rel.HA()
}

// runScript is a service's sv/NAME/run. keepalived's is
// sv-keepalived-run.erb with the arguments the packaging table read from
// it (1.2.8.3–11.0.2: no --dump-conf, `--use-file PATH`; 11.1.6–11.2.0:
// --dump-conf, `--use-file=PATH`); the others start the service's program
// under /opt/opscode/embedded. Every one runs it under `chpst -P`, in a
// process group of its own (templates/default/sv-*-run.erb at 1.4.6,
// 11.0.2 and 11.1.8): what graceful-kill SIGKILLs is that group, never
// runsv's.
func runScript(rel Release, s string) string {
	if s == "keepalived" {
		args := []string{"chpst", "-P", "/opt/opscode/embedded/sbin/keepalived", "--log-console", "--log-detail", "--dump-conf",
			"--dont-fork", "--use-file=" + KeepalivedConf}
		if p, ok := rel.packaging(); ok && p.Keepalived.RunArgs.Known() {
			args = p.Keepalived.RunArgs.Value
		}
		return "#!/bin/sh\nexec 2>&1\nexec " + strings.Join(args, " ") + "\n"
	}
	return "#!/bin/sh\nexec 2>&1\nexec chpst -P /opt/opscode/embedded/bin/" + s + "\n"
}

// svlogdUser is who svlogd runs as (logRunScript), as "user:group".
func svlogdUser(rel Release) string {
	if !strings.HasPrefix(rel.Version, "11.") {
		return "root:root"
	}
	return "opscode:opscode"
}

// logRunScript is sv/NAME/log/run (sv-NAME-log-run.erb): svlogd as root in
// 1.x, as opscode (chpst -U) from 11.0.
func logRunScript(rel Release, s string) string {
	dir := rel.LogDirOf(s)
	if !strings.HasPrefix(rel.Version, "11.") {
		return "#!/bin/sh\nexec svlogd -tt " + dir + "\n"
	}
	return "#!/bin/sh\nexec chpst -U opscode -u opscode \\\n  svlogd -tt " + dir + "\n"
}

// restartsKeepalived says whether the reconfigure that changed these of
// keepalived's files restarts it, as the release's recipes notify (the
// packaging table): 11.x on a changed keepalived.conf or cluster.sh
// (recipes/keepalived.rb:24, :31 @11.0.2; :33, :42 @11.1.8, 11.2.0) or run
// script (runit v1.3.0's restart_on_update, 11.0–11.1.x); 1.x never for
// the two templates (keepalived.conf's notifies asks
// should_notify?("kepalived"), a service that does not exist; cluster.sh's
// has none: recipes/keepalived.rb:20-31 @1.2.8.3, 1.4.6), and for its run
// script only when keepalived ran as the recipe was compiled (the bundled
// runit_service definition's subscribes, under should_notify?).
func (r Release) restartsKeepalived(conf, clusterSh, run, wasRunning bool) bool {
	p, ok := r.packaging()
	if !ok {
		return conf || clusterSh
	}
	on := func(f packaging.Fact[string]) bool { return f.Value == "always" }
	runRestarts := p.Cookbooks.RunitRestartOnUpdate.Value
	if !strings.HasPrefix(r.Version, "11.") {
		runRestarts = runRestarts && wasRunning
	}
	return conf && on(p.Keepalived.ConfRestart) || clusterSh && on(p.Keepalived.ClusterShRestart) || run && runRestarts
}
