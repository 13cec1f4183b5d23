package reports

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// WriteSweepHTML renders a sweep as one self-contained page: a chart of each
// chosen metric against the first swept variable (a line per combination of
// the others), the fitted growth under it, and the table of medians.
func WriteSweepHTML(w io.Writer, s *Sweep) error {
	if err := htmlSweepTemplate.Execute(w, htmlNewSweepView(s)); err != nil {
		return fmt.Errorf("write HTML sweep: %w", err)
	}
	return nil
}

type htmlSweepView struct {
	S           *Sweep
	Title       string
	StatusClass string
	Runs        int
	Charts      []htmlSweepChart
	Table       htmlTable
}

type htmlSweepChart struct {
	Chart   htmlChart
	Growths []string
}

// htmlTable is a table of text cells; columns from Right on are numbers.
type htmlTable struct {
	Header []string
	Rows   [][]string
	Right  int
}

func htmlNewSweepView(s *Sweep) htmlSweepView {
	t := sweepTable(s)
	v := htmlSweepView{S: s, Title: t.title, StatusClass: Passed, Table: htmlTable{Header: t.header, Rows: t.rows, Right: t.right}}
	for _, p := range s.Points {
		v.Runs += p.Runs
		if p.Outcome != Passed {
			v.StatusClass = htmlStatusClass(p.Outcome)
		}
	}
	growths := s.Growths()
	for i, m := range s.Metrics {
		ch := htmlSweepChart{Chart: htmlSweepMetricChart(s, i, m)}
		for _, g := range growths {
			if g.Metric == m {
				ch.Growths = append(ch.Growths, growthLine(g))
			}
		}
		v.Charts = append(v.Charts, ch)
	}
	return v
}

// htmlSweepMetricChart draws metric m against the first swept variable: on
// a numeric axis when its values are numbers, else at evenly spaced
// positions named by the values. A point whose runs did not pass is a cross.
func htmlSweepMetricChart(s *Sweep, i int, m string) htmlChart {
	ch := htmlChart{ID: fmt.Sprintf("sweep-%d", i+1), Title: m}
	ch.Note = describe(m).Description
	xs, numeric := s.xValues()
	if !numeric {
		xs = make([]float64, len(s.Points))
		for j := range xs {
			xs[j] = float64(j)
		}
	}
	var all []float64
	for _, p := range s.Points {
		if v, ok := p.Metrics[m]; ok {
			all = append(all, v)
		}
	}
	if len(all) == 0 {
		ch.Problem = "Not measured at any point."
		return ch
	}
	scale, unit, format := htmlValueAxis(m, describe(m).Unit, all)
	p := htmlNewPlot(s.Variables[0], unit)
	var drawn []plotter.XYs
	for k, line := range s.Lines() {
		var xys, failed plotter.XYs
		for _, j := range line.Points {
			v, ok := s.Points[j].Metrics[m]
			if !ok || !htmlFinite(v) {
				continue
			}
			pt := plotter.XY{X: xs[j], Y: v / scale}
			xys = append(xys, pt)
			if s.Points[j].Outcome != Passed {
				failed = append(failed, pt)
			}
		}
		if len(xys) == 0 {
			continue
		}
		name := cmp.Or(line.At, s.Scenario)
		item, err := htmlAddLine(p, k, name, xys, plotter.NoStep)
		if err != nil {
			ch.Problem = err.Error()
			return ch
		}
		sty, _ := htmlLineStyle(k)
		dots, err := plotter.NewScatter(xys)
		if err != nil {
			ch.Problem = err.Error()
			return ch
		}
		dots.GlyphStyle = draw.GlyphStyle{Color: sty.Color, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
		p.Add(dots)
		if len(failed) > 0 {
			crosses, err := plotter.NewScatter(failed)
			if err != nil {
				ch.Problem = err.Error()
				return ch
			}
			crosses.GlyphStyle = draw.GlyphStyle{Color: htmlPalette[3], Radius: vg.Points(6), Shape: draw.CrossGlyph{}}
			p.Add(crosses)
		}
		ch.Legend = append(ch.Legend, item)
		drawn = append(drawn, xys)
	}
	if len(drawn) == 0 {
		ch.Problem = "No finite value to draw."
		return ch
	}
	xmin, xmax, ymin, ymax := htmlDataRange(drawn)
	if numeric {
		pad := math.Max((xmax-xmin)*0.04, math.Abs(xmax)*0.01)
		htmlRoundAxis(&p.X, xmin-pad, xmax+pad, htmlSig3)
	} else {
		p.X.Min, p.X.Max = -0.5, float64(len(s.Points))-0.5
		var ticks []plot.Tick
		for j, pt := range s.Points {
			ticks = append(ticks, plot.Tick{Value: float64(j), Label: pt.Values[0]})
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
	}
	// Amounts are read against zero, as in the run report.
	htmlRoundAxis(&p.Y, math.Min(0, ymin), math.Max(ymax, 0), format)
	if len(s.Lines()) == 1 {
		ch.Legend = nil // one line needs no key
	}
	svg, err := htmlSVGSized(p, m, htmlChartWidth, 260)
	ch.SVG = svg
	if err != nil {
		ch.SVG, ch.Problem = "", err.Error()
	}
	return ch
}

var htmlSweepTemplate = template.Must(template.New("sweep").Funcs(template.FuncMap{
	"numeric": func(t htmlTable, col int) bool { return t.Right > 0 && col >= t.Right },
	"count":   strconv.Itoa,
}).Parse(htmlSweepText + htmlChartTemplateText))

const htmlSweepText = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.S.Scenario}} sweep — kwok-run</title>
<style>` + htmlStyle + `</style>
</head>
<body>
<header class="top {{.StatusClass}}">
<div class="wrap">
<div class="eyebrow">kwok-run sweep</div>
<div class="headline"><h1>{{or .S.Scenario "unnamed scenario"}}</h1></div>
{{with .S.Stopped}}<pre class="error">Stopped early: {{.}}</pre>{{end}}
<dl class="facts">
<div class="wide"><dt>swept</dt><dd>{{range $i, $v := .S.Variables}}{{if $i}}, {{end}}<code>{{$v}}</code>{{end}}</dd></div>
<div><dt>points</dt><dd>{{len .S.Points}}</dd></div>
<div><dt>runs</dt><dd>{{count .Runs}}</dd></div>
</dl>
</div>
</header>
<main class="wrap">
<section id="charts">
<h2>Metrics against {{index .S.Variables 0}}</h2>
<p class="note">Medians of each point's runs; a cross marks a point whose run did not pass. Growth is the least-squares line through the medians.</p>
{{range .Charts}}{{template "chart" .Chart}}{{with .Growths}}<ul class="growths">{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{end}}</section>
<section id="table">
<h2>{{.Title}}</h2>
{{$t := .Table}}<div class="scroll"><table class="numbers">
<thead><tr>{{range $i, $h := $t.Header}}<th{{if numeric $t $i}} class="num"{{end}}>{{$h}}</th>{{end}}</tr></thead>
<tbody>{{range $t.Rows}}<tr>{{range $i, $c := .}}<td{{if numeric $t $i}} class="num"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</tbody></table></div>
<p class="note">Each point's runs are in its own directory: {{range $i, $p := .S.Points}}{{if $i}}, {{end}}<code>{{$p.Dir}}</code>{{end}}.</p>
</section>
</main>
</body>
</html>
`
