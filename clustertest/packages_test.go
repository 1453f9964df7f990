package clustertest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/peer"
	"github.com/chefha/chefha/internal/pkgfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWritePackageNamesAndMetadata(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		family, file string
		format       pkgfile.Format
		release      string
	}{
		{"debian", "private-chef_11.1.8-1_amd64.deb", pkgfile.Deb, "1"},
		{"rhel", "private-chef-11.1.8-1.el6.x86_64.rpm", pkgfile.RPM, "1.el6"},
	} {
		p, err := clustertest.WritePackage(dir, tc.family, "11.1.8")
		require.NoError(t, err, tc.family)
		assert.Equal(t, filepath.Join(dir, tc.file), p)
		info, err := pkgfile.Inspect(p)
		require.NoError(t, err, tc.family)
		assert.Equal(t, tc.format, info.Format)
		assert.NoError(t, info.Matches("private-chef", "11.1.8"))
		assert.Equal(t, tc.release, info.Release)
		st, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	}
}

func TestWritePackageRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct{ family, version, want string }{
		{"suse", "11.1.8", `family "suse"`},
		{"debian", "", "version"},
		{"debian", "../../etc/x", "version"},
		{"rhel", "11.1.8-1", "version"}, // the revision is the writer's
	} {
		_, err := clustertest.WritePackage(dir, tc.family, tc.version)
		assert.ErrorContains(t, err, tc.want, "%s %q", tc.family, tc.version)
	}
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, ents, "nothing written when refused")
	_, err = clustertest.WritePackage(filepath.Join(dir, "missing"), "debian", "11.1.8")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// Real dpkg-deb reads what WritePackage wrote as the package it says.
func TestWritePackageDpkgReadsIt(t *testing.T) {
	t.Parallel()
	dpkgDeb := peer.Need(t, "dpkg-deb", "dpkg")
	p, err := clustertest.WritePackage(t.TempDir(), "debian", "11.0.2")
	require.NoError(t, err)
	out, err := exec.Command(dpkgDeb, "--show", "--showformat", "${Package} ${Version} ${Architecture}", p).CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "private-chef 11.0.2-1 amd64", string(out))
}

// Real rpm reads what WritePackage wrote as the package it says.
func TestWritePackageRPMReadsIt(t *testing.T) {
	t.Parallel()
	rpm := peer.Need(t, "rpm", "rpm")
	p, err := clustertest.WritePackage(t.TempDir(), "rhel", "11.1.8")
	require.NoError(t, err)
	out, err := exec.Command(rpm, "-qp", "--nosignature", "--nodigest", "--queryformat", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}", p).CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "private-chef 11.1.8 1.el6 x86_64", strings.TrimSpace(string(out)))
}

// A simulated node installs the package it is sent: the version comes
// from the package, not from its name. (Debian only: the simulated node's
// rpm is reached through the RHEL knob, which does not yet switch the
// node's installer; see the rpm reading test above for the .rpm.)
func TestWritePackageInstallsOnSimulatedNode(t *testing.T) {
	t.Parallel()
	sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 1})
	require.NoError(t, err)
	defer sim.Close()
	ctx := context.Background()
	cl, err := sim.Dial(ctx)
	require.NoError(t, err)
	defer cl.Close()
	p, err := clustertest.WritePackage(t.TempDir(), "debian", "11.1.8")
	require.NoError(t, err)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	fe1, _ := cl.Node("fe1.chefha.test")
	remote := "/tmp/renamed-package" // the name is a convention, the metadata decides
	require.NoError(t, fe1.WriteFile(ctx, remote, b, 0o644))
	res, err := fe1.Run(ctx, cluster.Command("dpkg", "-i", remote))
	require.NoError(t, err, string(res.Stderr))
	manifest, err := fe1.ReadFile(ctx, "/opt/opscode/version-manifest.txt")
	require.NoError(t, err)
	assert.Equal(t, "private-chef 11.1.8\n", string(manifest))
}
