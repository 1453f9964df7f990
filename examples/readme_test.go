// Package examples_test checks that the repository's README.md tells the
// truth: its commands run as written on a fresh checkout, and the files
// it names exist.
package examples_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// root is the repository, seen from examples/.
const root = ".."

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	return string(b)
}

var fence = regexp.MustCompile("(?s)```(\\w*)\\n(.*?)```")

// blocks returns the README's fenced blocks of a language.
func blocks(s, lang string) []string {
	var out []string
	for _, m := range fence.FindAllStringSubmatch(s, -1) {
		if m[1] == lang {
			out = append(out, m[2])
		}
	}
	return out
}

// shellCommands are the commands of the ```sh blocks: continuation lines
// joined, comments dropped.
func shellCommands(s string) []string {
	var out []string
	for _, b := range blocks(s, "sh") {
		cur := ""
		for _, line := range strings.Split(b, "\n") {
			line = stripComment(line)
			if strings.HasSuffix(strings.TrimSpace(line), `\`) {
				cur += strings.TrimSuffix(strings.TrimSpace(line), `\`) + " "
				continue
			}
			cur += line
			if c := strings.TrimSpace(cur); c != "" {
				out = append(out, strings.Join(strings.Fields(c), " "))
			}
			cur = ""
		}
	}
	return out
}

// stripComment drops a # comment that is not inside single quotes.
func stripComment(line string) string {
	quoted := false
	for i, c := range line {
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '#' && !quoted && (i == 0 || line[i-1] == ' '):
			return line[:i]
		}
	}
	return line
}

// words splits a command as a shell would (single quotes only, as the
// README uses).
func words(cmd string) []string {
	var out []string
	var cur strings.Builder
	quoted, in := false, false
	for _, c := range cmd {
		switch {
		case c == '\'':
			quoted, in = !quoted, true
		case c == ' ' && !quoted:
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// needsCluster reports a command that reads a real cluster.
func needsCluster(args []string) bool {
	for _, a := range args {
		if a == "-config" || a == "-hosts" || a == "-lab" {
			return true
		}
	}
	return false
}

// buildExamples builds the example commands once.
func buildExamples(t *testing.T) map[string]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the examples with")
	}
	dir := t.TempDir()
	bins := map[string]string{}
	for _, name := range []string{"preflight", "upgrade"} {
		bin := filepath.Join(dir, name)
		cmd := exec.Command(goBin, "build", "-o", bin, "./examples/"+name)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go build ./examples/%s: %s", name, out)
		bins["./examples/"+name] = bin
	}
	return bins
}

// Every command of the README runs as written, or, when it needs root or
// a real cluster, at least its flags are the command's.
func TestREADMECommands(t *testing.T) {
	t.Parallel()
	cmds := shellCommands(readme(t))
	require.NotEmpty(t, cmds)
	bins := buildExamples(t)
	ran := 0
	for _, c := range cmds {
		t.Run(c, func(t *testing.T) {
			w := words(c)
			asRoot := w[0] == "sudo"
			if asRoot {
				w = w[1:]
			}
			if w[0] == "env" { // sudo env PATH="$PATH" …: the environment kept
				w = w[1:]
				for len(w) > 0 && strings.Contains(w[0], "=") {
					w = w[1:]
				}
			}
			switch {
			case w[0] == "make":
				mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
				require.NoError(t, err)
				assert.Regexp(t, "(?m)^"+regexp.QuoteMeta(w[1])+":", string(mk), "the Makefile has the target %s", w[1])
				return
			case len(w) >= 3 && w[0] == "go" && w[1] == "run":
			default:
				t.Fatalf("the README's command %q is neither make nor go run ./examples/…: teach this test to run it", c)
			}
			bin, ok := bins[w[2]]
			require.True(t, ok, "no example %s", w[2])
			args := w[3:]
			if asRoot || needsCluster(args) {
				// Root or a real cluster: the flags, checked by parsing
				// them all before -h.
				code, out := runBin(t, bin, append(append([]string{}, args...), "-h"), time.Minute)
				assert.Equal(t, 0, code, "%s: its flags are not the command's:\n%s", c, out)
				return
			}
			if testing.Short() && contains(args, "-apply") {
				t.Skip("a whole simulated upgrade")
			}
			code, out := runBin(t, bin, args, 8*time.Minute)
			assert.Equal(t, 0, code, "%s:\n%s", c, out)
			assert.NotEmpty(t, out)
			ran++
		})
	}
	t.Logf("%d of %d README commands run as written", ran, len(cmds))
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func runBin(t *testing.T, bin string, args []string, timeout time.Duration) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	require.NoError(t, err)
	return 0, out.String()
}

// The README's Go program compiles against the library as it is.
func TestREADMEGoCompiles(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	progs := 0
	for _, b := range blocks(readme(t), "go") {
		if !strings.HasPrefix(b, "package main") {
			continue // a fragment
		}
		dir := t.TempDir()
		src := filepath.Join(dir, "main.go")
		require.NoError(t, os.WriteFile(src, []byte(b), 0o600))
		cmd := exec.Command(goBin, "build", "-o", filepath.Join(dir, "prog"), src)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "%s\n%s", out, b)
		progs++
	}
	assert.Positive(t, progs)
}

// pathLike is a backquoted name that looks like a file of the repository.
var pathLike = regexp.MustCompile("`([A-Za-z0-9_.][A-Za-z0-9_./-]*(?:/|\\.go|\\.md|\\.rst))`")

// The README names only files and packages that exist.
func TestREADMENamesWhatExists(t *testing.T) {
	t.Parallel()
	s := readme(t)
	for _, m := range pathLike.FindAllStringSubmatch(s, -1) {
		p := m[1]
		if p == "testdata/" { // "each package's testdata/"
			continue
		}
		if !strings.Contains(p, "/") && !strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, ".md") && !strings.HasSuffix(p, ".rst") {
			continue
		}
		_, err := os.Stat(filepath.Join(root, p))
		assert.NoError(t, err, "the README names %s", p)
	}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z]+)` \\|").FindAllStringSubmatch(s, -1) {
		st, err := os.Stat(filepath.Join(root, m[1]))
		if assert.NoError(t, err, "the package table names %s", m[1]) {
			assert.True(t, st.IsDir(), m[1])
		}
	}
	assert.NotContains(t, s, "reference/", "the repository has no reference/ folder")
	assert.NotRegexp(t, `(?i)\bforce`, s, "one override vocabulary: -allow-skippable")
}
