package main

import (
	"fmt"
	"strings"
)

// The expression reader parses the operands the extractors evaluate:
// literals, arrays, hashes, node['a']['b'] lookups, local variables,
// File.join, method chains and the boolean operators. What it cannot parse
// becomes an Opaque expression, which evaluates to Unknown: a fact that
// depends on it is left out, never guessed.

// Expr is a parsed expression.
type Expr interface{ Pos() int }

type (
	// StrExpr is a string (Parts) or a symbol (Sym).
	StrExpr struct {
		Parts []Part
		Sym   bool
		Line  int
	}
	NumExpr struct {
		Text string
		Line int
	}
	// WordExpr is true, false, nil or self.
	WordExpr struct {
		Word string
		Line int
	}
	ArrayExpr struct {
		Elems []Expr
		Line  int
	}
	HashExpr struct {
		Keys, Vals []Expr
		Line       int
	}
	// VarExpr is a local variable, an instance variable or a method
	// called with neither receiver nor arguments.
	VarExpr struct {
		Name string
		Line int
	}
	ConstExpr struct {
		Name string // Foo or Foo::Bar
		Line int
	}
	IndexExpr struct {
		Recv Expr
		Args []Expr
		Line int
	}
	CallExpr struct {
		Recv  Expr // nil for a call without receiver
		Name  string
		Args  []Expr
		Block bool // a { ... } block follows
		Line  int
	}
	UnaryExpr struct {
		Op   string
		X    Expr
		Line int
	}
	BinaryExpr struct {
		Op   string
		L, R Expr
		Line int
	}
	TernaryExpr struct {
		C, T, F Expr
		Line    int
	}
	// OpaqueExpr is anything else (regex, backticks, lambdas, splats).
	OpaqueExpr struct {
		Why  string
		Line int
	}
)

func (e *StrExpr) Pos() int     { return e.Line }
func (e *NumExpr) Pos() int     { return e.Line }
func (e *WordExpr) Pos() int    { return e.Line }
func (e *ArrayExpr) Pos() int   { return e.Line }
func (e *HashExpr) Pos() int    { return e.Line }
func (e *VarExpr) Pos() int     { return e.Line }
func (e *ConstExpr) Pos() int   { return e.Line }
func (e *IndexExpr) Pos() int   { return e.Line }
func (e *CallExpr) Pos() int    { return e.Line }
func (e *UnaryExpr) Pos() int   { return e.Line }
func (e *BinaryExpr) Pos() int  { return e.Line }
func (e *TernaryExpr) Pos() int { return e.Line }
func (e *OpaqueExpr) Pos() int  { return e.Line }

type exprReader struct {
	toks []Token
	i    int
}

func (r *exprReader) cur() Token {
	if r.i < len(r.toks) {
		return r.toks[r.i]
	}
	line := 0
	if len(r.toks) > 0 {
		line = r.toks[len(r.toks)-1].Line
	}
	return Token{Kind: EOF, Line: line}
}

func (r *exprReader) errorf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", r.cur().Line, fmt.Sprintf(format, args...))
}

// ParseExpr parses tokens that must form exactly one expression.
func ParseExpr(toks []Token) (Expr, error) {
	r := &exprReader{toks: trimNewlines(toks)}
	e, err := r.ternary()
	if err != nil {
		return nil, err
	}
	if r.cur().Kind != EOF {
		return nil, r.errorf("unexpected %s %q after expression", r.cur().Kind, r.cur().Text)
	}
	return e, nil
}

func trimNewlines(toks []Token) []Token {
	out := make([]Token, 0, len(toks))
	for _, t := range toks {
		if t.Kind != Newline && t.Kind != EOF {
			out = append(out, t)
		}
	}
	return out
}

// Statement is a parsed statement: an assignment, or a call with its
// arguments and trailing modifier (`x if cond`).
type Statement struct {
	Target   Expr   // assignment target, nil otherwise
	AssignOp string // "=", "||=", ...
	Value    Expr   // assignment value, or the expression / command call
	Modifier string // "if", "unless", or ""
	ModCond  Expr   // the modifier's condition, Opaque when unreadable
	Line     int
}

var assignOps = map[string]bool{"=": true, "||=": true, "&&=": true, "+=": true, "-=": true, "<<=": true, "|=": true}

// ParseStatement parses a statement's tokens: `a = b`, `foo arg, arg`,
// `foo(arg)`, each maybe followed by a modifier if/unless.
func ParseStatement(toks []Token) (Statement, error) {
	toks = trimNewlines(toks)
	st := Statement{}
	if len(toks) > 0 {
		st.Line = toks[0].Line
	}
	// A trailing modifier at bracket depth 0.
	depth := 0
	for i, t := range toks {
		switch {
		case t.Kind == Op && (t.Text == "(" || t.Text == "[" || t.Text == "{"):
			depth++
		case t.Kind == Op && (t.Text == ")" || t.Text == "]" || t.Text == "}"):
			depth--
		case depth == 0 && i > 0 && (t.is(Ident, "if") || t.is(Ident, "unless") || t.is(Ident, "while") || t.is(Ident, "rescue")):
			st.Modifier = t.Text
			if c, err := ParseExpr(toks[i+1:]); err == nil {
				st.ModCond = c
			} else {
				st.ModCond = &OpaqueExpr{Why: "condition", Line: t.Line}
			}
			toks = toks[:i]
		}
		if st.Modifier != "" {
			break
		}
	}
	// An assignment at depth 0.
	depth = 0
	for i, t := range toks {
		switch {
		case t.Kind == Op && (t.Text == "(" || t.Text == "[" || t.Text == "{"):
			depth++
		case t.Kind == Op && (t.Text == ")" || t.Text == "]" || t.Text == "}"):
			depth--
		case depth == 0 && t.Kind == Op && assignOps[t.Text] && i > 0:
			target, err := ParseExpr(toks[:i])
			if err != nil {
				return st, err
			}
			value, err := ParseExpr(toks[i+1:])
			if err != nil {
				return st, err
			}
			st.Target, st.AssignOp, st.Value = target, t.Text, value
			return st, nil
		}
	}
	// A command call: `name arg, arg` without parentheses.
	if len(toks) >= 2 && toks[0].Kind == Ident && !keywords[toks[0].Text] && startsCommandArg(toks[1]) {
		r := &exprReader{toks: toks[1:]}
		args, err := r.args(EOF, "")
		if err != nil {
			return st, err
		}
		st.Value = &CallExpr{Name: toks[0].Text, Args: args, Line: toks[0].Line}
		return st, nil
	}
	value, err := ParseExpr(toks)
	if err != nil {
		return st, err
	}
	st.Value = value
	return st, nil
}

// startsCommandArg reports whether t, right after an identifier, starts the
// first argument of a call without parentheses (`owner "root"`), rather
// than continuing an expression (`a + b`, `a[1]`, `a.b`).
func startsCommandArg(t Token) bool {
	switch t.Kind {
	case Ident:
		return !keywords[t.Text] || t.Text == "true" || t.Text == "false" || t.Text == "nil" || t.Text == "self" || t.Text == "not"
	case Const, IVar, GVar, Symbol, String, XString, Regex, Words, Number, Label:
		return true
	case Op:
		switch t.Text {
		case "[", "!", "->", "-", "::", "*", "&":
			return t.Space
		case "(":
			return t.Space
		case "{":
			return false // a brace block
		}
	}
	return false
}

// args reads comma-separated arguments until the closing token (EOF for a
// command call); `k => v` and `k: v` pairs are gathered into a trailing hash.
func (r *exprReader) args(close Kind, closeText string) ([]Expr, error) {
	var out []Expr
	var hash *HashExpr
	for {
		t := r.cur()
		if t.Kind == EOF && close == EOF || closeText != "" && t.is(Op, closeText) {
			break
		}
		if t.Kind == EOF {
			return nil, r.errorf("missing %q", closeText)
		}
		if t.Kind == Label {
			r.i++
			v, err := r.ternary()
			if err != nil {
				return nil, err
			}
			if hash == nil {
				hash = &HashExpr{Line: t.Line}
				out = append(out, hash)
			}
			hash.Keys = append(hash.Keys, &StrExpr{Parts: []Part{{Lit: t.Text}}, Sym: true, Line: t.Line})
			hash.Vals = append(hash.Vals, v)
		} else if t.is(Op, "*") || t.is(Op, "&") || t.is(Op, "**") {
			r.i++
			if _, err := r.ternary(); err != nil {
				return nil, err
			}
			out = append(out, &OpaqueExpr{Why: "splat", Line: t.Line})
		} else {
			e, err := r.ternary()
			if err != nil {
				return nil, err
			}
			if r.cur().is(Op, "=>") {
				r.i++
				v, err := r.ternary()
				if err != nil {
					return nil, err
				}
				if hash == nil {
					hash = &HashExpr{Line: e.Pos()}
					out = append(out, hash)
				}
				hash.Keys = append(hash.Keys, e)
				hash.Vals = append(hash.Vals, v)
			} else {
				out = append(out, e)
			}
		}
		if r.cur().is(Op, ",") {
			r.i++
			continue
		}
		if close == EOF && r.cur().Kind == EOF || closeText != "" && r.cur().is(Op, closeText) {
			break
		}
		return nil, r.errorf("unexpected %s %q in arguments", r.cur().Kind, r.cur().Text)
	}
	return out, nil
}

func (r *exprReader) ternary() (Expr, error) {
	c, err := r.binary(0)
	if err != nil {
		return nil, err
	}
	if !r.cur().is(Op, "?") {
		return c, nil
	}
	line := r.cur().Line
	r.i++
	t, err := r.ternary()
	if err != nil {
		return nil, err
	}
	// `a ? b : c`; a symbol-looking `:c` was read as a symbol.
	if r.cur().is(Op, ":") {
		r.i++
	} else if r.cur().Kind != Symbol {
		return nil, r.errorf("ternary without ':'")
	}
	f, err := r.ternary()
	if err != nil {
		return nil, err
	}
	return &TernaryExpr{C: c, T: t, F: f, Line: line}, nil
}

// binary operators by precedence, loosest first.
var precedence = [][]string{
	{"or", "and"},
	{"||"},
	{"&&"},
	{"..", "..."},
	{"==", "!=", "=~", "!~", "===", "<=>"},
	{"<", "<=", ">", ">="},
	{"|", "^", "&"},
	{"<<", ">>"},
	{"+", "-"},
	{"*", "/", "%"},
	{"**"},
}

func (r *exprReader) binary(level int) (Expr, error) {
	if level == len(precedence) {
		return r.unary()
	}
	l, err := r.binary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := r.cur()
		if t.Kind != Op && !(t.Kind == Ident && (t.Text == "or" || t.Text == "and")) {
			return l, nil
		}
		match := false
		for _, op := range precedence[level] {
			if t.Text == op {
				match = true
			}
		}
		if !match {
			return l, nil
		}
		r.i++
		rhs, err := r.binary(level + 1)
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{Op: t.Text, L: l, R: rhs, Line: t.Line}
	}
}

func (r *exprReader) unary() (Expr, error) {
	t := r.cur()
	if t.is(Op, "!") || t.is(Op, "-") || t.is(Op, "+") || t.is(Op, "~") || t.is(Ident, "not") {
		r.i++
		x, err := r.unary()
		if err != nil {
			return nil, err
		}
		op := t.Text
		if op == "not" {
			op = "!"
		}
		return &UnaryExpr{Op: op, X: x, Line: t.Line}, nil
	}
	if t.is(Ident, "defined?") {
		r.i++
		if _, err := r.unary(); err != nil {
			return nil, err
		}
		return &OpaqueExpr{Why: "defined?", Line: t.Line}, nil
	}
	return r.postfix()
}

func (r *exprReader) postfix() (Expr, error) {
	e, err := r.primary()
	if err != nil {
		return nil, err
	}
	for {
		t := r.cur()
		switch {
		case t.is(Op, "[") && !t.Space:
			r.i++
			args, err := r.args(Op, "]")
			if err != nil {
				return nil, err
			}
			r.i++
			e = &IndexExpr{Recv: e, Args: args, Line: t.Line}
		case t.is(Op, ".") || t.is(Op, "&."):
			r.i++
			name := r.cur()
			if name.Kind != Ident && name.Kind != Const && name.Kind != Label {
				if name.is(Op, "(") { // .() call
					name = Token{Kind: Ident, Text: "call", Line: name.Line}
					r.i--
				} else {
					return nil, r.errorf("expected method name after '.'")
				}
			}
			r.i++
			call := &CallExpr{Recv: e, Name: name.Text, Line: name.Line}
			if name.Kind == Label { // a.b:c is not something we read
				return nil, r.errorf("unexpected label after '.'")
			}
			if _, err := r.parenArgs(call); err != nil {
				return nil, err
			}
			if err := r.braceBlock(call); err != nil {
				return nil, err
			}
			e = call
		case t.is(Op, "::"):
			r.i++
			name := r.cur()
			if name.Kind != Const && name.Kind != Ident {
				return nil, r.errorf("expected name after '::'")
			}
			r.i++
			if c, ok := e.(*ConstExpr); ok && name.Kind == Const {
				e = &ConstExpr{Name: c.Name + "::" + name.Text, Line: c.Line}
				continue
			}
			call := &CallExpr{Recv: e, Name: name.Text, Line: name.Line}
			if _, err := r.parenArgs(call); err != nil {
				return nil, err
			}
			e = call
		default:
			return e, nil
		}
	}
}

// braceBlock steps over a { ... } block after a call, marking the call.
func (r *exprReader) braceBlock(call *CallExpr) error {
	if !r.cur().is(Op, "{") {
		return nil
	}
	depth := 0
	for {
		t := r.cur()
		switch {
		case t.Kind == EOF:
			return r.errorf("unterminated block")
		case t.is(Op, "{"):
			depth++
		case t.is(Op, "}"):
			depth--
			if depth == 0 {
				r.i++
				call.Block = true
				return nil
			}
		}
		r.i++
	}
}

func (r *exprReader) primary() (Expr, error) {
	t := r.cur()
	switch t.Kind {
	case String:
		r.i++
		parts := t.Parts
		// Adjacent literals concatenate: "a" "b".
		for r.cur().Kind == String {
			parts = append(append([]Part(nil), parts...), r.cur().Parts...)
			r.i++
		}
		return &StrExpr{Parts: parts, Line: t.Line}, nil
	case Symbol:
		r.i++
		return &StrExpr{Parts: []Part{{Lit: t.Text}}, Sym: true, Line: t.Line}, nil
	case Number:
		r.i++
		return &NumExpr{Text: t.Text, Line: t.Line}, nil
	case Words:
		r.i++
		a := &ArrayExpr{Line: t.Line}
		for _, w := range t.Words {
			a.Elems = append(a.Elems, &StrExpr{Parts: []Part{{Lit: w}}, Line: t.Line})
		}
		return a, nil
	case Regex, XString:
		r.i++
		return &OpaqueExpr{Why: t.Kind.String(), Line: t.Line}, nil
	case IVar, GVar:
		r.i++
		return &VarExpr{Name: t.Text, Line: t.Line}, nil
	case Const:
		r.i++
		call := &CallExpr{Name: t.Text, Line: t.Line}
		if ok, err := r.parenArgs(call); err != nil || ok { // Integer("1")
			return call, err
		}
		return &ConstExpr{Name: t.Text, Line: t.Line}, nil
	case Ident:
		switch t.Text {
		case "true", "false", "nil", "self":
			r.i++
			return &WordExpr{Word: t.Text, Line: t.Line}, nil
		case "lambda", "proc":
			r.i++
			call := &CallExpr{Name: t.Text, Line: t.Line}
			if err := r.braceBlock(call); err != nil {
				return nil, err
			}
			return &OpaqueExpr{Why: t.Text, Line: t.Line}, nil
		}
		if keywords[t.Text] {
			return nil, r.errorf("unexpected keyword %q", t.Text)
		}
		r.i++
		call := &CallExpr{Name: t.Text, Line: t.Line}
		if ok, err := r.parenArgs(call); err != nil {
			return nil, err
		} else if ok {
			if err := r.braceBlock(call); err != nil {
				return nil, err
			}
			return call, nil
		}
		if r.cur().is(Op, "{") {
			call := &CallExpr{Name: t.Text, Line: t.Line}
			if err := r.braceBlock(call); err != nil {
				return nil, err
			}
			return call, nil
		}
		return &VarExpr{Name: t.Text, Line: t.Line}, nil
	case Op:
		switch t.Text {
		case "(":
			r.i++
			e, err := r.ternary()
			if err != nil {
				return nil, err
			}
			if !r.cur().is(Op, ")") {
				return nil, r.errorf("missing ')'")
			}
			r.i++
			return e, nil
		case "[":
			r.i++
			elems, err := r.args(Op, "]")
			if err != nil {
				return nil, err
			}
			r.i++
			return &ArrayExpr{Elems: elems, Line: t.Line}, nil
		case "{":
			r.i++
			h := &HashExpr{Line: t.Line}
			args, err := r.args(Op, "}")
			if err != nil {
				return nil, err
			}
			r.i++
			switch {
			case len(args) == 1:
				if inner, ok := args[0].(*HashExpr); ok {
					h.Keys, h.Vals = inner.Keys, inner.Vals
					return h, nil
				}
				return nil, r.errorf("brace literal is not a hash")
			case len(args) > 1:
				return nil, r.errorf("brace literal is not a hash")
			}
			return h, nil
		case "->":
			r.i++
			for r.cur().Kind != EOF && !r.cur().is(Op, "{") {
				r.i++
			}
			call := &CallExpr{Name: "lambda", Line: t.Line}
			if err := r.braceBlock(call); err != nil {
				return nil, err
			}
			return &OpaqueExpr{Why: "lambda", Line: t.Line}, nil
		case "::":
			r.i++
			if r.cur().Kind != Const {
				return nil, r.errorf("expected constant after '::'")
			}
			name := r.cur().Text
			r.i++
			return &ConstExpr{Name: name, Line: t.Line}, nil
		case "<inline>":
			r.i++
			return &OpaqueExpr{Why: "inline construct", Line: t.Line}, nil
		}
	case Label:
		// `{ key: value }` is handled in args; a stray label is not an expression.
	}
	return nil, r.errorf("unexpected %s %q", t.Kind, t.Text)
}

// exprString renders an expression compactly for error messages and for
// facts that record a guard as written (e.g. should_notify?("kepalived")).
func exprString(e Expr) string {
	switch e := e.(type) {
	case *StrExpr:
		if e.Sym {
			return ":" + e.Parts[0].Lit
		}
		var b strings.Builder
		b.WriteByte('"')
		for _, p := range e.Parts {
			if p.IsCode {
				b.WriteString("#{" + p.Code + "}")
			} else {
				b.WriteString(p.Lit)
			}
		}
		b.WriteByte('"')
		return b.String()
	case *NumExpr:
		return e.Text
	case *WordExpr:
		return e.Word
	case *VarExpr:
		return e.Name
	case *ConstExpr:
		return e.Name
	case *ArrayExpr:
		var parts []string
		for _, x := range e.Elems {
			parts = append(parts, exprString(x))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *HashExpr:
		var parts []string
		for i := range e.Keys {
			parts = append(parts, exprString(e.Keys[i])+" => "+exprString(e.Vals[i]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *IndexExpr:
		var parts []string
		for _, x := range e.Args {
			parts = append(parts, exprString(x))
		}
		return exprString(e.Recv) + "[" + strings.Join(parts, ", ") + "]"
	case *CallExpr:
		var parts []string
		for _, x := range e.Args {
			parts = append(parts, exprString(x))
		}
		s := e.Name
		if e.Recv != nil {
			s = exprString(e.Recv) + "." + e.Name
		}
		if len(parts) > 0 {
			s += "(" + strings.Join(parts, ", ") + ")"
		}
		return s
	case *UnaryExpr:
		return e.Op + exprString(e.X)
	case *BinaryExpr:
		return exprString(e.L) + " " + e.Op + " " + exprString(e.R)
	case *TernaryExpr:
		return exprString(e.C) + " ? " + exprString(e.T) + " : " + exprString(e.F)
	case *OpaqueExpr:
		return "<" + e.Why + ">"
	}
	return "?"
}

// parenArgs reads a call's parenthesised arguments when a "(" follows its
// name with no space (a space makes it an argument, not the list), and
// reports whether there were any.
func (r *exprReader) parenArgs(call *CallExpr) (bool, error) {
	if !r.cur().is(Op, "(") || r.cur().Space {
		return false, nil
	}
	r.i++
	args, err := r.args(Op, ")")
	if err != nil {
		return false, err
	}
	r.i++
	call.Args = args
	return true, nil
}
