package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/local"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/runner"
)

func newRun(s Streams) *cobra.Command {
	var f clusterFlags
	var out string
	cmd := &cobra.Command{
		Use:   "run [flags] FILE",
		Short: "Play a scenario against a fresh control plane",
		Long: `Run brings the scenario's cluster up, plays its steps in order (the actions
of a step at the same time, each at its rate), prints what every step did,
tears the cluster down and exits: 0 when every step succeeded, 1 when a step
failed (a wait or a timeout), 3 when the cluster or the machine failed, 130 or
143 when interrupted. "kwok-run FILE" means "kwok-run run FILE".`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			p, err := f.plan(s, args)
			if err != nil {
				return err
			}
			if out == "" {
				out = filepath.Join("results", fmt.Sprintf("%s-%s", p.Scenario.Name, time.Now().UTC().Format("20060102T150405Z")))
			}
			if out, err = filepath.Abs(out); err != nil {
				return exit(ExitUsage, err)
			}
			r, err := f.resolver(s)
			if err != nil {
				return err
			}
			reg, err := registry.Default()
			if err != nil {
				return exit(ExitInfrastructure, err)
			}
			ctx := cmd.Context()
			cluster, err := local.Up(ctx, backends.SpecOf(p), local.Options{
				Name: fmt.Sprintf("%s-%d", p.Scenario.Name, time.Now().UnixNano()), RunDir: out,
				Binaries: r, Registry: reg, Log: s.Err,
			})
			if err != nil {
				if ctx.Err() != nil {
					return exit(ExitInterrupted, nil)
				}
				return exit(ExitInfrastructure, err)
			}
			// Whatever happens from here, the cluster goes; a panic too.
			defer func() {
				if rec := recover(); rec != nil {
					cluster.Down(context.Background())
					panic(rec)
				}
				if derr := cluster.Down(context.Background()); derr != nil && err == nil {
					err = exit(ExitInfrastructure, fmt.Errorf("tear down: %w", derr))
				}
			}()
			res, runErr := runner.Run(ctx, p, runner.Options{
				Cluster: cluster, Log: s.Err, Terminal: isTerminal(s.Err), RunDir: out,
			})
			if res != nil {
				writeOutcome(s.Out, res)
			}
			writeSelf(s.Out)
			fmt.Fprintf(s.Out, "results in %s\n", out)
			switch {
			case runErr == nil:
				return nil
			case ctx.Err() != nil:
				return exit(ExitInterrupted, errors.New("interrupted"))
			case errors.Is(runErr, runner.ErrInfrastructure):
				return exit(ExitInfrastructure, runErr)
			default:
				return exit(ExitFailed, runErr)
			}
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&f.allowExec, "allow-exec", false, "let the scenario's exec actions run commands on this machine")
	cmd.Flags().StringVar(&out, "out", "", "the results directory (default results/<scenario>-<UTC time>)")
	return cmd
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// writeOutcome prints what each step did, a line per action.
func writeOutcome(w io.Writer, res *runner.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, st := range res.Steps {
		status := "ok"
		if st.Err != nil {
			status = "FAILED"
		}
		fmt.Fprintf(tw, "step %s\t%s, %s\n", st.Name, status, st.End.Sub(st.Start).Round(10*time.Millisecond))
		for _, a := range st.Actions {
			line := a.Summary
			if a.Achieved > 0 {
				line += fmt.Sprintf(", %.1f/s", a.Achieved)
				if a.Asked > 0 {
					line += fmt.Sprintf(" (asked %.4g/s", a.Asked)
					if a.Achieved < 0.98*a.Asked {
						line += "; the cluster did not keep up"
					}
					line += ")"
				}
			}
			if len(a.Errors) > 0 {
				line += "; failed requests: " + errorList(a.Errors)
			}
			fmt.Fprintf(tw, "  %s\t%s\n", a.Kind, line)
		}
		if st.Err != nil {
			fmt.Fprintf(tw, "  error\t%s\n", oneLine(st.Err.Error()))
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "run took %s\n", res.End.Sub(res.Start).Round(10*time.Millisecond))
}

// writeSelf says what kwok-run itself cost: the budget its overhead is
// judged against (the control plane's own processes are not counted).
func writeSelf(w io.Writer) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Fprintf(w, "kwok-run used %.1f CPU-seconds, peak RSS %d MiB\n", cpu.Seconds(), ru.Maxrss/1024)
}

func errorList(m map[string]int) string {
	codes := make([]string, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%s ×%d", c, m[c])
	}
	return strings.Join(parts, ", ")
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
