package upgrade_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// healthyPlanView is the plan of facts-healthy.json to 11.1.8, with real
// package files (WritePackage's bytes are the same every time, so the
// plan's hash is too).
func healthyPlanView(t *testing.T) upgrade.PlanView {
	t.Helper()
	facts := loadFacts(t, "facts-healthy.json")
	dir := t.TempDir()
	opts := []upgrade.Option{upgrade.WithTarget("11.1.8"), upgrade.WithBackup(upgrade.Backup{Waived: "VM snapshot taken by the operator"})}
	for _, fam := range []string{"debian", "rhel"} {
		p, err := clustertest.WritePackage(dir, fam, "11.1.8")
		require.NoError(t, err)
		opts = append(opts, upgrade.WithPackage(p))
	}
	plan, err := upgrade.BuildPlan(facts, opts...)
	require.NoError(t, err)
	v := upgrade.DescribePlan(plan, facts)
	v.Next = "upgrade -config /etc/opscode/private-chef.rb -target 11.1.8 -apply"
	return v
}

func TestPlanViewGolden(t *testing.T) {
	v := healthyPlanView(t)
	for _, width := range []int{80, 120} {
		var b bytes.Buffer
		require.NoError(t, v.WriteText(&b, width))
		assertFits(t, b.String(), width)
		goldenFile(t, "plan-"+strconv.Itoa(width)+".golden", b.Bytes())
	}
	var b bytes.Buffer
	require.NoError(t, v.WriteMarkdown(&b))
	goldenFile(t, "plan.md.golden", b.Bytes())
	b.Reset()
	require.NoError(t, v.WriteJSON(&b))
	assert.Equal(t, 1, strings.Count(b.String(), "\n"), "one object on one line")
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, b.Bytes(), "", "  "))
	goldenFile(t, "plan.json.golden", append(pretty.Bytes(), '\n'))
}

func TestPlanViewContent(t *testing.T) {
	v := healthyPlanView(t)
	assert.Equal(t, upgrade.PlanViewFormat, v.Format)
	assert.Equal(t, "1.4.6", v.From)
	assert.Equal(t, "11.1.8", v.To)
	require.Len(t, v.Hops, 1)
	assert.Equal(t, upgrade.PlanHop{From: "1.4.6", To: "11.1.8", LevelBefore: "1.7", LevelAfter: "1.13"}, v.Hops[0])
	require.Len(t, v.Nodes, 5)
	for _, n := range v.Nodes {
		assert.Equal(t, "1.4.6", n.Installed, n.Node)
		assert.Equal(t, "1.7", n.LevelNow, n.Node)
		assert.Equal(t, "1.13", n.LevelAfter, n.Node)
		assert.Empty(t, n.Problem, n.Node)
	}
	assert.True(t, v.Nodes[0].Bootstrap)
	kinds := map[upgrade.OutageKind]upgrade.PlanOutage{}
	for _, o := range v.Outages {
		kinds[o.Kind] = o
	}
	fe := kinds[upgrade.OutageFrontends]
	assert.Equal(t, []string{"fe1.chefha.test", "fe2.chefha.test", "fe3.chefha.test"}, fe.Nodes)
	assert.Equal(t, "hop1/stop-frontends", fe.FromStep)
	assert.Equal(t, "hop1/start-all", fe.UntilStep)
	boot := kinds[upgrade.OutageBootstrap]
	assert.Equal(t, []string{"be1.chefha.test"}, boot.Nodes)
	assert.Equal(t, "hop1/reconfigure-bootstrap", boot.FromStep)
	assert.Equal(t, "hop1/upgrade-bootstrap", boot.UntilStep)
	assert.Equal(t, "hop1/stop-standby-keepalived", kinds[upgrade.OutageFailover].FromStep)
	ids := map[string]upgrade.PlanIssue{}
	for _, k := range v.Issues {
		ids[string(k.ID)] = k
	}
	assert.Contains(t, ids["OC-11657"].Steps, "hop1/stop-frontends", "the issue names the steps that deal with it")
	assert.Len(t, v.Steps, len(v.Steps))
	assert.Equal(t, "hop1/backup", v.Steps[0].ID)
}

// A node that could not be read, or whose level is unreadable, shows a
// question mark and why.
func TestPlanViewUnreadNode(t *testing.T) {
	facts := loadFacts(t, "facts-broken.json")
	p := upgrade.Plan{Phase: upgrade.PhaseUpgrade, From: "1.4.6", To: "11.1.8"}
	v := upgrade.DescribePlan(p, facts)
	var b bytes.Buffer
	require.NoError(t, v.WriteText(&b, 80))
	s := b.String()
	assert.Regexp(t, `fe3\.chefha\.test +frontend +\? → 11\.1\.8 +\? → `, s)
	assert.Regexp(t, `  \? fe3\.chefha\.test: fe3\.chefha\.test: dial 127\.0\.0\.1:\d+`, s)
	assert.Contains(t, s, "  ? be2.chefha.test: migration level:")
}

// Node names and step titles are escaped in the text and the Markdown,
// kept exact in the JSON.
func TestPlanViewEscapes(t *testing.T) {
	evil := "fe1\x1b]0;owned\a.example.com"
	v := upgrade.PlanView{Phase: upgrade.PhaseUpgrade, From: "1.4.6", To: "11.1.8",
		Nodes:   []upgrade.PlanNode{{Node: evil, Role: "frontend", Problem: "\x1b[2Jgone"}},
		Steps:   []upgrade.PlanViewStep{{ID: "hop1/upgrade-frontend/" + evil, Title: "upgrade front end " + evil}},
		Outages: []upgrade.PlanOutage{{Kind: upgrade.OutageFrontends, Nodes: []string{evil}, Effect: "x|y"}},
		Next:    "upgrade -hosts '" + evil + "' -apply"}
	for name, write := range map[string]func(*bytes.Buffer) error{
		"text":     func(b *bytes.Buffer) error { return v.WriteText(b, 100) },
		"markdown": func(b *bytes.Buffer) error { return v.WriteMarkdown(b) },
	} {
		var b bytes.Buffer
		require.NoError(t, write(&b))
		assert.NotContains(t, b.String(), "\x1b", name)
		assert.NotContains(t, b.String(), "\a", name)
		assert.Contains(t, b.String(), `fe1\x1b]0;owned\a.example.com`, name)
	}
	var b bytes.Buffer
	require.NoError(t, v.WriteJSON(&b))
	var back upgrade.PlanView
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	assert.Equal(t, evil, back.Nodes[0].Node, "JSON keeps the exact bytes")
}

// The command to run next is cut only where a shell can join it again.
func TestPlanViewNextCommandCopiesAndPastes(t *testing.T) {
	cmd := "upgrade -config /etc/opscode/private-chef.rb -backup-cmd 'lvcreate -s -n chef-pre-upgrade -L 20G vg0/chef' -package /srv/private-chef_11.1.8-1_amd64.deb -apply"
	v := upgrade.PlanView{Phase: upgrade.PhaseUpgrade, Next: cmd}
	var b bytes.Buffer
	require.NoError(t, v.WriteText(&b, 50))
	s := b.String()
	i := strings.Index(s, "next:\n")
	require.GreaterOrEqual(t, i, 0)
	lines := strings.Split(strings.TrimSuffix(s[i+len("next:\n"):], "\n"), "\n")
	require.Greater(t, len(lines), 2)
	var words []string
	for j, l := range lines {
		if j < len(lines)-1 {
			require.True(t, strings.HasSuffix(l, " \\"), "%q", l)
			l = strings.TrimSuffix(l, " \\")
		}
		words = append(words, strings.TrimSpace(l))
	}
	assert.Equal(t, cmd, strings.Join(words, " "))
	assert.Contains(t, s, "'lvcreate -s -n chef-pre-upgrade -L 20G vg0/chef'", "never cut inside quotes")
}
