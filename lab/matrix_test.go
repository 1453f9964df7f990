package lab_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/lab"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// labMatrix is the lab's share of issue 22's healthy-release matrix
// (upgrade's TestMatrixHealthyReleasesSimulated runs every release): each
// release and the later releases of the model it can go to, skippable
// when the runbook's version table plans the path only WithSkippable
// (below 11.1.3; 11.2.0, whose Upstart job its packaging breaks).
var labMatrix = []struct {
	from string
	to   []labPath
}{
	{"1.4.6", []labPath{{"11.0.2", true}, {"11.1.6", false}, {"11.1.8", false}, {"11.2.0", true}}},
	{"11.0.2", []labPath{{"11.1.6", false}, {"11.1.8", false}, {"11.2.0", true}}},
	{"11.1.8", []labPath{{"11.2.0", true}}},
}

type labPath struct {
	to        string
	skippable bool
}

// labDeserved says why a healthy cluster deserves the warning f before
// an upgrade on a path (skippable: planned only WithSkippable); "" when
// it does not (a false alarm). A serving cluster runs its front ends and
// its standby's keepalived, and the pre-flight was told of no backup: the
// runner takes the declared backup and stops them. A prepared one (the
// runbook's steps before the upgrade done, a backup declared) deserves
// only the skippable path's warning.
func labDeserved(f upgrade.Finding, skippable, prepared bool) string {
	switch {
	case f.Check == "version" && f.Symptom == "skippable" && skippable:
		return "the runbook does not recommend the path"
	case prepared:
		return ""
	case f.Check == "backup" && f.Symptom == "none":
		return "the pre-flight was told of no backup"
	case f.Check == "frontends-stopped" && f.Symptom == "running":
		return "a serving front end runs its services"
	case f.Check == "standby-keepalived-stopped" && f.Symptom == "running":
		return "a healthy standby runs keepalived"
	}
	return ""
}

// labFalseAlarms are the findings of rep a healthy cluster does not
// deserve: failures, skipped checks (a whole, reachable cluster gives
// every check something to judge) and warnings labDeserved cannot explain.
func labFalseAlarms(rep upgrade.Report, skippable, prepared bool) []upgrade.Finding {
	var out []upgrade.Finding
	for _, f := range rep.Findings {
		if f.Severity == upgrade.Fail || f.Severity == upgrade.Skip ||
			f.Severity == upgrade.Warn && labDeserved(f, skippable, prepared) == "" {
			out = append(out, f)
		}
	}
	return out
}

// A real healthy cluster of 1.4.6, 11.0.2 and 11.1.8 (one lab each,
// started together) passes the pre-flight for each target it can go to
// with no finding labFalseAlarms names, serving and then prepared as the
// runbook asks (front ends and the standby's keepalived stopped by the
// real sv, a backup declared); each path plans with packages; and at its
// own release the post-flight finds nothing (issue 22, item 7).
func TestLabMatrixHealthyReleases(t *testing.T) {
	t.Parallel()
	var specs []lab.Spec
	for _, row := range labMatrix {
		specs = append(specs, lab.Spec{Version: row.from})
		for _, p := range row.to {
			hops, err := upgrade.PlanHops(semver.MustParse(row.from), semver.MustParse(p.to))
			var pe *upgrade.PlanError
			skippable := errors.As(err, &pe) && pe.OnlySkippable()
			require.True(t, len(hops) > 0 && (err == nil || skippable), "%s → %s: %v", row.from, p.to, err)
			require.Equal(t, p.skippable, skippable, "%s → %s: %v", row.from, p.to, err)
		}
	}
	labs := startLabs(t, specs...)
	dir := t.TempDir()
	var pkgs []upgrade.Option
	for _, v := range []string{"1.4.6", "11.0.2", "11.1.6", "11.1.8", "11.2.0"} {
		p, err := clustertest.WritePackage(dir, "debian", v)
		require.NoError(t, err)
		pkgs = append(pkgs, upgrade.WithPackage(p))
	}
	for i, row := range labMatrix {
		l := labs[i]
		t.Run(row.from, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cl, err := l.Dial(ctx)
			require.NoError(t, err)
			defer cl.Close()
			preflight := func(to string, opts ...upgrade.Option) upgrade.Report {
				rep, err := upgrade.Preflight(ctx, cl, append([]upgrade.Option{upgrade.WithTarget(to)}, opts...)...)
				require.NoError(t, err)
				return rep
			}
			// A read of the lab is a Gather of every node (some 150
			// processes on them): the pre-flights of one state judge one
			// read, target by target, as the same read gives each of
			// them the same facts.
			rep := preflight(row.from)
			serving := upgrade.WithFacts(*rep.Facts)
			assert.Equal(t, upgrade.ModePostFlight, rep.Mode)
			for _, f := range rep.Findings {
				assert.Equal(t, upgrade.OK, f.Severity, "the post-flight at %s: %+v", row.from, f)
			}
			check := func(to string, skippable, prepared bool, rep upgrade.Report) {
				var b bytes.Buffer
				rep.WriteTable(&b)
				assert.Empty(t, labFalseAlarms(rep, skippable, prepared), "%s → %s on %s (prepared %v):\n%s", row.from, to, l.Subnet, prepared, b.String())
				opts := append([]upgrade.Option{upgrade.WithTarget(to), upgrade.WithBackup(upgrade.Backup{Command: "mkdir /tmp/chefha-backup", Check: "test -e /tmp/chefha-backup"})}, pkgs...)
				_, err := upgrade.BuildPlan(*rep.Facts, opts...)
				if skippable {
					var pe *upgrade.PlanError
					assert.True(t, errors.As(err, &pe) && pe.OnlySkippable(), "%s → %s plans only WithSkippable: %v", row.from, to, err)
					_, err = upgrade.BuildPlan(*rep.Facts, append(opts, upgrade.WithSkippable())...)
				}
				assert.NoError(t, err, "the plan %s → %s", row.from, to)
			}
			for _, p := range row.to {
				rep := preflight(p.to, serving)
				check(p.to, p.skippable, false, rep)
				// Serving, every deserved warning is there: the prepared
				// pre-flights below are not clean for want of judging.
				var warned []string
				for _, f := range rep.Findings {
					if f.Severity == upgrade.Warn {
						warned = append(warned, f.Check)
					}
				}
				assert.Subset(t, warned, []string{"backup", "frontends-stopped", "standby-keepalived-stopped"})
			}

			require.NoError(t, l.Plant(clustertest.FrontendsStopped()))
			require.NoError(t, l.Plant(clustertest.StandbyKeepalivedStopped()))
			backup := upgrade.WithBackup(upgrade.Backup{Description: "LVM snapshot"})
			// The standby's real keepalived runs cluster.sh as it stops:
			// wait for the pair to settle before judging it strictly.
			first := row.to[0]
			start := time.Now()
			assert.Eventually(t, func() bool {
				return len(labFalseAlarms(preflight(first.to, backup), first.skippable, true)) == 0
			}, time.Minute, 2*time.Second, "the prepared lab settles")
			t.Logf("prepared %s lab clean after %s", row.from, time.Since(start).Round(time.Millisecond))
			// Settled, a fresh read is clean for every target.
			prepared := upgrade.WithFacts(upgrade.Gather(ctx, cl))
			for _, p := range row.to {
				check(p.to, p.skippable, true, preflight(p.to, backup, prepared))
			}
		})
	}
}
