package packaging

import (
	"fmt"
	"io/fs"
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
func (r Release) EtcOpscodeFor(role Role) []File {
	var out []File
	for _, f := range r.EtcOpscode {
		if r.RecipeRuns(f.Recipe, role) {
			out = append(out, f)
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
