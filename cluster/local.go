package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/chefha/chefha/internal/atomicfile"
)

// Local is the machine chefha runs on, as a Node: for running on the
// bootstrap itself.
type Local struct {
	name string
	user string
	// WaitDelay bounds how long Run waits for a cancelled command's output
	// pipes to close (see exec.Cmd.WaitDelay).
	WaitDelay time.Duration
}

// NewLocal returns this machine as a node called name.
func NewLocal(name string) *Local {
	u := "root"
	if os.Geteuid() != 0 {
		if cur, err := user.Current(); err == nil {
			u = cur.Username
		}
	}
	return &Local{name: name, user: u, WaitDelay: 2 * time.Second}
}

func (l *Local) Name() string { return l.name }

func (l *Local) Run(ctx context.Context, c Cmd) (Result, error) {
	if len(c.Argv) == 0 {
		return Result{}, fmt.Errorf("%s: empty command", l.name)
	}
	argv := sudoArgv(c, l.user)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if c.Output != nil {
		cmd.Stdout = io.MultiWriter(&stdout, c.Output)
	}
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	// Own process group, so cancelling kills the whole command, not only
	// the shell that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = l.WaitDelay
	err := cmd.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if ctx.Err() != nil {
		return res, fmt.Errorf("%s: %s: %w", l.name, c, ctx.Err())
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
		if res.ExitCode < 0 {
			res.ExitCode = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		}
	case err != nil:
		return res, fmt.Errorf("%s: %s: %w", l.name, c, err)
	}
	return finish(l.name, l.user, c, res)
}

func (l *Local) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(name)
	return b, l.wrap(err)
}

func (l *Local) WriteFile(ctx context.Context, name string, data []byte, perm fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.wrap(atomicfile.WriteFile(name, data, perm))
}

// WriteFileFrom streams r into name, atomically.
func (l *Local) WriteFileFrom(ctx context.Context, name string, r io.Reader, perm fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.wrap(atomicfile.WriteFrom(name, r, perm))
}

func (l *Local) Stat(ctx context.Context, name string) (FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return FileInfo{}, err
	}
	st, err := os.Lstat(name)
	if err != nil {
		return FileInfo{}, l.wrap(err)
	}
	return localInfo(name, st), nil
}

func (l *Local) ReadDir(ctx context.Context, name string) ([]FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(name)
	if err != nil {
		return nil, l.wrap(err)
	}
	out := make([]FileInfo, 0, len(ents))
	for _, e := range ents {
		p := filepath.Join(name, e.Name())
		st, err := os.Lstat(p)
		if err != nil {
			return nil, l.wrap(err)
		}
		out = append(out, localInfo(p, st))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func localInfo(p string, st fs.FileInfo) FileInfo {
	fi := FileInfo{Path: p, Mode: st.Mode(), Size: st.Size(), ModTime: st.ModTime(), UID: -1, GID: -1}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		fi.UID, fi.GID = int(sys.Uid), int(sys.Gid)
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		fi.Target, _ = os.Readlink(p)
	}
	return fi
}

func (l *Local) Close() error { return nil }

func (l *Local) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", l.name, err)
}

// Mkdir makes a directory, or sets the mode of one that exists.
func (l *Local) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := os.Mkdir(name, perm)
	if errors.Is(err, fs.ErrExist) {
		err = os.Chmod(name, perm)
	}
	return l.wrap(err)
}

func (l *Local) Rename(ctx context.Context, oldname, newname string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.wrap(os.Rename(oldname, newname))
}

func (l *Local) RemoveAll(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.wrap(os.RemoveAll(name))
}

func (l *Local) Chown(ctx context.Context, name string, uid, gid int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.wrap(os.Lchown(name, uid, gid))
}

func (l *Local) Symlink(ctx context.Context, target, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.wrap(os.Symlink(target, name))
}

// SHA256 hashes local files.
func (l *Local) SHA256(ctx context.Context, paths []string) ([][sha256.Size]byte, error) {
	out := make([][sha256.Size]byte, len(paths))
	for i, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, l.wrap(err)
		}
		out[i] = sha256.Sum256(b)
	}
	return out, nil
}
