package labnode

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chefha/chefha/internal/packaging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A host seen through a root directory, as from outside a node.
func rootHost(t *testing.T) (*Host, string) {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc", "usr/lib", "opt/opscode/sv/nginx", "opt/opscode/service"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "usr/lib/os-release"), []byte("ID=debian\n"), 0o644))
	require.NoError(t, os.Symlink("../usr/lib/os-release", filepath.Join(root, "etc/os-release")))
	require.NoError(t, os.WriteFile(filepath.Join(root, "opt/opscode/sv/nginx/run"), []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.Symlink("/opt/opscode/sv/nginx", filepath.Join(root, "opt/opscode/service/nginx")))
	return &Host{name: "be1.lab.test", root: root}, root
}

// A node's links are node paths: followed inside the node's root, never
// out of it; and nothing that resolves outside the node's own trees is
// changed (Debian's /etc/os-release is a link into the machine's /usr).
func TestHostFilesStayInTheNode(t *testing.T) {
	h, root := rootHost(t)
	b, err := h.ReadFile("/opt/opscode/service/nginx/run")
	require.NoError(t, err, "an absolute link resolved in the node's root")
	assert.Equal(t, "#!/bin/sh\n", string(b))
	st, err := h.Stat("/opt/opscode/service/nginx")
	require.NoError(t, err)
	assert.True(t, st.IsDir())
	st, err = h.Lstat("/opt/opscode/service/nginx")
	require.NoError(t, err)
	assert.Equal(t, os.ModeSymlink, st.Mode()&os.ModeSymlink)

	err = h.WriteFile("/etc/os-release", []byte("ID=rhel\n"), 0o644)
	require.ErrorContains(t, err, "/usr/lib/os-release is outside the lab node's own trees")
	b, _ = os.ReadFile(filepath.Join(root, "usr/lib/os-release"))
	assert.Equal(t, "ID=debian\n", string(b), "the machine's file untouched")
	require.Error(t, h.Chmod("/etc/os-release", 0o600))
	require.NoError(t, h.Remove("/etc/os-release"), "the link itself is the node's")
	require.NoError(t, h.WriteFile("/etc/os-release", []byte("ID=rhel\n"), 0o644), "a file of the node's own now")
	require.Error(t, h.Symlink("/x", "/usr/bin/private-chef-ctl"))
	require.NoError(t, h.WriteFile("/opt/opscode/service/nginx/down", nil, 0o644), "through a link to a node path")
	assert.FileExists(t, filepath.Join(root, "opt/opscode/sv/nginx/down"))
}

// The jobs the node program knows are the packaging table's, every
// release's: one the table gains and the node misses would leave its
// initctl blind to it.
func TestRunsvdirJobsAreThePackagings(t *testing.T) {
	if got, want := runsvdirJobs(), packaging.RunsvdirJobs(); !slices.Equal(got, want) {
		t.Errorf("the node's runsvdir jobs %v, the packaging table's %v", got, want)
	}
}
