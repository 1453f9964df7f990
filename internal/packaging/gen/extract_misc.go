package main

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/chefha/chefha/internal/packaging"
)

var (
	levelMinor    = regexp.MustCompile(`^(\d+)`)
	bootstrapRe   = regexp.MustCompile(`Partybus\.config\.bootstrap_server`)
	mustMasterRe  = regexp.MustCompile(`^\s*must_be_data_master\b`)
	masterGuardRe = regexp.MustCompile(`\bif\s+Partybus\.config\.is_data_master\b`)
	schemaRe      = regexp.MustCompile(`upgrade_schema_to\s*\(?\s*(\d+)`)
	sleepRe       = regexp.MustCompile(`^\s*sleep\s*\(?\s*(\d+)`)
	restartRe     = regexp.MustCompile(`private-chef-ctl restart ([A-Za-z0-9_-]+)`)
	restartSvcRe  = regexp.MustCompile(`restart_service\s*\(?\s*["']([A-Za-z0-9_-]+)["']`)
	lnRe          = regexp.MustCompile(`^\s*ln -sf (\S+) (\S+)`)
	chmodRe       = regexp.MustCompile(`chmod (0?[0-7]{3,4}) (/etc/opscode/[^"'\s)]+)`)
)

// migrations reads files/private-chef-upgrades/MAJOR/NNN_name.rb: the level
// is MAJOR.NNN, as partybus's MigrationFile#parse_path computes it.
func (r *rel) migrations() ([]packaging.Migration, packaging.Fact[packaging.Level], error) {
	var out []packaging.Migration
	var last packaging.Fact[packaging.Level]
	dirs, err := r.in.Omnibus.List(r.tag, upgradesDir)
	if err != nil {
		return nil, last, err
	}
	for _, dir := range dirs {
		major, err := strconv.Atoi(dir)
		if err != nil {
			continue
		}
		files, err := r.in.Omnibus.List(r.tag, upgradesDir+"/"+dir)
		if err != nil {
			return nil, last, err
		}
		for _, f := range files {
			m := levelMinor.FindStringSubmatch(f)
			if m == nil || !strings.HasSuffix(f, ".rb") {
				continue
			}
			minor, _ := strconv.Atoi(m[1])
			file := upgradesDir + "/" + dir + "/" + f
			text, err := r.pc(file)
			if err != nil {
				return nil, last, err
			}
			out = append(out, migration(text, r.pcRef(file), f, packaging.Level{Major: major, Minor: minor}))
		}
	}
	if len(out) == 0 {
		return nil, last, fmt.Errorf("no migrations under %s", r.pcRef(upgradesDir))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Level != out[j].Level {
			return out[i].Level.Less(out[j].Level)
		}
		return out[i].File < out[j].File
	})
	top := out[len(out)-1]
	last = packaging.Fact[packaging.Level]{Value: top.Level, Source: top.Source}
	return out, last, nil
}

func migration(text, file, name string, lvl packaging.Level) packaging.Migration {
	m := packaging.Migration{File: name, Level: lvl, Source: file}
	flag := func(re *regexp.Regexp) packaging.Fact[bool] {
		if _, line := findLine(text, re); line > 0 {
			return packaging.Fact[bool]{Value: true, Source: at(file, line)}
		}
		return packaging.Fact[bool]{Value: false, Source: file}
	}
	m.BootstrapOnly = flag(bootstrapRe)
	m.MustBeDataMaster = flag(mustMasterRe)
	m.DataMasterGuard = flag(masterGuardRe)
	m.Schema = packaging.Fact[int]{Value: 0, Source: file}
	if s, line := findLine(text, schemaRe); s != nil {
		n, _ := strconv.Atoi(s[1])
		m.Schema = packaging.Fact[int]{Value: n, Source: at(file, line)}
	}
	// down_services = [ ... ]
	if nodes, err := Parse(text); err == nil {
		env := &Env{File: file}
		Walk(nodes, func(n *Node, _ bool) {
			if n.Kind != Stmt {
				return
			}
			st, err := ParseStatement(n.Toks)
			if err != nil || st.Target == nil {
				return
			}
			if v, ok := st.Target.(*VarExpr); !ok || v.Name != "down_services" {
				return
			}
			arr := env.Eval(st.Value)
			if arr.Kind != Array {
				return
			}
			var names []string
			for _, e := range arr.Arr {
				if e.Kind == Str {
					names = append(names, e.S)
				}
			}
			m.StopsServices = packaging.Fact[[]string]{Value: names, Source: at(file, n.Line)}
		})
	}
	var restarts []string
	var restartLine, sleepLine int
	var sleeps []int
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		for _, re := range []*regexp.Regexp{restartRe, restartSvcRe} {
			if s := re.FindStringSubmatch(l); s != nil {
				restarts = append(restarts, s[1])
				if restartLine == 0 {
					restartLine = i + 1
				}
			}
		}
		if s := sleepRe.FindStringSubmatch(l); s != nil {
			n, _ := strconv.Atoi(s[1])
			sleeps = append(sleeps, n)
			if sleepLine == 0 {
				sleepLine = i + 1
			}
		}
	}
	if len(restarts) > 0 {
		m.Restarts = packaging.Fact[[]string]{Value: restarts, Source: at(file, restartLine)}
	}
	if len(sleeps) > 0 {
		m.Sleeps = packaging.Fact[[]int]{Value: sleeps, Source: at(file, sleepLine)}
	}
	return m
}

// postinst reads the links package-scripts/private-chef/postinst makes;
// `ln -sf SRC DIR` makes DIR/basename(SRC).
func (r *rel) postinst() ([]packaging.Fact[string], error) {
	file := "package-scripts/private-chef/postinst"
	text, err := r.pc(file)
	if err != nil {
		return nil, err
	}
	ms, lines := findAll(text, lnRe)
	var out []packaging.Fact[string]
	for i, m := range ms {
		link := m[2]
		if path.Base(link) != path.Base(m[1]) {
			link = path.Join(link, path.Base(m[1]))
		}
		out = append(out, packaging.Fact[string]{Value: link, Source: at(r.pcRef(file), lines[i])})
	}
	return out, nil
}

// etcOpscode collects the /etc/opscode resources of recipes/default.rb,
// the recipes it includes and the service recipes, and the chmod the
// library runs on private-chef-secrets.json.
func (r *rel) etcOpscode() ([]packaging.File, error) {
	out, err := r.fileResources(func(res Resource) bool {
		return res.Name.S == "/etc/opscode" || strings.HasPrefix(res.Name.S, "/etc/opscode/")
	})
	if err != nil {
		return nil, err
	}
	lib := cookbook + "/libraries/private_chef.rb"
	text, err := r.pc(lib)
	if err != nil {
		return nil, err
	}
	ms, lines := findAll(text, chmodRe)
	for i, m := range ms {
		mode, _ := modeString(Value{Kind: Str, S: m[1]})
		src := at(r.pcRef(lib), lines[i])
		out = append(out, packaging.File{
			Path:   m[2],
			Kind:   "library",
			Owner:  packaging.Fact[string]{Value: "", Source: src},
			Group:  packaging.Fact[string]{Value: "", Source: src},
			Mode:   packaging.Fact[string]{Value: mode, Source: src},
			Recipe: "",
			Source: src,
		})
	}
	sortFiles(out)
	return out, nil
}

// serviceFiles collects the files and templates the recipes lay down for
// the services to read or run: under a service's directory in
// /var/opt/opscode (its configuration) or its release in
// /opt/opscode/embedded/service (its start script). 11.1.7 gave them an
// owner (OC-11656, opscode-omnibus commit 634da696); before, Chef made
// them root's.
func (r *rel) serviceFiles() ([]packaging.File, error) {
	out, err := r.fileResources(func(res Resource) bool {
		if res.Type != "file" && res.Type != "template" {
			return false
		}
		return strings.HasPrefix(res.Name.S, "/var/opt/opscode/") || strings.HasPrefix(res.Name.S, "/opt/opscode/embedded/service/")
	})
	sortFiles(out)
	return out, err
}

// fileResources are the file, template and directory resources (and the
// copies cookbook_file and remote_file make) of recipes/default.rb, the
// recipes it includes and the service recipes, whose path the generator
// could evaluate and keep accepts; deletions left out.
func (r *rel) fileResources(keep func(Resource) bool) ([]packaging.File, error) {
	seen := map[string]bool{}
	tree, names, err := r.recipeTree("default", seen)
	if err != nil {
		return nil, err
	}
	// The service recipes were loaded by services(); walk them in list order.
	def := r.recipes["default"]
	list, _, err := serviceList(def)
	if err != nil {
		return nil, err
	}
	for _, name := range list {
		if _, ok := r.recipes[name]; !ok {
			continue
		}
		more, moreNames, err := r.recipeTree(name, seen)
		if err != nil {
			return nil, err
		}
		tree, names = append(tree, more...), append(names, moreNames...)
	}
	var out []packaging.File
	for i, rc := range tree {
		for _, res := range rc.Resources {
			switch res.Type {
			case "file", "template", "directory", "cookbook_file", "remote_file":
			default:
				continue
			}
			if res.Name.Kind != Str || !keep(res) {
				continue
			}
			if action, _, ok := res.Prop("action"); ok && contains(symbols(action), "delete") {
				continue
			}
			out = append(out, packaging.File{
				Path:        res.Name.S,
				Kind:        res.Type,
				Owner:       propFact(res, "owner", false),
				Group:       propFact(res, "group", false),
				Mode:        propFact(res, "mode", true),
				Recipe:      names[i],
				Conditional: res.Conditional,
				Source:      res.Source(),
			})
		}
	}
	return out, nil
}

// sortFiles orders files by path, then by where they are declared.
func sortFiles(out []packaging.File) {
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Source < out[j].Source
	})
}
