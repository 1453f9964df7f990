package runreport

import (
	"fmt"
	"time"
)

func (l *svgLayout) drawLanes(p printer) {
	right := svgWidth - svgMargin
	for i, node := range l.lanes {
		y := l.laneY(i)
		fill := "#ffffff"
		if i%2 == 0 {
			fill = "#f4f4f4"
		}
		name := node
		if node == "" {
			name = "gates"
		}
		p(`<g class="lane" data-node="%s">`, esc(node))
		p(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, svgMargin, y, right-svgMargin, laneHeight, fill)
		p(`<text x="%.1f" y="%.1f" font-size="12" font-weight="bold"><title>%s</title>%s</text>`,
			svgMargin+4, y+20, esc(name), esc(fit(name, 12, l.labelW)))
		p(`<text x="%.1f" y="%.1f" fill="#555555">%s</text>`, svgMargin+4, y+35, esc(l.roles[i]))
		if node == "" && l.noGate != "" {
			p(`<text x="%.1f" y="%.1f" fill="#777777">%s</text>`, l.sc.x0+4, y+29, esc(l.noGate))
		}
		p("</g>\n")
	}
	if l.ghostX > 0 {
		top, bottom := l.laneY(0), l.laneY(len(l.lanes))
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#777777" stroke-dasharray="4 3"/>`, l.ghostX, top-14, l.ghostX, bottom)
		p(`<text x="%.1f" y="%.1f" fill="#555555">not run</text>`+"\n", l.ghostX+4, top-4)
	}
}

func (l *svgLayout) drawAxis(p printer) {
	top, y := l.laneY(0), l.axisY
	p(`<g class="axis">`)
	p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333333"/>`, l.sc.x0, y, l.sc.x1, y)
	ticks := l.sc.ticks()
	step := time.Minute
	if len(ticks) > 1 {
		step = ticks[1].Sub(ticks[0])
	}
	for _, t := range ticks {
		x := l.sc.x(t)
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#dddddd"/>`, x, top, x, y)
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333333"/>`, x, y, x, y+5)
		p(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x, y+18, tickLabel(t, step))
	}
	p(`<text x="%.1f" y="%.1f" fill="#555555">time (UTC)</text>`, svgMargin+4, y+18)
	p("</g>\n")
}

func (l *svgLayout) drawBars(p printer) {
	for _, b := range l.bars {
		y := l.laneY(b.lane) + barOffset
		dash := ""
		if b.dashed {
			dash = ` stroke-dasharray="3 2"`
		}
		p(`<rect class="%s" data-step="%s" data-node="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" stroke="%s"%s><title>%s</title></rect>`+"\n",
			esc(b.class), esc(b.step), esc(b.node), b.x, y, b.w, barHeight, b.fill, b.stroke, dash, esc(b.tip))
		if b.inside != "" && textWidth(b.inside, labelSize)+6 <= b.w {
			colour := "#ffffff"
			if b.gate || b.fill == "url(#hatch)" {
				colour = "#222222"
			}
			p(`<text x="%.1f" y="%.1f" font-size="%.0f" text-anchor="middle" fill="%s">%s</text>`+"\n",
				b.x+b.w/2, y+barHeight/2+3.5, labelSize, colour, esc(b.inside))
		}
	}
	for _, lb := range l.labels {
		p(`<text class="step-number" x="%.1f" y="%.1f" font-size="%.0f" fill="#222222">%s</text>`+"\n", lb.x, lb.y, labelSize, esc(lb.text))
	}
}

// drawMarks draws the downtime strips, the keepalived transitions and the
// start of each resumed run.
func (l *svgLayout) drawMarks(p printer, r Report) {
	for _, d := range r.Downtime {
		x0, x1 := l.sc.x(d.From), l.sc.x(d.To)
		for _, n := range d.Nodes {
			y := l.laneY(l.lane(n)) + stripOffset
			p(`<rect class="downtime" data-node="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`+"\n",
				esc(n), x0, y, max(x1-x0, 2), stripHeight, colourDown,
				esc(fmt.Sprintf("%s down %s–%s (%s): %s", d.Service, clock(d.From), clock(d.To), d.Length, d.How)))
		}
	}
	for _, t := range r.Transitions {
		x, y := l.sc.x(t.Time), l.laneY(l.lane(t.Node))+markOffset
		p(`<path class="transition" data-node="%s" d="M%.1f %.1f l-5 8 h10 z" fill="%s"><title>%s</title></path>`+"\n",
			esc(t.Node), x, y, colourTransition, esc(fmt.Sprintf("%s keepalived at %s: %s (%s)", t.Node, clock(t.Time), t.Describe(), t.Step)))
	}
	for i, t := range l.runs {
		x := l.sc.x(t)
		p(`<line class="run" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333333" stroke-dasharray="6 3"/>`, x, l.laneY(0)-12, x, l.axisY)
		p(`<text x="%.1f" y="%.1f" font-size="10">run %d</text>`+"\n", x+3, l.laneY(0)-4, i+2)
	}
}

// legendItem is a swatch and its words.
type legendItem struct {
	draw func(p printer, x, y float64)
	text string
}

func (l *svgLayout) legendItems() []legendItem {
	box := func(fill, stroke, dash string) func(printer, float64, float64) {
		return func(p printer, x, y float64) {
			p(`<rect x="%.1f" y="%.1f" width="14" height="10" fill="%s" stroke="%s"%s/>`, x, y-9, fill, stroke, dash)
		}
	}
	var items []legendItem
	for _, c := range legendOrder {
		stroke := "none"
		if c == CatGate {
			stroke = colourGateStroke
		}
		name := string(c)
		if c == CatGate {
			name = "gate (wait)"
		}
		items = append(items, legendItem{box(categoryColours[c], stroke, ""), name})
	}
	items = append(items,
		legendItem{box(colourFailed, "none", ""), "failed"},
		legendItem{box("url(#hatch)", "#9a9a9a", ""), "skipped: already done"},
		legendItem{box("#ffffff", colourFailed, ` stroke-dasharray="3 2"`), "not finished"},
		legendItem{box("#eeeeee", "#9a9a9a", ` stroke-dasharray="3 2"`), "not run"},
		legendItem{func(p printer, x, y float64) {
			p(`<path d="M%.1f %.1f l-5 8 h10 z" fill="%s"/>`, x+7, y-9, colourTransition)
		}, "keepalived transition"},
		legendItem{func(p printer, x, y float64) {
			p(`<rect x="%.1f" y="%.1f" width="14" height="5" fill="%s"/>`, x, y-5, colourDown)
		}, "service down"})
	return items
}

// legendRows lays the legend out left to right, wrapping at the width.
func (l *svgLayout) legendRows() int {
	rows, _ := l.flowLegend(nil)
	return rows
}

func (l *svgLayout) flowLegend(p printer) (int, float64) {
	x, row := svgMargin, 0
	for _, it := range l.legendItems() {
		w := 20 + textWidth(it.text, textSize) + 16
		if x+w > svgWidth-svgMargin {
			x, row = svgMargin, row+1
		}
		if p != nil {
			y := l.legendY + 20*float64(row)
			it.draw(p, x, y)
			p(`<text x="%.1f" y="%.1f">%s</text>`, x+20, y, esc(it.text))
		}
		x += w
	}
	return row + 1, x
}

func (l *svgLayout) drawLegend(p printer) {
	p(`<g class="legend">`)
	l.flowLegend(p)
	p("</g>\n")
}

// drawKey lists the numbered steps in two columns.
func (l *svgLayout) drawKey(p printer, r Report) {
	colW := (svgWidth - 2*svgMargin) / 2
	rows := (len(r.Steps) + 1) / 2
	p(`<g class="key">`)
	for i, s := range r.Steps {
		col, row := i/max(rows, 1), i%max(rows, 1)
		x, y := svgMargin+colW*float64(col), l.keyY+16*float64(row)
		fill := categoryColours[s.Category]
		switch s.Status {
		case StatusFailed:
			fill = colourFailed
		case StatusAlreadyDone, StatusDoneEarlier:
			fill = "url(#hatch)"
		case StatusNotRun:
			fill = "#eeeeee"
		}
		p(`<rect x="%.1f" y="%.1f" width="10" height="10" fill="%s" stroke="#777777" stroke-width="0.5"/>`, x, y-9, fill)
		tail := fmt.Sprintf("· %s · %s", s.Duration, s.Status)
		if s.Status == StatusNotRun {
			tail = "· " + string(s.Status)
		}
		num := fmt.Sprintf("%d", i+1)
		id := fit(s.ID, textSize, colW-40-textWidth(tail, textSize)-10)
		weight := ""
		if s.Status == StatusFailed {
			weight = ` font-weight="bold"`
		}
		p(`<text x="%.1f" y="%.1f" text-anchor="end">%s</text><text x="%.1f" y="%.1f"%s>%s <tspan fill="#555555">%s</tspan></text>`+"\n",
			x+36, y, num, x+42, y, weight, esc(id), esc(tail))
	}
	p("</g>\n")
}
