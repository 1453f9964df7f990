package cluster

// The subset of Ruby that private-chef.rb is written in, read without Ruby.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

type statement struct {
	text string
	line int // where it starts
}

// statements joins continued lines and strips comments.
func statements(r io.Reader) ([]statement, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20) // grows from 4 KiB as lines need
	var out []statement
	var cur strings.Builder
	start, n := 0, 0
	depth := 0
	for sc.Scan() {
		n++
		line, d, err := stripComment(sc.Text())
		if err != nil {
			return nil, &SyntaxError{Line: n, Msg: err.Error()}
		}
		line = strings.TrimSpace(line)
		if cur.Len() == 0 {
			if line == "" {
				continue
			}
			start = n
		}
		depth += d
		cont := strings.HasSuffix(line, "\\")
		line = strings.TrimSuffix(line, "\\")
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(line)
		if depth < 0 {
			return nil, &SyntaxError{Line: n, Msg: "unbalanced closing bracket"}
		}
		if cont || depth > 0 || strings.HasSuffix(line, ",") || strings.HasSuffix(line, "=>") {
			continue
		}
		out = append(out, statement{text: cur.String(), line: start})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("private-chef.rb: %w", err)
	}
	if cur.Len() > 0 {
		return nil, &SyntaxError{Line: start, Msg: "statement not finished at end of file: " + abbrev(cur.String())}
	}
	return out, nil
}

// stripComment cuts a # comment outside quotes and returns the change in
// bracket depth. An unterminated string is an error (Ruby strings may span
// lines, but private-chef.rb's never do, and a stray quote is far likelier).
func stripComment(s string) (string, int, error) {
	depth, cut := 0, -1
	quote := unquoted(s, func(i int) bool {
		switch s[i] {
		case '#':
			cut = i
			return false
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		}
		return true
	})
	if cut >= 0 {
		return s[:cut], depth, nil
	}
	if quote != 0 {
		return "", 0, fmt.Errorf("unterminated %c string", quote)
	}
	return s, depth, nil
}

// unquoted calls fn with the index of every byte of s outside '…' and
// "…" strings (backslash escapes honoured), until fn returns false. It
// returns the quote still open at the end, or 0.
func unquoted(s string, fn func(i int) bool) byte {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		default:
			if !fn(i) {
				return 0
			}
		}
	}
	return quote
}

// assignment recognises `key = value` at the top level (not `==` or `=>`).
func assignment(s string) (key, val string, ok bool) {
	unquoted(s, func(i int) bool {
		if s[i] != '=' {
			return true
		}
		if i+1 < len(s) && (s[i+1] == '=' || s[i+1] == '>' || s[i+1] == '~') || i > 0 && strings.ContainsRune("!<>=", rune(s[i-1])) {
			return false
		}
		k := strings.TrimSpace(s[:i])
		if k != "" && !strings.ContainsAny(k, " \t") {
			key, val, ok = k, strings.TrimSpace(s[i+1:]), true
		}
		return false
	})
	return key, val, ok
}

func splitIdent(s string) (name, rest string) {
	i := 0
	for i < len(s) && (isIdent(s[i]) || (i > 0 && s[i] >= '0' && s[i] <= '9')) {
		i++
	}
	if i == 0 || (i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '(') {
		return "", s
	}
	return s[:i], s[i:]
}

func isIdent(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }

// parseArgs reads `"a", :k => v, k2: v2` (optionally in parentheses, the
// options optionally in braces) into positional values and options.
func parseArgs(s string) ([]string, map[string]string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "(") {
		if !strings.HasSuffix(s, ")") {
			return nil, nil, errors.New("unbalanced parentheses")
		}
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	parts, err := splitTop(s)
	if err != nil {
		return nil, nil, err
	}
	var args []string
	opts := map[string]string{}
	for _, p := range parts {
		p = strings.TrimSpace(strings.Trim(strings.TrimSpace(p), "{}"))
		if p == "" {
			return nil, nil, errors.New("empty argument")
		}
		k, v, isOpt := optionPair(p)
		if !isOpt {
			if len(opts) > 0 {
				return nil, nil, fmt.Errorf("positional argument %s after options", abbrev(p))
			}
			val, err := scalar(p)
			if err != nil {
				return nil, nil, err
			}
			args = append(args, val)
			continue
		}
		val, err := scalar(v)
		if err != nil {
			return nil, nil, fmt.Errorf("option %s: %w", k, err)
		}
		if _, dup := opts[k]; dup {
			return nil, nil, fmt.Errorf("option %s given twice", k)
		}
		opts[k] = val
	}
	return args, opts, nil
}

// optionPair splits `:key => value`, `"key" => value` or `key: value`.
func optionPair(p string) (key, val string, ok bool) {
	if k, v, found := cutTop(p, "=>"); found {
		k = strings.TrimSpace(k)
		if s, err := scalar(k); err == nil && k != "" {
			return s, strings.TrimSpace(v), true
		}
		return "", "", false
	}
	name, rest := splitIdent(p)
	if name == "" && len(p) > 0 && isIdent(p[0]) {
		i := 0
		for i < len(p) && (isIdent(p[i]) || p[i] >= '0' && p[i] <= '9') {
			i++
		}
		name, rest = p[:i], p[i:]
	}
	if name != "" && strings.HasPrefix(rest, ":") && !strings.HasPrefix(rest, "::") {
		return name, strings.TrimSpace(rest[1:]), true
	}
	return "", "", false
}

// scalar unquotes a string, drops a symbol's colon, and passes booleans,
// nil and numbers through. Anything else is an error: chefha must not guess
// at Ruby it does not understand in the one file that names the cluster.
func scalar(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", errors.New("missing value")
	case len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0]:
		return unquote(s)
	case s[0] == ':' && len(s) > 1 && isIdent(s[1]):
		return s[1:], nil
	case s == "true" || s == "false" || s == "nil":
		return s, nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '_' || (i == 0 && c == '-')) {
			return "", fmt.Errorf("cannot read value %s", abbrev(s))
		}
	}
	return s, nil
}

// unquote reads a Ruby string literal as Ruby does. In '…' only \\ and \'
// are escapes (any other backslash stays); in "…" the usual escapes (\n,
// \t, …) become their characters, so "be1\nbe2" is a name holding a
// newline — which the name check then refuses — not "be1nbe2".
func unquote(s string) (string, error) {
	q, body := s[0], s[1:len(s)-1]
	if q == '"' && strings.Contains(body, `#{`) {
		return "", fmt.Errorf("string interpolation in %s is not supported", s)
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == q {
			return "", fmt.Errorf("malformed string %s", s)
		}
		if c != '\\' || i+1 == len(body) {
			b.WriteByte(c)
			continue
		}
		i++
		e := body[i]
		if q == '\'' {
			if e != '\\' && e != '\'' {
				b.WriteByte('\\')
			}
			b.WriteByte(e)
			continue
		}
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 's':
			b.WriteByte(' ')
		case '0':
			b.WriteByte(0)
		case 'e':
			b.WriteByte(0x1b)
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case 'u', 'x', 'c', 'C', 'M', '1', '2', '3', '4', '5', '6', '7':
			return "", fmt.Errorf("escape \\%c in %s is not supported", e, abbrev(s))
		default:
			b.WriteByte(e) // Ruby: "\q" is "q", "\"" is a quote
		}
	}
	return b.String(), nil
}

// splitTop splits on commas outside quotes and brackets.
func splitTop(s string) ([]string, error) {
	var parts []string
	depth, start := 0, 0
	quote := unquoted(s, func(i int) bool {
		switch s[i] {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
		return true
	})
	if quote != 0 || depth != 0 {
		return nil, errors.New("unbalanced quotes or brackets")
	}
	if rest := s[start:]; strings.TrimSpace(rest) != "" || len(parts) > 0 {
		parts = append(parts, rest)
	}
	return parts, nil
}

func cutTop(s, sep string) (before, after string, found bool) {
	unquoted(s, func(i int) bool {
		if strings.HasPrefix(s[i:], sep) {
			before, after, found = s[:i], s[i+len(sep):], true
			return false
		}
		return true
	})
	if !found {
		return s, "", false
	}
	return before, after, true
}

func abbrev(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
