package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/chefha/chefha/internal/packaging"
)

// The files hold the table whole: the index what is table-wide and the
// versions in order, each release file that release as the whole table
// renders it; writing them leaves no other .json file.
func TestFilesWriteTheTable(t *testing.T) {
	table, _, err := Build(fakeInputs(t), []string{"9.9.9"})
	if err != nil {
		t.Fatal(err)
	}
	table.Releases = append(table.Releases, table.Releases[0])
	table.Releases[1].Version = "10.0"
	files, err := Files(table)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "releases")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"9.9.8.json", "README.md"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeDir(dir, files); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	for i := range left {
		left[i] = filepath.Base(left[i])
	}
	if want := []string{"10.0.json", "9.9.9.json", "README.md", "index.json"}; !reflect.DeepEqual(left, want) {
		t.Errorf("written %q, want %q (the stale release gone, other files kept)", left, want)
	}

	var idx packaging.Index
	if err := json.Unmarshal(files[packaging.IndexFile], &idx); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(idx.Versions, []string{"9.9.9", "10.0"}) || idx.Generated != table.Generated || !reflect.DeepEqual(idx.Inputs, table.Inputs) {
		t.Errorf("index = %+v", idx)
	}
	whole, err := Encode(table)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range table.Releases {
		// The whole table indents a release by two levels.
		data := strings.TrimSuffix(string(files[packaging.ReleaseFile(r.Version)]), "\n")
		if !strings.Contains(string(whole), strings.ReplaceAll("    "+data, "\n", "\n    ")) {
			t.Errorf("%s is not the release as the whole table renders it", r.Version)
		}
	}

	table.Releases[1].Version = "9.9.9"
	if _, err := Files(table); err == nil || !strings.Contains(err.Error(), "9.9.9 twice") {
		t.Errorf("Files with a release twice: %v", err)
	}
}
