package cli

import (
	"path/filepath"
	"testing"

	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/reports"
	"github.com/kwok-run/kwok-run/runner/scalebench"
)

// BenchmarkQuickstart runs the quickstart through the CLI on each backend
// and reports what it measured, so that benchstat sets the backends side by
// side: a container backend must measure the same cluster. Use
// -benchtime 1x -count 5.
func BenchmarkQuickstart(b *testing.B) {
	binariestest.Cached(b)
	b.Setenv("XDG_STATE_HOME", b.TempDir())
	b.Setenv(binaries.EnvSources, "cache")
	for _, backend := range []string{"local", "docker"} {
		b.Run("backend="+backend, func(b *testing.B) {
			if backend == "docker" {
				dockerOrSkip(b)
				if r := run(b, "", "images", "build"); r.code != ExitOK {
					b.Fatalf("images build: %s", r.errOut)
				}
			}
			metrics := map[string]float64{}
			for i := 0; i < b.N; i++ {
				out := filepath.Join(b.TempDir(), "results")
				if r := run(b, "", "run", "--backend", backend, "--out", out, "../../../examples/quickstart.hcl"); r.code != ExitOK {
					b.Fatalf("exit %d\n%s\n%s", r.code, r.out, r.errOut)
				}
				rep, err := reports.Read(out)
				if err != nil {
					b.Fatal(err)
				}
				for _, m := range []string{"pod_startup_latency.p50", "pod_startup_latency.p99", "node_ready_latency.p50", "pod_scheduling_latency.p99"} {
					metrics[m] += rep.Metrics[m]
				}
				metrics["run-s"] += rep.Duration
			}
			f := scalebench.Figures{}
			for m, v := range metrics {
				f[m] = v / float64(b.N)
			}
			scalebench.Record(b, f)
		})
	}
}
