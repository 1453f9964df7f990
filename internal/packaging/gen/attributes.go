package main

import (
	"fmt"
)

// indexChain unwinds a[k1][k2]... into its root and keys.
func indexChain(e Expr) (root Expr, keys []Expr) {
	for {
		ix, ok := e.(*IndexExpr)
		if !ok || len(ix.Args) != 1 {
			break
		}
		keys = append([]Expr{ix.Args[0]}, keys...)
		e = ix.Recv
	}
	return e, keys
}

// attributeTarget reports the attribute path an assignment target names:
// default['a']['b'], node.default['a'], set['a'] and the like.
func attributeTarget(env *Env, target Expr) ([]string, bool, error) {
	root, keys := indexChain(target)
	switch r := root.(type) {
	case *VarExpr:
		if r.Name != "default" && r.Name != "override" && r.Name != "normal" && r.Name != "set" {
			return nil, false, nil
		}
	case *CallExpr:
		if _, ok := r.Recv.(*VarExpr); !ok || r.Recv.(*VarExpr).Name != "node" || len(r.Args) > 0 {
			return nil, false, nil
		}
		switch r.Name {
		case "default", "override", "normal", "set":
		default:
			return nil, false, nil
		}
	default:
		return nil, false, nil
	}
	if len(keys) == 0 {
		return nil, false, nil
	}
	var p []string
	for _, k := range keys {
		v := env.Eval(k)
		if v.Kind != Str {
			return nil, true, fmt.Errorf("line %d: attribute key %s is not a literal", k.Pos(), exprString(k))
		}
		p = append(p, v.S)
	}
	return p, true, nil
}

// LoadAttributes evaluates an attribute file's assignments in order into
// attrs. An assignment under a condition (`if File.exists?(...)`) is
// recorded as unknown: which branch runs depends on the machine. An
// assignment whose key is not a literal is skipped and returned in skipped.
func LoadAttributes(src, file string, attrs *Attrs) (skipped []string, err error) {
	nodes, err := Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	env := &Env{File: file, Attrs: attrs, Locals: map[string]Value{}}
	Walk(nodes, func(n *Node, conditional bool) {
		if err != nil || n.Kind != Stmt || len(n.Toks) == 0 {
			return
		}
		first := n.Toks[0]
		if first.Kind != Ident || (first.Text != "default" && first.Text != "override" && first.Text != "node") {
			return
		}
		st, perr := ParseStatement(n.Toks)
		if perr != nil {
			err = fmt.Errorf("%s: %w", file, perr)
			return
		}
		if st.Target == nil {
			return
		}
		p, ok, terr := attributeTarget(env, st.Target)
		if !ok {
			return
		}
		if terr != nil {
			skipped = append(skipped, fmt.Sprintf("%s:%d: %v", file, n.Line, terr))
			return
		}
		if conditional || st.Modifier != "" || st.AssignOp != "=" {
			attrs.Set(p, Value{})
			return
		}
		v := env.Eval(st.Value)
		if v.Known() {
			v.Origin = Origin{File: file, Line: n.Line}
		}
		attrs.Set(p, v)
	})
	return skipped, err
}
