package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// verifyScript prints treeDigests for the tree in the current directory.
const verifyScript = `find . -printf '%P/%y%m>%l\0' | LC_ALL=C sort -z | sha256sum
find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum -- | sed 's/^\\//' | cut -c1-64 | sha256sum
`

// finishCommands are the commands that complete the stage, run inside it:
// symlinks still to make, owners when asked, the modes of the files sent
// (the server created them with its default mode) and of the directories
// (kept 0700 until now).
func finishCommands(ents []treeEntry, sent, links []*treeEntry, owners ownership) []string {
	var cmds []string
	if len(links) > 0 {
		var words []string
		for _, l := range links {
			words = append(words, ShellQuote(l.target), ShellQuote(dotRel(l.rel)))
		}
		for _, c := range splitCommand("printf '%s\\0'", words) {
			cmds = append(cmds, c+" | xargs -0 -r -n 2 ln -s --")
		}
	}
	chmods := func(list []*treeEntry) {
		for i := 0; i < len(list); {
			j := i
			var words []string
			for ; j < len(list) && list[j].mode == list[i].mode; j++ {
				words = append(words, ShellQuote(dotRel(list[j].rel)))
			}
			cmds = append(cmds, splitCommand("chmod "+list[i].mode+" --", words)...)
			i = j
		}
	}
	var files, dirs []*treeEntry
	for i := range ents {
		switch ents[i].typ {
		case 'f':
			files = append(files, &ents[i])
		case 'd':
			dirs = append(dirs, &ents[i])
		}
	}
	if owners != ownersWriter {
		// chown clears set-id bits, so every file's mode is set after it.
		byOwner := map[string][]string{}
		var order []string
		for _, e := range ents {
			o := strconv.Itoa(e.uid) + ":" + strconv.Itoa(e.gid)
			if owners == ownersByName {
				o = e.ownerName()
			}
			if byOwner[o] == nil {
				order = append(order, o)
			}
			byOwner[o] = append(byOwner[o], ShellQuote(dotRel(e.rel)))
		}
		for _, o := range order {
			cmds = append(cmds, chownCommand(o, byOwner[o], owners)...)
		}
		sent = files
	}
	sent = append([]*treeEntry(nil), sent...)
	sort.Slice(sent, func(i, j int) bool { return sent[i].mode < sent[j].mode })
	chmods(sent)
	// Deepest first: a parent made read-only must not stop its children.
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].rel > dirs[j].rel })
	chmods(dirs)
	return cmds
}

// finishScript runs cmds inside stage, and the verification when last.
func finishScript(stage string, cmds []string, last bool) string {
	var b strings.Builder
	b.WriteString("cd -- " + ShellQuote(stage) + " || exit\n")
	for _, c := range cmds {
		b.WriteString(c + " || exit\n")
	}
	if last {
		b.WriteString(verifyScript)
	}
	return b.String()
}

// finishStage completes the stage (finishCommands) and verifies it against
// the source, in one command unless the lists are long (a fresh copy of a
// big tree).
func finishStage(ctx context.Context, to Node, root, stage string, ents []treeEntry, sent, links []*treeEntry, owners ownership) error {
	cmds := finishCommands(ents, sent, links, owners)
	for {
		n, size := 0, 0
		for n < len(cmds) && (n == 0 || size+len(cmds[n]) < maxCommand-len(verifyScript)-len(stage)-64) {
			size += len(cmds[n]) + 9
			n++
		}
		last := n == len(cmds)
		res, err := runScript(ctx, to, "finish and verify "+stage, finishScript(stage, cmds[:n], last))
		var ee *ExitError
		if owners == ownersByName && errors.As(err, &ee) && ee.Result.ExitCode == ownerExit {
			return ownerErrorFrom(to.Name(), stage, root, ee.Result.Stderr)
		}
		if err != nil {
			return err
		}
		if last {
			return checkDigests(ctx, to, stage, ents, res.Stdout)
		}
		cmds = cmds[n:]
	}
}

// splitCommand makes prefix followed by quoted words into as few command
// lines as keep each well under maxCommand.
func splitCommand(prefix string, words []string) []string {
	var out []string
	var b strings.Builder
	for _, w := range words {
		if b.Len() > 0 && b.Len()+len(w) > maxCommand/4 {
			out = append(out, prefix+b.String())
			b.Reset()
		}
		b.WriteString(" " + w)
	}
	if b.Len() > 0 {
		out = append(out, prefix+b.String())
	}
	return out
}

// dotRel names rel from inside the root: "." for the root, and a leading
// "./" keeps a name starting with "-" from reading as an option.
func dotRel(rel string) string {
	if rel == "" {
		return "."
	}
	return "./" + rel
}

// checkDigests compares verifyScript's output with the source's. On a
// mismatch it finds the first file or path that differs, to name it.
func checkDigests(ctx context.Context, to Node, stage string, ents []treeEntry, out []byte) error {
	wantMeta, wantContent := treeDigests(ents)
	lines := strings.Split(string(out), "\n")
	if len(lines) < 2 || len(lines[0]) < 64 || len(lines[1]) < 64 {
		return fmt.Errorf("%s: verify %s: unexpected output %q", to.Name(), stage, out)
	}
	gotMeta, gotContent := lines[0][:64], lines[1][:64]
	if gotContent != hex.EncodeToString(wantContent[:]) {
		// A file that differs, else a path that is extra or missing.
		if err := findBadFile(ctx, to, stage, ents); err != nil {
			return err
		}
		return findBadPath(ctx, to, stage, ents)
	}
	if gotMeta != hex.EncodeToString(wantMeta[:]) {
		return findBadPath(ctx, to, stage, ents)
	}
	return nil
}

// scriptArgv runs script with sh, args as its "$@". The script is an
// operand that a one-line sh -c evaluates: a node whose "sh" only knows
// simple commands (clustertest's emulated nodes) fails at that line with
// 127 and runs none of the script's lines out of context.
func scriptArgv(script string, args ...string) []string {
	return append([]string{"sh", "-c", `s=$1; shift; eval "$s"`, "sh", script}, args...)
}

// runScript runs a sh script of CopyTree's on n. Its error names what the
// script was for and what it printed, not the script and its operands,
// which run to kilobytes.
func runScript(ctx context.Context, n Node, what, script string, args ...string) (Result, error) {
	res, err := n.Run(ctx, Cmd{Argv: scriptArgv(script, args...)})
	var ee *ExitError
	if errors.As(err, &ee) {
		return res, &scriptError{node: n.Name(), what: what, exit: ee}
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", what, err)
	}
	return res, nil
}

// scriptError is a CopyTree script that exited non-zero; it unwraps to the
// *ExitError.
type scriptError struct {
	node, what string
	exit       *ExitError
}

func (e *scriptError) Error() string {
	msg := strings.TrimSpace(string(e.exit.Result.Stderr))
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	return fmt.Sprintf("%s: %s: sh exited %d: %s (CopyTree needs a POSIX sh, GNU find and coreutils there)", e.node, e.what, e.exit.Result.ExitCode, msg)
}

func (e *scriptError) Unwrap() error { return e.exit }

// noTools reports whether err is a script that could not run for a missing
// command (exit 127): the node lacks GNU find or coreutils, or is not a
// full shell.
func noTools(err error) bool {
	var se *scriptError
	return errors.As(err, &se) && se.exit.Result.ExitCode == 127
}

// findBadFile hashes every staged file to name one that differs.
func findBadFile(ctx context.Context, to Node, stage string, ents []treeEntry) error {
	var files []*treeEntry
	var paths []string
	for i := range ents {
		if ents[i].typ == 'f' {
			files = append(files, &ents[i])
			paths = append(paths, path.Join(stage, ents[i].rel))
		}
	}
	var sums [][sha256.Size]byte
	var err error
	if h, ok := to.(Hasher); ok {
		sums, err = h.SHA256(ctx, paths)
	} else {
		sums, err = remoteSHA256(ctx, to, false, paths)
	}
	if err != nil {
		return fmt.Errorf("verify %s: %w", stage, err)
	}
	for i, f := range files {
		if sums[i] != f.sum {
			return &ChecksumError{Node: to.Name(), Path: paths[i], Want: hex.EncodeToString(f.sum[:]), Got: hex.EncodeToString(sums[i][:])}
		}
	}
	return nil
}

// findBadPath lists the stage to name a path whose type, mode or target
// differs from the source, or that is missing or extra.
func findBadPath(ctx context.Context, to Node, stage string, ents []treeEntry) error {
	res, err := runScript(ctx, to, "list "+stage, `cd -- "$1" && find . -printf '%P\0%y%m>%l\0'`, stage)
	if err != nil {
		return err
	}
	got := map[string]string{} // path → record
	fields := bytes.Split(res.Stdout, []byte{0})
	for i := 0; i+1 < len(fields); i += 2 {
		rel := string(fields[i])
		got[rel] = rel + "/" + string(fields[i+1])
	}
	for _, e := range ents {
		g, ok := got[e.rel]
		switch {
		case !ok:
			return fmt.Errorf("%s: verify %s: %s is missing from the copy", to.Name(), stage, dotRel(e.rel))
		case g != e.record():
			return fmt.Errorf("%s: verify %s: %s is %q after the copy, the source has %q (path/type, mode>link target)", to.Name(), stage, dotRel(e.rel), g, e.record())
		}
		delete(got, e.rel)
	}
	for rel := range got {
		return fmt.Errorf("%s: verify %s: %s is in the copy but not in the source", to.Name(), stage, dotRel(rel))
	}
	return fmt.Errorf("%s: verify %s: the copy differs from the source, but no single path or file does (did the tree change during the copy?)", to.Name(), stage)
}
