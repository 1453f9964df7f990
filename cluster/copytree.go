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
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TreeWriter is what CopyTree needs of the destination beyond Node: the
// swap and the clean-up. The tree itself is built by commands (Node.Run),
// one for the whole tree rather than a call per directory or link, and by
// WriteFile, or in place over SFTP for SSH. SSH and Local implement it.
type TreeWriter interface {
	Node
	Rename(ctx context.Context, oldname, newname string) error
	RemoveAll(ctx context.Context, name string) error
}

// Hasher is a node that can hash its own files. CopyTree uses it to name
// the file that spoiled a copy; nodes without it are asked to run
// sha256sum.
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
	// OwnersByName copies owners by user and group name: each path gets
	// on the destination the user and group whose names it has on the
	// source (chown NAME:GROUP), so the two ends need the same names,
	// not the same ids, as Chef's packaging gives them (useradd opscode
	// picks whatever id is free). It needs root on the destination; a
	// name the destination lacks fails the copy with an *OwnerError
	// naming it and the path. It excludes PreserveOwners.
	OwnersByName bool
	// Now stamps the backup's name; default time.Now.
	Now func() time.Time
}

// CopyReport is what CopyTree did.
type CopyReport struct {
	// Files, Dirs (the root included), Symlinks and Bytes describe the new
	// tree.
	Files, Dirs, Symlinks int
	Bytes                 int64
	// Sent files went over the wire, BytesSent bytes of them; Reused files
	// were copied on the destination from the tree they replace, whose file
	// at the same path had the same SHA-256. Files = Sent + Reused.
	Sent, Reused int
	BytesSent    int64
	// Removed counts the paths of the replaced tree that the new one does
	// not have.
	Removed int
	// Backup is where the destination's previous tree now is ("" when
	// there was none).
	Backup string
}

// CopyTree copies the directory tree fromPath on from to toPath on to, as
// the runbook's `scp -r BOOTSTRAP:/etc/opscode /etc`, but safely and
// sending only what changed:
//
//   - the new tree is built beside the old one (toPath.chefha-new-STAMP):
//     files whose SHA-256 the old tree already has at the same path are
//     copied there on the destination, the others are sent; directories
//     and symlinks are made from the source's listing, modes are kept;
//   - the whole new tree is verified against the source (every file's
//     SHA-256, every path's type, mode and link target) on the destination;
//   - it is swapped in by rename, and the old tree is kept as
//     toPath.chefha-backup-STAMP. A failure part-way leaves the old tree in
//     place.
//
// It uses a POSIX sh, GNU find, xargs and coreutils (sha256sum, sort -z)
// on both nodes, as every Enterprise Chef platform has. Listing, hashing,
// reuse and verification are each done by one command for the whole tree:
// an unchanged tree costs the destination one command and five SFTP
// requests, a fresh copy one command and an open, writes and a close per
// file. Where a node lacks them (exit 127) it copies file by file over
// SFTP, reusing nothing and checking contents only, and reports no
// Removed.
func CopyTree(ctx context.Context, from Node, fromPath string, to TreeWriter, toPath string, opt CopyOptions) (CopyReport, error) {
	if opt.Concurrency <= 0 {
		opt.Concurrency = 8
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	// "/etc/opscode/" must not put the stage inside the tree it replaces.
	fromPath, toPath = path.Clean(fromPath), path.Clean(toPath)
	fail := func(err error) (CopyReport, error) {
		return CopyReport{}, fmt.Errorf("copy %s:%s to %s:%s: %w", from.Name(), fromPath, to.Name(), toPath, err)
	}
	owners, err := opt.ownership()
	if err != nil {
		return fail(err)
	}
	ents, err := listTree(ctx, from, fromPath)
	byFile := noTools(err)
	if byFile {
		ents, err = walkTree(ctx, from, fromPath)
		if err == nil && owners == ownersByName {
			err = ownerNames(ctx, from, fromPath, ents)
		}
	}
	if err != nil {
		return fail(err)
	}
	stamp := opt.Now().UTC().Format("20060102T150405Z")
	stage := toPath + ".chefha-new-" + stamp
	var rep CopyReport
	if !byFile {
		rep, err = stageTree(ctx, from, fromPath, to, toPath, stage, ents, opt, owners)
		// A destination without the tools the source has: start again.
		if byFile = noTools(err); byFile {
			if err = to.RemoveAll(ctx, stage); err != nil {
				return fail(err)
			}
		}
	}
	if byFile {
		rep, err = copyFileByFile(ctx, from, fromPath, to, toPath, stage, ents, opt, owners)
	}
	if errors.Is(err, errStageExists) {
		return fail(fmt.Errorf("%s already exists on %s: another copy is running or was interrupted; remove it", stage, to.Name()))
	}
	if err != nil {
		if rerr := to.RemoveAll(context.WithoutCancel(ctx), stage); rerr != nil {
			err = fmt.Errorf("%w (and removing %s failed: %v)", err, stage, rerr)
		}
		return fail(err)
	}

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

// stageTree builds and verifies the stage: reuse on the node, send the
// rest, set modes, compare digests.
func stageTree(ctx context.Context, from Node, fromPath string, to TreeWriter, toPath, stage string, ents []treeEntry, opt CopyOptions, owners ownership) (CopyReport, error) {
	plan, err := planStage(ctx, to, toPath, stage, ents, owners)
	if err != nil {
		return CopyReport{}, err
	}
	var rep CopyReport
	for _, e := range ents {
		switch e.typ {
		case 'f':
			rep.Files++
			rep.Bytes += e.size
		case 'd':
			rep.Dirs++
		case 'l':
			rep.Symlinks++
		}
	}
	rep.Sent, rep.Reused = len(plan.send), rep.Files-len(plan.send)
	if plan.oldSize > 0 {
		rep.Removed = max(plan.oldSize-1-plan.kept, 0)
	}
	if plan.verified != nil {
		if err := checkDigests(ctx, to, stage, ents, plan.verified); err != nil {
			return CopyReport{}, err
		}
		return rep, nil
	}
	if rep.BytesSent, err = sendFiles(ctx, from, fromPath, to, stage, plan.send, opt.Concurrency, true); err != nil {
		return CopyReport{}, err
	}
	if err := finishStage(ctx, to, toPath, stage, ents, plan.send, plan.links, owners); err != nil {
		return CopyReport{}, err
	}
	return rep, nil
}

// newFileWriter is a node that can write a file that does not exist yet in
// place: no temporary file and rename, which inside a stage nobody else
// sees would only cost round trips. The mode is left to the caller.
type newFileWriter interface {
	writeNew(ctx context.Context, name string, data []byte) error
}

// sendFiles sends files from the source into the stage, a few at a time so
// that round trips overlap. inPlace lets a newFileWriter skip setting the
// mode (a later command does). It returns the bytes sent.
func sendFiles(ctx context.Context, from Node, fromPath string, to TreeWriter, stage string, files []*treeEntry, concurrency int, inPlace bool) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	var sent int64
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
			n, err := sendFile(ctx, from, path.Join(fromPath, f.rel), to, path.Join(stage, f.rel), f, inPlace)
			mu.Lock()
			defer mu.Unlock()
			sent += n
			if err != nil && firstErr == nil {
				firstErr = err
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return sent, firstErr
}

func sendFile(ctx context.Context, from Node, src string, to TreeWriter, dst string, f *treeEntry, inPlace bool) (int64, error) {
	data, err := from.ReadFile(ctx, src)
	if err != nil {
		return 0, err
	}
	if sha256.Sum256(data) != f.sum {
		return 0, fmt.Errorf("%s: %s changed while it was being copied; copy again", from.Name(), src)
	}
	if w, ok := to.(newFileWriter); ok && inPlace {
		err = w.writeNew(ctx, dst, data)
	} else {
		perm, _ := strconv.ParseUint(f.mode, 8, 32)
		err = to.WriteFile(ctx, dst, data, fs.FileMode(perm).Perm())
	}
	if err != nil {
		return 0, err
	}
	return int64(len(data)), nil
}

// ChecksumError is a file whose copy does not match its source.
type ChecksumError struct {
	Node, Path string
	Want, Got  string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: %s: SHA-256 after copy is %s, source has %s", e.Node, e.Path, e.Got, e.Want)
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
