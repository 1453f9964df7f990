package main

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/chefha/chefha/internal/packaging"
)

const (
	ctlSoftware = "config/software/private-chef-ctl.rb"
	ctlScript   = "files/private-chef-cookbooks/bin/private-chef-ctl"
	omnibusCtl  = "lib/omnibus-ctl.rb"
	projectFile = "config/projects/private-chef.rb"
)

var (
	svwaitRe       = regexp.MustCompile(`^\s*export SVWAIT=(\d+)\s*$`)
	wrapperNameRe  = regexp.MustCompile(`/omnibus-ctl\s+(\S+)\s`)
	gemfileRemote  = regexp.MustCompile(`^\s*remote:\s*\S*/omnibus-software(\.git)?\s*$`)
	gemfileRev     = regexp.MustCompile(`^\s*revision:\s*([0-9a-f]{40})\s*$`)
	unknownCmdRe   = regexp.MustCompile(`(?:log|puts)\s+"(I don't know that command\.)"`)
	reconfiguredRe = regexp.MustCompile(`(?:log|puts)\s+"([^"]*Reconfigured!)"`)
	skipKeepalived = regexp.MustCompile(`service_name\s*==\s*"keepalived"`)
	commandArgRe   = regexp.MustCompile(`command_to_run\s*=\s*args\[0\]`)
	serviceFirstRe = regexp.MustCompile(`run_sv_command\(ARGV\[1\],\s*ARGV\[0\]\)`)
	svNamesRe      = regexp.MustCompile(`^\s*SV_COMMAND_NAMES\s*=`)
	whenRe         = regexp.MustCompile(`^\s*when\s+(.+?)\s*$`)
	attrHARe       = regexp.MustCompile(`ha_services\s*=.*\['ha'\]`)
	haExtraRe      = regexp.MustCompile(`ha_services\s*\+=\s*%w\{([^}]*)\}`)
	keepaliveGlob  = regexp.MustCompile(`ha_services\s*=.*keepalive_me`)
	fileReadRe     = regexp.MustCompile(`File\.read\("([^"#]+)"\)`)
	upgradeSleepRe = regexp.MustCompile(`sleep (\d+)`)
	haStatusDefRe  = regexp.MustCompile(`(def ha_status|add_command "ha-status")`)
)

// ctl reads private-chef-ctl: 1.2.8's own script, or the omnibus-ctl gem
// with the project's extra commands.
func (r *rel) ctl() (packaging.Ctl, error) {
	var c packaging.Ctl
	sw, err := r.pc(ctlSoftware)
	if errors.Is(err, errNotExist) {
		return r.ctlScript()
	}
	if err != nil {
		return c, err
	}
	c.Kind = packaging.Fact[string]{Value: "omnibus-ctl", Source: r.pcRef(ctlSoftware)}
	swRef := r.pcRef(ctlSoftware)
	if m, line := findLine(sw, svwaitRe); m != nil {
		n, _ := strconv.Atoi(m[1])
		c.SVWAIT = packaging.Fact[int]{Value: n, Source: at(swRef, line)}
	} else {
		c.SVWAIT = packaging.Fact[int]{Value: 0, Source: swRef}
	}
	m, line := findLine(sw, wrapperNameRe)
	if m == nil {
		return c, fmt.Errorf("%s: no omnibus-ctl invocation", swRef)
	}
	c.Name = packaging.Fact[string]{Value: m[1], Source: at(swRef, line)}

	if err := r.omnibusCtlVersion(&c); err != nil {
		return c, err
	}
	ver := c.OmnibusCtl.Value
	if !r.in.OmnibusCtl.HasRef(ver) {
		return c, fmt.Errorf("%s: the snapshot has no tag %s", r.in.OmnibusCtl.Repo(), ver)
	}
	lib, err := r.show(r.in.OmnibusCtl, ver, omnibusCtl)
	if err != nil {
		return c, err
	}
	libRef := ref(r.in.OmnibusCtl, ver, omnibusCtl)
	cmds, err := commandMap(lib, libRef)
	if err != nil {
		return c, err
	}
	sv, svLine, err := svCommandNames(lib, libRef)
	if err != nil {
		return c, err
	}
	if svLine > 0 {
		c.SvCommands = packaging.Fact[[]string]{Value: sv, Source: at(libRef, svLine)}
	}
	markNoMethod(cmds, lib, sv)
	c.Commands = cmds

	// The project's commands (rsync'd into the omnibus-ctl service dir and
	// loaded by load_files).
	files, err := r.in.Omnibus.List(r.tag, ctlCommands)
	if err != nil {
		return c, err
	}
	var haFile, upgradeFile string
	for _, f := range files {
		if !strings.HasSuffix(f, ".rb") {
			continue
		}
		file := ctlCommands + "/" + f
		text, err := r.pc(file)
		if err != nil {
			return c, err
		}
		added, err := addCommands(text, r.pcRef(file))
		if err != nil {
			return c, err
		}
		for _, a := range added {
			switch a.Name {
			case "ha-status":
				haFile = file
			case "upgrade":
				upgradeFile = file
			}
		}
		c.Commands = mergeCommands(c.Commands, added)
	}

	if m, line := findLine(lib, unknownCmdRe); m != nil {
		c.UnknownCommand = packaging.Fact[string]{Value: m[1], Source: at(libRef, line)}
	}
	if m, line := findLine(lib, reconfiguredRe); m != nil {
		msg := strings.ReplaceAll(m[1], "#{display_name}", c.Name.Value)
		if strings.Contains(msg, "#{") {
			return c, fmt.Errorf("%s:%d: reconfigure message %q", libRef, line, m[1])
		}
		c.Reconfigured = packaging.Fact[string]{Value: msg, Source: at(libRef, line)}
	}
	if _, line := findLine(lib, skipKeepalived); line > 0 {
		c.StopAllSkipsKeepalived = packaging.Fact[bool]{Value: true, Source: at(libRef, line)}
	} else {
		c.StopAllSkipsKeepalived = packaging.Fact[bool]{Value: false, Source: libRef}
	}
	if _, line := findLine(lib, commandArgRe); line > 0 {
		c.ServiceFirst = packaging.Fact[bool]{Value: false, Source: at(libRef, line)}
	}
	if haFile != "" {
		text, _ := r.pc(haFile)
		r.haStatus(&c, text, r.pcRef(haFile))
	}
	if upgradeFile != "" {
		text, _ := r.pc(upgradeFile)
		upgradeSleep(&c, text, r.pcRef(upgradeFile))
	}
	return c, nil
}

// omnibusCtlVersion finds the omnibus-ctl version: the project's
// `override :'omnibus-ctl', version: "X"`, else the default of
// omnibus-software's config/software/omnibus-ctl.rb at the revision the
// Gemfile.lock locks.
func (r *rel) omnibusCtlVersion(c *packaging.Ctl) error {
	overrides, err := r.projectOverrides()
	if err != nil {
		return err
	}
	if v, ok := overrides["omnibus-ctl"]; ok {
		c.OmnibusCtl = v
	}
	lock, err := r.pc("Gemfile.lock")
	if err != nil {
		return err
	}
	lines := strings.Split(lock, "\n")
	for i, l := range lines {
		if !gemfileRemote.MatchString(l) {
			continue
		}
		for j := i + 1; j < len(lines) && j < i+4; j++ {
			if m := gemfileRev.FindStringSubmatch(lines[j]); m != nil {
				c.OmnibusSoftware = packaging.Fact[string]{Value: m[1], Source: at(r.pcRef("Gemfile.lock"), j+1)}
			}
		}
	}
	if c.OmnibusCtl.Known() {
		return nil
	}
	if !c.OmnibusSoftware.Known() {
		return fmt.Errorf("%s: no omnibus-software revision", r.pcRef("Gemfile.lock"))
	}
	rev := c.OmnibusSoftware.Value
	if !r.in.Software.HasRef(rev) {
		return fmt.Errorf("%s: the snapshot has no commit %s", r.in.Software.Repo(), rev)
	}
	file := "config/software/omnibus-ctl.rb"
	text, err := r.show(r.in.Software, rev, file)
	if err != nil {
		return err
	}
	v, line, ok := softwareVersion(text, ref(r.in.Software, rev, file))
	if !ok {
		return fmt.Errorf("%s: no version", ref(r.in.Software, rev, file))
	}
	c.OmnibusCtl = packaging.Fact[string]{Value: v, Source: at(ref(r.in.Software, rev, file), line)}
	return nil
}

// commandMap reads omnibus-ctl's initialize: the "name" => { :arity => N }
// entries of @command_map and service_command_map.
func commandMap(lib, libRef string) ([]packaging.Command, error) {
	nodes, err := Parse(lib)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", libRef, err)
	}
	init := FindDef(nodes, "initialize")
	if init == nil {
		return nil, fmt.Errorf("%s: no initialize", libRef)
	}
	env := &Env{File: libRef}
	var out []packaging.Command
	for _, n := range init.Body {
		if n.Kind != Stmt {
			continue
		}
		st, err := ParseStatement(n.Toks)
		if err != nil || st.Target == nil {
			continue
		}
		v, ok := st.Target.(*VarExpr)
		if !ok || (v.Name != "@command_map" && v.Name != "service_command_map") {
			continue
		}
		h, ok := st.Value.(*HashExpr)
		if !ok {
			return nil, fmt.Errorf("%s:%d: %s is not a hash literal", libRef, n.Line, v.Name)
		}
		for i, k := range h.Keys {
			name := env.Eval(k)
			if name.Kind != Str {
				return nil, fmt.Errorf("%s:%d: command name %s", libRef, k.Pos(), exprString(k))
			}
			arity := 0
			if a := hashEntry(h.Vals[i], "arity"); a != nil {
				if av := env.Eval(a); av.Kind == Int {
					arity, _ = strconv.Atoi(av.S)
				}
			}
			out = append(out, packaging.Command{Name: name.S, Arity: arity, Source: at(libRef, k.Pos())})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no command map", libRef)
	}
	return mergeCommands(nil, out), nil
}

// addCommands reads `add_command "name", "desc", arity do` calls; arity
// defaults to 1 as omnibus-ctl's add_command does.
func addCommands(text, file string) ([]packaging.Command, error) {
	nodes, err := Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	env := &Env{File: file}
	var out []packaging.Command
	for _, n := range nodes {
		if n.Kind != Stmt || len(n.Toks) == 0 || !n.Toks[0].is(Ident, "add_command") {
			continue
		}
		st, err := ParseStatement(n.Toks)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, n.Line, err)
		}
		call, ok := st.Value.(*CallExpr)
		if !ok || len(call.Args) < 1 {
			return nil, fmt.Errorf("%s:%d: add_command without a name", file, n.Line)
		}
		name := env.Eval(call.Args[0])
		if name.Kind != Str {
			return nil, fmt.Errorf("%s:%d: add_command name %s", file, n.Line, exprString(call.Args[0]))
		}
		arity := 1
		if len(call.Args) >= 3 {
			if a := env.Eval(call.Args[2]); a.Kind == Int {
				arity, _ = strconv.Atoi(a.S)
			}
		}
		out = append(out, packaging.Command{Name: name.S, Arity: arity, Source: at(file, n.Line)})
	}
	return out, nil
}

// mergeCommands adds commands, a later one replacing an earlier one of the
// same name (add_command overwrites the map entry), sorted by name.
func mergeCommands(base, add []packaging.Command) []packaging.Command {
	byName := map[string]packaging.Command{}
	for _, c := range base {
		byName[c.Name] = c
	}
	for _, c := range add {
		byName[c.Name] = c
	}
	out := make([]packaging.Command, 0, len(byName))
	for _, c := range byName {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ctlScript reads 1.2.8's own private-chef-ctl: the commands its case
// statements dispatch on, SV_COMMAND_NAMES included.
func (r *rel) ctlScript() (packaging.Ctl, error) {
	var c packaging.Ctl
	text, err := r.pc(ctlScript)
	if err != nil {
		return c, err
	}
	file := r.pcRef(ctlScript)
	c.Kind = packaging.Fact[string]{Value: "script", Source: file}
	c.SVWAIT = packaging.Fact[int]{Value: 0, Source: file}
	var cmds []packaging.Command
	lines := strings.Split(text, "\n")
	sv, svLine, err := svCommandNames(text, file)
	if err != nil {
		return c, err
	}
	for _, w := range sv {
		cmds = append(cmds, packaging.Command{Name: w, Source: at(file, svLine)})
	}
	if svLine > 0 {
		c.SvCommands = packaging.Fact[[]string]{Value: sv, Source: at(file, svLine)}
	}
	for i, l := range lines {
		m := whenRe.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		toks, err := Tokenize(m[1])
		if err != nil {
			continue
		}
		for _, t := range toks {
			if s, ok := t.Str(); ok && t.Kind == String {
				cmds = append(cmds, packaging.Command{Name: s, Source: at(file, i+1)})
			}
		}
	}
	if len(cmds) == 0 {
		return c, fmt.Errorf("%s: no commands", file)
	}
	// The first dispatch of a name is the one that runs.
	seen := map[string]bool{}
	for _, cmd := range cmds {
		if !seen[cmd.Name] {
			seen[cmd.Name] = true
			c.Commands = append(c.Commands, cmd)
		}
	}
	sort.Slice(c.Commands, func(i, j int) bool { return c.Commands[i].Name < c.Commands[j].Name })
	if _, line := findLine(text, serviceFirstRe); line > 0 {
		c.ServiceFirst = packaging.Fact[bool]{Value: true, Source: at(file, line)}
	} else {
		c.ServiceFirst = packaging.Fact[bool]{Value: false, Source: file}
	}
	if m, line := findLine(text, reconfiguredRe); m != nil {
		c.Reconfigured = packaging.Fact[string]{Value: m[1], Source: at(file, line)}
	}
	c.StopAllSkipsKeepalived = packaging.Fact[bool]{Value: false, Source: file}
	if _, line := findLine(text, skipKeepalived); line > 0 {
		c.StopAllSkipsKeepalived = packaging.Fact[bool]{Value: true, Source: at(file, line)}
	}
	if _, line := findLine(text, haStatusDefRe); line > 0 {
		r.haStatus(&c, text, file)
	}
	upgradeSleep(&c, text, file)
	return c, nil
}

// haStatus reads how ha-status decides which services are HA, and the
// files it reads: from `def ha_status` (1.2.8's script) or the
// `add_command "ha-status"` block.
func (r *rel) haStatus(c *packaging.Ctl, text, file string) {
	nodes, err := Parse(text)
	if err != nil {
		r.note("%s: %v", file, err)
		return
	}
	var body *Node
	Walk(nodes, func(n *Node, _ bool) {
		if body != nil {
			return
		}
		if n.Kind == Def && n.Name == "ha_status" {
			body = n
		}
		if n.Kind == Stmt && n.Block != nil && len(n.Toks) > 1 && n.Toks[0].is(Ident, "add_command") {
			if s, ok := n.Toks[1].Str(); ok && s == "ha-status" {
				body = n
			}
		}
	})
	if body == nil || body.EndLine == 0 {
		r.note("%s: no ha-status body", file)
		return
	}
	text = onlyLines(text, body.Line, body.EndLine)
	if _, line := findLine(text, keepaliveGlob); line > 0 {
		c.HAStatus = packaging.Fact[string]{Value: "keepalive_me", Source: at(file, line)}
	} else if _, line := findLine(text, attrHARe); line > 0 {
		c.HAStatus = packaging.Fact[string]{Value: "attribute-ha", Source: at(file, line)}
		if m, line := findLine(text, haExtraRe); m != nil {
			c.HAStatusExtra = packaging.Fact[[]string]{Value: strings.Fields(m[1]), Source: at(file, line)}
		}
	} else {
		r.note("%s: ha-status's HA rule not recognised", file)
	}
	ms, lines := findAll(text, fileReadRe)
	for i, m := range ms {
		c.HAStatusReads = append(c.HAStatusReads, packaging.Fact[string]{Value: m[1], Source: at(file, lines[i])})
	}
}

// upgradeSleep reads the `sleep N` the upgrade command runs before partybus.
func upgradeSleep(c *packaging.Ctl, text, file string) {
	c.UpgradeSleep = packaging.Fact[int]{Value: 0, Source: file}
	for i, l := range strings.Split(text, "\n") {
		if !strings.Contains(l, "partybus") {
			continue
		}
		if m := upgradeSleepRe.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			c.UpgradeSleep = packaging.Fact[int]{Value: n, Source: at(file, i+1)}
		}
	}
}

// onlyLines blanks every line outside [from, to], keeping line numbers.
func onlyLines(text string, from, to int) string {
	lines := strings.Split(text, "\n")
	for i := range lines {
		if i+1 < from || i+1 > to {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}
