package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), nil, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestPlanByDefault(t *testing.T) {
	t.Parallel()
	code, s, errs := runArgs(t, "-width", "80")
	require.Equal(t, 0, code, errs)
	assert.True(t, strings.HasPrefix(s, "SIMULATION: "))
	for i, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		assert.LessOrEqual(t, utf8.RuneCountInString(line), 80, "line %d: %q", i+1, line)
	}
	assert.Contains(t, s, "upgrade plan 1.4.6 → 11.1.8: 1 hop, 17 steps")
	assert.Regexp(t, `\nbe1\.chefha\.test +backend, bootstrap +1\.4\.6 → 11\.1\.8 +1\.7 → 1\.13\n`, s)
	assert.Regexp(t, `\nfe3\.chefha\.test +frontend +1\.4\.6 → 11\.1\.8 +1\.7 → 1\.13\n`, s)
	assert.Contains(t, s, "known issues on this path, and what chefha does about each:\n  OC-11426")
	assert.Contains(t, s, "stops of service:\n  - frontends (fe1.chefha.test, fe2.chefha.test, fe3.chefha.test) from\n    hop1/stop-frontends until hop1/start-all")
	assert.Contains(t, s, "  - bootstrap (be1.chefha.test) from hop1/reconfigure-bootstrap until\n    hop1/upgrade-bootstrap")
	assert.True(t, strings.HasSuffix(s, "\nnext:\n  go run ./examples/upgrade -apply\n"), "the command to run next ends the plan:\n%s", s)
	assert.NotContains(t, s, "would:", "the dry run's actions only with -v")
}

func TestVerboseDryRun(t *testing.T) {
	t.Parallel()
	code, s, errs := runArgs(t, "-v")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, s, "would: be1.chefha.test: env SVWAIT=30 private-chef-ctl upgrade")
	assert.Regexp(t, `\ndry run: \d+ actions; nothing was changed\.\n`, s)
	assert.Less(t, strings.Index(s, "would:"), strings.Index(s, "stops of service:"), "the actions, then the plan")
	assert.True(t, strings.HasSuffix(s, "\nnext:\n  go run ./examples/upgrade -apply\n"), "-v is not carried into the next command")
}

func TestPlanAsJSONAndMarkdown(t *testing.T) {
	t.Parallel()
	code, s, errs := runArgs(t, "-o", "json")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, 1, strings.Count(s, "\n"), "one object on one line")
	var v struct {
		upgrade.PlanView
		Simulation bool `json:"simulation"`
	}
	require.NoError(t, json.Unmarshal([]byte(s), &v))
	assert.True(t, v.Simulation)
	assert.Equal(t, upgrade.PlanViewFormat, v.Format)
	assert.Len(t, v.Nodes, 5)
	assert.Len(t, v.Steps, 17)
	assert.Equal(t, "go run ./examples/upgrade -apply", v.Next)

	code, s, errs = runArgs(t, "-o", "json", "-v")
	require.Equal(t, 0, code, errs)
	lines := jsonLines(t, s)
	require.Greater(t, len(lines), 2)
	assert.Equal(t, upgrade.PlanViewFormat, lines[0]["format"], "the plan first")
	assert.Equal(t, "plan", lines[1]["kind"], "then the dry run's events")
	assert.Equal(t, true, lines[1]["dry_run"])
	assert.Equal(t, "outcome", lines[len(lines)-1]["kind"])
	assert.Equal(t, "done", lines[len(lines)-1]["outcome"])

	code, s, errs = runArgs(t, "-o", "markdown")
	require.Equal(t, 0, code, errs)
	assert.True(t, strings.HasPrefix(s, "# chefha upgrade plan: 1.4.6 → 11.1.8\n\n> **SIMULATION**: the plan of a simulated cluster"), "the title, then the simulation's mark:\n%s", s)
	assert.Contains(t, s, "\n## Stops of service\n")
	assert.Contains(t, s, "| be1.chefha.test | backend, bootstrap | 1.4.6 → 11.1.8 | 1.7 → 1.13 |  |\n")
}

// jsonLines parses JSON lines.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		out = append(out, m)
	}
	return out
}

// A refused run ends in its outcome event, with the error object, and
// exits non-zero; the error is on stderr only for a terminal.
func TestRefusedRunInJSON(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-o", "json", "-package", "/nonexistent/x.deb"},
		{"-o", "json", "-package", "/nonexistent/x.deb", "-apply"},
	} {
		code, s, errs := runArgs(t, args...)
		assert.Equal(t, 1, code, "%q", args)
		lines := jsonLines(t, s)
		require.NotEmpty(t, lines, "%q", args)
		last := lines[len(lines)-1]
		assert.Equal(t, "outcome", last["kind"], "%q", args)
		assert.Equal(t, "refused", last["outcome"], "%q", args)
		e, ok := last["error"].(map[string]any)
		require.True(t, ok, "%q: an error object: %v", args, last)
		assert.Equal(t, "package", e["type"])
		assert.Contains(t, e["message"], "/nonexistent/x.deb")
		for _, l := range lines {
			assert.Equal(t, true, l["simulation"], "every line of a simulation says so")
		}
		assert.Empty(t, errs, "stderr is no terminal here")
	}
}

// openPTY returns a pseudo-terminal: the leader to read, the follower to write.
func openPTY(t *testing.T) (leader, follower *os.File) {
	t.Helper()
	leader, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here (/dev/ptmx: %v)", err)
	}
	t.Cleanup(func() { leader.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(leader.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(int(leader.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	follower, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { follower.Close() })
	return leader, follower
}

func TestRefusedRunTellsATerminal(t *testing.T) {
	t.Parallel()
	leader, tty := openPTY(t)
	var out bytes.Buffer
	code := run(context.Background(), nil, []string{"-o", "json", "-package", "/nonexistent/x.deb"}, &out, tty)
	assert.Equal(t, 1, code)
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 4096)
		n, _ := leader.Read(b)
		got <- string(b[:n])
	}()
	select {
	case s := <-got:
		assert.Contains(t, s, "upgrade: package /nonexistent/x.deb")
	case <-time.After(10 * time.Second):
		t.Fatal("nothing on the terminal")
	}
	assert.Contains(t, out.String(), `"outcome":"refused"`)
}

func TestApplyWithJSONEvents(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a whole upgrade of the simulated cluster")
	}
	code, s, errs := runArgs(t, "-apply", "-o", "json", "-hold", "100ms")
	require.Equal(t, 0, code, errs)
	kinds := map[string]int{}
	for _, ev := range jsonLines(t, s) {
		kinds[ev["kind"].(string)]++
		assert.Equal(t, true, ev["simulation"])
	}
	assert.Equal(t, 17, kinds["step-done"]+kinds["step-skip"], "every step of the plan (those already done on the cluster are skipped)")
	assert.Positive(t, kinds["gate-wait"])
	assert.Zero(t, kinds["step-failed"])
	assert.Equal(t, 1, kinds["outcome"])
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-o", "yaml"},
		{"-phase", "teardown"},
		{"-o", "markdown", "-apply"},
		{"-ignore", "version"},
		{"-ignore", "no-such-check"},
		{"stray"},
	} {
		code, _, _ := runArgs(t, args...)
		assert.Equal(t, 2, code, "%q", args)
	}
	code, _, errs := runArgs(t, "-resume")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "its journal in a temporary directory removed when the command exits")

	code, _, errs = runArgs(t, "-hosts", "be1\n=backend:bootstrap,be2=backend")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `server name "be1\n" is not a host name: it holds a control character`)

	code, s, _ := runArgs(t, "-package", "/nonexistent/x.deb")
	assert.Equal(t, 1, code, "a missing package is refused")
	assert.Contains(t, s, "refused: package /nonexistent/x.deb")
	code, s, _ = runArgs(t, "-target", "12.0.0")
	assert.Equal(t, 1, code, "no path to 12.0.0")
	assert.Contains(t, s, "target 12.0.0 has no known migration level")
}

// One vocabulary with preflight: what it calls skippable, upgrade refuses
// unless given -allow-skippable.
func TestAllowSkippable(t *testing.T) {
	t.Parallel()
	code, s, _ := runArgs(t, "-target", "11.0.2")
	assert.Equal(t, 1, code)
	assert.Contains(t, s, "(skippable: allowed only when asked for)\nrun preflight and upgrade with -allow-skippable to take this path")
	code, s, errs := runArgs(t, "-target", "11.0.2", "-allow-skippable")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, s, "upgrade plan 1.4.6 → 11.0.2")
	assert.Contains(t, s, "next:\n  go run ./examples/upgrade -allow-skippable -target 11.0.2 -apply\n")
}

// simRB is the simulated cluster's private-chef.rb, as an operator would
// have it (the simulation's names, roles and VIP).
const simRB = `topology "ha"
server "be1.chefha.test", :ipaddress => "192.168.4.1", :role => "backend", :bootstrap => true, :cluster_ipaddress => "10.1.2.10"
server "be2.chefha.test", :ipaddress => "192.168.4.6", :role => "backend", :cluster_ipaddress => "10.1.2.12"
backend_vip "be.chefha.test", :ipaddress => "192.168.4.7", :device => "eth0", :heartbeat_device => "eth1"
server "fe1.chefha.test", :ipaddress => "192.168.5.1", :role => "frontend"
api_fqdn "chef.chefha.test"
`

// -config, -hosts, -ssh-config and -timeout reach a cluster as preflight
// does; an upgrade refuses a cluster with a node it cannot reach.
func TestNamedClusterLikePreflight(t *testing.T) {
	t.Parallel()
	sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 1})
	require.NoError(t, err)
	defer sim.Close()
	conf, err := sim.WriteSSHConfig(t.TempDir())
	require.NoError(t, err)
	dir := t.TempDir()
	pkg, err := clustertest.WritePackage(dir, "debian", "11.1.8")
	require.NoError(t, err)
	rb := dir + "/private-chef.rb"
	require.NoError(t, os.WriteFile(rb, []byte(simRB), 0o600))
	code, s, errs := runArgs(t, "-config", rb, "-ssh-config", conf, "-timeout", "1m", "-package", pkg,
		"-backup-waived", "test", "-journal", dir+"/j.json", "-width", "120")
	require.Equal(t, 0, code, "%s\n%s", s, errs)
	assert.Contains(t, errs, "reaching the 3 nodes over SSH and reading them (giving up after 1m0s)…", "said before the wait")
	assert.Contains(t, s, "upgrade plan 1.4.6 → 11.1.8")
	assert.NotContains(t, s, "SIMULATION")
	next := s[strings.Index(s, "\nnext:\n")+len("\nnext:\n"):]
	next = strings.Join(strings.Fields(strings.ReplaceAll(next, " \\\n", " ")), " ")
	assert.Equal(t, "go run ./examples/upgrade -backup-waived test -config "+rb+" -journal "+dir+"/j.json -package "+pkg+" -ssh-config "+conf+" -timeout 1m0s -apply", next)

	// Rehearsed on a replica, the same plan shows how long each stop of
	// service lasted there.
	assert.NotContains(t, s, "in the rehearsal")
	code, s, errs = runArgs(t, "-config", rb, "-ssh-config", conf, "-package", pkg, "-backup-waived", "test", "-journal", dir+"/j.json", "-rehearse")
	require.Equal(t, 0, code, "%s\n%s", s, errs)
	code, s, errs = runArgs(t, "-config", rb, "-ssh-config", conf, "-package", pkg, "-backup-waived", "test", "-journal", dir+"/j.json", "-width", "120")
	require.Equal(t, 0, code, "%s\n%s", s, errs)
	assert.Regexp(t, `frontends \(fe1\.chefha\.test\) from hop1/stop-frontends until hop1/start-all, [0-9.]+m?s in the\s+rehearsal`, s)

	// A journal already there: refused before anything runs, with an
	// outcome line in JSON too; a finished run's journal is called one.
	p := upgrade.Plan{Phase: upgrade.PhaseUpgrade, From: "1.4.6", To: "11.1.8", Steps: []upgrade.Step{{ID: "hop1/backup"}}}
	done := upgrade.Record{Format: upgrade.JournalFormat, PlanHash: p.Hash(), Plan: p, Steps: map[string]upgrade.StepRecord{"hop1/backup": {}}}
	require.NoError(t, upgrade.FileJournal{Path: dir + "/old.json"}.Save(context.Background(), done))
	code, s, errs = runArgs(t, "-config", rb, "-ssh-config", conf, "-package", pkg, "-backup-waived", "test", "-journal", dir+"/old.json", "-apply", "-o", "json")
	require.Equal(t, 2, code, "%s\n%s", s, errs)
	assert.Contains(t, errs, "holds a finished run: move it away")
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var last upgrade.Event
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last))
	assert.Equal(t, upgrade.OutcomeRefused, last.Outcome)
	require.NotNil(t, last.Error)
	assert.Equal(t, "journal-present", last.Error.Type)

	// -hosts names the same servers, reached by name through the SSH config.
	hosts := "be1.chefha.test=backend:bootstrap,be2.chefha.test=backend,fe1.chefha.test=frontend"
	code, s, errs = runArgs(t, "-hosts", hosts, "-ssh-config", conf, "-package", pkg, "-backup-waived", "test", "-journal", dir+"/j.json", "-o", "json")
	assert.NotEqual(t, 2, code, "every node reached and read: %s%s", s, errs)
	assert.NotContains(t, s+errs, "not reached")

	down, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 1, Knobs: []clustertest.Knob{clustertest.Unreachable("fe1.chefha.test")}})
	require.NoError(t, err)
	defer down.Close()
	conf, err = down.WriteSSHConfig(t.TempDir())
	require.NoError(t, err)
	code, s, errs = runArgs(t, "-hosts", hosts, "-ssh-config", conf, "-package", pkg, "-o", "json")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "fe1.chefha.test: not reached at 127.0.0.1:")
	assert.Contains(t, errs, "an upgrade needs every node")
	// … with its outcome line, as every refusal has.
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(s)), &last), s)
	assert.Equal(t, upgrade.OutcomeRefused, last.Outcome)
	require.NotNil(t, last.Error)
	assert.Equal(t, "unreachable", last.Error.Type)
	assert.Contains(t, last.Error.Message, "fe1.chefha.test: not reached")

	// A refused input too.
	code, s, _ = runArgs(t, "-o", "json", "-lvm-threshold", "120", "-backup-lvm")
	assert.Equal(t, 2, code)
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(s)), &last), s)
	assert.Equal(t, "usage", last.Error.Type)
}

func TestProgressLinesAreEscaped(t *testing.T) {
	t.Parallel()
	line := progressLine(time.Second, upgrade.Event{Kind: upgrade.EventStepStart, Step: "hop1/upgrade-frontend/fe1\x1b[2J", Title: "upgrade \x1b]0;x\a"})
	assert.NotContains(t, line, "\x1b")
	assert.Contains(t, line, `fe1\x1b[2J`)
	line = progressLine(time.Second, upgrade.Event{Kind: upgrade.EventAction, Message: "be1: out\r\x9bhidden"})
	assert.NotContains(t, line, "\r")
	assert.Contains(t, line, `out\r\x9bhidden`)
}

func TestShellQuote(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "/srv/p_11.1.8-1_amd64.deb", shellQuote("/srv/p_11.1.8-1_amd64.deb"))
	assert.Equal(t, "'lvcreate -s -n x'", shellQuote("lvcreate -s -n x"))
	assert.Equal(t, `'it'\''s'`, shellQuote("it's"))
	assert.Equal(t, "''", shellQuote(""))
}

// -report DIR writes the run's report for the change board, 0600 in a
// 0700 directory: a Markdown summary, the timeline as SVG with a bar per
// step, and JSON.
func TestReportForTheChangeBoard(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "report")
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(context.Background(), nil, []string{"-apply", "-report", dir}, &out, &errb), errb.String())
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "1.4.6 → 11.1.8")
	assert.Contains(t, string(md), "hop1/upgrade-bootstrap")
	svg, err := os.ReadFile(filepath.Join(dir, "timeline.svg"))
	require.NoError(t, err)
	require.NoError(t, xml.Unmarshal(svg, new(struct{})), "the SVG is XML")
	assert.GreaterOrEqual(t, strings.Count(string(svg), `data-step="hop1/`), 17, "a bar per step")
	for _, name := range []string{"report.md", "timeline.svg", "report.json"} {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), name)
	}
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
}

// SIGTERM stops a run as Ctrl-C does: first between two actions, then
// no longer waiting.
func TestSIGTERMStopsTheRunAsCtrlCDoes(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	stop := make(chan struct{})
	cancelled := make(chan struct{})
	var stderr syncWriter
	go stopOnSignals(sigs, stop, func() { close(cancelled) }, &stderr)
	sigs <- syscall.SIGTERM
	<-stop
	sigs <- syscall.SIGTERM
	<-cancelled
	assert.Contains(t, stderr.String(), "terminated: the running command finishes, then the run stops")
	assert.Contains(t, stderr.String(), "terminated: no longer waiting")
}

// syncWriter is a strings.Builder safe for a writer and a reader.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// A cluster already at the target is nothing to do: no plan of 0 steps,
// no demand for a backup, exit 0, and the commands that come next.
func TestAlreadyAtTarget(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), nil, []string{"-target", "1.4.6"}, &out, &errb)
	assert.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	assert.Contains(t, out.String(), "already at 1.4.6 (migration level 1.7): nothing to upgrade.")
	assert.Contains(t, out.String(), "-target 1.4.6 -verify\n")
	assert.Contains(t, out.String(), "-target 1.4.6 -phase cleanup -yes\n")
	assert.NotContains(t, out.String(), "0 steps")
	assert.NotContains(t, out.String(), "backup")
}

// A named cluster without a declared backup: the plan warns and names the
// flags that declare one; -apply is refused before anything runs (no
// lock, no journal), saying so, not "stopped … run again with -resume".
func TestNoBackupIsRefusedUpFront(t *testing.T) {
	t.Parallel()
	n := startNamed(t, clustertest.Options{Version: "11.1.6", Frontends: 1})
	journal := filepath.Join(n.Dir, "j.json")
	base := []string{"-config", n.RB, "-ssh-config", n.Conf, "-package", n.Pkg, "-journal", journal}
	code, out, errs := runArgs(t, base...)
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, out, "no backup declared")
	assert.Contains(t, out, "-backup-lvm")
	assert.Contains(t, out, "-backup-waived")

	code, out, errs = runArgs(t, append(base, "-apply", "-without-rehearsal")...)
	assert.NotEqual(t, exitOK, code)
	assert.Contains(t, out, "refused: no backup")
	assert.Contains(t, out, "-backup-cmd CMD with -backup-check CMD")
	assert.NotContains(t, out, "-resume", "no journal exists to resume: %s%s", out, errs)
	_, err := os.Stat(journal)
	assert.ErrorIs(t, err, fs.ErrNotExist, "nothing written")
	_, err = n.Sim.Bootstrap().Stat(upgrade.LockPath)
	assert.ErrorIs(t, err, fs.ErrNotExist, "no lock taken")
}

// A refusal names what gets past it: the runit recovery for what it
// remedies, -ignore for the checks that may be ignored.
func TestBlockedPlanNamesTheWayPast(t *testing.T) {
	t.Parallel()
	n := startNamed(t, clustertest.Options{Version: "1.4.6", Frontends: 1, Knobs: []clustertest.Knob{clustertest.TwoRunsvdirs(), clustertest.StaleLinks()}})
	code, out, errs := runArgs(t, "-config", n.RB, "-ssh-config", n.Conf, "-package", n.Pkg, "-backup-waived", "test", "-journal", filepath.Join(n.Dir, "j.json"), "-width", "300")
	assert.NotEqual(t, exitOK, code)
	all := out + errs
	assert.Contains(t, all, "-recover-runit runs the runbook's runit recovery first, which remedies runit-processes on be1.chefha.test")
	assert.Contains(t, all, "-ignore runit-processes goes past the rest")
}

// The plan shown with -resume is the rest of a run: its next command
// resumes it.
func TestNextCommandKeepsResume(t *testing.T) {
	fl := flag.NewFlagSet("upgrade", flag.ContinueOnError)
	fl.Bool("resume", false, "")
	fl.String("target", "", "")
	require.NoError(t, fl.Parse([]string{"-resume", "-target", "11.1.8"}))
	assert.True(t, strings.HasSuffix(nextCommand(fl), " -target 11.1.8 -resume -apply"), nextCommand(fl))
}

// A failed step's message keeps its lines: no literal \n in the ✗ line.
func TestFailedStepLineKeepsItsLines(t *testing.T) {
	line := progressLine(1500*time.Millisecond, upgrade.Event{Kind: upgrade.EventStepFailed,
		Message: "step hop1/verify: the post-flight finds 2 failures:\n  be1: log-dir: x\n  be2: services-up: y"})
	assert.NotContains(t, line, `\n`)
	assert.Equal(t, "[    1.5s] ✗ step hop1/verify: the post-flight finds 2 failures:\n"+
		"               be1: log-dir: x\n"+
		"               be2: services-up: y", line)
}

// A simulation says so everywhere: the Markdown plan, the report's three
// files, and a rehearsal, which keeps no record that would vanish.
func TestSimulationSaysSoEverywhere(t *testing.T) {
	code, out, errs := runArgs(t, "-o", "markdown")
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, out, "\n> **SIMULATION**", out)

	dir := t.TempDir()
	code, _, errs = runArgs(t, "-apply", "-report", dir)
	require.Equal(t, exitOK, code, errs)
	for _, name := range []string{"report.md", "timeline.svg", "report.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Contains(t, string(b), "SIMULATION", name)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	assert.Contains(t, string(b), `"simulation": true`)

	code, out, errs = runArgs(t, "-rehearse")
	require.Equal(t, exitOK, code, errs)
	assert.NotContains(t, out, "recorded in ")
	assert.Contains(t, out, "not recorded: the simulated cluster")
}

// A finished upgrade says what comes next: verify, clean up, and what
// this run kept (the old /etc/opscode of each node) to remove once
// satisfied.
func TestSuccessNamesWhatComesNext(t *testing.T) {
	t.Parallel()
	code, out, errs := runArgs(t, "-apply", "-width", "300")
	require.Equal(t, exitOK, code, errs)
	tail := out[strings.LastIndex(out, "upgrade to 11.1.8 done"):]
	assert.Contains(t, tail, " -verify\n")
	assert.Contains(t, tail, " -phase cleanup -yes\n")
	assert.Regexp(t, `when satisfied, on fe1\.chefha\.test: +rm -rf /etc/opscode\.chefha-backup-\d{8}T\d{6}Z\n`, tail)
}
