package upgrade

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A critical command runs detached under the real sh: cancelling the wait
// (an interrupt, a step timeout) leaves it running; a second call with the
// same id waits for it and returns its output and status; a call after it
// finished runs the command afresh.
func TestDetachedCommandOutlivesItsWait(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	n := cluster.NewLocal("local")
	marker := filepath.Join(t.TempDir(), "ran")
	argv := detachedIn(dir, "hop1/upgrade-bootstrap", "be1", []string{"sh", "-c", `sleep 1; echo ran >>"$1"; echo migrated; exit 3`, "x", marker})

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := n.Run(ctx, cluster.Cmd{Argv: argv})
	require.ErrorIs(t, err, context.DeadlineExceeded, "the wait was cut")

	res, err := n.Run(context.Background(), cluster.Cmd{Argv: argv})
	var ee *cluster.ExitError
	require.True(t, errors.As(err, &ee), "the command's own status comes back: %v", err)
	assert.Equal(t, 3, ee.Result.ExitCode)
	assert.Equal(t, "migrated\n", string(res.Stdout), "its output, read from its log")
	// Attached, not started anew: the command ran once (a time bound
	// said the same, and failed on a loaded machine).
	b, _ := os.ReadFile(marker)
	assert.Equal(t, "ran\n", string(b), "it ran once, to its end, though its first wait was cancelled; the second call attached to that run")

	_, err = n.Run(context.Background(), cluster.Cmd{Argv: argv})
	require.Error(t, err)
	b, _ = os.ReadFile(marker)
	assert.Equal(t, 2, strings.Count(string(b), "ran"), "after it finished, a new call runs it again")
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "its output may hold secrets")
}

// A pid file left by a run that died, whose number is now another live
// process's, is not a run to wait for: the command runs.
func TestDetachedCommandIgnoresAReusedPID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	n := cluster.NewLocal("local")
	argv := detachedIn(dir, "hop1/install-package", "be1", []string{"echo", "installed"})
	id := argv[5]
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, id+".pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := n.Run(ctx, cluster.Cmd{Argv: argv})
	require.NoError(t, err, "it did not wait for this test's own process")
	assert.Equal(t, "installed\n", string(res.Stdout))
}
