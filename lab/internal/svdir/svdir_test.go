package svdir

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteLaysOutAServiceUnderARoot(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, Write(root, "opscode-erchef", true, false))
	run, err := os.ReadFile(filepath.Join(root, SvDir, "opscode-erchef", "run"))
	require.NoError(t, err)
	assert.Contains(t, string(run), "CHEFHA_LABNODE=service exec /usr/local/bin/chefha-labnode opscode-erchef\n")
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

// A shim, run by the real sh, starts the program with the role in its
// environment (whatever the caller's, as under sshd) and its arguments
// untouched.
func TestShimPassesRoleAndArguments(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	require.NoError(t, os.WriteFile(prog, []byte("#!/bin/sh\necho \"role=$CHEFHA_LABNODE\"\nfor a in \"$@\"; do echo \"arg=$a\"; done\n"), 0o755))
	shim := filepath.Join(dir, "initctl")
	require.NoError(t, os.WriteFile(shim, []byte(strings.ReplaceAll(Shim("initctl"), Program, prog)), 0o755))
	cmd := exec.Command(shim, "start", "two words")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "role=initctl\narg=start\narg=two words\n", string(out))
}
