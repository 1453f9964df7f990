package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"
)

// TreeWriter is what CopyTree needs of the destination beyond Node.
// SSH and Local implement it.
type TreeWriter interface {
	Node
	Mkdir(ctx context.Context, name string, perm fs.FileMode) error
	Rename(ctx context.Context, oldname, newname string) error
	RemoveAll(ctx context.Context, name string) error
	Chown(ctx context.Context, name string, uid, gid int) error
	Symlink(ctx context.Context, target, name string) error
}

// Hasher is a node that can hash its own files, so verifying a copy does
// not move every byte back. Nodes without it are verified by reading back.
type Hasher interface {
	SHA256(ctx context.Context, paths []string) ([][sha256.Size]byte, error)
}

// CopyOptions tune CopyTree.
type CopyOptions struct {
	// Concurrency bounds the files in flight (default 8): SFTP round trips
	// overlap instead of adding up.
	Concurrency int
	// PreserveOwners copies numeric owners. It needs root on the
	// destination and the same uids on both ends (Chef's omnibus creates
	// opscode with the same uid only if the operator made it so): off by
	// default, so files belong to the writing user, as with `scp -r`.
	PreserveOwners bool
	// Now stamps the backup's name; default time.Now.
	Now func() time.Time
}

// CopyReport is what CopyTree did.
type CopyReport struct {
	Files, Dirs, Symlinks int
	Bytes                 int64
	// Backup is where the destination's previous tree now is ("" when
	// there was none).
	Backup string
}

// CopyTree copies the directory tree fromPath on from to toPath on to, as
// the runbook's `scp -r BOOTSTRAP:/etc/opscode /etc`, but safely: modes are
// kept, every file is verified by SHA-256 after the copy, the new tree is
// built beside the old one (toPath.chefha-new-STAMP) and swapped in by
// rename only once verified, and the old tree is kept as
// toPath.chefha-backup-STAMP. A failure part-way leaves the old tree in place.
func CopyTree(ctx context.Context, from Node, fromPath string, to TreeWriter, toPath string, opt CopyOptions) (CopyReport, error) {
	if opt.Concurrency <= 0 {
		opt.Concurrency = 8
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	var rep CopyReport
	fail := func(err error) (CopyReport, error) {
		return CopyReport{}, fmt.Errorf("copy %s:%s to %s:%s: %w", from.Name(), fromPath, to.Name(), toPath, err)
	}
	root, err := from.Stat(ctx, fromPath)
	if err != nil {
		return fail(err)
	}
	if !root.IsDir() {
		return fail(fmt.Errorf("%s is not a directory", fromPath))
	}
	stamp := opt.Now().UTC().Format("20060102T150405Z")
	stage := toPath + ".chefha-new-" + stamp
	if _, err := to.Stat(ctx, stage); err == nil {
		return fail(fmt.Errorf("%s already exists on %s: another copy is running or was interrupted; remove it", stage, to.Name()))
	}
	c := &treeCopy{from: from, to: to, opt: opt, fromRoot: fromPath, stage: stage}
	if err := c.copy(ctx, root); err != nil {
		if rerr := to.RemoveAll(context.WithoutCancel(ctx), stage); rerr != nil {
			err = fmt.Errorf("%w (and removing %s failed: %v)", err, stage, rerr)
		}
		return fail(err)
	}
	rep.Files, rep.Dirs, rep.Symlinks, rep.Bytes = len(c.files), c.dirs, c.links, c.bytes

	// Swap: old → backup, stage → toPath; undo the first if the second fails.
	// From here on the work must finish even if ctx ends.
	swapCtx := context.WithoutCancel(ctx)
	if _, err := to.Stat(swapCtx, toPath); err == nil {
		rep.Backup = toPath + ".chefha-backup-" + stamp
		// Two copies within a second (two hops of one upgrade) must not
		// collide: number the later backups.
		for i := 2; ; i++ {
			if _, err := to.Stat(swapCtx, rep.Backup); errors.Is(err, fs.ErrNotExist) {
				break
			}
			rep.Backup = fmt.Sprintf("%s.chefha-backup-%s-%d", toPath, stamp, i)
		}
		if err := to.Rename(swapCtx, toPath, rep.Backup); err != nil {
			to.RemoveAll(swapCtx, stage)
			return fail(fmt.Errorf("keep the old tree as %s: %w", rep.Backup, err))
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		to.RemoveAll(swapCtx, stage)
		return fail(err)
	}
	if err := to.Rename(swapCtx, stage, toPath); err != nil {
		if rep.Backup != "" {
			if rerr := to.Rename(swapCtx, rep.Backup, toPath); rerr != nil {
				return fail(fmt.Errorf("swap in the new tree: %w; RESTORE BY HAND: mv %s %s (%v)", err, rep.Backup, toPath, rerr))
			}
		}
		return fail(fmt.Errorf("swap in the new tree (old tree left in place; new one at %s): %w", stage, err))
	}
	return rep, nil
}

type treeCopy struct {
	from            Node
	to              TreeWriter
	opt             CopyOptions
	fromRoot, stage string

	mu     sync.Mutex
	files  []copiedFile
	dirs   int
	links  int
	bytes  int64
	owners []FileInfo // stage paths whose owners to set, dirs last
}

type copiedFile struct {
	dst string
	sum [sha256.Size]byte
}

func (c *treeCopy) dst(src string) string {
	return c.stage + strings.TrimPrefix(src, c.fromRoot)
}

func (c *treeCopy) copy(ctx context.Context, root FileInfo) error {
	// Walk the source breadth first, making directories as we go, and
	// collect the files to copy concurrently.
	var files []FileInfo
	queue := []FileInfo{root}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		// Directories are made writable for the copy; their real mode is
		// set after their contents are in.
		if err := c.to.Mkdir(ctx, c.dst(d.Path), 0o700); err != nil {
			return err
		}
		c.dirs++
		ents, err := c.from.ReadDir(ctx, d.Path)
		if err != nil {
			return err
		}
		for _, e := range ents {
			switch {
			case e.IsDir():
				queue = append(queue, e)
			case e.Mode&fs.ModeSymlink != 0:
				if err := c.to.Symlink(ctx, e.Target, c.dst(e.Path)); err != nil {
					return err
				}
				c.links++
			case e.Mode.IsRegular():
				files = append(files, e)
			default:
				return fmt.Errorf("%s on %s is a %s: CopyTree copies files, directories and symlinks only", e.Path, c.from.Name(), e.Mode.Type())
			}
		}
		c.owners = append(c.owners, d)
	}
	if err := c.copyFiles(ctx, files); err != nil {
		return err
	}
	if err := c.verify(ctx); err != nil {
		return err
	}
	// Directory modes deepest first (the walk was breadth first), then owners.
	for i := len(c.owners) - 1; i >= 0; i-- {
		d := c.owners[i]
		if err := c.chmodDir(ctx, d); err != nil {
			return err
		}
	}
	if c.opt.PreserveOwners {
		for _, f := range append(files, c.owners...) {
			if f.UID < 0 {
				continue
			}
			if err := c.to.Chown(ctx, c.dst(f.Path), f.UID, f.GID); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *treeCopy) chmodDir(ctx context.Context, d FileInfo) error {
	// Mkdir on an existing directory is not a chmod; TreeWriter has no
	// Chmod because only directories need it here, so both implementations
	// treat Mkdir of an existing directory as "set its mode".
	return c.to.Mkdir(ctx, c.dst(d.Path), d.Mode.Perm())
}

func (c *treeCopy) copyFiles(ctx context.Context, files []FileInfo) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, c.opt.Concurrency)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for _, f := range files {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := c.copyFile(ctx, f); err != nil {
				errOnce.Do(func() { firstErr = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

func (c *treeCopy) copyFile(ctx context.Context, f FileInfo) error {
	data, err := c.from.ReadFile(ctx, f.Path)
	if err != nil {
		return err
	}
	dst := c.dst(f.Path)
	if err := c.to.WriteFile(ctx, dst, data, f.Mode.Perm()); err != nil {
		return err
	}
	c.mu.Lock()
	c.files = append(c.files, copiedFile{dst: dst, sum: sha256.Sum256(data)})
	c.bytes += int64(len(data))
	c.mu.Unlock()
	return nil
}

// ChecksumError is a file whose copy does not match its source.
type ChecksumError struct {
	Node, Path string
	Want, Got  string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: %s: SHA-256 after copy is %s, source has %s", e.Node, e.Path, e.Got, e.Want)
}

func (c *treeCopy) verify(ctx context.Context) error {
	paths := make([]string, len(c.files))
	for i, f := range c.files {
		paths[i] = f.dst
	}
	var sums [][sha256.Size]byte
	if h, ok := c.to.(Hasher); ok {
		var err error
		if sums, err = h.SHA256(ctx, paths); err != nil {
			return err
		}
	} else {
		for _, p := range paths {
			b, err := c.to.ReadFile(ctx, p)
			if err != nil {
				return err
			}
			sums = append(sums, sha256.Sum256(b))
		}
	}
	for i, f := range c.files {
		if sums[i] != f.sum {
			return &ChecksumError{Node: c.to.Name(), Path: f.dst, Want: hex.EncodeToString(f.sum[:]), Got: hex.EncodeToString(sums[i][:])}
		}
	}
	return nil
}

// sha256sumBatch is how many paths go into one sha256sum command line.
const sha256sumBatch = 200

// remoteSHA256 hashes files on a POSIX node with coreutils' sha256sum, in
// batches, matching output lines to paths by order (a name with a newline
// or backslash is printed escaped with a leading "\", which order makes
// irrelevant).
func remoteSHA256(ctx context.Context, n Node, sudo bool, paths []string) ([][sha256.Size]byte, error) {
	out := make([][sha256.Size]byte, 0, len(paths))
	for start := 0; start < len(paths); start += sha256sumBatch {
		batch := paths[start:min(start+sha256sumBatch, len(paths))]
		res, err := n.Run(ctx, Cmd{Argv: append([]string{"sha256sum", "--"}, batch...), Sudo: sudo})
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(res.Stdout))
		for sc.Scan() {
			line := strings.TrimPrefix(sc.Text(), `\`)
			var sum [sha256.Size]byte
			if len(line) < 2*sha256.Size {
				return nil, fmt.Errorf("%s: sha256sum printed %q", n.Name(), line)
			}
			if _, err := hex.Decode(sum[:], []byte(line[:2*sha256.Size])); err != nil {
				return nil, fmt.Errorf("%s: sha256sum printed %q", n.Name(), line)
			}
			out = append(out, sum)
		}
		if len(out) != start+len(batch) {
			return nil, fmt.Errorf("%s: sha256sum printed %d sums for %d files", n.Name(), len(out)-start, len(batch))
		}
	}
	return out, nil
}
