package svdir

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteLaysOutAServiceUnderARoot(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, Write(root, "opscode-erchef", true, false))
	run, err := os.ReadFile(filepath.Join(root, SvDir, "opscode-erchef", "run"))
	require.NoError(t, err)
	assert.Contains(t, string(run), "chefha-labnode service opscode-erchef")
	logRun, err := os.ReadFile(filepath.Join(root, SvDir, "opscode-erchef", "log", "run"))
	require.NoError(t, err)
	assert.Equal(t, "#!/bin/sh\nexec svlogd -tt /var/log/opscode/opscode-erchef\n", string(logRun))
	target, err := os.Readlink(filepath.Join(root, ServiceDir, "opscode-erchef"))
	require.NoError(t, err)
	assert.Equal(t, "/opt/opscode/sv/opscode-erchef", target, "the link names the in-node path")
	assert.FileExists(t, filepath.Join(root, SvDir, "opscode-erchef", "down"))
	assert.DirExists(t, filepath.Join(root, LogDir, "opscode-erchef"))

	// Rewriting leaves the link, lifts the down file.
	require.NoError(t, Write(root, "opscode-erchef", false, false))
	assert.NoFileExists(t, filepath.Join(root, SvDir, "opscode-erchef", "down"))

	require.NoError(t, Write(root, "keepalived", false, true))
	run, _ = os.ReadFile(filepath.Join(root, SvDir, "keepalived", "run"))
	assert.Contains(t, string(run), "exec keepalived --dont-fork")
	assert.NoDirExists(t, filepath.Join(root, LogDir, "keepalived"), "withoutLogDir")
}
