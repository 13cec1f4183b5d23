package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kwok-run/kwok-run/reports"
)

// A failed run's directory renders again, and that is not itself a failure.
func TestReportRendersAFailedRun(t *testing.T) {
	dir := t.TempDir()
	r := &reports.Report{
		SchemaVersion: reports.SchemaVersion,
		Started:       time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC),
		Duration:      12.5,
		Scenario:      reports.Scenario{Name: "quickstart", File: "quickstart.hcl"},
		Outcome:       reports.Outcome{Status: reports.Failed, ExitCode: ExitFailed, Error: "1 assertion failed"},
		Steps:         []reports.Step{{Name: "pods", End: 12.5, Status: reports.Passed}},
		Assertions: []reports.Assertion{{Name: "fast", Condition: "metrics.pod_startup_latency.p99 < 1", Severity: "error",
			Message: "not measured: pod_startup_latency had no samples"}},
	}
	if err := reports.Write(dir, r); err != nil {
		t.Fatal(err)
	}
	rendered := []string{"summary.md", "report.html", "junit.xml"}
	for _, f := range rendered {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	res := run(t, "", "report", "--no-color", dir)
	if res.code != ExitOK || res.errOut != "" {
		t.Fatalf("exit %d, stderr:\n%s", res.code, res.errOut)
	}
	for _, want := range []string{"kwok-run quickstart: failed (exit 1)", "✗", "not measured: pod_startup_latency had no samples"} {
		if !strings.Contains(res.out, want) {
			t.Errorf("missing %q in:\n%s", want, res.out)
		}
	}
	if strings.Contains(res.out, "\x1b[") {
		t.Error("colours with --no-color")
	}
	for _, f := range rendered {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestReportWithoutReportJSON(t *testing.T) {
	dir := t.TempDir()
	res := run(t, "", "report", dir)
	want := "kwok-run: " + dir + " has no report.json: it is not a kwok-run results directory\n"
	if res.code != ExitUsage || res.errOut != want || res.out != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", res.code, res.out, res.errOut, want)
	}
}
