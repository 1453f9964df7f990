// Package packaging holds facts about each Private Chef / Enterprise Chef
// release as Chef's packaging sources define them: the runit services and
// the roles that run them, which ones keepalived moves, their log
// directories with owner and mode, the Upstart jobs, private-chef-ctl's
// omnibus-ctl version and commands, the files under /etc/opscode,
// keepalived.conf, and partybus's migrations.
//
// The facts are extracted mechanically from the sources by ./gen and
// committed under releases/, which this package embeds: index.json (the
// inputs, the versions) and one VERSION.json per release, each decoded the
// first time it is asked for, so that a process needing one release (the
// lab's node program, started for every command) pays for that one alone.
// Every fact names the repo@ref:path:line it was read from. The model of a
// node and the pre-flight checks read their expectations from here, so
// that one reading of the packaging serves both and cannot be typed twice.
package packaging

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
)

//go:embed releases/*.json
var releasesFS embed.FS

// load reads the embedded index once per process.
var load = sync.OnceValues(loadEmbedded)

func loadEmbedded() (*table, error) { return loadIndex(releasesFS, "releases") }

// table is the table as the package reads it: the index at once, each
// release the first time it is asked for.
type table struct {
	Index
	// releases decode Versions[i], once each.
	releases []func() (*Release, error)
}

// loadIndex reads dir's index file from fsys and prepares each release's
// decoding, reading none of them.
func loadIndex(fsys fs.FS, dir string) (*table, error) {
	name := path.Join(dir, IndexFile)
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("packaging: read embedded %s: %w", name, err)
	}
	t := &table{}
	if err := json.Unmarshal(data, &t.Index); err != nil {
		return nil, fmt.Errorf("packaging: parse embedded %s: %w", name, err)
	}
	if len(t.Versions) == 0 {
		return nil, fmt.Errorf("packaging: embedded %s has no releases", name)
	}
	for i, v := range t.Versions {
		// A version is also a file name: digits and dots only.
		if _, ok := versionNumbers(v); !ok {
			return nil, fmt.Errorf("packaging: embedded %s: release %q is not a version", name, v)
		}
		if slices.Contains(t.Versions[:i], v) {
			return nil, fmt.Errorf("packaging: embedded %s: release %s twice", name, v)
		}
		t.releases = append(t.releases, sync.OnceValues(func() (*Release, error) {
			return loadRelease(fsys, path.Join(dir, ReleaseFile(v)), v)
		}))
	}
	return t, nil
}

// loadRelease decodes the release the file name holds, which must be
// version.
func loadRelease(fsys fs.FS, name, version string) (*Release, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("packaging: read embedded %s: %w", name, err)
	}
	var r Release
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("packaging: parse embedded %s: %w", name, err)
	}
	if r.Version != version {
		return nil, fmt.Errorf("packaging: embedded %s holds release %q, want %s", name, r.Version, version)
	}
	return &r, nil
}

// release returns Versions[i]'s release, shared: callers clone it.
func (t *table) release(i int) (*Release, error) { return t.releases[i]() }

// all returns every release in the table's order, shared: callers clone
// them.
func (t *table) all() ([]*Release, error) {
	out := make([]*Release, len(t.releases))
	for i := range t.releases {
		r, err := t.release(i)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// every returns each release of the embedded table, oldest first, for the
// facts that hold across releases (what any node may have, whatever it
// runs now); nil when the table cannot be read.
func every() []*Release {
	t, err := load()
	if err != nil {
		return nil
	}
	rels, err := t.all()
	if err != nil {
		return nil
	}
	return rels
}

// Load returns a copy of the embedded table (each release decoded once
// per process), or why it cannot be read.
func Load() (Table, error) {
	t, err := load()
	if err != nil {
		return Table{}, err
	}
	rels, err := t.all()
	if err != nil {
		return Table{}, err
	}
	out := Table{Generated: t.Generated, Regenerate: t.Regenerate}
	out.Inputs = make([]Input, len(t.Inputs))
	for i, in := range t.Inputs {
		out.Inputs[i] = Input{Repo: in.Repo, Refs: slices.Clone(in.Refs)}
	}
	out.Releases = make([]Release, len(rels))
	for i, r := range rels {
		out.Releases[i] = r.clone()
	}
	return out, nil
}

// Versions returns the release versions in the table, oldest first; nil
// when the embedded index cannot be read (Load says why). It decodes no
// release.
func Versions() []string {
	t, err := load()
	if err != nil {
		return nil
	}
	return slices.Clone(t.Versions)
}

// Lookup returns the release with the exact version (1.2.8.3, 11.1.8), a
// copy the caller may keep; false when there is none or the embedded
// table cannot be read. It decodes that release only.
func Lookup(version string) (Release, bool) {
	t, err := load()
	if err != nil {
		return Release{}, false
	}
	i := slices.Index(t.Versions, version)
	if i < 0 {
		return Release{}, false
	}
	r, err := t.release(i)
	if err != nil {
		return Release{}, false
	}
	return r.clone(), true
}

// Nearest returns the release whose facts stand for version: the table's
// release with the greatest version not above it (11.1.7 is read as
// 11.1.6, 1.2.8 as 1.2.8 before 1.2.8.3's patch level is known, 11.1.2 as
// 11.0.2); exact says version is in the table. The table holds the
// releases chefha upgrades from and to; a release between two of them is
// taken to be like the one below, which holds for the facts the checks
// read (log directories, their owners, the Upstart job) but is a reading,
// not a fact: callers say so where it matters. False when version is
// below every release in the table or not a version, or when that
// release cannot be read. It decodes the release it returns only.
func Nearest(version string) (r Release, exact bool, ok bool) {
	t, err := load()
	if err != nil {
		return Release{}, false, false
	}
	i, exact, ok := nearest(t.Versions, version)
	if !ok {
		return Release{}, false, false
	}
	rel, err := t.release(i)
	if err != nil {
		return Release{}, false, false
	}
	return rel.clone(), exact, true
}

// nearest returns the index in versions (oldest first) of the one that
// stands for version, as Nearest says.
func nearest(versions []string, version string) (i int, exact bool, ok bool) {
	want, good := versionNumbers(version)
	if !good {
		return 0, false, false
	}
	best := -1
	for i, v := range versions {
		have, _ := versionNumbers(v)
		// 1.2.8 is 1.2.8.3's line: a shorter version matches its prefix.
		if slices.Equal(have[:min(len(have), len(want))], want) {
			return i, v == version, true
		}
		if slices.Compare(have, want) <= 0 && (best < 0 || slices.Compare(have, mustNumbers(versions[best])) > 0) {
			best = i
		}
	}
	return best, false, best >= 0
}

// versionNumbers splits a dotted version into its numbers.
func versionNumbers(v string) ([]int, bool) {
	var out []int
	for _, f := range strings.Split(v, ".") {
		n := 0
		if f == "" {
			return nil, false
		}
		for _, c := range f {
			if c < '0' || c > '9' {
				return nil, false
			}
			n = n*10 + int(c-'0')
		}
		out = append(out, n)
	}
	return out, len(out) > 0
}

func mustNumbers(v string) []int { n, _ := versionNumbers(v); return n }

// Service returns the named runit service.
func (r Release) Service(name string) (Service, bool) {
	for _, s := range r.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// Retired returns the services the recipes disable by name and the release
// does not define: what an upgrade to it leaves behind or removes.
func (r Release) Retired() []string {
	var out []string
	for _, a := range r.ServiceActions {
		if !slices.Contains(a.Actions, "disable") || slices.Contains(out, a.Service) {
			continue
		}
		if _, defined := r.Service(a.Service); !defined {
			out = append(out, a.Service)
		}
	}
	slices.Sort(out)
	return out
}

// Retirement returns the action that disables a retired service (see
// Retired), with what its recipe does around it: the stop before, the
// removal of its sv directory after.
func (r Release) Retirement(name string) (ServiceAction, bool) {
	if _, defined := r.Service(name); defined {
		return ServiceAction{}, false
	}
	for _, a := range r.ServiceActions {
		if a.Service == name && slices.Contains(a.Actions, "disable") {
			return a, true
		}
	}
	return ServiceAction{}, false
}

// ServiceNames returns the names of the release's runit services, sorted.
func (r Release) ServiceNames() []string {
	out := make([]string, len(r.Services))
	for i, s := range r.Services {
		out[i] = s.Name
	}
	return out
}

// Runs reports whether the service's recipe is enabled on a role.
func (s Service) Runs(role Role) bool {
	switch role {
	case Standalone:
		return s.Standalone.Value
	case Backend:
		return s.Backend.Value
	case Bootstrap:
		return s.Bootstrap.Value
	case Frontend:
		return s.Frontend.Value
	}
	return false
}

// ServicesFor returns the services a node of the role runs, sorted;
// services kept down (Action "down") are included, as they are defined
// and linked.
func (r Release) ServicesFor(role Role) []string {
	var out []string
	for _, s := range r.Services {
		if s.Runs(role) {
			out = append(out, s.Name)
		}
	}
	return out
}

// HAServices returns the services keepalived moves, sorted.
func (r Release) HAServices() []string {
	var out []string
	for _, s := range r.Services {
		if s.HA.Value {
			out = append(out, s.Name)
		}
	}
	return out
}

// HAStatusServices returns the services private-chef-ctl ha-status
// expects down on the passive back end, sorted: with the "keepalive_me"
// rule, those reconfigure marks with keepalive_me; with "attribute-ha"
// (1.x), those whose name is an attribute key whose 'ha' is true, plus
// the command's own list. A 1.x HA service named otherwise (1.2.8's
// postgres, key postgresql) is one ha-status expects running everywhere.
func (r Release) HAStatusServices() []string {
	var out []string
	for _, s := range r.Services {
		switch r.Ctl.HAStatus.Value {
		case "keepalive_me":
			if s.KeepaliveMe.Value == "created" {
				out = append(out, s.Name)
			}
		case "attribute-ha":
			if s.Name == s.AttributeKey.Value && s.HAAttribute.Value || slices.Contains(r.Ctl.HAStatusExtra.Value, s.Name) {
				out = append(out, s.Name)
			}
		}
	}
	return out
}

// LogDir returns the svlogd directory of a service.
func (r Release) LogDir(service string) (string, bool) {
	s, ok := r.Service(service)
	if !ok {
		return "", false
	}
	return s.Log.Path.Value, s.Log.Path.Value != ""
}

// EtcOpscodeFile returns the last declaration of a path under
// /etc/opscode (Chef applies resources in order, so the last one's owner
// and mode stand).
func (r Release) EtcOpscodeFile(path string) (File, bool) {
	var out File
	found := false
	for _, f := range r.EtcOpscode {
		if f.Path == path {
			out, found = f, true
		}
	}
	return out, found
}

// HasCommand reports whether private-chef-ctl answers the command.
func (r Release) HasCommand(name string) bool {
	for _, c := range r.Ctl.Commands {
		if c.Name == name {
			return true
		}
	}
	return false
}

// Directive returns the first keepalived.conf directive with the keyword.
func (k Keepalived) Directive(keyword string) (Directive, bool) {
	for _, d := range k.Directives {
		if d.Keyword == keyword {
			return d, true
		}
	}
	return Directive{}, false
}

// SoftwareVersion returns the version the release builds of an omnibus
// software definition (oc_authz_migrator, keepalived, ...).
func (r Release) SoftwareVersion(name string) (string, bool) {
	for _, s := range r.Software {
		if s.Name == name {
			return s.Version.Value, true
		}
	}
	return "", false
}
