package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/chefha/chefha/internal/packaging"
)

var (
	clusterSVWAIT = regexp.MustCompile(`^\s*export SVWAIT=(\d+)`)
	clusterGlob   = regexp.MustCompile(`keepalive_me`)
	clusterOrder  = regexp.MustCompile(`\['service_order'\]`)
)

// keepalived reads keepalived.conf.erb with the keepalived attribute
// defaults, sv-keepalived-run.erb, cluster.sh.erb, and what the keepalived
// recipe notifies.
func (r *rel) keepalived(services []packaging.Service) (packaging.Keepalived, error) {
	var k packaging.Keepalived
	rc, err := r.recipe("keepalived")
	if err != nil {
		return k, err
	}
	var conf, cluster *Resource
	for i := range rc.Resources {
		res := &rc.Resources[i]
		if res.Type != "template" || res.Name.Kind != Str {
			continue
		}
		switch {
		case strings.HasSuffix(res.Name.S, "/keepalived.conf"):
			conf = res
		case strings.HasSuffix(res.Name.S, "/cluster.sh"):
			cluster = res
		}
	}
	if conf == nil || cluster == nil {
		return k, fmt.Errorf("%s: no keepalived.conf or cluster.sh template", rc.File)
	}

	// keepalived.conf: the template with variables(node[...]['keepalived'].to_hash).
	ivars, err := r.templateVars(*conf)
	if err != nil {
		return k, err
	}
	src, _, _ := conf.Prop("source")
	if src.Kind != Str {
		return k, fmt.Errorf("%s: template source not literal", conf.Source())
	}
	tmplFile := cookbook + "/templates/default/" + src.S
	tmpl, err := r.pc(tmplFile)
	if err != nil {
		return k, err
	}
	env := &Env{File: r.pcRef(tmplFile), Attrs: r.attrs, IVars: ivars}
	if k.Directives, err = directives(tmpl, env); err != nil {
		return k, fmt.Errorf("%s: %w", r.pcRef(tmplFile), err)
	}

	// A changed keepalived.conf restarts keepalived unless a guard says
	// otherwise.
	names := map[string]bool{}
	for _, s := range services {
		names[s.Name] = true
	}
	k.ConfRestart = restartOn(*conf, env, names)
	k.ClusterShRestart = restartOn(*cluster, env, names)

	// The run script.
	runFile := cookbook + "/templates/default/sv-keepalived-run.erb"
	runTmpl, err := r.pc(runFile)
	if err != nil {
		return k, err
	}
	runText, err := RenderERB(runTmpl, &Env{File: r.pcRef(runFile), Attrs: r.attrs, IVars: map[string]Value{}})
	if err != nil {
		return k, fmt.Errorf("%s: %w", r.pcRef(runFile), err)
	}
	for i, l := range strings.Split(runText, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "exec" && strings.Contains(l, "keepalived") {
			k.RunArgs = packaging.Fact[[]string]{Value: f[1:], Source: at(r.pcRef(runFile), i+1)}
		}
	}
	if !k.RunArgs.Known() {
		return k, fmt.Errorf("%s: no exec line", r.pcRef(runFile))
	}

	// cluster.sh.
	csrc, _, _ := cluster.Prop("source")
	if csrc.Kind != Str {
		return k, fmt.Errorf("%s: template source not literal", cluster.Source())
	}
	csFile := cookbook + "/templates/default/" + csrc.S
	cs, err := r.pc(csFile)
	if err != nil {
		return k, err
	}
	csRef := r.pcRef(csFile)
	if m, line := findLine(cs, clusterSVWAIT); m != nil {
		n, _ := strconv.Atoi(m[1])
		k.ClusterSVWAIT = packaging.Fact[int]{Value: n, Source: at(csRef, line)}
	} else {
		k.ClusterSVWAIT = packaging.Fact[int]{Value: 0, Source: csRef}
	}
	if _, line := findLine(cs, clusterGlob); line > 0 {
		k.ClusterServices = packaging.Fact[string]{Value: "keepalive_me", Source: at(csRef, line)}
	} else if _, line := findLine(cs, clusterOrder); line > 0 {
		k.ClusterServices = packaging.Fact[string]{Value: "service_order", Source: at(csRef, line)}
	} else {
		return k, fmt.Errorf("%s: cannot tell how cluster.sh finds its services", csRef)
	}

	if order := r.attrs.Get([]string{"private_chef", "keepalived", "service_order"}); order.Kind == Array {
		for _, e := range order.Arr {
			key, _ := e.Index("key")
			svc, _ := e.Index("service_name")
			if key.Kind != Str || svc.Kind != Str {
				return k, fmt.Errorf("%s: service_order entry without key and service_name", e.Origin)
			}
			k.ServiceOrder = append(k.ServiceOrder, packaging.OrderEntry{Key: key.S, Service: svc.S, Source: e.Origin.String()})
		}
	}
	if hooks := r.attrs.Get([]string{"private_chef", "keepalived", "service_posthooks"}); hooks.Kind == Hash {
		for i, key := range hooks.Keys {
			v := hooks.Vals[i]
			if v.Kind != Str {
				continue
			}
			k.PostHooks = append(k.PostHooks, packaging.Hook{Service: key, Command: v.S, Source: v.Origin.String()})
		}
	}
	return k, nil
}

// templateVars evaluates a template resource's variables(...): a hash, or
// an attribute subtree (node['private_chef']['keepalived'].to_hash) whose
// children become the template's instance variables.
func (r *rel) templateVars(res Resource) (map[string]Value, error) {
	v, p, ok := res.Prop("variables")
	if !ok {
		return map[string]Value{}, nil
	}
	out := map[string]Value{}
	switch v.Kind {
	case Hash:
		for i, key := range v.Keys {
			out[key] = v.Vals[i]
		}
	case AttrRef:
		base := strings.Split(v.S, sep)
		for _, c := range r.attrs.Children(base) {
			out[c] = r.attrs.Get(append(append([]string(nil), base...), c))
		}
	default:
		return nil, fmt.Errorf("%s: variables %s not evaluable", at(res.File, p.Line), exprString(p.Args[0]))
	}
	return out, nil
}

// directives reads keepalived.conf.erb's lines into directives: block
// openers (`vrrp_instance <%= @x %> {`) push a block, `}` pops it, comments
// (`!`) and blank lines are skipped.
func directives(tmpl string, env *Env) ([]packaging.Directive, error) {
	lines, err := ReadERB(tmpl)
	if err != nil {
		return nil, err
	}
	var out []packaging.Directive
	var blocks []string
	for _, l := range lines {
		trimmed := strings.TrimSpace(l.Text)
		if trimmed == "" || strings.HasPrefix(trimmed, "!") {
			continue
		}
		if trimmed == "}" {
			if len(blocks) == 0 {
				return nil, fmt.Errorf("line %d: unbalanced }", l.Line)
			}
			blocks = blocks[:len(blocks)-1]
			continue
		}
		d := packaging.Directive{Block: strings.Join(blocks, " / "), Source: at(env.File, l.Line)}
		if len(l.Conds) > 0 {
			d.When = strings.Join(l.Conds, " && ")
			if holds, ok := l.Holds(env); ok {
				d.WhenDefault = &holds
			}
		}
		rendered, known := l.Render(env)
		text := trimmed
		if known {
			text = strings.TrimSpace(rendered)
		}
		opens := strings.HasSuffix(text, "{")
		text = strings.TrimSpace(strings.TrimSuffix(text, "{"))
		if strings.HasPrefix(trimmed, "<%=") {
			// A bare value line (an address inside virtual_ipaddress { }).
			d.Keyword = ""
		} else {
			kw, rest, _ := strings.Cut(text, " ")
			d.Keyword = kw
			text = strings.TrimSpace(rest)
		}
		if known {
			src := d.Source
			if len(l.Exprs) == 1 {
				if v := env.EvalCode(l.Exprs[0], l.Line); v.Origin.File != "" && v.Origin.File != env.File {
					src = v.Origin.String()
				}
			}
			d.Value = packaging.Fact[string]{Value: text, Source: src}
		}
		out = append(out, d)
		if opens {
			name := d.Keyword
			if d.Value.Value != "" {
				name += " " + d.Value.Value
			}
			blocks = append(blocks, name)
		}
	}
	if len(blocks) > 0 {
		return nil, fmt.Errorf("unclosed block %q", blocks[len(blocks)-1])
	}
	return out, nil
}

// restartOn says whether a change of the template res renders restarts
// keepalived: "never" without a notifies, or when its guard is
// should_notify? of a name no service of the release has (1.x's
// "kepalived"); "always" with an unguarded one; else the guard as written.
func restartOn(res Resource, env *Env, names map[string]bool) packaging.Fact[string] {
	_, p, ok := res.Prop("notifies")
	if !ok {
		return packaging.Fact[string]{Value: "never", Source: res.Source()}
	}
	src := at(res.File, p.Line)
	if p.Modifier == "" {
		return packaging.Fact[string]{Value: "always", Source: src}
	}
	if call, ok := p.ModCond.(*CallExpr); ok && call.Name == "should_notify?" && len(call.Args) == 1 && p.Modifier == "if" {
		if arg := env.Eval(call.Args[0]); arg.Kind == Str && !names[arg.S] {
			return packaging.Fact[string]{Value: "never", Source: src}
		}
	}
	return packaging.Fact[string]{Value: p.Modifier + " " + exprString(p.ModCond), Source: src}
}
