package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Colours of the charts: kept (or docs) and rejected (or bytes).
const (
	colourA     = "#3b6fb6"
	colourB     = "#e08a2c"
	colourThres = "#c62828"
)

// hbar is one row of a horizontal bar chart: values are fractions of the
// full bar width, one per series.
type hbar struct {
	Label  string
	Values []float64
	Note   string // text after the bars
}

// hbarSVG draws rows of horizontal bars, one thin bar per series.
func hbarSVG(title string, rows []hbar, colours, legend []string) template.HTML {
	const (
		labelW = 300
		barW   = 360
		noteW  = 200
		barH   = 10
		gap    = 8
		top    = 24
	)
	nSeries := len(colours)
	rowH := nSeries*barH + gap
	h := top + len(rows)*rowH + 4
	w := labelW + barW + noteW
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`, w, h, w, h, esc(title))
	x := labelW
	for i, name := range legend {
		fmt.Fprintf(&b, `<rect x="%d" y="6" width="10" height="10" fill="%s"/><text x="%d" y="15" class="legend">%s</text>`, x, colours[i], x+14, esc(name))
		x += 14 + 8*len([]rune(name)) + 16
	}
	for i, r := range rows {
		y := top + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" class="label">%s</text>`, labelW-6, y+nSeries*barH/2+4, esc(r.Label))
		for s, v := range r.Values {
			v = math.Max(0, math.Min(1, v))
			bw := v * barW
			if v > 0 && bw < 1 {
				bw = 1
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`,
				labelW, y+s*barH, bw, barH-1, colours[s%len(colours)], esc(r.Label+": "+r.Note))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="note">%s</text>`, labelW+barW+6, y+nSeries*barH/2+4, esc(r.Note))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// histSVG draws a histogram: kept and rejected counts stacked per bin,
// and a dashed vertical line at each threshold inside the range.
func histSVG(h Histogram) template.HTML {
	const (
		w, ht       = 380, 170
		left, right = 40, 10
		top, bottom = 28, 22
	)
	pw, ph := float64(w-left-right), float64(ht-top-bottom)
	var peak int64
	for i := range h.Kept {
		peak = max(peak, h.Kept[i]+h.Rejected[i])
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="hist" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`, w, ht, w, ht, esc(h.Column))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, left, ht-bottom, w-right, ht-bottom)
	n := len(h.Kept)
	bw := pw / float64(max(n, 1))
	for i := 0; i < n; i++ {
		x := float64(left) + float64(i)*bw
		lo := h.Lo + (h.Hi-h.Lo)*float64(i)/float64(n)
		hi := h.Lo + (h.Hi-h.Lo)*float64(i+1)/float64(n)
		kh, rh := 0.0, 0.0
		if peak > 0 {
			kh = float64(h.Kept[i]) / float64(peak) * ph
			rh = float64(h.Rejected[i]) / float64(peak) * ph
		}
		tip := fmt.Sprintf("[%s, %s): kept %d, rejected %d", formatNum(lo), formatNum(hi), h.Kept[i], h.Rejected[i])
		base := float64(ht - bottom)
		fmt.Fprintf(&b, `<rect class="kept" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
			x+0.5, base-kh, bw-1, kh, colourA, esc(tip))
		fmt.Fprintf(&b, `<rect class="rejected" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
			x+0.5, base-kh-rh, bw-1, rh, colourB, esc(tip))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis">%s</text>`, left, ht-6, esc(formatNum(h.Lo)))
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis" text-anchor="end">%s</text>`, w-right, ht-6, esc(formatNum(h.Hi)))
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis" text-anchor="end">%d</text>`, left-4, top+8, peak)
	k := 0
	for _, t := range h.Thresholds {
		if t.Value < h.Lo || t.Value > h.Hi || h.Hi <= h.Lo {
			continue
		}
		x := float64(left) + (t.Value-h.Lo)/(h.Hi-h.Lo)*pw
		label := thresholdLabel(t)
		fmt.Fprintf(&b, `<line class="threshold" data-column="%s" data-value="%s" x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="1.5" stroke-dasharray="4 3"><title>%s</title></line>`,
			esc(t.Column), esc(formatNum(t.Value)), x, top-4, x, ht-bottom, colourThres, esc(label))
		anchor := "start"
		if x > float64(w)/2 {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="thr" text-anchor="%s" fill="%s">%s</text>`, x, 10+10*(k%2), anchor, colourThres, esc(label))
		k++
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// thresholdLabel is "max 0.3 (zh, default)".
func thresholdLabel(t Threshold) string {
	return t.Op + " " + formatNum(t.Value) + " (" + strings.Join(t.Langs, ", ") + ")"
}

func esc(s string) string { return html.EscapeString(s) }
