package main

import (
	"fmt"
	"strings"
)

// The tokenizer reads the small part of Ruby that Chef cookbooks, omnibus
// software definitions and partybus migrations are written in. It is not a
// Ruby parser: it only has to split a file into tokens well enough that the
// statement reader (rubytree.go) finds statement and block boundaries and the
// expression reader (rubyexpr.go) evaluates attribute values. Anything it
// cannot make sense of is reported as an error, never guessed.

// Kind is a token's kind.
type Kind int

const (
	EOF Kind = iota
	Newline
	Ident   // foo, foo?, foo!, keywords
	Const   // Foo
	IVar    // @foo, @@foo
	GVar    // $foo, $?
	Symbol  // :foo, :"foo"
	Label   // foo: (hash key or keyword argument)
	String  // "..", '..', heredoc, %q, %Q, ?c
	XString // `..`, %x
	Regex   // /../, %r
	Words   // %w[..], %i[..]
	Number  // 12, 0755, 1.5
	Op      // punctuation and operators
)

func (k Kind) String() string {
	return [...]string{"EOF", "newline", "identifier", "constant", "ivar", "gvar", "symbol", "label",
		"string", "xstring", "regex", "words", "number", "operator"}[k]
}

// Part is a piece of a string literal: literal text, or the source of an
// interpolated #{...}.
type Part struct {
	Lit    string
	Code   string
	IsCode bool
}

// Token is one token with the line it starts on.
type Token struct {
	Kind  Kind
	Text  string // identifier, operator, number text, symbol or label name
	Parts []Part // String and XString
	Words []string
	Line  int
	Space bool // whitespace precedes the token
}

// Str returns the literal text of a string token without interpolation, and
// whether it had none.
func (t Token) Str() (string, bool) {
	var b strings.Builder
	for _, p := range t.Parts {
		if p.IsCode {
			return "", false
		}
		b.WriteString(p.Lit)
	}
	return b.String(), true
}

func (t Token) is(kind Kind, text string) bool { return t.Kind == kind && t.Text == text }

var keywords = map[string]bool{
	"alias": true, "and": true, "begin": true, "break": true, "case": true, "class": true, "def": true,
	"defined?": true, "do": true, "else": true, "elsif": true, "end": true, "ensure": true, "false": true,
	"for": true, "if": true, "in": true, "module": true, "next": true, "nil": true, "not": true, "or": true,
	"redo": true, "rescue": true, "retry": true, "return": true, "self": true, "super": true, "then": true,
	"true": true, "undef": true, "unless": true, "until": true, "when": true, "while": true, "yield": true,
}

// valueKeywords end an operand, like an identifier does.
var valueKeywords = map[string]bool{"end": true, "self": true, "nil": true, "true": true, "false": true}

// threeOps, twoOps: operators longest first.
var threeOps = []string{"**=", "<=>", "===", "...", "<<=", ">>=", "&&=", "||="}
var twoOps = []string{"==", "!=", ">=", "<=", "&&", "||", "<<", ">>", "**", "=~", "!~", "+=", "-=", "*=", "/=",
	"%=", "|=", "&=", "^=", "=>", "->", "::", "..", "&."}

type heredoc struct {
	term   string
	indent bool // <<- or <<~: the terminator may be indented
	interp bool
	tok    int // index of the token to fill
}

type lexer struct {
	src     string
	i       int
	line    int
	toks    []Token
	pending []heredoc
}

// Tokenize splits Ruby source into tokens. A malformed literal (an
// unterminated string, heredoc or interpolation) is an error.
func Tokenize(src string) ([]Token, error) {
	lx := &lexer{src: src, line: 1}
	if err := lx.run(); err != nil {
		return nil, err
	}
	lx.toks = append(lx.toks, Token{Kind: EOF, Line: lx.line})
	return lx.toks, nil
}

func (lx *lexer) errorf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", lx.line, fmt.Sprintf(format, args...))
}

func (lx *lexer) peek(off int) byte {
	if lx.i+off < len(lx.src) && lx.i+off >= 0 {
		return lx.src[lx.i+off]
	}
	return 0
}

func (lx *lexer) emit(t Token) {
	lx.toks = append(lx.toks, t)
}

// prevValue reports whether the previous token ends an operand, which
// decides how '/', '%', '<<', '?', ':' and '[' are read.
func (lx *lexer) prevValue() bool {
	if len(lx.toks) == 0 {
		return false
	}
	t := lx.toks[len(lx.toks)-1]
	switch t.Kind {
	case Ident:
		return !keywords[t.Text] || valueKeywords[t.Text]
	case Const, IVar, GVar, Symbol, String, XString, Regex, Words, Number:
		return true
	case Op:
		return t.Text == ")" || t.Text == "]" || t.Text == "}"
	}
	return false
}

// prevCommand reports whether the previous token is an identifier that may
// be a method called without parentheses (`content <<-EOH`, `foo /re/`).
func (lx *lexer) prevCommand() bool {
	if len(lx.toks) == 0 {
		return false
	}
	t := lx.toks[len(lx.toks)-1]
	return t.Kind == Ident && !keywords[t.Text]
}

func (lx *lexer) atLineStart() bool {
	return lx.i == 0 || lx.src[lx.i-1] == '\n'
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
func isDigit(c byte) bool     { return c >= '0' && c <= '9' }
func isSpace(c byte) bool     { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' }

func (lx *lexer) run() error {
	space := false
	for lx.i < len(lx.src) {
		c := lx.src[lx.i]
		switch {
		case c == '\n':
			lx.emit(Token{Kind: Newline, Line: lx.line})
			lx.i++
			lx.line++
			if len(lx.pending) > 0 {
				if err := lx.readHeredocs(); err != nil {
					return err
				}
			}
			space = true
			continue
		case isSpace(c):
			lx.i++
			space = true
			continue
		case c == '\\' && lx.peek(1) == '\n':
			lx.i += 2
			lx.line++
			space = true
			continue
		case c == '\\' && lx.peek(1) == '\r' && lx.peek(2) == '\n':
			lx.i += 3
			lx.line++
			space = true
			continue
		case c == '#':
			for lx.i < len(lx.src) && lx.src[lx.i] != '\n' {
				lx.i++
			}
			continue
		case c == '=' && lx.atLineStart() && strings.HasPrefix(lx.src[lx.i:], "=begin"):
			if err := lx.skipEmbeddedDoc(); err != nil {
				return err
			}
			continue
		case c == '_' && lx.atLineStart() && strings.HasPrefix(lx.src[lx.i:], "__END__") &&
			(lx.i+7 == len(lx.src) || lx.src[lx.i+7] == '\n' || lx.src[lx.i+7] == '\r'):
			lx.i = len(lx.src)
			continue
		}
		n := len(lx.toks)
		if err := lx.token(space); err != nil {
			return err
		}
		if len(lx.toks) > n {
			lx.toks[n].Space = space
		}
		space = false
	}
	if len(lx.pending) > 0 {
		return lx.errorf("heredoc %q not terminated", lx.pending[0].term)
	}
	return nil
}

func (lx *lexer) skipEmbeddedDoc() error {
	start := lx.line
	for lx.i < len(lx.src) {
		end := strings.IndexByte(lx.src[lx.i:], '\n')
		line := lx.src[lx.i:]
		if end >= 0 {
			line = lx.src[lx.i : lx.i+end]
		}
		if strings.HasPrefix(line, "=end") {
			lx.i += len(line)
			return nil
		}
		if end < 0 {
			break
		}
		lx.i += end + 1
		lx.line++
	}
	return fmt.Errorf("line %d: =begin without =end", start)
}

func (lx *lexer) token(space bool) error {
	c := lx.src[lx.i]
	line := lx.line
	switch {
	case isDigit(c):
		lx.number()
		return nil
	case isIdentStart(c):
		lx.ident()
		return nil
	case c == '@':
		j := lx.i + 1
		if lx.peek(1) == '@' {
			j++
		}
		k := j
		for k < len(lx.src) && isIdentChar(lx.src[k]) {
			k++
		}
		if k == j {
			return lx.errorf("bare @")
		}
		lx.emit(Token{Kind: IVar, Text: lx.src[lx.i:k], Line: line})
		lx.i = k
		return nil
	case c == '$':
		k := lx.i + 1
		if k < len(lx.src) && isIdentStart(lx.src[k]) {
			for k < len(lx.src) && isIdentChar(lx.src[k]) {
				k++
			}
		} else if k < len(lx.src) {
			k++ // $?, $0, $!, ...
		}
		lx.emit(Token{Kind: GVar, Text: lx.src[lx.i:k], Line: line})
		lx.i = k
		return nil
	case c == '"':
		lx.i++
		parts, err := lx.quoted('"', 0, true)
		if err != nil {
			return err
		}
		lx.emit(Token{Kind: String, Parts: parts, Line: line})
		return nil
	case c == '\'':
		lx.i++
		parts, err := lx.quoted('\'', 0, false)
		if err != nil {
			return err
		}
		lx.emit(Token{Kind: String, Parts: parts, Line: line})
		return nil
	case c == '`':
		lx.i++
		parts, err := lx.quoted('`', 0, true)
		if err != nil {
			return err
		}
		lx.emit(Token{Kind: XString, Parts: parts, Line: line})
		return nil
	case c == ':':
		if lx.peek(1) == ':' {
			break
		}
		if lx.peek(1) == '"' || lx.peek(1) == '\'' {
			q := lx.peek(1)
			lx.i += 2
			parts, err := lx.quoted(q, 0, q == '"')
			if err != nil {
				return err
			}
			t := Token{Kind: Symbol, Line: line}
			if s, ok := (Token{Parts: parts}).Str(); ok {
				t.Text = s
			}
			lx.emit(t)
			return nil
		}
		if isIdentStart(lx.peek(1)) && (!lx.prevValue() || space) {
			k := lx.i + 1
			for k < len(lx.src) && isIdentChar(lx.src[k]) {
				k++
			}
			if k < len(lx.src) && (lx.src[k] == '?' || lx.src[k] == '!' || lx.src[k] == '=') &&
				(k+1 >= len(lx.src) || lx.src[k+1] != '=' && lx.src[k+1] != '>') {
				k++
			}
			lx.emit(Token{Kind: Symbol, Text: lx.src[lx.i+1 : k], Line: line})
			lx.i = k
			return nil
		}
	case c == '/':
		if !lx.prevValue() || lx.prevCommand() && space && lx.peek(1) != ' ' && lx.peek(1) != '=' {
			lx.i++
			if _, err := lx.quoted('/', 0, true); err != nil {
				return err
			}
			for lx.i < len(lx.src) && isIdentChar(lx.src[lx.i]) { // flags
				lx.i++
			}
			lx.emit(Token{Kind: Regex, Line: line})
			return nil
		}
	case c == '%':
		if !lx.prevValue() || lx.prevCommand() && space && lx.peek(1) != ' ' && lx.peek(1) != '=' {
			ok, err := lx.percent()
			if err != nil || ok {
				return err
			}
		}
	case c == '?':
		// ?a is a character literal where an operand is expected.
		n := lx.peek(1)
		if !lx.prevValue() && n != 0 && !isSpace(n) && n != '\n' && !isIdentChar(lx.peek(2)) {
			lx.emit(Token{Kind: String, Parts: []Part{{Lit: string(n)}}, Line: line})
			lx.i += 2
			return nil
		}
	case c == '<':
		if lx.peek(1) == '<' && (!lx.prevValue() || lx.prevCommand() && space) {
			ok, err := lx.heredocStart()
			if err != nil || ok {
				return err
			}
		}
	}
	return lx.operator()
}

func (lx *lexer) number() {
	j := lx.i
	if lx.src[j] == '0' && j+1 < len(lx.src) && strings.IndexByte("xXbBoO", lx.src[j+1]) >= 0 {
		j += 2
		for j < len(lx.src) && (isIdentChar(lx.src[j])) {
			j++
		}
	} else {
		for j < len(lx.src) && (isDigit(lx.src[j]) || lx.src[j] == '_') {
			j++
		}
		if j+1 < len(lx.src) && lx.src[j] == '.' && isDigit(lx.src[j+1]) {
			j++
			for j < len(lx.src) && (isDigit(lx.src[j]) || lx.src[j] == '_') {
				j++
			}
		}
		if j+1 < len(lx.src) && (lx.src[j] == 'e' || lx.src[j] == 'E') &&
			(isDigit(lx.src[j+1]) || (lx.src[j+1] == '-' || lx.src[j+1] == '+') && j+2 < len(lx.src) && isDigit(lx.src[j+2])) {
			j += 2
			for j < len(lx.src) && isDigit(lx.src[j]) {
				j++
			}
		}
	}
	lx.emit(Token{Kind: Number, Text: lx.src[lx.i:j], Line: lx.line})
	lx.i = j
}

func (lx *lexer) ident() {
	j := lx.i
	for j < len(lx.src) && isIdentChar(lx.src[j]) {
		j++
	}
	// foo? and foo! are method names; foo?= is not.
	if j < len(lx.src) && (lx.src[j] == '?' || lx.src[j] == '!') && (j+1 >= len(lx.src) || lx.src[j+1] != '=') {
		j++
	}
	text := lx.src[lx.i:j]
	line := lx.line
	// A label: `key: value`, not `a ? b :c` nor `Foo::Bar`.
	if j < len(lx.src) && lx.src[j] == ':' && (j+1 >= len(lx.src) || lx.src[j+1] != ':') && !keywords[text] {
		lx.emit(Token{Kind: Label, Text: text, Line: line})
		lx.i = j + 1
		return
	}
	kind := Ident
	if text[0] >= 'A' && text[0] <= 'Z' {
		kind = Const
	}
	lx.emit(Token{Kind: kind, Text: text, Line: line})
	lx.i = j
}

func (lx *lexer) operator() error {
	for _, op := range threeOps {
		if strings.HasPrefix(lx.src[lx.i:], op) {
			lx.emit(Token{Kind: Op, Text: op, Line: lx.line})
			lx.i += 3
			return nil
		}
	}
	for _, op := range twoOps {
		if strings.HasPrefix(lx.src[lx.i:], op) {
			lx.emit(Token{Kind: Op, Text: op, Line: lx.line})
			lx.i += 2
			return nil
		}
	}
	c := lx.src[lx.i]
	if strings.IndexByte("+-*/%=<>!&|^~?:.,;()[]{}", c) < 0 {
		return lx.errorf("unexpected character %q", c)
	}
	lx.emit(Token{Kind: Op, Text: string(c), Line: lx.line})
	lx.i++
	return nil
}

func closer(open byte) byte {
	switch open {
	case '(':
		return ')'
	case '[':
		return ']'
	case '{':
		return '}'
	case '<':
		return '>'
	}
	return open
}

// quoted reads a literal up to the closing delimiter (the opening one has
// been consumed). open is the opening bracket for nesting delimiters, 0
// otherwise. With interp, #{...} becomes a code part.
func (lx *lexer) quoted(end, open byte, interp bool) ([]Part, error) {
	start := lx.line
	var parts []Part
	var lit strings.Builder
	depth := 0
	for lx.i < len(lx.src) {
		c := lx.src[lx.i]
		switch {
		case c == '\\':
			if lx.i+1 >= len(lx.src) {
				return nil, fmt.Errorf("line %d: unterminated literal", start)
			}
			n := lx.src[lx.i+1]
			if n == '\n' {
				lx.line++
			}
			if interp {
				lit.WriteString(unescape(n))
			} else if n == end || n == '\\' || open != 0 && n == open {
				lit.WriteByte(n)
			} else {
				lit.WriteByte('\\')
				lit.WriteByte(n)
			}
			lx.i += 2
			continue
		case open != 0 && c == open:
			depth++
		case c == end:
			if depth == 0 {
				lx.i++
				if lit.Len() > 0 || len(parts) == 0 {
					parts = append(parts, Part{Lit: lit.String()})
				}
				return parts, nil
			}
			depth--
		case c == '\n':
			lx.line++
		case interp && c == '#' && lx.peek(1) == '{':
			if lit.Len() > 0 {
				parts = append(parts, Part{Lit: lit.String()})
				lit.Reset()
			}
			lx.i += 2
			code, err := lx.interpolation()
			if err != nil {
				return nil, err
			}
			parts = append(parts, Part{Code: code, IsCode: true})
			continue
		}
		lit.WriteByte(c)
		lx.i++
	}
	return nil, fmt.Errorf("line %d: unterminated literal", start)
}

func unescape(n byte) string {
	switch n {
	case 'n':
		return "\n"
	case 't':
		return "\t"
	case 's':
		return " "
	case '0':
		return "\x00"
	case 'e':
		return "\x1b"
	case '\n':
		return ""
	}
	return string(n)
}

// interpolation reads the code of #{...} up to its closing brace, stepping
// over nested braces and string literals.
func (lx *lexer) interpolation() (string, error) {
	start, line := lx.i, lx.line
	depth := 0
	for lx.i < len(lx.src) {
		c := lx.src[lx.i]
		switch c {
		case '{':
			depth++
		case '}':
			if depth == 0 {
				code := lx.src[start:lx.i]
				lx.i++
				return code, nil
			}
			depth--
		case '\n':
			lx.line++
		case '"', '\'', '`':
			lx.i++
			if _, err := lx.quoted(c, 0, c != '\''); err != nil {
				return "", err
			}
			continue
		}
		lx.i++
	}
	return "", fmt.Errorf("line %d: unterminated interpolation", line)
}

// percent reads %w[..], %q(..), %(..) and the like; it reports false when
// the '%' is an operator after all.
func (lx *lexer) percent() (bool, error) {
	line := lx.line
	kind := byte('Q')
	j := lx.i + 1
	if j < len(lx.src) && strings.IndexByte("wWiIqQrsx", lx.src[j]) >= 0 {
		kind = lx.src[j]
		j++
	}
	if j >= len(lx.src) {
		return false, nil
	}
	open := lx.src[j]
	if isIdentChar(open) || isSpace(open) || open == '\n' || open == '=' {
		return false, nil
	}
	lx.i = j + 1
	nest := byte(0)
	if closer(open) != open {
		nest = open
	}
	interp := kind == 'W' || kind == 'I' || kind == 'Q' || kind == 'r' || kind == 'x'
	parts, err := lx.quoted(closer(open), nest, interp)
	if err != nil {
		return false, err
	}
	switch kind {
	case 'w', 'W', 'i', 'I':
		s, _ := (Token{Parts: parts}).Str()
		lx.emit(Token{Kind: Words, Words: strings.Fields(s), Line: line})
	case 'r':
		for lx.i < len(lx.src) && isIdentChar(lx.src[lx.i]) {
			lx.i++
		}
		lx.emit(Token{Kind: Regex, Line: line})
	case 'x':
		lx.emit(Token{Kind: XString, Parts: parts, Line: line})
	case 's':
		s, _ := (Token{Parts: parts}).Str()
		lx.emit(Token{Kind: Symbol, Text: s, Line: line})
	default:
		lx.emit(Token{Kind: String, Parts: parts, Line: line})
	}
	return true, nil
}

// heredocStart reads <<-EOH, <<~EOH, <<EOH or a quoted terminator; the
// body is read after the end of the current line. It reports false when
// '<<' is the shift operator.
func (lx *lexer) heredocStart() (bool, error) {
	j := lx.i + 2
	indent := false
	if j < len(lx.src) && (lx.src[j] == '-' || lx.src[j] == '~') {
		indent = true
		j++
	}
	if j >= len(lx.src) {
		return false, nil
	}
	interp := true
	var term string
	switch q := lx.src[j]; {
	case q == '"' || q == '\'' || q == '`':
		k := strings.IndexByte(lx.src[j+1:], q)
		if k < 0 || strings.ContainsRune(lx.src[j+1:j+1+k], '\n') {
			return false, nil
		}
		term = lx.src[j+1 : j+1+k]
		interp = q != '\''
		j += k + 2
	case isIdentStart(q) && (indent || q >= 'A' && q <= 'Z' || q == '_'):
		k := j
		for k < len(lx.src) && isIdentChar(lx.src[k]) {
			k++
		}
		term = lx.src[j:k]
		j = k
	default:
		return false, nil
	}
	if term == "" {
		return false, nil
	}
	lx.pending = append(lx.pending, heredoc{term: term, indent: indent, interp: interp, tok: len(lx.toks)})
	lx.emit(Token{Kind: String, Line: lx.line})
	lx.i = j
	return true, nil
}

// readHeredocs reads the bodies of the heredocs started on the line just
// ended, in order.
func (lx *lexer) readHeredocs() error {
	for _, h := range lx.pending {
		var body strings.Builder
		found := false
		for lx.i < len(lx.src) {
			end := strings.IndexByte(lx.src[lx.i:], '\n')
			line := lx.src[lx.i:]
			if end >= 0 {
				line = lx.src[lx.i : lx.i+end]
			}
			next := len(lx.src)
			if end >= 0 {
				next = lx.i + end + 1
			}
			check := strings.TrimRight(line, "\r")
			if h.indent {
				check = strings.TrimLeft(check, " \t")
			}
			lx.i = next
			lx.line++
			if check == h.term {
				found = true
				break
			}
			body.WriteString(line)
			body.WriteByte('\n')
		}
		if !found {
			return fmt.Errorf("line %d: heredoc %q not terminated", lx.toks[h.tok].Line, h.term)
		}
		parts := []Part{{Lit: body.String()}}
		if h.interp {
			var err error
			parts, err = splitInterpolation(body.String())
			if err != nil {
				return fmt.Errorf("line %d: heredoc %q: %w", lx.toks[h.tok].Line, h.term, err)
			}
		}
		lx.toks[h.tok].Parts = parts
	}
	lx.pending = nil
	return nil
}

// splitInterpolation splits text into literal and #{...} parts.
func splitInterpolation(text string) ([]Part, error) {
	sub := &lexer{src: text, line: 1}
	var parts []Part
	var lit strings.Builder
	for sub.i < len(sub.src) {
		if sub.src[sub.i] == '#' && sub.peek(1) == '{' {
			if lit.Len() > 0 {
				parts = append(parts, Part{Lit: lit.String()})
				lit.Reset()
			}
			sub.i += 2
			code, err := sub.interpolation()
			if err != nil {
				return nil, err
			}
			parts = append(parts, Part{Code: code, IsCode: true})
			continue
		}
		lit.WriteByte(sub.src[sub.i])
		sub.i++
	}
	if lit.Len() > 0 || len(parts) == 0 {
		parts = append(parts, Part{Lit: lit.String()})
	}
	return parts, nil
}
