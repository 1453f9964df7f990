package main

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// VKind is a value's kind.
type VKind int

const (
	Unknown VKind = iota // could not be evaluated mechanically
	Nil
	Bool
	Int
	Str
	Array
	Hash
	AttrRef // a subtree of the node attributes: node['private_chef']['couchdb']
)

// Origin is where a value was written: a file and line.
type Origin struct {
	File string // a source reference without line, e.g. repo@tag:path
	Line int
}

func (o Origin) String() string {
	if o.File == "" {
		return ""
	}
	if o.Line == 0 {
		return o.File
	}
	return fmt.Sprintf("%s:%d", o.File, o.Line)
}

// Value is an evaluated Ruby value with where it was written.
type Value struct {
	Kind   VKind
	B      bool
	S      string // Str; Int as written (0755); AttrRef path joined by "\x00"
	Arr    []Value
	Keys   []string
	Vals   []Value
	Origin Origin
}

func (v Value) Known() bool { return v.Kind != Unknown }

// Truthy reports Ruby truthiness; ok is false for Unknown.
func (v Value) Truthy() (truth, ok bool) {
	switch v.Kind {
	case Unknown:
		return false, false
	case Nil:
		return false, true
	case Bool:
		return v.B, true
	}
	return true, true
}

// Index looks a key up in a Hash value.
func (v Value) Index(key string) (Value, bool) {
	for i, k := range v.Keys {
		if k == key {
			return v.Vals[i], true
		}
	}
	return Value{}, false
}

// String renders scalars as Ruby's to_s would.
func (v Value) String() string {
	switch v.Kind {
	case Nil:
		return ""
	case Bool:
		return strconv.FormatBool(v.B)
	case Int, Str:
		return v.S
	}
	return "<" + v.kindName() + ">"
}

func (v Value) kindName() string {
	return [...]string{"unknown", "nil", "bool", "int", "string", "array", "hash", "attributes"}[v.Kind]
}

// Attrs are node attributes as the attribute files set them, in order.
type Attrs struct {
	vals     map[string]Value
	unknown  map[string]bool // assigned something not evaluable
	prefixes map[string]bool // every proper prefix of an assigned path
}

func NewAttrs() *Attrs {
	return &Attrs{vals: map[string]Value{}, unknown: map[string]bool{}, prefixes: map[string]bool{}}
}

const sep = "\x00"

func joinPath(p []string) string { return strings.Join(p, sep) }

// Set records path = v.
func (a *Attrs) Set(p []string, v Value) {
	key := joinPath(p)
	if v.Kind == Unknown {
		a.unknown[key] = true
		delete(a.vals, key)
	} else {
		a.vals[key] = v
		delete(a.unknown, key)
	}
	for i := 1; i < len(p); i++ {
		a.prefixes[joinPath(p[:i])] = true
	}
}

// Get looks a path up: a value, a hash entry below a value, a subtree
// (AttrRef), Unknown when something on the way was not evaluable, or Nil.
func (a *Attrs) Get(p []string) Value {
	key := joinPath(p)
	if v, ok := a.vals[key]; ok {
		return v
	}
	if a.unknown[key] {
		return Value{}
	}
	for i := len(p) - 1; i >= 1; i-- {
		pre := joinPath(p[:i])
		if a.unknown[pre] {
			return Value{}
		}
		if v, ok := a.vals[pre]; ok {
			for _, k := range p[i:] {
				if v.Kind != Hash {
					return Value{Kind: Nil}
				}
				nv, found := v.Index(k)
				if !found {
					return Value{Kind: Nil, Origin: v.Origin}
				}
				v = nv
			}
			return v
		}
	}
	if len(p) == 0 || a.prefixes[key] {
		return Value{Kind: AttrRef, S: key}
	}
	// A missing key under a root the attribute files set is nil, as in
	// Chef; anything else (node['fqdn'], node['ipaddress']) comes from
	// ohai or a recipe and is not known here.
	if !a.prefixes[p[0]] {
		return Value{}
	}
	return Value{Kind: Nil}
}

// Children returns the keys directly under a path, sorted.
func (a *Attrs) Children(p []string) []string {
	prefix := joinPath(p) + sep
	seen := map[string]bool{}
	add := func(k string) {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			child, _, _ := strings.Cut(rest, sep)
			seen[child] = true
		}
	}
	for k := range a.vals {
		add(k)
	}
	for k := range a.unknown {
		add(k)
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Env evaluates expressions: node attributes, local variables, and the
// instance variables an ERB template is given.
type Env struct {
	File   string // origin of literals
	Attrs  *Attrs
	Locals map[string]Value
	IVars  map[string]Value
}

func (env *Env) origin(line int) Origin { return Origin{File: env.File, Line: line} }

// Eval evaluates an expression; anything outside the subset is Unknown.
func (env *Env) Eval(e Expr) Value {
	switch e := e.(type) {
	case *StrExpr:
		if e.Sym {
			return Value{Kind: Str, S: e.Parts[0].Lit, Origin: env.origin(e.Line)}
		}
		var b strings.Builder
		origin := env.origin(e.Line)
		for _, p := range e.Parts {
			if !p.IsCode {
				b.WriteString(p.Lit)
				continue
			}
			v := env.EvalCode(p.Code, e.Line)
			switch v.Kind {
			case Str, Int, Bool, Nil:
				b.WriteString(v.String())
			default:
				return Value{}
			}
		}
		return Value{Kind: Str, S: b.String(), Origin: origin}
	case *NumExpr:
		return Value{Kind: Int, S: e.Text, Origin: env.origin(e.Line)}
	case *WordExpr:
		switch e.Word {
		case "true", "false":
			return Value{Kind: Bool, B: e.Word == "true", Origin: env.origin(e.Line)}
		case "nil":
			return Value{Kind: Nil, Origin: env.origin(e.Line)}
		}
		return Value{}
	case *ArrayExpr:
		out := Value{Kind: Array, Origin: env.origin(e.Line)}
		for _, x := range e.Elems {
			out.Arr = append(out.Arr, env.Eval(x))
		}
		return out
	case *HashExpr:
		out := Value{Kind: Hash, Origin: env.origin(e.Line)}
		for i := range e.Keys {
			k := env.Eval(e.Keys[i])
			if k.Kind != Str {
				return Value{}
			}
			out.Keys = append(out.Keys, k.S)
			out.Vals = append(out.Vals, env.Eval(e.Vals[i]))
		}
		return out
	case *VarExpr:
		if strings.HasPrefix(e.Name, "@") {
			if v, ok := env.IVars[e.Name[1:]]; ok {
				return v
			}
			return Value{}
		}
		if v, ok := env.Locals[e.Name]; ok {
			return v
		}
		if e.Name == "node" && env.Attrs != nil {
			return Value{Kind: AttrRef}
		}
		return Value{}
	case *IndexExpr:
		recv := env.Eval(e.Recv)
		if len(e.Args) != 1 {
			return Value{}
		}
		key := env.Eval(e.Args[0])
		return env.index(recv, key)
	case *CallExpr:
		return env.call(e)
	case *UnaryExpr:
		x := env.Eval(e.X)
		if e.Op == "!" {
			t, ok := x.Truthy()
			if !ok {
				return Value{}
			}
			return Value{Kind: Bool, B: !t, Origin: x.Origin}
		}
		return Value{}
	case *BinaryExpr:
		return env.binary(e)
	case *TernaryExpr:
		c := env.Eval(e.C)
		t, ok := c.Truthy()
		if !ok {
			return Value{}
		}
		if t {
			return env.Eval(e.T)
		}
		return env.Eval(e.F)
	}
	return Value{}
}

// EvalCode evaluates the source of an interpolation.
func (env *Env) EvalCode(code string, line int) Value {
	toks, err := Tokenize(code)
	if err != nil {
		return Value{}
	}
	for i := range toks {
		toks[i].Line += line - 1
	}
	e, err := ParseExpr(toks)
	if err != nil {
		return Value{}
	}
	return env.Eval(e)
}

func (env *Env) index(recv, key Value) Value {
	switch recv.Kind {
	case AttrRef:
		if key.Kind != Str || env.Attrs == nil {
			return Value{}
		}
		var p []string
		if recv.S != "" {
			p = strings.Split(recv.S, sep)
		}
		return env.Attrs.Get(append(p, key.S))
	case Hash:
		if key.Kind != Str {
			return Value{}
		}
		if v, ok := recv.Index(key.S); ok {
			return v
		}
		return Value{Kind: Nil, Origin: recv.Origin}
	case Array:
		if key.Kind != Int {
			return Value{}
		}
		n, err := strconv.Atoi(key.S)
		if err != nil || n < 0 || n >= len(recv.Arr) {
			return Value{}
		}
		return recv.Arr[n]
	}
	return Value{}
}

func (env *Env) call(e *CallExpr) Value {
	if c, ok := e.Recv.(*ConstExpr); ok && c.Name == "File" && e.Name == "join" {
		var parts []string
		for _, a := range e.Args {
			v := env.Eval(a)
			if v.Kind != Str {
				return Value{}
			}
			parts = append(parts, v.S)
		}
		return Value{Kind: Str, S: rubyFileJoin(parts), Origin: env.origin(e.Line)}
	}
	if e.Recv == nil || e.Block {
		return Value{}
	}
	recv := env.Eval(e.Recv)
	if !recv.Known() {
		return Value{}
	}
	switch e.Name {
	case "to_s", "to_str":
		if recv.Kind == Str || recv.Kind == Int || recv.Kind == Bool || recv.Kind == Nil {
			return Value{Kind: Str, S: recv.String(), Origin: recv.Origin}
		}
	case "to_hash", "to_h", "dup", "clone", "freeze", "to_a":
		return recv
	case "nil?":
		return Value{Kind: Bool, B: recv.Kind == Nil, Origin: recv.Origin}
	case "reverse":
		if recv.Kind == Array {
			out := recv
			out.Arr = make([]Value, len(recv.Arr))
			for i, v := range recv.Arr {
				out.Arr[len(recv.Arr)-1-i] = v
			}
			return out
		}
	}
	return Value{}
}

func (env *Env) binary(e *BinaryExpr) Value {
	l := env.Eval(e.L)
	switch e.Op {
	case "||", "or":
		t, ok := l.Truthy()
		if !ok {
			return Value{}
		}
		if t {
			return l
		}
		return env.Eval(e.R)
	case "&&", "and":
		t, ok := l.Truthy()
		if !ok {
			return Value{}
		}
		if !t {
			return l
		}
		return env.Eval(e.R)
	case "==", "!=":
		r := env.Eval(e.R)
		if !scalar(l) || !scalar(r) {
			return Value{}
		}
		eq := l.Kind == r.Kind && l.B == r.B && l.S == r.S
		return Value{Kind: Bool, B: eq == (e.Op == "=="), Origin: env.origin(e.Line)}
	case "+":
		r := env.Eval(e.R)
		if l.Kind == Str && r.Kind == Str {
			return Value{Kind: Str, S: l.S + r.S, Origin: env.origin(e.Line)}
		}
	}
	return Value{}
}

func scalar(v Value) bool { return v.Kind == Nil || v.Kind == Bool || v.Kind == Int || v.Kind == Str }

// rubyFileJoin joins as Ruby's File.join does: one separator between parts.
func rubyFileJoin(parts []string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			if !strings.HasSuffix(b.String(), "/") && !strings.HasPrefix(p, "/") {
				b.WriteByte('/')
			} else if strings.HasSuffix(b.String(), "/") && strings.HasPrefix(p, "/") {
				p = strings.TrimLeft(p, "/")
			}
		}
		b.WriteString(p)
	}
	return b.String()
}

// cleanPath normalises a directory path for comparison.
func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean(p)
}
