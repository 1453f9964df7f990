package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chefha/chefha/internal/peer"
)

// TestTableIsCurrent regenerates the table from the snapshots and compares
// it with the committed files in ../releases, file by file. It needs the
// snapshots, which CI does not have, so it is skipped unless every
// CHEFHA_SNAPSHOT_* variable names one.
func TestTableIsCurrent(t *testing.T) {
	var missing []string
	for _, s := range snapshots {
		if os.Getenv(s.env) == "" {
			missing = append(missing, s.env)
		}
	}
	if len(missing) > 0 {
		peer.Optional(t, "regenerating needs the packaging snapshots (Chef's code, never in the repository); set "+strings.Join(missing, ", ")+" to their git directories (see ../README.md)")
	}
	in, err := openInputs(nil)
	if err != nil {
		t.Fatal(err)
	}
	table, _, err := Build(in, releases)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Files(table)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "releases")
	committed, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range committed {
		if _, ok := files[filepath.Base(p)]; !ok {
			t.Errorf("releases/%s is committed but not generated; run: %s", filepath.Base(p), Regenerate)
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("releases/%s is generated but not committed (%v); run: %s", name, err, Regenerate)
			continue
		}
		if diff := sameLines(files[name], want); diff != "" {
			t.Errorf("releases/%s is stale %s\nrun: %s", name, diff, Regenerate)
		}
	}
}

// sameLines says where got and want first differ, "" when they do not.
func sameLines(got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) && i < len(wl); i++ {
		if gl[i] != wl[i] {
			return fmt.Sprintf("from line %d:\n generated: %s\n committed: %s", i+1, gl[i], wl[i])
		}
	}
	return fmt.Sprintf("(%d lines generated, %d committed)", len(gl), len(wl))
}
