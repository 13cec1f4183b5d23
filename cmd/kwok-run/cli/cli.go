// Package cli is the kwok-run command line: it parses arguments, calls the
// packages that do the work, and turns the outcome into output and an exit
// code. Tests call Run directly.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kwok-run/kwok-run/scenario"
)

// Exit codes, documented in the README. Each outcome has its own so CI can
// tell a slower cluster from a broken scenario from a broken machine.
const (
	ExitOK = 0
	// ExitFailed: an assertion failed (or fmt -check found unformatted files).
	ExitFailed = 1
	// ExitUsage: the scenario or the command line is wrong.
	ExitUsage = 2
	// ExitInfrastructure: the cluster or the machine failed.
	ExitInfrastructure = 3
	// ExitInterrupted and ExitTerminated follow the shell's 128+signal.
	ExitInterrupted = 130
	ExitTerminated  = 143
)

// Streams are where the command reads and writes: results go to Out, logs and
// diagnostics to Err.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// exitError carries an exit code out of a command; a nil err means the
// command has already said what went wrong.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// exit gives err an exit code, unless a deeper call already chose one.
func exit(code int, err error) error {
	var inner *exitError
	if errors.As(err, &inner) {
		return err
	}
	return &exitError{code: code, err: err}
}

// Run executes the command line args and returns the exit code.
func Run(ctx context.Context, s Streams, args []string) int {
	root := newRoot(s)
	root.SetArgs(longFlags(root, runByDefault(root, args)))
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(s.Err, "kwok-run: %s\n", ee.err)
		}
		return ee.code
	}
	// Everything else comes from cobra parsing the command line.
	fmt.Fprintf(s.Err, "kwok-run: %s\nRun 'kwok-run --help' for usage.\n", err)
	return ExitUsage
}

const rootHelp = `kwok-run turns one HCL scenario file into a reproducible Kubernetes scale test.

Exit codes:
  0    success
  1    an assertion failed (fmt -check: a file is not formatted)
  2    the scenario or the command line is wrong
  3    the cluster or the machine failed
  130  interrupted (SIGINT); 143 terminated (SIGTERM)

The scenario language is documented in docs/scenario-language.md.`

func newRoot(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "kwok-run",
		Short:         "Reproducible Kubernetes scale tests from one scenario file",
		Long:          rootHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(s.Err)
			_ = cmd.Help()
			return exit(ExitUsage, nil)
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newValidate(s), newPlan(s), newRun(s), newReport(s), newFmt(s), newBinaries(s), newImages(s), newCompare(s), newSweep(s), newUp(s), newDown(s), newVersion(s))
	return root
}

// runByDefault reads "kwok-run FILE" as "kwok-run run FILE", the way CI
// jobs call it: when the first argument names no command and is not a flag.
func runByDefault(root *cobra.Command, args []string) []string {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return args
	}
	for _, c := range root.Commands() {
		if c.Name() == args[0] || c.HasAlias(args[0]) {
			return args
		}
	}
	return append([]string{"run"}, args...)
}

// longFlags lets the Terraform spelling -var and -var-file (one dash) work
// beside --var: pflag only knows one-letter flags after a single dash.
func longFlags(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil {
		return args
	}
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name, _, _ := strings.Cut(a[1:], "=")
			if len(name) > 1 && cmd.Flags().Lookup(name) != nil {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

// varFlags binds -var and -var-file to one ordered list, because their
// relative order decides which value wins.
func varFlags(fs *pflag.FlagSet, into *[]scenario.VarArg) {
	fs.Var(&varFlag{into: into}, "var", "set a variable: -var name=value (repeatable)")
	fs.Var(&varFlag{into: into, file: true}, "var-file", "read variables from an HCL file of name = value lines (repeatable)")
}

type varFlag struct {
	into *[]scenario.VarArg
	file bool
}

func (f *varFlag) String() string { return "" }
func (f *varFlag) Type() string {
	if f.file {
		return "file"
	}
	return "name=value"
}
func (f *varFlag) Set(v string) error {
	*f.into = append(*f.into, scenario.VarArg{File: f.file, Value: v})
	return nil
}
