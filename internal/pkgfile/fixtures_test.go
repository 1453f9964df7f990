package pkgfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/internal/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var record = flag.Bool("record", false, "rebuild testdata/*.deb and *.rpm with dpkg-deb and rpmbuild")

// fixture is a package built by the real tools: how to build it and what
// Inspect must read from it.
type fixture struct {
	file     string
	tool     string // "dpkg-deb" or "rpmbuild"
	compress string // dpkg-deb -Z
	target   string // rpmbuild --target
	member   string // the .deb's control member
	want     Info
}

var fixtures = []fixture{
	{file: "private-chef_11.1.8-1_amd64.gz.deb", tool: "dpkg-deb", compress: "gzip", member: "control.tar.gz",
		want: Info{Format: Deb, Name: "private-chef", Version: "11.1.8", Release: "1", RawVersion: "11.1.8-1", Arch: "amd64"}},
	{file: "private-chef_1.4.6-1_amd64.xz.deb", tool: "dpkg-deb", compress: "xz", member: "control.tar.xz",
		want: Info{Format: Deb, Name: "private-chef", Version: "1.4.6", Release: "1", RawVersion: "1.4.6-1", Arch: "amd64"}},
	{file: "private-chef_11.1.6-1_amd64.zst.deb", tool: "dpkg-deb", compress: "zstd", member: "control.tar.zst",
		want: Info{Format: Deb, Name: "private-chef", Version: "11.1.6", Release: "1", RawVersion: "11.1.6-1", Arch: "amd64"}},
	{file: "private-chef_11.2.0-rc.1-3_all.epoch.none.deb", tool: "dpkg-deb", compress: "none", member: "control.tar",
		want: Info{Format: Deb, Name: "private-chef", Epoch: "2", Version: "11.2.0-rc.1", Release: "3", RawVersion: "2:11.2.0-rc.1-3", Arch: "all"}},
	{file: "private-chef-11.1.8-1.noarch.rpm", tool: "rpmbuild",
		want: Info{Format: RPM, Name: "private-chef", Version: "11.1.8", Release: "1", RawVersion: "11.1.8-1", Arch: "noarch"}},
	{file: "private-chef-1.4.6-1.el6.x86_64.rpm", tool: "rpmbuild", target: "x86_64",
		want: Info{Format: RPM, Name: "private-chef", Epoch: "1", Version: "1.4.6", Release: "1.el6", RawVersion: "1:1.4.6-1.el6", Arch: "x86_64"}},
}

// fixedTime is SOURCE_DATE_EPOCH and the payload's mtime, so rebuilding
// with the same tool versions gives the same bytes.
const fixedTime = 1400000000

// manifest is the one payload file each fixture installs.
func manifest(w Info) string {
	return fmt.Sprintf("private-chef %s\n", w.RawVersion)
}

// build makes f with its real tool in a temp dir and returns the file.
func (f fixture) build(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "opt/opscode"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "opt/opscode/version-manifest.txt"), []byte(manifest(f.want)), 0o644))
	out := filepath.Join(dir, f.file)
	var cmd *exec.Cmd
	switch f.tool {
	case "dpkg-deb":
		peer.Need(t, "dpkg-deb", "dpkg")
		require.NoError(t, os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755))
		control := "Package: " + f.want.Name + "\nVersion: " + f.want.RawVersion + "\nArchitecture: " + f.want.Arch +
			"\nMaintainer: chefha fixtures <chefha@localhost>\nInstalled-Size: 4\nSection: misc\nPriority: optional\n" +
			"Description: chefha test fixture\n a stand-in for Enterprise Chef, built by dpkg-deb\n .\n continuation lines included.\n"
		require.NoError(t, os.WriteFile(filepath.Join(root, "DEBIAN/control"), []byte(control), 0o644))
		stamp(t, root)
		cmd = exec.Command("dpkg-deb", "--root-owner-group", "-Z"+f.compress, "--build", root, out)
	case "rpmbuild":
		peer.Need(t, "rpmbuild", "rpm")
		epoch := ""
		if f.want.Epoch != "" {
			epoch = "Epoch: " + f.want.Epoch + "\n"
		}
		arch := "BuildArch: noarch\n"
		if f.target != "" {
			arch = ""
		}
		spec := "Name: " + f.want.Name + "\nVersion: " + f.want.Version + "\nRelease: " + f.want.Release + "\n" + epoch + arch +
			"Summary: chefha test fixture\nLicense: Apache-2.0\n%global debug_package %{nil}\n\n" +
			"%description\nA stand-in for Enterprise Chef, built by rpmbuild.\n\n" +
			"%install\nmkdir -p %{buildroot}/opt/opscode\ncp " + filepath.Join(root, "opt/opscode/version-manifest.txt") + " %{buildroot}/opt/opscode/\n\n" +
			"%files\n/opt/opscode/version-manifest.txt\n"
		specFile := filepath.Join(dir, "private-chef.spec")
		require.NoError(t, os.WriteFile(specFile, []byte(spec), 0o644))
		args := []string{"-bb", "--quiet", "--define", "_topdir " + filepath.Join(dir, "top"),
			"--define", "_buildhost chefha", "--define", "use_source_date_epoch_as_buildtime 1",
			"--define", "clamp_mtime_to_source_date_epoch 1", "--define", "_binary_payload w9.gzdio",
			"--define", "_build_id_links none", "--define", "_rpmfilename " + f.file}
		if f.target != "" {
			args = append(args, "--target", f.target)
		}
		cmd = exec.Command("rpmbuild", append(args, specFile)...)
	}
	cmd.Env = append(os.Environ(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", fixedTime), "TZ=UTC", "LC_ALL=C")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s: %s", cmd, b)
	if f.tool == "rpmbuild" {
		require.NoError(t, os.Rename(filepath.Join(dir, "top/RPMS", f.file), out))
	}
	return out
}

func stamp(t *testing.T, root string) {
	t.Helper()
	ts := time.Unix(fixedTime, 0)
	require.NoError(t, filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, ts, ts)
	}))
}

// checkFixture checks what Inspect reads from path against f.want and the
// file's own bytes.
func checkFixture(t *testing.T, f fixture, path string) {
	t.Helper()
	got, err := Inspect(path)
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	want := f.want
	want.Path, want.Size, want.SHA256 = path, int64(len(b)), hex.EncodeToString(sum[:])
	assert.Equal(t, want, got)
	if f.member != "" {
		ar := newArReader(bytes.NewReader(b), int64(len(b)))
		var names []string
		for m, err := ar.next(); err == nil; m, err = ar.next() {
			names = append(names, m.name)
		}
		assert.Equal(t, []string{"debian-binary", f.member, "data.tar" + strings.TrimPrefix(f.member, "control.tar")}, names)
	}
}

// TestFixtures reads the committed packages built by dpkg-deb and rpmbuild.
func TestFixtures(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			checkFixture(t, f, filepath.Join("testdata", f.file))
		})
	}
}

// TestFixturesAgainstTools asks dpkg-deb -f and rpm -qp what the committed
// fixtures hold, then builds each afresh with the installed tools and
// reads that too; with -record it rewrites testdata from those builds.
func TestFixturesAgainstTools(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			path := filepath.Join("testdata", f.file)
			fresh := f.build(t)
			checkFixture(t, f, fresh)
			if *record {
				b, err := os.ReadFile(fresh)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(path, b, 0o644))
			}
			for _, p := range []string{path, fresh} {
				info, err := Inspect(p)
				require.NoError(t, err)
				assert.Equal(t, toolFields(t, p, f.want.Format), []string{info.Name, info.RawVersion, info.Arch}, p)
			}
		})
	}
}

// toolFields returns name, version (as the tool prints it) and arch.
func toolFields(t *testing.T, path string, f Format) []string {
	t.Helper()
	var cmd *exec.Cmd
	if f == Deb {
		peer.Need(t, "dpkg-deb", "dpkg")
		cmd = exec.Command("dpkg-deb", "--show", "--showformat", "${Package}\n${Version}\n${Architecture}", path)
	} else {
		peer.Need(t, "rpm", "rpm")
		cmd = exec.Command("rpm", "-qp", "--nosignature", "--queryformat",
			"%{NAME}\n%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\n%{ARCH}", path)
	}
	out, err := cmd.Output()
	require.NoError(t, err, "%s", cmd)
	return strings.Split(string(out), "\n")
}
