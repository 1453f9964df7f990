package pkgfile

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// Meta describes a package for WriteDeb and WriteRPM to build.
type Meta struct {
	Name    string // "private-chef"
	Version string // upstream version, "11.1.8"
	Release string // Debian revision or rpm release, "1"; required for rpm
	Arch    string // "amd64", "x86_64"; empty: "all" for deb, "noarch" for rpm
	// Files are the payload: absolute paths to contents, installed mode
	// 0644 owned by root, parent directories 0755.
	Files map[string][]byte
}

// buildTime stamps every member and file, so that the same Meta always
// gives the same bytes.
var buildTime = time.Unix(0, 0).UTC()

// maxPayloadFile bounds each payload file: rpm's 32-bit size fields, and
// these packages are meant to stay tiny.
const maxPayloadFile = 1<<31 - 1

// check validates m against the rules both dpkg and rpm impose, and
// returns its file paths sorted.
func (m Meta) check(f Format) ([]string, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("pkgfile: cannot write .%s: "+format, append([]any{f}, a...)...)
	}
	if !validDebName(m.Name) {
		return nil, bad("name %q: use letters, digits and \"-+.\", a letter or digit first", m.Name)
	}
	if m.Version == "" || !onlyChars(m.Version, ".+~") {
		return nil, bad("version %q: use letters, digits and \".+~\"", m.Version)
	}
	if m.Release != "" && !onlyChars(m.Release, ".+~") {
		return nil, bad("release %q: use letters, digits and \".+~\"", m.Release)
	}
	if f == RPM && m.Release == "" {
		return nil, bad("an rpm needs a release")
	}
	if m.Arch != "" && (f == Deb && !validDebArch(m.Arch) || f == RPM && !onlyChars(m.Arch, "_")) {
		return nil, bad("architecture %q", m.Arch)
	}
	paths := make([]string, 0, len(m.Files))
	for p, data := range m.Files {
		if !strings.HasPrefix(p, "/") || p == "/" || path.Clean(p) != p || strings.ContainsAny(p, "\x00\n") {
			return nil, bad("file path %q: give a clean absolute path", p)
		}
		if len(data) > maxPayloadFile {
			return nil, bad("file %s is %d bytes", p, len(data))
		}
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, clash := m.Files[d]; clash {
				return nil, bad("file %s is also the directory of %s", d, p)
			}
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths, nil
}

// parents returns the directories above paths, each once, sorted (so
// each comes after its own parent), without the root.
func parents(paths []string) []string {
	seen := map[string]bool{}
	var dirs []string
	for _, p := range paths {
		for d := path.Dir(p); d != "/" && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	sort.Strings(dirs)
	return dirs
}
