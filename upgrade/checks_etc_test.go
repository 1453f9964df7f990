package upgrade_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// etcFindings are the post-flight's etc-opscode-perms findings.
func etcFindings(t *testing.T, e *upgradeEnv, target string) []upgrade.Finding {
	t.Helper()
	rep, err := upgrade.Postflight(context.Background(), e.cl, e.options(target)...)
	require.NoError(t, err)
	var out []upgrade.Finding
	for _, f := range rep.Findings {
		if f.Check == "etc-opscode-perms" {
			out = append(out, f)
		}
	}
	return out
}

// After a full upgrade /etc/opscode on every node has the owners and modes
// the target's recipes give it, copied from the bootstrap by name; a key
// that lost its owner or mode fails the post-flight with the fix.
func TestPostflightEtcOpscodePerms(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "11.1.6", 1)
	require.NoError(t, e.runner("11.1.8", nil).Run(context.Background()))
	e.assertUpgraded(t, "11.1.8", "1.13")
	fs := etcFindings(t, e, "11.1.8")
	require.Len(t, fs, 1)
	assert.Equal(t, upgrade.OK, fs[0].Severity, "%v", fs[0].Evidence)

	const key = "/etc/opscode/webui_priv.pem"
	fe := e.sim.Node("fe1.chefha.test")
	require.NoError(t, fe.Chown(key, "root:root"))
	require.NoError(t, fe.Chmod(key, 0o644))
	fs = etcFindings(t, e, "11.1.8")
	require.Len(t, fs, 1)
	f := fs[0]
	assert.Equal(t, upgrade.Fail, f.Severity)
	assert.Equal(t, "fe1.chefha.test", f.Node)
	require.Len(t, f.Evidence, 1)
	assert.Contains(t, f.Evidence[0], key+" is root(0):root(0) 0644; 11.1.8's recipes make it opscode:root 0600")
	assert.Contains(t, f.Evidence[0], "recipes/default.rb:", "the packaging source")
	assert.True(t, strings.HasPrefix(f.Fix, "chown opscode:root "+key+"; chmod 0600 "+key), f.Fix)
	assert.Contains(t, f.Fix, "private-chef-ctl reconfigure")
	assert.False(t, slices.ContainsFunc(fs, func(f upgrade.Finding) bool { return f.Node == "be1.chefha.test" }))
}

// From 11.1.7 the recipes make six services' configurations and start
// scripts opscode's (OC-11656, opscode-omnibus commit 634da696): after an
// upgrade to 11.1.8 the post-flight finds them so, and a configuration a
// hand narrowed warns in service-file-perms and config-readable, each
// naming the file, the recipe and the fix. The bootstrap's marker is not a
// service's file: its mode is nobody's business.
func TestPostflightServiceFilePerms(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "11.1.6", 1)
	const cfg = "/var/opt/opscode/opscode-erchef/etc/app.config"
	be := e.sim.Node("be1.chefha.test")
	owner, err := be.Owner(cfg)
	require.NoError(t, err)
	assert.Equal(t, "root:root", owner, "11.1.6's recipe sets no owner")
	require.NoError(t, e.runner("11.1.8", nil).Run(context.Background()))
	owner, err = be.Owner(cfg)
	require.NoError(t, err)
	assert.Equal(t, "opscode:opscode", owner, "11.1.8's recipe makes it opscode's")

	byCheck := func() map[string][]upgrade.Finding {
		rep, err := upgrade.Postflight(context.Background(), e.cl, e.options("11.1.8")...)
		require.NoError(t, err)
		out := map[string][]upgrade.Finding{}
		for _, f := range rep.Findings {
			out[f.Check] = append(out[f.Check], f)
		}
		return out
	}
	fs := byCheck()
	require.Len(t, fs["service-file-perms"], 1)
	assert.Equal(t, upgrade.OK, fs["service-file-perms"][0].Severity, "%v", fs["service-file-perms"][0].Evidence)

	require.NoError(t, be.Chown(cfg, "root:root"))
	require.NoError(t, be.Chmod(cfg, 0o600))
	fs = byCheck()
	require.Len(t, fs["service-file-perms"], 1)
	f := fs["service-file-perms"][0]
	assert.Equal(t, upgrade.Warn, f.Severity, "a service still reads it: a warning, not a refusal")
	assert.Equal(t, "be1.chefha.test", f.Node)
	require.Len(t, f.Evidence, 1)
	assert.Contains(t, f.Evidence[0], cfg+" is root(0):root(0) 0600; 11.1.8's recipes make it opscode:opscode 0644")
	assert.Contains(t, f.Evidence[0], "recipes/opscode-erchef.rb:", "the packaging source")
	assert.Equal(t, "chown opscode:opscode "+cfg+"; chmod 0644 "+cfg+" (or private-chef-ctl reconfigure on be1.chefha.test, which sets them again)", f.Fix)

	var readable []upgrade.Finding
	for _, f := range fs["config-readable"] {
		if f.Severity != upgrade.OK {
			readable = append(readable, f)
		}
	}
	require.Len(t, readable, 1, "%v", fs["config-readable"])
	assert.Equal(t, upgrade.Warn, readable[0].Severity)
	assert.Equal(t, "be1.chefha.test", readable[0].Node)
	assert.Equal(t, "OC-11656", string(readable[0].Issue))
	assert.Contains(t, readable[0].Evidence[0], cfg+" is root(0):root(0) 0600; 11.1.8's recipes make it readable to all, mode 0644")

	// Its own service reads an opscode-owned 0600 configuration: only the
	// mode differs from the recipe's.
	require.NoError(t, be.Chown(cfg, "opscode:opscode"))
	fs = byCheck()
	require.Len(t, fs["service-file-perms"], 1)
	assert.Equal(t, upgrade.Warn, fs["service-file-perms"][0].Severity)
	assert.False(t, slices.ContainsFunc(fs["config-readable"], func(f upgrade.Finding) bool { return f.Severity != upgrade.OK }),
		"readable by its owner, the service: %v", fs["config-readable"])

	// A target between the table's releases is not judged by the one below.
	rep, err := upgrade.Postflight(context.Background(), e.cl, e.options("11.1.7")...)
	require.NoError(t, err)
	i := slices.IndexFunc(rep.Findings, func(f upgrade.Finding) bool { return f.Check == "service-file-perms" })
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, upgrade.Skip, rep.Findings[i].Severity)
	assert.Contains(t, rep.Findings[i].Evidence[0], "the packaging table has no 11.1.7")

	require.NoError(t, be.Chmod(cfg, 0o644))
	require.NoError(t, be.WriteFile("/var/opt/opscode/bootstrapped", nil, 0o644))
	fs = byCheck()
	require.Len(t, fs["service-file-perms"], 1)
	assert.Equal(t, upgrade.OK, fs["service-file-perms"][0].Severity, "%v", fs["service-file-perms"][0].Evidence)
}
