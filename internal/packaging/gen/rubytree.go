package main

import (
	"fmt"
)

// The statement reader groups tokens into statements and nests `do ... end`
// blocks and keyword constructs (if, unless, case, def, class, module, begin,
// while) under the statement that opens them. That is all the structure the
// extractors need: a recipe is a list of resource statements with property
// statements in their blocks; a library is a list of defs.

// NodeKind is a node's kind.
type NodeKind int

const (
	Stmt   NodeKind = iota // an ordinary statement, maybe with a do-block
	Cond                   // if, unless, case: a conditional body
	Loop                   // while, until, for
	Def                    // def NAME
	Module                 // class, module, begin: an unconditional body
)

// Node is a statement.
type Node struct {
	Kind   NodeKind
	Line   int
	Toks   []Token // the statement's tokens (Stmt), or the header (others)
	Params []string
	Block  []*Node // the do-block's statements (Stmt)
	Body   []*Node // the body of a keyword construct, all branches
	Name   string  // Def: the method's name
	Inline []*Node // keyword constructs used as values inside the statement
	Branch string  // a branch marker (when, else, elsif, ...); Toks is its header
	// BlockAt is the index in Toks where the do-block sits: the call
	// before it, the chain after it (`end.run_action(:create)`).
	BlockAt int
	EndLine int // the line of the construct's or block's end
}

// HasBlock reports whether the statement has a do-block.
func (n *Node) HasBlock() bool { return n.Kind == Stmt && n.Block != nil }

type treeReader struct {
	toks []Token
	i    int
}

// Parse reads Ruby source into statements.
func Parse(src string) ([]*Node, error) {
	toks, err := Tokenize(src)
	if err != nil {
		return nil, err
	}
	return ParseTokens(toks)
}

// ParseTokens reads tokens into statements.
func ParseTokens(toks []Token) ([]*Node, error) {
	tr := &treeReader{toks: toks}
	nodes, term, err := tr.body(false)
	if err != nil {
		return nil, err
	}
	if term != "" {
		return nil, fmt.Errorf("line %d: unexpected %q", tr.cur().Line, term)
	}
	return nodes, nil
}

func (tr *treeReader) cur() Token {
	if tr.i < len(tr.toks) {
		return tr.toks[tr.i]
	}
	return Token{Kind: EOF}
}

var openers = map[string]NodeKind{
	"if": Cond, "unless": Cond, "case": Cond, "while": Loop, "until": Loop, "for": Loop,
	"def": Def, "class": Module, "module": Module, "begin": Module,
}

// branchWords separate the branches of a keyword construct; the rest of
// their line is a header (`when "x"`, `elsif cond`, `rescue Foo => e`).
var branchWords = map[string]bool{"else": true, "elsif": true, "when": true, "rescue": true, "ensure": true, "in": true}

// body reads statements until `end` (nested) or EOF (top level). It returns
// the terminator it stopped at: "end", or "" at EOF.
func (tr *treeReader) body(nested bool) ([]*Node, string, error) {
	var nodes []*Node
	for {
		t := tr.cur()
		switch {
		case t.Kind == EOF:
			if nested {
				return nil, "", fmt.Errorf("line %d: missing end", t.Line)
			}
			return nodes, "", nil
		case t.Kind == Newline || t.is(Op, ";"):
			tr.i++
			continue
		case t.is(Ident, "end"):
			if !nested {
				return nil, "", fmt.Errorf("line %d: unexpected end", t.Line)
			}
			tr.i++
			return nodes, "end", nil
		case t.Kind == Ident && branchWords[t.Text] && nested:
			tr.i++
			start := tr.i
			if t.Text != "else" && t.Text != "ensure" { // these have no header
				tr.skipHeader()
			}
			nodes = append(nodes, &Node{Kind: Stmt, Line: t.Line, Branch: t.Text, Toks: tr.toks[start:tr.i]})
			continue
		case t.is(Ident, "then"):
			tr.i++
			continue
		}
		n, err := tr.statement()
		if err != nil {
			return nil, "", err
		}
		nodes = append(nodes, n)
	}
}

// skipHeader steps over the rest of a branch line (`when "a", "b"`).
func (tr *treeReader) skipHeader() {
	depth := 0
	for {
		t := tr.cur()
		switch {
		case t.Kind == EOF:
			return
		case t.Kind == Newline || t.is(Op, ";") || t.is(Ident, "then"):
			if depth <= 0 {
				return
			}
		case t.Kind == Op && (t.Text == "(" || t.Text == "[" || t.Text == "{"):
			depth++
		case t.Kind == Op && (t.Text == ")" || t.Text == "]" || t.Text == "}"):
			depth--
		}
		tr.i++
	}
}

// keyword reads a keyword construct from its opening word to its end.
func (tr *treeReader) keyword() (*Node, error) {
	t := tr.cur()
	n := &Node{Kind: openers[t.Text], Line: t.Line}
	tr.i++
	start := tr.i
	if n.Kind == Def && (tr.cur().Kind == Ident || tr.cur().Kind == Const) {
		n.Name = tr.cur().Text
		// def self.name
		if n.Name == "self" && tr.i+2 < len(tr.toks) && tr.toks[tr.i+1].is(Op, ".") {
			n.Name = tr.toks[tr.i+2].Text
		}
	}
	if t.Text != "begin" {
		tr.skipHeader() // with `while cond do`, the do is part of the header
	}
	n.Toks = tr.toks[start:tr.i]
	body, term, err := tr.body(true)
	if err != nil {
		return nil, err
	}
	if term != "end" {
		return nil, fmt.Errorf("line %d: %s without end", t.Line, t.Text)
	}
	n.Body = body
	n.EndLine = tr.toks[tr.i-1].Line
	return n, nil
}

// opensValue reports whether a keyword after token t starts a construct
// used as a value (`x = if ...`, `y ||= begin ...`) rather than being a
// modifier (`foo if bar`, `next unless ok`): only an operator that wants an
// operand can precede a value.
func opensValue(t Token) bool {
	if t.Kind == Label {
		return true
	}
	return t.Kind == Op && t.Text != ")" && t.Text != "]" && t.Text != "}"
}

// continues reports whether a statement goes on past the end of a line
// after token t.
func continues(t Token) bool {
	if t.Kind != Op {
		return t.is(Ident, "and") || t.is(Ident, "or") || t.is(Ident, "not")
	}
	switch t.Text {
	case ")", "]", "}", "<inline>":
		return false
	}
	return true
}

// statement reads one statement, its do-block and any keyword constructs
// used as values inside it.
func (tr *treeReader) statement() (*Node, error) {
	first := tr.cur()
	if first.Kind == Ident {
		if _, ok := openers[first.Text]; ok {
			return tr.keyword()
		}
	}
	n := &Node{Kind: Stmt, Line: first.Line}
	depth := 0
	for {
		t := tr.cur()
		switch {
		case t.Kind == EOF:
			if depth > 0 {
				return nil, fmt.Errorf("line %d: unbalanced brackets in statement from line %d", t.Line, n.Line)
			}
			return n, nil
		case t.Kind == Newline || t.is(Op, ";"):
			if depth > 0 {
				tr.i++
				continue
			}
			if t.Kind == Newline && len(n.Toks) > 0 && continues(n.Toks[len(n.Toks)-1]) {
				tr.i++
				continue
			}
			// A leading-dot line continues the chain (`foo\n  .bar`).
			j := tr.i
			for j < len(tr.toks) && tr.toks[j].Kind == Newline {
				j++
			}
			if t.Kind == Newline && j < len(tr.toks) && tr.toks[j].Kind == Op && (tr.toks[j].Text == "." || tr.toks[j].Text == "&.") {
				tr.i = j
				continue
			}
			return n, nil
		case t.is(Ident, "end") || t.Kind == Ident && branchWords[t.Text] && depth == 0 && t.Text != "rescue":
			if depth > 0 {
				return nil, fmt.Errorf("line %d: %q inside brackets", t.Line, t.Text)
			}
			if len(n.Toks) == 0 && n.Block == nil {
				// Nothing read: the word cannot start a statement here.
				return nil, fmt.Errorf("line %d: unexpected %q", t.Line, t.Text)
			}
			return n, nil
		case t.is(Ident, "do"):
			tr.i++
			if n.Block != nil || len(n.Params) > 0 {
				return nil, fmt.Errorf("line %d: second do-block in one statement", t.Line)
			}
			n.Params = tr.params()
			n.BlockAt = len(n.Toks)
			body, term, err := tr.body(true)
			if err != nil {
				return nil, err
			}
			if term != "end" {
				return nil, fmt.Errorf("line %d: do without end", t.Line)
			}
			if body == nil {
				body = []*Node{}
			}
			n.Block = body
			n.EndLine = tr.toks[tr.i-1].Line
			continue
		case t.Kind == Ident && openers[t.Text] != Def && isOpener(t.Text) &&
			len(n.Toks) > 0 && opensValue(n.Toks[len(n.Toks)-1]):
			// `x = if ...`, `||= begin ... end`, `m = class << self; self; end`
			inner, err := tr.keyword()
			if err != nil {
				return nil, err
			}
			n.Inline = append(n.Inline, inner)
			n.Toks = append(n.Toks, Token{Kind: Op, Text: "<inline>", Line: t.Line})
			continue
		case t.Kind == Op && (t.Text == "(" || t.Text == "[" || t.Text == "{"):
			depth++
		case t.Kind == Op && (t.Text == ")" || t.Text == "]" || t.Text == "}"):
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("line %d: unbalanced %q", t.Line, t.Text)
			}
		}
		n.Toks = append(n.Toks, t)
		tr.i++
	}
}

func isOpener(word string) bool { _, ok := openers[word]; return ok }

// params reads a block's |a, b| parameters.
func (tr *treeReader) params() []string {
	if !tr.cur().is(Op, "|") {
		return nil
	}
	tr.i++
	var out []string
	for {
		t := tr.cur()
		switch {
		case t.Kind == EOF || t.Kind == Newline:
			return out
		case t.is(Op, "|"):
			tr.i++
			return out
		case t.Kind == Ident:
			out = append(out, t.Text)
		}
		tr.i++
	}
}

// Walk calls fn for every node, depth first, with whether the node sits
// under a conditional construct.
func Walk(nodes []*Node, fn func(n *Node, conditional bool)) {
	walk(nodes, false, fn)
}

func walk(nodes []*Node, cond bool, fn func(*Node, bool)) {
	for _, n := range nodes {
		if n.Branch != "" {
			continue
		}
		fn(n, cond)
		inner := cond || n.Kind == Cond || n.Kind == Loop
		walk(n.Body, inner, fn)
		walk(n.Block, inner, fn)
		walk(n.Inline, inner, fn)
	}
}

// FindDef returns the first method definition named name, at any depth.
func FindDef(nodes []*Node, name string) *Node {
	var found *Node
	Walk(nodes, func(n *Node, _ bool) {
		if found == nil && n.Kind == Def && n.Name == name {
			found = n
		}
	})
	return found
}

// Branches splits a construct's body at its branch markers: the statements
// before the first marker come first with an empty header.
func Branches(body []*Node) (headers [][]Token, words []string, parts [][]*Node) {
	headers, words, parts = [][]Token{nil}, []string{""}, [][]*Node{nil}
	for _, n := range body {
		if n.Branch != "" {
			headers = append(headers, n.Toks)
			words = append(words, n.Branch)
			parts = append(parts, nil)
			continue
		}
		parts[len(parts)-1] = append(parts[len(parts)-1], n)
	}
	return headers, words, parts
}
