package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/reports"
	"github.com/kwok-run/kwok-run/runner"
	"github.com/kwok-run/kwok-run/runner/measure"
	"github.com/kwok-run/kwok-run/runner/observe"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

func newRun(s Streams) *cobra.Command {
	var f clusterFlags
	var out string
	var noColor, varySeed bool
	var repeat int
	cmd := &cobra.Command{
		Use:   "run [flags] FILE",
		Short: "Play a scenario against a fresh control plane, measure it and check its assertions",
		Long: `Run brings the scenario's cluster up, plays its steps in order (the actions
of a step at the same time, each at its rate) while watching every pod, node,
Deployment and Job and reading the components' metrics, tears the cluster
down, checks the assertions and writes the results directory: report.json,
summary.md, report.html, junit.xml, events.jsonl and the components' logs.
It exits 0 when every step succeeded and every assertion held, 1 when an
assertion or a step failed, 3 when the cluster or the machine failed, 130 or
143 when interrupted; a partial report is written in every case.
With --repeat N it runs N times, each on a fresh cluster, into run-1 ...
run-N under the results directory, writes aggregate.json (every metric's N
values, median and spread) and exits with the worst outcome; kwok-run
compare reads such a directory as one side.
"kwok-run FILE" means "kwok-run run FILE".`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if repeat < 1 {
				return exit(ExitUsage, fmt.Errorf("--repeat %d: want 1 or more runs", repeat))
			}
			p, err := f.plan(s, args)
			if err != nil {
				return err
			}
			out, r, reg, err := f.prepare(s, out, p.Scenario.Name)
			if err != nil {
				return err
			}
			color := !noColor && isTerminal(s.Out)
			if repeat == 1 {
				rep, written := runOnce(cmd.Context(), s, &f, p, r, reg, out)
				reports.WriteTerminal(s.Out, rep, color)
				fmt.Fprintf(s.Out, "results in %s\n", written)
				return exitCode(rep.Outcome.ExitCode)
			}
			// Repeats: each run in a directory of its own, on a fresh
			// cluster; the worst outcome is the command's.
			seed := p.Scenario.Seed
			code := ExitOK
			for i := 1; i <= repeat; i++ {
				if varySeed {
					p.Scenario.Seed = seed + int64(i-1)
				}
				dir := filepath.Join(out, fmt.Sprintf("run-%d", i))
				fmt.Fprintf(s.Err, "run %d of %d (seed %d) into %s\n", i, repeat, p.Scenario.Seed, dir)
				rep, written := runOnce(cmd.Context(), s, &f, p, r, reg, dir)
				fmt.Fprintf(s.Out, "run %d of %d: %s (exit %d)", i, repeat, rep.Outcome.Status, rep.Outcome.ExitCode)
				if written != dir {
					fmt.Fprintf(s.Out, ", results in %s", written)
				}
				fmt.Fprintln(s.Out)
				code = worse(code, rep.Outcome.ExitCode)
				// A cluster that did not come up will not for the next run.
				if rep.Outcome.Status == reports.Interrupted || rep.Outcome.StoppedIn == startUp {
					break
				}
			}
			side, err := reports.LoadSide(out)
			if err != nil {
				return exit(ExitInfrastructure, err)
			}
			agg := reports.Aggregate(side)
			if err := reports.WriteAggregate(out, agg); err != nil {
				fmt.Fprintf(s.Err, "kwok-run: writing the aggregate: %s\n", err)
			}
			reports.WriteAggregateTerminal(s.Out, agg)
			fmt.Fprintf(s.Out, "results in %s (one directory per run, aggregate.json beside them)\n", out)
			return exitCode(code)
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().IntVar(&repeat, "repeat", 1, "run the scenario this many times, each on a fresh cluster, and aggregate the runs")
	cmd.Flags().BoolVar(&varySeed, "vary-seed", false, "with --repeat, give run i the scenario's seed + i - 1 instead of the same seed")
	cmd.Flags().BoolVar(&f.profile, "profile", false, "write kwok-run's own CPU profile of the run and its heap profile at the run's end (kwok-run.cpu.pprof, kwok-run.heap.pprof) into the results directory, for go tool pprof")
	cmd.Flags().StringVar(&out, "out", "", "the results directory (default results/<scenario>-<UTC time>)")
	cmd.Flags().BoolVar(&noColor, "no-color", false, "print the summary without colours")
	return cmd
}

// prepare makes the results directory (results/<name>-<UTC time> unless
// out names one) and checks it can be written, now rather than after a run
// whose report would be lost, and finds the binaries and the registry.
func (f *clusterFlags) prepare(s Streams, out, name string) (string, *binaries.Resolver, *registry.Registry, error) {
	var err error
	if out == "" {
		out, err = claimResultsDir(filepath.Join("results", fmt.Sprintf("%s-%s", name, time.Now().UTC().Format("20060102T150405Z"))))
		if err != nil {
			return "", nil, nil, exit(ExitInfrastructure, fmt.Errorf("the results directory: %w", err))
		}
	}
	out, err = filepath.Abs(out)
	if err != nil {
		return "", nil, nil, exit(ExitUsage, err)
	}
	if err := writable(out); err != nil {
		return "", nil, nil, exit(ExitInfrastructure, fmt.Errorf("the results directory: %w", err))
	}
	r, err := f.resolver(s)
	if err != nil {
		return "", nil, nil, err
	}
	reg, err := registry.Default()
	if err != nil {
		return "", nil, nil, exit(ExitInfrastructure, err)
	}
	removeOrphans(s, reg)
	return out, r, reg, nil
}

// removeOrphans removes, with a warning, the clusters of runs whose
// kwok-run died without tearing down (SIGKILL, a crash): their components
// would otherwise hold memory and ports until kwok-run down --all.
func removeOrphans(s Streams, reg *registry.Registry) {
	entries, err := reg.List()
	if err != nil {
		fmt.Fprintf(s.Err, "kwok-run: warning: cannot read the clusters of earlier runs: %s\n", err)
		return
	}
	for _, e := range entries {
		if !e.Orphaned() {
			continue
		}
		fmt.Fprintf(s.Err, "kwok-run: warning: cluster %s was left by kwok-run (pid %d), which is gone; removing it\n", e.Name, e.Owner.PID)
		if err := downEntry(context.Background(), reg, e); err != nil {
			fmt.Fprintf(s.Err, "kwok-run: warning: could not remove %s: %s (try kwok-run down --all)\n", e.Name, err)
		}
	}
}

// startUp is where a run stops when its cluster never came up.
const startUp = "the cluster's start-up"

// runOnce brings the cluster up, plays the plan, tears down and writes the
// results directory, and returns the report, which says how the run ended
// and, when it ended early, where. The results go elsewhere, with a
// message, when out cannot take them.
func runOnce(ctx context.Context, s Streams, f *clusterFlags, p *plan.Plan, r *binaries.Resolver, reg *registry.Registry, out string) (*reports.Report, string) {
	cluster, err := f.up(ctx, s, p, r, reg, where{name: fmt.Sprintf("%s-%d", p.Scenario.Name, time.Now().UnixNano()), runDir: out})
	if err != nil {
		rep := measure.Report(p, nil, nil, version())
		rep.Outcome = reports.Outcome{Status: reports.Broken, ExitCode: ExitInfrastructure, Error: err.Error(), StoppedIn: startUp}
		if ctx.Err() != nil {
			rep.Outcome = reports.Outcome{Status: reports.Interrupted, ExitCode: interruptedCode(ctx), Error: "interrupted while the cluster started", StoppedIn: startUp}
		}
		fmt.Fprintf(s.Err, "kwok-run: %s\n", rep.Outcome.Error)
		return rep, writeResults(ctx, s, out, rep, nil)
	}
	// Whatever happens from here, the cluster goes; a panic too.
	downOnce := sync.OnceValue(func() error { return cluster.Down(context.Background()) })
	defer func() {
		if rec := recover(); rec != nil {
			downOnce()
			panic(rec)
		}
	}()
	stopProfile := func() error { return nil }
	if f.profile {
		if stopProfile, err = startProfile(out); err != nil {
			fmt.Fprintf(s.Err, "kwok-run: --profile: %s\n", err)
		}
	}
	res, runErr := runner.Run(ctx, p, runner.Options{
		Cluster: cluster, Log: s.Err, Terminal: isTerminal(s.Err), RunDir: out,
		// An existing cluster outlives the run: what the run made goes.
		Cleanup: p.Cluster.Backend == plan.BackendKubeconfig,
	})
	if err := stopProfile(); err != nil {
		fmt.Fprintf(s.Err, "kwok-run: --profile: %s\n", err)
	}
	components := cluster.Components()
	downErr := downOnce()

	rep := measure.Report(p, res, components, version())
	rep.Outcome = outcome(ctx, runErr, downErr, rep)
	return rep, writeResults(ctx, s, out, rep, res)
}

// writeResults writes the report (and the events, when there are any) into
// out, or, when out cannot take them, into a new temporary directory, with
// a message; as a last resort report.json goes to stderr. It returns where
// the results are. A signal that arrives while they are written makes the
// run interrupted there, so the report and the exit code agree.
func writeResults(ctx context.Context, s Streams, out string, rep *reports.Report, res *runner.Result) string {
	write := func(dir string) error {
		err := reports.Write(dir, rep)
		if res != nil {
			err = errors.Join(err, writeEvents(dir, res))
		}
		return err
	}
	dir := out
	err := write(dir)
	if err != nil {
		fmt.Fprintf(s.Err, "kwok-run: could not write the results into %s: %s\n", out, err)
		if dir, err = os.MkdirTemp("", "kwok-run-results-"); err == nil {
			if err = write(dir); err == nil {
				fmt.Fprintf(s.Err, "kwok-run: wrote them into %s instead\n", dir)
			}
		}
		if err != nil {
			fmt.Fprintf(s.Err, "kwok-run: could not write them anywhere (%s); report.json follows\n", err)
			enc := json.NewEncoder(s.Err)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
			return "(nowhere: report.json is on stderr)"
		}
	}
	if ctx.Err() != nil && rep.Outcome.Status != reports.Interrupted {
		rep.Outcome = reports.Outcome{Status: reports.Interrupted, ExitCode: interruptedCode(ctx),
			Error: "interrupted while the results were written", StoppedIn: "writing the results"}
		if err := reports.Write(dir, rep); err != nil {
			fmt.Fprintf(s.Err, "kwok-run: could not mark the results interrupted: %s\n", err)
		}
	}
	return dir
}

// startProfile starts kwok-run's CPU profile into dir; the returned stop
// ends it and writes the heap profile, while the run's measurements are
// still held.
func startProfile(dir string) (stop func() error, err error) {
	cpu, err := os.Create(filepath.Join(dir, "kwok-run.cpu.pprof"))
	if err != nil {
		return func() error { return nil }, err
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return func() error { return nil }, err
	}
	return func() error {
		pprof.StopCPUProfile()
		heap, err := os.Create(filepath.Join(dir, "kwok-run.heap.pprof"))
		if err != nil {
			return errors.Join(cpu.Close(), err)
		}
		return errors.Join(cpu.Close(), pprof.Lookup("heap").WriteTo(heap, 0), heap.Close())
	}, nil
}

func exitCode(code int) error {
	if code == ExitOK {
		return nil
	}
	return exit(code, nil)
}

// worse picks the exit code that says more: an interrupt, then a broken
// cluster, then a failure.
func worse(a, b int) int {
	rank := func(c int) int {
		switch c {
		case ExitOK:
			return 0
		case ExitFailed:
			return 1
		case ExitInfrastructure:
			return 2
		}
		return 3
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// outcome decides how the run ended and its exit code: an interrupt or a
// broken cluster first, then a step that failed, then the assertions.
func outcome(ctx context.Context, runErr, downErr error, rep *reports.Report) reports.Outcome {
	o := reports.Outcome{Status: reports.Passed, ExitCode: ExitOK}
	stoppedIn := func() string {
		for _, st := range rep.Steps {
			if st.Status != reports.StepPassed {
				return st.Name
			}
		}
		return ""
	}
	switch {
	case ctx.Err() != nil:
		return reports.Outcome{Status: reports.Interrupted, ExitCode: interruptedCode(ctx), Error: "interrupted", StoppedIn: stoppedIn()}
	case errors.Is(runErr, runner.ErrInfrastructure):
		return reports.Outcome{Status: reports.Broken, ExitCode: ExitInfrastructure, Error: runErr.Error(), StoppedIn: stoppedIn()}
	case runErr != nil:
		o = reports.Outcome{Status: reports.Failed, ExitCode: ExitFailed, Error: runErr.Error(), StoppedIn: stoppedIn()}
	}
	var failed []string
	for _, a := range rep.Assertions {
		if a.Severity == scenario.SeverityError && !(a.Evaluated && a.Passed) {
			failed = append(failed, a.Name)
		}
	}
	if len(failed) > 0 && o.Status == reports.Passed {
		o = reports.Outcome{Status: reports.Failed, ExitCode: ExitFailed,
			Error: fmt.Sprintf("%d assertion(s) failed: %s", len(failed), strings.Join(failed, ", "))}
	}
	if downErr != nil && o.Status == reports.Passed {
		o = reports.Outcome{Status: reports.Broken, ExitCode: ExitInfrastructure, Error: "tear down: " + downErr.Error()}
	}
	return o
}

// interruptedCode is the exit code of the signal that cancelled ctx.
func interruptedCode(ctx context.Context) int {
	var sig Signal
	if errors.As(context.Cause(ctx), &sig) {
		return 128 + int(sig.Signal)
	}
	return ExitInterrupted
}

// Signal is the cause main gives the context it cancels on a signal.
type Signal struct{ syscall.Signal }

func (s Signal) Error() string { return "received " + s.Signal.String() }

func writeEvents(dir string, res *runner.Result) error {
	f, err := os.Create(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		return err
	}
	return errors.Join(observe.WriteJSONL(f, res.Observed), f.Close())
}

// probeBytes is what writable writes: an empty file fits on a full disk
// that still has inodes, and a report with its series and the components'
// logs take megabytes.
const probeBytes = 4 << 20

// claimResultsDir creates base, or base-2, base-3 … when another run of the
// same scenario started in the same second: each run gets a directory of
// its own, claimed by creating it.
func claimResultsDir(base string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return "", err
	}
	for n := 1; n <= 100; n++ {
		dir := base
		if n > 1 {
			dir = fmt.Sprintf("%s-%d", base, n)
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("%s and 99 more like it exist already", base)
}

// writable creates dir and checks that probeBytes can be written in it.
func writable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, probeBytes))
	return errors.Join(err, f.Sync(), f.Close())
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
