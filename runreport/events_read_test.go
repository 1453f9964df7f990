package runreport_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/runreport"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Events written as the runner's JSON (examples/upgrade -o json) read
// back as they were, durations included.
func TestReadEventsRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	in := []upgrade.Event{
		{Time: t0, Kind: upgrade.EventPlan, Message: "upgrade 1.4.6 → 11.1.8: 2 steps, plan 0123456789abcdef"},
		{Time: t0.Add(time.Second), Kind: upgrade.EventActionDone, Step: "hop1/backup", Node: "be1", Elapsed: 1500 * time.Millisecond},
		{Time: t0.Add(2 * time.Second), Kind: upgrade.EventGateWait, Step: "hop1/start-all", Node: "be1", Gate: &upgrade.GateProgress{
			Master: "be1", StableFor: 7 * time.Second, Hold: 30 * time.Second, Waited: 12 * time.Second, TimeoutAt: t0.Add(time.Hour),
			Nodes: []upgrade.GateNode{{Node: "be1", Requested: "master", Current: "backup", InTransition: true}}, Waiting: []string{"in-transition"}}},
		{Time: t0.Add(3 * time.Second), Kind: upgrade.EventOutcome, Outcome: upgrade.OutcomeDone, Elapsed: 3 * time.Second},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, ev := range in {
		require.NoError(t, enc.Encode(ev))
	}
	b.WriteString("\n  \n") // blank lines are skipped
	out, err := runreport.ReadEvents(&b)
	require.NoError(t, err)
	assert.Equal(t, in, out)
}

func TestReadEventsErrors(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"not JSON", `{"time":"2026-11-25T12:00:00Z","kind":"plan"}` + "\nplan\n", "events line 2"},
		{"no kind", `{"time":"2026-11-25T12:00:00Z"}`, "not a runner event"},
		{"no time", `{"kind":"plan"}`, "not a runner event"},
		{"bad duration", `{"time":"2026-11-25T12:00:00Z","kind":"outcome","elapsed_s":"3s"}`, "events line 1"},
		{"too long", `{"kind":"` + strings.Repeat("x", 5<<20) + `"}`, "too long"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runreport.ReadEvents(strings.NewReader(tt.in))
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// Whatever ReadEvents accepts, Build and both writers take without
// panicking, and the picture is well-formed XML.
func FuzzReadEvents(f *testing.F) {
	for _, name := range []string{okRun, failedRun} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".events.jsonl"))
		require.NoError(f, err)
		lines := strings.Split(string(b), "\n")
		f.Add(strings.Join(lines[:min(len(lines), 40)], "\n"))
	}
	f.Add(`{"time":"2026-11-25T12:00:00Z","kind":"step-failed","step":"hop1/x","error":{"type":"step","message":"<&>"}}`)
	_, rec := recorded(f, okRun)
	f.Fuzz(func(t *testing.T, in string) {
		events, err := runreport.ReadEvents(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range []runreport.Report{runreport.Build(rec, events), runreport.Build(upgrade.Record{}, events)} {
			_, svg := render(t, r)
			parseSVG(t, svg)
		}
	})
}
