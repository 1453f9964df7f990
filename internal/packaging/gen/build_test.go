package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/chefha/chefha/internal/packaging"
)

// fakeInputs reads testdata/fake/REPO/REF/PATH into in-memory sources.
func fakeInputs(t *testing.T) *Inputs {
	t.Helper()
	repos := map[string]*memSource{}
	root := filepath.Join("testdata", "fake")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		parts := strings.SplitN(filepath.ToSlash(rel), "/", 3)
		if len(parts) != 3 {
			return nil
		}
		src := repos[parts[0]]
		if src == nil {
			src = &memSource{repo: "fake/" + parts[0], files: map[string]map[string]string{}}
			repos[parts[0]] = src
		}
		if src.files[parts[1]] == nil {
			src.files[parts[1]] = map[string]string{}
		}
		data, err := os.ReadFile(p)
		src.files[parts[1]][parts[2]] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return &Inputs{Omnibus: repos["opscode-omnibus"], OmnibusCtl: repos["omnibus-ctl"], ECC: repos["enterprise-chef-common"],
		Runit: repos["runit"], Software: repos["omnibus-software"]}
}

func buildFake(t *testing.T) packaging.Release {
	t.Helper()
	table, _, err := Build(fakeInputs(t), []string{"9.9.9"})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if len(table.Releases) != 1 {
		t.Fatalf("releases = %d", len(table.Releases))
	}
	return table.Releases[0]
}

const fakeCB = "fake/opscode-omnibus@9.9.9:files/private-chef-cookbooks/private-chef/"

func TestBuildServices(t *testing.T) {
	r := buildFake(t)
	if got, want := r.ServiceNames(), []string{"gadget", "gadget-helper", "keepalived", "widget"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("services = %v, want %v", got, want)
	}
	type row struct {
		standalone, backend, bootstrap, frontend, ha bool
		action, keepaliveMe, downFile                string
		log, owner, group, mode                      string
	}
	want := map[string]row{
		// gen_keepalived makes widget HA; its log directory interpolates
		// another attribute; mode 0750 is an integer literal.
		"widget": {true, true, true, true, true, "enable", "created", "unmanaged", "/var/log/acme/widget/3.1", "acme", "", "0750"},
		// gen_backend: enable = !!bootstrap; gen_frontend: ||= false.
		"gadget": {true, false, true, false, false, "enable", "deleted", "unmanaged", "/var/log/acme/gadget", "acme", "adm", "2770"},
		// The recipe's log_directory parameter, ha from gadget's key,
		// action :down.
		"gadget-helper": {true, false, true, false, false, "down", "deleted", "unmanaged", "/var/log/acme/gadget-helper", "acme", "adm", "2770"},
		// keepalived has no 'ha' attribute; gen_keepalived enables it on
		// back ends only; no directory resource for its log.
		"keepalived": {false, true, true, false, false, "enable", "deleted", "unmanaged", "/var/log/acme/keepalived", "", "", ""},
	}
	for name, w := range want {
		s, ok := r.Service(name)
		if !ok {
			t.Fatalf("no service %s", name)
		}
		got := row{s.Standalone.Value, s.Backend.Value, s.Bootstrap.Value, s.Frontend.Value, s.HA.Value,
			s.Action.Value, s.KeepaliveMe.Value, s.DownFile.Value, s.Log.Path.Value, s.Log.Owner.Value, s.Log.Group.Value, s.Log.Mode.Value}
		if got != w {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, w)
		}
	}
	w, _ := r.Service("widget")
	for field, f := range map[string]string{
		"log path": w.Log.Path.Source, "owner": w.Log.Owner.Source, "ha": w.HAAttribute.Source, "backend": w.Backend.Source,
	} {
		if !strings.HasPrefix(f, fakeCB) {
			t.Errorf("widget %s source %q not in the fake cookbook", field, f)
		}
	}
	if w.Log.Path.Source != fakeCB+"attributes/default.rb:9" {
		t.Errorf("widget log path source = %s", w.Log.Path.Source)
	}
	if w.HAAttribute.Source != fakeCB+"libraries/private_chef.rb:15" {
		t.Errorf("widget ha source = %s", w.HAAttribute.Source)
	}
	k, _ := r.Service("keepalived")
	if k.Log.Managed.Value {
		t.Error("keepalived log dir managed, want no directory resource")
	}
	// The fake creates /var/log/acme, not /var/log/opscode.
	if r.LogRoot.Managed.Value || r.LogRoot.Path.Value != "/var/log/opscode" {
		t.Errorf("LogRoot managed: %+v", r.LogRoot)
	}
	if got := r.Retired(); !reflect.DeepEqual(got, []string{"old-widget"}) {
		t.Errorf("retired = %v", got)
	}
	var restart bool
	for _, a := range r.ServiceActions {
		restart = restart || a.Service == "gadget" && reflect.DeepEqual(a.Actions, []string{"restart"}) && a.Guard == "only_if { is_data_master? }"
	}
	if !restart {
		t.Errorf("gadget restart action not read: %+v", r.ServiceActions)
	}
}

func TestBuildUpstartAndCtl(t *testing.T) {
	r := buildFake(t)
	if len(r.Upstart.Jobs) != 1 {
		t.Fatalf("jobs = %+v", r.Upstart.Jobs)
	}
	j := r.Upstart.Jobs[0]
	// enterprise.name comes from the private-chef attributes, which load
	// after ECC's.
	if j.Name != "acme-runsvdir" || j.Path != "/etc/init/acme-runsvdir.conf" {
		t.Errorf("job = %s %s", j.Name, j.Path)
	}
	if !reflect.DeepEqual(j.PreStop.Value, []string{"/usr/bin/acme-ctl stop"}) || !reflect.DeepEqual(j.PostStop.Value, []string{"pkill -HUP -P 1 runsv$"}) ||
		j.Exec.Value != "/opt/acme/embedded/bin/runsvdir-start" {
		t.Errorf("job content = %+v", j)
	}
	if len(r.Upstart.Stops) != 1 || r.Upstart.Stops[0].Value != "old-runsvdir" || len(r.Upstart.Deletes) != 1 {
		t.Errorf("stops %+v deletes %+v", r.Upstart.Stops, r.Upstart.Deletes)
	}

	c := r.Ctl
	if c.OmnibusCtl.Value != "0.0.9" || c.OmnibusSoftware.Value != "0123456789abcdef0123456789abcdef01234567" || c.Name.Value != "acme" || c.SVWAIT.Value != 20 {
		t.Errorf("ctl = %+v", c)
	}
	var names []string
	for _, cmd := range c.Commands {
		names = append(names, cmd.Name)
	}
	if want := []string{"ha-status", "help", "reconfigure", "stop", "upgrade", "widget-reset"}; !reflect.DeepEqual(names, want) {
		t.Errorf("commands = %v, want %v", names, want)
	}
	if c.Reconfigured.Value != "acme Reconfigured!" || c.UnknownCommand.Value != "I don't know that command." || !c.StopAllSkipsKeepalived.Value {
		t.Errorf("ctl messages = %q %q %v", c.Reconfigured.Value, c.UnknownCommand.Value, c.StopAllSkipsKeepalived.Value)
	}
	if c.HAStatus.Value != "keepalive_me" || len(c.HAStatusReads) != 1 || c.UpgradeSleep.Value != 30 {
		t.Errorf("ha-status %+v reads %+v sleep %+v", c.HAStatus, c.HAStatusReads, c.UpgradeSleep)
	}
	if v, ok := r.SoftwareVersion("rebar"); !ok || v != "2.0.0" {
		t.Errorf("rebar (a project override) = %q %v; software %+v", v, ok, r.Software)
	}
	if !r.Cookbooks.RunitRestartOnUpdate.Value || r.Cookbooks.EnterpriseChefCommon.Value != "0.0.1" {
		t.Errorf("cookbooks = %+v", r.Cookbooks)
	}
}

func TestBuildKeepalivedAndRest(t *testing.T) {
	r := buildFake(t)
	k := r.Keepalived
	state, ok := k.Directive("state")
	if !ok || state.Value.Value != "BACKUP" || state.Block != "vrrp_instance ACME" || state.Value.Source != fakeCB+"attributes/default.rb:19" {
		t.Errorf("state = %+v", state)
	}
	np, ok := k.Directive("nopreempt")
	if !ok || np.When != "@vrrp_instance_nopreempt" || np.WhenDefault == nil || !*np.WhenDefault {
		t.Errorf("nopreempt = %+v", np)
	}
	peer, ok := k.Directive("unicast_peer")
	if !ok || peer.When != "!@vrrp_instance_peer.nil?" || peer.WhenDefault == nil || *peer.WhenDefault {
		t.Errorf("unicast_peer = %+v", peer)
	}
	// The guard names no service: a changed conf never restarts keepalived.
	if k.ConfRestart.Value != "never" {
		t.Errorf("conf restart = %+v", k.ConfRestart)
	}
	if want := []string{"/opt/acme/embedded/sbin/keepalived", "--dont-fork", "--use-file=/var/opt/acme/keepalived/etc/keepalived.conf"}; !reflect.DeepEqual(k.RunArgs.Value, want) {
		t.Errorf("run args = %v", k.RunArgs.Value)
	}
	if k.ClusterSVWAIT.Value != 45 || k.ClusterServices.Value != "keepalive_me" || len(k.PostHooks) != 1 || k.PostHooks[0].Command != "/opt/acme/bin/wait-for-gadget" {
		t.Errorf("cluster.sh = %+v %+v %+v", k.ClusterSVWAIT, k.ClusterServices, k.PostHooks)
	}

	if len(r.Migrations) != 2 || r.LastLevel.Value != (packaging.Level{Major: 1, Minor: 2}) {
		t.Fatalf("migrations %+v last %+v", r.Migrations, r.LastLevel)
	}
	m1, m2 := r.Migrations[0], r.Migrations[1]
	if m1.Schema.Value != 5 || !reflect.DeepEqual(m1.Restarts.Value, []string{"widget"}) || m1.BootstrapOnly.Value {
		t.Errorf("migration 1 = %+v", m1)
	}
	if !m2.BootstrapOnly.Value || !m2.MustBeDataMaster.Value || !reflect.DeepEqual(m2.StopsServices.Value, []string{"widget", "gadget"}) ||
		!reflect.DeepEqual(m2.Restarts.Value, []string{"gadget-helper"}) || !reflect.DeepEqual(m2.Sleeps.Value, []int{15}) {
		t.Errorf("migration 2 = %+v", m2)
	}

	if len(r.PostinstLinks) != 1 || r.PostinstLinks[0].Value != "/usr/bin/private-chef-ctl" {
		t.Errorf("links = %+v", r.PostinstLinks)
	}
	pem, ok := r.EtcOpscodeFile("/etc/opscode/acme.pem")
	if !ok || pem.Owner.Value != "acme" || pem.Group.Value != "root" || pem.Mode.Value != "0600" || pem.Recipe != "default" {
		t.Errorf("acme.pem = %+v", pem)
	}
	dir, ok := r.EtcOpscodeFile("/etc/opscode")
	if !ok || dir.Kind != "directory" || dir.Mode.Value != "0755" {
		t.Errorf("/etc/opscode (declared with end.run_action) = %+v", dir)
	}
	sec, ok := r.EtcOpscodeFile("/etc/opscode/acme-secrets.json")
	if !ok || sec.Kind != "library" || sec.Mode.Value != "0600" {
		t.Errorf("secrets = %+v", sec)
	}
	if len(r.ServiceFiles) != 1 {
		t.Fatalf("service files = %+v", r.ServiceFiles)
	}
	if cfg := r.ServiceFiles[0]; cfg.Path != "/var/opt/opscode/widget/etc/widget.config" || cfg.Kind != "template" ||
		cfg.Owner.Value != "acme" || cfg.Group.Value != "acme" || cfg.Mode.Value != "0644" || cfg.Recipe != "widget" ||
		!strings.HasPrefix(cfg.Source, fakeCB+"recipes/widget.rb:") {
		t.Errorf("widget.config = %+v", cfg)
	}
}

func TestBuildDeterministic(t *testing.T) {
	a, _, err := Build(fakeInputs(t), []string{"9.9.9"})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Build(fakeInputs(t), []string{"9.9.9"})
	if err != nil {
		t.Fatal(err)
	}
	ea, err := Encode(a)
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := Encode(b)
	if string(ea) != string(eb) {
		t.Error("two builds of the same input differ")
	}
}

func TestBuildRefusesMissingTag(t *testing.T) {
	if _, _, err := Build(fakeInputs(t), []string{"9.9.8"}); err == nil || !strings.Contains(err.Error(), "no tag 9.9.8") {
		t.Errorf("Build with a missing tag: %v", err)
	}
}

func TestRunRefusesWithoutSnapshots(t *testing.T) {
	for _, s := range snapshots {
		t.Setenv(s.env, "")
	}
	var out, errb strings.Builder
	err := run([]string{"-o", filepath.Join(t.TempDir(), "releases")}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "CHEFHA_SNAPSHOT_OPSCODE_OMNIBUS") {
		t.Errorf("run without snapshots: %v", err)
	}
	err = run([]string{"-omnibus=" + t.TempDir()}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("run with one snapshot: %v", err)
	}
}
