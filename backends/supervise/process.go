// Package supervise runs a backend's components as child processes: each in
// a process group of its own with its output in a log file, an exit nobody
// asked for reported, and what the registry needs to kill it after a crash.
package supervise

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/components"
	"github.com/kwok-run/kwok-run/backends/registry"
)

// Process is one component's child process, started any number of times.
type Process struct {
	Spec    components.Process
	Binary  string
	LogPath string

	mu       sync.Mutex
	cmd      *exec.Cmd
	stopping bool          // a stop was asked for: its exit is no failure
	exited   chan struct{} // closed when the current cmd has exited
	exitErr  error
}

// Start runs the component in a process group of its own, its output
// appended to its log file. report receives the exit unless it was asked for.
func (p *Process) Start(env []string, report func(*Process, error)) error {
	log, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(log, "--- kwok-run starts %s at %s: %s %s\n", p.Spec.Name, time.Now().Format(time.RFC3339Nano), p.Binary, strings.Join(p.Spec.Args, " "))
	cmd := exec.Command(p.Binary, p.Spec.Args...)
	cmd.Env = env
	cmd.Dir = filepath.Dir(p.LogPath)
	cmd.Stdout, cmd.Stderr = log, log
	// A group of its own: a signal to kwok-run's terminal group does not
	// reach it, and teardown kills whatever it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Spec.Name, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.stopping, p.exited, p.exitErr = cmd, false, exited, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		expected := p.stopping
		p.mu.Unlock()
		close(exited)
		if !expected {
			report(p, err)
		}
	}()
	return nil
}

// Running reports whether the component has a live process.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Signal sends sig to the component's group and waits up to timeout for it
// to exit.
func (p *Process) Signal(sig syscall.Signal, timeout time.Duration) error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.stopping = true
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s: %w", p.Spec.Name, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s did not exit within %s of %s", p.Spec.Name, timeout, sig)
	}
}

// Kill stops the component for good: SIGKILL, because a simulator's state is
// thrown away and every graceful shutdown costs seconds.
func (p *Process) Kill() error {
	return p.Signal(syscall.SIGKILL, 10*time.Second)
}

// Paused reports whether the component's process is stopped by a signal
// (state T in /proc): alive, but doing nothing.
func (p *Process) Paused() bool {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return false
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		return false
	}
	// The state follows the command's name, in parentheses that may hold
	// spaces and parentheses of their own.
	i := bytes.LastIndexByte(raw, ')')
	return i >= 0 && i+2 < len(raw) && (raw[i+2] == 'T' || raw[i+2] == 't')
}

// Record describes the process for the registry.
func (p *Process) Record() registry.Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := registry.Process{Name: p.Spec.Name}
	if p.cmd != nil && p.cmd.Process != nil {
		r.PID = p.cmd.Process.Pid
		r.Start, _ = registry.StartTime(r.PID)
	}
	return r
}

// ExitError describes how the component ended, with the end of its log.
func (p *Process) ExitError(err error) error {
	status := "exited"
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		status = ee.ProcessState.String()
	} else if err != nil {
		status = err.Error()
	}
	return &ComponentError{Component: p.Spec.Name, Status: status, Log: Tail(p.LogPath, 20), LogPath: p.LogPath}
}

// ComponentError is a component that died or never became healthy.
type ComponentError struct {
	Component string
	Status    string
	Log       string
	LogPath   string
}

func (e *ComponentError) Error() string {
	return fmt.Sprintf("%s %s; the end of %s:\n%s", e.Component, e.Status, e.LogPath, Indent(e.Log))
}

// Indent indents every line of s, for a log excerpt inside an error.
func Indent(s string) string {
	if s == "" {
		return "    (empty)"
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// Tail returns the last n lines of a file.
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const chunk = 16 << 10
	if info, err := f.Stat(); err == nil && info.Size() > chunk {
		f.Seek(-chunk, io.SeekEnd)
	}
	raw, _ := io.ReadAll(f)
	lines := bytes.Split(bytes.TrimRight(raw, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Endpoints lists the metrics URLs of the processes that run.
func Endpoints(procs []*Process) []backends.Endpoint {
	var out []backends.Endpoint
	for _, p := range procs {
		if p.Running() {
			out = append(out, backends.Endpoint{Component: p.Spec.Name, MetricsURL: p.Spec.MetricsURL})
		}
	}
	return out
}

// Components describes every process as it was started, for the report.
func Components(procs []*Process) []backends.Component {
	out := make([]backends.Component, len(procs))
	for i, p := range procs {
		out[i] = backends.Component{Name: p.Spec.Name, Binary: p.Binary, SHA256: binaries.Digest(p.Binary), Args: slices.Clone(p.Spec.Args)}
	}
	return out
}
