package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// htmlChart is one chart of the page. Its title and legend are HTML rather
// than part of the drawing, so they stay readable however narrow the window
// makes the SVG.
type htmlChart struct {
	ID     string
	Title  string
	Note   string
	SVG    template.HTML // empty when there is nothing to draw
	Legend []htmlLegendItem
	// Problem says why a chart with data has no drawing.
	Problem string
	// Small marks one of a grid of small charts.
	Small bool
}

type htmlLegendItem struct {
	Name   string
	Color  string // CSS colour
	Dashed bool
}

// The drawing size in points; the page scales it to the column's width.
const (
	htmlChartWidth  = 900
	htmlChartHeight = 300
)

// htmlPalette is Tableau 10 reordered so that neighbours contrast and the
// pale yellow is replaced by a darker olive that reads on white.
var htmlPalette = []color.RGBA{
	{0x4e, 0x79, 0xa7, 0xff}, // blue
	{0xf2, 0x8e, 0x2b, 0xff}, // orange
	{0x59, 0xa1, 0x4f, 0xff}, // green
	{0xe1, 0x57, 0x59, 0xff}, // red
	{0xb0, 0x7a, 0xa1, 0xff}, // purple
	{0x76, 0xb7, 0xb2, 0xff}, // teal
	{0x9c, 0x75, 0x5f, 0xff}, // brown
	{0xff, 0x9d, 0xa7, 0xff}, // pink
	{0xb6, 0x99, 0x2d, 0xff}, // olive
	{0x79, 0x70, 0x6e, 0xff}, // grey
}

var (
	htmlInk      = color.RGBA{0x24, 0x29, 0x2f, 0xff}
	htmlMuted    = color.RGBA{0x57, 0x60, 0x6a, 0xff}
	htmlGridLine = color.RGBA{0xe4, 0xe7, 0xeb, 0xff}
	htmlBand     = color.RGBA{0xf3, 0xf5, 0xf8, 0xff}
	htmlFont     = font.Font{Typeface: "Liberation", Variant: "Sans"}
)

// htmlLineStyle is the style of the i-th line of a chart: a colour of the
// palette, dashed once the palette has been used up.
func htmlLineStyle(i int) (draw.LineStyle, htmlLegendItem) {
	c := htmlPalette[i%len(htmlPalette)]
	sty := draw.LineStyle{Color: c, Width: vg.Points(1.6)}
	dashed := i >= len(htmlPalette)
	if dashed {
		sty.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	item := htmlLegendItem{Color: fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B), Dashed: dashed}
	return sty, item
}

func htmlTextStyle(size vg.Length, c color.Color) text.Style {
	return text.Style{
		Color:   c,
		Font:    font.From(htmlFont, size),
		Handler: plot.DefaultTextHandler,
	}
}

// htmlNewPlot is an empty plot in the page's style with the decorations
// under drawn first, then horizontal grid lines only: vertical lines are kept
// for step boundaries.
func htmlNewPlot(xLabel, yLabel string, under ...plot.Plotter) *plot.Plot {
	p := plot.New()
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(htmlFont, 11)
		a.Label.TextStyle.Color = htmlMuted
		a.Tick.Label.Font = font.From(htmlFont, 10)
		a.Tick.Label.Color = htmlMuted
		a.Color = htmlMuted
		a.Tick.Color = htmlMuted
		a.Tick.Length = vg.Points(4)
	}
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(under...)
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	grid.Horizontal.Color = htmlGridLine
	grid.Horizontal.Width = vg.Points(0.6)
	p.Add(grid)
	return p
}

// htmlFinitePoints keeps the points a chart can draw: finite, and positive
// x when the x axis is logarithmic.
func htmlFinitePoints(points [][2]float64, logX bool) plotter.XYs {
	xys := make(plotter.XYs, 0, len(points))
	for _, p := range points {
		if !htmlFinite(p[0]) || !htmlFinite(p[1]) || (logX && p[0] <= 0) {
			continue
		}
		xys = append(xys, plotter.XY{X: p[0], Y: p[1]})
	}
	return xys
}

// htmlAddLine adds one line to p and returns its legend entry.
func htmlAddLine(p *plot.Plot, i int, name string, xys plotter.XYs, step plotter.StepKind) (htmlLegendItem, error) {
	line, err := plotter.NewLine(xys)
	if err != nil {
		return htmlLegendItem{}, fmt.Errorf("line %q: %w", name, err)
	}
	sty, item := htmlLineStyle(i)
	line.LineStyle = sty
	line.StepStyle = step
	p.Add(line)
	item.Name = name
	return item, nil
}

// htmlSVG draws p and returns it as an <svg> element for inlining: without
// the XML prologue and namespaces (HTML does not need them) and with a
// viewBox but no fixed size, so that CSS sets its width. A panic inside the
// plotting library becomes an error: one chart that cannot be drawn must not
// cost the whole report.
func htmlSVG(p *plot.Plot, label string) (template.HTML, error) {
	return htmlSVGSized(p, label, htmlChartWidth, htmlChartHeight)
}

// htmlSVGSized is htmlSVG for a drawing of width × height points: small
// multiples are drawn smaller so that their text keeps its size on the page.
func htmlSVGSized(p *plot.Plot, label string, width, height vg.Length) (svg template.HTML, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("draw chart %q: %v", label, v)
		}
	}()
	c := vgsvg.New(width, height)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("draw chart %q: %w", label, err)
	}
	out := buf.String()
	start := strings.Index(out, "<svg")
	end := strings.Index(out[max(start, 0):], ">")
	if start < 0 || end < 0 {
		return "", fmt.Errorf("draw chart %q: no <svg> element in the output", label)
	}
	w := strconv.FormatFloat(float64(width), 'f', -1, 64)
	h := strconv.FormatFloat(float64(height), 'f', -1, 64)
	open := `<svg viewBox="0 0 ` + w + ` ` + h + `" role="img" aria-label="` + template.HTMLEscapeString(label) + `">`
	// The drawing's text is escaped by vgsvg; the label just above by us.
	return template.HTML(open + out[start+end+1:]), nil
}

// htmlDataRange is the extent of the points of lines, which are finite.
func htmlDataRange(lines []plotter.XYs) (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for _, xys := range lines {
		for _, p := range xys {
			xmin, xmax = math.Min(xmin, p.X), math.Max(xmax, p.X)
			ymin, ymax = math.Min(ymin, p.Y), math.Max(ymax, p.Y)
		}
	}
	return xmin, xmax, ymin, ymax
}
