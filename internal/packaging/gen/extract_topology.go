package main

import (
	"fmt"
	"strings"

	"github.com/chefha/chefha/internal/packaging"
)

// Topology is what libraries/private_chef.rb's generate_config sets for
// each role of an HA cluster before the attributes are consumed:
// PrivateChef[KEY]['enable'] and ['ha'] assignments, KEY mapped to the
// attribute key (generate_hash turns opscode_solr into opscode-solr, and
// keeps oc_* and redis_lb).
type Topology struct {
	// set[role][attrKey][prop] is the value the role's gen_* methods leave.
	set map[packaging.Role]map[string]map[string]Value
}

// Get returns what the role's methods set for attrKey's prop, if anything.
func (t *Topology) Get(role packaging.Role, attrKey, prop string) (Value, bool) {
	v, ok := t.set[role][attrKey][prop]
	return v, ok
}

// haRoles are the roles gen_redundant knows, with the me['bootstrap'] each
// stands for.
var haRoles = []struct {
	role      packaging.Role
	branch    string // gen_redundant's `when` for the role
	bootstrap bool
}{
	{packaging.Backend, "backend", false},
	{packaging.Bootstrap, "backend", true},
	{packaging.Frontend, "frontend", false},
}

// LoadTopology reads gen_redundant's `case me["role"]` branches and runs the
// gen_* methods each calls, with `ha` true (topology "ha") and me['bootstrap']
// per role, collecting the enable and ha assignments.
func LoadTopology(src, file string, attrs *Attrs) (*Topology, error) {
	nodes, err := Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	red := FindDef(nodes, "gen_redundant")
	if red == nil {
		return nil, fmt.Errorf("%s: no gen_redundant", file)
	}
	var caseNode *Node
	for _, n := range red.Body {
		if n.Kind == Cond && len(n.Toks) > 0 {
			caseNode = n
		}
	}
	if caseNode == nil {
		return nil, fmt.Errorf("%s:%d: gen_redundant has no case on the role", file, red.Line)
	}
	headers, _, parts := Branches(caseNode.Body)
	t := &Topology{set: map[packaging.Role]map[string]map[string]Value{}}
	for _, hr := range haRoles {
		var body []*Node
		for i, h := range headers {
			e, err := ParseExpr(h)
			if err != nil {
				continue
			}
			if s, ok := e.(*StrExpr); ok && len(s.Parts) == 1 && s.Parts[0].Lit == hr.branch {
				body = parts[i]
			}
		}
		if body == nil {
			return nil, fmt.Errorf("%s:%d: gen_redundant has no %q branch", file, caseNode.Line, hr.branch)
		}
		set := map[string]map[string]Value{}
		outer := &Env{File: file, Attrs: attrs, Locals: map[string]Value{
			"ha": {Kind: Bool, B: true},
			"me": {Kind: Hash, Keys: []string{"bootstrap"}, Vals: []Value{{Kind: Bool, B: hr.bootstrap}}},
		}}
		for _, n := range body {
			if n.Kind != Stmt || len(n.Toks) == 0 {
				continue
			}
			st, err := ParseStatement(n.Toks)
			if err != nil || st.Target != nil {
				continue
			}
			call, ok := st.Value.(*CallExpr)
			if v, isVar := st.Value.(*VarExpr); isVar { // `gen_frontend`, no arguments
				call, ok = &CallExpr{Name: v.Name, Line: v.Line}, true
			}
			if !ok || call.Recv != nil || !strings.HasPrefix(call.Name, "gen_") {
				continue
			}
			if st.Modifier != "" {
				c := outer.Eval(st.ModCond)
				truth, known := c.Truthy()
				if !known {
					return nil, fmt.Errorf("%s:%d: cannot tell whether %s runs", file, n.Line, call.Name)
				}
				if truth == (st.Modifier == "unless") {
					continue
				}
			}
			def := FindDef(nodes, call.Name)
			if def == nil {
				return nil, fmt.Errorf("%s:%d: no def %s", file, n.Line, call.Name)
			}
			env := &Env{File: file, Attrs: attrs, Locals: bindParams(def, call, outer)}
			runGen(def, env, attrs, set)
		}
		t.set[hr.role] = set
	}
	return t, nil
}

// bindParams binds a def's parameters (`def gen_backend(bootstrap=false)`)
// to a call's arguments evaluated in env, or to their literal defaults.
func bindParams(def *Node, call *CallExpr, env *Env) map[string]Value {
	locals := map[string]Value{}
	toks := def.Toks
	// Skip the name (and self.) up to '('.
	i := 0
	for i < len(toks) && !toks[i].is(Op, "(") {
		i++
	}
	arg := 0
	for i++; i < len(toks) && !toks[i].is(Op, ")"); i++ {
		if toks[i].Kind != Ident {
			continue
		}
		name := toks[i].Text
		v := Value{}
		if arg < len(call.Args) {
			v = env.Eval(call.Args[arg])
		} else if i+2 < len(toks) && toks[i+1].is(Op, "=") {
			if e, err := ParseExpr(toks[i+2 : i+3]); err == nil {
				v = env.Eval(e)
			}
		}
		locals[name] = v
		arg++
		// Skip a default value.
		for i+1 < len(toks) && !toks[i+1].is(Op, ",") && !toks[i+1].is(Op, ")") {
			i++
		}
	}
	return locals
}

// runGen applies a gen_* method's unconditional PrivateChef[K]['enable'|'ha']
// assignments.
func runGen(def *Node, env *Env, attrs *Attrs, set map[string]map[string]Value) {
	for _, n := range def.Body {
		if n.Kind != Stmt || len(n.Toks) == 0 {
			continue
		}
		st, err := ParseStatement(n.Toks)
		if err != nil || st.Target == nil || st.Modifier != "" {
			continue
		}
		root, keys := indexChain(st.Target)
		if c, ok := root.(*ConstExpr); !ok || c.Name != "PrivateChef" || len(keys) != 2 {
			continue
		}
		k, prop := env.Eval(keys[0]), env.Eval(keys[1])
		if k.Kind != Str || prop.Kind != Str || (prop.S != "enable" && prop.S != "ha") {
			continue
		}
		attrKey := AttrKey(attrs, k.S)
		if set[attrKey] == nil {
			set[attrKey] = map[string]Value{}
		}
		prev, had := set[attrKey][prop.S]
		switch st.AssignOp {
		case "=":
		case "||=":
			// PrivateChef values start nil (nothing in private-chef.rb), so
			// the first ||= sets; a later one keeps a truthy value.
			if had {
				if t, _ := prev.Truthy(); t {
					continue
				}
			}
		default:
			continue
		}
		v := env.Eval(st.Value)
		v.Origin = Origin{File: env.File, Line: n.Line}
		set[attrKey][prop.S] = v
	}
}

// AttrKey maps a PrivateChef key to the node['private_chef'] key
// generate_hash gives it: the same name when the attributes use it
// (oc_bifrost, redis_lb), else with '_' turned into '-' (opscode-solr).
func AttrKey(attrs *Attrs, key string) string {
	if attrs.Get([]string{"private_chef", key}).Kind == AttrRef {
		return key
	}
	return strings.ReplaceAll(key, "_", "-")
}
