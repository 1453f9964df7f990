package upgrade_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The runbook's rule, "tested backups available during the entire upgrade
// process", is a failure for a run that acts and a warning for one that
// only looks.
func TestBackupDeclaredForApply(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	facts := upgrade.Gather(context.Background(), e.cl)
	none := upgrade.WithBackup(upgrade.Backup{})

	_, err := upgrade.BuildPlan(facts, e.options("11.1.8", none)...)
	assert.ErrorIs(t, err, upgrade.ErrNoBackup, "an apply without a backup is refused")
	p, err := upgrade.BuildPlan(facts, e.options("11.1.8", none, upgrade.WithDryRun())...)
	require.NoError(t, err, "a dry run shows the plan")
	assert.NotEmpty(t, p.Steps)

	rep, err := upgrade.Preflight(context.Background(), e.cl, upgrade.WithTarget("11.1.8"))
	require.NoError(t, err)
	assert.Equal(t, upgrade.Warn, severityOf(rep.Findings, "backup"), "a read-only pre-flight warns")

	for _, c := range upgrade.Checks() {
		if c.Name() != "backup" {
			continue
		}
		fs := c.Check(upgrade.Input{Facts: facts, Apply: true})
		require.Len(t, fs, 1)
		assert.Equal(t, upgrade.Fail, fs[0].Severity, "judged for an apply, no backup fails")
		assert.Equal(t, "be1.chefha.test", fs[0].Node)
	}
}

// The backup is checked at the end too: a backup gone by then fails the
// post-flight, naming the bootstrap.
func TestBackupCheckedAtTheEnd(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	be1, ok := e.cl.Node("be1.chefha.test")
	require.True(t, ok)
	removed := false
	r := e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventStepStart && strings.HasSuffix(ev.Step, "/"+string(upgrade.StepVerify)) && !removed {
			removed = true
			_, err := be1.Run(context.Background(), cluster.Cmd{Argv: []string{"rm", "-rf", "/tmp/chefha-backup"}, Sudo: true})
			assert.NoError(t, err)
		}
	}))
	err := r.Run(context.Background())
	require.True(t, removed, "the run reached its verification")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "be1.chefha.test: backup: the check no longer finds the backup")
}

func severityOf(fs []upgrade.Finding, check string) upgrade.Severity {
	for _, f := range fs {
		if f.Check == check {
			return f.Severity
		}
	}
	return ""
}
