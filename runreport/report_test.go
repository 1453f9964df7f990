package runreport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/golden"
	"github.com/chefha/chefha/runreport"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	okRun      = "upgrade-1.4.6-11.1.8"
	retryRun   = "retry-oc11382-1.4.6-11.1.6"
	failedRun  = "failed-partybus-locked"
	resumedRun = "resumed-dropped-connection"
)

// goldenFile compares got with testdata/name, rewriting it under -update
// or -record.
func goldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Assert(t, name, got, *record)
}

func render(t *testing.T, r runreport.Report) (md, svg []byte) {
	t.Helper()
	var m, s bytes.Buffer
	require.NoError(t, r.WriteMarkdown(&m))
	require.NoError(t, r.WriteSVG(&s))
	return m.Bytes(), s.Bytes()
}

// The reports of the recorded runs, events and journal together, as
// Markdown, SVG and JSON.
func TestGolden(t *testing.T) {
	for _, name := range []string{okRun, failedRun, resumedRun, lvmRun} {
		t.Run(name, func(t *testing.T) {
			events, rec := recorded(t, name)
			r := runreport.Build(rec, events)
			md, svg := render(t, r)
			assertTables(t, string(md))
			goldenFile(t, name+".md", md)
			goldenFile(t, name+".svg", svg)
			js, err := json.MarshalIndent(r, "", "  ")
			require.NoError(t, err)
			goldenFile(t, name+".report.json", append(js, '\n'))
		})
	}
}

// svgDoc is what the tests read back from a picture.
type svgDoc struct {
	lanes     []string            // data-node of each lane, "" for the gates
	stepBars  map[string][]string // step id → the lanes of its bars
	statuses  map[string]string   // step id → its bars' status class
	gateBars  map[string]int      // step id → its gate bars
	texts     []string
	downtimes int
	marks     int
}

// parseSVG reads a picture with a strict XML decoder.
func parseSVG(t *testing.T, b []byte) svgDoc {
	t.Helper()
	doc := svgDoc{stepBars: map[string][]string{}, statuses: map[string]string{}, gateBars: map[string]int{}}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	root := true
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "the SVG is well-formed XML")
		switch el := tok.(type) {
		case xml.StartElement:
			if root {
				require.Equal(t, "svg", el.Name.Local)
				require.Equal(t, "http://www.w3.org/2000/svg", el.Name.Space)
				root = false
			}
			a := map[string]string{}
			for _, at := range el.Attr {
				a[at.Name.Local] = at.Value
			}
			classes := strings.Fields(a["class"])
			switch {
			case el.Name.Local == "g" && slices.Contains(classes, "lane"):
				doc.lanes = append(doc.lanes, a["data-node"])
			case el.Name.Local == "rect" && slices.Contains(classes, "step"):
				doc.stepBars[a["data-step"]] = append(doc.stepBars[a["data-step"]], a["data-node"])
				for _, c := range classes {
					if strings.HasPrefix(c, "status-") {
						doc.statuses[a["data-step"]] = c
					}
				}
			case el.Name.Local == "rect" && slices.Contains(classes, "gate"):
				doc.gateBars[a["data-step"]]++
			case el.Name.Local == "rect" && slices.Contains(classes, "downtime"):
				doc.downtimes++
			case el.Name.Local == "path" && slices.Contains(classes, "transition"):
				doc.marks++
			}
		case xml.CharData:
			doc.texts = append(doc.texts, string(el))
		}
	}
	return doc
}

// bars counts the step bars and the gate bars.
func (d svgDoc) bars() (steps, gates int) {
	for _, l := range d.stepBars {
		steps += len(l)
	}
	for _, g := range d.gateBars {
		gates += g
	}
	return steps, gates
}

// Every step of the plan has a bar, in the lanes of the nodes it acted on,
// and there is a lane for every node and one for the gates.
func TestSVGHasABarPerStepAndALanePerNode(t *testing.T) {
	for _, name := range []string{okRun, failedRun, resumedRun, lvmRun} {
		t.Run(name, func(t *testing.T) {
			events, rec := recorded(t, name)
			for _, withEvents := range []bool{true, false} {
				var evs []upgrade.Event
				if withEvents {
					evs = events
				}
				_, svg := render(t, runreport.Build(rec, evs))
				doc := parseSVG(t, svg)
				var ids []string
				nodes := []string{""}
				for _, s := range rec.Plan.Steps {
					ids = append(ids, s.ID)
					for _, n := range s.Nodes {
						if !slices.Contains(nodes, n) {
							nodes = append(nodes, n)
						}
					}
					require.NotEmpty(t, doc.stepBars[s.ID], "a bar for %s", s.ID)
					for _, lane := range doc.stepBars[s.ID] {
						assert.Contains(t, s.Nodes, lane, "%s is drawn in the lane of a node it has", s.ID)
					}
				}
				var drawn []string
				for id := range doc.stepBars {
					drawn = append(drawn, id)
				}
				assert.ElementsMatch(t, ids, drawn, "one set of bars per step of the plan, no other")
				assert.ElementsMatch(t, nodes, doc.lanes, "a lane per node and one for the gates")
				if withEvents {
					assert.NotEmpty(t, doc.gateBars, "the gates' waits are drawn")
					assert.NotZero(t, doc.downtimes, "the downtime is drawn")
				} else {
					assert.Empty(t, doc.gateBars, "the journal holds no gate")
				}
				steps, gates := doc.bars()
				t.Logf("%s (events %v): %d bytes, %d bars: %d of steps, %d of gates; %d keepalived marks",
					name, withEvents, len(svg), steps+gates, steps, gates, doc.marks)
			}
		})
	}
}

func TestReportOfARun(t *testing.T) {
	events, rec := recorded(t, okRun)
	r := runreport.Build(rec, events)
	assert.Equal(t, upgrade.OutcomeDone, r.Outcome)
	assert.Equal(t, "1.4.6", r.From)
	assert.Equal(t, "11.1.8", r.To)
	assert.Equal(t, rec.PlanHash, r.PlanHash)
	require.Len(t, r.Nodes, 5)
	assert.Equal(t, runreport.Node{Name: "be1.chefha.test", Role: runreport.RoleBootstrap}, r.Nodes[0])
	assert.Equal(t, runreport.Node{Name: "be2.chefha.test", Role: runreport.RoleSecondary}, r.Nodes[1])
	assert.Equal(t, runreport.RoleFrontend, r.Nodes[4].Role)
	require.Len(t, r.Steps, len(rec.Plan.Steps))
	for _, s := range r.Steps {
		assert.Contains(t, []runreport.Status{runreport.StatusDone, runreport.StatusAlreadyDone}, s.Status, s.ID)
		assert.False(t, s.End.Before(s.Start), s.ID)
		assert.Equal(t, s.End.Sub(s.Start), time.Duration(s.Duration), s.ID)
	}
	// The step's times agree with the journal's record of it.
	for id, sr := range rec.Steps {
		i := slices.IndexFunc(r.Steps, func(s runreport.Step) bool { return s.ID == id })
		assert.WithinDuration(t, sr.Finished, r.Steps[i].End, 5*time.Millisecond, id)
	}
	// Every gate passed or was skipped (the gate before it showed the same
	// and nothing ran since); one that held waited at least its 30 s; one
	// that only checks (DRBD in sync before a step that may fail over)
	// passes at its first look.
	require.NotEmpty(t, r.Gates)
	held, skipped := 0, 0
	for _, g := range r.Gates {
		switch {
		case g.Result == runreport.GateSkipped:
			skipped++
		case g.Polls > 0:
			held++
			assert.Equal(t, runreport.GatePassed, g.Result, g.Step)
			assert.GreaterOrEqual(t, time.Duration(g.Waited), 29*time.Second, "%s waited %s", g.Step, g.Waited)
		default:
			assert.Equal(t, runreport.GatePassed, g.Result, g.Step)
			assert.Contains(t, g.Spec, "DRBD", "%s: a gate that never polled only checks", g.Step)
		}
	}
	assert.Positive(t, held)
	assert.Positive(t, skipped)
	// The 1.4 → 11 reconfigure makes the bootstrap's keepalived transition
	// (OC-11669), stopping the standby's runs its cluster.sh: transitions
	// on both, and never a master but the bootstrap.
	require.NotEmpty(t, r.Transitions)
	seen := map[string]bool{}
	for _, tr := range r.Transitions {
		seen[tr.Node] = true
		if tr.Current == "master" {
			assert.Equal(t, "be1.chefha.test", tr.Node, "no failover: %+v", tr)
		}
	}
	assert.True(t, seen["be1.chefha.test"], "the bootstrap's reconfigure transition is seen")
	// Downtime: the front ends from their stop to start-all's gate; the
	// bootstrap twice, each until the gate after its reconfigure or upgrade.
	require.Len(t, r.Downtime, 3)
	fe := r.Downtime[0]
	assert.Equal(t, runreport.ServiceFrontends, fe.Service)
	assert.Equal(t, []string{"fe1.chefha.test", "fe2.chefha.test", "fe3.chefha.test"}, fe.Nodes)
	stop, start := r.Steps[2], r.Steps[15]
	require.Equal(t, "hop1/stop-frontends", stop.ID)
	require.Equal(t, "hop1/start-all", start.ID)
	assert.True(t, !fe.From.Before(stop.Start) && !fe.From.After(stop.End), "down from within stop-frontends")
	assert.Equal(t, r.Gates[len(r.Gates)-1].End, fe.To, "up when start-all's gate passed")
	assert.False(t, fe.Open)
	for _, d := range r.Downtime[1:] {
		assert.Equal(t, runreport.ServiceBootstrap, d.Service)
		assert.Equal(t, []string{"be1.chefha.test"}, d.Nodes)
		assert.Positive(t, d.Length)
	}
	require.Len(t, r.Backups, 1)
	assert.Equal(t, runreport.Backup{Hop: 1, Node: "be1.chefha.test", At: rec.Backups[0].At, Kind: "command", Checked: true}, r.Backups[0])
	require.NotEmpty(t, r.Issues)
	for _, is := range r.Issues {
		assert.NotEmpty(t, is.Title, is.ID)
		assert.NotEmpty(t, is.Steps, is.ID)
	}
}

// A report from the journal alone: the finished steps with their times,
// the downtime bounded by the steps' times, no gates, findings or runs.
func TestReportFromTheJournalAlone(t *testing.T) {
	_, rec := recorded(t, okRun)
	r := runreport.Build(rec, nil)
	assert.Equal(t, upgrade.OutcomeDone, r.Outcome)
	assert.Contains(t, r.Source, "journal alone")
	assert.Empty(t, r.Gates)
	assert.Empty(t, r.Findings)
	assert.Empty(t, r.Runs)
	assert.Equal(t, rec.Started, r.Started)
	assert.Equal(t, rec.Updated, r.Ended)
	for _, s := range r.Steps {
		sr := rec.Steps[s.ID]
		assert.Equal(t, sr.Finished, s.End, s.ID)
		assert.Equal(t, sr.Took, time.Duration(s.Duration), s.ID)
	}
	require.Len(t, r.Downtime, 3)
	assert.Equal(t, r.Steps[2].Start, r.Downtime[0].From, "from stop-frontends' start")
	assert.Equal(t, r.Steps[15].End, r.Downtime[0].To, "until start-all finished")
	assert.Contains(t, r.Downtime[0].How, "journal")
	md, svg := render(t, r)
	goldenFile(t, okRun+".journal-only.md", md)
	parseSVG(t, svg)

	// A journal of a run that stopped half-way says so.
	_, half := recorded(t, failedRun)
	r = runreport.Build(half, nil)
	assert.Equal(t, runreport.OutcomeIncomplete, r.Outcome)
	i := slices.IndexFunc(r.Steps, func(s runreport.Step) bool { return s.ID == "hop1/upgrade-bootstrap" })
	assert.Equal(t, runreport.StatusNotRun, r.Steps[i].Status, "the journal does not record a failed step")
}

// A dry run's report, for the change board before the change: every step
// listed, nothing done, no wait and no downtime.
func TestReportOfADryRun(t *testing.T) {
	clock := clustertest.NewFakeClock(epoch)
	sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 1, Clock: clock.Now, Sleep: clock.Advance})
	require.NoError(t, err)
	defer sim.Close()
	ctx := context.Background()
	cl, err := sim.Dial(ctx)
	require.NoError(t, err)
	defer cl.Close()
	var events []upgrade.Event
	runner := upgrade.NewRunner(cl, append(inputs(t, clock, ""), upgrade.WithDryRun(),
		upgrade.WithEvents(func(ev upgrade.Event) { events = append(events, ev) }))...)
	plan, err := runner.Plan(ctx)
	require.NoError(t, err)
	require.NoError(t, runner.Run(ctx))
	r := runreport.Build(upgrade.Record{Plan: plan, PlanHash: plan.Hash()}, events)
	assert.True(t, r.DryRun)
	assert.Equal(t, "chefha upgrade (dry run) 1.4.6 → 11.1.8: done", r.Title)
	require.Len(t, r.Steps, len(plan.Steps))
	for _, s := range r.Steps {
		assert.Contains(t, []runreport.Status{runreport.StatusListed, runreport.StatusAlreadyDone}, s.Status, s.ID)
	}
	assert.Empty(t, r.Gates)
	assert.Empty(t, r.Downtime)
	assert.Len(t, r.Nodes, 3)
	_, svg := render(t, r)
	assert.Len(t, parseSVG(t, svg).stepBars, len(plan.Steps))
}

// A failed run's report names the failing step, its node and its error,
// in the report, its Markdown and its picture; what came after is not run
// and the front ends are still down.
func TestReportOfAFailedRun(t *testing.T) {
	events, rec := recorded(t, failedRun)
	r := runreport.Build(rec, events)
	assert.Equal(t, upgrade.OutcomeFailed, r.Outcome)
	require.NotNil(t, r.Error)
	assert.Equal(t, "hop1/upgrade-bootstrap", r.Error.Step)
	assert.Equal(t, "be1.chefha.test", r.Error.Node)
	i := slices.IndexFunc(r.Steps, func(s runreport.Step) bool { return s.ID == "hop1/upgrade-bootstrap" })
	failed := r.Steps[i]
	assert.Equal(t, runreport.StatusFailed, failed.Status)
	assert.Equal(t, "be1.chefha.test", failed.Node)
	assert.Contains(t, failed.Error, "Unable to obtain file lock")
	for _, s := range r.Steps[i+1:] {
		assert.Equal(t, runreport.StatusNotRun, s.Status, s.ID)
	}
	require.NotEmpty(t, r.Downtime)
	assert.True(t, r.Downtime[0].Open, "the front ends are still down")
	assert.Equal(t, r.Ended, r.Downtime[0].To)

	md, svg := render(t, r)
	assert.Contains(t, string(md), "Step hop1/upgrade-bootstrap failed on be1.chefha.test")
	assert.Contains(t, string(md), "Unable to obtain file lock on /var/opt/opscode/upgrades/migration-level")
	doc := parseSVG(t, svg)
	assert.Equal(t, "status-failed", doc.statuses["hop1/upgrade-bootstrap"])
	assert.Equal(t, "status-not-run", doc.statuses["hop1/verify"])
	all := strings.Join(doc.texts, "")
	assert.Contains(t, all, "failed at hop1/upgrade-bootstrap on be1.chefha.test")
	assert.Contains(t, all, "Unable to obtain file lock")
}

// A run that failed and was resumed: two runs, the failed step done on
// its second attempt, the backup done in the first run.
func TestReportOfAResumedRun(t *testing.T) {
	events, rec := recorded(t, resumedRun)
	r := runreport.Build(rec, events)
	require.Len(t, r.Runs, 2)
	assert.Equal(t, upgrade.OutcomeFailed, r.Runs[0].Outcome)
	assert.Equal(t, "hop1/reconfigure-all", r.Runs[0].Error.Step)
	assert.Equal(t, upgrade.OutcomeDone, r.Runs[1].Outcome)
	assert.Equal(t, upgrade.OutcomeDone, r.Outcome)
	assert.Nil(t, r.Error)
	by := map[string]runreport.Step{}
	for _, s := range r.Steps {
		by[s.ID] = s
	}
	assert.Equal(t, runreport.StatusDoneEarlier, by["hop1/backup"].Status)
	assert.WithinDuration(t, rec.Steps["hop1/backup"].Finished, by["hop1/backup"].End, 5*time.Millisecond, "its times from the run that did it")
	assert.Equal(t, runreport.StatusDone, by["hop1/reconfigure-all"].Status)
	assert.Equal(t, 2, by["hop1/reconfigure-all"].Attempts)
	md, _ := render(t, r)
	assert.Contains(t, string(md), "## Runs")
}

// Names and messages are the cluster's: hostile ones are escaped, in the
// SVG for XML and in the Markdown for Markdown.
func TestHostileTextIsEscaped(t *testing.T) {
	const node = `fe1"><script>alert(1)</script><x a='`
	const msg = "]]> & <b>|bold|</b> [link](http://x) \x1b[31m\x00 & \"quoted\" 'single'\nsecond line"
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	rec := upgrade.Record{Format: upgrade.JournalFormat, Started: t0, Updated: t0.Add(time.Minute),
		Plan: upgrade.Plan{Phase: upgrade.PhaseUpgrade, From: "1.4.6<", To: "11.1.8&", Steps: []upgrade.Step{
			{ID: "hop1/stop-frontends", Hop: 1, Kind: upgrade.StepStopFrontends, Title: "stop <all> & " + msg, Nodes: []string{node}},
			{ID: "hop1/start-all", Hop: 1, Kind: upgrade.StepStartAll, Title: "start", Nodes: []string{node}},
		}}}
	rec.PlanHash = rec.Plan.Hash()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	events := []upgrade.Event{
		{Time: at(0), Kind: upgrade.EventPlan, Message: "upgrade: 2 steps, plan " + rec.PlanHash},
		{Time: at(1), Kind: upgrade.EventStepStart, Step: "hop1/stop-frontends"},
		{Time: at(1), Kind: upgrade.EventAction, Step: "hop1/stop-frontends", Node: node, Action: &upgrade.Action{Kind: upgrade.ActRun, Node: node, Argv: []string{"private-chef-ctl", "stop"}}},
		{Time: at(2), Kind: upgrade.EventFinding, Step: "hop1/stop-frontends", Node: node, Message: msg},
		{Time: at(3), Kind: upgrade.EventGateWait, Step: "hop1/stop-frontends", Node: node, Gate: &upgrade.GateProgress{Master: node,
			Nodes: []upgrade.GateNode{{Node: node, Requested: "master<", Current: "backup&", InTransition: true}}, Waiting: []string{msg}}},
		{Time: at(9), Kind: upgrade.EventStepFailed, Step: "hop1/stop-frontends", Node: node, Message: msg,
			Error: &upgrade.EventError{Type: "step", Step: "hop1/stop-frontends", Node: node, Message: msg}},
		{Time: at(10), Kind: upgrade.EventOutcome, Outcome: upgrade.OutcomeFailed,
			Error: &upgrade.EventError{Type: "step", Step: "hop1/stop-frontends", Node: node, Message: msg}},
	}
	r := runreport.Build(rec, events)
	md, svg := render(t, r)
	doc := parseSVG(t, svg)
	assert.Contains(t, doc.lanes, node, "the name survives, escaped, as the lane's attribute")
	assert.Equal(t, []string{node}, doc.stepBars["hop1/stop-frontends"])
	assert.Equal(t, 1, doc.marks, "the transition is drawn in the hostile node's lane")
	assert.NotContains(t, string(svg), "<script>")
	assert.NotContains(t, string(svg), "\x1b")
	assert.Contains(t, strings.Join(doc.texts, ""), "]]> & <b>", "the text reads as written")

	m := string(md)
	assert.NotContains(t, m, "\x1b")
	assert.NotContains(t, m, "\x00")
	assert.Contains(t, m, "```text\n]]> & <b>|bold|</b> [link](http://x) \\x1b[31m\\x00", "a code block shows the error as written, control characters escaped")
	outside := outsideCodeBlocks(m)
	for _, bad := range []string{"<script>", "<b>", "[link](", "\n|bold|"} {
		assert.NotContains(t, outside, bad)
	}
	assert.Contains(t, outside, `\|bold\|`, "a pipe cannot end a table cell")
	assertTables(t, m)
}

// outsideCodeBlocks drops the fenced blocks of Markdown.
func outsideCodeBlocks(md string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "```") {
			in = !in
			continue
		}
		if !in {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// assertTables checks that every row of every Markdown table has as many
// cells as its header: text in a cell never ends it early.
func assertTables(t *testing.T, md string) {
	t.Helper()
	cells := func(line string) int {
		n := 0
		for i := 0; i < len(line); i++ {
			switch line[i] {
			case '\\':
				i++
			case '|':
				n++
			}
		}
		return n
	}
	want := 0
	for _, line := range strings.Split(outsideCodeBlocks(md), "\n") {
		if !strings.HasPrefix(line, "|") {
			want = 0
			continue
		}
		if want == 0 {
			want = cells(line)
			continue
		}
		assert.Equal(t, want, cells(line), "a row with a cell too many or too few: %s", line)
	}
}

// The JSON form has every duration in seconds.
func TestJSONHasSeconds(t *testing.T) {
	events, rec := recorded(t, okRun)
	r := runreport.Build(rec, events)
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	assert.InDelta(t, r.Ended.Sub(r.Started).Seconds(), m["duration_s"], 0.001)
	steps := m["steps"].([]any)
	up := steps[9].(map[string]any)
	assert.Equal(t, "hop1/upgrade-bootstrap", up["id"])
	assert.Greater(t, up["duration_s"], 120.0, "the upgrade's two minutes before its migrations, at least")
	down := m["downtime"].([]any)[0].(map[string]any)
	assert.InDelta(t, time.Duration(r.Downtime[0].Length).Seconds(), down["duration_s"], 0.001)
	var back runreport.Report
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, r.Duration, back.Duration)
	assert.Equal(t, r.Gates, back.Gates)
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		text string
		json string
	}{
		{0, "0s", "0"},
		{420 * time.Millisecond, "420ms", "0.42"},
		{1500 * time.Microsecond, "2ms", "0.0015"},
		{92 * time.Second, "1m32s", "92"},
		{92*time.Second + 600*time.Millisecond, "1m33s", "92.6"},
		{3723*time.Second + 7, "1h2m3s", "3723.000000007"},
		{-2 * time.Second, "-2s", "-2"},
	} {
		d := runreport.Duration(tt.d)
		assert.Equal(t, tt.text, d.String(), "%v", tt.d)
		b, err := json.Marshal(d)
		require.NoError(t, err)
		assert.Equal(t, tt.json, string(b))
		var back runreport.Duration
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, tt.d, time.Duration(back), "exact to the nanosecond")
	}
	var d runreport.Duration
	assert.Error(t, json.Unmarshal([]byte(`"1m"`), &d))
}

// A rehearsal's own report, from its record alone: its steps laid end to
// end, the gates' waits, the downtime each role would have had; and the
// rehearsal in the report of the real run of the same plan.
func TestGoldenRehearsal(t *testing.T) {
	for _, name := range []string{okRehearsal, stoppedRehearsal} {
		t.Run(name, func(t *testing.T) {
			plan, rh := recordedRehearsal(t, name)
			r := runreport.FromRehearsal(plan, rh, nil)
			md, svg := render(t, r)
			assertTables(t, string(md))
			goldenFile(t, name+".md", md)
			goldenFile(t, name+".svg", svg)
			js, err := json.MarshalIndent(r, "", "  ")
			require.NoError(t, err)
			goldenFile(t, name+".report.json", append(js, '\n'))
			require.NotNil(t, r.Rehearsal)
			assert.True(t, r.Rehearsal.SamePlan)
			assert.Equal(t, rh.Passed, r.Outcome == upgrade.OutcomeDone)
			if rh.Passed {
				require.Len(t, r.Downtime, 3, "front ends, and the bootstrap twice")
				for _, d := range r.Downtime {
					assert.Positive(t, d.Length, d.Service)
					assert.False(t, d.Open)
				}
			} else {
				s := r.Steps[slices.IndexFunc(r.Steps, func(s runreport.Step) bool { return s.ID == rh.StoppedAt })]
				assert.Equal(t, runreport.StatusFailed, s.Status)
				assert.Contains(t, string(md), "## Why the run ended")
			}
		})
	}
	t.Run("in the run's report", func(t *testing.T) {
		_, rh := recordedRehearsal(t, okRehearsal)
		events, rec := recorded(t, lvmRun)
		r := runreport.Build(rec, events)
		r.SetRehearsal(rh)
		md, svg := render(t, r)
		assertTables(t, string(md))
		goldenFile(t, lvmRun+".rehearsed.md", md)
		goldenFile(t, lvmRun+".rehearsed.svg", svg)
		assert.Contains(t, string(md), "## Rehearsal on a replica\n")
		assert.Contains(t, string(md), "(the same plan as this run)")
		assert.Empty(t, r.Notes)

		_, other := recordedRehearsal(t, stoppedRehearsal)
		r.SetRehearsal(other)
		assert.False(t, r.Rehearsal.SamePlan)
		assert.Contains(t, r.Notes[0], "the rehearsal recorded is of plan "+other.PlanHash)
	})
}

// OC-11382 before 11.1.7: keepalived restarts under partybus, the
// bootstrap's upgrade fails once, and the runner waits for a stable master
// and runs it again: a finding, handled, and the gate before the retry.
func TestReportOfARetry(t *testing.T) {
	events, rec := recorded(t, retryRun)
	r := runreport.Build(rec, events)
	assert.Equal(t, "done", string(r.Outcome))
	var retry *runreport.Gate
	for i, g := range r.Gates {
		if g.Retry {
			retry = &r.Gates[i]
		}
	}
	require.NotNil(t, retry)
	assert.Equal(t, "hop1/upgrade-bootstrap", retry.Step)
	assert.Contains(t, strings.Join(retry.WaitingFor, "\n"), "in-transition")
	assert.True(t, slices.ContainsFunc(r.Findings, func(f runreport.Finding) bool {
		return strings.Contains(f.Message, "OC-11382") && strings.Contains(f.Handled, "finished")
	}), "the retry is a finding, and handled")
}
