package runreport

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/chefha/chefha/upgrade"
)

// WriteSVG draws the run as a timeline: a lane per node and one for the
// cluster-wide gates; each step as bars where and when it acted, coloured
// by what it does (red when it failed, hatched when it was skipped as
// already done, grey in a "not run" column when the run never reached it);
// each gate as a bar of its wait; keepalived transitions as marks; the
// service downtime as a strip under each lane; a time axis, a legend and
// a key of the numbered steps. Every string is escaped for XML.
func (r Report) WriteSVG(w io.Writer) error {
	lay := r.layout()
	b := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="DejaVu Sans, Verdana, Arial, sans-serif" font-size="%.0f">`+"\n",
		svgWidth, lay.height, svgWidth, lay.height, textSize)
	p("<title>%s</title>\n", esc(r.Title))
	p(`<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
		`<rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#9a9a9a" stroke-width="3"/></pattern></defs>` + "\n")
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	p(`<text class="title" x="%.0f" y="26" font-size="18" font-weight="bold">%s</text>`+"\n", svgMargin, esc(r.Title))
	p(`<text class="subtitle" x="%.0f" y="46" fill="#444444">%s</text>`+"\n", svgMargin, esc(r.subtitle()))
	if down := r.downSummary(); down != "" {
		p(`<text class="subtitle" x="%.0f" y="62" fill="%s">%s</text>`+"\n", svgMargin, colourDown, esc(down))
	}
	if e := r.Error; e != nil {
		// Bold text is wider than fit reckons: leave it a tenth more room.
		p(`<text class="error" x="%.0f" y="78" fill="%s" font-weight="bold"><title>%s</title>%s</text>`+"\n",
			svgMargin, colourFailed, esc(e.Message), esc(fit(errorLine(e), textSize, 0.9*(svgWidth-2*svgMargin))))
	}
	lay.drawLanes(p)
	lay.drawAxis(p)
	lay.drawBars(p)
	lay.drawMarks(p, r)
	lay.drawLegend(p)
	lay.drawKey(p, r)
	for i, line := range r.footer() {
		p(`<text class="footer" x="%.0f" y="%.1f">%s</text>`+"\n", svgMargin, lay.footerY+16*float64(i), esc(fit(line, textSize, svgWidth-2*svgMargin)))
	}
	p("</svg>\n")
	return b.Flush()
}

func (r Report) subtitle() string {
	s := fmt.Sprintf("plan %s · %s → %s · took %s", r.PlanHash, stamp(r.Started), clock(r.Ended), r.Duration)
	if len(r.Runs) > 1 {
		s += fmt.Sprintf(" · %d runs", len(r.Runs))
	}
	return s + " · from " + r.Source
}

func (r Report) downSummary() string {
	var parts []string
	for _, d := range r.Downtime {
		s := fmt.Sprintf("%s down %s", d.Service, d.Length)
		if d.Open {
			s += " (still down)"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return ""
	}
	return "downtime: " + strings.Join(parts, " · ")
}

// errorLine is the run's error on one line: "failed at STEP on NODE: why".
func errorLine(e *upgrade.EventError) string {
	msg := strings.Join(strings.Fields(e.Message), " ")
	if e.Step == "" {
		return string(e.Type) + ": " + msg
	}
	// A StepError reads "step ID (title) on NODE: why".
	marker := "): "
	if e.Node != "" {
		marker = ") on " + e.Node + ": "
	}
	if i := strings.Index(msg, marker); strings.HasPrefix(msg, "step "+e.Step+" (") && i >= 0 {
		msg = msg[i+len(marker):]
	}
	where := e.Step
	if e.Node != "" {
		where += " on " + e.Node
	}
	return "failed at " + where + ": " + msg
}

// esc is text for XML content and attribute values; characters XML cannot
// hold become U+FFFD.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// svgLayout is the picture worked out before it is drawn.
type svgLayout struct {
	lanes   []string // "" is the cluster lane
	roles   []string
	labelW  float64
	sc      scale
	ghostX  float64 // where the not-run column starts (0: none)
	noGate  string  // why the gates' lane is empty
	top     float64 // y of the first lane
	bars    []bar
	labels  []label
	runs    []time.Time
	axisY   float64
	legendY float64
	keyY    float64
	footerY float64 // the first line under the key
	height  float64
}

func (l *svgLayout) laneY(i int) float64 { return l.top + float64(i)*laneHeight }

func (l *svgLayout) lane(node string) int {
	if i := slices.Index(l.lanes, node); i >= 0 {
		return i
	}
	l.lanes = append(l.lanes, node)
	l.roles = append(l.roles, "")
	return len(l.lanes) - 1
}

func (r Report) layout() *svgLayout {
	l := &svgLayout{lanes: []string{""}, roles: []string{"cluster-wide"}, labelW: 150, top: laneTop}
	if r.Error != nil {
		l.top += 16 // the error's line
	}
	for _, n := range r.Nodes {
		l.lanes = append(l.lanes, n.Name)
		l.roles = append(l.roles, n.Role.String())
	}
	for _, n := range l.lanes {
		l.labelW = max(l.labelW, min(textWidth(n, 12)+8, 260))
	}
	var notRun []int
	t0, t1 := r.Started, r.Ended
	for i, s := range r.Steps {
		if s.Status == StatusNotRun {
			notRun = append(notRun, i)
			continue
		}
		if t0.IsZero() || (!s.Start.IsZero() && s.Start.Before(t0)) {
			t0 = s.Start
		}
		t1 = later(t1, s.End)
	}
	if t1.Before(t0) {
		t1 = t0
	}
	x1 := svgWidth - svgMargin - 14 // room for the last step's number
	if len(notRun) > 0 {
		x1 -= 34 + ghostStep*float64(len(notRun))
		l.ghostX = x1 + 14
	}
	l.sc = scale{t0: t0, t1: t1, x0: svgMargin + l.labelW + 10, x1: x1}
	for i, s := range r.Steps {
		l.stepBars(s, i+1, slices.Index(notRun, i))
	}
	for _, g := range r.Gates {
		l.gateBar(g, r.stepIndex(g.Step)+1)
	}
	switch {
	case len(r.Gates) > 0:
	case r.DryRun:
		l.noGate = "a dry run waits for nothing"
	case len(r.Runs) == 0:
		l.noGate = "no gate waits in the record: the journal keeps only finished steps"
	default:
		l.noGate = "no gate waited"
	}
	for _, t := range r.Transitions {
		l.lane(t.Node)
	}
	for _, d := range r.Downtime {
		for _, n := range d.Nodes {
			l.lane(n)
		}
	}
	// Every lane exists by now: lay out what comes below them.
	nudge(l.bars)
	l.labels = placeLabels(l.bars, l.laneY)
	for i, run := range r.Runs {
		if i > 0 {
			l.runs = append(l.runs, run.Started)
		}
	}
	l.axisY = l.laneY(len(l.lanes)) + 4
	l.legendY = l.axisY + 44
	l.keyY = l.legendY + 20*float64(l.legendRows()) + 14
	l.height = l.keyY + 16*float64((len(r.Steps)+1)/2) + 12
	l.footerY = l.height + 4
	l.height += 16 * float64(len(r.footer()))
	return l
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// stepBars adds a step's bars: its work per node, or, with no record of
// its actions, its whole span on each of its nodes; a step the run never
// reached gets a slot in the not-run column (ghost ≥ 0).
func (l *svgLayout) stepBars(s Step, num, ghost int) {
	fill := categoryColours[s.Category]
	stroke, dashed, class := "none", false, "bar step cat-"+string(s.Category)
	switch s.Status {
	case StatusFailed:
		fill = colourFailed
	case StatusAlreadyDone, StatusDoneEarlier:
		fill, stroke = "url(#hatch)", categoryColours[s.Category]
	case StatusUnfinished:
		stroke, dashed = colourFailed, true
	case StatusNotRun:
		fill, stroke, dashed = "#eeeeee", "#9a9a9a", true
	}
	class += " status-" + strings.NewReplacer(" ", "-", ":", "").Replace(string(s.Status))
	nodes := s.Nodes
	if len(nodes) == 0 {
		nodes = []string{""}
	}
	add := func(node string, x, w float64, tip string) {
		l.bars = append(l.bars, bar{lane: l.lane(node), x: x, w: w, step: s.ID, node: node, num: num, class: class,
			fill: fill, stroke: stroke, dashed: dashed, tip: tip})
	}
	if ghost >= 0 {
		for _, n := range nodes {
			add(n, l.ghostX+8+ghostStep*float64(ghost), ghostStep-5, fmt.Sprintf("%d %s: not run", num, s.ID))
		}
		return
	}
	spans := s.Work
	if len(spans) == 0 {
		end := s.End
		if s.Actions > 0 {
			end = s.Start // it only waited: the wait is drawn as a gate
		}
		for _, n := range nodes {
			spans = append(spans, Span{Node: n, Start: s.Start, End: end})
		}
	}
	for _, sp := range spans {
		on := []string{sp.Node}
		if sp.Node == "" {
			on = nodes
		}
		tip := fmt.Sprintf("%d %s: %s–%s (%s), %s", num, s.ID, clock(sp.Start), clock(sp.End), Duration(sp.End.Sub(sp.Start)), s.Status)
		if s.Status == StatusFailed && s.Error != "" {
			tip += ": " + s.Error
		}
		for _, n := range on {
			add(n, l.sc.x(sp.Start), l.sc.x(sp.End)-l.sc.x(sp.Start), tip)
		}
	}
}

func (l *svgLayout) gateBar(g Gate, num int) {
	x0, x1 := l.sc.x(g.Start), l.sc.x(g.End)
	fill, stroke, dashed := categoryColours[CatGate], colourGateStroke, g.Retry
	if g.Result == GateFailed {
		stroke = colourFailed
	}
	if g.Result == GateSkipped {
		fill = "url(#hatch)"
	}
	what := g.Spec
	if g.Retry {
		what = "a stable master before running the failed command again"
	}
	tip := fmt.Sprintf("gate of %d %s: %s at %s, waited %s: %s", num, g.Step, g.Result, clock(g.Start), g.Waited, what)
	l.bars = append(l.bars, bar{lane: 0, x: x0, w: x1 - x0, gate: true, step: g.Step, num: num, class: "bar gate result-" + string(g.Result),
		fill: fill, stroke: stroke, dashed: dashed, tip: tip, inside: g.Waited.String()})
}
