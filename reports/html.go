package reports

import (
	"fmt"
	"html/template"
	"io"
	"slices"
	"time"
)

// WriteHTML renders the report as one self-contained HTML page: styles
// inline, charts as inline SVG, no script and nothing fetched, so the file
// can be mailed, attached to a CI run or opened years later offline.
func WriteHTML(w io.Writer, r *Report) error {
	if err := htmlPageTemplate.Execute(w, htmlNewView(r)); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}

// htmlView is the report laid out for the template: everything formatted,
// every map sorted, so the page is the same bytes for the same report.
type htmlView struct {
	R           *Report
	StatusClass string
	Started     string
	Duration    string
	KeyFigures  []htmlKV

	Assertions     []htmlAssertion
	AssertionsHeld int
	Steps          []htmlStepRow
	StepMetrics    []htmlStepMetrics

	Objects    []htmlChart
	Latency    []htmlChart
	Latencies  []htmlLatencyRow
	Throughput []htmlChart
	CPU        []htmlChart
	Memory     []htmlChart
	Storage    []htmlChart

	CrossChecks   []htmlCrossCheck
	Health        string // ok, doubtful, or none when nothing was watched
	Metrics       htmlMetrics
	FeatureGates  []htmlKV
	RuntimeConfig []htmlKV
	Variables     []htmlVariable
}

type htmlStepMetrics struct {
	Name    string
	Metrics htmlMetrics
}

func htmlNewView(r *Report) htmlView {
	v := htmlView{
		R:           r,
		StatusClass: htmlStatusClass(r.Outcome.Status),
		Duration:    htmlSeconds(r.Duration),
		KeyFigures:  htmlKeyFigureValues(r.Metrics),
		Assertions:  htmlAssertions(r.Assertions),
		Steps:       htmlStepRows(r),

		Objects:    htmlSeriesCharts(r, GroupObjects, "", "Objects in each state; dashed lines and shading mark the steps."),
		Latency:    htmlCDFCharts(r),
		Throughput: htmlSeriesCharts(r, GroupThroughput, "", "Per-second rates in 1 s windows."),
		CPU:        htmlSeriesCharts(r, GroupCPU, "CPU by component", "Cores used, averaged between scrapes."),
		Memory:     htmlSeriesCharts(r, GroupMemory, "Memory by component", "Resident memory."),

		CrossChecks:   htmlCrossChecks(r.ServerSide),
		Metrics:       htmlMetricTables(r.Metrics),
		FeatureGates:  htmlSortedKV(r.Cluster.FeatureGates),
		RuntimeConfig: htmlSortedKV(r.Cluster.RuntimeConfig),
		Variables:     htmlVariables(r.Variables),
	}
	if !r.Started.IsZero() {
		// UTC, so the page does not depend on the zone of the machine rendering it.
		v.Started = r.Started.UTC().Format(time.DateTime + " UTC")
	}
	v.Latencies = htmlLatencyRows(v.Metrics)
	for _, a := range r.Assertions {
		if a.Passed {
			v.AssertionsHeld++
		}
	}
	for _, s := range r.Steps {
		if len(s.Metrics) > 0 {
			v.StepMetrics = append(v.StepMetrics, htmlStepMetrics{Name: s.Name, Metrics: htmlMetricTables(s.Metrics)})
		}
	}
	// Storage is optional: absent, it gets no section at all.
	if slices.ContainsFunc(r.Series, func(s Series) bool { return s.Group == GroupStorage }) {
		v.Storage = htmlSeriesCharts(r, GroupStorage, "", "etcd's database size and the objects it stores.")
	}
	m := r.Measurement
	switch {
	case len(m.Watches) == 0 && m.Scrapes == 0:
		v.Health = "none"
	case m.Inexact > 0 || m.Unseen > 0 || m.ScrapesFailed > 0 || slices.ContainsFunc(m.Watches, func(w Watch) bool { return w.Restarts > 0 || w.Relists > 0 }):
		v.Health = "doubtful"
	default:
		v.Health = "ok"
	}
	return v
}

var htmlPageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"seconds": htmlSeconds,
	"count":   func(n int) string { return htmlCount(float64(n)) },
	"cmdline": htmlCommandLine,
}).Parse(htmlTemplateText))
