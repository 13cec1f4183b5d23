package reports

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Axes and decorations of the HTML report's charts: ticks in the units people
// read (clock times, milliseconds), step boundaries, percentile lines.

// htmlTimeSteps are the tick spacings a time axis may use, in seconds: round
// numbers on a clock.
var htmlTimeSteps = []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400}

// htmlTimeAxis turns a into an axis of seconds since the run started,
// labelled like a clock (30s, 1:30, 1:05 for an hour and five minutes), with
// at most about eight ticks.
func htmlTimeAxis(a *plot.Axis, span float64) {
	clock := func(v float64) string { return htmlSig3(v) + "s" }
	a.Label.Text = "time since start (s)"
	switch {
	case span >= 3600:
		clock = func(v float64) string {
			m := int64(math.Round(math.Abs(v) / 60))
			return fmt.Sprintf("%s%d:%02d", htmlSign(v), m/60, m%60)
		}
		a.Label.Text = "time since start (h:mm)"
	case span >= 120:
		clock = func(v float64) string {
			s := int64(math.Round(math.Abs(v)))
			return fmt.Sprintf("%s%d:%02d", htmlSign(v), s/60, s%60)
		}
		a.Label.Text = "time since start (m:ss)"
	}
	a.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		step := math.Ceil((hi-lo)/8/86400) * 86400
		for _, s := range htmlTimeSteps {
			if (hi-lo)/s <= 8 {
				step = s
				break
			}
		}
		var ticks []plot.Tick
		for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
			ticks = append(ticks, plot.Tick{Value: k * step, Label: clock(k * step)})
		}
		return ticks
	})
}

func htmlSign(v float64) string {
	if v < 0 {
		return "-"
	}
	return ""
}

// htmlNiceStep is the spacing of about n ticks over span: 1, 2, 2.5 or 5
// times a power of ten.
func htmlNiceStep(span float64, n int) float64 {
	if !(span > 0) || !htmlFinite(span) {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow10(int(math.Floor(math.Log10(raw))))
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// htmlRoundAxis makes a run from lo, or the round value below it, to a round
// value a little above hi, so that no line runs along the frame, with five
// to eight ticks labelled with format; the library's own choice is often
// three.
func htmlRoundAxis(a *plot.Axis, lo, hi float64, format func(float64) string) {
	if !(hi > lo) {
		hi = lo + 1
	}
	step := htmlNiceStep(hi-lo, 7)
	a.Min = math.Floor(lo/step) * step
	a.Max = math.Ceil((hi+0.04*(hi-lo))/step) * step
	a.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		var ticks []plot.Tick
		// Multiples of step rather than a running sum, which drifts.
		for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
			v := k * step
			if v == 0 {
				v = 0 // not -0, which would be labelled "-0"
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: format(v)})
		}
		return ticks
	})
}

// htmlLogSecondsTicks labels a logarithmic axis of seconds at each decade
// (1 ms, 10 ms, 1 s), and at 2 and 5 times it when there are few decades to
// read from, and marks the other multiples.
func htmlLogSecondsTicks(lo, hi float64) []plot.Tick {
	labelled := func(m float64) bool { return m == 1 }
	if math.Log10(hi/lo) <= 3.5 {
		labelled = func(m float64) bool { return m == 1 || m == 2 || m == 5 }
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); math.Pow10(int(e)) <= hi; e++ {
		decade := math.Pow10(int(e))
		for m := 1.0; m < 10; m++ {
			v := m * decade
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if labelled(m) {
				t.Label = htmlSeconds(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// htmlFitText shortens s with an ellipsis until it is no wider than width,
// or returns "" when not even one letter fits.
func htmlFitText(sty text.Style, s string, width vg.Length) string {
	if sty.Width(s) <= width {
		return s
	}
	r := []rune(s)
	for n := len(r) - 1; n > 0; n-- {
		short := string(r[:n]) + "…"
		if sty.Width(short) <= width {
			return short
		}
	}
	return ""
}

// htmlStepBands draws the steps behind a time chart: dashed lines at their
// boundaries, every other one shaded, and each name above the plot when it
// fits (shortened if need be).
type htmlStepBands struct {
	steps []htmlSpan
	label text.Style
}

// htmlSpan is a named interval of seconds since the run started.
type htmlSpan struct {
	Name       string
	Start, End float64
}

func htmlNewStepBands(steps []htmlSpan) htmlStepBands {
	label := htmlTextStyle(11, htmlInk)
	label.XAlign = draw.XCenter
	label.YAlign = draw.YBottom
	return htmlStepBands{steps: steps, label: label}
}

const htmlStepLabelGap = vg.Length(3)

func (b htmlStepBands) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	boundary := draw.LineStyle{Color: htmlMuted, Width: vg.Points(0.7), Dashes: []vg.Length{vg.Points(3), vg.Points(3)}}
	for i, s := range b.steps {
		lo, hi := math.Max(s.Start, p.X.Min), math.Min(s.End, p.X.Max)
		if hi <= lo {
			continue
		}
		x0, x1 := trX(lo), trX(hi)
		if i%2 == 1 {
			c.FillPolygon(htmlBand, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
		}
		if s.Start >= p.X.Min {
			c.StrokeLine2(boundary, x0, c.Min.Y, x0, c.Max.Y)
		}
		if s.End <= p.X.Max {
			c.StrokeLine2(boundary, x1, c.Min.Y, x1, c.Max.Y)
		}
		if name := htmlFitText(b.label, s.Name, x1-x0-4); name != "" {
			c.FillText(b.label, vg.Point{X: (x0 + x1) / 2, Y: c.Max.Y + htmlStepLabelGap}, name)
		}
	}
}

// GlyphBoxes reserves a line above the data for the step names.
func (b htmlStepBands) GlyphBoxes(*plot.Plot) []plot.GlyphBox {
	h := b.label.Height("Mg") + 2*htmlStepLabelGap
	return []plot.GlyphBox{{X: 0, Y: 1, Rectangle: vg.Rectangle{Max: vg.Point{Y: h}}}}
}

// htmlQuantileLines marks the fractions 0.5, 0.9 and 0.99 of a CDF, named
// p50, p90 and p99 to the right of the plot, so a percentile can be read off
// where a line crosses them.
type htmlQuantileLines struct {
	label text.Style
}

var htmlQuantiles = []struct {
	Fraction float64
	Name     string
}{{0.5, "p50"}, {0.9, "p90"}, {0.99, "p99"}}

func htmlNewQuantileLines() htmlQuantileLines {
	label := htmlTextStyle(9.5, htmlMuted)
	label.XAlign = draw.XLeft
	label.YAlign = draw.YCenter
	return htmlQuantileLines{label: label}
}

func (q htmlQuantileLines) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: htmlMuted, Width: vg.Points(0.6), Dashes: []vg.Length{vg.Points(2), vg.Points(3)}}
	for _, f := range htmlQuantiles {
		y := trY(f.Fraction)
		c.StrokeLine2(sty, c.Min.X, y, c.Max.X, y)
		c.FillText(q.label, vg.Point{X: c.Max.X + 4, Y: y}, f.Name)
	}
}

// GlyphBoxes reserves room right of the data for the percentile names.
func (q htmlQuantileLines) GlyphBoxes(*plot.Plot) []plot.GlyphBox {
	w := q.label.Width("p99") + 6
	return []plot.GlyphBox{{X: 1, Y: 0.5, Rectangle: vg.Rectangle{Max: vg.Point{X: w}}}}
}
