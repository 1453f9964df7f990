package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/upgrade"
)

func TestOnceJSONParses(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"-once", "-o", "json"}, &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 1, "one snapshot, one line")
	var s struct {
		Simulation bool   `json:"simulation"`
		Format     string `json:"format"`
		Seq        int    `json:"seq"`
		Backends   []struct {
			Name      string   `json:"name"`
			Bootstrap bool     `json:"bootstrap"`
			Current   string   `json:"current"`
			HasVIP    bool     `json:"has_vip"`
			Log       []string `json:"log"`
			DRBD      struct {
				CState string `json:"cstate"`
			} `json:"drbd"`
		} `json:"backends"`
		Frontends []struct {
			Name     string `json:"name"`
			Services struct {
				Up int `json:"up"`
			} `json:"services"`
		} `json:"frontends"`
		Findings []any `json:"findings"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &s))
	assert.True(t, s.Simulation, "a simulation's JSON says so")
	assert.Equal(t, upgrade.WatchFormat, s.Format)
	assert.Equal(t, 1, s.Seq)
	require.Len(t, s.Backends, 2)
	assert.Equal(t, "be1.chefha.test", s.Backends[0].Name)
	assert.True(t, s.Backends[0].Bootstrap)
	assert.Equal(t, "master", s.Backends[0].Current)
	assert.True(t, s.Backends[0].HasVIP)
	assert.Equal(t, "Connected", s.Backends[0].DRBD.CState)
	assert.Equal(t, "backup", s.Backends[1].Current)
	assert.Len(t, s.Backends[0].Log, 10, "the first snapshot carries -lines of backlog")
	require.Len(t, s.Frontends, 1)
	assert.Positive(t, s.Frontends[0].Services.Up)
	assert.Empty(t, s.Findings)
}

func TestOnceTextWithoutTerminal(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"-once"}, &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	s := out.String()
	assert.NotContains(t, s, "\x1b", "no terminal, no escape sequences")
	assert.True(t, strings.HasPrefix(s, simBanner+"\n"), s)
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d be1\.chefha\.test master, holds the VIP, services \d+ up$`, s)
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d be2\.chefha\.test backup, services \d+ up, \d+ down$`, s)
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d be1\.chefha\.test drbd Connected Primary/Secondary UpToDate/UpToDate$`, s)
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d fe1\.chefha\.test services \d+ up$`, s)
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d be1\.chefha\.test log: .*: Transitioned to master$`, s)
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d findings: none$`, s)
	assert.NotContains(t, s, "simulation: next", "-once plants no failover")
}

func TestUsage(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	assert.Equal(t, exitOK, run(context.Background(), []string{"-h"}, &out, &errb))
	assert.Contains(t, errb.String(), "-interval")
	for _, args := range [][]string{
		{"-o", "yaml"},
		{"-interval", "0s"},
		{"-lines", "-1"},
		{"-ignore", "backup"}, // a pre-flight check, no finding of the watch
		{"-hosts", "be1"},
		{"-hosts", "fe1=frontend"},
		{"stray"},
	} {
		errb.Reset()
		assert.Equal(t, exitUsage, run(context.Background(), args, &out, &errb), "%v", args)
		assert.True(t, strings.HasPrefix(errb.String(), "watch: ") || strings.Contains(errb.String(), "flag"), "%v: %s", args, errb.String())
	}
}

// simEnv is a simulated cluster on a fake clock, settled.
func simEnv(t *testing.T, knobs ...clustertest.Knob) (*clustertest.Cluster, *cluster.Cluster, *clustertest.FakeClock) {
	t.Helper()
	clock := clustertest.NewFakeClock(time.Date(2014, 6, 10, 14, 0, 0, 0, time.UTC))
	sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 1, Clock: clock.Now, Sleep: clock.Advance, Knobs: knobs})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	clock.Advance(time.Minute)
	cl, err := sim.Dial(context.Background())
	if de := (*cluster.DialError)(nil); !errors.As(err, &de) {
		require.NoError(t, err)
	}
	t.Cleanup(func() { cl.Close() })
	return sim, cl, clock
}

// The simulation's planted failover, in plain lines: the bootstrap leaves
// master, the secondary takes over, each cluster.log line once.
func TestFailoverInPlainLines(t *testing.T) {
	t.Parallel()
	_, cl, clock := simEnv(t)
	cfg := config{interval: time.Second, lines: 0, simulated: true, clock: clustertest.SteppingClock{FakeClock: clock},
		max: 40, plan: failoverPlan(cl)}
	var out, errb bytes.Buffer
	_, err := watch(context.Background(), cfg, cl, &out, &errb)
	require.NoError(t, err)
	assert.Empty(t, errb.String())
	s := out.String()
	assert.NotContains(t, s, "\x1b")
	order := []string{
		`be1\.chefha\.test master, holds the VIP`,
		`simulation: ran private-chef-ctl stop keepalived on be1\.chefha\.test`,
		`be1\.chefha\.test log: .*: Transitioning to backup`,
		`be2\.chefha\.test log: .*: Transitioning to master`,
		`be2\.chefha\.test master, holds the VIP, services \d+ up\n`,
		`simulation: ran private-chef-ctl start keepalived on be1\.chefha\.test`,
	}
	at := 0
	for _, re := range order {
		loc := regexp.MustCompile(re).FindStringIndex(s[at:])
		require.NotNil(t, loc, "%s after offset %d in:\n%s", re, at, s)
		at += loc[1]
	}
	assert.Equal(t, 1, strings.Count(s, ": Transitioning to master\n"), s)
	assert.Equal(t, 1, strings.Count(s, ": Transitioned to master\n"), s)
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d in-transition: `, s)
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d   fix: `, s)
	last := s[strings.LastIndex(s, "findings: none"):]
	assert.NotContains(t, last, "split-brain")
}

func TestUnreachableNodeShown(t *testing.T) {
	t.Parallel()
	_, cl, clock := simEnv(t, clustertest.Unreachable("be2.chefha.test"))
	var out, errb bytes.Buffer
	alarm, err := watch(context.Background(), config{interval: time.Second, once: true, clock: clock}, cl, &out, &errb)
	require.NoError(t, err)
	assert.True(t, alarm, "-once exits 1")
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d be2\.chefha\.test unreachable: not reached at `, out.String())
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d be2\.chefha\.test drbd unknown: the node could not be read$`, out.String())
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d unreadable: be2\.chefha\.test unreadable: .*not reached`, out.String())
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d be1\.chefha\.test master`, out.String())
}

// Bytes a node holds reach the operator's terminal escaped, whatever the
// output form; JSON keeps them exact.
func TestHostileBytesEscaped(t *testing.T) {
	t.Parallel()
	hostile := "Tue, 10 Jun 2014 14:00:00 +0000: \x1b]0;owned\x07\x1b[2J\rTransitioned to \u202emaster\n" +
		"\u009b31m C1 CSI, then a byte that is no UTF-8: \x9b\n"
	_, cl, clock := simEnv(t,
		clustertest.File("be2.chefha.test", keepalived.ClusterLogPath, hostile, 0o644),
		clustertest.File("be1.chefha.test", keepalived.RequestedPath, "master\x1b[31m\n", 0o644))
	render := func(cfg config) string {
		t.Helper()
		cfg.interval, cfg.once, cfg.clock, cfg.lines, cfg.width = time.Second, true, clock, 10, 200
		var out, errb bytes.Buffer
		_, err := watch(context.Background(), cfg, cl, &out, &errb)
		require.NoError(t, err)
		return out.String()
	}
	ours := strings.NewReplacer(ansiHome, "", ansiEraseLine, "", ansiEraseDown, "")
	for name, s := range map[string]string{
		"plain":    render(config{}),
		"terminal": ours.Replace(render(config{terminal: true})),
	} {
		assert.NotContains(t, s, "\x1b", name)
		assert.NotContains(t, s, "\x07", name)
		assert.NotContains(t, s, "\r", name)
		assert.NotContains(t, s, "\u202e", name)
		assert.NotContains(t, s, "\u009b", name)
		assert.Contains(t, s, `\x1b]0;owned\a\x1b[2J\rTransitioned to \u202emaster`, name)
		assert.Contains(t, s, `\u009b31m C1 CSI, then a byte that is no UTF-8: \x9b`, name)
		assert.Contains(t, s, `master\x1b[31m`, name+": the requested file that is no status, as a problem")
	}

	js := render(config{json: true})
	var snap struct {
		Backends []struct {
			Log      []string `json:"log"`
			Problems []string `json:"problems"`
		} `json:"backends"`
	}
	require.NoError(t, json.Unmarshal([]byte(js), &snap))
	require.Len(t, snap.Backends, 2)
	require.Len(t, snap.Backends[1].Log, 2)
	assert.Equal(t, hostile[:strings.IndexByte(hostile, '\n')], snap.Backends[1].Log[0], "JSON keeps the bytes (valid UTF-8: JSON has no other)")
}

// On a terminal: one screen from the top, each line cut to the width and
// cleared to its end, the rest of the screen cleared below.
func TestScreen(t *testing.T) {
	t.Parallel()
	_, cl, clock := simEnv(t)
	var out, errb bytes.Buffer
	cfg := config{interval: time.Second, max: 2, clock: clustertest.SteppingClock{FakeClock: clock}, lines: 4, width: 100, terminal: true, simulated: true}
	_, err := watch(context.Background(), cfg, cl, &out, &errb)
	require.NoError(t, err)
	frames := strings.Split(out.String(), ansiHome)
	require.Len(t, frames, 3, "two screens, each from the top")
	for _, f := range frames[1:] {
		require.True(t, strings.HasSuffix(f, ansiEraseDown))
		lines := strings.Split(strings.TrimSuffix(f, ansiEraseDown), "\n")
		lines = lines[:len(lines)-1]
		for _, l := range lines {
			require.True(t, strings.HasSuffix(l, ansiEraseLine), "%q", l)
			assert.LessOrEqual(t, utf8.RuneCountInString(strings.TrimSuffix(l, ansiEraseLine)), 100, "%q", l)
		}
		text := strings.ReplaceAll(f, ansiEraseLine, "")
		assert.Contains(t, text, "#")
		assert.Regexp(t, `(?m)^be1\.chefha\.test bootstrap +master +master +- +yes +\d+ up$`, text)
		assert.Regexp(t, `(?m)^be2\.chefha\.test +backup +backup +- +- +\d+ up, \d+ down$`, text)
		assert.Contains(t, text, "cluster.log (last 4 lines)\nbe")
		assert.Contains(t, text, "\nfindings\nnone: ")
		assert.Contains(t, text, simBanner)
	}
	assert.Contains(t, out.String(), "…"+ansiEraseLine, "a long line cut, marked")
}
