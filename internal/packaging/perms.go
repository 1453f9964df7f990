package packaging

import (
	"fmt"
	"io/fs"
	"slices"
	"strconv"
)

// Owners and modes as the recipes' resources set them: what the model of a
// node lays down and what the checks expect, read from one place.

// RecipeRuns reports whether a recipe's resources apply on a role: a
// service's recipe where its service runs (recipes/default.rb includes it
// when the service is enabled), any other recipe (default, log_cleanup,
// orgmapper) everywhere.
func (r Release) RecipeRuns(recipe string, role Role) bool {
	for _, s := range r.Services {
		if s.Recipe == recipe {
			return s.Runs(role)
		}
	}
	return true
}

// EtcOpscodeFor returns the /etc/opscode resources whose recipe runs on
// the role, in the table's order.
func (r Release) EtcOpscodeFor(role Role) []File { return r.filesFor(r.EtcOpscode, role) }

// filesFor returns the files whose recipe runs on the role, in order.
func (r Release) filesFor(files []File, role Role) []File {
	var out []File
	for _, f := range files {
		if r.RecipeRuns(f.Recipe, role) {
			out = append(out, f)
		}
	}
	return out
}

// IsServiceRecipe reports whether the recipe declares one of the
// release's services (the bootstrap and partybus recipes do not).
func (r Release) IsServiceRecipe(recipe string) bool {
	return slices.ContainsFunc(r.Services, func(s Service) bool { return s.Recipe == recipe })
}

// ServiceFilesFor returns the service files whose recipe runs on the
// role, in the table's order.
func (r Release) ServiceFilesFor(role Role) []File { return r.filesFor(r.ServiceFiles, role) }

// NeverHA returns the services that run on a back end whatever its
// keepalived role, sorted: those some release defines and none makes HA
// (keepalived itself, 1.x's nrpe, EC 11's opscode-chef-mover).
func NeverHA() []string {
	var seen, ha []string
	for _, r := range every() {
		for _, s := range r.Services {
			seen = append(seen, s.Name)
			if s.HA.Value {
				ha = append(ha, s.Name)
			}
		}
	}
	var out []string
	for _, s := range seen {
		if !slices.Contains(ha, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// ServiceFilePaths returns every path a release's recipes lay down for its
// services, once each and sorted: what a node's facts stat, whatever its
// release.
func ServiceFilePaths() []string {
	var out []string
	for _, r := range every() {
		for _, f := range r.ServiceFiles {
			if !f.Conditional && !slices.Contains(out, f.Path) {
				out = append(out, f.Path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// EnforcedFiles returns the files of a list (a release's EtcOpscode or
// ServiceFiles) every reconfigure applies, each path once with its last
// declaration's values: a later resource for the same path wins in Chef.
func EnforcedFiles(files []File) []File {
	var out []File
	for i, f := range files {
		if slices.ContainsFunc(out, func(o File) bool { return o.Path == f.Path }) {
			continue
		}
		last := f
		for _, g := range files[i+1:] {
			if g.Path == f.Path {
				last = g
			}
		}
		if last.Enforced() {
			out = append(out, last)
		}
	}
	return out
}

// Enforced reports whether every reconfigure sets the resource's owner
// and mode: a file, template or directory resource under no condition,
// whose owner, group and mode the generator read. Conditional resources,
// and the secrets file a library writes, are the recipes' business only
// sometimes, so nobody can expect them.
func (f File) Enforced() bool {
	switch f.Kind {
	case "file", "template", "directory":
	default:
		return false
	}
	return !f.Conditional && f.Owner.Value != "" && f.Group.Value != "" && f.Mode.Value != "" &&
		f.Owner.Known() && f.Group.Known() && f.Mode.Known()
}

// ParseMode reads a resource's mode ("0600", "755") as permission bits.
func ParseMode(mode string) (fs.FileMode, error) {
	v, err := strconv.ParseUint(mode, 8, 32)
	if err != nil || v > 0o7777 {
		return 0, fmt.Errorf("packaging: mode %q is not octal permission bits", mode)
	}
	m := fs.FileMode(v & 0o777)
	for bit, fm := range map[uint64]fs.FileMode{0o4000: fs.ModeSetuid, 0o2000: fs.ModeSetgid, 0o1000: fs.ModeSticky} {
		if v&bit != 0 {
			m |= fm
		}
	}
	return m, nil
}
