package main

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/chefha/chefha/internal/packaging"
)

var (
	initctlStop = regexp.MustCompile(`^initctl stop (\S+)$`)
	initConf    = regexp.MustCompile(`^/etc/init/([^/]+)\.conf$`)
)

// upstart reads the recipe that writes the runsvdir job on Upstart
// platforms: 1.x's bundled runit::upstart (a cookbook_file), 11.x's
// enterprise::runit_upstart (a template named after node['enterprise']['name']).
func (r *rel) upstart() (packaging.Upstart, error) {
	var up packaging.Upstart
	var rc *Recipe
	var contentOf func(res Resource) (string, string, error)
	if r.ecc == "" {
		file := bundledRun + "/recipes/upstart.rb"
		text, err := r.pc(file)
		if err != nil {
			return up, err
		}
		if rc, err = LoadRecipe(text, r.pcRef(file), r.attrs); err != nil {
			return up, err
		}
		contentOf = func(res Resource) (string, string, error) {
			src, _, ok := res.Prop("source")
			if !ok || src.Kind != Str {
				return "", "", fmt.Errorf("%s: cookbook_file without a literal source", res.Source())
			}
			file := bundledRun + "/files/default/" + src.S
			text, err := r.pc(file)
			return text, r.pcRef(file), err
		}
	} else {
		file := "recipes/runit_upstart.rb"
		text, err := r.show(r.in.ECC, r.ecc, file)
		if err != nil {
			return up, err
		}
		if rc, err = LoadRecipe(text, ref(r.in.ECC, r.ecc, file), r.attrs); err != nil {
			return up, err
		}
		contentOf = func(res Resource) (string, string, error) {
			src, _, ok := res.Prop("source")
			if !ok || src.Kind != Str {
				return "", "", fmt.Errorf("%s: template without a literal source", res.Source())
			}
			if _, _, ok := res.Prop("cookbook"); ok {
				return "", "", fmt.Errorf("%s: template from another cookbook", res.Source())
			}
			file := "templates/default/" + src.S
			tmpl, err := r.show(r.in.ECC, r.ecc, file)
			if err != nil {
				return "", "", err
			}
			vars, _, _ := res.Prop("variables")
			env := &Env{File: ref(r.in.ECC, r.ecc, file), Attrs: r.attrs, IVars: map[string]Value{}}
			if vars.Kind != Hash {
				return "", "", fmt.Errorf("%s: variables not a literal hash", res.Source())
			}
			for i, k := range vars.Keys {
				env.IVars[k] = vars.Vals[i]
			}
			text, err := RenderERB(tmpl, env)
			if err != nil {
				return "", "", fmt.Errorf("%s: %w", ref(r.in.ECC, r.ecc, file), err)
			}
			return text, ref(r.in.ECC, r.ecc, file), nil
		}
	}
	for _, res := range rc.Resources {
		if res.Name.Kind != Str {
			continue
		}
		name := res.Name.S
		switch {
		case res.Type == "execute":
			if m := initctlStop.FindStringSubmatch(name); m != nil {
				up.Stops = append(up.Stops, packaging.Fact[string]{Value: m[1], Source: res.Source()})
			}
		case res.Type == "file" && initConf.MatchString(name):
			if action, _, ok := res.Prop("action"); ok && contains(symbols(action), "delete") {
				up.Deletes = append(up.Deletes, packaging.Fact[string]{Value: name, Source: res.Source()})
			}
		case (res.Type == "cookbook_file" || res.Type == "template") && initConf.MatchString(name):
			text, src, err := contentOf(res)
			if err != nil {
				return up, err
			}
			job := packaging.Job{
				Name:    strings.TrimSuffix(path.Base(name), ".conf"),
				Path:    name,
				Source:  res.Source(),
				Content: packaging.Fact[string]{Value: src[strings.LastIndex(src, ":")+1:], Source: src},
			}
			pre, post, exec := parseJob(text)
			job.PreStop = packaging.Fact[[]string]{Value: pre, Source: src}
			job.PostStop = packaging.Fact[[]string]{Value: post, Source: src}
			job.Exec = packaging.Fact[string]{Value: exec, Source: src}
			up.Jobs = append(up.Jobs, job)
		}
	}
	if len(up.Jobs) == 0 {
		return up, fmt.Errorf("%s writes no /etc/init job", rc.File)
	}
	sort.Slice(up.Jobs, func(i, j int) bool { return up.Jobs[i].Path < up.Jobs[j].Path })
	return up, nil
}

// parseJob reads an Upstart job's pre-stop and post-stop script commands
// (comments dropped) and its exec line.
func parseJob(text string) (pre, post []string, exec string) {
	var cur *[]string
	for _, raw := range strings.Split(text, "\n") {
		l := strings.TrimSpace(raw)
		switch {
		case l == "pre-stop script":
			cur = &pre
		case l == "post-stop script":
			cur = &post
		case l == "end script":
			cur = nil
		case cur != nil:
			if l != "" && !strings.HasPrefix(l, "#") {
				*cur = append(*cur, l)
			}
		case strings.HasPrefix(l, "exec "):
			exec = strings.TrimPrefix(l, "exec ")
		case strings.HasPrefix(l, "pre-stop exec "):
			pre = append(pre, strings.TrimPrefix(l, "pre-stop exec "))
		case strings.HasPrefix(l, "post-stop exec "):
			post = append(post, strings.TrimPrefix(l, "post-stop exec "))
		}
	}
	return pre, post, exec
}
