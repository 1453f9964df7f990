package upgrade_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/issue"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var record = flag.Bool("record", false, "rewrite testdata/facts-*.json from simulated clusters")

const (
	be1 = "be1.chefha.test"
	be2 = "be2.chefha.test"
	fe1 = "fe1.chefha.test"
	fe2 = "fe2.chefha.test"
)

// preflight runs Preflight over SSH against a simulated cluster.
func preflight(t testing.TB, version, target string, knobs []clustertest.Knob, opts ...upgrade.Option) upgrade.Report {
	t.Helper()
	sim, _ := settledSim(t, version, 2, knobs...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := sim.Dial(ctx)
	require.NoError(t, err)
	defer cl.Close()
	rep, err := upgrade.Preflight(ctx, cl, append([]upgrade.Option{upgrade.WithTarget(target)}, opts...)...)
	require.NoError(t, err)
	return rep
}

// healthy is what the runbook's pre-flight asks for, done.
func healthy() []clustertest.Knob {
	return []clustertest.Knob{clustertest.FrontendsStopped(), clustertest.StandbyKeepalivedStopped()}
}

// broken plants a failure for every check at once.
func broken() []clustertest.Knob {
	return []clustertest.Knob{
		clustertest.Unreachable("fe3.chefha.test"),
		clustertest.File(fe2, "/etc/opscode/private-chef.rb", "topology \"ha\"\n# edited by hand\n", 0o644),
		clustertest.File(fe2, "/opt/opscode/version-manifest.txt", "private-chef 1.4.7\n", 0o644),
		clustertest.MigrationLevel(be2, ""),
		clustertest.RunsvdirErrors(),
		clustertest.StaleLinks(),
		clustertest.LogDirMode(),
		clustertest.OC11540(),
		clustertest.OC11490(),
		clustertest.File(be2, "/opt/opscode/version-manifest.txt", "private-chef 11.0.2\n", 0o644), // half-upgraded
		clustertest.OC11656(),
		clustertest.SplitBrain(),
		clustertest.ServiceDown(be1, "opscode-erchef"),
		clustertest.OC11575(),
		clustertest.DRBDInconsistent(),
		clustertest.DRBDPeerUnreachable(),
	}
}

// brokenAfter plants a failure for every post-upgrade check.
func brokenAfter() []clustertest.Knob {
	return []clustertest.Knob{
		clustertest.ServiceDown(fe1, "opscode-erchef"),
		clustertest.StandbyKeepalivedStopped(),
		// A key left readable by all, as a copy under a 022 umask leaves it.
		clustertest.File(fe1, "/etc/opscode/webui_priv.pem", "-----BEGIN RSA PRIVATE KEY-----\n(simulated webui)\n", 0o644),
		// erchef's configuration narrowed by a hand under a 077 umask.
		clustertest.File(be1, "/var/opt/opscode/opscode-erchef/etc/app.config", "(a hand-made app.config)\n", 0o600),
	}
}

func fixture(t *testing.T, name, version string, knobs []clustertest.Knob) upgrade.Facts {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *record {
		sim, _ := settledSim(t, version, 3, knobs...)
		cl, err := sim.Dial(context.Background())
		if err != nil {
			// Unreachable nodes make Dial fail: gather from the rest.
			cl = nil
		}
		var facts upgrade.Facts
		if cl != nil {
			facts = upgrade.Gather(context.Background(), cl)
			cl.Close()
		} else {
			facts = gatherPartial(t, sim)
		}
		sim.Close()
		var b bytes.Buffer
		require.NoError(t, facts.Save(&b))
		require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	}
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	facts, err := upgrade.LoadFacts(f)
	require.NoError(t, err)
	return facts
}

// Every check passes on a healthy fixture and fails (or warns) on a broken
// one, read offline from facts recorded over SSH from clustertest: the
// pre-upgrade checks on a 1.4.6 cluster, the post-upgrade ones on 11.1.8.
func TestChecksOnFactsFixtures(t *testing.T) {
	bySev := func(r upgrade.Report) map[string]upgrade.Severity {
		worst := map[string]upgrade.Severity{}
		for _, f := range r.Findings {
			if cur, ok := worst[f.Check]; !ok || cur == upgrade.OK || (cur == upgrade.Warn && f.Severity == upgrade.Fail) {
				worst[f.Check] = f.Severity
			}
		}
		return worst
	}
	backup := upgrade.WithBackup(upgrade.Backup{Description: "LVM snapshot vg0/chef"})
	pre := semver.MustParse("11.1.3")
	goodRep := judge(t, fixture(t, "facts-healthy.json", "1.4.6", healthy()), pre, backup)
	badRep := judge(t, fixture(t, "facts-broken.json", "1.4.6", broken()), pre)
	post := semver.MustParse("11.1.8")
	goodPost := judge(t, fixture(t, "facts-upgraded.json", "11.1.8", nil), post)
	badPost := judge(t, fixture(t, "facts-upgraded-broken.json", "11.1.8", brokenAfter()), post)
	require.Equal(t, upgrade.ModePostFlight, goodPost.Mode, "a cluster at the target is judged as upgraded")
	for _, c := range upgrade.Checks() {
		t.Run(c.Name(), func(t *testing.T) {
			assert.NotEmpty(t, c.Doc())
			good, bad := goodRep, badRep
			if !c.Applies(upgrade.ModePreUpgrade) {
				good, bad = goodPost, badPost
			}
			if c.Name() == "drbd-mount" {
				bad = judge(t, mountedOnTheBackup(t, fixture(t, "facts-healthy.json", "1.4.6", healthy())), pre, backup)
			}
			g, b := bySev(good), bySev(bad)
			assert.Equal(t, upgrade.OK, g[c.Name()], "healthy: %v", findingsOf(good, c.Name()))
			require.Contains(t, b, c.Name(), "the broken fixture must show the check fail")
			assert.NotEqual(t, upgrade.OK, b[c.Name()], "broken: %v", findingsOf(bad, c.Name()))
		})
	}
}

// mountedOnTheBackup is healthy facts but for the DRBD data directory
// mounted on the standby too, which no knob of the simulation plants.
func mountedOnTheBackup(t *testing.T, f upgrade.Facts) upgrade.Facts {
	for i, n := range f.Nodes {
		if n.Node == be2 {
			m := n.Sections["mounts"]
			m.Output += "\n/dev/drbd0 /var/opt/opscode/drbd/data ext4 rw,relatime 0 0"
			f.Nodes[i].Sections["mounts"] = m
			return f
		}
	}
	t.Fatal("no be2 in the facts")
	return f
}

// judge checks saved facts offline.
func judge(t testing.TB, f upgrade.Facts, target *semver.Version, opts ...upgrade.Option) upgrade.Report {
	t.Helper()
	rep, err := upgrade.Preflight(context.Background(), nil, append([]upgrade.Option{upgrade.WithFacts(f), upgrade.WithTarget(target.String())}, opts...)...)
	require.NoError(t, err)
	return rep
}

func findingsOf(r upgrade.Report, check string) []upgrade.Finding {
	var out []upgrade.Finding
	for _, f := range r.Findings {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

// want is one expected finding of an end-to-end run.
type want struct {
	check string
	node  string
	sev   upgrade.Severity
	issue issue.ID
}

func has(r upgrade.Report, w want) bool {
	for _, f := range r.Findings {
		if f.Check == w.check && f.Node == w.node && f.Severity == w.sev && (w.issue == "" || f.Issue == w.issue) {
			return true
		}
	}
	return false
}

// Each clustertest knob a check can see, end to end over SSH: the report
// names the right node and severity.
func TestPreflightSeesEachKnob(t *testing.T) {
	tests := []struct {
		name    string
		version string
		target  string
		knob    clustertest.Knob
		want    want
	}{
		{"OC-11297", "11.0.2", "11.1.8", clustertest.OC11297(), want{"migration-level", be1, upgrade.Fail, "OC-11297"}},
		// 11.1.3+'s recipes own /var/log/opscode as opscode; 11.0.x's leave
		// it root's, which is healthy there (TestLogRootOfEachRelease).
		{"OC-11426", "11.1.6", "11.1.8", clustertest.OC11426(), want{"log-dir", be1, upgrade.Fail, ""}},
		{"OC-11490", "11.0.2", "11.1.8", clustertest.OC11490(), want{"keepalived-log-dir", be1, upgrade.Fail, "OC-11490"}},
		{"OC-11540", "1.4.6", "11.1.3", clustertest.OC11540(), want{"non-ssl-port", be1, upgrade.Fail, "OC-11540"}},
		{"OC-11575", "11.1.8", "11.1.8", clustertest.OC11575(), want{"standby-services-stopped", be2, upgrade.Fail, "OC-11575"}},
		{"OC-11656", "1.4.6", "11.1.8", clustertest.OC11656(), want{"config-readable", fe1, upgrade.Warn, "OC-11656"}},
		{"OC-11669 in flight", "1.4.6", "11.1.8", clustertest.SplitBrain(), want{"keepalived-pair", "", upgrade.Fail, ""}},
		{"runsvdir errors", "1.4.6", "11.1.8", clustertest.RunsvdirErrors(), want{"runit-processes", be1, upgrade.Fail, ""}},
		{"two runsvdirs", "1.4.6", "11.1.8", clustertest.TwoRunsvdirs(), want{"runit-processes", be1, upgrade.Fail, ""}},
		{"leftover ctl", "1.4.6", "11.1.8", clustertest.LeftoverCtl(), want{"runit-processes", be1, upgrade.Fail, ""}},
		{"stale links", "11.1.8", "11.1.8", clustertest.StaleLinks(), want{"service-links", be1, upgrade.Warn, ""}},
		{"log dir mode", "1.4.6", "11.1.8", clustertest.LogDirMode(), want{"log-dir", be1, upgrade.Fail, ""}},
		{"log dir owner", "11.1.8", "11.1.8", clustertest.LogDirOwner(), want{"log-dir", be1, upgrade.Fail, ""}},
		{"current missing", "1.4.6", "11.1.8", clustertest.CurrentMissing(), want{"log-dir", be1, upgrade.Fail, ""}},
		{"log fs full", "1.4.6", "11.1.8", clustertest.LogFSFull(), want{"log-dir", be1, upgrade.Fail, ""}},
		{"bootstrap not master", "1.4.6", "11.1.8", clustertest.SplitBrain(), want{"bootstrap-master", be1, upgrade.Fail, ""}},
		{"bootstrap service down", "1.4.6", "11.1.8", clustertest.ServiceDown(be1, "opscode-erchef"), want{"bootstrap-healthy", be1, upgrade.Fail, ""}},
		{"front ends running", "1.4.6", "11.1.8", clustertest.StandbyKeepalivedStopped(), want{"frontends-stopped", fe1, upgrade.Warn, ""}},
		{"standby keepalived", "1.4.6", "11.1.8", clustertest.FrontendsStopped(), want{"standby-keepalived-stopped", be2, upgrade.Warn, ""}},
		{"DRBD disconnected", "1.4.6", "11.1.8", clustertest.DRBDDisconnected(), want{"drbd-connected", be2, upgrade.Fail, ""}},
		{"DRBD secondary inconsistent", "1.4.6", "11.1.8", clustertest.DRBDInconsistent(), want{"drbd-uptodate", be2, upgrade.Fail, ""}},
		{"DRBD resync", "11.1.8", "11.1.8", clustertest.DRBDResync(40, 1000), want{"drbd-uptodate", be2, upgrade.Fail, ""}},
		{"DRBD split brain", "1.4.6", "11.1.8", clustertest.SplitBrain(), want{"drbd-roles", "", upgrade.Fail, ""}},
		{"DRBD peer unreachable", "1.4.6", "11.1.8", clustertest.DRBDPeerUnreachable(), want{"drbd-peer", be1, upgrade.Fail, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := preflight(t, tt.version, tt.target, []clustertest.Knob{tt.knob})
			assert.True(t, has(rep, tt.want), "want %+v in:\n%s", tt.want, table(rep))
		})
	}
}

func TestPreflightHealthyCluster(t *testing.T) {
	rep := preflight(t, "1.4.6", "11.1.8", healthy(), upgrade.WithBackup(upgrade.Backup{Description: "LVM snapshot"}))
	assert.False(t, rep.Failed(), table(rep))
	assert.Zero(t, rep.Summary[upgrade.Warn], table(rep))
	assert.Equal(t, []upgrade.PlanHop{{From: "1.4.6", To: "11.1.8", LevelBefore: "1.7", LevelAfter: "1.13"}}, rep.Plan)
	var ids []issue.ID
	for _, k := range rep.KnownIssues {
		ids = append(ids, k.ID)
	}
	assert.Equal(t, []issue.ID{issue.OC11426, issue.OC11540, issue.OC11575, issue.OC11657, issue.OC11499, issue.OC11574, issue.StaleFailover}, ids)
}

func TestPreflightUnreachableNode(t *testing.T) {
	sim, err := clustertest.New(clustertest.Options{})
	require.NoError(t, err)
	defer sim.Close()
	require.NoError(t, sim.Servers[fe1].Close())
	facts := gatherPartial(t, sim)
	rep, err := upgrade.Preflight(context.Background(), nil, upgrade.WithFacts(facts))
	require.NoError(t, err)
	require.True(t, has(rep, want{"reachable", fe1, upgrade.Fail, ""}), table(rep))
	assert.Contains(t, findingsOf(rep, "reachable")[0].Evidence[0], "connection refused")
	assert.True(t, has(rep, want{"bootstrap-master", "", upgrade.OK, ""}), "the other nodes are still judged")
}

func TestIgnore(t *testing.T) {
	facts := fixture(t, "facts-broken.json", "1.4.6", broken())
	rep, err := upgrade.Preflight(context.Background(), nil, upgrade.WithFacts(facts), upgrade.WithIgnore("Runit-Processes", "LOG-DIR"))
	require.NoError(t, err)
	assert.Equal(t, []string{"runit-processes", "log-dir"}, rep.Ignored)
	// An ignored check's failures stay in the report, marked, and count
	// apart: kubeadm prints ignored errors as warnings.
	ignored := findingsOf(rep, "runit-processes")
	require.NotEmpty(t, ignored, "what an ignored check found is still shown")
	for _, f := range ignored {
		assert.True(t, f.Ignored, "%+v", f)
	}
	assert.Equal(t, len(ignored)+len(findingsOf(rep, "log-dir")), rep.Summary[upgrade.SummaryIgnored])

	rep, err = upgrade.Preflight(context.Background(), nil, upgrade.WithFacts(facts), upgrade.WithIgnore("all"))
	require.NoError(t, err)
	for _, f := range rep.Findings {
		if f.Severity == upgrade.Fail || f.Severity == upgrade.Warn {
			assert.True(t, f.Ignored || slices.Contains([]string{"reachable", "topology", "version", "drbd-roles"}, f.Check),
				"only a mandatory check's failure counts: %+v", f)
		}
	}
	var text bytes.Buffer
	require.NoError(t, rep.WriteText(&text, 80))
	assert.Contains(t, text.String(), "IGNORED runit-processes on be1.chefha.test (a failure, ignored)", "ignored, not hidden")
	var js bytes.Buffer
	require.NoError(t, rep.WriteJSON(&js))
	assert.Contains(t, js.String(), `"ignored": true`)

	_, err = upgrade.Preflight(context.Background(), nil, upgrade.WithFacts(facts), upgrade.WithIgnore("version"))
	var ie *upgrade.IgnoreError
	require.ErrorAs(t, err, &ie)
	_, err = upgrade.Preflight(context.Background(), nil, upgrade.WithFacts(facts), upgrade.WithIgnore("no-such-check"))
	assert.ErrorContains(t, err, `no check named "no-such-check"`)
}

func TestReportJSONIsStable(t *testing.T) {
	rep := judge(t, fixture(t, "facts-broken.json", "1.4.6", broken()), semver.MustParse("11.1.3"))
	var b bytes.Buffer
	require.NoError(t, rep.WriteJSON(&b))
	var m map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &m))
	for _, k := range []string{"generated", "installed", "target", "plan", "known_issues", "findings", "summary"} {
		assert.Contains(t, m, k)
	}
	f := m["findings"].([]any)[0].(map[string]any)
	for _, k := range []string{"check", "severity"} {
		assert.Contains(t, f, k)
	}
	out := table(rep)
	assert.Contains(t, out, "NOT safe to upgrade")
	assert.True(t, strings.HasPrefix(out, "installed 1.4.6, target 11.1.3\n"), out)
}

// A cluster named by a host list has no VIP: the pair is judged on master
// and backup alone, not failed for a VIP nobody named.
func TestPairWithoutVIP(t *testing.T) {
	f := fixture(t, "facts-healthy.json", "1.4.6", healthy())
	f.Topology.BackendVIP = nil
	rep := judge(t, f, semver.MustParse("11.1.8"))
	for _, fd := range findingsOf(rep, "keepalived-pair") {
		assert.Equal(t, upgrade.OK, fd.Severity, "%v", fd)
	}
}

// Each release's own log layout is healthy: its services' logs where the
// packaging's attributes put them (postgresql's under 9.2 on EC 11) and
// /var/log/opscode owned as its recipes leave it (root's before 11.1.3,
// whose recipes own it as opscode). The log-dir check finds nothing on a
// fresh cluster of each, and 11.0.2 plans to 11.1.8.
func TestLogDirOfEachRelease(t *testing.T) {
	for _, tt := range []struct{ version, target, rootOwner, pgCurrent string }{
		{"1.4.6", "11.1.8", "root:root", "/var/log/opscode/postgresql/current"},
		{"11.0.2", "11.1.8", "root:root", "/var/log/opscode/postgresql/9.2/current"},
		{"11.1.6", "11.1.8", "opscode:opscode", "/var/log/opscode/postgresql/9.2/current"},
		{"11.1.8", "11.2.0", "opscode:opscode", "/var/log/opscode/postgresql/9.2/current"},
		{"11.2.0", "11.2.0", "opscode:opscode", "/var/log/opscode/postgresql/9.2/current"}, // at the target: the post-flight's checks
	} {
		t.Run(tt.version, func(t *testing.T) {
			sim, _ := settledSim(t, tt.version, 1)
			boot := sim.Bootstrap()
			var owner string
			boot.Lock(func(n *clustertest.Node) { owner, _ = n.Owner("/var/log/opscode") })
			assert.Equal(t, tt.rootOwner, owner)
			_, err := boot.ReadFile(tt.pgCurrent)
			assert.NoError(t, err, "postgresql's svlogd writes %s", tt.pgCurrent)
			knobs := healthy()
			if tt.version == tt.target {
				knobs = nil
			}
			rep := preflight(t, tt.version, tt.target, knobs)
			assert.True(t, has(rep, want{"log-dir", "", upgrade.OK, ""}), table(rep))
			if tt.version != tt.target {
				assert.False(t, rep.Failed(), "it plans: %s", table(rep))
			}
		})
	}
}

// A healthy cluster of each release the model knows passes the pre-flight
// for each later release it can go to, with no failure and no warning
// but the one a path planned only when asked for deserves (1.4.6 →
// 11.0.2, below the runbook's 11.1.3; any → 11.2.0, whose Upstart job the
// packaging breaks), and the path plans. The lab runs
// the same for the releases its shared labs hold (TestLabSideBySide).
func TestHealthyReleaseMatrix(t *testing.T) {
	for _, tt := range []struct {
		from string
		to   []string
	}{
		{"1.2.8", []string{"1.4.6", "11.1.8"}},
		{"1.4.6", []string{"11.0.2", "11.1.6", "11.1.8", "11.2.0"}},
		{"11.0.2", []string{"11.1.6", "11.1.8", "11.2.0"}},
		{"11.1.6", []string{"11.1.8", "11.2.0"}},
		{"11.1.8", []string{"11.2.0"}},
	} {
		for _, to := range tt.to {
			t.Run(tt.from+"→"+to, func(t *testing.T) {
				rep := preflight(t, tt.from, to, healthy(), upgrade.WithBackup(upgrade.Backup{Description: "LVM snapshot"}), upgrade.WithSkippable())
				assert.False(t, rep.Failed(), table(rep))
				assert.NotEmpty(t, rep.Plan, table(rep))
				for _, f := range rep.Findings {
					if f.Severity == upgrade.Warn {
						// Paths planned only when asked for: below 11.1.3, and
						// to 11.2.0, whose Upstart job is broken (packaging).
						skippable := tt.from == "1.4.6" && to == "11.0.2" || to == "11.2.0"
						assert.True(t, f.Check == "version" && f.Symptom == "skippable" && skippable, "a warning a healthy cluster does not deserve: %+v", f)
					}
				}
			})
		}
	}
}

// A check with nothing to judge is skipped with why, never ok: with every
// node unreadable only the checks of the inputs pass or fail; with one
// back end unreadable the pair's checks are skipped, and an ok of the
// others names the node it could not judge.
func TestNothingToJudgeIsSkipped(t *testing.T) {
	unread := func(f upgrade.Facts, names ...string) upgrade.Facts {
		f.Nodes = slices.Clone(f.Nodes)
		for i := range f.Nodes {
			if len(names) == 0 || slices.Contains(names, f.Nodes[i].Node) {
				f.Nodes[i] = upgrade.NodeFacts{Node: f.Nodes[i].Node, Role: f.Nodes[i].Role, Bootstrap: f.Nodes[i].Bootstrap, Err: "dial tcp: i/o timeout"}
			}
		}
		return f
	}
	healthyFacts := loadFacts(t, "facts-healthy.json")

	rep, err := upgrade.Preflight(context.Background(), nil, upgrade.WithFacts(unread(healthyFacts)), upgrade.WithTarget("11.1.8"))
	require.NoError(t, err)
	for _, f := range rep.Findings {
		if f.Severity == upgrade.OK {
			assert.Contains(t, []string{"topology"}, f.Check, "ok with no node read: %+v", f)
		}
	}
	for _, c := range []string{"keepalived-pair", "frontends-stopped", "runit-processes", "drbd-peer"} {
		require.Len(t, findingsOf(rep, c), 1, c)
		f := findingsOf(rep, c)[0]
		assert.Equal(t, upgrade.Skip, f.Severity, c)
		assert.Contains(t, f.Evidence[0], "no node to judge", c)
	}
	assert.True(t, rep.Failed(), "unreachable nodes fail the pre-flight")
	var text bytes.Buffer
	require.NoError(t, rep.WriteText(&text, 80))
	assert.Regexp(t, `\nskip  keepalived-pair +no node to judge: be1\.chefha\.test`, text.String())
	assert.Regexp(t, `skipped\b`, text.String()[strings.LastIndex(text.String(), "ok, "):], "the summary counts them")

	rep, err = upgrade.Preflight(context.Background(), nil, upgrade.WithFacts(unread(healthyFacts, "be2.chefha.test")), upgrade.WithTarget("11.1.8"))
	require.NoError(t, err)
	for _, c := range []string{"keepalived-pair", "bootstrap-master", "drbd-connected", "drbd-roles"} {
		fs := findingsOf(rep, c)
		require.Len(t, fs, 1, c)
		assert.Equal(t, upgrade.Skip, fs[0].Severity, "%s from one back end: %+v", c, fs[0])
	}
	fs := findingsOf(rep, "runit-processes")
	require.Len(t, fs, 1)
	assert.Equal(t, upgrade.OK, fs[0].Severity)
	assert.Contains(t, strings.Join(fs[0].Evidence, "; "), "not judged: be2.chefha.test")
}

// A host list names no addresses, so the peer's replication address is
// unknown: drbd-peer cannot ping and says so, where it used to fail on an
// empty address.
func TestDRBDPeerWithoutAddressesIsSkipped(t *testing.T) {
	facts := loadFacts(t, "facts-healthy.json")
	facts.Topology.Servers = slices.Clone(facts.Topology.Servers)
	for i := range facts.Topology.Servers {
		facts.Topology.Servers[i].IPAddress, facts.Topology.Servers[i].ClusterIPAddress = "", ""
	}
	facts.Nodes = slices.Clone(facts.Nodes)
	for i := range facts.Nodes {
		facts.Nodes[i].Sections = maps.Clone(facts.Nodes[i].Sections)
		delete(facts.Nodes[i].Sections, "drbd-peer") // the gather script pings no "" address
	}
	rep, err := upgrade.Preflight(context.Background(), nil, upgrade.WithFacts(facts), upgrade.WithTarget("11.1.8"))
	require.NoError(t, err)
	fs := findingsOf(rep, "drbd-peer")
	require.Len(t, fs, 1, table(rep))
	assert.Equal(t, upgrade.Skip, fs[0].Severity)
	assert.Contains(t, fs[0].Evidence[0], "no replication address known")
}

// A read that hangs is said to have timed out, naming the node and how
// long it ran, never with the script that was sent. The hang is an hour
// and the timeout 5 s, so a loaded machine's slow reads of the healthy
// nodes stay well inside it.
func TestReadTimeoutIsNamed(t *testing.T) {
	sim, err := clustertest.New(clustertest.Options{Knobs: []clustertest.Knob{clustertest.SlowNode(fe1, time.Hour)}})
	require.NoError(t, err)
	defer sim.Close()
	cl, err := sim.Dial(context.Background())
	require.NoError(t, err)
	defer cl.Close()
	rep, err := upgrade.Preflight(context.Background(), cl, upgrade.WithReadTimeout(5*time.Second))
	require.NoError(t, err)
	fs := findingsOf(rep, "reachable")
	require.Len(t, fs, 1, table(rep))
	assert.Equal(t, fe1, fs[0].Node)
	assert.Regexp(t, `^`+regexp.QuoteMeta(fe1)+` unreadable: the read timed out after 5(\.\d)?s$`, fs[0].Evidence[0])
	for _, f := range rep.Findings {
		assert.NotContains(t, strings.Join(f.Evidence, " "), "@@chefha", "the gather script leaks into %s", f.Check)
	}
}
