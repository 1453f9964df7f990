package main

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/chefha/chefha/internal/packaging"
)

// serviceList reads recipes/default.rb's
//
//	[ "drbd", "couchdb", ... ].each do |service|
//	  if node["private_chef"][service]["enable"]
//	    include_recipe "private-chef::#{service}"
//
// and returns the recipe names with the line of each.
func serviceList(rc *Recipe) ([]string, []int, error) {
	for _, n := range rc.Nodes {
		if n.Kind != Stmt || n.Block == nil || len(n.Params) != 1 {
			continue
		}
		st, err := ParseStatement(n.Toks)
		if err != nil {
			continue
		}
		call, ok := st.Value.(*CallExpr)
		if !ok || call.Name != "each" {
			continue
		}
		arr, ok := call.Recv.(*ArrayExpr)
		if !ok {
			continue
		}
		includes := false
		Walk(n.Block, func(b *Node, _ bool) {
			for _, t := range b.Toks {
				if t.is(Ident, "include_recipe") {
					includes = true
				}
			}
		})
		if !includes {
			continue
		}
		var names []string
		var lines []int
		for _, e := range arr.Elems {
			s, ok := e.(*StrExpr)
			if !ok || s.Sym || len(s.Parts) != 1 || s.Parts[0].IsCode {
				return nil, nil, fmt.Errorf("%s:%d: service list entry %s is not a literal", rc.File, e.Pos(), exprString(e))
			}
			names = append(names, s.Parts[0].Lit)
			lines = append(lines, e.Pos())
		}
		return names, lines, nil
	}
	return nil, nil, fmt.Errorf("%s: no service list", rc.File)
}

// symbols returns the symbol names in an action value (:down, [:stop, :disable]).
func symbols(v Value) []string {
	switch v.Kind {
	case Str:
		return []string{v.S}
	case Array:
		var out []string
		for _, e := range v.Arr {
			if e.Kind == Str {
				out = append(out, e.S)
			}
		}
		return out
	}
	return nil
}

// declaration is a runit service a recipe declares.
type declaration struct {
	res    Resource
	recipe string // the service-list entry that includes it
	tree   []*Recipe
}

// the bundled runit definition (1.x) and enterprise-chef-common's.
const (
	runitDefinition = bundledRun + "/definitions/runit_service.rb"
	eccDefinition   = "definitions/component_runit_service.rb"
)

var (
	downDefault = regexp.MustCompile(`:down\s*=>\s*(true|false)`)
	downFileRe  = regexp.MustCompile(`file\s+"[^"]*/down"`)
	keepaliveRe = regexp.MustCompile(`file\s+"[^"]*/keepalive_me"`)
)

// services extracts the runit services, the retired ones and
// /var/log/opscode.
func (r *rel) services(out *packaging.Release) error {
	def, err := r.recipe("default")
	if err != nil {
		return err
	}
	if _, _, err := r.recipeTree("default", map[string]bool{}); err != nil {
		return err
	}
	list, _, err := serviceList(def)
	if err != nil {
		return err
	}
	topoFile := cookbook + "/libraries/private_chef.rb"
	topoText, err := r.pc(topoFile)
	if err != nil {
		return err
	}
	topo, err := LoadTopology(topoText, r.pcRef(topoFile), r.attrs)
	if err != nil {
		return err
	}
	// The attribute values an HA back end runs with: the defaults overlaid
	// with what gen_backend, gen_drbd and gen_keepalived set.
	backendAttrs := r.overlay(topo, packaging.Backend)

	// The runit definition in use, for the down file and keepalive_me.
	var defText, defRef string
	if r.ecc == "" {
		defRef = r.pcRef(runitDefinition)
		defText, err = r.pc(runitDefinition)
	} else {
		defRef = ref(r.in.ECC, r.ecc, eccDefinition)
		defText, err = r.show(r.in.ECC, r.ecc, eccDefinition)
	}
	if err != nil {
		return err
	}

	var decls []declaration
	seen := map[string]bool{}
	for _, name := range list {
		tree, _, err := r.recipeTree(name, seen)
		if errors.Is(err, errNotExist) {
			r.note("service list names %q, which has no recipe", name)
			continue
		}
		if err != nil {
			return err
		}
		for _, rc := range tree {
			for _, res := range rc.Resources {
				if res.Type != "runit_service" && res.Type != "component_runit_service" {
					continue
				}
				if res.Name.Kind != Str {
					continue
				}
				action, _, _ := res.Prop("action")
				if acts := symbols(action); len(acts) > 0 && !contains(acts, "enable") && !contains(acts, "down") {
					// An action on a service, not its definition.
					a := packaging.ServiceAction{
						Service: res.Name.S, Actions: acts, Guard: guard(res), Recipe: recipeName(rc.File),
						Conditional: res.Conditional, Source: res.Source(),
					}
					a.CtlStop, a.DeletesSvDir = retirement(rc, res.Name.S)
					out.ServiceActions = append(out.ServiceActions, a)
					continue
				}
				if rc != tree[0] {
					r.note("%s declared by included recipe %s", res.Name.S, rc.File)
				}
				decls = append(decls, declaration{res: res, recipe: name, tree: tree})
			}
		}
	}
	for _, d := range decls {
		svc, err := r.service(d, topo, backendAttrs, defText, defRef)
		if err != nil {
			return fmt.Errorf("%s: %w", d.res.Name.S, err)
		}
		out.Services = append(out.Services, svc)
	}
	sort.Slice(out.Services, func(i, j int) bool { return out.Services[i].Name < out.Services[j].Name })
	for i := 1; i < len(out.Services); i++ {
		if out.Services[i].Name == out.Services[i-1].Name {
			return fmt.Errorf("service %s declared twice (%s, %s)", out.Services[i].Name, out.Services[i-1].Source, out.Services[i].Source)
		}
	}
	sort.SliceStable(out.ServiceActions, func(i, j int) bool {
		a, b := out.ServiceActions[i], out.ServiceActions[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Source < b.Source
	})

	// /var/log/opscode: recipes/default.rb and everything it reaches.
	everything := []*Recipe{def}
	for _, rc := range r.recipes {
		if rc != def {
			everything = append(everything, rc)
		}
	}
	sort.Slice(everything[1:], func(i, j int) bool { return everything[1+i].File < everything[1+j].File })
	out.LogRoot = r.dirFacts("/var/log/opscode", everything)
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// overlay returns the attributes with a role's enable and ha settings
// applied, as node['private_chef'] holds them once generate_config's hash
// is consumed.
func (r *rel) overlay(topo *Topology, role packaging.Role) *Attrs {
	a := NewAttrs()
	for k, v := range r.attrs.vals {
		a.vals[k] = v
	}
	for k := range r.attrs.unknown {
		a.unknown[k] = true
	}
	for k := range r.attrs.prefixes {
		a.prefixes[k] = true
	}
	for key, props := range topo.set[role] {
		for prop, v := range props {
			if v.Kind != Nil {
				a.Set([]string{"private_chef", key, prop}, v)
			}
		}
	}
	return a
}

// attrFact is a fact read from an attribute path: its value and the line
// that set it, or the attribute file when nothing set it.
func (r *rel) attrFact(a *Attrs, p ...string) (Value, string) {
	v := a.Get(p)
	src := v.Origin.String()
	if src == "" {
		src = r.pcRef(cookbook + "/attributes/default.rb")
	}
	return v, src
}

func boolFact(v Value, src string) packaging.Fact[bool] {
	t, _ := v.Truthy()
	return packaging.Fact[bool]{Value: t, Source: src}
}

// haKey returns the attribute key whose 'ha' an expression reads
// (node['private_chef'][KEY]['ha']).
func haKey(e Expr, env *Env) (string, bool) {
	root, keys := indexChain(e)
	if v, ok := root.(*VarExpr); !ok || v.Name != "node" || len(keys) != 3 {
		return "", false
	}
	a, b, c := env.Eval(keys[0]), env.Eval(keys[1]), env.Eval(keys[2])
	if a.Kind != Str || a.S != "private_chef" || b.Kind != Str || c.Kind != Str || c.S != "ha" {
		return "", false
	}
	return b.S, true
}

func (r *rel) service(d declaration, topo *Topology, backendAttrs *Attrs, defText, defRef string) (packaging.Service, error) {
	res := d.res
	name := res.Name.S
	svc := packaging.Service{Name: name, Source: res.Source(), Recipe: d.recipe}
	env := &Env{File: res.File, Attrs: r.attrs, Locals: res.Locals}

	// Which attribute key's 'ha' the service follows.
	key, keySrc := name, res.Source()
	var haExpr Expr // what the definition is given to decide down / keepalive_me
	param := "ha"
	if res.Type == "runit_service" {
		param = "down"
	}
	if _, p, ok := res.Prop(param); ok && len(p.Args) == 1 {
		haExpr = p.Args[0]
		if k, ok := haKey(p.Args[0], env); ok {
			key, keySrc = k, at(res.File, p.Line)
		}
	} else if res.Type == "runit_service" {
		key = ""
	}
	svc.AttributeKey = packaging.Fact[string]{Value: key, Source: keySrc}

	// Enabled per role: the recipe's enable attribute.
	v, src := r.attrFact(r.attrs, "private_chef", d.recipe, "enable")
	svc.Standalone = boolFact(v, src)
	for _, hr := range haRoles {
		f := svc.Standalone
		if ov, ok := topo.Get(hr.role, d.recipe, "enable"); ok && ov.Kind != Nil {
			f = boolFact(ov, ov.Origin.String())
		}
		switch hr.role {
		case packaging.Backend:
			svc.Backend = f
		case packaging.Bootstrap:
			svc.Bootstrap = f
		case packaging.Frontend:
			svc.Frontend = f
		}
	}

	// The 'ha' value on an HA back end.
	benv := &Env{File: res.File, Attrs: backendAttrs, Locals: res.Locals}
	haVal, haSrc := Value{Kind: Nil}, ""
	switch {
	case haExpr != nil:
		haVal = benv.Eval(haExpr)
		haSrc = haVal.Origin.String()
		if !haVal.Known() {
			return svc, fmt.Errorf("%s: cannot evaluate %s", res.Source(), exprString(haExpr))
		}
	case res.Type == "runit_service":
		// No down parameter: the definition's default.
		m, line := findLine(defText, downDefault)
		if m == nil {
			return svc, fmt.Errorf("%s: no :down default", defRef)
		}
		haVal, haSrc = Value{Kind: Bool, B: m[1] == "true"}, at(defRef, line)
	default:
		haVal, haSrc = r.attrFact(backendAttrs, "private_chef", name, "ha")
	}
	if haSrc == "" {
		haSrc = r.pcRef(cookbook + "/attributes/default.rb")
	}
	svc.HAAttribute = boolFact(haVal, haSrc)
	ha, _ := haVal.Truthy()

	// Action.
	svc.Action = packaging.Fact[string]{Value: "enable", Source: res.Source()}
	if action, p, ok := res.Prop("action"); ok {
		acts := symbols(action)
		if len(acts) != 1 {
			return svc, fmt.Errorf("%s: action %s", res.Source(), exprString(p.Args[0]))
		}
		svc.Action = packaging.Fact[string]{Value: acts[0], Source: at(res.File, p.Line)}
	}

	// The down file and keepalive_me on an HA back end.
	created := map[bool]string{true: "created", false: "deleted"}
	if m, line := findLine(defText, downFileRe); m != nil {
		src := at(defRef, line)
		if res.Type == "runit_service" && haExpr != nil {
			_, p, _ := res.Prop("down")
			src = at(res.File, p.Line)
		}
		svc.DownFile = packaging.Fact[string]{Value: created[ha], Source: src}
	} else {
		svc.DownFile = packaging.Fact[string]{Value: "unmanaged", Source: defRef}
	}
	if m, line := findLine(defText, keepaliveRe); m != nil {
		svc.KeepaliveMe = packaging.Fact[string]{Value: created[ha], Source: at(defRef, line)}
	} else {
		svc.KeepaliveMe = packaging.Fact[string]{Value: "unmanaged", Source: defRef}
	}

	// HA: what keepalived moves.
	if order := r.attrs.Get([]string{"private_chef", "keepalived", "service_order"}); order.Kind == Array {
		svc.HA = packaging.Fact[bool]{Value: false, Source: order.Origin.String()}
		for _, e := range order.Arr {
			k, _ := e.Index("key")
			s, _ := e.Index("service_name")
			if s.Kind == Str && s.S == name && k.Kind == Str {
				kv := backendAttrs.Get([]string{"private_chef", k.S, "ha"})
				t, _ := kv.Truthy()
				svc.HA = packaging.Fact[bool]{Value: t, Source: e.Origin.String()}
			}
		}
	} else if svc.KeepaliveMe.Value != "unmanaged" {
		svc.HA = packaging.Fact[bool]{Value: ha, Source: svc.KeepaliveMe.Source}
	} else {
		return svc, fmt.Errorf("neither a service_order attribute nor keepalive_me files: cannot tell HA")
	}

	// The log directory.
	logDir, logSrc, err := r.logDirectory(res, env)
	if err != nil {
		return svc, err
	}
	svc.Log = r.dirFacts(logDir, d.tree)
	svc.Log.Path = packaging.Fact[string]{Value: logDir, Source: logSrc}
	return svc, nil
}

// logDirectory finds a service's svlogd directory: runit_service's
// options(:log_directory => X), component_runit_service's log_directory
// parameter, else its attribute node['private_chef'][NAME]['log_directory'].
func (r *rel) logDirectory(res Resource, env *Env) (string, string, error) {
	if res.Type == "runit_service" {
		_, p, ok := res.Prop("options")
		if !ok {
			return "", "", fmt.Errorf("%s: runit_service without options", res.Source())
		}
		for _, a := range p.Args {
			if e := hashEntry(a, "log_directory"); e != nil {
				v := env.Eval(e)
				if v.Kind != Str {
					return "", "", fmt.Errorf("%s: log_directory %s", res.Source(), exprString(e))
				}
				return v.S, originOr(v, at(res.File, p.Line)), nil
			}
		}
		return "", "", fmt.Errorf("%s: options without :log_directory", res.Source())
	}
	if v, p, ok := res.Prop("log_directory"); ok {
		if v.Kind != Str {
			return "", "", fmt.Errorf("%s: log_directory %s", res.Source(), exprString(p.Args[0]))
		}
		return v.S, originOr(v, at(res.File, p.Line)), nil
	}
	v := r.attrs.Get([]string{"private_chef", res.Name.S, "log_directory"})
	if v.Kind != Str {
		return "", "", fmt.Errorf("%s: no log_directory attribute for %s", res.Source(), res.Name.S)
	}
	return v.S, v.Origin.String(), nil
}

func originOr(v Value, fallback string) string {
	if s := v.Origin.String(); s != "" {
		return s
	}
	return fallback
}

// hashEntry finds key (a symbol or string) in a hash literal, looking
// through `{...}.merge(...)`.
func hashEntry(e Expr, key string) Expr {
	switch e := e.(type) {
	case *HashExpr:
		for i, k := range e.Keys {
			if s, ok := k.(*StrExpr); ok && len(s.Parts) == 1 && s.Parts[0].Lit == key {
				return e.Vals[i]
			}
		}
	case *CallExpr:
		if e.Recv != nil {
			if v := hashEntry(e.Recv, key); v != nil {
				return v
			}
		}
		for _, a := range e.Args {
			if v := hashEntry(a, key); v != nil {
				return v
			}
		}
	}
	return nil
}

// dirFacts finds the directory resource for path in the recipes (the last
// one wins, as Chef applies them in order) and reads its owner, group and
// mode.
func (r *rel) dirFacts(path string, tree []*Recipe) packaging.Dir {
	var found *Resource
	for _, rc := range tree {
		for i := range rc.Resources {
			res := &rc.Resources[i]
			if res.Type != "directory" || res.Name.Kind != Str || cleanPath(res.Name.S) != cleanPath(path) {
				continue
			}
			if action, _, ok := res.Prop("action"); ok && contains(symbols(action), "delete") {
				continue
			}
			found = res
		}
	}
	var d packaging.Dir
	if found == nil {
		// The absence is read from the first recipe, which declares what
		// the others are included from.
		src := ""
		if len(tree) > 0 {
			src = tree[0].File
		}
		d.Path = packaging.Fact[string]{Value: path, Source: src}
		d.Managed = packaging.Fact[bool]{Value: false, Source: src}
		return d
	}
	d.Path = packaging.Fact[string]{Value: path, Source: found.Source()}
	d.Managed = packaging.Fact[bool]{Value: true, Source: found.Source()}
	d.Owner = propFact(*found, "owner", false)
	d.Group = propFact(*found, "group", false)
	d.Mode = propFact(*found, "mode", true)
	return d
}

// propFact reads a resource property as a string fact: "" with the
// resource's line when the property is not set; unknown (zero) when it is
// set to something not evaluable.
func propFact(res Resource, prop string, mode bool) packaging.Fact[string] {
	v, p, ok := res.Prop(prop)
	if !ok {
		return packaging.Fact[string]{Value: "", Source: res.Source()}
	}
	src := at(res.File, p.Line)
	if mode {
		if s, ok := modeString(v); ok {
			return packaging.Fact[string]{Value: s, Source: src}
		}
		return packaging.Fact[string]{}
	}
	if v.Kind != Str {
		return packaging.Fact[string]{}
	}
	return packaging.Fact[string]{Value: v.S, Source: src}
}

// guard renders a resource's only_if / not_if as written.
func guard(res Resource) string {
	var parts []string
	for _, name := range []string{"only_if", "not_if"} {
		if p, ok := res.Props[name]; ok {
			parts = append(parts, p.Text)
		}
	}
	return strings.Join(parts, "; ")
}

// recipeName turns a recipe's source reference into its name.
func recipeName(file string) string {
	return strings.TrimSuffix(path.Base(file), ".rb")
}
