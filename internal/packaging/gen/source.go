package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"
)

// Source is one packaging repository at any ref: a git directory (a
// snapshot brought by the fetch tool) or, in tests, files in memory.
type Source interface {
	// Repo is the repository's owner/name, as facts name it.
	Repo() string
	// Show returns a file at a ref; errNotExist when it is not there.
	Show(ref, file string) (string, error)
	// List returns the names of the entries directly under dir at ref.
	List(ref, dir string) ([]string, error)
	// HasRef reports whether ref names a commit.
	HasRef(ref string) bool
}

var errNotExist = errors.New("no such file at that ref")

// ref renders a fact's source: owner/repo@ref:path.
func ref(s Source, rev, file string) string { return fmt.Sprintf("%s@%s:%s", s.Repo(), rev, file) }

// gitSource reads a bare git directory with `git show` and `git ls-tree`.
type gitSource struct {
	repo   string
	gitDir string
}

// openGit checks that dir is a git directory and returns a Source over it.
func openGit(repo, dir string) (*gitSource, error) {
	if dir == "" {
		return nil, fmt.Errorf("%s: no snapshot named", repo)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: snapshot %s: %w", repo, dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: snapshot %s is not a directory", repo, dir)
	}
	g := &gitSource{repo: repo, gitDir: dir}
	if _, err := g.git("rev-parse", "--git-dir"); err != nil {
		return nil, fmt.Errorf("%s: snapshot %s is not a git directory: %w", repo, dir, err)
	}
	return g, nil
}

func (g *gitSource) Repo() string { return g.repo }

func (g *gitSource) git(args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"--git-dir=" + g.gitDir}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func (g *gitSource) Show(rev, file string) (string, error) {
	// ls-tree first, so that a missing file is told apart from a broken
	// snapshot.
	out, err := g.git("ls-tree", "--name-only", rev, "--", file)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(out) == "" {
		return "", fmt.Errorf("%s: %w", ref(g, rev, file), errNotExist)
	}
	return g.git("show", rev+":"+file)
}

func (g *gitSource) List(rev, dir string) ([]string, error) {
	out, err := g.git("ls-tree", "--name-only", rev, "--", strings.TrimSuffix(dir, "/")+"/")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			names = append(names, path.Base(l))
		}
	}
	sort.Strings(names)
	return names, nil
}

func (g *gitSource) HasRef(rev string) bool {
	_, err := g.git("rev-parse", "--verify", "--quiet", rev+"^{commit}")
	return err == nil
}

// memSource is a Source in memory: files[ref][path].
type memSource struct {
	repo  string
	files map[string]map[string]string
}

func (m *memSource) Repo() string { return m.repo }

func (m *memSource) Show(rev, file string) (string, error) {
	if s, ok := m.files[rev][file]; ok {
		return s, nil
	}
	return "", fmt.Errorf("%s: %w", ref(m, rev, file), errNotExist)
}

func (m *memSource) List(rev, dir string) ([]string, error) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	seen := map[string]bool{}
	for p := range m.files[rev] {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			name, _, _ := strings.Cut(rest, "/")
			seen[name] = true
		}
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func (m *memSource) HasRef(rev string) bool { _, ok := m.files[rev]; return ok }
