// Package golden compares what a test produced with a file recorded under
// its package's testdata, or rewrites that file when the test binary runs
// with -update, so that a change of output is a diff to review.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Update is the -update flag of the test binary that imports this package.
var update = flag.Bool("update", false, "rewrite the golden files under testdata from the output")

// Updating reports whether the test binary runs with -update.
func Updating() bool { return *update }

// Assert compares got with testdata/name, or writes it there under -update
// (or when also is true: a package's own flag for recording).
func Assert(t testing.TB, name string, got []byte, also ...bool) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update || len(also) > 0 && also[0] {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "%s: run the test with -update to write it", path)
	assert.Equal(t, string(want), string(got), "%s differs: run the test with -update and review the diff", path)
}
