// Package termsafe makes text that came from a node, a file or a flag safe
// to print on an operator's terminal: control characters (ESC sequences
// that would move the cursor, rewrite the screen or the window title,
// carriage returns that hide what came before) are shown escaped, the
// way Go quotes them, so the operator sees what was there instead of
// what it would do. JSON output keeps the exact bytes; only text meant
// for a terminal goes through here.
package termsafe

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String returns s with every control character but newline and tab
// escaped (\x1b, \r, \u009b, …), and invalid UTF-8 shown as \xNN.
func String(s string) string {
	if clean(s, true) {
		return s
	}
	return escape(s, true)
}

// Line is String for text that must stay on one line: newlines and tabs
// are escaped too.
func Line(s string) string {
	if clean(s, false) {
		return s
	}
	return escape(s, false)
}

func allowed(r rune, multiline bool) bool {
	if r == '\n' || r == '\t' {
		return multiline
	}
	return !unicode.IsControl(r) && r != utf8.RuneError && !isBidi(r)
}

// isBidi reports the bidirectional overrides that can make a terminal
// show text in another order than it is (CVE-2021-42574's trick).
func isBidi(r rune) bool {
	return r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069'
}

func clean(s string, multiline bool) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return false
			}
		}
		if !allowed(r, multiline) && r != utf8.RuneError {
			return false
		}
	}
	return true
}

func escape(s string, multiline bool) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case allowed(r, multiline) || r == utf8.RuneError:
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r) // '\x1b', '\r', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}
