package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/renameio/v2"
)

// AggregateFile sits beside the run directories of a repeated run.
const AggregateFile = "aggregate.json"

// RunsAggregate is what repeated runs measured, metric by metric.
type RunsAggregate struct {
	Scenario string `json:"scenario"`
	Runs     int    `json:"runs"`
	// Outcomes are the runs' statuses, in run order.
	Outcomes []string                    `json:"outcomes"`
	Metrics  map[string]AggregatedMetric `json:"metrics"`
}

// AggregatedMetric is one metric over the runs that measured it.
type AggregatedMetric struct {
	Values []float64 `json:"values"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	// Spread is (max - min) / |median|: how far apart the runs are, the
	// noise a comparison has to see through. Absent when the median is 0.
	Spread *float64 `json:"spread,omitempty"`
}

// Aggregate sums up a side's runs.
func Aggregate(s Side) *RunsAggregate {
	a := &RunsAggregate{Runs: len(s.Runs), Metrics: map[string]AggregatedMetric{}}
	if len(s.Runs) > 0 {
		a.Scenario = s.Runs[0].Scenario.Name
	}
	for _, r := range s.Runs {
		a.Outcomes = append(a.Outcomes, r.Outcome.Status)
	}
	names := map[string]bool{}
	for _, r := range s.Runs {
		for k := range r.Metrics {
			names[k] = true
		}
	}
	for name := range names {
		vs := values(s, name)
		m := AggregatedMetric{Values: vs, Median: median(vs), Min: slices.Min(vs), Max: slices.Max(vs)}
		if m.Median != 0 {
			spread := (m.Max - m.Min) / math.Abs(m.Median)
			m.Spread = &spread
		}
		a.Metrics[name] = m
	}
	return a
}

// WriteAggregate writes aggregate.json into dir.
func WriteAggregate(dir string, a *RunsAggregate) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(a); err != nil {
		return err
	}
	return renameio.WriteFile(filepath.Join(dir, AggregateFile), b.Bytes(), 0o644, renameio.WithStaticPermissions(0o644))
}

// WriteAggregateTerminal prints the whole-run metrics of repeated runs (the
// per-resource and per-verb breakdowns stay in aggregate.json).
func WriteAggregateTerminal(w io.Writer, a *RunsAggregate) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "\n%s: %s (%s)\n", a.Scenario, plural(a.Runs, "run"), strings.Join(a.Outcomes, ", "))
	t := table{title: "over the runs", header: []string{"metric", "median", "min", "max", "spread"}, right: 1}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range a.Metrics {
			if !yield(k) {
				return
			}
		}
	}) {
		if strings.Count(name, ".") > 1 {
			continue
		}
		m := a.Metrics[name]
		spread := "–"
		if m.Spread != nil {
			spread = fmt.Sprintf("%.1f%%", *m.Spread*100)
		}
		t.rows = append(t.rows, []string{name, value(name, m.Median), value(name, m.Min), value(name, m.Max), spread})
	}
	if err := terminalTable(&b, t); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}
