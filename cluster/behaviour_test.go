package cluster_test

import (
	"context"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testNodeBehaviour is what every Node must do, run against each
// implementation: the in-process SSH server, OpenSSH's sshd, and Local.
// dir is a scratch directory on the node (the same machine in tests).
func testNodeBehaviour(t *testing.T, n cluster.Node, dir string) {
	ctx := context.Background()
	t.Run("argv", func(t *testing.T) {
		res, err := n.Run(ctx, cluster.Command("printf", "%s|", "two words", "it's", "$HOME", "*", ""))
		require.NoError(t, err)
		assert.Equal(t, "two words|it's|$HOME|*||", string(res.Stdout), "argv arrives unexpanded")
	})
	t.Run("stdin", func(t *testing.T) {
		res, err := n.Run(ctx, cluster.Cmd{Argv: []string{"tr", "a-z", "A-Z"}, Stdin: []byte("keepalived\n")})
		require.NoError(t, err)
		assert.Equal(t, "KEEPALIVED\n", string(res.Stdout))
	})
	t.Run("output as it arrives", func(t *testing.T) {
		// The first line is there while the command still runs (it waits
		// for the test to see it), and Output gets only the command's
		// stdout: no wrapper's line, no stderr.
		seen := make(chan struct{})
		w := &notifyWriter{on: "Migrations to Run: [1.8]\n", seen: seen}
		mark := filepath.Join(dir, "output-seen")
		go func() {
			select {
			case <-seen:
				os.WriteFile(mark, nil, 0o644)
			case <-time.After(30 * time.Second):
			}
		}()
		res, err := n.Run(ctx, cluster.Cmd{Argv: []string{"sh", "-c", `echo 'Migrations to Run: [1.8]'; echo noise >&2; ` +
			`i=0; while [ ! -e "$1" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; echo done`, "sh", mark}, Output: w})
		require.NoError(t, err)
		assert.Equal(t, "Migrations to Run: [1.8]\ndone\n", string(res.Stdout))
		assert.Equal(t, "Migrations to Run: [1.8]\ndone\n", w.String(), "streamed while it ran, then the rest")
		_, err = os.Stat(mark)
		assert.NoError(t, err, "the first line reached Output before the command ended")
	})
	t.Run("exit code and stderr", func(t *testing.T) {
		res, err := n.Run(ctx, cluster.Command("sh", "-c", "echo out; echo 'runsv not running' >&2; exit 3"))
		var ee *cluster.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, 3, res.ExitCode)
		assert.Equal(t, 3, ee.Result.ExitCode)
		assert.Equal(t, "out\n", string(ee.Result.Stdout))
		assert.Equal(t, "runsv not running\n", string(res.Stderr))
		assert.Contains(t, err.Error(), n.Name()+": sh -c 'echo out; echo '\\''runsv not running'\\'' >&2; exit 3' exited 3: runsv not running")
	})
	t.Run("cancel kills the command", func(t *testing.T) {
		pidFile := filepath.Join(dir, "pid")
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// Cancelled once the command runs, not after a fixed time: on a
		// loaded machine a session can take longer than any guess to start.
		cancelledAt := make(chan time.Time, 1)
		go func() {
			defer cancel()
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancelledAt <- time.Now()
		}()
		_, err := n.Run(cctx, cluster.Command("sh", "-c", "echo $$ > "+pidFile+"; exec sleep 60"))
		assert.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(<-cancelledAt), 10*time.Second, "returned promptly")
		assertProcessGone(t, pidFile)
		_, err = n.Run(ctx, cluster.Command("true"))
		assert.NoError(t, err, "the node still works")
	})
	t.Run("files", func(t *testing.T) {
		p := filepath.Join(dir, "migration-level")
		require.NoError(t, n.WriteFile(ctx, p, []byte(`{"major":1,"minor":13}`+"\n"), 0o640))
		b, err := n.ReadFile(ctx, p)
		require.NoError(t, err)
		assert.Equal(t, `{"major":1,"minor":13}`+"\n", string(b))
		fi, err := n.Stat(ctx, p)
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o640), fi.Mode.Perm())
		assert.Equal(t, int64(23), fi.Size)
		assert.Equal(t, os.Getuid(), fi.UID)
		require.NoError(t, n.WriteFile(ctx, p, []byte("x"), 0o600), "overwrite")
		require.NoError(t, os.Symlink("/opt/opscode/sv/nagios", filepath.Join(dir, "nagios")))
		ents, err := n.ReadDir(ctx, dir)
		require.NoError(t, err)
		var names []string
		for _, fi := range ents {
			names = append(names, fi.Name())
			if fi.Name() == "nagios" {
				assert.Equal(t, "/opt/opscode/sv/nagios", fi.Target)
			}
		}
		assert.Contains(t, names, "migration-level")
		assert.Contains(t, names, "nagios")
		assert.NotContains(t, strings.Join(names, " "), ".chefha-", "no temp file left behind")
		_, err = n.ReadFile(ctx, filepath.Join(dir, "missing"))
		assert.ErrorIs(t, err, fs.ErrNotExist)
		assert.ErrorContains(t, err, n.Name()+": ")
		_, err = n.Stat(ctx, filepath.Join(dir, "missing"))
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
}

// testDropAndReconnect cuts the connection (drop) while a command runs:
// Run returns ErrConnectionLost promptly, and the next call redials.
func testDropAndReconnect(t *testing.T, n cluster.Node, drop func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := n.Run(context.Background(), cluster.Command("sleep", "30"))
		errc <- err
	}()
	time.Sleep(400 * time.Millisecond)
	drop()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, cluster.ErrConnectionLost)
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after the connection dropped")
	}
	res, err := n.Run(context.Background(), cluster.Command("echo", "back"))
	require.NoError(t, err, "the next call redials")
	assert.Equal(t, "back\n", string(res.Stdout))
}

func assertProcessGone(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return syscall.Kill(pid, 0) != nil
	}, 5*time.Second, 20*time.Millisecond, "remote process %d still alive", pid)
}

func TestLocalNodeBehaviour(t *testing.T) {
	t.Parallel()
	testNodeBehaviour(t, cluster.NewLocal("local"), t.TempDir())
}

// streamWriter is what SSH and Local offer for files too large for memory.
type streamWriter interface {
	WriteFileFrom(ctx context.Context, name string, r io.Reader, perm fs.FileMode) error
}

func testWriteFileFrom(t *testing.T, n cluster.Node, dir string) {
	sw, ok := n.(streamWriter)
	require.True(t, ok, "%T streams", n)
	// 8 MiB of a repeating pattern, from a reader that is not a bytes.Reader.
	const size = 8 << 20
	r := io.LimitReader(patternReader{}, size)
	p := filepath.Join(dir, "private-chef_11.1.8-1_amd64.deb")
	require.NoError(t, sw.WriteFileFrom(context.Background(), p, r, 0o644))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Len(t, b, size)
	want := make([]byte, size)
	patternReader{}.Read(want)
	assert.Equal(t, sha256.Sum256(want), sha256.Sum256(b))
}

type patternReader struct{}

func (patternReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i * 7)
	}
	return len(p), nil
}

func TestWriteFileFrom(t *testing.T) {
	t.Parallel()
	t.Run("local", func(t *testing.T) { testWriteFileFrom(t, cluster.NewLocal("local"), t.TempDir()) })
	t.Run("in-process ssh", func(t *testing.T) {
		e := newSSHEnv(t)
		testWriteFileFrom(t, e.dial(t, "root"), t.TempDir())
	})
	t.Run("openssh", func(t *testing.T) {
		k := newClientKey(t)
		s := startSSHD(t, k)
		testWriteFileFrom(t, dialReal(t, s.config(k, "fe1")), t.TempDir())
	})
}

// notifyWriter keeps what is written and closes seen once it holds on.
type notifyWriter struct {
	mu   sync.Mutex
	b    strings.Builder
	on   string
	seen chan struct{}
	once sync.Once
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.on) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *notifyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
