package cluster

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// Call is one call a node answered, as Observe reports it.
type Call struct {
	Node string
	// Op is "run" for a command, else the file operation: "read",
	// "write", "stat", "readdir", "mkdir", "rename", "remove", "chown",
	// "symlink" or "sha256".
	Op  string
	Cmd Cmd // a run's command
	// Path is a file operation's file (a rename's old name, the first of
	// the files hashed); Detail says the rest in words: bytes read or
	// written, a mode, a rename's new name, a link's target.
	Path, Detail string
	Start        time.Time
	Took         time.Duration
	Result       Result // a run's output and exit status
	Err          error
}

// Observe returns n with every call it answers reported to fn once it
// has returned (Close excepted), from the goroutine that made it: fn must
// be safe for concurrent use and quick. The calls themselves go to n
// unchanged, and what n answers is returned unchanged.
//
// The node keeps what CopyTree and the runner ask of a node beyond Node
// (TreeWriter, Hasher, directories, links, owners, streamed writes, the
// in-place writes of SSH) when n has all of them, as SSH, Local and the
// nodes Dial could not reach do; of a node with only some of them it
// keeps none, so a caller sees the same choices either way.
func Observe(n Node, fn func(Call)) Node {
	o := &observed{n: n, fn: fn}
	t, ok := n.(treeNode)
	if !ok {
		return o
	}
	ot := &observedTree{observed: o, t: t}
	if w, ok := n.(newFileWriter); ok {
		return &observedInPlace{observedTree: ot, w: w}
	}
	return ot
}

// treeNode is every optional method of SSH and Local that callers look
// for by type assertion.
type treeNode interface {
	TreeWriter
	Hasher
	dirMaker
	symlinker
	chowner
	WriteFileFrom(ctx context.Context, name string, r io.Reader, perm fs.FileMode) error
}

type observed struct {
	n  Node
	fn func(Call)
}

func (o *observed) report(c Call, start time.Time, err error) {
	c.Node, c.Start, c.Took, c.Err = o.n.Name(), start, time.Since(start), err
	o.fn(c)
}

func (o *observed) Name() string { return o.n.Name() }
func (o *observed) Close() error { return o.n.Close() }

func (o *observed) Run(ctx context.Context, cmd Cmd) (Result, error) {
	start := time.Now()
	res, err := o.n.Run(ctx, cmd)
	o.report(Call{Op: "run", Cmd: cmd, Result: res}, start, err)
	return res, err
}

func (o *observed) ReadFile(ctx context.Context, name string) ([]byte, error) {
	start := time.Now()
	b, err := o.n.ReadFile(ctx, name)
	o.report(Call{Op: "read", Path: name, Detail: bytesRead(len(b), err)}, start, err)
	return b, err
}

func (o *observed) WriteFile(ctx context.Context, name string, data []byte, perm fs.FileMode) error {
	start := time.Now()
	err := o.n.WriteFile(ctx, name, data, perm)
	o.report(Call{Op: "write", Path: name, Detail: fmt.Sprintf("%d bytes, mode %04o", len(data), perm.Perm())}, start, err)
	return err
}

func (o *observed) Stat(ctx context.Context, name string) (FileInfo, error) {
	start := time.Now()
	fi, err := o.n.Stat(ctx, name)
	o.report(Call{Op: "stat", Path: name}, start, err)
	return fi, err
}

func (o *observed) ReadDir(ctx context.Context, name string) ([]FileInfo, error) {
	start := time.Now()
	ents, err := o.n.ReadDir(ctx, name)
	detail := ""
	if err == nil {
		detail = fmt.Sprintf("%d entries", len(ents))
	}
	o.report(Call{Op: "readdir", Path: name, Detail: detail}, start, err)
	return ents, err
}

func bytesRead(n int, err error) string {
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%d bytes", n)
}

// observedTree is an observed node with SSH's and Local's optional methods.
type observedTree struct {
	*observed
	t treeNode
}

func (o *observedTree) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	start := time.Now()
	err := o.t.Mkdir(ctx, name, perm)
	o.report(Call{Op: "mkdir", Path: name, Detail: fmt.Sprintf("mode %04o", perm.Perm())}, start, err)
	return err
}

func (o *observedTree) Rename(ctx context.Context, oldname, newname string) error {
	start := time.Now()
	err := o.t.Rename(ctx, oldname, newname)
	o.report(Call{Op: "rename", Path: oldname, Detail: "to " + newname}, start, err)
	return err
}

func (o *observedTree) RemoveAll(ctx context.Context, name string) error {
	start := time.Now()
	err := o.t.RemoveAll(ctx, name)
	o.report(Call{Op: "remove", Path: name}, start, err)
	return err
}

func (o *observedTree) Chown(ctx context.Context, name string, uid, gid int) error {
	start := time.Now()
	err := o.t.Chown(ctx, name, uid, gid)
	o.report(Call{Op: "chown", Path: name, Detail: fmt.Sprintf("uid %d, gid %d", uid, gid)}, start, err)
	return err
}

func (o *observedTree) Symlink(ctx context.Context, target, name string) error {
	start := time.Now()
	err := o.t.Symlink(ctx, target, name)
	o.report(Call{Op: "symlink", Path: name, Detail: "to " + target}, start, err)
	return err
}

func (o *observedTree) SHA256(ctx context.Context, paths []string) ([][sha256.Size]byte, error) {
	start := time.Now()
	sums, err := o.t.SHA256(ctx, paths)
	c := Call{Op: "sha256", Detail: fmt.Sprintf("%d files", len(paths))}
	if len(paths) > 0 {
		c.Path = paths[0]
	}
	o.report(c, start, err)
	return sums, err
}

func (o *observedTree) WriteFileFrom(ctx context.Context, name string, r io.Reader, perm fs.FileMode) error {
	start := time.Now()
	cr := &countingReader{r: r}
	err := o.t.WriteFileFrom(ctx, name, cr, perm)
	o.report(Call{Op: "write", Path: name, Detail: fmt.Sprintf("%d bytes, mode %04o", cr.n, perm.Perm())}, start, err)
	return err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// observedInPlace is an observed SSH node: it keeps CopyTree's in-place
// writes.
type observedInPlace struct {
	*observedTree
	w newFileWriter
}

func (o *observedInPlace) writeNew(ctx context.Context, name string, data []byte) error {
	start := time.Now()
	err := o.w.writeNew(ctx, name, data)
	o.report(Call{Op: "write", Path: name, Detail: fmt.Sprintf("%d bytes, in place", len(data))}, start, err)
	return err
}
