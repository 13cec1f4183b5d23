package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/renameio/v2"
)

// SweepFile is the sweep's result, beside its points' directories.
const SweepFile = "sweep.json"

// DefaultSweepMetrics are what capacity planning asks first: pod start-up,
// how fast the scheduler keeps up, and what the apiserver and etcd cost.
var DefaultSweepMetrics = []string{
	"pod_startup_latency.p50", "pod_startup_latency.p99", "scheduling_throughput.mean",
	"component_rss_peak_bytes.apiserver", "component_cpu_seconds.apiserver", "etcd_db_size_bytes",
}

// Sweep is one scenario run over combinations of variable values.
type Sweep struct {
	Scenario string `json:"scenario"`
	// Variables are the swept variables, in the order of each point's
	// Values.
	Variables []string     `json:"variables"`
	Metrics   []string     `json:"metrics"`
	Points    []SweepPoint `json:"points"`
	// Stopped says why the sweep ended before its last point.
	Stopped string `json:"stopped,omitempty"`
}

// SweepPoint is one combination and what its runs measured.
type SweepPoint struct {
	Values []string `json:"values"`
	// Dir is the point's results directory, relative to the sweep's.
	Dir  string `json:"dir"`
	Runs int    `json:"runs"`
	// Outcome is the worst status of the point's runs.
	Outcome string `json:"outcome"`
	// Metrics are the medians over the runs, every metric measured.
	Metrics map[string]float64 `json:"metrics"`
}

// NewSweepPoint sums up a point's runs.
func NewSweepPoint(values []string, dir string, s Side) SweepPoint {
	p := SweepPoint{Values: values, Dir: dir, Runs: len(s.Runs), Outcome: Passed, Metrics: map[string]float64{}}
	for _, r := range s.Runs {
		if r.Outcome.Status != Passed {
			p.Outcome = r.Outcome.Status
		}
	}
	for name, m := range Aggregate(s).Metrics {
		p.Metrics[name] = m.Median
	}
	return p
}

// Growth is a straight line fitted to a metric against the first swept
// variable: how much the metric grows per Per units of the variable, with
// the other swept variables held at At (empty when only one was swept).
type Growth struct {
	Metric   string  `json:"metric"`
	Variable string  `json:"variable"`
	At       string  `json:"at,omitempty"`
	Per      float64 `json:"per"`
	Slope    float64 `json:"slope"`
	// R2 says how well a line describes the points (1 is a line).
	R2 float64 `json:"r2"`
}

// Growths fits each metric against the first swept variable when its values
// are numbers, once per combination of the other swept variables that has
// three or more points; growth per 1,000 (or per 100, or 1) units, whichever
// suits the variable's values.
func (s *Sweep) Growths() []Growth {
	if len(s.Variables) == 0 {
		return nil
	}
	xs, ok := s.xValues()
	if !ok {
		return nil
	}
	per := 1.0
	for _, x := range xs {
		for per*10 <= math.Abs(x) && per < 1000 {
			per *= 10
		}
	}
	var out []Growth
	for _, line := range s.Lines() {
		if len(line.Points) < 3 {
			continue
		}
		for _, m := range s.Metrics {
			var px, py []float64
			for _, i := range line.Points {
				if v, ok := s.Points[i].Metrics[m]; ok {
					px, py = append(px, xs[i]), append(py, v)
				}
			}
			slope, r2, ok := fitLine(px, py)
			if !ok {
				continue
			}
			out = append(out, Growth{Metric: m, Variable: s.Variables[0], At: line.At, Per: per, Slope: slope * per, R2: r2})
		}
	}
	return out
}

// xValues are the points' values of the first swept variable as numbers,
// when every one is a number.
func (s *Sweep) xValues() ([]float64, bool) {
	xs := make([]float64, len(s.Points))
	for i, p := range s.Points {
		if len(p.Values) == 0 {
			return nil, false
		}
		x, err := strconv.ParseFloat(p.Values[0], 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, false
		}
		xs[i] = x
	}
	return xs, true
}

// SweepLine is the points that share the values of every swept variable
// but the first: one line of a chart against the first.
type SweepLine struct {
	// At names the other variables' values ("pods_per_node=10"), empty when
	// one variable was swept.
	At string
	// Points index the sweep's points, in the sweep's order.
	Points []int
}

// Lines groups the points by the values of the variables after the first,
// in the order each combination first appears.
func (s *Sweep) Lines() []SweepLine {
	var lines []SweepLine
	index := map[string]int{}
	for i, p := range s.Points {
		var at []string
		for j, name := range s.Variables[1:] {
			if j+1 < len(p.Values) {
				at = append(at, name+"="+p.Values[j+1])
			}
		}
		key := strings.Join(at, ", ")
		k, ok := index[key]
		if !ok {
			k = len(lines)
			index[key] = k
			lines = append(lines, SweepLine{At: key})
		}
		lines[k].Points = append(lines[k].Points, i)
	}
	return lines
}

// fitLine is the least-squares line through the points: its slope, and R².
func fitLine(xs, ys []float64) (slope, r2 float64, ok bool) {
	n := float64(len(xs))
	if n < 3 {
		return 0, 0, false
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxx, sxy, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 {
		return 0, 0, false
	}
	slope = sxy / sxx
	if syy == 0 {
		return slope, 1, true
	}
	return slope, sxy * sxy / (sxx * syy), true
}

// WriteSweep writes sweep.json, sweep.md and sweep.html into dir.
func WriteSweep(dir string, s *Sweep) error {
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		*Sweep
		Growths []Growth `json:"growths"`
	}{s, s.Growths()}); err != nil {
		return err
	}
	if err := renameio.WriteFile(filepath.Join(dir, SweepFile), js.Bytes(), 0o644, renameio.WithStaticPermissions(0o644)); err != nil {
		return err
	}
	var page bytes.Buffer
	if err := WriteSweepHTML(&page, s); err != nil {
		return err
	}
	if err := renameio.WriteFile(filepath.Join(dir, "sweep.html"), page.Bytes(), 0o644, renameio.WithStaticPermissions(0o644)); err != nil {
		return err
	}
	var md bytes.Buffer
	fmt.Fprintf(&md, "## kwok-run sweep: %s over %s\n", s.Scenario, strings.Join(s.Variables, ", "))
	if s.Stopped != "" {
		fmt.Fprintf(&md, "\n> [!WARNING]\n> Stopped early: %s\n", s.Stopped)
	}
	markdownTable(&md, sweepTable(s))
	for _, g := range s.Growths() {
		fmt.Fprintf(&md, "- %s\n", growthLine(g))
	}
	return renameio.WriteFile(filepath.Join(dir, "sweep.md"), md.Bytes(), 0o644, renameio.WithStaticPermissions(0o644))
}

// WriteSweepTerminal prints the sweep's table and its growth rates.
func WriteSweepTerminal(w io.Writer, s *Sweep) error {
	var b bytes.Buffer
	if s.Stopped != "" {
		fmt.Fprintf(&b, "stopped early: %s\n", s.Stopped)
	}
	if err := terminalTable(&b, sweepTable(s)); err != nil {
		return err
	}
	if gs := s.Growths(); len(gs) > 0 {
		fmt.Fprintln(&b, "\ngrowth (least-squares line through the medians)")
		for _, g := range gs {
			fmt.Fprintf(&b, "  %s\n", growthLine(g))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func sweepTable(s *Sweep) table {
	// Numbers start after the values and the outcome.
	t := table{title: fmt.Sprintf("%s over %s (medians)", s.Scenario, strings.Join(s.Variables, ", ")), right: len(s.Variables) + 1}
	t.header = append(append(append([]string{}, s.Variables...), "outcome"), s.Metrics...)
	for _, p := range s.Points {
		row := append(append([]string{}, p.Values...), p.Outcome)
		for _, m := range s.Metrics {
			if v, ok := p.Metrics[m]; ok {
				row = append(row, value(m, v))
			} else {
				row = append(row, "–")
			}
		}
		t.rows = append(t.rows, row)
	}
	return t
}

func growthLine(g Growth) string {
	at := ""
	if g.At != "" {
		at = " at " + g.At
	}
	return fmt.Sprintf("%s grows %s per %s %s%s (R² %.2f)", g.Metric, value(g.Metric, g.Slope), strconv.FormatFloat(g.Per, 'f', -1, 64), g.Variable, at, g.R2)
}
