package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/local"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/runner/scalebench"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Each benchmark iteration is a fresh cluster and a whole scenario: run them
// with -benchtime 1x and -count for medians (`make bench`).

func benchCluster(b *testing.B, p *plan.Plan) *local.Cluster {
	b.Helper()
	c, err := local.Up(context.Background(), backends.SpecOf(p), local.Options{
		Name: "bench", RunDir: filepath.Join(b.TempDir(), "run"), RemoveRunDir: true,
		Binaries: binariestest.Cached(b), Registry: &registry.Registry{Dir: b.TempDir()},
	})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func benchPlan(b *testing.B, src string) *plan.Plan {
	b.Helper()
	p, diags := scenario.NewLoader().LoadSource(filepath.Join(b.TempDir(), "bench.hcl"), []byte(src), scenario.Options{})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	return p
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCreateRate creates nodes for ten seconds at each rate and reports
// the achieved rate as a percentage of the asked one, and kwok-run's own CPU
// during the step as a percentage of a core per 100 creations a second: the
// cost of the rate. What the run costs once (starting its watches, reading
// every component at the step boundaries, stopping) is reported apart, in
// CPU-seconds.
func BenchmarkCreateRate(b *testing.B) {
	for _, rate := range []int{100, 200, 500} {
		b.Run(fmt.Sprintf("nodes-%d-per-s", rate), func(b *testing.B) {
			src := fmt.Sprintf(`
scenario "rate" {}
node_pool "n" {
  count = %d
}
step "create" {
  create_nodes {
    pool        = "n"
    rate        = %d
    parallelism = 100
  }
}
`, rate*10, rate)
			var achievedPct, cpuPct, once float64
			for i := 0; i < b.N; i++ {
				p := benchPlan(b, src)
				c := benchCluster(b, p)
				cpu := selfCPU()
				res, err := Run(context.Background(), p, Options{Cluster: c})
				used := selfCPU() - cpu
				c.Down(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				a := res.Steps[0].Actions[0]
				achievedPct += 100 * a.Achieved / float64(rate)
				from, to := res.Steps[0].Start.Sub(res.Start), res.Steps[0].End.Sub(res.Start)
				inStep, ok := res.Scrape.CPUSeconds("kwok_run", from, to)
				if !ok {
					b.Fatal("kwok-run's own CPU was not sampled")
				}
				cpuPct += 100 * inStep / (to - from).Seconds() / (float64(rate) / 100)
				once += used.Seconds() - inStep
			}
			n := float64(b.N)
			scalebench.Record(b, scalebench.Figures{"%-of-asked-rate": achievedPct / n, "%-core-per-100/s": cpuPct / n, "cpu-s-once-per-run": once / n})
		})
	}
}

// BenchmarkMeasurementCPU creates 10,000 pods asked at 500/s onto 200 nodes
// under a CPU profile, and reports what the measurements (the labelled
// watches, informers and scrapes) cost: as a share of one core over the
// step, and as a share of kwok-run's own CPU. KWOKRUN_PROFILE_DIR keeps the
// profiles, for `go tool pprof -tagfocus kwok-run=measure`.
func BenchmarkMeasurementCPU(b *testing.B) {
	src := `
scenario "overhead" {
  timeout = "10m"
}
node_pool "n" {
  count    = 200
  capacity = { pods = 100 }
}
step "nodes" {
  create_nodes {
    pool = "n"
    rate = 200
  }
  wait "nodes_ready" {
    pool = "n"
  }
}
step "pods" {
  create_pods "p" {
    namespace   = "load"
    count       = 10000
    rate        = 500
    parallelism = 100
  }
}
`
	var corePct, sharePct, achieved float64
	for i := 0; i < b.N; i++ {
		p := benchPlan(b, src)
		c := benchCluster(b, p)
		var prof bytes.Buffer
		if err := pprof.StartCPUProfile(&prof); err != nil {
			b.Fatal(err)
		}
		res, err := Run(context.Background(), p, Options{Cluster: c})
		pprof.StopCPUProfile()
		c.Down(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if dir := os.Getenv("KWOKRUN_PROFILE_DIR"); dir != "" {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("measurement-cpu-%d.pprof", i)), prof.Bytes(), 0o644)
		}
		measured, total := labelledCPU(b, &prof, "kwok-run", "measure")
		took := res.End.Sub(res.Start)
		corePct += 100 * measured.Seconds() / took.Seconds()
		sharePct += 100 * measured.Seconds() / total.Seconds()
		achieved += res.Steps[1].Actions[0].Achieved
	}
	n := float64(b.N)
	scalebench.Record(b, scalebench.Figures{"%-core-measuring": corePct / n, "%-of-kwok-run-cpu-measuring": sharePct / n, "pods/s": achieved / n})
}

// labelledCPU sums a CPU profile's samples: those with the label, and all.
func labelledCPU(b *testing.B, raw *bytes.Buffer, key, value string) (labelled, total time.Duration) {
	prof, err := profile.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	cpu := len(prof.SampleType) - 1 // cpu nanoseconds come last
	for _, s := range prof.Sample {
		d := time.Duration(s.Value[cpu])
		total += d
		if slices.Contains(s.Label[key], value) {
			labelled += d
		}
	}
	return labelled, total
}
