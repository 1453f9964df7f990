package pkgfile

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/chefha/chefha/internal/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var writeCases = []struct {
	name string
	meta Meta
}{
	{"one file", Meta{Name: "private-chef", Version: "11.1.8", Release: "1", Arch: "amd64",
		Files: map[string][]byte{"/opt/opscode/version-manifest.txt": []byte("private-chef 11.1.8\n")}}},
	{"nested files", Meta{Name: "private-chef", Version: "1.4.6", Release: "1",
		Files: map[string][]byte{
			"/opt/opscode/bin/private-chef-ctl":   []byte("#!/bin/sh\necho simulated\n"),
			"/opt/opscode/embedded/VERSION":       []byte("1.4.6"),
			"/opt/opscode/version-manifest.txt":   []byte("private-chef 1.4.6\n"),
			"/etc/opscode/private-chef.rb.sample": {},
		}}},
	{"no files", Meta{Name: "chef-ha-stub", Version: "0.1~rc1", Release: "2"}},
	{"no release", Meta{Name: "private-chef", Version: "11.2.0"}},
}

func writePkg(t *testing.T, f Format, m Meta) []byte {
	t.Helper()
	var buf bytes.Buffer
	write := WriteDeb
	if f == RPM {
		write = WriteRPM
	}
	require.NoError(t, write(&buf, m))
	return buf.Bytes()
}

func wantInfo(f Format, m Meta) Info {
	w := Info{Format: f, Name: m.Name, Version: m.Version, Release: m.Release, Arch: m.Arch, RawVersion: m.Version}
	if m.Release != "" {
		w.RawVersion += "-" + m.Release
	}
	if w.Arch == "" {
		w.Arch = map[Format]string{Deb: "all", RPM: "noarch"}[f]
	}
	return w
}

func TestWriteRead(t *testing.T) {
	for _, f := range []Format{Deb, RPM} {
		for _, c := range writeCases {
			if f == RPM && c.meta.Release == "" {
				continue // refused, see TestWriteRefuses
			}
			t.Run(string(f)+"/"+c.name, func(t *testing.T) {
				b := writePkg(t, f, c.meta)
				again := writePkg(t, f, c.meta)
				assert.Equal(t, b, again, "the same Meta must give the same bytes")
				got, err := Read(bytes.NewReader(b), int64(len(b)))
				require.NoError(t, err)
				want := wantInfo(f, c.meta)
				want.Size, want.SHA256 = got.Size, got.SHA256
				assert.Equal(t, want, got)
				assert.Equal(t, int64(len(b)), got.Size)
				assert.Len(t, got.SHA256, 64)
			})
		}
	}
}

// TestWriteDebTools has dpkg-deb read, list and unpack what WriteDeb
// wrote, and dpkg install it into a scratch root.
func TestWriteDebTools(t *testing.T) {
	peer.Need(t, "dpkg-deb", "dpkg")
	for _, c := range writeCases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			deb := filepath.Join(dir, "p.deb")
			require.NoError(t, os.WriteFile(deb, writePkg(t, Deb, c.meta), 0o644))
			want := wantInfo(Deb, c.meta)

			assert.Equal(t, []string{want.Name, want.RawVersion, want.Arch},
				fieldValues(run(t, "dpkg-deb", "--field", deb, "Package", "Version", "Architecture")))
			assert.Contains(t, run(t, "dpkg-deb", "--info", deb), "new Debian package, version 2.0")

			root := filepath.Join(dir, "x")
			run(t, "dpkg-deb", "-x", deb, root)
			assertTree(t, root, c.meta.Files)

			if os.Geteuid() == 0 {
				peer.Need(t, "dpkg", "dpkg")
				inst := filepath.Join(dir, "root")
				require.NoError(t, os.MkdirAll(filepath.Join(inst, "var/lib/dpkg/info"), 0o755))
				require.NoError(t, os.MkdirAll(filepath.Join(inst, "var/lib/dpkg/updates"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(inst, "var/lib/dpkg/status"), nil, 0o644))
				run(t, "dpkg", "--root="+inst, "--log=/dev/null", "--force-script-chrootless", "-i", deb)
				assertTree(t, inst, c.meta.Files)
				assert.Contains(t, run(t, "dpkg", "--root="+inst, "-s", want.Name), "Status: install ok installed")
			}
		})
	}
}

// TestWriteRPMTools has rpm query, verify the digests of and install what
// WriteRPM wrote.
func TestWriteRPMTools(t *testing.T) {
	peer.Need(t, "rpm", "rpm")
	for _, c := range writeCases {
		if c.meta.Release == "" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "p.rpm")
			require.NoError(t, os.WriteFile(file, writePkg(t, RPM, c.meta), 0o644))
			want := wantInfo(RPM, c.meta)

			assert.Equal(t, want.Name+" "+want.Version+" "+want.Release+" "+want.Arch,
				run(t, "rpm", "-qp", "--queryformat", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}", file))
			assert.Equal(t, "digests OK", strings.TrimSpace(strings.TrimPrefix(run(t, "rpm", "-K", file), file+":")))
			var listed []string
			for _, l := range strings.Split(strings.TrimSpace(run(t, "rpm", "-qpl", file)), "\n") {
				if l != "(contains no files)" {
					listed = append(listed, l)
				}
			}
			assert.Equal(t, sortedPaths(c.meta.Files), listed)

			if os.Geteuid() == 0 {
				inst := filepath.Join(dir, "root")
				run(t, "rpm", "--root", inst, "--initdb")
				run(t, "rpm", "--root", inst, "-i", "--nodeps", "--noscripts", file)
				assertTree(t, inst, c.meta.Files)
				run(t, "rpm", "--root", inst, "-V", want.Name) // exits non-zero on any difference
			}
		})
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	require.NoError(t, cmd.Run(), "%s: %s", cmd, stderr.String())
	return out.String()
}

// fieldValues takes the values from dpkg-deb --field's "Field: value" lines.
func fieldValues(out string) []string {
	var vs []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		_, v, _ := strings.Cut(l, ": ")
		vs = append(vs, v)
	}
	return vs
}

func sortedPaths(files map[string][]byte) []string {
	var ps []string
	for p := range files {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// assertTree checks that root holds files with their contents.
func assertTree(t *testing.T, root string, files map[string][]byte) {
	t.Helper()
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(root, p))
		if assert.NoError(t, err) {
			assert.Equal(t, string(want), string(got), p)
		}
	}
}

func TestWriteRefuses(t *testing.T) {
	ok := Meta{Name: "private-chef", Version: "11.1.8", Release: "1"}
	cases := []struct {
		name   string
		format Format
		edit   func(*Meta)
		want   string
	}{
		{"empty name", Deb, func(m *Meta) { m.Name = "" }, "name"},
		{"space in name", RPM, func(m *Meta) { m.Name = "private chef" }, "name"},
		{"dash in version", RPM, func(m *Meta) { m.Version = "11.1.8-1" }, "version"},
		{"dash in release", Deb, func(m *Meta) { m.Release = "1-2" }, "release"},
		{"no version", Deb, func(m *Meta) { m.Version = "" }, "version"},
		{"rpm without release", RPM, func(m *Meta) { m.Release = "" }, "needs a release"},
		{"deb arch with underscore", Deb, func(m *Meta) { m.Arch = "x86_64" }, "architecture"},
		{"relative path", Deb, func(m *Meta) { m.Files = map[string][]byte{"opt/x": nil} }, "path"},
		{"unclean path", RPM, func(m *Meta) { m.Files = map[string][]byte{"/opt/../x": nil} }, "path"},
		{"root path", Deb, func(m *Meta) { m.Files = map[string][]byte{"/": nil} }, "path"},
		{"file is a dir", RPM, func(m *Meta) { m.Files = map[string][]byte{"/opt": nil, "/opt/x": nil} }, "also the directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := ok
			c.edit(&m)
			var buf bytes.Buffer
			write := WriteDeb
			if c.format == RPM {
				write = WriteRPM
			}
			err := write(&buf, m)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Zero(t, buf.Len(), "nothing written on refusal")
		})
	}
}
