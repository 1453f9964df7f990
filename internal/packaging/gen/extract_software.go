package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/chefha/chefha/internal/packaging"
)

// fromOmnibusSoftware are the definitions read from omnibus-software when
// the project has none of its own: the ones whose version changes what a
// node runs (keepalived's configuration syntax, runit's sv).
var fromOmnibusSoftware = []string{"keepalived", "runit"}

// softwareVersion reads a software definition's top-level literal
// `version "x"` or `default_version "x"` (not the `version "x" do` blocks
// that describe each version's source).
func softwareVersion(text, file string) (string, int, bool) {
	nodes, err := Parse(text)
	if err != nil {
		return "", 0, false
	}
	env := &Env{File: file}
	for _, n := range nodes {
		if n.Kind != Stmt || n.Block != nil || len(n.Toks) == 0 {
			continue
		}
		st, err := ParseStatement(n.Toks)
		if err != nil || st.Target != nil || st.Modifier != "" {
			continue
		}
		call, ok := st.Value.(*CallExpr)
		if !ok || call.Recv != nil || (call.Name != "version" && call.Name != "default_version") || len(call.Args) != 1 {
			continue
		}
		if v := env.Eval(call.Args[0]); v.Kind == Str {
			return v.S, n.Line, true
		}
	}
	return "", 0, false
}

// projectOverrides reads config/projects' `override :NAME, version: "X"`
// lines: the versions the project pins over the definitions' own.
func (r *rel) projectOverrides() (map[string]packaging.Fact[string], error) {
	proj, err := r.pc(projectFile)
	if err != nil {
		return nil, err
	}
	nodes, err := Parse(proj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.pcRef(projectFile), err)
	}
	out := map[string]packaging.Fact[string]{}
	env := &Env{File: r.pcRef(projectFile)}
	for _, n := range nodes {
		if n.Kind != Stmt || len(n.Toks) == 0 || !n.Toks[0].is(Ident, "override") {
			continue
		}
		st, err := ParseStatement(n.Toks)
		if err != nil {
			continue
		}
		call, ok := st.Value.(*CallExpr)
		if !ok || call.Recv != nil || len(call.Args) != 2 {
			continue
		}
		name, ver := env.Eval(call.Args[0]), hashEntry(call.Args[1], "version")
		if name.Kind != Str || ver == nil {
			continue
		}
		if v := env.Eval(ver); v.Kind == Str {
			out[name.S] = packaging.Fact[string]{Value: v.S, Source: at(r.pcRef(projectFile), n.Line)}
		}
	}
	return out, nil
}

// software reads the project's software versions: config/projects'
// overrides first, then each config/software/*.rb, then omnibus-software's
// definitions for fromOmnibusSoftware at the locked revision.
func (r *rel) software(rev string) ([]packaging.Software, error) {
	out, err := r.projectOverrides()
	if err != nil {
		return nil, err
	}
	files, err := r.in.Omnibus.List(r.tag, "config/software")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		name, ok := strings.CutSuffix(f, ".rb")
		if !ok {
			continue
		}
		if _, overridden := out[name]; overridden {
			continue
		}
		file := "config/software/" + f
		text, err := r.pc(file)
		if err != nil {
			return nil, err
		}
		if v, line, ok := softwareVersion(text, r.pcRef(file)); ok {
			out[name] = packaging.Fact[string]{Value: v, Source: at(r.pcRef(file), line)}
		}
	}
	if rev != "" {
		for _, name := range fromOmnibusSoftware {
			if _, ok := out[name]; ok {
				continue
			}
			file := "config/software/" + name + ".rb"
			text, err := r.show(r.in.Software, rev, file)
			if errors.Is(err, errNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if v, line, ok := softwareVersion(text, ref(r.in.Software, rev, file)); ok {
				out[name] = packaging.Fact[string]{Value: v, Source: at(ref(r.in.Software, rev, file), line)}
			}
		}
	}
	list := make([]packaging.Software, 0, len(out))
	for name, v := range out {
		list = append(list, packaging.Software{Name: name, Version: v})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list, nil
}
