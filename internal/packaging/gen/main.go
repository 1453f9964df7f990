// Command gen builds internal/packaging/releases/ from snapshots of Chef's
// packaging repositories. It reads each file it needs with `git show
// REF:PATH` from a git directory per repository, extracts the facts
// mechanically (see the extract_*.go files) and writes the table, each fact
// with the repo@ref:path:line it came from: index.json (what is table-wide:
// the inputs and the versions in order) and one VERSION.json per release,
// so that the package decodes only the releases a process asks for.
//
// It is run by `go generate ./internal/packaging` with the snapshots named by
// flags or by the environment (see README.md); CI never runs it: the table is
// committed.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/chefha/chefha/internal/packaging"
)

// The releases the table describes, oldest first: the versions chefha
// upgrades from and to.
var releases = []string{"1.2.8.3", "1.4.6", "11.0.2", "11.1.6", "11.1.8", "11.2.0"}

// snapshot names one repository's snapshot: a flag, and the environment
// variable read when the flag is not given.
type snapshot struct {
	flag, env, repo string
}

var snapshots = []snapshot{
	{flag: "omnibus", env: "CHEFHA_SNAPSHOT_OPSCODE_OMNIBUS", repo: "chef-boneyard/opscode-omnibus"},
	{flag: "omnibus-ctl", env: "CHEFHA_SNAPSHOT_OMNIBUS_CTL", repo: "chef/omnibus-ctl"},
	{flag: "ecc", env: "CHEFHA_SNAPSHOT_ENTERPRISE_CHEF_COMMON", repo: "chef-cookbooks/enterprise-chef-common"},
	{flag: "runit", env: "CHEFHA_SNAPSHOT_RUNIT", repo: "chef-cookbooks/runit"},
	{flag: "omnibus-software", env: "CHEFHA_SNAPSHOT_OMNIBUS_SOFTWARE", repo: "chef/omnibus-software"},
}

// Regenerate is the command the table and the README name.
const Regenerate = "CHEFHA_SNAPSHOT_OPSCODE_OMNIBUS=... CHEFHA_SNAPSHOT_OMNIBUS_CTL=... " +
	"CHEFHA_SNAPSHOT_ENTERPRISE_CHEF_COMMON=... CHEFHA_SNAPSHOT_RUNIT=... CHEFHA_SNAPSHOT_OMNIBUS_SOFTWARE=... " +
	"go generate ./internal/packaging"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dirs := map[string]*string{}
	for _, s := range snapshots {
		dirs[s.flag] = fs.String(s.flag, "", fmt.Sprintf("git directory of a %s snapshot (default $%s)", s.repo, s.env))
	}
	out := fs.String("o", "", "write the table into this directory, index.json and one VERSION.json per release (default: the whole table as one JSON document on standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]string{}
	for name, dir := range dirs {
		given[name] = *dir
	}
	in, err := openInputs(given)
	if err != nil {
		return err
	}
	table, warnings, err := Build(in, releases)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "gen: note:", w)
	}
	if *out == "" {
		data, err := Encode(table)
		if err != nil {
			return err
		}
		_, err = stdout.Write(data)
		return err
	}
	files, err := Files(table)
	if err != nil {
		return err
	}
	return writeDir(*out, files)
}

// openInputs opens every snapshot, given by flag name or else by its
// environment variable, refusing with the flag and variable to set when one
// is missing.
func openInputs(given map[string]string) (*Inputs, error) {
	dirs := map[string]string{}
	var missing []string
	for _, s := range snapshots {
		dirs[s.flag] = given[s.flag]
		if dirs[s.flag] == "" {
			dirs[s.flag] = os.Getenv(s.env)
		}
		if dirs[s.flag] == "" {
			missing = append(missing, fmt.Sprintf("  -%s or $%s: git directory of a %s snapshot", s.flag, s.env, s.repo))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("refusing to generate without every snapshot; missing:\n%s\n(bring one with the fetch tool, e.g. github:%s, and point at its git directory)",
			strings.Join(missing, "\n"), snapshots[0].repo)
	}
	srcs := make([]Source, len(snapshots))
	for i, s := range snapshots {
		g, err := openGit(s.repo, dirs[s.flag])
		if err != nil {
			return nil, err
		}
		srcs[i] = g
	}
	return &Inputs{Omnibus: srcs[0], OmnibusCtl: srcs[1], ECC: srcs[2], Runit: srcs[3], Software: srcs[4]}, nil
}

// Encode renders the whole table as one JSON document.
func Encode(t *packaging.Table) ([]byte, error) {
	data, err := encode(t)
	if err != nil {
		return nil, fmt.Errorf("encode table: %w", err)
	}
	return data, nil
}

// Files renders the table as the files the package embeds, by name:
// packaging.IndexFile and a packaging.ReleaseFile per release.
func Files(t *packaging.Table) (map[string][]byte, error) {
	idx := packaging.Index{Generated: t.Generated, Regenerate: t.Regenerate, Inputs: t.Inputs}
	files := map[string][]byte{}
	for _, r := range t.Releases {
		name := packaging.ReleaseFile(r.Version)
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("encode table: release %s twice", r.Version)
		}
		data, err := encode(r)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", name, err)
		}
		files[name] = data
		idx.Versions = append(idx.Versions, r.Version)
	}
	data, err := encode(idx)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", packaging.IndexFile, err)
	}
	files[packaging.IndexFile] = data
	return files, nil
}

// encode renders v as indented JSON with a final newline; the table's
// slices are already sorted, so the bytes are deterministic.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return collapseFacts(b.Bytes()), nil
}

// writeDir writes the files into dir and removes the .json files there it
// did not write (a release no longer generated), so that the directory
// holds the table and nothing else.
func writeDir(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if _, ok := files[filepath.Base(p)]; !ok {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// collapseFacts puts each scalar fact ({"value": v, "source": s}) on one
// line, so that a diff of the table shows one changed fact per line.
func collapseFacts(data []byte) []byte {
	lines := strings.Split(string(data), "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasSuffix(l, "{") && i+2 < len(lines) {
			v, s, end := strings.TrimSpace(lines[i+1]), strings.TrimSpace(lines[i+2]), ""
			if i+3 < len(lines) {
				end = strings.TrimSpace(lines[i+3])
			}
			if strings.HasPrefix(v, `"value": `) && strings.HasSuffix(v, ",") && !strings.HasSuffix(v, "[,") &&
				strings.HasPrefix(s, `"source": `) && strings.HasPrefix(end, "}") {
				out = append(out, l+" "+v+" "+s+" "+end)
				i += 3
				continue
			}
			if strings.HasPrefix(v, `"value": `) && !strings.HasSuffix(v, ",") && strings.HasPrefix(s, "}") &&
				!strings.HasSuffix(v, "[") && !strings.HasSuffix(v, "{") {
				out = append(out, l+" "+v+" "+s)
				i += 2
				continue
			}
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n"))
}
