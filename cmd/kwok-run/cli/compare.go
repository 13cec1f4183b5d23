package cli

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"

	"github.com/kwok-run/kwok-run/reports"
)

func newCompare(s Streams) *cobra.Command {
	var thresholds []string
	var alpha float64
	var floor time.Duration
	var all, noColor, gateBreakdowns bool
	var markdown, html string
	cmd := &cobra.Command{
		Use:   "compare [flags] BASE NEW",
		Short: "Compare two runs, or two sets of repeated runs, metric by metric",
		Long: `Compare reads two sides, each a report.json, a results directory, or a
directory of results directories (repeated runs), and sets every metric side
by side: the medians, the change, and with 3 or more runs a side the
two-sided Mann–Whitney U test, which assumes nothing of the noise's shape.
A metric is worse or better only when the change is significant (alpha, 0.05
by default); which way is better comes from the metric catalogue. Single
runs cannot be tested, so a change past the threshold is taken at its word
and shown as untested. Versions, flags, variables and scenario text that
differ are listed first.

It exits 1 when a metric got worse by more than its threshold (--threshold
10% for all; --threshold pod_startup_latency.p99=5% for one metric path or
name; repeatable), 0 otherwise, and 2 when a side cannot be read. Breakdowns
by verb and resource are listed but do not fail a comparison unless
--gate-breakdowns: hundreds of them are tested at once, and at alpha 0.05 a
few always differ by chance. A time must also change by more than --floor
(10ms) to be a regression: 1 ms to 6 ms is +500% and means nothing.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := reports.CompareOptions{Threshold: 0.10, Alpha: alpha, PerMetric: map[string]float64{}, GateBreakdowns: gateBreakdowns, Floor: floor.Seconds()}
			if floor <= 0 {
				opts.Floor = -1
			}
			for _, t := range thresholds {
				if err := parseThreshold(t, &opts); err != nil {
					return exit(ExitUsage, err)
				}
			}
			if alpha <= 0 || alpha >= 1 {
				return exit(ExitUsage, fmt.Errorf("--alpha %v: want a probability between 0 and 1", alpha))
			}
			base, err := reports.LoadSide(args[0])
			if err != nil {
				return exit(ExitUsage, fmt.Errorf("base: %w", err))
			}
			new, err := reports.LoadSide(args[1])
			if err != nil {
				return exit(ExitUsage, fmt.Errorf("new: %w", err))
			}
			c, err := reports.Compare(base, new, opts)
			if err != nil {
				return exit(ExitUsage, err)
			}
			if err := reports.WriteComparisonTerminal(s.Out, c, all, !noColor && isTerminal(s.Out)); err != nil {
				return exit(ExitInfrastructure, err)
			}
			for _, out := range []struct {
				path  string
				write func(io.Writer, *reports.Comparison) error
			}{{markdown, reports.WriteComparisonMarkdown}, {html, reports.WriteComparisonHTML}} {
				if out.path == "" {
					continue
				}
				var b bytes.Buffer
				if err := out.write(&b, c); err != nil {
					return exit(ExitInfrastructure, err)
				}
				if err := renameio.WriteFile(out.path, b.Bytes(), 0o644); err != nil {
					return exit(ExitInfrastructure, err)
				}
			}
			if len(c.Regressions()) > 0 {
				return exit(ExitFailed, nil)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&thresholds, "threshold", nil, "how much worse counts as a regression: 10% for every metric, or METRIC=5% for one (repeatable; default 10%)")
	cmd.Flags().Float64Var(&alpha, "alpha", 0.05, "the significance level of the Mann–Whitney U test")
	cmd.Flags().DurationVar(&floor, "floor", time.Duration(reports.DefaultFloor*float64(time.Second)), "the least change of a time that can be a regression, however large relative to its base (0 for none)")
	cmd.Flags().BoolVar(&all, "all", false, "list every metric: those with no significant change, breakdowns and metrics of one side too")
	cmd.Flags().BoolVar(&gateBreakdowns, "gate-breakdowns", false, "let per-verb and per-resource breakdowns fail the comparison too (hundreds are tested: some differ by chance)")
	cmd.Flags().StringVar(&markdown, "markdown", "", "also write the comparison as Markdown to this file (every metric)")
	cmd.Flags().StringVar(&html, "html", "", "also write the comparison as one HTML page to this file, with a chart of every metric's runs on both sides")
	cmd.Flags().BoolVar(&noColor, "no-color", false, "print without colours")
	return cmd
}

// parseThreshold reads "10%" or "metric=10%".
func parseThreshold(s string, opts *reports.CompareOptions) error {
	metric, value, ok := strings.Cut(s, "=")
	if !ok {
		metric, value = "", s
	}
	pct, found := strings.CutSuffix(strings.TrimSpace(value), "%")
	v, err := strconv.ParseFloat(pct, 64)
	if !found || err != nil || v < 0 {
		return fmt.Errorf("--threshold %q: write a percentage, like 10%% or pod_startup_latency.p99=5%%", s)
	}
	if metric == "" {
		opts.Threshold = v / 100
	} else {
		opts.PerMetric[metric] = v / 100
	}
	return nil
}
