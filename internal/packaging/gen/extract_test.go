package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/chefha/chefha/internal/packaging"
)

func attrsFrom(t *testing.T, src string) *Attrs {
	t.Helper()
	a := NewAttrs()
	if _, err := LoadAttributes(src, "a.rb", a); err != nil {
		t.Fatalf("LoadAttributes: %v", err)
	}
	return a
}

func TestLoadAttributes(t *testing.T) {
	a := attrsFrom(t, `
default['p']['user'] = "svc"
default['p']['ver'] = "9.1"
default['p']['log'] = "/var/log/x/#{node['p']['ver']}"
default['p']['list'] = [ { "key" => "a", "name" => "b" },
  { "key" => "c", "name" => "d" } ]
default['p']['host'] = node['fqdn']
default['p']['n'] = 0755
default['p']['off'] = false
if File.exists?("/x")
  default['p']['maybe'] = 1
end
default['p']['plus'] ||= 2
`)
	tests := []struct {
		path []string
		kind VKind
		str  string
		line int
	}{
		{[]string{"p", "user"}, Str, "svc", 2},
		{[]string{"p", "log"}, Str, "/var/log/x/9.1", 4},
		{[]string{"p", "n"}, Int, "0755", 8},
		{[]string{"p", "off"}, Bool, "", 9},
		{[]string{"p", "host"}, Unknown, "", 0},  // ohai, not known here
		{[]string{"p", "maybe"}, Unknown, "", 0}, // conditional
		{[]string{"p", "plus"}, Unknown, "", 0},  // not a plain assignment
		{[]string{"p", "missing"}, Nil, "", 0},   // Chef's nil
		{[]string{"other", "x"}, Unknown, "", 0}, // a root no attribute file sets
		{[]string{"p"}, AttrRef, "p", 0},
	}
	for _, tt := range tests {
		v := a.Get(tt.path)
		if v.Kind != tt.kind || v.Kind != Bool && v.S != tt.str || v.Origin.Line != tt.line {
			t.Errorf("Get(%v) = %s %q line %d, want %s %q line %d", tt.path, v.kindName(), v.S, v.Origin.Line,
				Value{Kind: tt.kind}.kindName(), tt.str, tt.line)
		}
	}
	list := a.Get([]string{"p", "list"})
	if list.Kind != Array || len(list.Arr) != 2 || list.Arr[1].Origin.Line != 6 {
		t.Fatalf("list = %+v", list)
	}
	if name, _ := list.Arr[1].Index("name"); name.S != "d" {
		t.Errorf("list[1].name = %+v", name)
	}
	if got := a.Children([]string{"p"}); !reflect.DeepEqual(got, []string{"host", "list", "log", "maybe", "n", "off", "plus", "user", "ver"}) {
		t.Errorf("Children = %v", got)
	}
}

func TestEval(t *testing.T) {
	a := attrsFrom(t, `default['p']['dir'] = "/var/opt/p"
default['p']['on'] = true
default['p']['sub']['k'] = "v"`)
	env := &Env{File: "r.rb", Attrs: a, Locals: map[string]Value{"local": {Kind: Str, S: "L"}}, IVars: map[string]Value{"iv": {Kind: Int, S: "7"}}}
	tests := []struct{ src, want string }{
		{`File.join(node['p']['dir'], "etc", "x.conf")`, "/var/opt/p/etc/x.conf"},
		{`File.join("/a/", "/b")`, "/a/b"},
		{`"#{local}-#{@iv}"`, "L-7"},
		{`node['p']['missing'] || "fallback"`, "fallback"},
		{`!!node['p']['on']`, "true"},
		{`node['p']['on'] ? "y" : "n"`, "y"},
		{`node["p"][:sub]['k']`, "v"},
		{`sub = node['p']['sub']`, ""}, // assignments are not expressions here
		{`node['p']['sub'].to_hash['k']`, "v"},
		{`node['p']['missing'].nil?`, "true"},
		{`"a" + "b"`, "ab"},
		{`"a" == "a"`, "true"},
		{`unknown_method(1)`, "<unknown>"},
		{`node['ipaddress']`, "<unknown>"},
	}
	for _, tt := range tests {
		toks, err := Tokenize(tt.src)
		if err != nil {
			t.Fatal(err)
		}
		st, err := ParseStatement(toks)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if st.Target != nil {
			continue
		}
		if got := env.Eval(st.Value).String(); got != tt.want {
			t.Errorf("Eval(%s) = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestParseStatement(t *testing.T) {
	tests := []struct{ src, want string }{
		{`owner node['p']['user']`, `owner(node["p"]["user"])`},
		{`mode "0700"`, `mode("0700")`},
		{`notifies :restart, 'x' if OmnibusHelper.should_notify?("y")`, `notifies(:restart, "x")`},
		{`options({ :log_directory => d }.merge(params))`, `options({:log_directory => d}.merge(params))`},
		{`override :'omnibus-ctl', version: "0.0.8"`, `override(:omnibus-ctl, {:version => "0.0.8"})`},
		{`control ['t']`, `control(["t"])`},
		{`a[1] + b`, `a[1] + b`},
		{`only_if { x }`, `only_if`},
	}
	for _, tt := range tests {
		toks, err := Tokenize(tt.src)
		if err != nil {
			t.Fatal(err)
		}
		st, err := ParseStatement(toks)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if got := exprString(st.Value); got != tt.want {
			t.Errorf("ParseStatement(%s) = %s, want %s", tt.src, got, tt.want)
		}
	}
	toks, _ := Tokenize(`x ||= y unless z`)
	st, err := ParseStatement(toks)
	if err != nil || st.AssignOp != "||=" || st.Modifier != "unless" || exprString(st.ModCond) != "z" {
		t.Errorf("assignment with modifier = %+v, %v", st, err)
	}
}

func TestLoadRecipe(t *testing.T) {
	a := attrsFrom(t, `default['p']['user'] = "svc"
default['p']['log'] = "/var/log/p"`)
	rc, err := LoadRecipe(`
log_dir = node['p']['log']
owner = node['p']['user']
[ log_dir, "/other" ].each do |d|
  directory d do
    owner owner
    mode 0700
  end
end
if cond?
  log_dir = "/changed"
  file "/under/condition"
end
directory log_dir
include_recipe "p::extra"
`, "r.rb", a)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rc.Resources {
		prop := func(name string) string {
			if v, _, ok := r.Prop(name); ok {
				return v.String()
			}
			return "-"
		}
		got = append(got, r.Type+" "+r.Name.String()+" "+prop("owner")+" "+prop("mode")+" "+map[bool]string{true: "cond"}[r.Conditional])
	}
	want := []string{
		"directory /var/log/p svc 0700 ",
		"directory /other svc 0700 ",
		"file /under/condition - - cond",
		// A local assigned under a condition is no longer known.
		"directory <unknown> - - ",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resources\n got %q\nwant %q", got, want)
	}
	if !reflect.DeepEqual(rc.Includes, []string{"p::extra"}) {
		t.Errorf("includes = %v", rc.Includes)
	}
}

func TestERB(t *testing.T) {
	lines, err := ReadERB(`a <%= @x %>
<% if @on %>
b
<% elsif @other %>
c
<% else %>
d
<% end %>
<%- unless @off -%>
e
<%- end -%>`)
	if err != nil {
		t.Fatal(err)
	}
	var conds []string
	for _, l := range lines {
		conds = append(conds, strings.Join(l.Conds, "&"))
	}
	if want := []string{"", "@on", "!@on&@other", "!@on&!@other", "!@off"}; !reflect.DeepEqual(conds, want) {
		t.Errorf("conditions = %q, want %q", conds, want)
	}
	env := &Env{IVars: map[string]Value{"x": {Kind: Str, S: "X"}, "on": {Kind: Bool}, "other": {Kind: Bool, B: true}, "off": {Kind: Nil}}}
	out, err := RenderERB("a <%= @x %>\n<% if @on %>\nb\n<% elsif @other %>\nc\n<% end %>", env)
	if err != nil || out != "a X\nc" {
		t.Errorf("RenderERB = %q, %v", out, err)
	}
	for _, bad := range []string{"<% x.each do |y| %>\n<% end %>", "<% if a %>\n", "<% end %>", "a <% b %> c", "a <%= b"} {
		if _, err := ReadERB(bad); err == nil {
			t.Errorf("ReadERB(%q): no error", bad)
		}
	}
	if _, err := RenderERB("<%= @missing %>", &Env{IVars: map[string]Value{}}); err == nil {
		t.Error("RenderERB with an unknown variable: no error")
	}
}

func TestParseJob(t *testing.T) {
	pre, post, exec := parseJob(`start on runlevel [2345]
pre-stop script
   # a comment
   /usr/bin/x-ctl stop
end script
post-stop script
   pkill -TERM -P 1 runsv$
end script
exec /opt/x/bin/runsvdir-start
`)
	if !reflect.DeepEqual(pre, []string{"/usr/bin/x-ctl stop"}) || !reflect.DeepEqual(post, []string{"pkill -TERM -P 1 runsv$"}) || exec != "/opt/x/bin/runsvdir-start" {
		t.Errorf("parseJob = %q %q %q", pre, post, exec)
	}
}

func TestModeString(t *testing.T) {
	for _, tt := range []struct {
		in   Value
		want string
	}{
		{Value{Kind: Str, S: "0700"}, "0700"}, {Value{Kind: Str, S: "644"}, "0644"}, {Value{Kind: Int, S: "0755"}, "0755"},
		{Value{Kind: Str, S: "2775"}, "2775"}, {Value{Kind: Str, S: "rwx"}, ""}, {Value{Kind: Bool}, ""},
	} {
		got, ok := modeString(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("modeString(%+v) = %q %v, want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestCommands(t *testing.T) {
	cmds, err := commandMap(`class C
  def initialize(name)
    @command_map = { "a" => { :arity => 1 }, "b" => { :desc => "x #{name}", :arity => 2 } }
    other = { "c" => { :arity => 1 } }
  end
end`, "lib.rb")
	if err != nil {
		t.Fatal(err)
	}
	added, err := addCommands(`add_command "b", "override", 1 do
end
add_command "d", "default arity" do
end`, "cmds.rb")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range mergeCommands(cmds, added) {
		got = append(got, c.Name+"/"+string(rune('0'+c.Arity))+"@"+c.Source)
	}
	if want := []string{"a/1@lib.rb:3", "b/1@cmds.rb:1", "d/1@cmds.rb:3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("commands = %v, want %v", got, want)
	}
	if _, err := commandMap("class C\nend", "lib.rb"); err == nil {
		t.Error("commandMap without initialize: no error")
	}
}

func TestMigration(t *testing.T) {
	m := migration(`define_upgrade do
  # sleep 99 is a comment
  if Partybus.config.is_data_master
    upgrade_schema_to(12)
    down_services = ["a", "b"]
    sleep 5
  end
end`, "m.rb", "003_x.rb", packaging.Level{Major: 1, Minor: 3})
	if !m.DataMasterGuard.Value || m.MustBeDataMaster.Value || m.Schema.Value != 12 || !reflect.DeepEqual(m.StopsServices.Value, []string{"a", "b"}) ||
		!reflect.DeepEqual(m.Sleeps.Value, []int{5}) || m.Sleeps.Source != "m.rb:6" {
		t.Errorf("migration = %+v", m)
	}
}

func TestCollapseFacts(t *testing.T) {
	in := "{\n  \"a\": {\n    \"value\": 1,\n    \"source\": \"s\"\n  },\n  \"b\": {\n    \"value\": [\n      1\n    ],\n    \"source\": \"s\"\n  },\n  \"c\": {\n    \"value\": false\n  }\n}\n"
	want := "{\n  \"a\": { \"value\": 1, \"source\": \"s\" },\n  \"b\": {\n    \"value\": [\n      1\n    ],\n    \"source\": \"s\"\n  },\n  \"c\": { \"value\": false }\n}\n"
	if got := string(collapseFacts([]byte(in))); got != want {
		t.Errorf("collapseFacts\n got %s\nwant %s", got, want)
	}
}

func TestAttrKey(t *testing.T) {
	a := attrsFrom(t, `default['private_chef']['oc_x']['enable'] = true
default['private_chef']['opscode-y']['enable'] = true`)
	for in, want := range map[string]string{"oc_x": "oc_x", "opscode_y": "opscode-y", "lb_internal": "lb-internal"} {
		if got := AttrKey(a, in); got != want {
			t.Errorf("AttrKey(%s) = %s, want %s", in, got, want)
		}
	}
}
