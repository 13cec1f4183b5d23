// Package containers is the docker and nerdctl backend: every component in
// a container of its own on a network made for the run, with only
// 127.0.0.1 ports published. Both engines speak the same command-line
// dialect; Engine holds the few places where they differ.
package containers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Engine is one container engine's command-line tool.
type Engine struct {
	// Name is plan.BackendDocker or plan.BackendNerdctl.
	Name string
	// Argv is the command and the flags that come before every subcommand
	// (nerdctl's --address, --namespace, ...).
	Argv []string

	// exec runs a command, stdout and stderr to the writers given; tests
	// replace it to see the command lines.
	exec func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, argv []string) error
}

// EnvNerdctlFlags holds global flags for nerdctl, space-separated, for a
// containerd that is not at its default address (CI starts its own).
const EnvNerdctlFlags = "KWOKRUN_NERDCTL_FLAGS"

// Find looks the engine's command up on PATH; binary, when set, names it
// (a path or a command name).
func Find(name, binary string, globalFlags []string) (*Engine, error) {
	if name != plan.BackendDocker && name != plan.BackendNerdctl {
		return nil, fmt.Errorf("%q is not a container engine (docker or nerdctl)", name)
	}
	if binary == "" {
		binary = name
	}
	path, err := exec.LookPath(binary)
	if err != nil {
		return nil, fmt.Errorf("the %s backend runs the %s command, which was not found (%v): install it, or use --backend local", name, binary, errors.Unwrap(err))
	}
	return &Engine{Name: name, Argv: append([]string{path}, globalFlags...), exec: run}, nil
}

// CommandError is a command of the engine that failed, with what it printed.
type CommandError struct {
	Argv   []string
	Output string
	Err    error
}

func (e *CommandError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		return fmt.Sprintf("%s: %v", strings.Join(e.Argv, " "), e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", strings.Join(e.Argv, " "), e.Err, out)
}

func (e *CommandError) Unwrap() error { return e.Err }

// Run runs a subcommand and returns its standard output, trimmed.
func (e *Engine) Run(ctx context.Context, args ...string) (string, error) {
	var stdout bytes.Buffer
	err := e.command(ctx, nil, &stdout, args)
	return strings.TrimSpace(stdout.String()), err
}

// Load reads images from a tarball into the engine.
func (e *Engine) Load(ctx context.Context, tarball io.Reader) error {
	return e.command(ctx, tarball, io.Discard, []string{"load"})
}

// Logs writes a container's output, both streams as the engine keeps them
// apart, to w.
func (e *Engine) Logs(ctx context.Context, w io.Writer, args ...string) error {
	return e.exec(ctx, nil, w, w, e.argv(append([]string{"logs"}, args...)))
}

func (e *Engine) argv(args []string) []string {
	return append(e.Argv[:len(e.Argv):len(e.Argv)], args...)
}

// command runs a subcommand and keeps its stderr for the error.
func (e *Engine) command(ctx context.Context, stdin io.Reader, stdout io.Writer, args []string) error {
	var stderr bytes.Buffer
	argv := e.argv(args)
	if err := e.exec(ctx, stdin, stdout, &stderr, argv); err != nil {
		return &CommandError{Argv: argv, Output: stderr.String(), Err: err}
	}
	return nil
}

func run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, argv []string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	return cmd.Run()
}

// Recorded is the engine a registry entry recorded, to remove what a
// crashed run left.
func Recorded(name string, argv []string) *Engine {
	return &Engine{Name: name, Argv: argv, exec: run}
}
