package reports

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// WriteComparisonTerminal prints a comparison: what differs besides the
// metrics, then the metrics that changed (every metric with all), worst
// first, then the outcome.
func WriteComparisonTerminal(w io.Writer, c *Comparison, all, color bool) error {
	p := palette(color)
	var b bytes.Buffer
	fmt.Fprintf(&b, "base: %s (%s)\nnew:  %s (%s)\n", c.Base.Label, plural(len(c.Base.Runs), "run"), c.New.Label, plural(len(c.New.Runs), "run"))
	if len(c.Differences) > 0 {
		fmt.Fprintln(&b, "\nbesides the metrics, these differ:")
		for _, d := range c.Differences {
			fmt.Fprintf(&b, "  %s\n", d)
		}
	}
	t, hidden := comparisonTable(c, all)
	for _, r := range t.rows {
		if r[0] == "✗" {
			r[0] = p.paint(red, r[0])
		}
	}
	if err := terminalTable(&b, t); err != nil {
		return err
	}
	if hidden > 0 {
		fmt.Fprintf(&b, "\n%s with no significant change, breakdowns by verb or resource, and metrics of one side only (--all lists them)\n", plural(hidden, "more metric"))
	}
	fmt.Fprintf(&b, "\n%s\n", comparisonOutcome(c, p))
	_, err := w.Write(b.Bytes())
	return err
}

// WriteComparisonMarkdown writes the comparison for a pull request or
// $GITHUB_STEP_SUMMARY, every metric included.
func WriteComparisonMarkdown(w io.Writer, c *Comparison) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "## kwok-run compare: %s\n\n", comparisonOutcome(c, palette(false)))
	fmt.Fprintf(&b, "- base: `%s` (%s)\n- new: `%s` (%s)\n", c.Base.Label, plural(len(c.Base.Runs), "run"), c.New.Label, plural(len(c.New.Runs), "run"))
	if len(c.Differences) > 0 {
		fmt.Fprintf(&b, "\n### Besides the metrics, these differ\n\n")
		for _, d := range c.Differences {
			fmt.Fprintf(&b, "- %s\n", d)
		}
	}
	t, _ := comparisonTable(c, true)
	markdownTable(&b, t)
	_, err := w.Write(b.Bytes())
	return err
}

func comparisonOutcome(c *Comparison, p palette) string {
	reg := c.Regressions()
	if len(reg) == 0 {
		return p.paint(green, "no regression")
	}
	var names []string
	for _, r := range reg {
		names = append(names, r.Metric)
	}
	return p.paint(red, fmt.Sprintf("%s: %s", plural(len(reg), "regression"), strings.Join(names, ", ")))
}

// verdictOrder puts what fails a comparison first and noise last.
var verdictOrder = []Verdict{VerdictWorse, VerdictBetter, VerdictChanged, VerdictOnlyBase, VerdictOnlyNew, VerdictNoChange}

func comparisonTable(c *Comparison, all bool) (table, int) {
	t := table{
		title:  fmt.Sprintf("metrics (medians; Mann–Whitney U two-sided p with %d or more runs a side, alpha %s)", MinRuns, strconv.FormatFloat(c.Alpha, 'g', -1, 64)),
		header: []string{"", "metric", "verdict", "base", "new", "delta", "p"},
		right:  3,
	}
	hidden := 0
	for _, r := range sortedChanges(c) {
		if !all && (r.Verdict == VerdictNoChange || r.Verdict == VerdictOnlyBase || r.Verdict == VerdictOnlyNew || r.Breakdown) {
			hidden++
			continue
		}
		t.rows = append(t.rows, []string{changeMark(r), r.Metric, string(r.Verdict), sideValue(r.Metric, r.BaseMedian, len(r.Base)), sideValue(r.Metric, r.NewMedian, len(r.New)), delta(r.Delta), pValue(r)})
	}
	return t, hidden
}

// sortedChanges are the comparison's rows in the order every rendering
// lists them: regressions first, then by verdict, then by name.
func sortedChanges(c *Comparison) []MetricChange {
	rows := slices.Clone(c.Rows)
	slices.SortStableFunc(rows, func(a, b MetricChange) int {
		if d := slices.Index(verdictOrder, a.Verdict) - slices.Index(verdictOrder, b.Verdict); d != 0 {
			return d
		}
		if a.Regression != b.Regression {
			if a.Regression {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Metric, b.Metric)
	})
	return rows
}

func changeMark(r MetricChange) string {
	switch {
	case r.Regression:
		return "✗"
	case r.Verdict == VerdictBetter:
		return "✓"
	}
	return ""
}

func pValue(r MetricChange) string {
	if !r.Tested() {
		return "untested"
	}
	return strconv.FormatFloat(r.P, 'f', 3, 64)
}

func sideValue(metric string, v float64, n int) string {
	if n == 0 {
		return "–"
	}
	s := value(metric, v)
	if n > 1 {
		s += fmt.Sprintf(" (n=%d)", n)
	}
	return s
}

func delta(d float64) string {
	if math.IsNaN(d) {
		return "–"
	}
	return fmt.Sprintf("%+.1f%%", d*100)
}
