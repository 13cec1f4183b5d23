package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/reports"
)

// Ctrl-C (and SIGTERM) while kwok-run brings a cluster up: the exit code
// names the signal, and nothing is left running, registered or in the
// temporary directory.
func TestSignalDuringStartUp(t *testing.T) {
	binariestest.Cached(t)
	bin := build(t)
	for _, tc := range []struct {
		backend string
		sig     syscall.Signal
		code    int
	}{{"local", syscall.SIGINT, 130}, {"local", syscall.SIGTERM, 143}, {"docker", syscall.SIGINT, 130}} {
		t.Run(tc.backend+"/"+tc.sig.String(), func(t *testing.T) {
			if tc.backend == "docker" {
				docker(t)
			}
			state, tmp := t.TempDir(), t.TempDir()
			cmd := exec.Command(bin, "up", "--backend", tc.backend, "--binary-sources", "cache")
			cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+state, "TMPDIR="+tmp)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second) // the apiserver takes about four
			cmd.Process.Signal(tc.sig)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.code {
				t.Fatalf("want exit %d, got %v\n%s", tc.code, err, stderr.String())
			}
			reg := &registry.Registry{Dir: filepath.Join(state, "kwok-run")}
			if entries, _ := reg.List(); len(entries) != 0 {
				t.Errorf("clusters left registered: %v", entries)
			}
			out, _ := exec.Command("pgrep", "-f", filepath.Join(state, "kwok-run")).Output()
			if s := strings.TrimSpace(string(out)); s != "" {
				t.Errorf("processes left: %s", s)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
			// A run stopped before it named itself created nothing.
			if m := regexp.MustCompile(`starting run ([0-9a-f]+) on`).FindStringSubmatch(stderr.String()); tc.backend == "docker" && m != nil {
				assertNoContainersLeft(t, m[1])
			}
		})
	}
}

// docker skips, loudly, where no Docker Engine answers, unless the
// integration tests are required.
func docker(t *testing.T) {
	t.Helper()
	if err := exec.Command("docker", "version").Run(); err != nil {
		msg := "INTEGRATION TEST NOT RUN: no Docker Engine answers here: " + err.Error()
		if os.Getenv(binariestest.EnvRequire) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// Ctrl-C during a run: the steps stop, the cluster goes, the exit code is
// 130, and the outcome so far is printed and written as a partial report
// that says where the run stopped.
func TestSignalDuringARun(t *testing.T) {
	binariestest.Cached(t)
	r := startLongRun(t, build(t))
	time.Sleep(2 * time.Second)
	r.cmd.Process.Signal(syscall.SIGINT)
	rep := r.finished(t, 130, time.Minute)
	if !strings.Contains(r.stdout.String(), "long: interrupted (exit 130)") || !strings.Contains(r.stdout.String(), "created 5 of 5 nodes") {
		t.Errorf("the outcome so far was not printed:\n%s", r.stdout.String())
	}
	if rep.Outcome.Status != reports.Interrupted || rep.Outcome.ExitCode != 130 || rep.Outcome.StoppedIn != "forever" || rep.Metrics["nodes_created"] != 5 {
		t.Errorf("partial report: outcome %+v, nodes created %v", rep.Outcome, rep.Metrics["nodes_created"])
	}
	r.assertNothingLeft(t)
}

// lockedBuffer is written by the command's output copier while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
