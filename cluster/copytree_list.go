package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// treeEntry is one path of a tree as GNU find printed it. The fields are
// kept as printed (mode in octal, type as find's %y letter) so the record a
// verification compares is the source's own text, never a re-rendering.
type treeEntry struct {
	rel    string // path below the root; "" for the root
	typ    byte   // 'f', 'd' or 'l'
	mode   string // permission bits in octal (%m)
	uid    int
	gid    int
	user   string // the owner's name (%u), its uid where none has it
	group  string // the group's name (%g), likewise
	size   int64
	target string // a symlink's target
	sum    [sha256.Size]byte
}

// record is the entry as listTreeRecords prints it on the destination:
// path, type, mode and link target, which is all that makes two trees the
// same apart from contents and owners.
func (e treeEntry) record() string {
	return e.rel + "/" + string(e.typ) + e.mode + ">" + e.target
}

// listScript prints a tree for parseTreeListing: each path as find's
// "%y %m %U %G %u %g %s %P\0%l\0" (NUL-separated, so any name survives), an
// empty field to end the list, then sha256sum of every regular file in
// byte order of their names, which is the order the parser expects. One
// command for the whole tree: a round trip per file is what made copying
// slow. Needs GNU find and coreutils, as every Enterprise Chef platform has.
const listScript = `r=$1
if [ ! -e "$r" ] && [ ! -h "$r" ]; then echo "$r: no such directory" >&2; exit 66; fi
if [ ! -d "$r" ] || [ -h "$r" ]; then echo "$r is not a directory" >&2; exit 65; fi
cd -- "$r" || exit
find . -printf '%y %m %U %G %u %g %s %P\0%l\0' || exit
printf '\0'
find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum --
`

// listTree lists the tree at root on n with one command.
func listTree(ctx context.Context, n Node, root string) ([]treeEntry, error) {
	res, err := runScript(ctx, n, "list "+root, listScript, root)
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			switch ee.Result.ExitCode {
			case 66:
				return nil, fmt.Errorf("%s: %s: %w", n.Name(), root, fs.ErrNotExist)
			case 65:
				return nil, fmt.Errorf("%s: %s is not a directory", n.Name(), root)
			}
		}
		return nil, err
	}
	ents, err := parseTreeListing(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("%s: list %s: %w", n.Name(), root, err)
	}
	return ents, nil
}

// parseTreeListing reads listScript's output. The root comes first; files
// carry their SHA-256. Anything else than files, directories and symlinks
// is an error: CopyTree would not know how to make it.
func parseTreeListing(out []byte) ([]treeEntry, error) {
	var ents []treeEntry
	seen := map[string]bool{}
	rest := out
	field := func() (string, bool) {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return "", false
		}
		f := string(rest[:i])
		rest = rest[i+1:]
		return f, true
	}
	for {
		hdr, ok := field()
		if !ok {
			return nil, errors.New("listing ends before its terminator")
		}
		if hdr == "" {
			break
		}
		target, ok := field()
		if !ok {
			return nil, fmt.Errorf("listing ends inside the entry %q", hdr)
		}
		e, err := parseListingHeader(hdr)
		if err != nil {
			return nil, err
		}
		e.target = target
		if (e.rel == "") != (len(ents) == 0) {
			return nil, fmt.Errorf("listing entry %q: the root must come first, and only once", hdr)
		}
		if seen[e.rel] {
			return nil, fmt.Errorf("listing names %q twice", e.rel)
		}
		seen[e.rel] = true
		switch {
		case e.rel == "" && e.typ != 'd':
			return nil, fmt.Errorf("listing's root is of type %q, not a directory", e.typ)
		case e.typ == 'l' && target == "":
			return nil, fmt.Errorf("listing: symlink %s has no target", e.rel)
		case e.typ != 'l' && target != "":
			return nil, fmt.Errorf("listing: %s is not a symlink but has a target", e.rel)
		}
		ents = append(ents, e)
	}
	if len(ents) == 0 {
		return nil, errors.New("listing is empty")
	}
	var files []*treeEntry
	for i := range ents {
		if ents[i].typ == 'f' {
			files = append(files, &ents[i])
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	lines := strings.Split(string(rest), "\n")
	if lines[len(lines)-1] != "" {
		return nil, errors.New("sha256sum output does not end in a newline")
	}
	lines = lines[:len(lines)-1]
	if len(lines) != len(files) {
		return nil, fmt.Errorf("sha256sum printed %d lines for %d files", len(lines), len(files))
	}
	for i, line := range lines {
		sum, name, err := parseSumLine(line)
		if err != nil {
			return nil, err
		}
		if name != "./"+files[i].rel {
			return nil, fmt.Errorf("sha256sum line %d names %q, expected %q", i+1, name, "./"+files[i].rel)
		}
		files[i].sum = sum
	}
	return ents, nil
}

// parseListingHeader reads "%y %m %U %G %u %g %s %P". Names have no
// blanks (useradd refuses them), so only the path can.
func parseListingHeader(hdr string) (treeEntry, error) {
	f := strings.SplitN(hdr, " ", 8)
	if len(f) != 8 || len(f[0]) != 1 {
		return treeEntry{}, fmt.Errorf("listing entry %q is not \"type mode uid gid user group size path\"", hdr)
	}
	e := treeEntry{typ: f[0][0], mode: f[1], user: f[4], group: f[5], rel: f[7]}
	if e.user == "" || e.group == "" {
		return treeEntry{}, fmt.Errorf("listing entry %q: bad owner or size", hdr)
	}
	switch e.typ {
	case 'f', 'd', 'l':
	default:
		return treeEntry{}, fmt.Errorf("%s is of find type %q: CopyTree copies files, directories and symlinks only", e.rel, e.typ)
	}
	if m, err := strconv.ParseUint(e.mode, 8, 32); err != nil || m > 0o7777 || len(e.mode) > 4 {
		return treeEntry{}, fmt.Errorf("listing entry %q: bad mode %q", hdr, e.mode)
	}
	var err1, err2, err3 error
	e.uid, err1 = strconv.Atoi(f[2])
	e.gid, err2 = strconv.Atoi(f[3])
	e.size, err3 = strconv.ParseInt(f[6], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil || e.uid < 0 || e.gid < 0 || e.size < 0 {
		return treeEntry{}, fmt.Errorf("listing entry %q: bad owner or size", hdr)
	}
	if e.rel != path0(e.rel) {
		return treeEntry{}, fmt.Errorf("listing entry %q: path is not clean", hdr)
	}
	return e, nil
}

// path0 is rel cleaned as a relative path below a root: no empty, "." or
// ".." elements. A listing with such a path did not come from find.
func path0(rel string) string {
	if rel == "" {
		return ""
	}
	for _, el := range strings.Split(rel, "/") {
		if el == "" || el == "." || el == ".." {
			return "\x00" // never equal to rel
		}
	}
	return rel
}

// parseSumLine reads one line of sha256sum: "HEX  NAME", or with a leading
// backslash when coreutils escaped the name (backslash, newline and, since
// 9.x, carriage return).
func parseSumLine(line string) (sum [sha256.Size]byte, name string, err error) {
	escaped := strings.HasPrefix(line, `\`)
	if escaped {
		line = line[1:]
	}
	if len(line) < 2*sha256.Size+2 || line[2*sha256.Size] != ' ' {
		return sum, "", fmt.Errorf("sha256sum printed %q", line)
	}
	if _, err := hex.Decode(sum[:], []byte(line[:2*sha256.Size])); err != nil {
		return sum, "", fmt.Errorf("sha256sum printed %q", line)
	}
	name = line[2*sha256.Size+2:]
	if escaped {
		name, err = unescapeSumName(name)
	}
	return sum, name, err
}

func unescapeSumName(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i++; i == len(s) {
			return "", fmt.Errorf("sha256sum name %q ends in a backslash", s)
		}
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf("sha256sum name %q has an unknown escape", s)
		}
	}
	return b.String(), nil
}

// treeDigests are what the destination's verification prints for a tree
// identical to ents: SHA-256 over the sorted records (paths, types, modes,
// link targets), and SHA-256 over the files' SHA-256 in hex, one a line, in
// byte order of their names. Two short lines answer "is the stage the
// source?" instead of a line per file.
func treeDigests(ents []treeEntry) (meta, content [sha256.Size]byte) {
	recs := make([]string, len(ents))
	var files []*treeEntry
	for i := range ents {
		recs[i] = ents[i].record()
		if ents[i].typ == 'f' {
			files = append(files, &ents[i])
		}
	}
	sort.Strings(recs)
	h := sha256.New()
	for _, r := range recs {
		h.Write([]byte(r))
		h.Write([]byte{0})
	}
	h.Sum(meta[:0])
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	h.Reset()
	for _, f := range files {
		h.Write([]byte(hex.EncodeToString(f.sum[:]) + "\n"))
	}
	h.Sum(content[:0])
	return meta, content
}
