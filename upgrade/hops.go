package upgrade

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/internal/packaging"
	"github.com/chefha/chefha/migration"
)

// Hop is one package upgrade of the whole cluster.
type Hop struct {
	From, To    *semver.Version
	LevelBefore migration.Level // the migration level every node holds before
	LevelAfter  migration.Level // and after
}

func (h Hop) String() string {
	return fmt.Sprintf("%s → %s (migration level %s → %s)", h.From, h.To, h.LevelBefore, h.LevelAfter)
}

// PlanError says why a path cannot be planned. Mandatory problems can never
// be overridden; skippable ones (a path the runbook does not cover but
// partybus can run) may be, when the plan is told to allow them
// (WithSkippable), as kubeadm splits its preflight.
type PlanError struct {
	Mandatory []string
	Skippable []string
}

func (e *PlanError) Error() string {
	parts := append([]string{}, e.Mandatory...)
	for _, s := range e.Skippable {
		parts = append(parts, s+" (skippable: allowed only when asked for)")
	}
	return "upgrade plan: " + strings.Join(parts, "; ")
}

// OnlySkippable reports whether allowing skippable paths overrides the error.
func (e *PlanError) OnlySkippable() bool { return len(e.Mandatory) == 0 && len(e.Skippable) > 0 }

var (
	v146  = semver.MustParse("1.4.6")
	v150  = semver.MustParse("1.5.0")
	v1100 = semver.MustParse("11.0.0")
	v1110 = semver.MustParse("11.1.0")
	v1113 = semver.MustParse("11.1.3")
)

// PlanHops plans the upgrade from the installed version to the target.
// Private Chef 1.2.x goes to 1.4.6 first, on all systems; 1.4.6+ and
// 11.0.x go to 11.1.3+; the same version is no hop. Downgrades, versions
// without a known migration level and paths the runbook does not know are
// mandatory errors naming the missing hop; a target below 11.1.3 (which
// the runbook warns against) is skippable. Hops are returned with a
// skippable error, so a plan that allows skippable paths can use them.
func PlanHops(from, to *semver.Version) ([]Hop, error) {
	if from == nil || to == nil {
		return nil, &PlanError{Mandatory: []string{"no version given"}}
	}
	pe := &PlanError{}
	if to.LessThan(from) {
		pe.Mandatory = append(pe.Mandatory, fmt.Sprintf("%s → %s is a downgrade: restore the %s backup instead", from, to, from))
		return nil, pe
	}
	if from.Equal(to) {
		return nil, nil
	}
	if _, err := migration.Expected(from); err != nil {
		pe.Mandatory = append(pe.Mandatory, fmt.Sprintf("installed version %s has no known migration level: upgrade it to a supported release (1.2.8, 1.4.6+, 11.0.x, 11.1.x) by hand first", from))
	}
	if _, err := migration.Expected(to); err != nil {
		pe.Mandatory = append(pe.Mandatory, fmt.Sprintf("target %s has no known migration level: chefha knows 1.4.6+, 11.0.x and 11.1.x–11.3.x", to))
	}
	if len(pe.Mandatory) > 0 {
		return nil, pe
	}
	var stops []*semver.Version
	cur := from
	if cur.Major() == 1 && cur.Minor() == 2 {
		// The runbook: 1.2.x REQUIRES 1.4.6+ first, on all systems.
		if to.LessThan(v146) {
			pe.Mandatory = append(pe.Mandatory, fmt.Sprintf("%s → %s: the only hop from 1.2.x is to 1.4.6+", from, to))
			return nil, pe
		}
		stops = append(stops, v146)
		cur = v146
	}
	if !to.Equal(cur) {
		switch {
		case !cur.LessThan(v146) && cur.LessThan(v150): // 1.4.6+
			if to.LessThan(v150) {
				break // a 1.4.x patch release
			}
			if to.LessThan(v1100) {
				pe.Mandatory = append(pe.Mandatory, fmt.Sprintf("no hop from %s to %s", cur, to))
				return nil, pe
			}
			if to.LessThan(v1113) {
				pe.Skippable = append(pe.Skippable, fmt.Sprintf("%s → %s: the runbook upgrades 1.4.6+ to 11.1.3+ only; missing hop %s → 11.1.3+", cur, to, cur))
			}
		case !cur.LessThan(v1100) && cur.LessThan(v1110): // 11.0.x
			if to.LessThan(v1113) && !to.LessThan(v1110) {
				pe.Skippable = append(pe.Skippable, fmt.Sprintf("%s → %s: the runbook's target is 11.1.3+", cur, to))
			}
		}
		stops = append(stops, to)
	}
	if why := upstartTrouble(cur, to); why != "" {
		pe.Skippable = append(pe.Skippable, why)
	}
	var hops []Hop
	prev := from
	for _, s := range stops {
		before, _ := migration.Expected(prev)
		after, _ := migration.Expected(s)
		hops = append(hops, Hop{From: prev, To: s, LevelBefore: before, LevelAfter: after})
		prev = s
	}
	if len(pe.Skippable) > 0 {
		return hops, pe
	}
	return hops, nil
}

// upstartTrouble says what a hop to a release does wrong to the Upstart
// jobs that run runsvdir, read from the packaging (runit_upstart.rb, the
// job template, postinst): 11.2.0's reconfigure writes and starts
// private_chef-runsvdir, whose pre-stop runs /usr/bin/private_chef-ctl,
// which its package does not install, and leaves 11.x's
// private-chef-runsvdir running beside it, two runsvdirs supervising one
// directory (fixed in 11.2.1: enterprise-chef-common 0.4.5). "" when
// nothing is wrong, or the packaging does not know the target.
func upstartTrouble(from, to *semver.Version) string {
	rel, exact, ok := packaging.Nearest(to.String())
	if !ok || !exact {
		return ""
	}
	var why []string
	if missing := rel.MissingJobCommands(); len(missing) > 0 {
		why = append(why, fmt.Sprintf("its reconfigure starts the Upstart job %s, whose pre-stop runs %s, which the package does not install, so the job cannot be stopped cleanly",
			strings.Join(rel.JobNames(), ", "), strings.Join(missing, ", ")))
	}
	if fromRel, _, ok := packaging.Nearest(from.String()); ok {
		if left, err := packaging.LeftoverJobs(fromRel.Version, rel.Version); err == nil && len(left) > 0 {
			why = append(why, fmt.Sprintf("it leaves %s's job %s running beside it: two runsvdirs supervise /opt/opscode/service", fromRel.Version, strings.Join(left, ", ")))
		}
	}
	if len(why) == 0 {
		return ""
	}
	return fmt.Sprintf("%s → %s: %s; choose a later release (11.2.1 fixed it)", from, to, strings.Join(why, "; "))
}
