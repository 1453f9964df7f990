package main

import (
	"fmt"
	"strings"
)

// ERB templates are read line by line: output lines with <%= expr %> tags,
// and control lines made of one <% if|unless|elsif|else|end %> tag. That is
// all keepalived.conf.erb, sv-keepalived-run.erb and init-runsvdir.erb use;
// a loop or any other code tag is an error, not a guess.

// ERBLine is an output line of a template.
type ERBLine struct {
	Line  int
	Text  string   // the line with its <%= %> tags in place
	Exprs []string // the code of each <%= %> tag, in order
	Conds []string // the conditions it sits under, outermost first ("!" + cond for else)
}

// ReadERB splits a template into output lines with their conditions.
func ReadERB(src string) ([]ERBLine, error) {
	var out []ERBLine
	var stack [][]string // per open if: its conditions so far (elsif adds)
	for i, raw := range strings.Split(src, "\n") {
		line := i + 1
		trimmed := strings.TrimSpace(raw)
		if code, ok := controlTag(trimmed); ok {
			word, rest, _ := strings.Cut(strings.TrimSpace(code), " ")
			rest = strings.TrimSpace(rest)
			switch word {
			case "if":
				stack = append(stack, []string{rest})
			case "unless":
				stack = append(stack, []string{"!" + rest})
			case "elsif":
				if len(stack) == 0 {
					return nil, fmt.Errorf("line %d: elsif without if", line)
				}
				top := stack[len(stack)-1]
				stack[len(stack)-1] = append(top, rest)
			case "else":
				if len(stack) == 0 {
					return nil, fmt.Errorf("line %d: else without if", line)
				}
				top := stack[len(stack)-1]
				stack[len(stack)-1] = append(top, "")
			case "end":
				if len(stack) == 0 {
					return nil, fmt.Errorf("line %d: end without if", line)
				}
				stack = stack[:len(stack)-1]
			default:
				return nil, fmt.Errorf("line %d: template code %q is not read", line, strings.TrimSpace(code))
			}
			continue
		}
		exprs, err := outputTags(raw)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, ERBLine{Line: line, Text: raw, Exprs: exprs, Conds: conditions(stack)})
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("template ends inside an if")
	}
	return out, nil
}

// conditions flattens the if-stack into the conditions that must hold: for
// each open if, its current branch's condition, and the negation of the
// branches before it.
func conditions(stack [][]string) []string {
	var out []string
	for _, branches := range stack {
		for j, c := range branches {
			last := j == len(branches)-1
			switch {
			case last && c != "":
				out = append(out, c)
			case !last:
				out = append(out, negate(c))
			}
		}
	}
	return out
}

func negate(c string) string {
	if s, ok := strings.CutPrefix(c, "!"); ok {
		return s
	}
	return "!" + c
}

// controlTag reports whether a trimmed line is exactly one <% ... %> code
// tag (not <%=), returning its code.
func controlTag(s string) (string, bool) {
	if !strings.HasPrefix(s, "<%") || strings.HasPrefix(s, "<%=") || !strings.HasSuffix(s, "%>") {
		return "", false
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(s, "<%"), "%>")
	inner = strings.TrimPrefix(inner, "-")
	inner = strings.TrimSuffix(inner, "-")
	if strings.Contains(inner, "%>") || strings.Contains(inner, "<%") {
		return "", false
	}
	return inner, true
}

// outputTags returns the code of each <%= %> tag on a line; a code tag
// mid-line is an error.
func outputTags(line string) ([]string, error) {
	var out []string
	for {
		i := strings.Index(line, "<%")
		if i < 0 {
			return out, nil
		}
		rest := line[i+2:]
		j := strings.Index(rest, "%>")
		if j < 0 {
			return nil, fmt.Errorf("unterminated tag")
		}
		code := rest[:j]
		if !strings.HasPrefix(code, "=") {
			return nil, fmt.Errorf("code tag <%%%s%%> mid-line is not read", code)
		}
		code = strings.TrimSuffix(strings.TrimPrefix(code, "="), "-")
		out = append(out, strings.TrimSpace(code))
		line = rest[j+2:]
	}
}

// Holds evaluates a line's conditions; ok is false when one is unknown.
func (l ERBLine) Holds(env *Env) (holds, ok bool) {
	for _, c := range l.Conds {
		neg := strings.HasPrefix(c, "!")
		v := env.EvalCode(strings.TrimPrefix(c, "!"), l.Line)
		t, known := v.Truthy()
		if !known {
			return false, false
		}
		if t == neg {
			return false, true
		}
	}
	return true, true
}

// Render replaces the line's tags with their values; ok is false when one
// is unknown.
func (l ERBLine) Render(env *Env) (string, bool) {
	text := l.Text
	for _, code := range l.Exprs {
		v := env.EvalCode(code, l.Line)
		if !scalar(v) {
			return "", false
		}
		i := strings.Index(text, "<%")
		j := strings.Index(text[i:], "%>")
		text = text[:i] + v.String() + text[i+j+2:]
	}
	return text, true
}

// RenderERB renders a whole template; every condition and tag must be
// known.
func RenderERB(src string, env *Env) (string, error) {
	lines, err := ReadERB(src)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, l := range lines {
		holds, ok := l.Holds(env)
		if !ok {
			return "", fmt.Errorf("line %d: condition %v not known", l.Line, l.Conds)
		}
		if !holds {
			continue
		}
		text, ok := l.Render(env)
		if !ok {
			return "", fmt.Errorf("line %d: %v not known", l.Line, l.Exprs)
		}
		b.WriteString(text)
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
