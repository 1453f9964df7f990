package main

import (
	"fmt"
	"strings"
)

// Prop is one property statement inside a resource block (`owner "root"`),
// evaluated.
type Prop struct {
	Args     []Expr
	Vals     []Value
	Modifier string // a trailing if/unless makes the property conditional
	ModCond  Expr   // the modifier's condition
	Text     string // the statement as written, roughly
	Line     int
}

// Resource is a Chef resource or definition call: `directory x do ... end`,
// `component_runit_service "nginx"`.
type Resource struct {
	Type        string
	NameExpr    Expr
	Name        Value
	Props       map[string]Prop // the last statement for each property
	Line        int
	Conditional bool   // under if/unless/case, or a modifier
	File        string // source reference of the recipe, without line
	// Locals are the local variables at the declaration, for evaluating
	// its arguments again (with other attributes).
	Locals map[string]Value
}

// Prop returns a property's first evaluated argument.
func (r Resource) Prop(name string) (Value, Prop, bool) {
	p, ok := r.Props[name]
	if !ok || len(p.Vals) == 0 {
		return Value{}, p, ok
	}
	return p.Vals[0], p, true
}

// Source returns the resource's source reference with its line.
func (r Resource) Source() string { return Origin{File: r.File, Line: r.Line}.String() }

// Recipe is what the extractors read from a recipe file: its resources in
// order, the recipes it includes, and its top-level local variables.
type Recipe struct {
	File      string
	Resources []Resource
	Includes  []string
	Locals    map[string]Value
	Nodes     []*Node
}

// resourceTypes are the calls read as resources. Anything else with a block
// (ruby_block, execute, ...) is read too when it has a literal name, but
// these are the ones whose properties the extractors use.
var resourceTypes = map[string]bool{
	"directory": true, "file": true, "template": true, "cookbook_file": true, "remote_directory": true,
	"link": true, "runit_service": true, "component_runit_service": true, "execute": true, "user": true,
	"group": true, "service": true, "log": true, "private_chef_keepalived_safemode": true, "bash": true,
	"ruby_block": true, "package": true, "cron": true,
}

// LoadRecipe reads a recipe, evaluating top-level local variables in order
// and expanding `[a, b].each do |x| resource x do ... end end` loops over
// literal arrays.
func LoadRecipe(src, file string, attrs *Attrs) (*Recipe, error) {
	nodes, err := Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	rc := &Recipe{File: file, Locals: map[string]Value{}, Nodes: nodes}
	env := &Env{File: file, Attrs: attrs, Locals: rc.Locals}
	if err := rc.walk(nodes, env, false); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return rc, nil
}

func (rc *Recipe) walk(nodes []*Node, env *Env, cond bool) error {
	for _, n := range nodes {
		if n.Branch != "" {
			continue
		}
		switch n.Kind {
		case Cond, Loop:
			// A local assigned under a condition is no longer known.
			Walk(n.Body, func(inner *Node, _ bool) {
				if inner.Kind != Stmt {
					return
				}
				if st, err := ParseStatement(inner.Toks); err == nil && st.Target != nil {
					if v, ok := st.Target.(*VarExpr); ok {
						env.Locals[v.Name] = Value{}
					}
				}
			})
			if err := rc.walk(n.Body, env, true); err != nil {
				return err
			}
			continue
		case Def, Module:
			if err := rc.walk(n.Body, env, cond); err != nil {
				return err
			}
			continue
		}
		if err := rc.statement(n, env, cond); err != nil {
			return err
		}
	}
	return nil
}

func (rc *Recipe) statement(n *Node, env *Env, cond bool) error {
	toks := n.Toks
	if n.Block != nil {
		// `directory x do ... end.run_action(:create)`: the resource is the
		// call before the block.
		toks = toks[:n.BlockAt]
	}
	if len(toks) == 0 {
		return nil
	}
	st, err := ParseStatement(toks)
	first := toks[0]
	if err != nil {
		// Only a resource we would read must parse; other Ruby is skipped.
		if first.Kind == Ident && resourceTypes[first.Text] && !first.is(Ident, "log") {
			return fmt.Errorf("line %d: %s: %w", n.Line, first.Text, err)
		}
		return nil
	}
	if st.Target != nil {
		if v, ok := st.Target.(*VarExpr); ok && st.AssignOp == "=" {
			val := Value{}
			if !cond && st.Modifier == "" {
				val = env.Eval(st.Value)
			}
			env.Locals[v.Name] = val
		}
		return nil
	}
	call, ok := st.Value.(*CallExpr)
	if !ok {
		return nil
	}
	// [a, b].each do |x| ... end
	if call.Name == "each" && call.Recv != nil && n.Block != nil {
		recv := env.Eval(call.Recv)
		if recv.Kind == Array && len(n.Params) == 1 {
			for _, elem := range recv.Arr {
				inner := &Env{File: env.File, Attrs: env.Attrs, Locals: copyLocals(env.Locals)}
				inner.Locals[n.Params[0]] = elem
				if err := rc.walk(n.Block, inner, cond || st.Modifier != ""); err != nil {
					return err
				}
			}
			return nil
		}
		inner := &Env{File: env.File, Attrs: env.Attrs, Locals: copyLocals(env.Locals)}
		for _, p := range n.Params {
			inner.Locals[p] = Value{}
		}
		return rc.walk(n.Block, inner, true)
	}
	if call.Recv != nil {
		return nil
	}
	if call.Name == "include_recipe" && len(call.Args) == 1 {
		if v := env.Eval(call.Args[0]); v.Kind == Str {
			rc.Includes = append(rc.Includes, v.S)
		}
		return nil
	}
	if !resourceTypes[call.Name] && n.Block == nil {
		return nil
	}
	r := Resource{Type: call.Name, Line: n.Line, Conditional: cond || st.Modifier != "", File: rc.File, Props: map[string]Prop{},
		Locals: copyLocals(env.Locals)}
	if len(call.Args) > 0 {
		r.NameExpr = call.Args[0]
		r.Name = env.Eval(call.Args[0])
	}
	for _, b := range n.Block {
		if b.Kind != Stmt || len(b.Toks) == 0 {
			continue
		}
		pst, err := ParseStatement(b.Toks)
		if err != nil || pst.Target != nil {
			continue
		}
		pc, ok := pst.Value.(*CallExpr)
		if !ok {
			continue
		}
		if pc.Recv != nil {
			continue
		}
		p := Prop{Args: pc.Args, Modifier: pst.Modifier, ModCond: pst.ModCond, Line: b.Line, Text: tokensString(b.Toks)}
		for _, a := range pc.Args {
			p.Vals = append(p.Vals, env.Eval(a))
		}
		r.Props[pc.Name] = p
	}
	rc.Resources = append(rc.Resources, r)
	return nil
}

func copyLocals(m map[string]Value) map[string]Value {
	out := make(map[string]Value, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// modeString normalises a mode as a recipe writes it ("0700", "644", 0755)
// to four octal digits.
func modeString(v Value) (string, bool) {
	if v.Kind != Str && v.Kind != Int {
		return "", false
	}
	s := strings.TrimPrefix(v.S, "0o")
	for _, c := range s {
		if c < '0' || c > '7' {
			return "", false
		}
	}
	for len(s) < 4 {
		s = "0" + s
	}
	return s, true
}

// tokensString renders tokens back to roughly the source they came from,
// for facts that record a guard as written.
func tokensString(toks []Token) string {
	var b strings.Builder
	for i, t := range toks {
		if t.Kind == Newline || t.Kind == EOF {
			continue
		}
		if i > 0 && t.Space {
			b.WriteByte(' ')
		}
		switch t.Kind {
		case String, XString:
			q := "\""
			if t.Kind == XString {
				q = "`"
			}
			b.WriteString(q)
			for _, p := range t.Parts {
				if p.IsCode {
					b.WriteString("#{" + p.Code + "}")
				} else {
					b.WriteString(p.Lit)
				}
			}
			b.WriteString(q)
		case Symbol:
			b.WriteString(":" + t.Text)
		case Label:
			b.WriteString(t.Text + ":")
		case Words:
			b.WriteString("%w[" + strings.Join(t.Words, " ") + "]")
		case Regex:
			b.WriteString("/.../")
		default:
			b.WriteString(t.Text)
		}
	}
	return b.String()
}
