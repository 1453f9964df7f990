package migration

import (
	"fmt"
	"sort"
	"strings"
)

// NodeLevel is what one node's migration-level file held.
type NodeLevel struct {
	Node     string
	Frontend bool
	Level    Level
	Err      error // the file was missing, empty or corrupt; Level is meaningless
}

// Mismatch is a node whose level is not the one it should hold.
type Mismatch struct {
	NodeLevel
	Want Level
}

func (m Mismatch) String() string {
	if m.Err != nil {
		return fmt.Sprintf("%s: %v (want %s)", m.Node, m.Err, m.Want)
	}
	return fmt.Sprintf("%s: migration-level %s, want %s", m.Node, m.Level, m.Want)
}

// Comparison is the cross-node view of OC-11297: HA back ends lose their
// level because DRBD setup interrupts the install, while the front ends keep
// the right one.
type Comparison struct {
	Want       Level    // the level every node should hold
	WantFrom   string   // why: "expected for the installed version" or "held by the front ends"
	Frontend   *Level   // the level all readable front ends agree on, if any
	Frontends  []string // the front ends holding Frontend: where to copy the file from
	Mismatches []Mismatch
}

// OK reports whether every node holds Want.
func (c Comparison) OK() bool { return len(c.Mismatches) == 0 }

// FrontendsDisagreeError is returned when the front ends hold different
// levels, so there is no trustworthy copy to take.
type FrontendsDisagreeError struct{ Levels map[string]Level }

func (e *FrontendsDisagreeError) Error() string {
	names := make([]string, 0, len(e.Levels))
	for n := range e.Levels {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + e.Levels[n].String()
	}
	return "migration-level differs between front ends: " + strings.Join(parts, ", ")
}

// Compare judges the levels read from every node. expected, when not nil, is
// the level for the installed version (see Expected) and wins; otherwise the
// front ends' common level is taken as right, as the runbook does. With
// neither there is nothing to compare against and Compare returns an error.
func Compare(nodes []NodeLevel, expected *Level) (Comparison, error) {
	var c Comparison
	fe := map[string]Level{}
	for _, n := range nodes {
		if n.Frontend && n.Err == nil {
			fe[n.Node] = n.Level
			c.Frontends = append(c.Frontends, n.Node)
		}
	}
	sort.Strings(c.Frontends)
	for _, name := range c.Frontends {
		l := fe[name]
		if c.Frontend == nil {
			c.Frontend = &l
		} else if *c.Frontend != l {
			return Comparison{}, &FrontendsDisagreeError{Levels: fe}
		}
	}
	switch {
	case expected != nil:
		c.Want, c.WantFrom = *expected, "expected for the installed version"
	case c.Frontend != nil:
		c.Want, c.WantFrom = *c.Frontend, "held by the front ends ("+strings.Join(c.Frontends, ", ")+")"
	default:
		return Comparison{}, fmt.Errorf("migration: no front end has a readable migration-level and no expected level was given")
	}
	for _, n := range nodes {
		if n.Err != nil || n.Level != c.Want {
			c.Mismatches = append(c.Mismatches, Mismatch{NodeLevel: n, Want: c.Want})
		}
	}
	return c, nil
}

// Fix says what to do about the mismatches, naming the source to copy from
// when a front end holds the right level.
func (c Comparison) Fix() string {
	if c.OK() {
		return ""
	}
	if c.Frontend != nil && *c.Frontend == c.Want {
		return fmt.Sprintf("copy %s from front end %s to %s", Path, c.Frontends[0], strings.Join(c.mismatchNodes(), ", "))
	}
	return fmt.Sprintf("write %q to %s on %s (no front end holds %s to copy from)", strings.TrimSpace(string(Format(c.Want))), Path, strings.Join(c.mismatchNodes(), ", "), c.Want)
}

func (c Comparison) mismatchNodes() []string {
	out := make([]string, len(c.Mismatches))
	for i, m := range c.Mismatches {
		out[i] = m.Node
	}
	return out
}
