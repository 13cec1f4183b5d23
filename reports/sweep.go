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

// Growth is a straight line fitted to a metric against the one swept
// variable: how much the metric grows per Per units of the variable.
type Growth struct {
	Metric   string  `json:"metric"`
	Variable string  `json:"variable"`
	Per      float64 `json:"per"`
	Slope    float64 `json:"slope"`
	// R2 says how well a line describes the points (1 is a line).
	R2 float64 `json:"r2"`
}

// Growths fits each metric against the swept variable when one numeric
// variable was swept over three or more points; growth per 1,000 (or per
// 100, or 1) units, whichever suits the variable's values.
func (s *Sweep) Growths() []Growth {
	if len(s.Variables) != 1 {
		return nil
	}
	var xs []float64
	for _, p := range s.Points {
		x, err := strconv.ParseFloat(p.Values[0], 64)
		if err != nil {
			return nil
		}
		xs = append(xs, x)
	}
	if len(xs) < 3 {
		return nil
	}
	per := 1.0
	for _, x := range xs {
		for per*10 <= math.Abs(x) && per < 1000 {
			per *= 10
		}
	}
	var out []Growth
	for _, m := range s.Metrics {
		var px, py []float64
		for i, p := range s.Points {
			if v, ok := p.Metrics[m]; ok {
				px, py = append(px, xs[i]), append(py, v)
			}
		}
		slope, r2, ok := fitLine(px, py)
		if !ok {
			continue
		}
		out = append(out, Growth{Metric: m, Variable: s.Variables[0], Per: per, Slope: slope * per, R2: r2})
	}
	return out
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

// WriteSweep writes sweep.json and sweep.md into dir.
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
	t := table{title: fmt.Sprintf("%s over %s (medians)", s.Scenario, strings.Join(s.Variables, ", ")), right: len(s.Variables)}
	t.header = append(append(append([]string{}, s.Variables...), "outcome"), s.Metrics...)
	t.right = len(s.Variables) + 1
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
	return fmt.Sprintf("%s grows %s per %s %s (R² %.2f)", g.Metric, value(g.Metric, g.Slope), strconv.FormatFloat(g.Per, 'f', -1, 64), g.Variable, g.R2)
}
