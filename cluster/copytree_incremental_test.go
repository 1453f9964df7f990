package cluster_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/pkg/sftp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

func treeBytes(t testing.TB, root string) int64 {
	var n int64
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	}))
	return n
}

// sftpCounter counts what the in-process server's SFTP subsystem was asked:
// every request that reaches a handler, files opened for writing, and the
// bytes written into them.
type sftpCounter struct {
	requests, writes, written atomic.Int64
}

type countingPut struct {
	sftp.FileWriter
	c *sftpCounter
}

func (p countingPut) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	p.c.writes.Add(1)
	w, err := p.FileWriter.Filewrite(r)
	if err != nil {
		return nil, err
	}
	return countingWriterAt{w, p.c}, nil
}

type countingWriterAt struct {
	w io.WriterAt
	c *sftpCounter
}

func (w countingWriterAt) WriteAt(b []byte, off int64) (int, error) {
	n, err := w.w.WriteAt(b, off)
	w.c.written.Add(int64(n))
	return n, err
}

// Close lets the request server close the file it opened.
func (w countingWriterAt) Close() error {
	if c, ok := w.w.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// newCountingSSHEnv is newSSHEnv whose server serves this machine's files
// through counting SFTP handlers. Its server counts exec requests itself.
func newCountingSSHEnv(t *testing.T) (*sshEnv, *sftpCounter) {
	t.Helper()
	key, err := clustertest.NewSigner()
	require.NoError(t, err)
	c := &sftpCounter{}
	srv, err := clustertest.NewSSHServer(clustertest.SSHServerConfig{
		AuthorizedKeys: []ssh.PublicKey{key.PublicKey()},
		SFTP: func(string) sftp.Handlers {
			h := clustertest.RootedSFTP("/", func() { c.requests.Add(1) })
			h.FilePut = countingPut{h.FilePut, c}
			return h
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	e := &sshEnv{srv: srv, key: key, dir: dir, knownHosts: filepath.Join(dir, "known_hosts")}
	e.trust(t, srv)
	return e, c
}

// wire is what a test can see of the bytes a copy sent, apart from the
// CopyReport: content bytes the server wrote (exact), or bytes through a
// proxy (content plus protocol: up to slack more, and perFile more for
// each file sent).
type wire struct {
	count          func() int64
	slack, perFile int64
}

// incrementalFiles is the tree's size in testCopyTreeIncremental: enough
// for a 256 KiB file, 16 KiB ones, three directories and both modes (see
// makeTree); what 200 or 2000 files cost is TestCopyTreeRoundTrips', the
// many-files test's and the benchmark's to measure.
const incrementalFiles = 30

// testCopyTreeIncremental copies a tree, then again after each kind of
// change, checking what was sent, reused and removed, and that the result
// is the source each time.
func testCopyTreeIncremental(t *testing.T, from cluster.Node, to cluster.TreeWriter, w *wire) {
	ctx := context.Background()
	base := t.TempDir()
	src := filepath.Join(base, "bootstrap", "opscode")
	dst := filepath.Join(base, "fe1", "opscode")
	makeTree(t, src, incrementalFiles)
	require.NoError(t, os.Mkdir(filepath.Dir(dst), 0o755))
	backups := 0
	copyTree := func(t *testing.T, wantSent int, wantBytes int64) cluster.CopyReport {
		t.Helper()
		var before int64
		if w != nil {
			before = w.count()
		}
		rep, err := cluster.CopyTree(ctx, from, src, to, dst, cluster.CopyOptions{Now: fixedNow})
		require.NoError(t, err)
		assertSameTree(t, src, dst)
		assert.Equal(t, wantSent, rep.Sent, "files sent")
		assert.Equal(t, rep.Files-wantSent, rep.Reused, "files reused")
		assert.Equal(t, wantBytes, rep.BytesSent, "bytes sent")
		if w != nil {
			got := w.count() - before
			assert.GreaterOrEqual(t, got, wantBytes, "bytes seen on the wire")
			assert.LessOrEqual(t, got, wantBytes+w.slack+int64(wantSent)*w.perFile, "bytes seen on the wire")
		}
		if rep.Backup != "" {
			backups++
			// The backup is the tree as it was: clear it so that the next
			// step's backup name is the plain one again.
			require.NoError(t, os.RemoveAll(rep.Backup))
		}
		return rep
	}
	rep := copyTree(t, incrementalFiles, treeBytes(t, src))
	assert.Empty(t, rep.Backup)

	t.Run("unchanged tree sends no file content", func(t *testing.T) {
		rep := copyTree(t, 0, 0)
		assert.Equal(t, incrementalFiles, rep.Reused)
		assert.Zero(t, rep.Removed)
		assert.Equal(t, dst+".chefha-backup-20261125T120000Z", rep.Backup)
	})
	t.Run("one changed file is sent alone", func(t *testing.T) {
		require.NoError(t, os.WriteFile(filepath.Join(src, "file-003.conf"), []byte(strings.Repeat("x", 1000)), 0o644))
		copyTree(t, 1, 1000)
	})
	t.Run("a new file is sent", func(t *testing.T) {
		require.NoError(t, os.WriteFile(filepath.Join(src, "keys", "new.pem"), []byte("new key\n"), 0o600))
		copyTree(t, 1, 8)
	})
	t.Run("a removed source file is removed", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(src, "keys", "file-007.conf")))
		rep := copyTree(t, 0, 0)
		assert.Equal(t, 1, rep.Removed)
		_, err := os.Lstat(filepath.Join(dst, "keys", "file-007.conf"))
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
	t.Run("a mode change is applied without sending", func(t *testing.T) {
		p := filepath.Join(src, "keys", "private", "file-008.conf")
		require.NoError(t, os.Chmod(p, 0o640))
		copyTree(t, 0, 0)
		st, err := os.Stat(filepath.Join(dst, "keys", "private", "file-008.conf"))
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o640), st.Mode().Perm())
	})
	t.Run("a changed symlink target is applied", func(t *testing.T) {
		link := filepath.Join(src, "pivotal.pem")
		require.NoError(t, os.Remove(link))
		require.NoError(t, os.Symlink("keys/file-004.conf", link))
		copyTree(t, 0, 0)
		target, err := os.Readlink(filepath.Join(dst, "pivotal.pem"))
		require.NoError(t, err)
		assert.Equal(t, "keys/file-004.conf", target)
	})
	t.Run("a directory mode change and a file that became a directory", func(t *testing.T) {
		require.NoError(t, os.Chmod(filepath.Join(src, "keys"), 0o750))
		p := filepath.Join(src, "file-006.conf")
		require.NoError(t, os.Remove(p))
		require.NoError(t, os.Mkdir(p, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(p, "inner"), []byte("in"), 0o644))
		rep := copyTree(t, 1, 2)
		assert.Zero(t, rep.Removed, "file-006.conf is still there, as a directory")
	})
	assert.Equal(t, 7, backups)
}

func TestCopyTreeIncrementalLocal(t *testing.T) {
	t.Parallel()
	testCopyTreeIncremental(t, cluster.NewLocal("bootstrap"), cluster.NewLocal("fe1"), nil)
}

func TestCopyTreeIncrementalInProcessSSH(t *testing.T) {
	t.Parallel()
	e, c := newCountingSSHEnv(t)
	testCopyTreeIncremental(t, e.dial(t, "root"), e.dial(t, "root"), &wire{count: c.written.Load})
}

func TestCopyTreeIncrementalOpenSSH(t *testing.T) {
	t.Parallel()
	k := newClientKey(t)
	a := startSSHD(t, k)
	b := startSSHD(t, k)
	proxy := startCountingProxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)))
	trustProxy(t, b, k, proxy.port())
	cfg := b.config(k, "fe1")
	cfg.Port = proxy.port()
	// 32 KiB of protocol per copy is generous: an unchanged 200-file tree
	// costs about 12 KiB, where sending it would cost 1.7 MB. A file sent
	// costs some 450 bytes of SFTP and SSH framing besides its contents.
	testCopyTreeIncremental(t, dialReal(t, a.config(k, "bootstrap")), dialReal(t, cfg), &wire{count: proxy.up.Load, slack: 32 << 10, perFile: 1 << 10})
}

// TestCopyTreeRoundTrips counts what a copy costs the destination: for an
// unchanged tree its commands and SFTP requests must not grow with the
// files; a fresh copy costs one open per file and one command.
func TestCopyTreeRoundTrips(t *testing.T) {
	t.Parallel()
	e, c := newCountingSSHEnv(t)
	to := e.dial(t, "root")
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	const files = 200
	makeTree(t, src, files)
	ctx := context.Background()
	// Fresh: no tree to reuse, so the stage's directories are made over
	// SFTP, every file is opened once (its writes and close are not handler
	// calls here), and one command sets modes, makes links and verifies.
	_, err := cluster.CopyTree(ctx, cluster.NewLocal("bootstrap"), src, to, dst, cluster.CopyOptions{Now: fixedNow})
	require.NoError(t, err)
	t.Logf("fresh %d files: %d commands, %d SFTP requests, %d files written", files, e.srv.Execs(), c.requests.Load(), c.writes.Load())
	assert.Equal(t, int64(1), e.srv.Execs())
	assert.Equal(t, int64(files), c.writes.Load())
	// RootedSFTP's hook runs twice for an open (Filewrite calls OpenFile).
	assert.LessOrEqual(t, c.requests.Load(), int64(2*files+16))

	execs, requests, writes := e.srv.Execs(), c.requests.Load(), c.writes.Load()
	rep, err := cluster.CopyTree(ctx, cluster.NewLocal("bootstrap"), src, to, dst, cluster.CopyOptions{Now: fixedNow})
	require.NoError(t, err)
	assert.Equal(t, files, rep.Reused)
	execs, requests, writes = e.srv.Execs()-execs, c.requests.Load()-requests, c.writes.Load()-writes
	t.Logf("unchanged %d files: %d commands, %d SFTP requests, %d files written", files, execs, requests, writes)
	assert.Zero(t, writes, "no file is opened for writing")
	// One command builds, finishes and verifies the stage. SFTP: stat the
	// tree (is there one to reuse?), then the swap: stat the tree and the
	// backup name, two renames.
	assert.LessOrEqual(t, execs, int64(1))
	assert.LessOrEqual(t, requests, int64(5))
	assert.LessOrEqual(t, float64(execs+requests)/files, 0.05, "round trips per file")

	// One changed file: one file written, and still no per-file requests.
	require.NoError(t, os.RemoveAll(rep.Backup))
	p := filepath.Join(src, "keys", "file-010.conf")
	require.NoError(t, os.WriteFile(p, []byte("changed\n"), 0o644))
	execs, requests, writes = e.srv.Execs(), c.requests.Load(), c.writes.Load()
	rep, err = cluster.CopyTree(ctx, cluster.NewLocal("bootstrap"), src, to, dst, cluster.CopyOptions{Now: fixedNow})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Sent)
	assert.Equal(t, int64(1), c.writes.Load()-writes)
	assert.LessOrEqual(t, e.srv.Execs()-execs, int64(2), "build, then finish and verify")
	// RootedSFTP's hook runs twice for an open (Filewrite calls OpenFile).
	assert.LessOrEqual(t, c.requests.Load()-requests, int64(5+2), "the file's open, then the swap")
}

// failingSource fails reading one file, part-way through a copy.
type failingSource struct {
	*cluster.Local
	victim string
}

func (f failingSource) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if filepath.Base(name) == f.victim {
		return nil, fs.ErrPermission
	}
	return f.Local.ReadFile(ctx, name)
}

// changingSource returns other contents for one file than it listed, as a
// file edited during the copy would.
type changingSource struct {
	*cluster.Local
	victim string
}

func (c changingSource) ReadFile(ctx context.Context, name string) ([]byte, error) {
	b, err := c.Local.ReadFile(ctx, name)
	if filepath.Base(name) == c.victim {
		b = append(b, "# edited\n"...)
	}
	return b, err
}

func testCopyTreeFailureMidCopy(t *testing.T, to cluster.TreeWriter) {
	for _, tc := range []struct {
		name string
		from cluster.Node
		msg  string
	}{
		{"read", failingSource{cluster.NewLocal("bootstrap"), "file-117.conf"}, "permission denied"},
		{"changed", changingSource{cluster.NewLocal("bootstrap"), "file-142.conf"}, "changed while it was being copied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
			makeTree(t, src, 150)
			// The old tree holds a third of the files, so some are reused
			// before the failure.
			makeTree(t, dst, 50)
			require.NoError(t, os.WriteFile(filepath.Join(dst, "keep"), []byte("old"), 0o644))
			_, err := cluster.CopyTree(context.Background(), tc.from, src, to, dst, cluster.CopyOptions{Now: fixedNow})
			require.ErrorContains(t, err, tc.msg)
			assert.ErrorContains(t, err, "copy bootstrap:"+src+" to fe1:"+dst)
			b, err := os.ReadFile(filepath.Join(dst, "keep"))
			require.NoError(t, err)
			assert.Equal(t, "old", string(b))
			_, err = os.Stat(filepath.Join(dst, "file-100.conf"))
			assert.ErrorIs(t, err, fs.ErrNotExist, "the old tree is untouched")
			ents, _ := os.ReadDir(base)
			assert.Len(t, ents, 2, "no staging tree or backup left behind")
		})
	}
}

func TestCopyTreeFailureMidCopyLocal(t *testing.T) {
	t.Parallel()
	testCopyTreeFailureMidCopy(t, cluster.NewLocal("fe1"))
}

func TestCopyTreeFailureMidCopyInProcessSSH(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	cfg := e.config("root")
	cfg.Name = "fe1"
	n, err := cluster.DialSSH(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	testCopyTreeFailureMidCopy(t, n)
}

func TestCopyTreeFailureMidCopyOpenSSH(t *testing.T) {
	t.Parallel()
	k := newClientKey(t)
	s := startSSHD(t, k)
	testCopyTreeFailureMidCopy(t, dialReal(t, s.config(k, "fe1")))
}

// tamperingNode spoils the stage after it is built, before it is verified,
// as a disk or another process might. (When a file is to be sent, the
// verification is a command of its own.)
type tamperingNode struct {
	*cluster.Local
	spoil func(stage string)
}

func (n tamperingNode) Run(ctx context.Context, c cluster.Cmd) (cluster.Result, error) {
	res, err := n.Local.Run(ctx, c)
	// The stage is built by a script that takes the stage as an operand.
	for _, a := range c.Argv {
		if err == nil && strings.Contains(a, ".chefha-new-") && !strings.ContainsAny(a, " \n") {
			n.spoil(a)
			break
		}
	}
	return res, err
}

func TestCopyTreeVerifiesReusedFilesAndModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		spoil func(stage string)
		msg   string
	}{
		{"reused file", func(stage string) {
			os.WriteFile(filepath.Join(stage, "keys", "file-004.conf"), []byte("spoilt"), 0o644)
		}, "keys/file-004.conf: SHA-256 after copy"},
		{"mode", func(stage string) {
			os.Chmod(filepath.Join(stage, "file-009.conf"), 0o666)
		}, `./file-009.conf is "file-009.conf/f666>" after the copy, the source has "file-009.conf/f644>"`},
		{"symlink", func(stage string) {
			os.Remove(filepath.Join(stage, "pivotal.pem"))
			os.Symlink("/etc/passwd", filepath.Join(stage, "pivotal.pem"))
		}, `./pivotal.pem is "pivotal.pem/l777>/etc/passwd"`},
		{"extra file", func(stage string) {
			os.WriteFile(filepath.Join(stage, "keys", "stray"), nil, 0o644)
		}, "./keys/stray is in the copy but not in the source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
			makeTree(t, src, 20)
			_, err := cluster.CopyTree(context.Background(), cluster.NewLocal("bootstrap"), src, cluster.NewLocal("fe1"), dst, cluster.CopyOptions{Now: fixedNow})
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(src, "file-000.conf"), []byte("changed"), 0o600))
			_, err = cluster.CopyTree(context.Background(), cluster.NewLocal("bootstrap"), src, tamperingNode{cluster.NewLocal("fe1"), tc.spoil}, dst, cluster.CopyOptions{Now: fixedNow})
			require.ErrorContains(t, err, tc.msg)
			b, err := os.ReadFile(filepath.Join(dst, "file-000.conf"))
			require.NoError(t, err)
			assert.NotEqual(t, "changed", string(b), "the old tree stays")
			ents, _ := os.ReadDir(base)
			assert.Len(t, ents, 2, "no staging tree or backup left behind")
		})
	}
}

// TestCopyTreeAwkwardNames copies names the reuse script must not trip on:
// spaces, quotes, backslashes, newlines, a leading dash, non-ASCII. The
// ones sh or sha256sum would need quoting or escaping for are sent again,
// the others reused.
func TestCopyTreeAwkwardNames(t *testing.T) {
	t.Parallel()
	names := map[string]bool{ // name → reused when unchanged
		"with space.rb": true, "-leading-dash": true, "ünïcode.pem": true, "a>b/c": true,
		"it's.rb": false, `back\slash`: false, "new\nline": false, "carriage\rreturn": false,
	}
	run := func(t *testing.T, to cluster.TreeWriter) {
		base := t.TempDir()
		src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
		reused := 0
		for name, r := range names {
			p := filepath.Join(src, "d x", name)
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, []byte(name), 0o640))
			if r {
				reused++
			}
		}
		require.NoError(t, os.Symlink("d x/it's.rb", filepath.Join(src, "link 'to' it")))
		from := cluster.NewLocal("bootstrap")
		rep, err := cluster.CopyTree(context.Background(), from, src, to, dst, cluster.CopyOptions{Now: fixedNow})
		require.NoError(t, err)
		assert.Equal(t, len(names), rep.Sent)
		assertSameTree(t, src, dst)
		rep, err = cluster.CopyTree(context.Background(), from, src, to, dst, cluster.CopyOptions{Now: fixedNow})
		require.NoError(t, err)
		assert.Equal(t, reused, rep.Reused)
		assertSameTree(t, src, dst)
	}
	t.Run("local", func(t *testing.T) { run(t, cluster.NewLocal("fe1")) })
	t.Run("in-process ssh", func(t *testing.T) { run(t, newSSHEnv(t).dial(t, "root")) })
}

func TestCopyTreeSourceNotADirectory(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	file := filepath.Join(base, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	require.NoError(t, os.Symlink(base, filepath.Join(base, "link")))
	local := cluster.NewLocal("bootstrap")
	for _, p := range []string{file, filepath.Join(base, "link")} {
		_, err := cluster.CopyTree(context.Background(), local, p, cluster.NewLocal("fe1"), filepath.Join(base, "dst"), cluster.CopyOptions{})
		assert.ErrorContains(t, err, p+" is not a directory")
	}
	_, err := cluster.CopyTree(context.Background(), local, filepath.Join(base, "missing"), cluster.NewLocal("fe1"), filepath.Join(base, "dst"), cluster.CopyOptions{})
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = os.Lstat(filepath.Join(base, "dst"))
	assert.ErrorIs(t, err, fs.ErrNotExist, "nothing made at the destination")
}

func TestCopyTreeRefusesDevicesAndFIFOs(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	src := filepath.Join(base, "src")
	makeTree(t, src, 3)
	require.NoError(t, mkfifo(filepath.Join(src, "pipe")))
	_, err := cluster.CopyTree(context.Background(), cluster.NewLocal("bootstrap"), src, cluster.NewLocal("fe1"), filepath.Join(base, "dst"), cluster.CopyOptions{})
	assert.ErrorContains(t, err, `pipe is of find type 'p': CopyTree copies files, directories and symlinks only`)
}

func TestCopyTreePreserveOwners(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("chown to another uid needs root")
	}
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	makeTree(t, src, 10)
	require.NoError(t, os.Chown(filepath.Join(src, "keys"), 4242, 4243))
	require.NoError(t, os.Lchown(filepath.Join(src, "file-000.conf"), 4242, 4243))
	// A set-uid bit survives the chown, which clears it.
	require.NoError(t, os.Chmod(filepath.Join(src, "file-003.conf"), 0o4755))
	for range 2 { // sent, then reused
		_, err := cluster.CopyTree(context.Background(), cluster.NewLocal("bootstrap"), src, cluster.NewLocal("fe1"), dst, cluster.CopyOptions{PreserveOwners: true, Now: fixedNow})
		require.NoError(t, err)
		assertSameTree(t, src, dst)
		for _, p := range []string{"keys", "file-000.conf"} {
			st, err := os.Lstat(filepath.Join(dst, p))
			require.NoError(t, err)
			assert.Equal(t, "4242:4243", ownerOf(st), p)
		}
	}
}

func mkfifo(p string) error { return syscall.Mkfifo(p, 0o644) }

func ownerOf(st fs.FileInfo) string {
	s := st.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d", s.Uid, s.Gid)
}

// TestCopyTreeManyFiles copies a tree whose listing does not fit in one
// command line (sshd passes the line as one argument, at most 128 KiB), so
// the stage is built, and its modes set, in several commands.
func TestCopyTreeManyFiles(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	src := filepath.Join(base, "src")
	// Some 150 KB of listing from few files: the cost is per file, the
	// command line's limit is in bytes, so the names are long (a file
	// name may have 255 bytes).
	const files = 600
	long := strings.Repeat("-long", 20)
	dirName := func(i int) string { return "a-directory-with-a" + long + "-name-" + strconv.Itoa(i%7) }
	fileName := func(i int) string { return "file-with-a" + long + long + "-name-" + strconv.Itoa(i) + ".conf" }
	for i := range files {
		dir := filepath.Join(src, dirName(i))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		mode := os.FileMode(0o644)
		if i%3 == 0 {
			mode = 0o600
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, fileName(i)), []byte(strconv.Itoa(i)), mode))
	}
	run := func(t *testing.T, to cluster.TreeWriter) {
		dst := filepath.Join(t.TempDir(), "dst")
		from := cluster.NewLocal("bootstrap")
		rep, err := cluster.CopyTree(context.Background(), from, src, to, dst, cluster.CopyOptions{Now: fixedNow})
		require.NoError(t, err)
		assert.Equal(t, files, rep.Sent)
		assertSameTree(t, src, dst)
		// The last file has mode 644, and the 644 files come after the 600
		// ones: a later command line holds it.
		changed := filepath.Join(src, dirName(files-1), fileName(files-1))
		require.NoError(t, os.WriteFile(changed, []byte("changed"), 0o600))
		t.Cleanup(func() { os.WriteFile(changed, []byte(strconv.Itoa(files-1)), 0o600) })
		rep, err = cluster.CopyTree(context.Background(), from, src, to, dst, cluster.CopyOptions{Now: fixedNow})
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Sent)
		assert.Equal(t, files-1, rep.Reused)
		assertSameTree(t, src, dst)
	}
	t.Run("local", func(t *testing.T) { run(t, cluster.NewLocal("fe1")) })
	t.Run("in-process ssh", func(t *testing.T) { run(t, newSSHEnv(t).dial(t, "root")) })
}

func TestCopyTreeEmptyTreeAndTrailingSlash(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	require.NoError(t, os.MkdirAll(filepath.Join(src, "empty"), 0o750))
	require.NoError(t, os.MkdirAll(dst, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dst, "old"), nil, 0o644))
	rep, err := cluster.CopyTree(context.Background(), cluster.NewLocal("bootstrap"), src+"/", cluster.NewLocal("fe1"), dst+"/", cluster.CopyOptions{Now: fixedNow})
	require.NoError(t, err)
	assert.Equal(t, cluster.CopyReport{Dirs: 2, Removed: 1, Backup: dst + ".chefha-backup-20261125T120000Z"}, rep)
	// assertSameTree wants a file to compare; an empty tree has none.
	ents, err := os.ReadDir(dst)
	require.NoError(t, err)
	require.Len(t, ents, 1)
	st, err := os.Stat(filepath.Join(dst, "empty"))
	require.NoError(t, err)
	assert.Equal(t, os.ModeDir|0o750, st.Mode())
}

// withoutTools runs CopyTree's scripts with a PATH that has no find, cp or
// sha256sum, as on a node without GNU tools: they exit 127.
func withoutTools(c cluster.Cmd) cluster.Cmd {
	if len(c.Argv) > 0 && c.Argv[0] == "sh" {
		c.Argv = append([]string{"env", "PATH=/nonexistent", "/bin/sh"}, c.Argv[1:]...)
	}
	return c
}

type localNoTools struct{ *cluster.Local }

func (n localNoTools) Run(ctx context.Context, c cluster.Cmd) (cluster.Result, error) {
	return n.Local.Run(ctx, withoutTools(c))
}

type sshNoTools struct{ *cluster.SSH }

func (n sshNoTools) Run(ctx context.Context, c cluster.Cmd) (cluster.Result, error) {
	return n.SSH.Run(ctx, withoutTools(c))
}

// TestCopyTreeWithoutTools copies file by file where a node cannot run the
// scripts: the result is the same tree, nothing reused.
func TestCopyTreeWithoutTools(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	for _, tc := range []struct {
		name string
		from cluster.Node
		to   cluster.TreeWriter
	}{
		{"source", localNoTools{cluster.NewLocal("bootstrap")}, cluster.NewLocal("fe1")},
		{"destination", cluster.NewLocal("bootstrap"), localNoTools{cluster.NewLocal("fe1")}},
		{"both over ssh", sshNoTools{e.dial(t, "root")}, sshNoTools{e.dial(t, "root")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
			makeTree(t, src, 30)
			for _, old := range []bool{false, true} {
				rep, err := cluster.CopyTree(context.Background(), tc.from, src, tc.to, dst, cluster.CopyOptions{Now: fixedNow})
				require.NoError(t, err, "old tree: %t", old)
				assertSameTree(t, src, dst)
				assert.Equal(t, 30, rep.Sent)
				assert.Zero(t, rep.Reused)
				assert.Equal(t, 3, rep.Dirs)
				assert.Equal(t, 1, rep.Symlinks)
				assert.Equal(t, old, rep.Backup != "")
				if old {
					assertSameTree(t, src, rep.Backup)
				}
			}
			ents, _ := os.ReadDir(base)
			assert.Len(t, ents, 3, "src, dst and one backup; no stage left")
		})
	}
}
