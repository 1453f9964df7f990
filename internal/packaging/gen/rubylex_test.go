package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kinds renders tokens as "kind:text" for compact comparisons.
func kinds(toks []Token) string {
	var out []string
	for _, t := range toks {
		switch t.Kind {
		case Newline, EOF:
			continue
		case String, XString:
			var b strings.Builder
			for _, p := range t.Parts {
				if p.IsCode {
					b.WriteString("#{" + p.Code + "}")
				} else {
					b.WriteString(p.Lit)
				}
			}
			out = append(out, t.Kind.String()+":"+b.String())
		case Words:
			out = append(out, "words:"+strings.Join(t.Words, ","))
		default:
			out = append(out, t.Kind.String()+":"+t.Text)
		}
	}
	return strings.Join(out, " ")
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"assignment", `default['a']["b"] = "x#{node['v']}y"`,
			`identifier:default operator:[ string:a operator:] operator:[ string:b operator:] operator:= string:x#{node['v']}y`},
		{"symbols and labels", `override :rebar, version: "2.0"`,
			`identifier:override symbol:rebar operator:, label:version string:2.0`},
		{"scope is not a symbol", `Foo::Bar.baz`, `constant:Foo operator::: constant:Bar operator:. identifier:baz`},
		{"ternary colon", `a ? b : c`, `identifier:a operator:? identifier:b operator:: identifier:c`},
		{"regex after operator", `x =~ /a\/b/`, `identifier:x operator:=~ regex:`},
		{"division", `a / b`, `identifier:a operator:/ identifier:b`},
		{"words", `%w{a b c}`, `words:a,b,c`},
		{"percent string", `%(x (y) z)`, `string:x (y) z`},
		{"modulo", `a % b`, `identifier:a operator:% identifier:b`},
		{"shift is not a heredoc", `list << "x"`, `identifier:list operator:<< string:x`},
		{"heredoc", "f <<-EOH\n  body #{x}\n  EOH\ng", `identifier:f string:  body #{x}` + "\n" + ` identifier:g`},
		{"quoted heredoc is literal", "f <<-'EOH'\n#{x}\nEOH\n", `identifier:f string:#{x}` + "\n"},
		{"predicate method", `is_data_master? && x.nil?`, `identifier:is_data_master? operator:&& identifier:x operator:. identifier:nil?`},
		{"comment", "a # b 'c\nd", `identifier:a identifier:d`},
		{"ivar and gvar", `@x $? @@y`, `ivar:@x gvar:$? ivar:@@y`},
		{"octal mode", `mode 0755`, `identifier:mode number:0755`},
		{"escaped quote", `"a\"b"`, `string:a"b`},
		{"single quote keeps backslash", `'a\nb\'c'`, `string:a\nb'c`},
		{"char literal", `x = ?a`, `identifier:x operator:= string:a`},
		{"line continuation", "a = b \\\n + c", `identifier:a operator:= identifier:b operator:+ identifier:c`},
		{"end marker", "a\n__END__\nb\"", `identifier:a`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			toks, err := Tokenize(tt.src)
			if err != nil {
				t.Fatalf("Tokenize: %v", err)
			}
			if got := kinds(toks); got != tt.want {
				t.Errorf("tokens\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestTokenizeLines(t *testing.T) {
	toks, err := Tokenize("a\n<<-X\nx\nX\nb \"c\nd\"\ne")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]int{}
	for _, tk := range toks {
		if tk.Kind == Ident {
			lines[tk.Text] = tk.Line
		}
	}
	if lines["a"] != 1 || lines["b"] != 5 || lines["e"] != 7 {
		t.Errorf("lines = %v, want a:1 b:5 e:7", lines)
	}
}

func TestTokenizeErrors(t *testing.T) {
	for _, src := range []string{
		`"unterminated`,
		`'unterminated`,
		"x = <<-EOH\nno end\n",
		`"#{unterminated"`,
		`%w[unterminated`,
		"=begin\nno end",
		"a \x01 b",
		`@`,
	} {
		if _, err := Tokenize(src); err == nil {
			t.Errorf("Tokenize(%q): no error", src)
		}
	}
}

func TestParseTree(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "ruby", "blocks.rb"))
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := Parse(string(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(nodes) != 3 {
		t.Fatalf("top-level statements = %d, want 3 (module, resource, chain)", len(nodes))
	}
	def := FindDef(nodes, "m")
	if def == nil || def.EndLine != 15 || len(def.Body) != 4 {
		t.Fatalf("def m not found or wrong end: %+v", def)
	}
	res := nodes[1]
	if res.Block == nil || res.Toks[res.BlockAt].Text != "." {
		t.Errorf("resource block or chain after it not read: %+v", res)
	}
	var modifier bool
	Walk(res.Block, func(n *Node, _ bool) {
		st, err := ParseStatement(n.Toks)
		modifier = err == nil && st.Modifier == "if"
	})
	if !modifier {
		t.Error("property with a modifier if not read")
	}
	chain, err := ParseStatement(nodes[2].Toks)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := chain.Value.(*CallExpr); !ok || c.Name != "to_hash" {
		t.Errorf("leading-dot chain not joined: %s", exprString(chain.Value))
	}
}

func TestParseTreeErrors(t *testing.T) {
	for _, src := range []string{"def x\n", "end", "foo do\n", "a = (b", "x = [1,\n"} {
		if _, err := Parse(src); err == nil {
			t.Errorf("Parse(%q): no error", src)
		}
	}
}

// FuzzTokenize feeds arbitrary input to the tokenizer and the readers on
// top of it: bad input is an error, never a panic.
func FuzzTokenize(f *testing.F) {
	for _, name := range []string{"heredoc.rb", "literals.rb", "blocks.rb"} {
		src, err := os.ReadFile(filepath.Join("testdata", "ruby", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	f.Add(`default['a']['b'] = "#{node['a']['c']}"`)
	f.Add("%w[")
	f.Add("<<-")
	f.Add(`"#{"#{`)
	f.Fuzz(func(t *testing.T, src string) {
		toks, err := Tokenize(src)
		if err != nil {
			return
		}
		nodes, err := ParseTokens(toks)
		if err != nil {
			return
		}
		env := &Env{File: "fuzz", Attrs: NewAttrs(), Locals: map[string]Value{}}
		Walk(nodes, func(n *Node, _ bool) {
			if st, err := ParseStatement(n.Toks); err == nil {
				env.Eval(st.Value)
				if st.Target != nil {
					env.Eval(st.Target)
				}
			}
		})
		_, _ = LoadAttributes(src, "fuzz", NewAttrs())
		_, _ = LoadRecipe(src, "fuzz", NewAttrs())
		_, _ = ReadERB(src)
	})
}
