package packaging

import (
	"fmt"
	"io/fs"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

func TestEmbeddedTableParses(t *testing.T) {
	table, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.Generated, "DO NOT EDIT") || !strings.Contains(table.Regenerate, "go generate ./internal/packaging") {
		t.Errorf("header = %q / %q", table.Generated, table.Regenerate)
	}
	want := []string{"1.2.8.3", "1.4.6", "11.0.2", "11.1.6", "11.1.8", "11.2.0"}
	if got := Versions(); !reflect.DeepEqual(got, want) {
		t.Errorf("Versions() = %v, want %v", got, want)
	}
	for _, v := range want {
		r, ok := Lookup(v)
		if !ok || len(r.Services) == 0 || len(r.Migrations) == 0 || len(r.Upstart.Jobs) == 0 || len(r.Ctl.Commands) == 0 {
			t.Errorf("release %s incomplete: %+v", v, r.Version)
		}
	}
	if _, ok := Lookup("1.2.8"); ok {
		t.Error("Lookup matched a version that is not in the table")
	}
}

// allowed are the repositories and refs facts may come from: the release
// tags, the omnibus-ctl versions they use (0.1.1 is the one OC-11574 names),
// the enterprise-chef-common tags they pin and the runit version 0.3.0 pins.
// omnibus-software is read at the commits the Gemfile.lock files lock.
var allowed = map[string]*regexp.Regexp{
	"chef-boneyard/opscode-omnibus":         regexp.MustCompile(`^(1\.2\.8\.3|1\.4\.6|11\.0\.2|11\.1\.6|11\.1\.8|11\.2\.0)$`),
	"chef/omnibus-ctl":                      regexp.MustCompile(`^(0\.0\.6|0\.0\.7|0\.0\.8|0\.1\.1)$`),
	"chef-cookbooks/enterprise-chef-common": regexp.MustCompile(`^(0\.3\.0|0\.4\.4)$`),
	"chef-cookbooks/runit":                  regexp.MustCompile(`^v1\.3\.0$`),
	"chef/omnibus-software":                 regexp.MustCompile(`^[0-9a-f]{40}$`),
}

var sourceRe = regexp.MustCompile(`^([^@\s]+)@([^:\s]+):([^:\s]+)(:[1-9][0-9]*)?$`)

func checkSource(src string) error {
	m := sourceRe.FindStringSubmatch(src)
	if m == nil {
		return fmt.Errorf("source %q is not repo@ref:path[:line]", src)
	}
	refs, ok := allowed[m[1]]
	if !ok {
		return fmt.Errorf("source %q names a repository not read", src)
	}
	if !refs.MatchString(m[2]) {
		return fmt.Errorf("source %q names a ref not read", src)
	}
	return nil
}

type facter interface{ isFact() }

// walkFacts calls fn for every Fact and every struct field named Source in
// v, with its path.
func walkFacts(v reflect.Value, path string, fn func(path string, value reflect.Value, source string, isFact bool)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkFacts(v.Elem(), path, fn)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkFacts(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Struct:
		if _, ok := v.Interface().(facter); ok {
			fn(path, v.FieldByName("Value"), v.FieldByName("Source").String(), true)
			return
		}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if f.Name == "Source" && f.Type.Kind() == reflect.String {
				fn(path+".Source", reflect.Value{}, v.Field(i).String(), false)
				continue
			}
			walkFacts(v.Field(i), path+"."+f.Name, fn)
		}
	}
}

func TestEveryFactHasASource(t *testing.T) {
	table, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	// The refs the table says it read are the ones its facts name.
	named := map[string]bool{}
	for _, in := range table.Inputs {
		for _, ref := range in.Refs {
			named[in.Repo+"@"+ref] = true
			if err := checkSource(in.Repo + "@" + ref + ":x"); err != nil {
				t.Errorf("input: %v", err)
			}
		}
	}
	facts := 0
	for _, r := range table.Releases {
		walkFacts(reflect.ValueOf(r), r.Version, func(path string, value reflect.Value, source string, isFact bool) {
			facts++
			if isFact && source == "" {
				// A zero Fact is one the generator could not establish.
				if !value.IsZero() {
					t.Errorf("%s: value %v without a source", path, value)
				}
				return
			}
			if err := checkSource(source); err != nil {
				t.Errorf("%s: %v", path, err)
				return
			}
			if repoRef, _, _ := strings.Cut(source, ":"); !named[repoRef] {
				t.Errorf("%s: %s is not among the table's inputs", path, repoRef)
			}
		})
	}
	if facts < 1000 {
		t.Errorf("only %d facts walked", facts)
	}
}

// The facts the issue names, as the generator read them.
func TestFactsFromTheIssue(t *testing.T) {
	get := func(v string) Release {
		t.Helper()
		r, ok := Lookup(v)
		if !ok {
			t.Fatalf("no release %s", v)
		}
		return r
	}
	// The database's runit name.
	if _, ok := get("1.2.8.3").Service("postgres"); !ok {
		t.Error("1.2.8.3 has no postgres service")
	}
	if _, ok := get("1.4.6").Service("postgresql"); !ok || !slices.Contains(get("1.4.6").Retired(), "postgres") {
		t.Error("1.4.6 does not define postgresql and retire postgres")
	}
	// postgresql logs to a versioned directory on 11.x.
	for _, v := range []string{"11.0.2", "11.1.6", "11.1.8", "11.2.0"} {
		if dir, _ := get(v).LogDir("postgresql"); dir != "/var/log/opscode/postgresql/9.2" {
			t.Errorf("%s postgresql log dir = %s", v, dir)
		}
	}
	// /var/log/opscode: no resource before 11.1.3.
	for v, managed := range map[string]bool{"1.4.6": false, "11.0.2": false, "11.1.6": true, "11.1.8": true} {
		if got := get(v).LogRoot.Managed.Value; got != managed {
			t.Errorf("%s /var/log/opscode managed = %v, want %v", v, got, managed)
		}
	}
	// keepalived's log directory is opscode's from 11.1.7 (OC-11490).
	for v, owner := range map[string]string{"11.1.6": "", "11.1.8": "opscode"} {
		k, _ := get(v).Service("keepalived")
		if k.Log.Owner.Value != owner {
			t.Errorf("%s keepalived log owner = %q, want %q", v, k.Log.Owner.Value, owner)
		}
	}
	// 1.2.8's postgres: 1.4.6 stops it through private-chef-ctl, disables
	// it and deletes its sv directory (recipes/postgresql.rb:24-35); 11.x
	// stops and disables it with the runit resource and deletes the
	// directory (recipes/old_postgres_cleanup.rb).
	if a, ok := get("1.4.6").Retirement("postgres"); !ok || !a.CtlStop.Value || !a.DeletesSvDir.Value {
		t.Errorf("1.4.6 postgres retirement = %+v, %v", a, ok)
	}
	if a, ok := get("11.1.8").Retirement("postgres"); !ok || a.CtlStop.Value || !slices.Contains(a.Actions, "stop") || !a.DeletesSvDir.Value {
		t.Errorf("11.1.8 postgres retirement = %+v, %v", a, ok)
	}
	if _, ok := get("1.4.6").Retirement("postgresql"); ok {
		t.Error("1.4.6 retires postgresql, which it defines")
	}
	// keepalived: 1.x restarts it for neither keepalived.conf (its guard
	// names "kepalived") nor cluster.sh (no notifies), only for its run
	// script; 11.x for both templates.
	for v, want := range map[string]string{"1.2.8.3": "never", "1.4.6": "never", "11.0.2": "always", "11.2.0": "always"} {
		k := get(v).Keepalived
		if k.ConfRestart.Value != want || k.ClusterShRestart.Value != want {
			t.Errorf("%s keepalived restarts: conf %q, cluster.sh %q, want %q", v, k.ConfRestart.Value, k.ClusterShRestart.Value, want)
		}
	}
	if !get("1.4.6").Cookbooks.RunitRestartOnUpdate.Value || !get("11.0.2").Cookbooks.RunitRestartOnUpdate.Value {
		t.Error("a changed run script restarts a service in 1.4.6 and 11.0.2")
	}
	// chef-mover: bootstrap only, kept down.
	mover, _ := get("11.1.8").Service("opscode-chef-mover")
	if mover.Backend.Value || !mover.Bootstrap.Value || mover.Action.Value != "down" || mover.HA.Value {
		t.Errorf("11.1.8 opscode-chef-mover = %+v", mover)
	}
	// 11.2.0 writes a second runsvdir job beside 11.1's.
	if got, err := LeftoverJobs("11.1.8", "11.2.0"); err != nil || !reflect.DeepEqual(got, []string{"private-chef-runsvdir"}) {
		t.Errorf("LeftoverJobs(11.1.8, 11.2.0) = %v, %v", got, err)
	}
	if got, _ := LeftoverJobs("1.4.6", "11.1.8"); len(got) != 0 {
		t.Errorf("LeftoverJobs(1.4.6, 11.1.8) = %v, want none (opscode-runsvdir is stopped and deleted)", got)
	}
	if got := get("11.2.0").JobNames(); !reflect.DeepEqual(got, []string{"private_chef-runsvdir"}) {
		t.Errorf("11.2.0 jobs = %v", got)
	}
	if got := get("11.2.0").MissingJobCommands(); !reflect.DeepEqual(got, []string{"/usr/bin/private_chef-ctl"}) {
		t.Errorf("11.2.0 missing job commands = %v", got)
	}
	if got := get("11.1.8").MissingJobCommands(); len(got) != 0 {
		t.Errorf("11.1.8 missing job commands = %v", got)
	}
	// omnibus-ctl per release, and SVWAIT.
	for v, want := range map[string]string{"1.2.8.3": "", "1.4.6": "0.0.6", "11.0.2": "0.0.6", "11.1.6": "0.0.7", "11.1.8": "0.0.7", "11.2.0": "0.0.8"} {
		if got := get(v).Ctl.OmnibusCtl.Value; got != want {
			t.Errorf("%s omnibus-ctl = %q, want %q", v, got, want)
		}
	}
	if get("11.1.6").Ctl.SVWAIT.Value != 0 || get("11.1.8").Ctl.SVWAIT.Value != 30 {
		t.Error("private-chef-ctl SVWAIT: want 0 in 11.1.6, 30 in 11.1.8")
	}
	// 11.0.2's keepalived has no --dump-conf and uses --use-file PATH.
	if args := get("11.0.2").Keepalived.RunArgs.Value; slices.Contains(args, "--dump-conf") || !slices.Contains(args, "--use-file") {
		t.Errorf("11.0.2 keepalived args = %v", args)
	}
	// /etc/opscode on 11.1.8.
	for _, p := range []string{"webui_priv.pem", "worker-private.pem", "pivotal.pem", "chef-server-running.json"} {
		f, ok := get("11.1.8").EtcOpscodeFile("/etc/opscode/" + p)
		if !ok || f.Owner.Value != "opscode" || f.Group.Value != "root" || f.Mode.Value != "0600" {
			t.Errorf("11.1.8 /etc/opscode/%s = %+v", p, f)
		}
	}
	// OC-11656 (commit 634da696, in 11.1.7): six services' configurations
	// become opscode's; 11.1.6's recipes set no owner.
	owners := func(v, path string) string {
		for _, f := range get(v).ServiceFiles {
			if f.Path == path {
				return f.Owner.Value + ":" + f.Group.Value + " " + f.Mode.Value
			}
		}
		return "(none)"
	}
	for _, p := range []string{"bookshelf/etc/app.config", "oc_bifrost/etc/sys.config", "opscode-certificate/etc/certificate.config",
		"opscode-chef-mover/etc/sys.config", "opscode-erchef/etc/app.config", "opscode-org-creator/etc/app.config"} {
		p = "/var/opt/opscode/" + p
		if got := owners("11.1.6", p); got != ": 0644" {
			t.Errorf("11.1.6 %s = %s", p, got)
		}
		if got := owners("11.1.8", p); got != "opscode:opscode 0644" {
			t.Errorf("11.1.8 %s = %s", p, got)
		}
	}
	// 1.2.8's ha-status expects postgres running on the passive node.
	if ha := get("1.2.8.3").HAStatusServices(); slices.Contains(ha, "postgres") || !slices.Contains(ha, "php-fpm") || !slices.Contains(ha, "couchdb") {
		t.Errorf("1.2.8.3 ha-status HA services = %v", ha)
	}
	if ha := get("1.4.6").HAStatusServices(); !slices.Contains(ha, "postgresql") {
		t.Errorf("1.4.6 ha-status HA services = %v", ha)
	}
	// keepalived 1.1.20 (vrrp_unicast_* syntax) until 11.0.x, 1.2.9 after;
	// oc_authz_migrator 0.0.3 from 11.1.7.
	for v, want := range map[string]string{"11.0.2": "1.1.20", "11.1.6": "1.2.9"} {
		if got, _ := get(v).SoftwareVersion("keepalived"); got != want {
			t.Errorf("%s keepalived = %s, want %s", v, got, want)
		}
	}
	if got, _ := get("11.1.8").SoftwareVersion("oc_authz_migrator"); got != "0.0.3" {
		t.Errorf("11.1.8 oc_authz_migrator = %s", got)
	}
	if last := get("11.1.8").LastLevel.Value; last != (Level{Major: 1, Minor: 13}) {
		t.Errorf("11.1.8 last level = %v", last)
	}
}

func TestLookupReturnsACopy(t *testing.T) {
	a, _ := Lookup("11.1.8")
	a.Services[0].Name = "changed"
	a.Ctl.Commands[0].Name = "changed"
	a.Keepalived.RunArgs.Value[0] = "changed"
	b, _ := Lookup("11.1.8")
	if b.Services[0].Name == "changed" || b.Ctl.Commands[0].Name == "changed" || b.Keepalived.RunArgs.Value[0] == "changed" {
		t.Error("a change to one Lookup's result reached the table")
	}
	if _, err := LeftoverJobs("11.1.8", "0.0"); err == nil {
		t.Error("LeftoverJobs with an unknown release: no error")
	}
}

func TestAccessors(t *testing.T) {
	r, _ := Lookup("11.1.8")
	if got := r.ServicesFor(Frontend); !reflect.DeepEqual(got, []string{"nginx", "oc_bifrost", "opscode-account", "opscode-certificate", "opscode-erchef", "opscode-webui"}) {
		t.Errorf("11.1.8 front end = %v", got)
	}
	if slices.Contains(r.ServicesFor(Backend), "opscode-chef-mover") || !slices.Contains(r.ServicesFor(Bootstrap), "opscode-chef-mover") {
		t.Error("chef-mover role")
	}
	if slices.Contains(r.HAServices(), "keepalived") || !slices.Contains(r.HAServices(), "postgresql") {
		t.Errorf("HA services = %v", r.HAServices())
	}
	if !r.HasCommand("ha-status") || r.HasCommand("up") {
		t.Error("HasCommand: ha-status yes, up no (omnibus-ctl has no up command)")
	}
	if d, ok := r.Keepalived.Directive("state"); !ok || d.Value.Value != "BACKUP" {
		t.Errorf("state directive = %+v", d)
	}
	if _, ok := r.LogDir("nope"); ok {
		t.Error("LogDir of an unknown service")
	}
}

func TestNearest(t *testing.T) {
	for _, tt := range []struct {
		version, want string
		exact, ok     bool
	}{
		{"11.1.8", "11.1.8", true, true},
		{"11.1.7", "11.1.6", false, true},
		{"11.1.2", "11.0.2", false, true},
		{"1.2.8", "1.2.8.3", false, true},
		{"12.0.0", "11.2.0", false, true},
		{"1.0.0", "", false, false},
		{"eleven", "", false, false},
	} {
		r, exact, ok := Nearest(tt.version)
		if ok != tt.ok || exact != tt.exact || r.Version != tt.want {
			t.Errorf("Nearest(%q) = %q, %v, %v; want %q, %v, %v", tt.version, r.Version, exact, ok, tt.want, tt.exact, tt.ok)
		}
	}
}

// Every runsvdir job a release ever wrote is known, 11.2.0's stray one
// too, so the facts read and the recovery stops each.
func TestRunsvdirJobs(t *testing.T) {
	want := []string{"opscode-runsvdir", "private-chef-runsvdir", "private_chef-runsvdir"}
	if got := RunsvdirJobs(); !slices.Equal(got, want) {
		t.Errorf("RunsvdirJobs() = %q, want %q", got, want)
	}
}

// A damaged table is an error naming the file, never a panic, and a
// damaged release spoils only the calls that read it.
func TestDamagedTable(t *testing.T) {
	good := `{"version": "1.0"}`
	for _, tt := range []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"no index", fstest.MapFS{}, "read embedded r/index.json"},
		{"bad index", fstest.MapFS{"r/index.json": {Data: []byte(`{"versions": [`)}}, "parse embedded r/index.json"},
		{"no releases", fstest.MapFS{"r/index.json": {Data: []byte(`{"versions": []}`)}}, "r/index.json has no releases"},
		{"not a version", fstest.MapFS{"r/index.json": {Data: []byte(`{"versions": ["../x"]}`)}}, `release "../x" is not a version`},
		{"twice", fstest.MapFS{"r/index.json": {Data: []byte(`{"versions": ["1.0", "1.0"]}`)}}, "release 1.0 twice"},
	} {
		if _, err := loadIndex(tt.files, "r"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}

	tab, err := loadIndex(fstest.MapFS{
		"r/index.json": {Data: []byte(`{"versions": ["1.0", "2.0", "3.0", "4.0"]}`)},
		"r/1.0.json":   {Data: []byte(good)},
		"r/2.0.json":   {Data: []byte(`{"version": `)},
		"r/3.0.json":   {Data: []byte(good)},
	}, "r")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := tab.release(0); err != nil || r.Version != "1.0" {
		t.Errorf("release 1.0 = %v, %v", r, err)
	}
	for i, want := range map[int]string{
		1: "parse embedded r/2.0.json",
		2: `embedded r/3.0.json holds release "1.0", want 3.0`,
		3: "read embedded r/4.0.json",
	} {
		if _, err := tab.release(i); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("release %d: %v, want %q", i, err, want)
		}
	}
	if _, err := tab.all(); err == nil {
		t.Error("all with damaged releases: no error")
	}
}

// Asking for one release reads that one alone: what the lab's node
// program, started for every command, pays for.
func TestNearestReadsOneRelease(t *testing.T) {
	t.Cleanup(resetCaches)
	var opened []string
	load = sync.OnceValues(func() (*table, error) {
		return loadIndex(openLog{releasesFS, &opened}, "releases")
	})
	for range 2 {
		if r, _, ok := Nearest("11.1.7"); !ok || r.Version != "11.1.6" {
			t.Fatalf("Nearest(11.1.7) = %q, %v", r.Version, ok)
		}
	}
	if !slices.Equal(Versions(), []string{"1.2.8.3", "1.4.6", "11.0.2", "11.1.6", "11.1.8", "11.2.0"}) {
		t.Errorf("Versions() = %v", Versions())
	}
	if want := []string{"releases/index.json", "releases/11.1.6.json"}; !slices.Equal(opened, want) {
		t.Errorf("opened %q, want %q", opened, want)
	}
}

// openLog is a file system that notes the name of each file opened.
type openLog struct {
	fsys   fs.FS
	opened *[]string
}

func (l openLog) Open(name string) (fs.File, error) {
	*l.opened = append(*l.opened, name)
	return l.fsys.Open(name)
}

// A release handed out is the caller's: no slice in it, however deep,
// shares its array with the table's cached copy (a field added to Release
// and forgotten in clone fails here).
func TestCloneSharesNoSlice(t *testing.T) {
	for _, v := range Versions() {
		orig, ok := Lookup(v)
		if !ok {
			t.Fatalf("no %s", v)
		}
		cp := orig.clone()
		var walk func(path string, a, b reflect.Value)
		walk = func(path string, a, b reflect.Value) {
			switch a.Kind() {
			case reflect.Slice:
				if a.Cap() > 0 && a.Pointer() == b.Pointer() {
					t.Errorf("%s %s: the clone shares the slice", v, path)
				}
				for i := 0; i < a.Len(); i++ {
					walk(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i))
				}
			case reflect.Struct:
				for i := 0; i < a.NumField(); i++ {
					walk(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
				}
			case reflect.Pointer:
				if !a.IsNil() {
					if a.Pointer() == b.Pointer() {
						t.Errorf("%s %s: the clone shares the pointer", v, path)
					}
					walk(path, a.Elem(), b.Elem())
				}
			}
		}
		walk("Release", reflect.ValueOf(orig), reflect.ValueOf(cp))
	}
}

func TestNeverHA(t *testing.T) {
	if got, want := NeverHA(), []string{"keepalived", "nrpe", "opscode-chef-mover"}; !slices.Equal(got, want) {
		t.Errorf("NeverHA() = %v, want %v", got, want)
	}
}
