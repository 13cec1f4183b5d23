package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

// backgroundCmd is an exec action left running until the end of the run.
type backgroundCmd struct {
	name     string
	cmd      *exec.Cmd
	done     chan struct{}
	stopping bool
}

func (a *actionCtx) exec(ctx context.Context, e *plan.Exec) error {
	a.record("exec %s", strings.Join(e.Command, " "))
	dir := filepath.Dir(a.r.plan.Scenario.File)
	if e.Dir != "" {
		dir = filepath.Join(dir, e.Dir)
	}
	logDir := filepath.Join(a.r.opts.RunDir, "exec")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return err
	}
	logPath := filepath.Join(logDir, fmt.Sprintf("%s-%d.log", a.step.Name, a.at[1]))
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(e.Command[0], e.Command[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "KUBECONFIG="+a.r.opts.Cluster.Kubeconfig())
	for k, v := range e.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// A group of its own, so stopping it stops what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", e.Command[0], err)
	}
	name := strings.Join(e.Command, " ")
	if e.Background {
		b := &backgroundCmd{name: name, cmd: cmd, done: make(chan struct{})}
		a.r.bgMu.Lock()
		a.r.background = append(a.r.background, b)
		a.r.bgMu.Unlock()
		go func() {
			err := cmd.Wait()
			close(b.done)
			a.r.bgMu.Lock()
			stopping := b.stopping
			a.r.bgMu.Unlock()
			if !stopping {
				select {
				case a.r.backgroundFailed <- fmt.Errorf("background command %q ended during the run (%v); its output is in %s", name, exitStatus(err), logPath):
				default:
				}
			}
		}()
		a.res.Summary = fmt.Sprintf("started %q in the background; output in %s", name, logPath)
		return nil
	}
	if e.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.Timeout.D())
		defer cancel()
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
		return fmt.Errorf("exec %q: %w; its output is in %s", name, context.Cause(ctx), logPath)
	}
	a.res.Summary = fmt.Sprintf("%q %s; output in %s", name, exitStatus(err), logPath)
	if err != nil {
		return fmt.Errorf("exec %q %s; the end of %s:\n%s", name, exitStatus(err), logPath, lastLines(logPath, 10))
	}
	a.res.Done = 1
	return nil
}

func exitStatus(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exited 0"
	case errors.As(err, &ee):
		return ee.ProcessState.String()
	}
	return err.Error()
}

// stopBackground ends the background commands: SIGTERM, then SIGKILL for
// those still there after five seconds.
func (r *runner) stopBackground() {
	r.bgMu.Lock()
	bg := r.background
	for _, b := range bg {
		b.stopping = true
	}
	r.bgMu.Unlock()
	for _, b := range bg {
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGTERM)
	}
	for _, b := range bg {
		select {
		case <-b.done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
			<-b.done
		}
	}
}

func lastLines(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}
