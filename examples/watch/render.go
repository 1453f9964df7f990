package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/chefha/chefha/internal/cli"
	"github.com/chefha/chefha/internal/termsafe"
	"github.com/chefha/chefha/upgrade"
)

// renderer writes snapshots in one of the output forms. note says what
// the simulation does next ("" on a real cluster).
type renderer interface {
	render(s upgrade.WatchSnapshot, note string) error
	close() error
}

const simBanner = "SIMULATION: no -config or -hosts given: a simulated cluster"

// jsonRenderer writes a snapshot per line.
type jsonRenderer struct {
	w         io.Writer
	simulated bool
}

func (r *jsonRenderer) render(s upgrade.WatchSnapshot, _ string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if r.simulated {
		b = cli.MarkSimulation(b)
	}
	_, err = r.w.Write(append(b, '\n'))
	return err
}

func (r *jsonRenderer) close() error { return nil }

// gapNote stands where cluster.log lines were missed.
const gapNote = "(lines missed: more written since the last look than one read holds, or the log was rotated)"

// plain writes lines for a pipe or a file: a node's state when it
// changes, every new log line, the findings when they change.
type plain struct {
	w         io.Writer
	simulated bool
	seen      map[string]string
	findings  []string
	note      string
	started   bool
}

func newPlain(w io.Writer, cfg config) *plain {
	return &plain{w: w, simulated: cfg.simulated, seen: map[string]string{}}
}

func (p *plain) render(s upgrade.WatchSnapshot, note string) error {
	var b strings.Builder
	at := s.Time.Format("15:04:05")
	if !p.started {
		p.started = true
		if p.simulated {
			b.WriteString(simBanner + "\n")
		}
	}
	if note != p.note {
		p.note = note
		if note != "" {
			fmt.Fprintf(&b, "%s simulation: %s\n", at, termsafe.Line(note))
		}
	}
	// changed writes line under key when it differs from the last one.
	changed := func(key, line string) {
		if p.seen[key] != line {
			p.seen[key] = line
			fmt.Fprintf(&b, "%s %s\n", at, line)
		}
	}
	for _, n := range s.Backends {
		name := termsafe.Line(n.Name)
		changed(n.Name, name+" "+state(n))
		changed("drbd "+n.Name, name+" drbd "+drbdLine(n))
		if n.LogGap {
			fmt.Fprintf(&b, "%s %s log: %s\n", at, name, gapNote)
		}
		for _, l := range n.Log {
			fmt.Fprintf(&b, "%s %s log: %s\n", at, name, termsafe.Line(l))
		}
	}
	for _, f := range s.Frontends {
		changed(f.Name, termsafe.Line(f.Name)+" "+frontendLine(f))
	}
	if s.Step != nil {
		for i, l := range stepLines(s.Step, s.Time.Location()) {
			changed(fmt.Sprintf("step %d", i), "upgrade "+l)
		}
	}
	if f := findingLines(s); !slices.Equal(f, p.findings) || s.Seq == 1 {
		p.findings = f
		if len(f) == 0 {
			fmt.Fprintf(&b, "%s findings: none\n", at)
		}
		for _, l := range f {
			fmt.Fprintf(&b, "%s %s\n", at, l)
		}
	}
	_, err := io.WriteString(p.w, b.String())
	return err
}

func (p *plain) close() error { return nil }

// screen redraws one screen in place on a terminal.
type screen struct {
	w         io.Writer
	cfg       config
	log       []string // the last cfg.lines lines, node-prefixed, escaped
	prefix    [2]string
	nameWidth int
}

func newScreen(w io.Writer, cfg config) *screen { return &screen{w: w, cfg: cfg} }

// ANSI: cursor home, erase to the end of the line, erase below.
const (
	ansiHome      = "\x1b[H"
	ansiEraseLine = "\x1b[K"
	ansiEraseDown = "\x1b[J"
)

func (sc *screen) render(s upgrade.WatchSnapshot, note string) error {
	nodes := s.Backends
	if sc.nameWidth == 0 {
		sc.nameWidth = len("FRONT END")
		for i, n := range nodes {
			name := termsafe.Line(n.Name)
			sc.nameWidth = max(sc.nameWidth, utf8.RuneCountInString(name))
			sc.prefix[i], _, _ = strings.Cut(name, ".")
		}
		for _, f := range s.Frontends {
			sc.nameWidth = max(sc.nameWidth, utf8.RuneCountInString(termsafe.Line(f.Name)))
		}
	}
	for i, n := range nodes {
		if n.LogGap {
			sc.log = append(sc.log, sc.prefix[i]+"  "+gapNote)
		}
		for _, l := range n.Log {
			sc.log = append(sc.log, sc.prefix[i]+"  "+termsafe.Line(l))
		}
	}
	sc.log = sc.log[max(0, len(sc.log)-sc.cfg.lines):]

	var lines []string
	lines = append(lines, fmt.Sprintf("chefha watch  %s  every %s  #%d  (Ctrl-C to stop)", s.Time.Format("15:04:05"), sc.cfg.interval, s.Seq))
	if sc.cfg.simulated {
		lines = append(lines, simBanner)
		if note != "" {
			lines = append(lines, "  "+termsafe.Line(note))
		}
	}
	lines = append(lines, "")
	row := func(name, role, status, req, lck, vip, svc string) string {
		return fmt.Sprintf("%-*s %-9s  %-7s %-9s  %-16s %-4s %s", sc.nameWidth, name, role, status, req, lck, vip, svc)
	}
	lines = append(lines, row("BACK END", "", "STATUS", "REQUESTED", "LOCK", "VIP", "SERVICES"))
	for i, n := range nodes {
		role := ""
		if i == 0 {
			role = "bootstrap"
		}
		name := termsafe.Line(n.Name)
		if n.Err != nil {
			lines = append(lines, fmt.Sprintf("%-*s %-9s  %s", sc.nameWidth, name, role, nodeErr(n.Name, n.Err)))
			continue
		}
		vip := "-"
		switch {
		case !sc.cfg.vip:
			vip = "n/a" // no backend_vip in the topology: not looked for
		case n.HasVIP:
			vip = "yes"
		}
		lines = append(lines, row(name, role, string(n.Current), string(n.Requested), lock(n), vip, services(n.Services)))
	}
	cell := func(name, what string) string { return fmt.Sprintf("%-*s %s", sc.nameWidth, name, what) }
	lines = append(lines, "", cell("DRBD", "CONNECTION ROLES DISKS"))
	for _, n := range nodes {
		lines = append(lines, cell(termsafe.Line(n.Name), drbdLine(n)))
	}
	lines = append(lines, "", cell("FRONT END", "SERVICES"))
	for _, f := range s.Frontends {
		lines = append(lines, cell(termsafe.Line(f.Name), frontendLine(f)))
	}
	if len(s.Frontends) == 0 {
		lines = append(lines, "none in the topology")
	}
	if s.Step != nil {
		lines = append(lines, "", "UPGRADE")
		lines = append(lines, stepLines(s.Step, s.Time.Location())...)
	}
	lines = append(lines, "", fmt.Sprintf("cluster.log (last %d lines)", sc.cfg.lines))
	lines = append(lines, sc.log...)
	lines = append(lines, "", "findings")
	if f := findingLines(s); len(f) > 0 {
		lines = append(lines, f...)
	} else {
		lines = append(lines, "none: one master, the other backup, no transition under way, DRBD in sync, the front ends' services up")
	}
	var b strings.Builder
	b.WriteString(ansiHome)
	for _, l := range lines {
		b.WriteString(truncate(l, sc.cfg.width) + ansiEraseLine + "\n")
	}
	b.WriteString(ansiEraseDown)
	_, err := io.WriteString(sc.w, b.String())
	return err
}

func (sc *screen) close() error { return nil }

// truncate cuts an (escaped) line to width runes, marking the cut.
func truncate(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}
