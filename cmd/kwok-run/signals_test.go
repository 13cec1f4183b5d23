package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/registry"
)

// Ctrl-C (and SIGTERM) while kwok-run brings a cluster up: the exit code
// names the signal, and nothing is left running or registered.
func TestSignalDuringStartUp(t *testing.T) {
	binariestest.Cached(t)
	bin := filepath.Join(t.TempDir(), "kwok-run")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build kwok-run: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			state := t.TempDir()
			cmd := exec.Command(bin, "up", "--binary-sources", "cache")
			cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+state)
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
		})
	}
}
