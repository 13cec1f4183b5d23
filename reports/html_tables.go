package reports

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kwok-run/kwok-run/scenario/metrics"
)

// The tables of the HTML report, as rows of formatted strings: the template
// only lays them out.

type htmlKV struct{ Key, Value string }

// htmlStatusClass is the CSS class of an outcome or step status.
func htmlStatusClass(status string) string {
	switch status {
	case Passed, Failed, Interrupted:
		return status
	case Broken:
		return "broken"
	}
	return "other"
}

type htmlAssertion struct {
	Assertion
	Class    string // pass, fail, warn
	Icon     string
	Verdict  string
	Observed []htmlKV
}

// htmlAssertions puts the failures first: they are what the reader came for.
func htmlAssertions(as []Assertion) []htmlAssertion {
	out := make([]htmlAssertion, 0, len(as))
	for _, a := range as {
		h := htmlAssertion{Assertion: a, Class: "pass", Icon: "✓", Verdict: "held"}
		switch {
		case a.Passed:
		case a.Severity == "warning":
			h.Class, h.Icon, h.Verdict = "warn", "⚠", "did not hold"
		default:
			h.Class, h.Icon, h.Verdict = "fail", "✗", "failed"
		}
		if !a.Evaluated {
			h.Verdict = "could not be evaluated (no samples)"
		}
		for _, k := range slices.Sorted(maps.Keys(a.Observed)) {
			h.Observed = append(h.Observed, htmlKV{k, htmlFormatPath(k, a.Observed[k])})
		}
		out = append(out, h)
	}
	rank := map[string]int{"fail": 0, "warn": 1, "pass": 2}
	slices.SortStableFunc(out, func(a, b htmlAssertion) int { return rank[a.Class] - rank[b.Class] })
	return out
}

// htmlStepRow is one action of a step; the step's own cells are on its
// first row and span the others, and the step's error has a row of its own
// after its last action, wide enough to be read.
type htmlStepRow struct {
	First       bool
	Rows        int
	Name        string
	Status      string
	StatusClass string
	Start       string
	Duration    string
	StepError   string

	Action *Action
	Done   string
	Rate   string
	Slow   bool // achieved noticeably less than asked
	Errors string
}

func htmlStepRows(r *Report) []htmlStepRow {
	var rows []htmlStepRow
	for _, s := range r.Steps {
		step := htmlStepRow{
			First:       true,
			Rows:        max(1, len(s.Actions)),
			Name:        s.Name,
			Status:      s.Status,
			StatusClass: htmlStatusClass(s.Status),
			Start:       "+" + htmlSeconds(s.Start),
		}
		if s.Error != "" {
			step.Rows++
		}
		if s.End > s.Start {
			step.Duration = htmlSeconds(s.End - s.Start)
		} else if r.Duration > s.Start {
			// The run stopped before the step ended.
			step.Duration = htmlSeconds(r.Duration-s.Start) + ", unfinished"
		}
		if len(s.Actions) == 0 {
			rows = append(rows, step)
		}
		for i := range s.Actions {
			a := &s.Actions[i]
			row := htmlStepRow{Action: a, Done: htmlCount(float64(a.Done))}
			if i == 0 {
				row = step
				row.Action, row.Done = a, htmlCount(float64(a.Done))
			}
			if a.Failed > 0 {
				row.Done += " (" + htmlCount(float64(a.Failed)) + " failed)"
			}
			switch {
			case a.Asked > 0 && a.Achieved > 0:
				row.Rate = htmlRate(a.Asked) + " → " + htmlRate(a.Achieved)
				row.Slow = a.Achieved < 0.9*a.Asked
			case a.Asked > 0:
				row.Rate = htmlRate(a.Asked) + " asked"
			case a.Achieved > 0:
				row.Rate = htmlRate(a.Achieved)
			}
			var errs []string
			for _, code := range slices.Sorted(maps.Keys(a.Errors)) {
				errs = append(errs, fmt.Sprintf("%s ×%s", code, htmlCount(float64(a.Errors[code]))))
			}
			row.Errors = strings.Join(errs, ", ")
			rows = append(rows, row)
		}
		if s.Error != "" {
			rows[len(rows)-1].StepError = s.Error
		}
	}
	return rows
}

// htmlMetrics are a set of measured values laid out in two tables:
// distributions with a column per statistic, and single values. Both have a
// row per dimension key ("create pods") under each metric.
type htmlMetrics struct {
	Stats         []string
	Distributions []htmlMetricGroup
	Values        []htmlMetricGroup
}

// htmlMetricGroup is the values of one metric.
type htmlMetricGroup struct {
	Name        string
	Unit        string
	Better      string
	Description string
	Rows        []htmlMetricRow
}

type htmlMetricRow struct {
	Key    string
	Values []string
}

// htmlMetricTables groups values by metric, in the catalogue's order, then
// metrics the catalogue does not know by name. Paths under steps. are left
// out: each step shows its own.
func htmlMetricTables(values map[string]float64) htmlMetrics {
	byName := map[string][]string{}
	for _, path := range slices.Sorted(maps.Keys(values)) {
		if strings.HasPrefix(path, metrics.StepsKey+".") {
			continue
		}
		name, _, _ := strings.Cut(path, ".")
		byName[name] = append(byName[name], path)
	}
	order := map[string]int{}
	for i, m := range metrics.Catalogue() {
		order[m.Name] = i
	}
	names := slices.Collect(maps.Keys(byName))
	slices.SortFunc(names, func(a, b string) int {
		ia, oka := order[a]
		ib, okb := order[b]
		if c := htmlBoolOrder(oka, okb); c != 0 {
			return -c
		}
		return cmp.Or(cmp.Compare(ia, ib), cmp.Compare(a, b))
	})

	t := htmlMetrics{Stats: metrics.SampleStats}
	for _, name := range names {
		m, known := metrics.Lookup(name)
		g := htmlMetricGroup{Name: name, Unit: string(m.Unit), Better: string(m.Better), Description: m.Description}
		if !known || m.Stats == nil {
			for _, path := range byName[name] {
				_, rest, _ := strings.Cut(path, ".")
				g.Rows = append(g.Rows, htmlMetricRow{Key: htmlDimensionKey(rest), Values: []string{htmlFormatPath(path, values[path])}})
			}
			t.Values = append(t.Values, g)
			continue
		}
		g.Rows = htmlStatRows(byName[name], values, t.Stats)
		t.Distributions = append(t.Distributions, g)
	}
	return t
}

// htmlStatRows lays out the statistics of one distribution metric: a row
// per dimension key, a column per statistic, "—" for those not measured.
func htmlStatRows(paths []string, values map[string]float64, stats []string) []htmlMetricRow {
	var keys []string
	byKey := map[string]map[string]string{}
	for _, path := range paths {
		_, rest, _ := strings.Cut(path, ".")
		key, stat := "", rest
		if i := strings.LastIndexByte(rest, '.'); i >= 0 {
			key, stat = rest[:i], rest[i+1:]
		}
		if _, ok := byKey[key]; !ok {
			byKey[key] = map[string]string{}
			keys = append(keys, key)
		}
		byKey[key][stat] = htmlFormatPath(path, values[path])
	}
	rows := make([]htmlMetricRow, 0, len(keys))
	for _, key := range keys {
		row := htmlMetricRow{Key: htmlDimensionKey(key)}
		for _, s := range stats {
			row.Values = append(row.Values, cmp.Or(byKey[key][s], "—"))
		}
		rows = append(rows, row)
	}
	return rows
}

// htmlDimensionKey writes a dimension key for reading: "create.pods" is
// "create pods"; the metric itself, without dimensions, has none.
func htmlDimensionKey(key string) string {
	return strings.ReplaceAll(key, ".", " ")
}

// htmlLatencyRow is one latency's percentiles.
type htmlLatencyRow struct {
	Metric, Key               string
	Count, P50, P90, P99, Max string
}

// htmlLatencyRows are the percentiles of every latency in t.
func htmlLatencyRows(t htmlMetrics) []htmlLatencyRow {
	col := func(row htmlMetricRow, stat string) string {
		return row.Values[slices.Index(t.Stats, stat)]
	}
	var rows []htmlLatencyRow
	for _, g := range t.Distributions {
		if g.Unit != string(metrics.Seconds) {
			continue
		}
		for _, row := range g.Rows {
			rows = append(rows, htmlLatencyRow{
				Metric: g.Name, Key: row.Key,
				Count: col(row, "count"), P50: col(row, "p50"), P90: col(row, "p90"), P99: col(row, "p99"), Max: col(row, "max"),
			})
		}
	}
	return rows
}

// htmlKeyFigures are the numbers a reader looks for first, those measured.
var htmlKeyFigures = []struct{ Label, Path string }{
	{"pods created", "pods_created"},
	{"nodes created", "nodes_created"},
	{"pod start-up p50", "pod_startup_latency.p50"},
	{"pod start-up p99", "pod_startup_latency.p99"},
	{"scheduling p99", "pod_scheduling_latency.p99"},
	{"peak scheduling rate", "scheduling_throughput.max"},
	{"API errors", "api_errors.all"},
	{"control-plane CPU", "component_cpu_seconds.all"},
	{"peak memory", "component_rss_peak_bytes.all"},
}

func htmlKeyFigureValues(values map[string]float64) []htmlKV {
	var out []htmlKV
	for _, f := range htmlKeyFigures {
		if v, ok := values[f.Path]; ok {
			out = append(out, htmlKV{f.Label, htmlFormatPath(f.Path, v)})
		}
	}
	return out
}

// htmlCrossCheck is a watch-based latency beside its server-side
// counterpart, a row each.
type htmlCrossCheck struct {
	Metric, Interval string
	Watch, Server    htmlStatsRow
}

type htmlStatsRow struct{ Count, P50, P90, P99, Max string }

func htmlCrossChecks(cs []CrossCheck) []htmlCrossCheck {
	out := make([]htmlCrossCheck, 0, len(cs))
	for _, c := range cs {
		m, _ := metrics.Lookup(c.Metric)
		row := func(s Stats) htmlStatsRow {
			f := func(v float64) string { return htmlFormat(m.Unit, v) }
			return htmlStatsRow{htmlCount(float64(s.Count)), f(s.P50), f(s.P90), f(s.P99), f(s.Max)}
		}
		out = append(out, htmlCrossCheck{Metric: c.Metric, Interval: c.Interval, Watch: row(c.Watch), Server: row(c.Server)})
	}
	return out
}

// htmlVariable is an input variable with its value as the scenario would
// write it.
type htmlVariable struct {
	Variable
	Shown string
}

func htmlVariables(vs []Variable) []htmlVariable {
	out := make([]htmlVariable, 0, len(vs))
	for _, v := range vs {
		shown, err := json.Marshal(v.Value) // sorts map keys, so stable
		if err != nil {
			shown = []byte(fmt.Sprint(v.Value))
		}
		out = append(out, htmlVariable{Variable: v, Shown: string(shown)})
	}
	return out
}

func htmlSortedKV[V any](m map[string]V) []htmlKV {
	out := make([]htmlKV, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, htmlKV{k, fmt.Sprint(m[k])})
	}
	return out
}

// htmlCommandLine writes a component's command line one argument a line, as
// a shell would take it back, so a long flag list can be read and pasted.
func htmlCommandLine(binary string, args []string) string {
	if binary != "" && (len(args) == 0 || args[0] != binary) {
		args = append([]string{binary}, args...)
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = htmlShellQuote(a)
	}
	return strings.Join(quoted, " \\\n    ")
}

func htmlShellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=/.,:@%+", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
