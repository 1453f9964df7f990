package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chefha/chefha/internal/peer"
)

// TestTableIsCurrent regenerates the table from the snapshots and compares
// it with the committed releases.json. It needs the snapshots, which CI does
// not have, so it is skipped unless every CHEFHA_SNAPSHOT_* variable names
// one.
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
	got, err := Encode(table)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "releases.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("releases.json is stale from line %d:\n generated: %s\n committed: %s\nrun: %s", i+1, gl[i], wl[i], Regenerate)
			}
		}
		t.Fatalf("releases.json is stale (%d lines generated, %d committed); run: %s", len(gl), len(wl), Regenerate)
	}
}
