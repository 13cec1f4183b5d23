package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/reports"
	"github.com/kwok-run/kwok-run/runner/measure"
)

// mountTmpfs mounts a tmpfs of its own at dir with options, for the
// duration of the test. Mounting needs root: elsewhere the test is skipped,
// loudly, unless the integration tests are required (CI runs as root).
func mountTmpfs(t *testing.T, dir, options string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", options, "tmpfs", dir).CombinedOutput(); err != nil {
		msg := "TEST NOT RUN: cannot mount a tmpfs here (root is needed): " + strings.TrimSpace(string(out))
		if os.Getenv(binariestest.EnvRequire) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
}

// A results directory that cannot take the results is refused before
// anything starts: not a directory, a read-only file system, a full disk.
func TestResultsDirectoryRefusedBeforeTheClusterStarts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) string
		says  string
	}{
		{"under a file", func(t *testing.T, dir string) string {
			file := filepath.Join(dir, "file")
			if err := os.WriteFile(file, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(file, "results")
		}, "not a directory"},
		{"read-only", func(t *testing.T, dir string) string {
			mountTmpfs(t, dir, "ro,size=16m")
			return filepath.Join(dir, "results")
		}, "read-only file system"},
		{"full", func(t *testing.T, dir string) string {
			mountTmpfs(t, dir, "size=1m")
			return filepath.Join(dir, "results")
		}, "no space left on device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.setup(t, t.TempDir())
			t.Setenv("XDG_STATE_HOME", t.TempDir())
			r := run(t, "", "run", "--out", out, "../../../examples/quickstart.hcl")
			if r.code != ExitInfrastructure || !strings.Contains(r.errOut, "the results directory") || !strings.Contains(r.errOut, tc.says) {
				t.Errorf("exit %d, want %d with the results directory refused (%s):\n%s", r.code, ExitInfrastructure, tc.says, r.errOut)
			}
			if strings.Contains(r.errOut, "control plane") || strings.Contains(r.errOut, "starting") {
				t.Errorf("something started before the refusal:\n%s", r.errOut)
			}
		})
	}
}

// Results that cannot be written where they were asked for go to a new
// temporary directory, with a message; when that fails too, report.json
// goes to stderr. Nothing is dropped silently.
func TestResultsGoElsewhereWhenTheDirectoryFails(t *testing.T) {
	p := load(io.Discard, "../../../examples/quickstart.hcl", nil, trust{})
	if p == nil {
		t.Fatal("the quickstart does not load")
	}
	rep := measure.Report(p, nil, nil, "test")
	rep.Outcome = reports.Outcome{Status: reports.Passed}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(file, "results")

	t.Setenv("TMPDIR", t.TempDir())
	var stderr bytes.Buffer
	dir := writeResults(context.Background(), Streams{Err: &stderr}, out, rep, nil)
	if dir == out || !strings.HasPrefix(dir, os.Getenv("TMPDIR")) || !strings.Contains(stderr.String(), "wrote them into "+dir+" instead") {
		t.Fatalf("results in %q, want a new temporary directory named in a message:\n%s", dir, stderr.String())
	}
	if got, err := reports.Read(dir); err != nil || got.Scenario.Name != p.Scenario.Name {
		t.Errorf("the report written elsewhere: %v", err)
	}

	t.Setenv("TMPDIR", file)
	stderr.Reset()
	writeResults(context.Background(), Streams{Err: &stderr}, out, rep, nil)
	text := stderr.String()
	i := strings.Index(text, "report.json follows\n")
	if i < 0 {
		t.Fatalf("no report on stderr:\n%s", text)
	}
	var got reports.Report
	if err := json.Unmarshal([]byte(text[i+len("report.json follows\n"):]), &got); err != nil || got.Scenario.Name != p.Scenario.Name {
		t.Errorf("stderr does not end with the report: %v\n%s", err, text)
	}
}

// A signal that arrives while the results are written makes the run
// interrupted there: the report and the exit code agree.
func TestSignalWhileWritingTheResults(t *testing.T) {
	p := load(io.Discard, "../../../examples/quickstart.hcl", nil, trust{})
	rep := measure.Report(p, nil, nil, "test")
	rep.Outcome = reports.Outcome{Status: reports.Passed}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(Signal{Signal: 15})
	dir := writeResults(ctx, Streams{Err: io.Discard}, t.TempDir(), rep, nil)
	got, err := reports.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome.Status != reports.Interrupted || got.Outcome.ExitCode != 143 || got.Outcome.StoppedIn != "writing the results" {
		t.Errorf("outcome %+v, want interrupted (143) while writing the results", got.Outcome)
	}
}

// Two runs of one scenario started in the same second get a results
// directory each.
func TestResultsDirectoryClaimedPerRun(t *testing.T) {
	base := filepath.Join(t.TempDir(), "results", "quickstart-20261129T050000Z")
	seen := map[string]bool{}
	for range 3 {
		dir, err := claimResultsDir(base)
		if err != nil {
			t.Fatal(err)
		}
		if seen[dir] {
			t.Fatalf("%s handed out twice", dir)
		}
		seen[dir] = true
	}
	if !seen[base] || !seen[base+"-2"] || !seen[base+"-3"] {
		t.Errorf("directories %v", seen)
	}
}
