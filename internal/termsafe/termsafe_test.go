package termsafe

import (
	"testing"
)

func TestString(t *testing.T) {
	tests := []struct{ in, str, line string }{
		{"be1.example.com", "be1.example.com", "be1.example.com"},
		{"a\nb\tc", "a\nb\tc", `a\nb\tc`},
		{"\x1b[2J\x1b]0;owned\x07", `\x1b[2J\x1b]0;owned\a`, `\x1b[2J\x1b]0;owned\a`},
		{"fine\rEVIL", `fine\rEVIL`, `fine\rEVIL`},
		{"\xff\xfe", `\xff\xfe`, `\xff\xfe`},
		{"über ✓", "über ✓", "über ✓"},
		{"a\u202eb", `a\u202eb`, `a\u202eb`},
		{"\u009b31m", `\u009b31m`, `\u009b31m`},
	}
	for _, tt := range tests {
		if got := String(tt.in); got != tt.str {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.str)
		}
		if got := Line(tt.in); got != tt.line {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.line)
		}
	}
}

func FuzzString(f *testing.F) {
	f.Add("\x1b[31mred\x1b[0m\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{String(s), Line(s)} {
			for _, r := range out {
				if r == 0x1b || r == '\r' || r == 0x9b || isBidi(r) {
					t.Fatalf("%q left %U in %q", s, r, out)
				}
			}
		}
		for _, r := range Line(s) {
			if r == '\n' {
				t.Fatalf("Line(%q) kept a newline", s)
			}
		}
	})
}

func TestMarkdownCell(t *testing.T) {
	for in, want := range map[string]string{
		"redis_lb | *down*":   `redis\_lb \| \*down\*`,
		"a\nb <x> & [y](z) #": `a\\nb &lt;x&gt; &amp; \[y\](z) \#`,
		"\x1b[2J":             `\\x1b\[2J`,
	} {
		if got := MarkdownCell(in); got != want {
			t.Errorf("MarkdownCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMarkdownCode(t *testing.T) {
	for in, want := range map[string]string{
		"private-chef_11.1.8-1_amd64.deb": "`private-chef_11.1.8-1_amd64.deb`",
		"a`b":                             "``a`b``",
		"`x`":                             "`` `x` ``",
		"a|b\n":                           "`a\\|b\\n`",
	} {
		if got := MarkdownCode(in); got != want {
			t.Errorf("MarkdownCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMarkdownBlock(t *testing.T) {
	for in, want := range map[string]string{
		"ls\n":             "```text\nls\n```",
		"a ```` b":         "`````text\na ```` b\n`````",
		"esc \x1b[2J done": "```text\nesc \\x1b[2J done\n```",
	} {
		if got := MarkdownBlock(in, "text"); got != want {
			t.Errorf("MarkdownBlock(%q) = %q, want %q", in, got, want)
		}
	}
}
