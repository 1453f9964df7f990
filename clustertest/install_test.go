package clustertest_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/pkgfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A node installs real package files, uploaded over the rooted SFTP
// server, with the package manager of its family (/etc/os-release; RHEL
// knob: rpm, no dpkg). The postinst links private-chef-ctl into /usr/bin
// and, on a node that has been reconfigured, asks for `private-chef-ctl
// upgrade` and, from 11.0, `cleanup` (OO 11.1.8
// package-scripts/private-chef/postinst).
func TestPackageAndSFTPOnEmulatedNode(t *testing.T) {
	t.Parallel()
	s := start(t, "1.4.6", clustertest.RHEL())
	n, _ := s.cl.Node(fe1)
	var rpm bytes.Buffer
	require.NoError(t, pkgfile.WriteRPM(&rpm, pkgfile.Meta{Name: "private-chef", Version: "11.1.8", Release: "1.el6", Arch: "x86_64"}))
	const file = "/tmp/private-chef-11.1.8-1.el6.x86_64.rpm"
	require.NoError(t, n.WriteFile(context.Background(), file, rpm.Bytes(), 0o644))
	_, stderr, code := s.run(t, fe1, "dpkg", "-i", file)
	assert.Equal(t, 127, code, "no dpkg on RHEL: %s", stderr)
	out, stderr, code := s.run(t, fe1, "rpm", "-Uvh", file)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "\033[1mYou have upgraded Private Chef!\033[0m\n\nThe next step in the upgrade process is to run:\n\n\033[1;31mprivate-chef-ctl upgrade\033[0m\n")
	assert.Contains(t, out, "\033[1;31mprivate-chef-ctl cleanup\033[0m")
	b, err := n.ReadFile(context.Background(), "/opt/opscode/version-manifest.txt")
	require.NoError(t, err)
	assert.Equal(t, "private-chef 11.1.8\n", string(b), "read back over the rooted SFTP server")
	link, _, _ := s.run(t, fe1, "readlink", "/usr/bin/private-chef-ctl")
	assert.Equal(t, "/opt/opscode/bin/private-chef-ctl\n", link)
	ents, err := n.ReadDir(context.Background(), "/opt/opscode/service")
	require.NoError(t, err)
	require.NotEmpty(t, ents)
	assert.Equal(t, "/opt/opscode/sv/nginx", ents[0].Target, "1.4.6 front ends: nginx first")
}

// dpkg reads the version from the package, not the file name; what is not
// a private-chef package, or no release the model knows, is refused.
func TestInstallReadsThePackage(t *testing.T) {
	t.Parallel()
	s := start(t, "11.0.2")
	n, _ := s.cl.Node(fe1)
	put := func(name string, m pkgfile.Meta) {
		var b bytes.Buffer
		require.NoError(t, pkgfile.WriteDeb(&b, m))
		require.NoError(t, n.WriteFile(context.Background(), name, b.Bytes(), 0o644))
	}
	put("/tmp/private-chef_11.1.6-1_amd64.deb", pkgfile.Meta{Name: "private-chef", Version: "11.1.8", Release: "1", Arch: "amd64"})
	out, _, code := s.run(t, fe1, "dpkg", "-i", "/tmp/private-chef_11.1.6-1_amd64.deb")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Setting up private-chef (11.1.8-1) ...")
	assert.Equal(t, "11.1.8", s.Node(fe1).Package())

	put("/tmp/chef.deb", pkgfile.Meta{Name: "chef", Version: "11.1.8", Release: "1", Arch: "amd64"})
	_, stderr, code := s.run(t, fe1, "dpkg", "-i", "/tmp/chef.deb")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "chef is not a private-chef package")

	require.NoError(t, n.WriteFile(context.Background(), "/tmp/text.deb", []byte("private-chef 11.1.8\n"), 0o644))
	_, stderr, code = s.run(t, fe1, "dpkg", "-i", "/tmp/text.deb")
	assert.Equal(t, 2, code, "a text file is no package: %s", stderr)
	assert.Equal(t, "11.1.8", s.Node(fe1).Package())
}
