package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTreeListingFixture(t *testing.T) {
	t.Parallel()
	out, err := os.ReadFile("testdata/copytree/listing-gnu.bin")
	require.NoError(t, err)
	ents, err := parseTreeListing(out)
	require.NoError(t, err)
	type want struct {
		typ      byte
		mode     string
		contents string // files
		target   string // links
	}
	wants := map[string]want{
		"":                 {'d', "755", "", ""},
		"private-chef.rb":  {'f', "644", "topology \"ha\"\n", ""},
		"keys":             {'d', "700", "", ""},
		"keys/pivotal.pem": {'f', "600", "KEY\n", ""},
		"we'ird\nname":     {'f', "640", "x", ""},
		`back\slash`:       {'f', "644", "y", ""},
		"empty":            {'f', "444", "", ""},
		"pivotal.pem":      {'l', "777", "", "keys/pivotal.pem"},
	}
	require.Len(t, ents, len(wants))
	assert.Equal(t, "", ents[0].rel, "the root comes first")
	for _, e := range ents {
		w, ok := wants[e.rel]
		require.True(t, ok, "unexpected %q", e.rel)
		assert.Equal(t, string(w.typ), string(e.typ), e.rel)
		assert.Equal(t, w.mode, e.mode, e.rel)
		assert.Equal(t, w.target, e.target, e.rel)
		assert.Zero(t, e.uid, e.rel)
		if e.typ == 'f' {
			assert.Equal(t, sha256.Sum256([]byte(w.contents)), e.sum, e.rel)
			assert.Equal(t, int64(len(w.contents)), e.size, e.rel)
		}
	}
}

func TestParseTreeListingErrors(t *testing.T) {
	t.Parallel()
	root := "d 755 0 0 root root 4096 \x00\x00"
	sum := func(s, name string) string {
		h := sha256.Sum256([]byte(s))
		return hex.EncodeToString(h[:]) + "  " + name + "\n"
	}
	file := "f 644 0 0 root root 1 a\x00\x00"
	for _, tc := range []struct {
		name, in, msg string
	}{
		{"empty", "", "before its terminator"},
		{"only terminator", "\x00", "listing is empty"},
		{"no terminator", root, "before its terminator"},
		{"cut in an entry", "d 755 0 0 root root 4096 \x00", "inside the entry"},
		{"root not first", file + root + "\x00" + sum("x", "./a"), "root must come first"},
		{"two roots", root + root + "\x00", "root must come first"},
		{"root is a file", "f 644 0 0 root root 1 \x00\x00\x00", "not a directory"},
		{"short header", root + "f 644 a\x00\x00\x00", "is not \"type mode uid gid user group size path\""},
		{"fifo", root + "p 644 0 0 root root 0 fifo\x00\x00\x00", "CopyTree copies files, directories and symlinks only"},
		{"bad mode", root + "f 8x 0 0 root root 1 a\x00\x00\x00", "bad mode"},
		{"mode too wide", root + "f 17777 0 0 root root 1 a\x00\x00\x00", "bad mode"},
		{"bad owner", root + "f 644 x 0 root root 1 a\x00\x00\x00", "bad owner or size"},
		{"negative size", root + "f 644 0 0 root root -1 a\x00\x00\x00", "bad owner or size"},
		{"dot dot", root + "f 644 0 0 root root 1 ../etc/passwd\x00\x00\x00", "not clean"},
		{"absolute", root + "f 644 0 0 root root 1 /etc/passwd\x00\x00\x00", "not clean"},
		{"twice", root + file + file + "\x00", "twice"},
		{"link without target", root + "l 777 0 0 root root 1 a\x00\x00\x00", "has no target"},
		{"file with target", root + "f 644 0 0 root root 1 a\x00t\x00\x00", "but has a target"},
		{"missing sum", root + file + "\x00", "printed 0 lines for 1 files"},
		{"extra sum", root + file + "\x00" + sum("x", "./a") + sum("y", "./b"), "printed 2 lines for 1 files"},
		{"no final newline", root + file + "\x00" + strings.TrimSuffix(sum("x", "./a"), "\n"), "does not end in a newline"},
		{"wrong name", root + file + "\x00" + sum("x", "./b"), `names "./b", expected "./a"`},
		{"bad hex", root + file + "\x00" + strings.Repeat("g", 64) + "  ./a\n", "sha256sum printed"},
		{"short line", root + file + "\x00abc\n", "sha256sum printed"},
		{"bad escape", root + file + "\x00\\" + sum("x", `./\q`), "unknown escape"},
		{"trailing backslash", root + file + "\x00\\" + sum("x", `./a\`), "ends in a backslash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseTreeListing([]byte(tc.in))
			assert.ErrorContains(t, err, tc.msg)
		})
	}
}

// TestTreeDigestsAsTheNodePrintsThem checks the Go side of verification
// against verifyScript run by a real shell, find and sha256sum.
func TestTreeDigestsAsTheNodePrintsThem(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for name, mode := range map[string]os.FileMode{"a": 0o644, "b c": 0o600, "k/x\ny": 0o640, `k/z\`: 0o444, "-d": 0o755} {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(name), mode))
	}
	require.NoError(t, os.Symlink("k/x\ny", filepath.Join(root, "l")))
	ctx := context.Background()
	n := NewLocal("x")
	ents, err := listTree(ctx, n, root)
	require.NoError(t, err)
	res, err := n.Run(ctx, Cmd{Argv: []string{"sh", "-c", "cd \"$1\" && " + verifyScript, "sh", root}})
	require.NoError(t, err)
	meta, content := treeDigests(ents)
	lines := strings.Split(string(res.Stdout), "\n")
	require.GreaterOrEqual(t, len(lines), 2)
	assert.Equal(t, hex.EncodeToString(meta[:]), lines[0][:64], "paths, types, modes, targets")
	assert.Equal(t, hex.EncodeToString(content[:]), lines[1][:64], "contents")
}

func FuzzParseTreeListing(f *testing.F) {
	if b, err := os.ReadFile("testdata/copytree/listing-gnu.bin"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("d 755 0 0 root root 4096 \x00\x00\x00"))
	f.Add([]byte("d 755 0 0 root root 4096 \x00\x00l 777 0 0 1 a\x00b\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ents, err := parseTreeListing(b)
		if err != nil {
			return
		}
		if len(ents) == 0 || ents[0].rel != "" || ents[0].typ != 'd' {
			t.Fatalf("accepted a listing without its root first: %+v", ents)
		}
		seen := map[string]bool{}
		for _, e := range ents {
			if seen[e.rel] || bytes.IndexByte([]byte(e.rel), 0) >= 0 {
				t.Fatalf("accepted %q twice or with a NUL", e.rel)
			}
			seen[e.rel] = true
			if e.rel != "" && (strings.HasPrefix(e.rel, "/") || strings.Contains("/"+e.rel+"/", "/../")) {
				t.Fatalf("accepted the path %q, outside the root", e.rel)
			}
		}
	})
}
