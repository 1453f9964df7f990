package cluster_test

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// calls collects what an observed node reports, from any goroutine.
type calls struct {
	mu  sync.Mutex
	got []cluster.Call
}

func (c *calls) add(call cluster.Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, call)
}

func (c *calls) all() []cluster.Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// An observed node is the node: the behaviour every node owes, over SSH
// and locally.
func TestObservedNodeBehaves(t *testing.T) {
	t.Parallel()
	var seen calls
	testNodeBehaviour(t, cluster.Observe(cluster.NewLocal("local"), seen.add), t.TempDir())
	e := newSSHEnv(t)
	testNodeBehaviour(t, cluster.Observe(e.dial(t, "root"), seen.add), t.TempDir())
	assert.NotEmpty(t, seen.all())
}

// Each call is reported once it returned, with what it answered.
func TestObserveReportsEachCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	var seen calls
	n := cluster.Observe(cluster.NewLocal("be1"), seen.add)
	_, _ = n.Run(ctx, cluster.Command("sh", "-c", "echo out; echo why >&2; exit 3"))
	_, _ = n.ReadFile(ctx, filepath.Join(dir, "missing"))
	require.NoError(t, n.WriteFile(ctx, filepath.Join(dir, "f"), []byte("abc"), 0o640))
	_, _ = n.ReadFile(ctx, filepath.Join(dir, "f"))
	require.NoError(t, n.(cluster.TreeWriter).Rename(ctx, filepath.Join(dir, "f"), filepath.Join(dir, "g")))

	got := seen.all()
	require.Len(t, got, 5)
	tests := []struct {
		op, path, detail string
		exit             int
		err              func(error) bool
	}{
		{op: "run", exit: 3, err: func(err error) bool { var ee *cluster.ExitError; return errors.As(err, &ee) }},
		{op: "read", path: filepath.Join(dir, "missing"), err: func(err error) bool { return errors.Is(err, fs.ErrNotExist) }},
		{op: "write", path: filepath.Join(dir, "f"), detail: "3 bytes, mode 0640"},
		{op: "read", path: filepath.Join(dir, "f"), detail: "3 bytes"},
		{op: "rename", path: filepath.Join(dir, "f"), detail: "to " + filepath.Join(dir, "g")},
	}
	for i, tt := range tests {
		c := got[i]
		assert.Equal(t, "be1", c.Node, "call %d", i)
		assert.Equal(t, tt.op, c.Op, "call %d", i)
		assert.Equal(t, tt.path, c.Path, "call %d", i)
		assert.Equal(t, tt.detail, c.Detail, "call %d", i)
		assert.Equal(t, tt.exit, c.Result.ExitCode, "call %d", i)
		assert.False(t, c.Start.IsZero(), "call %d", i)
		if tt.err == nil {
			assert.NoError(t, c.Err, "call %d", i)
		} else {
			assert.True(t, tt.err(c.Err), "call %d: %v", i, c.Err)
		}
	}
	assert.Equal(t, []string{"sh", "-c", "echo out; echo why >&2; exit 3"}, got[0].Cmd.Argv)
	assert.Equal(t, "out\n", string(got[0].Result.Stdout))
	assert.Equal(t, "why\n", string(got[0].Result.Stderr))
}

// plainNode has Node's methods and nothing more.
type plainNode struct{ cluster.Node }

// A node keeps the optional methods callers look for when the node it
// observes has them all, and only then.
func TestObserveKeepsOptionalMethods(t *testing.T) {
	t.Parallel()
	nop := func(cluster.Call) {}
	tests := []struct {
		name string
		n    cluster.Node
		tree bool
	}{
		{"local", cluster.NewLocal("l"), true},
		{"ssh", newSSHEnv(t).dial(t, "root"), true},
		{"plain", plainNode{cluster.NewLocal("p")}, false},
	}
	for _, tt := range tests {
		o := cluster.Observe(tt.n, nop)
		_, tw := o.(cluster.TreeWriter)
		_, h := o.(cluster.Hasher)
		_, sw := o.(streamWriter)
		assert.Equal(t, tt.tree, tw, "%s: TreeWriter", tt.name)
		assert.Equal(t, tt.tree, h, "%s: Hasher", tt.name)
		assert.Equal(t, tt.tree, sw, "%s: WriteFileFrom", tt.name)
	}
}

// CopyTree through observed SSH nodes copies as it does without them, its
// files written in place (no temporary file and rename each), and every
// call is reported.
func TestObservedCopyTree(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	var seen calls
	from := cluster.Observe(e.dial(t, "root"), seen.add)
	to := cluster.Observe(e.dial(t, "root"), seen.add).(cluster.TreeWriter)
	testCopyTree(t, from, to)
	var inPlace, runs int
	for _, c := range seen.all() {
		if c.Op == "write" && strings.HasSuffix(c.Detail, "in place") {
			inPlace++
		}
		if c.Op == "run" {
			runs++
		}
	}
	assert.Equal(t, 200, inPlace, "every file sent is written in place")
	assert.Positive(t, runs, "the commands that build and verify the tree")
}
