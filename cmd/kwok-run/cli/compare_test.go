package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/reports"
)

// results writes one results directory per value, as repeated runs of the
// quickstart whose p99 pod start-up took those values.
func results(t *testing.T, kubernetes string, p99 ...float64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), kubernetes)
	for i, v := range p99 {
		r := &reports.Report{
			SchemaVersion: reports.SchemaVersion,
			Scenario:      reports.Scenario{Name: "quickstart", SHA256: "abc"},
			Cluster:       reports.Cluster{Backend: "local", Kubernetes: kubernetes},
			Metrics:       map[string]float64{"pod_startup_latency.p99": v},
		}
		if err := reports.Write(filepath.Join(dir, "run-"+string(rune('a'+i))), r); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCompareExitCodes(t *testing.T) {
	base := results(t, "v1.36.3", 1.00, 1.02, 0.98, 1.01, 0.99)
	slower := results(t, "v1.37.2", 1.30, 1.28, 1.33, 1.31, 1.29)
	same := results(t, "v1.37.2", 1.03, 0.98, 1.01, 0.96, 1.05)
	md := filepath.Join(t.TempDir(), "compare.md")
	page := filepath.Join(t.TempDir(), "compare.html")

	r := run(t, "", "compare", base, slower, "--markdown", md, "--html", page)
	if r.code != ExitFailed || !strings.Contains(r.out, "1 regression: pod_startup_latency.p99") || !strings.Contains(r.out, "kubernetes: v1.36.3 → v1.37.2") {
		t.Errorf("a regression: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	if raw, err := os.ReadFile(md); err != nil || !strings.Contains(string(raw), "| ✗ | pod_startup_latency.p99 | worse |") {
		t.Errorf("markdown: %v\n%s", err, raw)
	}
	if raw, err := os.ReadFile(page); err != nil || !strings.Contains(string(raw), "<h1>1 regression</h1>") || !strings.Contains(string(raw), "<svg") {
		t.Errorf("html: %v", err)
	}
	if r := run(t, "", "compare", base, slower, "--threshold", "pod_startup_latency=40%"); r.code != ExitOK {
		t.Errorf("within a 40%% threshold: exit %d\n%s", r.code, r.out)
	}
	if r := run(t, "", "compare", base, same, "--threshold", "1%"); r.code != ExitOK || !strings.Contains(r.out, "no regression") {
		t.Errorf("noise: exit %d\n%s", r.code, r.out)
	}
	for _, args := range [][]string{
		{"compare", base, filepath.Join(t.TempDir(), "missing")},
		{"compare", base, slower, "--threshold", "ten"},
		{"compare", base, slower, "--alpha", "2"},
		{"compare", base},
	} {
		if r := run(t, "", args...); r.code != ExitUsage || r.errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want %d and a message", args[1:], r.code, r.errOut, ExitUsage)
		}
	}
}

// --repeat runs on fresh clusters into run-1 ... run-N, aggregates them, and
// the directory is one side of a comparison; --profile leaves kwok-run's
// profiles beside each report.
func TestRunRepeat(t *testing.T) {
	binariestest.Cached(t)
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv(binaries.EnvSources, "cache")
	out := filepath.Join(t.TempDir(), "repeats")
	r := run(t, "", "run", "--repeat", "3", "--vary-seed", "--profile", "--out", out, "-var", "pods=10", "../../../examples/quickstart.hcl")
	if r.code != ExitOK || !strings.Contains(r.out, "quickstart: 3 runs (passed, passed, passed)") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.errOut)
	}
	for i, want := range []int64{42, 43, 44} {
		rep, err := reports.Read(filepath.Join(out, "run-"+string(rune('1'+i))))
		if err != nil || rep.Scenario.Seed != want {
			t.Errorf("run %d: seed %v (%v), want %d", i+1, rep, err, want)
		}
	}
	for _, name := range []string{"kwok-run.cpu.pprof", "kwok-run.heap.pprof"} {
		f, err := os.Open(filepath.Join(out, "run-2", name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := profile.Parse(f); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		f.Close()
	}
	raw, err := os.ReadFile(filepath.Join(out, reports.AggregateFile))
	if err != nil || !strings.Contains(string(raw), `"pod_startup_latency.p99"`) {
		t.Errorf("aggregate: %v", err)
	}
	if r := run(t, "", "compare", out, out); r.code != ExitOK || !strings.Contains(r.out, "(3 runs)") || !strings.Contains(r.out, "seed") {
		t.Errorf("compare of the repeats with themselves: exit %d\n%s", r.code, r.out)
	}
	if r := run(t, "", "run", "--repeat", "0", "../../../examples/quickstart.hcl"); r.code != ExitUsage {
		t.Errorf("--repeat 0: exit %d", r.code)
	}
}
