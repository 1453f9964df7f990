package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
)

// How CopyTree gives the copy its owners: the writing user's (scp -r),
// the source's numeric ids, or the source's user and group names.

type ownership int

const (
	ownersWriter ownership = iota
	ownersByID
	ownersByName
)

func (o CopyOptions) ownership() (ownership, error) {
	switch {
	case o.PreserveOwners && o.OwnersByName:
		return 0, errors.New("PreserveOwners and OwnersByName exclude each other")
	case o.PreserveOwners:
		return ownersByID, nil
	case o.OwnersByName:
		return ownersByName, nil
	}
	return ownersWriter, nil
}

// ownerExit is the exit status of a finishing script whose chown by name
// failed; it prints ownerMark, the owner and the path first on stderr.
const (
	ownerExit = 75
	ownerMark = "chefha-owner"
)

// OwnerError is a path CopyTree could not give the owner it has on the
// source, by name: the destination lacks the user or the group.
type OwnerError struct {
	Node  string // the destination
	Path  string // the path as the copy has it on Node
	Owner string // "user:group", as the source names them
	// Reason is what chown said.
	Reason string
}

func (e *OwnerError) Error() string {
	return fmt.Sprintf("%s: cannot give %s the owner %s it has on the source: %s (create the user and group there, with the names the source has, and copy again)",
		e.Node, e.Path, e.Owner, e.Reason)
}

// ownerName is an entry's "user:group" as the source names them.
func (e treeEntry) ownerName() string { return e.user + ":" + e.group }

// chownCommand is the finishing script's chown of words (quoted paths
// inside the stage) to owner, numeric or by name. By name, a failure
// prints ownerMark, the owner and the first path, for ownerErrorFrom.
func chownCommand(owner string, words []string, by ownership) []string {
	cmds := splitCommand("chown -h -- "+ShellQuote(owner), words)
	if by != ownersByName {
		return cmds
	}
	for i, c := range cmds {
		cmds[i] = fmt.Sprintf("{ %s || { printf '%s\\t%%s\\t%%s\\n' %s %s >&2; exit %d; }; }",
			c, ownerMark, ShellQuote(owner), words[0], ownerExit)
	}
	return cmds
}

// ownerErrorFrom reads the stderr of a finishing script that exited
// ownerExit: chown's complaint and the marked owner and path (printed
// unquoted by the shell), named as under root rather than the stage.
func ownerErrorFrom(node, stage, root string, stderr []byte) error {
	e := &OwnerError{Node: node}
	var reason []string
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, ownerMark+"\t"); ok {
			owner, rel, _ := strings.Cut(rest, "\t")
			e.Owner = owner
			e.Path = path.Join(root, strings.TrimPrefix(rel, "./"))
			continue
		}
		if line != "" {
			reason = append(reason, line)
		}
	}
	e.Reason = strings.Join(reason, "; ")
	if e.Owner == "" {
		return fmt.Errorf("%s: finish %s: chown failed: %s", node, stage, e.Reason)
	}
	return e
}

// ownerNames asks n for the user and group names of ents (a walk, whose
// SFTP listing has ids only) with stat, in batches: one line per path,
// in order. stat prints the id where no name has it, as find does.
func ownerNames(ctx context.Context, n Node, root string, ents []treeEntry) error {
	for start := 0; start < len(ents); start += sha256sumBatch {
		batch := ents[start:min(start+sha256sumBatch, len(ents))]
		argv := []string{"stat", "-c", "%U:%G", "--"}
		for _, e := range batch {
			argv = append(argv, path.Join(root, e.rel))
		}
		res, err := n.Run(ctx, Cmd{Argv: argv})
		if err != nil {
			return fmt.Errorf("%s: owner names under %s: %w", n.Name(), root, err)
		}
		lines := strings.Split(strings.TrimSuffix(string(res.Stdout), "\n"), "\n")
		if len(lines) != len(batch) {
			return fmt.Errorf("%s: stat printed %d owners for %d paths", n.Name(), len(lines), len(batch))
		}
		for i, l := range lines {
			u, g, ok := strings.Cut(l, ":")
			if !ok || u == "" || g == "" {
				return fmt.Errorf("%s: stat printed owner %q", n.Name(), l)
			}
			ents[start+i].user, ents[start+i].group = u, g
		}
	}
	return nil
}

// chownByName gives the stage's paths their source owners by name with
// chown commands on to, grouped by owner (the walk's way: the finishing
// script does it otherwise).
func chownByName(ctx context.Context, to Node, stage, root string, ents []treeEntry) error {
	byOwner := map[string][]string{}
	var order []string
	for _, e := range ents {
		o := e.ownerName()
		if byOwner[o] == nil {
			order = append(order, o)
		}
		byOwner[o] = append(byOwner[o], path.Join(stage, e.rel))
	}
	for _, o := range order {
		paths := byOwner[o]
		for start := 0; start < len(paths); start += sha256sumBatch {
			batch := paths[start:min(start+sha256sumBatch, len(paths))]
			_, err := to.Run(ctx, Cmd{Argv: append([]string{"chown", "-h", "--", o}, batch...)})
			var ee *ExitError
			if errors.As(err, &ee) {
				rel := strings.TrimPrefix(strings.TrimPrefix(batch[0], stage), "/")
				return &OwnerError{Node: to.Name(), Path: path.Join(root, rel), Owner: o, Reason: strings.TrimSpace(string(ee.Result.Stderr))}
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
