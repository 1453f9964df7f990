package cluster

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
)

// CopyTree's file-by-file way, for nodes that cannot run its scripts
// (clustertest's emulated nodes; a node without GNU find): the tree is
// walked and every file sent and hashed one by one, as before scripts,
// with nothing reused. It needs more of the destination than TreeWriter.

type symlinker interface {
	Symlink(ctx context.Context, target, name string) error
}

type chowner interface {
	Chown(ctx context.Context, name string, uid, gid int) error
}

// walkTree lists root on n with Stat and ReadDir, and hashes its files with
// the node's sha256sum (or Hasher).
func walkTree(ctx context.Context, n Node, root string) ([]treeEntry, error) {
	st, err := n.Stat(ctx, root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: %s is not a directory", n.Name(), root)
	}
	ents := []treeEntry{walkEntry("", st)}
	var paths []string
	var files []int
	for queue := []string{""}; len(queue) > 0; queue = queue[1:] {
		list, err := n.ReadDir(ctx, path.Join(root, queue[0]))
		if err != nil {
			return nil, err
		}
		for _, fi := range list {
			rel := path.Join(queue[0], fi.Name())
			e := walkEntry(rel, fi)
			switch {
			case fi.IsDir():
				queue = append(queue, rel)
			case fi.Mode&fs.ModeSymlink != 0:
			case fi.Mode.IsRegular():
				files = append(files, len(ents))
				paths = append(paths, fi.Path)
			default:
				return nil, fmt.Errorf("%s on %s is a %s: CopyTree copies files, directories and symlinks only", fi.Path, n.Name(), fi.Mode.Type())
			}
			ents = append(ents, e)
		}
	}
	sums, err := hashFiles(ctx, n, paths)
	if err != nil {
		return nil, err
	}
	for i, at := range files {
		ents[at].sum = sums[i]
	}
	return ents, nil
}

func walkEntry(rel string, fi FileInfo) treeEntry {
	bits := uint32(fi.Mode.Perm())
	for m, b := range map[fs.FileMode]uint32{fs.ModeSetuid: 0o4000, fs.ModeSetgid: 0o2000, fs.ModeSticky: 0o1000} {
		if fi.Mode&m != 0 {
			bits |= b
		}
	}
	e := treeEntry{rel: rel, typ: 'f', mode: strconv.FormatUint(uint64(bits), 8), uid: fi.UID, gid: fi.GID, size: fi.Size}
	switch {
	case fi.IsDir():
		e.typ = 'd'
	case fi.Mode&fs.ModeSymlink != 0:
		e.typ, e.target = 'l', fi.Target
	}
	return e
}

func hashFiles(ctx context.Context, n Node, paths []string) ([][sha256.Size]byte, error) {
	if h, ok := n.(Hasher); ok {
		return h.SHA256(ctx, paths)
	}
	return remoteSHA256(ctx, n, false, paths)
}

// copyFileByFile builds and verifies the stage over SFTP calls: directories
// and links one by one, every file sent with its mode, every file hashed
// back, directory modes last.
func copyFileByFile(ctx context.Context, from Node, fromPath string, to TreeWriter, toPath, stage string, ents []treeEntry, opt CopyOptions, owners ownership) (CopyReport, error) {
	dm, ok1 := to.(dirMaker)
	sl, ok2 := to.(symlinker)
	ch, ok3 := to.(chowner)
	if !ok1 || !ok2 || !ok3 && owners == ownersByID {
		return CopyReport{}, fmt.Errorf("%s runs no GNU find and coreutils, and %T cannot make directories, links and owners without them", to.Name(), to)
	}
	if _, err := to.Stat(ctx, stage); err == nil {
		return CopyReport{}, errStageExists
	} else if !errors.Is(err, fs.ErrNotExist) {
		return CopyReport{}, err
	}
	dirs, links, files := sortEntries(ents)
	var rep CopyReport
	for _, d := range append([]*treeEntry{&ents[0]}, dirs...) {
		if err := dm.Mkdir(ctx, path.Join(stage, d.rel), 0o700); err != nil {
			return CopyReport{}, err
		}
	}
	for _, l := range links {
		if err := sl.Symlink(ctx, l.target, path.Join(stage, l.rel)); err != nil {
			return CopyReport{}, err
		}
	}
	sent, err := sendFiles(ctx, from, fromPath, to, stage, files, opt.Concurrency, false)
	if err != nil {
		return CopyReport{}, err
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = path.Join(stage, f.rel)
	}
	sums, err := hashFiles(ctx, to, paths)
	if err != nil {
		return CopyReport{}, err
	}
	for i, f := range files {
		if sums[i] != f.sum {
			return CopyReport{}, &ChecksumError{Node: to.Name(), Path: paths[i], Want: fmt.Sprintf("%x", f.sum), Got: fmt.Sprintf("%x", sums[i])}
		}
	}
	if owners == ownersByName {
		// By chown NAME:GROUP on the destination (SFTP knows ids only),
		// before the modes: chown clears set-id bits.
		if err := chownByName(ctx, to, stage, toPath, ents); err != nil {
			return CopyReport{}, err
		}
		for _, f := range files {
			if mode, _ := strconv.ParseUint(f.mode, 8, 32); mode&0o7000 != 0 {
				if err := chmodEntry(ctx, to, path.Join(stage, f.rel), f.mode); err != nil {
					return CopyReport{}, err
				}
			}
		}
	}
	// Deepest first: a parent made read-only must not stop its children.
	all := append([]*treeEntry{&ents[0]}, dirs...)
	sort.Slice(all, func(i, j int) bool { return all[i].rel > all[j].rel })
	for _, d := range all {
		mode, _ := strconv.ParseUint(d.mode, 8, 32)
		if err := dm.Mkdir(ctx, path.Join(stage, d.rel), fs.FileMode(mode).Perm()); err != nil {
			return CopyReport{}, err
		}
	}
	if owners == ownersByID {
		for _, e := range ents {
			// Not links: an SFTP chown would follow them.
			if e.typ == 'l' {
				continue
			}
			if err := ch.Chown(ctx, path.Join(stage, e.rel), e.uid, e.gid); err != nil {
				return CopyReport{}, err
			}
		}
	}
	rep.Files, rep.Sent, rep.Dirs, rep.Symlinks, rep.BytesSent = len(files), len(files), len(dirs)+1, len(links), sent
	for _, f := range files {
		rep.Bytes += f.size
	}
	return rep, nil
}

// chmodEntry sets a path's mode, set-id bits included, with chmod.
func chmodEntry(ctx context.Context, to Node, p, mode string) error {
	_, err := to.Run(ctx, Cmd{Argv: []string{"chmod", mode, "--", p}})
	return err
}
