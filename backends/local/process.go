package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kwok-run/kwok-run/backends/components"
	"github.com/kwok-run/kwok-run/backends/registry"
)

// process is one running component.
type process struct {
	spec    components.Process
	binary  string
	logPath string
	// prepare runs once before the first start (KWOK's stages before KWOK).
	prepare func(context.Context) error

	mu       sync.Mutex
	cmd      *exec.Cmd
	stopping bool          // a stop was asked for: its exit is no failure
	exited   chan struct{} // closed when the current cmd has exited
	exitErr  error
}

// start runs the component in a process group of its own, its output
// appended to its log file. report receives the exit unless it was asked for.
func (p *process) start(env []string, report func(*process, error)) error {
	log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(log, "--- kwok-run starts %s at %s: %s %s\n", p.spec.Name, time.Now().Format(time.RFC3339Nano), p.binary, strings.Join(p.spec.Args, " "))
	cmd := exec.Command(p.binary, p.spec.Args...)
	cmd.Env = env
	cmd.Dir = filepath.Dir(p.logPath)
	cmd.Stdout, cmd.Stderr = log, log
	// A group of its own: a signal to kwok-run's terminal group does not
	// reach it, and teardown kills whatever it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.spec.Name, err)
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

// running reports whether the component has a live process.
func (p *process) running() bool {
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

// signal sends sig to the component's group and waits up to timeout for it
// to exit.
func (p *process) signal(sig syscall.Signal, timeout time.Duration) error {
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
		return fmt.Errorf("signal %s: %w", p.spec.Name, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s did not exit within %s of %s", p.spec.Name, timeout, sig)
	}
}

// kill stops the component for good: SIGKILL, because a simulator's state is
// thrown away and every graceful shutdown costs seconds.
func (p *process) kill() error {
	return p.signal(syscall.SIGKILL, 10*time.Second)
}

// record describes the process for the registry.
func (p *process) record() registry.Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := registry.Process{Name: p.spec.Name}
	if p.cmd != nil && p.cmd.Process != nil {
		r.PID = p.cmd.Process.Pid
		r.Start, _ = registry.StartTime(r.PID)
	}
	return r
}

// exitError describes how the component ended, with the end of its log.
func (p *process) exitError(err error) error {
	status := "exited"
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		status = ee.ProcessState.String()
	} else if err != nil {
		status = err.Error()
	}
	return &ComponentError{Component: p.spec.Name, Status: status, Log: tail(p.logPath, 20), LogPath: p.logPath}
}

// ComponentError is a component that died or never became healthy.
type ComponentError struct {
	Component string
	Status    string
	Log       string
	LogPath   string
}

func (e *ComponentError) Error() string {
	return fmt.Sprintf("%s %s; the end of %s:\n%s", e.Component, e.Status, e.LogPath, indent(e.Log))
}

func indent(s string) string {
	if s == "" {
		return "    (empty)"
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
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
