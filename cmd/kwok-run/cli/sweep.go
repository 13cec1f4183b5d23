package cli

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kwok-run/kwok-run/reports"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

func newSweep(s Streams) *cobra.Command {
	var f clusterFlags
	var out string
	var repeat int
	var chosen []string
	cmd := &cobra.Command{
		Use:   "sweep [flags] FILE",
		Short: "Run a scenario over combinations of variable values, for capacity planning",
		Long: `Sweep runs the scenario once per combination of the swept variables (each
--repeat times), every run on a fresh cluster, and sets the chosen metrics
against the values: a table of medians, and when the first swept variable
is numeric a straight line fitted to each metric along it, once per
combination of the others ("apiserver RSS grows 12 MiB per 1000 nodes at
pods_per_node=10"). A -var whose value is a list (nodes=500,1000,2000) or a range
(nodes=500..2000/500, from..to/step) is swept; other -var flags are fixed.
Each point's results are in <out>/<name>=<value>[,...]; sweep.json,
sweep.md and sweep.html (a chart of each metric against the first swept
variable, one line per combination of the others) sum up. The sweep stops at the first point whose run did not pass,
keeping what it measured so far, and exits with that run's code.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if repeat < 1 {
				return exit(ExitUsage, fmt.Errorf("--repeat %d: want 1 or more runs", repeat))
			}
			fixed, swept, err := sweptVars(f.vars)
			if err != nil {
				return exit(ExitUsage, err)
			}
			if len(swept) == 0 {
				return exit(ExitUsage, fmt.Errorf("nothing to sweep: give a variable several values, like -var nodes=500,1000,2000"))
			}
			points := combinations(swept)
			// Every point loads before the first runs: a value that does
			// not fit its variable is found now, not an hour in.
			plans := make([]*planAt, len(points))
			for i, pt := range points {
				vars := append(append([]scenario.VarArg{}, fixed...), pt.args()...)
				sf := f
				sf.vars = vars
				p, err := sf.plan(s, args)
				if err != nil {
					fmt.Fprintf(s.Err, "kwok-run sweep: the scenario does not load at %s\n", pt.dir())
					return err
				}
				plans[i] = &planAt{plan: p, values: pt.values}
			}
			out, r, reg, err := f.prepare(s, out, plans[0].plan.Scenario.Name+"-sweep")
			if err != nil {
				return err
			}
			sw := &reports.Sweep{Scenario: plans[0].plan.Scenario.Name, Metrics: chosen}
			for _, v := range swept {
				sw.Variables = append(sw.Variables, v.name)
			}
			code := ExitOK
			for i, pa := range plans {
				dir := points[i].dir()
				fmt.Fprintf(s.Err, "sweep point %d of %d: %s\n", i+1, len(plans), dir)
				for j := 1; j <= repeat && code == ExitOK; j++ {
					runDir := filepath.Join(out, dir)
					if repeat > 1 {
						runDir = filepath.Join(runDir, fmt.Sprintf("run-%d", j))
					}
					rep, written := runOnce(cmd.Context(), s, &f, pa.plan, r, reg, runDir)
					if rep.Outcome.ExitCode != ExitOK {
						sw.Stopped = fmt.Sprintf("%s: the run %s (exit %d)", dir, rep.Outcome.Status, rep.Outcome.ExitCode)
						if rep.Outcome.StoppedIn != "" {
							sw.Stopped += " in " + rep.Outcome.StoppedIn
						}
						code = rep.Outcome.ExitCode
					}
					if written != runDir {
						sw.Stopped = fmt.Sprintf("%s: the results could not be written there; they are in %s", dir, written)
						code = worse(code, ExitInfrastructure)
					}
				}
				if side, err := reports.LoadSide(filepath.Join(out, dir)); err == nil {
					sw.Points = append(sw.Points, reports.NewSweepPoint(pa.values, dir, side))
				}
				if code != ExitOK {
					break
				}
			}
			if err := reports.WriteSweep(out, sw); err != nil {
				fmt.Fprintf(s.Err, "kwok-run: writing the sweep: %s\n", err)
			}
			reports.WriteSweepTerminal(s.Out, sw)
			fmt.Fprintf(s.Out, "results in %s\n", out)
			return exitCode(code)
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().IntVar(&repeat, "repeat", 1, "runs per point")
	cmd.Flags().StringArrayVar(&chosen, "metric", reports.DefaultSweepMetrics, "a metric path to set against the swept values (repeatable)")
	cmd.Flags().StringVar(&out, "out", "", "the sweep's results directory (default results/<scenario>-sweep-<UTC time>)")
	return cmd
}

type planAt struct {
	plan   *plan.Plan
	values []string
}

// swept is a variable and the values it takes.
type swept struct {
	name   string
	values []string
}

// sweptVars splits -var flags into fixed ones and swept ones: a list
// (a,b,c) or a range (from..to/step).
func sweptVars(vars []scenario.VarArg) (fixed []scenario.VarArg, out []swept, err error) {
	seen := map[string]bool{}
	for _, v := range vars {
		name, value, ok := strings.Cut(v.Value, "=")
		if v.File || !ok {
			fixed = append(fixed, v)
			continue
		}
		var values []string
		switch {
		case strings.Contains(value, ".."):
			if values, err = expandRange(value); err != nil {
				return nil, nil, fmt.Errorf("-var %s: %w", v.Value, err)
			}
		case strings.Contains(value, ","):
			for _, x := range strings.Split(value, ",") {
				if x = strings.TrimSpace(x); x != "" {
					values = append(values, x)
				}
			}
		default:
			fixed = append(fixed, v)
			continue
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("-var %s: %s is swept twice", v.Value, name)
		}
		seen[name] = true
		out = append(out, swept{name: name, values: values})
	}
	return fixed, out, nil
}

// expandRange reads from..to/step (step 1 when left out).
func expandRange(s string) ([]string, error) {
	span, stepText, hasStep := strings.Cut(s, "/")
	fromText, toText, _ := strings.Cut(span, "..")
	from, err1 := strconv.ParseFloat(fromText, 64)
	to, err2 := strconv.ParseFloat(toText, 64)
	step := 1.0
	var err3 error
	if hasStep {
		step, err3 = strconv.ParseFloat(stepText, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || step <= 0 || to < from {
		return nil, fmt.Errorf("write a range as from..to/step with from ≤ to and a positive step, like 500..2000/500")
	}
	if (to-from)/step > 1000 {
		return nil, fmt.Errorf("%s is over 1,000 points", s)
	}
	var out []string
	for x := from; x <= to+step*1e-9; x += step {
		out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
	}
	return out, nil
}

// point is one combination of swept values.
type point struct {
	names  []string
	values []string
}

func (p point) args() []scenario.VarArg {
	out := make([]scenario.VarArg, len(p.names))
	for i := range p.names {
		out[i] = scenario.VarArg{Value: p.names[i] + "=" + p.values[i]}
	}
	return out
}

// dir names the point's results directory: nodes=500,pods=10.
func (p point) dir() string {
	parts := make([]string, len(p.names))
	for i := range p.names {
		parts[i] = p.names[i] + "=" + p.values[i]
	}
	return strings.Join(parts, ",")
}

// combinations is every combination, the first variable changing slowest.
func combinations(vars []swept) []point {
	out := []point{{}}
	for _, v := range vars {
		var next []point
		for _, p := range out {
			for _, x := range v.values {
				next = append(next, point{names: append(append([]string{}, p.names...), v.name), values: append(append([]string{}, p.values...), x)})
			}
		}
		out = next
	}
	return out
}
