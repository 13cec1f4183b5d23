package reports

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/kwok-run/kwok-run/scenario/metrics"
)

// WriteTerminal writes the summary printed at the end of a run: the outcome,
// what each step did, the latencies, throughput, resources and counts, how
// trustworthy the measurements are, and the assertions last, where the eye
// lands. color is for a terminal; CI logs get plain text.
func WriteTerminal(w io.Writer, r *Report, color bool) error {
	p := palette(color)
	var b bytes.Buffer
	fmt.Fprintln(&b, outcomeLine(r, p))
	if r.Outcome.Error != "" {
		fmt.Fprintf(&b, "  error: %s\n", strings.ReplaceAll(r.Outcome.Error, "\n", "\n    "))
	}
	if r.Outcome.StoppedIn != "" {
		fmt.Fprintf(&b, "  stopped in step %q\n", r.Outcome.StoppedIn)
	}
	for _, t := range []table{stepsTable(r, p), latencyTable(r), requestsTable(r), throughputTable(r), resourcesTable(r)} {
		if err := terminalTable(&b, t); err != nil {
			return err
		}
	}
	if db, ok := r.Metrics["etcd_db_size_bytes"]; ok {
		fmt.Fprintf(&b, "etcd database: %s at most\n", mebibytes(db))
	}
	fmt.Fprintln(&b)
	if c := countsLine(r); c != "" {
		fmt.Fprintf(&b, "counts: %s\n", c)
	}
	health, ok := healthLine(r)
	if ok {
		fmt.Fprintf(&b, "measurement: %s\n", health)
	} else {
		fmt.Fprintln(&b, p.warn("WARNING measurement: "+health))
	}
	if err := terminalTable(&b, assertionsTable(r, p)); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

func terminalTable(b *bytes.Buffer, t table) error {
	if len(t.rows) == 0 {
		return nil
	}
	fmt.Fprintf(b, "\n%s\n", t.title)
	align := make([]tw.Align, len(t.header))
	for i := range align {
		align[i] = tw.AlignLeft
		if t.right > 0 && i >= t.right {
			align[i] = tw.AlignRight
		}
	}
	var out bytes.Buffer
	tbl := tablewriter.NewTable(&out,
		// No box: the summary sits in CI logs beside plain log lines.
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Settings: tw.Settings{Lines: tw.LinesNone, Separators: tw.SeparatorsNone},
		})),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
	)
	header := make([]string, len(t.header))
	for i, h := range t.header {
		header[i] = strings.ToUpper(h)
	}
	tbl.Header(header)
	if err := tbl.Bulk(t.rows); err != nil {
		return err
	}
	if err := tbl.Render(); err != nil {
		return err
	}
	// Cells are padded to the column's width, the last one too.
	for line := range strings.Lines(out.String()) {
		b.WriteString(strings.TrimRight(line, " \n") + "\n")
	}
	return nil
}

// table is one section of a summary as text, so that the terminal and the
// Markdown summary show the same rows.
type table struct {
	title  string
	header []string
	rows   [][]string
	// right is the first of the columns of numbers, aligned right; 0 for none.
	right int
}

func outcomeLine(r *Report, p palette) string {
	return fmt.Sprintf("kwok-run %s: %s (exit %d) in %s", r.Scenario.Name,
		p.status(r.Outcome.Status), r.Outcome.ExitCode, seconds(r.Duration))
}

// stepsTable has a row per action, the step's name on the first, and the
// step's error on a row of its own.
func stepsTable(r *Report, p palette) table {
	t := table{title: "steps", header: []string{"step", "status", "duration", "action", "rate"}}
	for _, st := range r.Steps {
		var lines [][]string
		for _, a := range st.Actions {
			lines = append(lines, []string{actionLine(a), rate(a)})
		}
		if st.Error != "" {
			lines = append(lines, []string{"error: " + oneLine(st.Error), ""})
		}
		if len(lines) == 0 {
			lines = append(lines, []string{"", ""})
		}
		for i, l := range lines {
			lead := []string{"", "", ""}
			if i == 0 {
				lead = []string{st.Name, p.status(st.Status), seconds(st.End - st.Start)}
			}
			t.rows = append(t.rows, append(lead, l...))
		}
	}
	return t
}

func actionLine(a Action) string {
	line := a.Kind + ": " + a.Summary
	if len(a.Errors) > 0 {
		codes := make([]string, 0, len(a.Errors))
		for c := range a.Errors {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		for i, c := range codes {
			codes[i] = fmt.Sprintf("%s ×%d", c, a.Errors[c])
		}
		line += "; failed requests: " + strings.Join(codes, ", ")
	}
	if a.Error != "" {
		line += "; " + oneLine(a.Error)
	}
	return line
}

// rate is the achieved rate beside the asked one; a cluster that did not
// keep up is said in words, so plain logs show it too.
func rate(a Action) string {
	switch {
	case a.Achieved == 0 && a.Asked == 0:
		return ""
	case a.Achieved == 0:
		// One request did all (a workload's pods come from its
		// controller): there is no rate to compare.
		return perSecond(a.Asked) + " asked"
	case a.Asked == 0:
		return perSecond(a.Achieved)
	case a.Achieved < 0.98*a.Asked:
		return fmt.Sprintf("%s of %s (behind)", perSecond(a.Achieved), perSecond(a.Asked))
	default:
		return fmt.Sprintf("%s of %s", perSecond(a.Achieved), perSecond(a.Asked))
	}
}

func latencyTable(r *Report) table {
	t := table{title: "latency", header: []string{"metric", "count", "p50", "p90", "p99", "max"}, right: 1}
	for _, path := range distributions(r, metrics.Seconds) {
		if m, ok := metrics.Lookup(path); ok && m.Dimensions == nil {
			t.rows = append(t.rows, statsRow(r, path, "count", "p50", "p90", "p99", "max"))
		}
	}
	return t
}

// requestsTable shows API latency by verb and resource: every kind of
// request kwok-run sent, and the apiserver's view of all clients, the
// busiest first; subtotals only for everything.
func requestsTable(r *Report) table {
	t := table{title: "API requests", header: []string{"metric", "verb", "resource", "count", "p50", "p99"}, right: 3}
	for _, name := range []string{"api_request_latency", "apiserver_request_latency"} {
		type key struct {
			verb, resource string
			count          float64
		}
		var keys []key
		for k, v := range r.Metrics {
			path, ok := strings.CutSuffix(k, ".count")
			rest, ok2 := strings.CutPrefix(path, name+".")
			verb, resource, ok3 := strings.Cut(rest, ".")
			if ok && ok2 && ok3 && (verb == metrics.All) == (resource == metrics.All) {
				keys = append(keys, key{verb, resource, v})
			}
		}
		slices.SortFunc(keys, func(a, b key) int {
			switch {
			case a.verb == metrics.All:
				return -1
			case b.verb == metrics.All:
				return 1
			case a.count != b.count:
				return cmp.Compare(b.count, a.count)
			}
			return strings.Compare(a.verb+a.resource, b.verb+b.resource)
		})
		const busiest = 8
		for i, k := range keys {
			if i > busiest {
				break
			}
			path := name + "." + k.verb + "." + k.resource
			t.rows = append(t.rows, []string{name, k.verb, k.resource, count(k.count), metricValue(r, path+".p50"), metricValue(r, path+".p99")})
		}
	}
	return t
}

func throughputTable(r *Report) table {
	t := table{title: "throughput", header: []string{"metric", "mean", "p50", "p99", "max"}, right: 1}
	for _, path := range distributions(r, metrics.PerSecond) {
		t.rows = append(t.rows, statsRow(r, path, "mean", "p50", "p99", "max"))
	}
	return t
}

// distributions lists the measured distributions of unit u, in catalogue
// order: one path per metric, or per set of dimensions
// ("api_request_latency.create.pods"). Only metrics with per-sample
// statistics count: histograms have no exact maximum.
func distributions(r *Report, u metrics.Unit) []string {
	var out []string
	for _, m := range metrics.Catalogue() {
		if m.Unit != u || !slices.Equal(m.Stats, metrics.SampleStats) {
			continue
		}
		var found []string
		for k, v := range r.Metrics {
			path, ok := strings.CutSuffix(k, ".count")
			if ok && v > 0 && (path == m.Name || strings.HasPrefix(path, m.Name+".")) {
				found = append(found, path)
			}
		}
		slices.Sort(found)
		out = append(out, found...)
	}
	return out
}

func statsRow(r *Report, path string, stats ...string) []string {
	row := []string{path}
	for _, s := range stats {
		row = append(row, metricValue(r, path+"."+s))
	}
	return row
}

func metricValue(r *Report, path string) string {
	v, ok := r.Metrics[path]
	if !ok {
		return "-"
	}
	return value(path, v)
}

func resourcesTable(r *Report) table {
	t := table{title: "resources", header: []string{"component", "CPU", "peak RSS"}, right: 1}
	for _, c := range append(slices.Clone(metrics.Components), metrics.All) {
		cpu, rss := "component_cpu_seconds."+c, "component_rss_peak_bytes."+c
		_, okCPU := r.Metrics[cpu]
		_, okRSS := r.Metrics[rss]
		if okCPU || okRSS {
			t.rows = append(t.rows, []string{c, metricValue(r, cpu), metricValue(r, rss)})
		}
	}
	return t
}

// healthMetrics are reported by healthLine, not among the counts.
var healthMetrics = []string{"watch_restarts", "missed_transitions", "unseen_objects"}

// countsLine lists the counts that were measured: the metric, or for one
// split by a dimension, its total.
func countsLine(r *Report) string {
	var parts []string
	for _, m := range metrics.Catalogue() {
		if m.Unit != metrics.Count || slices.Contains(healthMetrics, m.Name) {
			continue
		}
		path := m.Name
		if m.Dimensions != nil {
			path += "." + metrics.All
		}
		if v, ok := r.Metrics[path]; ok {
			parts = append(parts, path+" "+count(v))
		}
	}
	return strings.Join(parts, ", ")
}

// healthLine says what the measurements lost; ok is false when they lost
// anything, and the numbers deserve less trust.
func healthLine(r *Report) (line string, ok bool) {
	m := r.Measurement
	restarts, kinds := 0, []string(nil)
	for _, w := range m.Watches {
		if w.Restarts > 0 {
			restarts += w.Restarts
			kinds = append(kinds, fmt.Sprintf("%s ×%d, down %s at most", w.Kind, w.Restarts, seconds(w.LongestGap)))
		}
	}
	parts := []string{plural(restarts, "watch restart")}
	if len(kinds) > 0 {
		parts[0] += " (" + strings.Join(kinds, "; ") + ")"
	}
	inexact := plural(m.Inexact, "inexact transition")
	if len(m.InexactExamples) > 0 {
		inexact += " (e.g. " + strings.Join(m.InexactExamples, ", ") + ")"
	}
	parts = append(parts, inexact)
	missed := r.Metrics["missed_transitions"]
	if missed > 0 {
		parts = append(parts, plural(int(missed), "missed transition"))
	}
	if m.Unseen > 0 {
		unseen := plural(m.Unseen, "created object") + " never seen"
		if len(m.UnseenExamples) > 0 {
			unseen += " (e.g. " + strings.Join(m.UnseenExamples, ", ") + ")"
		}
		parts = append(parts, unseen)
	}
	parts = append(parts, fmt.Sprintf("%d of %s failed", m.ScrapesFailed, plural(m.Scrapes, "scrape")))
	return strings.Join(parts, ", "), restarts == 0 && m.Inexact == 0 && missed == 0 && m.Unseen == 0 && m.ScrapesFailed == 0
}

// assertionsTable marks each assertion ✓ (held), ✗ (failed, or could not be
// evaluated) or ! (a warning that did not hold).
func assertionsTable(r *Report, p palette) table {
	t := table{title: "assertions", header: []string{"", "assertion", "condition", "observed", "message"}}
	for _, a := range r.Assertions {
		t.rows = append(t.rows, []string{p.mark(a), a.Name, a.Condition, observed(a.Observed), oneLine(a.Message)})
	}
	return t
}

func observed(o map[string]float64) string {
	paths := make([]string, 0, len(o))
	for p := range o {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for i, p := range paths {
		paths[i] = strings.TrimPrefix(p, "metrics.") + " = " + value(p, o[p])
	}
	return strings.Join(paths, ", ")
}

// value formats a metric by its unit, which is the catalogue's entry for
// the path's first segment after any "metrics." and "steps.<step>.".
func value(path string, v float64) string {
	path = strings.TrimPrefix(path, "metrics.")
	if rest, ok := strings.CutPrefix(path, metrics.StepsKey+"."); ok {
		_, path, _ = strings.Cut(rest, ".")
	}
	name, _, _ := strings.Cut(path, ".")
	m, _ := metrics.Lookup(name)
	switch {
	case strings.HasSuffix(path, ".count"):
		// The sample count of a distribution, whatever its unit.
		return count(v)
	case m.Unit == metrics.Seconds:
		return seconds(v)
	case m.Unit == metrics.Bytes:
		return mebibytes(v)
	case m.Unit == metrics.PerSecond:
		return perSecond(v)
	default:
		return count(v)
	}
}

// seconds formats a time the way latencies are read: milliseconds below a
// second, seconds with two decimals below a hundred, minutes above.
func seconds(v float64) string {
	switch ms := v * 1000; {
	case v == 0:
		return "0s"
	case math.Round(ms*100) < 1000:
		return fmt.Sprintf("%.2fms", ms)
	case math.Round(ms) < 1000:
		return fmt.Sprintf("%.0fms", ms)
	case math.Round(v*100) < 10000:
		return fmt.Sprintf("%.2fs", v)
	default:
		return time.Duration(v * float64(time.Second)).Round(time.Second).String()
	}
}

func mebibytes(v float64) string { return oneDecimal(v/(1<<20)) + " MiB" }

func perSecond(v float64) string { return oneDecimal(v) + "/s" }

func oneDecimal(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// count writes a count; a median of an even number of runs, or a mean, may
// fall between whole numbers, and two decimals tell enough of it.
func count(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// palette colours verdicts on a terminal and leaves them plain elsewhere.
type palette bool

const (
	green  = "\x1b[32m"
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	reset  = "\x1b[0m"
)

func (p palette) paint(code, s string) string {
	if !p {
		return s
	}
	return code + s + reset
}

func (p palette) warn(s string) string { return p.paint(yellow, s) }

func (p palette) status(s string) string {
	switch s {
	case Passed:
		return p.paint(green, s)
	case Failed, Broken, Interrupted:
		return p.paint(red, s)
	}
	return s
}

func (p palette) mark(a Assertion) string {
	switch {
	case a.Evaluated && a.Passed:
		return p.paint(green, "✓")
	case a.Severity == "warning":
		return p.paint(yellow, "!")
	default:
		return p.paint(red, "✗")
	}
}
