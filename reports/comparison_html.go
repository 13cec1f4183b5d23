package reports

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kwok-run/kwok-run/scenario/metrics"
)

// WriteComparisonHTML renders a comparison as one self-contained page, like
// the run report: the verdicts, what else differs, the table, and a chart of
// each metric's runs on both sides, so a reader sees whether two sets of
// runs overlap rather than trusting a p-value alone.
func WriteComparisonHTML(w io.Writer, c *Comparison) error {
	if err := htmlComparisonTemplate.Execute(w, htmlNewComparisonView(c)); err != nil {
		return fmt.Errorf("write HTML comparison: %w", err)
	}
	return nil
}

type htmlComparisonView struct {
	C           *Comparison
	Outcome     string
	StatusClass string
	Method      string
	Rows        []htmlChangeRow
	// Breakdowns are the rows split by verb, resource or status: listed
	// folded away, and not charted.
	Breakdowns []htmlChangeRow
	Charts     []htmlChart
}

type htmlChangeRow struct {
	Mark, Class, Metric, Verdict, Base, New, Delta, P string
}

func htmlNewComparisonView(c *Comparison) htmlComparisonView {
	v := htmlComparisonView{
		C:           c,
		Outcome:     "no regression",
		StatusClass: Passed,
		Method: fmt.Sprintf("Medians. With %d or more runs a side, a two-sided Mann–Whitney U test at alpha %s decides the verdict; with fewer, a change past the threshold is taken at its word (untested).",
			MinRuns, strconv.FormatFloat(c.Alpha, 'g', -1, 64)),
	}
	if reg := c.Regressions(); len(reg) > 0 {
		// The page's title is the count; the table lists them first.
		v.Outcome, v.StatusClass = plural(len(reg), "regression"), Failed
	}
	for _, r := range sortedChanges(c) {
		row := htmlChangeRow{
			Mark: changeMark(r), Metric: r.Metric, Verdict: string(r.Verdict),
			Base: sideValue(r.Metric, r.BaseMedian, len(r.Base)), New: sideValue(r.Metric, r.NewMedian, len(r.New)),
			Delta: delta(r.Delta), P: pValue(r),
		}
		switch {
		case r.Regression:
			row.Class = "fail"
		case r.Verdict == VerdictWorse:
			row.Class = "warn"
		case r.Verdict == VerdictBetter:
			row.Class = "pass"
		}
		if r.Breakdown {
			v.Breakdowns = append(v.Breakdowns, row)
			continue
		}
		v.Rows = append(v.Rows, row)
		if len(r.Base) > 0 && len(r.New) > 0 {
			v.Charts = append(v.Charts, htmlDistributionChart(len(v.Charts), r))
		}
	}
	return v
}

// The size of one small distribution chart, in points.
const (
	htmlSmallWidth  = 440
	htmlSmallHeight = 120
)

// htmlDistributionChart draws each run of both sides of r as a dot on one
// axis, base above new, with each side's median as a bar.
func htmlDistributionChart(i int, r MetricChange) htmlChart {
	ch := htmlChart{ID: fmt.Sprintf("distribution-%d", i+1), Title: r.Metric, Small: true,
		Note: string(r.Verdict) + " · " + delta(r.Delta)}
	if r.Tested() {
		ch.Note += " · p " + pValue(r)
	}
	scale, unit, format := htmlValueAxis(r.Metric, r.Unit, slices.Concat(r.Base, r.New))
	p := htmlNewPlot(unit, "")
	lo, hi := math.Inf(1), math.Inf(-1)
	for side, vals := range [][]float64{r.New, r.Base} {
		var dots plotter.XYs
		for _, x := range htmlSpread(vals) {
			if !htmlFinite(x[0]) {
				continue
			}
			dots = append(dots, plotter.XY{X: x[0] / scale, Y: float64(side) + x[1]})
			lo, hi = math.Min(lo, x[0]/scale), math.Max(hi, x[0]/scale)
		}
		if len(dots) == 0 {
			continue
		}
		colour := htmlPalette[1-side]
		med := median(vals) / scale
		bar, err := plotter.NewLine(plotter.XYs{{X: med, Y: float64(side) - 0.32}, {X: med, Y: float64(side) + 0.32}})
		if err != nil {
			ch.Problem = err.Error()
			return ch
		}
		bar.LineStyle = draw.LineStyle{Color: colour, Width: vg.Points(2.4)}
		sc, err := plotter.NewScatter(dots)
		if err != nil {
			ch.Problem = err.Error()
			return ch
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colour, Radius: vg.Points(3.2), Shape: draw.RingGlyph{}}
		p.Add(bar, sc)
	}
	if math.IsInf(lo, 0) {
		ch.Problem = "No finite value to draw."
		return ch
	}
	if hi == lo {
		// One value on both sides: centre it on a small span of its own size.
		pad := math.Max(math.Abs(lo)*0.05, 1e-9)
		lo, hi = lo-pad, hi+pad
	}
	htmlRoundAxis(&p.X, lo, hi, format)
	p.Y.Min, p.Y.Max = -0.6, 1.6
	p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "new"}, {Value: 1, Label: "base"}})
	svg, err := htmlSVGSized(p, r.Metric, htmlSmallWidth, htmlSmallHeight)
	ch.SVG = svg
	if err != nil {
		ch.SVG, ch.Problem = "", err.Error()
	}
	return ch
}

// htmlSpread gives each value a vertical offset so that equal values (counts
// often are) show as several dots rather than one: the k-th repeat of a
// value moves alternately above and below its row.
func htmlSpread(vals []float64) [][2]float64 {
	seen := map[float64]int{}
	out := make([][2]float64, len(vals))
	for i, v := range vals {
		k := seen[v]
		seen[v]++
		off := 0.11 * float64((k+1)/2)
		if k%2 == 1 {
			off = -off
		}
		out[i] = [2]float64{v, math.Max(-0.45, math.Min(0.45, off))}
	}
	return out
}

// htmlValueAxis says how to show a metric's values along an axis: bytes in
// MiB or GiB, seconds and rates as the tables write them.
func htmlValueAxis(metric string, unit metrics.Unit, vals []float64) (scale float64, label string, format func(float64) string) {
	if unit == metrics.Bytes {
		peak := 0.0
		for _, v := range vals {
			if htmlFinite(v) {
				peak = math.Max(peak, math.Abs(v))
			}
		}
		scale, unit := htmlBytesScale(peak)
		return scale, unit, htmlSig3
	}
	return 1, string(unit), func(v float64) string { return value(metric, v) }
}

var htmlComparisonTemplate = template.Must(template.New("comparison").Parse(htmlComparisonText + htmlChartTemplateText))

const htmlComparisonText = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Outcome}} — kwok-run compare</title>
<style>` + htmlStyle + `</style>
</head>
<body>
<header class="top {{.StatusClass}}">
<div class="wrap">
<div class="eyebrow">kwok-run comparison</div>
<div class="headline"><h1>{{.Outcome}}</h1></div>
<dl class="facts">
<div class="wide"><dt>base</dt><dd><code>{{.C.Base.Label}}</code> · {{len .C.Base.Runs}} run{{if ne (len .C.Base.Runs) 1}}s{{end}}</dd></div>
<div class="wide"><dt>new</dt><dd><code>{{.C.New.Label}}</code> · {{len .C.New.Runs}} run{{if ne (len .C.New.Runs) 1}}s{{end}}</dd></div>
</dl>
<p class="note">{{.Method}}</p>
</div>
</header>
<main class="wrap">
<section id="differences">
<h2>Besides the metrics</h2>
{{if .C.Differences}}<ul>{{range .C.Differences}}<li>{{.}}</li>
{{end}}</ul>{{else}}<p class="missing">Nothing else differs: same scenario, versions, flags and variables.</p>{{end}}
</section>
<section id="metrics">
<h2>Metrics</h2>
{{template "changes" .Rows}}
{{with .Breakdowns}}<details><summary>{{len .}} breakdowns by verb, resource or status (they do not fail the comparison unless asked to)</summary>
{{template "changes" .}}</details>{{end}}
</section>
<section id="distributions">
<h2>Distributions</h2>
<p class="note">Every run of each side, base above new; the bar is the side's median.</p>
{{if .Charts}}<div class="grid">{{range .Charts}}{{template "chart" .}}{{end}}</div>{{else}}<p class="missing">No metric was measured on both sides.</p>{{end}}
</section>
</main>
</body>
</html>
{{define "changes"}}<div class="scroll"><table class="numbers changes">
<thead><tr><th></th><th>Metric</th><th>Verdict</th><th class="num">Base</th><th class="num">New</th><th class="num">Delta</th><th class="num">p</th></tr></thead>
<tbody>{{range .}}<tr{{with .Class}} class="{{.}}"{{end}}><td>{{.Mark}}</td><th scope="row"><code>{{.Metric}}</code></th><td>{{.Verdict}}</td><td class="num">{{.Base}}</td><td class="num">{{.New}}</td><td class="num">{{.Delta}}</td><td class="num">{{.P}}</td></tr>
{{end}}</tbody></table></div>{{end}}
`
