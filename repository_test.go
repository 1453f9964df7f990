package chefha

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// outside matches what would make a test depend on this machine rather
// than on the repository, the packages make test installs and what the
// test builds: a fetched snapshot of another repository, a developer's
// checkout or home. (CI on a fresh machine has none of them.) The
// bracketed letters keep the pattern from naming those paths itself.
var outside = regexp.MustCompile(`"/[w]ork/|\.[m]irror/|"/[h]ome/|"-C", "/|git -C /`)

// No Go file reads a path outside the repository: a snapshot of Chef's
// packaging comes in through an environment variable, and a test without
// it skips as optional.
func TestNothingOutsideTheRepository(t *testing.T) {
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && p != "." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, ".go") || p == "repository_test.go" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, l := range strings.Split(string(b), "\n") {
			if outside.MatchString(l) {
				t.Errorf("%s:%d reads outside the repository: %s", p, i+1, strings.TrimSpace(l))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
