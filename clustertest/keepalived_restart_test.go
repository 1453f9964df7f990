package clustertest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keepalivedPID is the pid runit gives keepalived on node: a restart
// changes it.
func (s *sim) keepalivedPID(t *testing.T, node string) int {
	t.Helper()
	st, _ := s.status(t, node)
	require.Contains(t, st, "keepalived", node)
	return st["keepalived"].PID
}

// A reconfigure that changes keepalived.conf restarts keepalived in 11.x
// (recipes/keepalived.rb notifies :restart) and not in 1.x, whose
// notifies asks should_notify?("kepalived") (recipes/keepalived.rb:24 @1.2.8.3,
// 1.4.6); 1.x's cluster.sh template notifies nothing either, so the
// 1.2.8 → 1.4.6 reconfigure, whose cluster.sh moves postgresql instead of
// postgres, leaves keepalived running.
func TestKeepalivedRestartPerRelease(t *testing.T) {
	t.Parallel()
	for version, restarts := range map[string]bool{"1.2.8": false, "1.4.6": false, "11.0.2": true, "11.1.8": true} {
		s := start(t, version)
		before := s.keepalivedPID(t, be2)
		n, _ := s.cl.Node(be2)
		rb, _, _ := s.run(t, be2, "cat", ecmodel.TopologyPath)
		require.NoError(t, n.WriteFile(context.Background(), ecmodel.TopologyPath, []byte(rb+"notification_email \"ops@example.com\"\n"), 0o644))
		out, _, code := s.run(t, be2, "private-chef-ctl", "reconfigure")
		require.Equal(t, 0, code, "%s: %s", version, out)
		conf, _, _ := s.run(t, be2, "cat", ecmodel.KeepalivedConf)
		require.Contains(t, conf, "ops@example.com", version)
		assert.Equal(t, restarts, s.keepalivedPID(t, be2) != before, "%s: keepalived restarted", version)
	}

	s := start(t, "1.2.8")
	before := s.keepalivedPID(t, be1)
	s.installPackage(t, be1, "1.4.6")
	out, _, code := s.run(t, be1, "private-chef-ctl", "reconfigure")
	require.Equal(t, 0, code, out)
	sh, _, _ := s.run(t, be1, "cat", ecmodel.ClusterSh)
	require.Contains(t, sh, "postgresql", "cluster.sh changed")
	assert.Equal(t, before, s.keepalivedPID(t, be1), "1.4.6 keeps keepalived running")
	assert.Equal(t, "master", s.Nodes[be1].Current())
}

// keepalived's run script has the arguments of the release's
// sv-keepalived-run.erb: 11.0.2 still 1.x's, with no --dump-conf and
// `--use-file PATH`; 11.1.6 on --dump-conf and `--use-file=PATH`.
func TestKeepalivedRunScriptPerRelease(t *testing.T) {
	t.Parallel()
	for version, want := range map[string]string{
		"1.4.6":  "--log-detail --dont-fork --use-file " + ecmodel.KeepalivedConf + "\n",
		"11.0.2": "--log-detail --dont-fork --use-file " + ecmodel.KeepalivedConf + "\n",
		"11.1.8": "--log-detail --dump-conf --dont-fork --use-file=" + ecmodel.KeepalivedConf + "\n",
	} {
		s := start(t, version)
		run, _, _ := s.run(t, be1, "cat", ecmodel.SvDir+"/keepalived/run")
		assert.True(t, strings.HasSuffix(run, want), "%s: %q", version, run)
	}
}
