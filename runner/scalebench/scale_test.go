package scalebench

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/local"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/runner"
	"github.com/kwok-run/kwok-run/runner/measure"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Every case is a fresh cluster and a whole scenario per iteration: run
// with -benchtime 1x and -count 3 for medians (`make bench`).

// BenchmarkNodes creates N nodes and waits for all of them to be Ready,
// then does the same with kwokctl on the same binaries, and reports both
// and their ratio.
func BenchmarkNodes(b *testing.B) {
	for _, n := range []int{1000, 5000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				f := play(b, nodesScenario(n))
				ready := f["s-step-nodes"]
				f["s-nodes-ready"] = ready
				delete(f, "s-step-nodes")
				kc := kwokctlNodes(b, n)
				f["s-kwokctl-nodes-ready"] = kc
				f["x-kwokctl-over-kwok-run"] = kc / ready
				Record(b, f)
			}
		})
	}
}

// BenchmarkPods creates M bare pods onto M/10 nodes through the real
// scheduler and waits for all of them to be Running. From 3,000 nodes on,
// leases last 240s instead of a kubelet's 40s: 3,000 nodes renewing every
// 10s are 300 requests a second before the first pod, 10,000 are 1,000,
// more than two cores serve beside anything else (docs/performance.md).
// At 100,000 pods KWOK falls minutes behind on two cores, renewals
// included: leases last 600s there, and KWOK logs warnings only rather than
// a line per renewal.
func BenchmarkPods(b *testing.B) {
	for _, m := range []int{10000, 30000, 100000} {
		b.Run(fmt.Sprint(m), func(b *testing.B) {
			lease, kwokLog := "40s", "INFO"
			if m/10 >= 3000 {
				lease = "240s"
			}
			if m >= 100000 {
				lease, kwokLog = "600s", "WARN"
			}
			for range b.N {
				f := play(b, podsScenario(m/10, m, lease, kwokLog))
				f["s-pods-running"] = f["s-step-pods"]
				delete(f, "s-step-pods")
				Record(b, f)
			}
		})
	}
}

// BenchmarkChurn replaces 10% of 5,000 nodes every 30 seconds for 5
// minutes, then waits for the pool to be Ready.
func BenchmarkChurn(b *testing.B) {
	for range b.N {
		Record(b, play(b, churnScenario))
	}
}

func nodesScenario(n int) string {
	return fmt.Sprintf(`
scenario "nodes" {
  timeout = "15m"
}
node_pool "n" {
  count = %d
}
step "nodes" {
  create_nodes {
    pool = "n"
  }
  wait "nodes_ready" {
    pool = "n"
  }
}
`, n)
}

func podsScenario(nodes, pods int, lease, kwokLog string) string {
	return fmt.Sprintf(`
cluster {
  node_lease_duration = %q
  component "kwok" {
    args = { v = %q }
  }
}
scenario "pods" {
  timeout = "60m"
}
node_pool "n" {
  count = %d
}
step "nodes" {
  create_nodes {
    pool = "n"
  }
  wait "nodes_ready" {
    pool = "n"
  }
}
step "pods" {
  create_pods "p" {
    namespace = "load"
    count     = %d
  }
  wait "pods_running" {
    wave = "p"
  }
}
`, lease, kwokLog, nodes, pods)
}

const churnScenario = `
scenario "churn" {
  timeout = "20m"
}
node_pool "n" {
  count = 5000
}
step "nodes" {
  create_nodes {
    pool = "n"
  }
  wait "nodes_ready" {
    pool = "n"
  }
}
step "churn" {
  churn_nodes {
    pool     = "n"
    percent  = 10
    every    = "30s"
    duration = "5m"
  }
}
step "settle" {
  wait "nodes_ready" {
    pool = "n"
  }
}
`

// play runs src on a fresh local cluster and returns its figures: each
// step's length, the headline latencies and throughputs, and every
// component's CPU and peak RSS over the run, kwok-run's own included.
func play(b *testing.B, src string) Figures {
	b.Helper()
	p, diags := scenario.NewLoader().LoadSource(filepath.Join(b.TempDir(), "bench.hcl"), []byte(src), scenario.Options{})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	c := up(b, p)
	res, err := runner.Run(context.Background(), p, runner.Options{Cluster: c})
	rep := measure.Report(p, res, c.Components(), "bench")
	if downErr := c.Down(context.Background()); downErr != nil {
		b.Error(downErr)
	}
	if err != nil {
		b.Fatal(err)
	}
	f := Figures{}
	for _, s := range res.Steps {
		f["s-step-"+s.Name] = s.End.Sub(s.Start).Seconds()
	}
	for metric, name := range map[string]string{
		"node_creation_throughput.mean": "nodes/s-created",
		"pod_creation_throughput.mean":  "pods/s-created",
		"scheduling_throughput.mean":    "pods/s-scheduled-mean",
		"scheduling_throughput.max":     "pods/s-scheduled-peak-1s",
		"pod_startup_latency.p50":       "s-pod-startup-p50",
		"pod_startup_latency.p99":       "s-pod-startup-p99",
		"simulator_lag.p50":             "s-simulator-lag-p50",
		"watch_restarts":                "watch-restarts",
		"nodes_deleted":                 "nodes-deleted",
	} {
		if v, ok := rep.Metrics[metric]; ok {
			f[name] = v
		}
	}
	for k, v := range rep.Metrics {
		if comp, ok := strings.CutPrefix(k, "component_cpu_seconds."); ok && comp != "all" {
			f["cpu-s-"+comp] = v
		}
		if comp, ok := strings.CutPrefix(k, "component_rss_peak_bytes."); ok && comp != "all" {
			f["MiB-peak-rss-"+comp] = v / (1 << 20)
		}
	}
	return f
}

func up(b *testing.B, p *plan.Plan) *local.Cluster {
	b.Helper()
	start := time.Now()
	c, err := local.Up(context.Background(), backends.SpecOf(p), local.Options{
		Name: "scalebench", RunDir: filepath.Join(b.TempDir(), "run"), RemoveRunDir: true,
		Binaries: binariestest.Cached(b), Registry: &registry.Registry{Dir: b.TempDir()},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("cluster up in %s", time.Since(start).Round(time.Millisecond))
	return c
}
