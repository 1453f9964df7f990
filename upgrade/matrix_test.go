package upgrade_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// matrixPath is one (release, target) pair of issue 22's healthy-release
// matrix. Skippable is what the runbook's version table says of it: a
// target below 11.1.3 (the runbook recommends 11.1.3+) or 11.2.0 (whose
// Upstart job the packaging breaks, fixed in 11.2.1) plans only
// WithSkippable.
type matrixPath struct {
	to        string
	skippable bool
}

// healthyMatrix is every release the model starts and each later release
// of the model it can go to. The model's 1.2.8 is opscode-omnibus
// 1.2.8.3, the only 1.2 the packaging table holds; it goes by 1.4.6, as
// the runbook requires of 1.2.x. 11.2.0 is the newest release: it has
// no target but its own post-flight.
var healthyMatrix = []struct {
	from string
	to   []matrixPath
}{
	{"1.2.8", []matrixPath{{"1.4.6", false}, {"11.0.2", true}, {"11.1.6", false}, {"11.1.8", false}, {"11.2.0", true}}},
	{"1.4.6", []matrixPath{{"11.0.2", true}, {"11.1.6", false}, {"11.1.8", false}, {"11.2.0", true}}},
	{"11.0.2", []matrixPath{{"11.1.6", false}, {"11.1.8", false}, {"11.2.0", true}}},
	{"11.1.6", []matrixPath{{"11.1.8", false}, {"11.2.0", true}}},
	{"11.1.8", []matrixPath{{"11.2.0", true}}},
	{"11.2.0", nil},
}

// The matrix is the model's releases and the version table's paths
// between them: a release the model gains, or a path PlanHops opens or
// closes, shows here first.
func TestMatrixCoversEveryPath(t *testing.T) {
	t.Parallel()
	releases := slices.SortedFunc(maps.Keys(ecmodel.Releases()), func(a, b string) int {
		return semver.MustParse(a).Compare(semver.MustParse(b))
	})
	var froms []string
	for _, row := range healthyMatrix {
		froms = append(froms, row.from)
		var want []matrixPath
		for _, to := range releases {
			hops, err := upgrade.PlanHops(semver.MustParse(row.from), semver.MustParse(to))
			var pe *upgrade.PlanError
			switch {
			case err == nil && len(hops) > 0:
				want = append(want, matrixPath{to, false})
			case errors.As(err, &pe) && pe.OnlySkippable():
				want = append(want, matrixPath{to, true})
			}
		}
		assert.Equal(t, want, row.to, "the paths from %s", row.from)
	}
	assert.Equal(t, releases, froms, "the model's releases")
}

// deservedWarning says why a healthy cluster deserves f, a warning, on a
// path (skippable: planned only WithSkippable), and which step of the
// plan deals with it; "" when it does not deserve it (a false alarm). A
// serving cluster runs its front ends and its standby's keepalived, and
// the pre-flight was told of no backup; a prepared one (the runbook's
// steps before the upgrade done, a backup declared) deserves only the
// skippable path's warning.
func deservedWarning(f upgrade.Finding, skippable, prepared bool) (why string, step upgrade.StepKind) {
	switch {
	case f.Check == "version" && f.Symptom == "skippable" && skippable:
		return "the runbook's version table does not recommend the path; the plan takes it only WithSkippable", ""
	case prepared:
		return "", ""
	case f.Check == "backup" && f.Symptom == "none":
		return "the pre-flight was told of no backup; the plan's first step takes the one declared to it", upgrade.StepBackup
	case f.Check == "frontends-stopped" && f.Symptom == "running":
		return "a serving front end runs its services; the runner stops the front ends", upgrade.StepStopFrontends
	case f.Check == "standby-keepalived-stopped" && f.Symptom == "running":
		return "a healthy standby runs keepalived; the runner stops it", upgrade.StepStopKeepalived
	}
	return "", ""
}

// A healthy cluster of each release passes the pre-flight for each
// target it can go to with no failure and no warning but those
// deservedWarning explains, serving and then prepared as the runbook
// asks (front ends and the standby's keepalived stopped, a backup
// declared), and the path plans with packages (issue 22, item 7). At its
// own release the post-flight finds nothing, and there is nothing to
// plan. One cluster per release: a pre-flight only reads it.
func TestMatrixHealthyReleasesSimulated(t *testing.T) {
	t.Parallel()
	for _, row := range healthyMatrix {
		t.Run(row.from, func(t *testing.T) {
			t.Parallel()
			env := newUpgradeEnv(t, row.from, 1)
			t.Run("postflight", func(t *testing.T) {
				rep := matrixPreflight(t, env, row.from)
				assert.Equal(t, upgrade.ModePostFlight, rep.Mode)
				for _, f := range rep.Findings {
					assert.Equal(t, upgrade.OK, f.Severity, "%+v in:\n%s", f, table(rep))
				}
				_, err := upgrade.BuildPlan(*rep.Facts, env.options(row.from)...)
				var at *upgrade.AtTargetError
				assert.ErrorAs(t, err, &at)
			})
			for _, p := range row.to {
				t.Run("serving/"+p.to, func(t *testing.T) {
					rep := matrixPreflight(t, env, p.to)
					assertDeserved(t, rep, p.skippable, false)
					matrixPlan(t, env, rep, p)
				})
			}
			for _, k := range healthy() {
				require.NoError(t, env.sim.Plant(k))
			}
			env.clock.Advance(time.Minute) // what stopping keepalived set in motion is over
			for _, n := range env.sim.Nodes {
				n.Settle()
			}
			for _, p := range row.to {
				t.Run("prepared/"+p.to, func(t *testing.T) {
					rep := matrixPreflight(t, env, p.to, upgrade.WithBackup(upgrade.Backup{Description: "LVM snapshot"}))
					assertDeserved(t, rep, p.skippable, true)
					matrixPlan(t, env, rep, p)
				})
			}
		})
	}
}

func matrixPreflight(t *testing.T, env *upgradeEnv, target string, more ...upgrade.Option) upgrade.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := upgrade.Preflight(ctx, env.cl, append([]upgrade.Option{upgrade.WithTarget(target)}, more...)...)
	require.NoError(t, err)
	require.NotNil(t, rep.Facts)
	return rep
}

// assertDeserved fails on every failure and every warning a healthy
// cluster does not deserve, and on a skipped check: every check has
// something to judge on a whole, reachable cluster. It also wants every
// deserved warning: a cluster that was not serving (or prepared) would
// pass for the wrong reason.
func assertDeserved(t *testing.T, rep upgrade.Report, skippable, prepared bool) {
	t.Helper()
	assert.False(t, rep.Failed(), "a healthy cluster fails:\n%s", table(rep))
	var warned []string
	for _, f := range rep.Findings {
		switch f.Severity {
		case upgrade.Warn:
			why, _ := deservedWarning(f, skippable, prepared)
			assert.NotEmpty(t, why, "a warning a healthy cluster does not deserve: %+v", f)
			warned = append(warned, f.Check)
		case upgrade.Fail, upgrade.Skip:
			assert.Fail(t, "a healthy cluster's finding", "%+v in:\n%s", f, table(rep))
		}
	}
	var want []string
	if skippable {
		want = append(want, "version")
	}
	if !prepared {
		want = append(want, "backup", "frontends-stopped", "standby-keepalived-stopped")
	}
	assert.ElementsMatch(t, want, warned, "the warnings:\n%s", table(rep))
}

// matrixPlan builds the plan to p.to from the pre-flight's facts, with
// the env's packages and a declared backup: its hops are PlanHops's, a
// skippable path plans only WithSkippable, and each deserved warning has
// its step in the first hop.
func matrixPlan(t *testing.T, env *upgradeEnv, rep upgrade.Report, p matrixPath) {
	t.Helper()
	plan, err := upgrade.BuildPlan(*rep.Facts, env.options(p.to)...)
	if p.skippable {
		var pe *upgrade.PlanError
		require.ErrorAs(t, err, &pe, "a skippable path without WithSkippable")
		assert.True(t, pe.OnlySkippable(), "%v", err)
		plan, err = upgrade.BuildPlan(*rep.Facts, env.options(p.to, upgrade.WithSkippable())...)
	}
	require.NoError(t, err, "the plan %s → %s", rep.Installed, p.to)
	var hops []upgrade.PlanHop
	kinds := map[upgrade.StepKind]bool{}
	for _, s := range plan.Steps {
		if n := len(hops); n == 0 || hops[n-1].To != s.Target {
			hops = append(hops, upgrade.PlanHop{From: s.From, To: s.Target, LevelBefore: s.LevelBefore, LevelAfter: s.Level})
		}
		if s.Hop == 1 {
			kinds[s.Kind] = true
		}
	}
	assert.Equal(t, rep.Plan, hops, "the plan's hops are the pre-flight's")
	assert.Equal(t, p.to, plan.To)
	for _, f := range rep.Findings {
		if _, step := deservedWarning(f, p.skippable, false); step != "" {
			assert.True(t, kinds[step], "%s warns; the plan has no %s step", f.Check, step)
		}
	}
}

// A Private Chef 1.2.8.3 has no version manifest: its version is
// /opt/opscode/pc-version.txt's ("Opscode Private Chef 1.2.8.3",
// opscode-omnibus 1.2.8.3 config/software/pc-version.rb), four parts, as
// the model's 1.2.8 writes it. Read so, it passes the same matrix and plans
// by 1.4.6.
func TestMatrixHealthyPC1283(t *testing.T) {
	t.Parallel()
	env := newUpgradeEnv(t, "1.2.8", 1)
	facts := upgrade.Gather(context.Background(), env.cl)
	for _, n := range facts.Nodes {
		assert.NotZero(t, n.Sections["manifest"].RC, "%s: no version manifest on 1.2.8", n.Node)
		assert.True(t, strings.HasPrefix(n.Sections["pcversion"].Output, "Opscode Private Chef 1.2.8.3\n"), n.Node)
	}
	for _, p := range healthyMatrix[0].to {
		t.Run(p.to, func(t *testing.T) {
			rep, err := upgrade.Preflight(context.Background(), nil, upgrade.WithFacts(facts), upgrade.WithTarget(p.to))
			require.NoError(t, err)
			assert.Equal(t, "1.2.8+3", rep.Installed)
			assertDeserved(t, rep, p.skippable, false)
			matrixPlan(t, env, rep, p)
		})
	}
}
