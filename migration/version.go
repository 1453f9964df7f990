package migration

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/Masterminds/semver/v3"
)

// Release is one row of the version table: the releases from Min up to (not
// including) Max leave the node at Level.
type Release struct {
	Product string // "Private Chef" or "Enterprise Chef"
	Min     *semver.Version
	Max     *semver.Version
	Level   Level
	Source  string // where the row comes from
}

// Contains reports whether v falls in the release's range.
func (r Release) Contains(v *semver.Version) bool {
	return !v.LessThan(r.Min) && v.LessThan(r.Max)
}

func (r Release) String() string {
	return fmt.Sprintf("%s %s ≤ v < %s → %s", r.Product, r.Min, r.Max, r.Level)
}

// Table returns the known releases, oldest first. Rows come from the runbook
// (1.4.6+ → 1.7, 11.0.x → 1.12, 11.1.3+ → 1.13) narrowed by the packaging
// sources: 1.2.8.x shipped 1.4, and 11.1.0–11.3.x all end at 1.13. Releases
// outside these rows (1.2.0–1.2.7, 1.4.0–1.4.5, 11.4+) are unknown on
// purpose: Expected reports them instead of guessing.
func Table() []Release {
	v := semver.MustParse
	return []Release{
		{"Private Chef", v("1.2.8"), v("1.3.0"), Level{1, 4}, "opscode-omnibus 1.2.8.3"},
		{"Private Chef", v("1.4.6"), v("1.5.0"), Level{1, 7}, "runbook: Private Chef 1.4.6+"},
		{"Enterprise Chef", v("11.0.0"), v("11.1.0"), Level{1, 12}, "runbook: Enterprise Chef 11.0.x"},
		{"Enterprise Chef", v("11.1.0"), v("11.4.0"), Level{1, 13}, "runbook: Enterprise Chef 11.1.3+; packaging 11.1.x–11.3.x"},
	}
}

// UnknownVersionError is returned by Expected for a release outside Table.
type UnknownVersionError struct{ Version *semver.Version }

func (e *UnknownVersionError) Error() string {
	return fmt.Sprintf("no known migration level for version %s (known: 1.2.8.x, 1.4.6+, 11.0.x, 11.1.x–11.3.x)", e.Version)
}

// Expected returns the level a node running release v should hold once its
// upgrade finished. Pre-release and build metadata are ignored.
func Expected(v *semver.Version) (Level, error) {
	if v == nil {
		return Level{}, fmt.Errorf("migration: Expected: nil version")
	}
	core, _ := v.SetPrerelease("")
	core, _ = core.SetMetadata("")
	for _, r := range Table() {
		if r.Contains(&core) {
			return r.Level, nil
		}
	}
	return Level{}, &UnknownVersionError{Version: v}
}

var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?(?:[-+~].*)?$`)

// ParseVersion reads a package version as the packages and
// `private-chef-ctl version` print it: "1.4.6", "1.2.8.3" (a fourth part,
// which semver has no room for: it goes to the metadata), "11.1.8-1" (a
// package revision), "11.1.8-1.el6". Only the first three parts decide the
// migration level.
func ParseVersion(s string) (*semver.Version, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("migration: %q is not a Chef package version", s)
	}
	var n [3]uint64
	for i := range n {
		x, err := strconv.ParseUint(m[i+1], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("migration: %q: %w", s, err)
		}
		n[i] = x
	}
	v := semver.New(n[0], n[1], n[2], "", m[4])
	return v, nil
}
