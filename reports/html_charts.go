package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/kwok-run/kwok-run/scenario/metrics"
)

// The charts of the HTML report, built from the report's series and
// distributions.

// htmlSeriesCharts draws the series of one group over time, behind the step
// boundaries; one chart per unit, since a group may mix them (storage holds
// bytes and object counts), each then titled with its series' names. A
// group without a single drawable point gives one chart without a drawing,
// which the page shows as not measured.
func htmlSeriesCharts(r *Report, group, title, note string) []htmlChart {
	var units []string
	byUnit := map[string][]Series{}
	for _, s := range r.Series {
		if s.Group != group || len(htmlFinitePoints(s.Points, false)) == 0 {
			continue
		}
		if _, ok := byUnit[s.Unit]; !ok {
			units = append(units, s.Unit)
		}
		byUnit[s.Unit] = append(byUnit[s.Unit], s)
	}
	if len(units) == 0 {
		return []htmlChart{{ID: "chart-" + group, Title: title, Note: note}}
	}
	charts := make([]htmlChart, 0, len(units))
	for i, unit := range units {
		ch := htmlChart{ID: "chart-" + group, Title: title, Note: note}
		if len(units) > 1 {
			ch.ID = fmt.Sprintf("chart-%s-%d", group, i+1)
			var names []string
			for _, s := range byUnit[unit] {
				names = append(names, s.Name)
			}
			ch.Title = strings.Join(names, ", ")
		}
		if err := htmlDrawSeries(&ch, r, group, unit, byUnit[unit]); err != nil {
			ch.SVG, ch.Problem = "", err.Error()
		}
		charts = append(charts, ch)
	}
	return charts
}

// htmlDrawSeries fills ch with the drawing of series, which share unit.
func htmlDrawSeries(ch *htmlChart, r *Report, group, unit string, series []Series) error {
	scale, yLabel, yFormat := htmlSeriesAxis(group, unit, series)
	lines := make([]plotter.XYs, len(series))
	for i, s := range series {
		lines[i] = htmlFinitePoints(s.Points, false)
		for j := range lines[i] {
			lines[i][j].Y /= scale
		}
	}
	xmin, xmax, ymin, ymax := htmlDataRange(lines)
	spans := htmlStepSpans(r)
	for _, s := range spans {
		xmin, xmax = math.Min(xmin, s.Start), math.Max(xmax, s.End)
	}

	p := htmlNewPlot("", yLabel, htmlNewStepBands(spans))
	for i, s := range series {
		item, err := htmlAddLine(p, i, s.Name, lines[i], plotter.NoStep)
		if err != nil {
			return err
		}
		ch.Legend = append(ch.Legend, item)
	}
	p.X.Min, p.X.Max = xmin, xmax
	htmlTimeAxis(&p.X, xmax-xmin)
	// Amounts are read against zero; a chart starting elsewhere exaggerates.
	htmlRoundAxis(&p.Y, math.Min(0, ymin), math.Max(ymax, 0), yFormat)
	svg, err := htmlSVG(p, cmp.Or(ch.Title, group))
	ch.SVG = svg
	return err
}

// htmlSeriesAxis says how to show values of unit on a y axis: what to divide
// them by, the axis label and how to write a tick.
func htmlSeriesAxis(group, unit string, series []Series) (scale float64, label string, format func(float64) string) {
	switch unit {
	case string(metrics.Bytes):
		peak := 0.0
		for _, s := range series {
			for _, p := range htmlFinitePoints(s.Points, false) {
				peak = math.Max(peak, math.Abs(p.Y))
			}
		}
		quantity := "size"
		if group == GroupMemory {
			quantity = "resident memory"
		}
		scale, unit := htmlBytesScale(peak)
		if scale == htmlGiB {
			return scale, quantity + " (" + unit + ")", htmlSig3
		}
		return scale, quantity + " (" + unit + ")", htmlCount
	case string(metrics.PerSecond):
		return 1, "per second", htmlCount
	case string(metrics.Count), "":
		return 1, "objects", htmlCount
	}
	if group == GroupCPU {
		return 1, "CPU (" + unit + ")", htmlSig3
	}
	return 1, unit, htmlSig3
}

// htmlBytesScale is the unit an axis of bytes up to peak is read in: MiB,
// or GiB from 4 GiB on, where MiB would need five digits.
func htmlBytesScale(peak float64) (float64, string) {
	if peak >= 4*htmlGiB {
		return htmlGiB, "GiB"
	}
	return htmlMiB, "MiB"
}

// htmlStepSpans are the steps as intervals; a step that never ended (the run
// stopped in it) lasts until the end of the run.
func htmlStepSpans(r *Report) []htmlSpan {
	spans := make([]htmlSpan, 0, len(r.Steps))
	for _, s := range r.Steps {
		end := s.End
		if end <= s.Start {
			end = math.Max(r.Duration, s.Start)
		}
		if !htmlFinite(s.Start) || !htmlFinite(end) {
			continue
		}
		spans = append(spans, htmlSpan{Name: s.Name, Start: s.Start, End: end})
	}
	return spans
}

// htmlCDFCharts draws every distribution as a cumulative distribution, one
// chart per unit (latencies are all seconds, so in practice one chart).
func htmlCDFCharts(r *Report) []htmlChart {
	const note = "Fraction of samples at or below each latency; the further left and the steeper, the better."
	var units []string
	byUnit := map[string][]Distribution{}
	for _, d := range r.Distributions {
		if len(htmlFinitePoints(d.Points, false)) == 0 {
			continue
		}
		if _, ok := byUnit[d.Unit]; !ok {
			units = append(units, d.Unit)
		}
		byUnit[d.Unit] = append(byUnit[d.Unit], d)
	}
	if len(units) == 0 {
		return []htmlChart{{ID: "chart-latency", Note: note}}
	}
	slices.SortStableFunc(units, func(a, b string) int { return htmlBoolOrder(a != "s", b != "s") })
	charts := make([]htmlChart, 0, len(units))
	for i, unit := range units {
		ch := htmlChart{ID: "chart-latency", Note: note}
		if i > 0 {
			ch.ID = fmt.Sprintf("chart-latency-%d", i+1)
			ch.Title = "Distributions (" + unit + ")"
		}
		if err := htmlDrawCDF(&ch, unit, byUnit[unit]); err != nil {
			ch.SVG, ch.Problem = "", err.Error()
		}
		charts = append(charts, ch)
	}
	return charts
}

func htmlBoolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// htmlDrawCDF fills ch with the CDFs of dists. The x axis is logarithmic
// when the latencies span more than two decades: a 5 ms scheduling latency
// and a 3 s start-up latency are then both readable.
func htmlDrawCDF(ch *htmlChart, unit string, dists []Distribution) error {
	var positive, all []plotter.XYs
	for _, d := range dists {
		positive = append(positive, htmlFinitePoints(d.Points, true))
		all = append(all, htmlFinitePoints(d.Points, false))
	}
	lo, hi, _, _ := htmlDataRange(positive)
	logX := hi/lo > 100

	xLabel := "latency"
	p := htmlNewPlot(xLabel, "fraction of samples ≤ x", htmlNewQuantileLines())
	for i, d := range dists {
		xys := htmlFinitePoints(d.Points, logX)
		if len(xys) == 0 {
			continue
		}
		item, err := htmlAddLine(p, i, d.Metric, xys, plotter.PostStep)
		if err != nil {
			return err
		}
		item.Name = fmt.Sprintf("%s (%s samples)", d.Metric, htmlCount(float64(d.Count)))
		ch.Legend = append(ch.Legend, item)
	}
	p.Y.Min, p.Y.Max = 0, 1
	p.Y.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0"}, {Value: 0.25, Label: "0.25"}, {Value: 0.5, Label: "0.5"}, {Value: 0.75, Label: "0.75"}, {Value: 1, Label: "1"}}
	switch {
	case unit != "s":
		p.X.Label.Text = xLabel + " (" + unit + ")"
	case logX:
		p.X.Min, p.X.Max = lo, hi
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.TickerFunc(htmlLogSecondsTicks)
		p.X.Label.Text = xLabel + " (log scale)"
	default:
		xmin, xmax, _, _ := htmlDataRange(all)
		htmlRoundAxis(&p.X, math.Min(0, xmin), xmax, htmlSeconds)
	}
	svg, err := htmlSVG(p, cmp.Or(ch.Title, "latency distributions"))
	ch.SVG = svg
	return err
}
