package runreport

import (
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// The picture's geometry, in pixels.
const (
	svgWidth    = 1280.0
	svgMargin   = 16.0
	laneTop     = 78.0 // y of the first lane
	laneHeight  = 54.0
	barOffset   = 15.0 // from a lane's top: the label row is above
	barHeight   = 20.0
	markOffset  = 37.0 // keepalived marks, under the bars
	stripOffset = 46.0 // the downtime strip
	stripHeight = 5.0
	minBarWidth = 4.0
	ghostStep   = 15.0 // a not-run step's slot
	labelSize   = 10.0
	textSize    = 11.0
)

// textWidth estimates how wide text is drawn (DejaVu Sans averages 0.6 em).
func textWidth(s string, size float64) float64 {
	return float64(utf8.RuneCountInString(s)) * size * 0.6
}

// fit shortens s to at most width pixels, ending it with "…".
func fit(s string, size, width float64) string {
	if textWidth(s, size) <= width {
		return s
	}
	r := []rune(s)
	n := max(int(width/(size*0.6))-1, 1)
	if n >= len(r) {
		return s
	}
	return string(r[:n]) + "…"
}

// scale maps the run's times onto the chart's x.
type scale struct {
	t0, t1 time.Time
	x0, x1 float64
}

func (s scale) x(t time.Time) float64 {
	span := s.t1.Sub(s.t0)
	if span <= 0 {
		return s.x0
	}
	return s.x0 + float64(t.Sub(s.t0))/float64(span)*(s.x1-s.x0)
}

// tickSteps are the axis' candidate tick spacings.
var tickSteps = []time.Duration{time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
	30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// ticks are round times across the scale, at most about one per 90 px.
func (s scale) ticks() []time.Time {
	span := s.t1.Sub(s.t0)
	most := max(int((s.x1-s.x0)/90), 2)
	step := tickSteps[len(tickSteps)-1]
	for _, d := range tickSteps {
		if span/d <= time.Duration(most) {
			step = d
			break
		}
	}
	var out []time.Time
	for t := s.t0.Truncate(step); !t.After(s.t1); t = t.Add(step) {
		if !t.Before(s.t0) {
			out = append(out, t)
		}
	}
	return out
}

func tickLabel(t time.Time, step time.Duration) string {
	switch {
	case step < time.Second:
		return t.UTC().Format("15:04:05.000")
	case step < time.Minute:
		return t.UTC().Format("15:04:05")
	}
	return t.UTC().Format("15:04")
}

// bar is a rectangle of the picture: a step's work on a lane, or a gate.
type bar struct {
	lane    int
	x, w    float64
	gate    bool
	step    string
	node    string
	num     int // the step's number, labelled once per step
	class   string
	fill    string
	stroke  string
	dashed  bool
	tip     string
	inside  string // text drawn in the bar when it fits
	labelAt bool   // this bar carries the step's number
}

// nudge keeps a lane's bars from hiding one another: each is at least
// minBarWidth wide and starts after the one before it ends. Steps of a
// few milliseconds stay visible, a little later than their time.
func nudge(bars []bar) {
	slices.SortStableFunc(bars, func(a, b bar) int {
		if a.lane != b.lane {
			return a.lane - b.lane
		}
		switch {
		case a.x < b.x:
			return -1
		case a.x > b.x:
			return 1
		}
		return 0
	})
	for i := range bars {
		bars[i].w = max(bars[i].w, minBarWidth)
		if i > 0 && bars[i-1].lane == bars[i].lane {
			if end := bars[i-1].x + bars[i-1].w + 1; bars[i].x < end {
				bars[i].x = end
			}
		}
	}
}

// label is a step number drawn above its bar.
type label struct {
	x, y float64
	text string
}

// placeLabels puts each step's number in its widest bar when it fits, or
// above the bar, moved right of the label before it in that lane.
func placeLabels(bars []bar, laneY func(int) float64) []label {
	key := func(b bar) string { return fmt.Sprint(b.step, "|", b.gate) }
	best := map[string]int{}
	for i, b := range bars {
		if b.num == 0 {
			continue
		}
		if j, ok := best[key(b)]; !ok || b.w > bars[j].w {
			best[key(b)] = i
		}
	}
	var out []label
	lastEnd := map[int]float64{}
	for i := range bars {
		b := &bars[i]
		if j, ok := best[key(*b)]; !ok || j != i {
			continue
		}
		text := fmt.Sprint(b.num)
		w := textWidth(text, labelSize)
		if b.w >= w+8 && !b.gate {
			b.labelAt = true
			if b.inside == "" {
				b.inside = text
			}
			continue
		}
		x := max(b.x+b.w/2-w/2, lastEnd[b.lane]+3)
		lastEnd[b.lane] = x + w
		out = append(out, label{x: x, y: laneY(b.lane) + barOffset - 3, text: text})
	}
	return out
}

// categoryColours are the bars' fills, by what the step does.
var categoryColours = map[Category]string{
	CatBackup:    "#8c6d31",
	CatStop:      "#e69f00",
	CatConfigure: "#56b4e9",
	CatInstall:   "#cc79a7",
	CatUpgrade:   "#0072b2",
	CatStart:     "#009e73",
	CatCheck:     "#9a9a9a",
	CatGate:      "#f0e442",
}

const (
	colourFailed     = "#d62728"
	colourTransition = "#7b3294"
	colourDown       = "#8b0000"
	colourGateStroke = "#a08f00"
)

// legendOrder is the legend's order of categories.
var legendOrder = []Category{CatBackup, CatStop, CatConfigure, CatInstall, CatUpgrade, CatStart, CatCheck, CatGate}
