package measure

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/local"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/runner"
	"github.com/kwok-run/kwok-run/runner/observe"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// run plays src on a fresh local cluster and returns its plan and result;
// the run must succeed.
func run(t *testing.T, src string) (*plan.Plan, *runner.Result) {
	t.Helper()
	binariestest.Alone(t)
	bins := binariestest.Cached(t)
	dir := t.TempDir()
	p, diags := scenario.NewLoader().LoadSource(filepath.Join(dir, "s.hcl"), []byte(src), scenario.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c, err := local.Up(context.Background(), backends.SpecOf(p), local.Options{
		Name: "measure-test", RunDir: filepath.Join(dir, "run"), Binaries: bins, Registry: &registry.Registry{Dir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Down(context.Background())
	res, err := runner.Run(context.Background(), p, runner.Options{Cluster: c, RunDir: filepath.Join(dir, "run")})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return p, res
}

// runningDelays are scheduled→Running of every timed pod, sorted.
func runningDelays(t *testing.T, res *runner.Result, want int) []float64 {
	t.Helper()
	var out []float64
	for _, p := range res.Observed.Pods {
		if !p.Preexisting && p.Timed(observe.PodScheduled) && p.Timed(observe.PodRunning) {
			out = append(out, (p.At[observe.PodRunning] - p.At[observe.PodScheduled]).Seconds())
		}
	}
	if len(out) != want {
		t.Fatalf("%d pods timed, want %d", len(out), want)
	}
	slices.Sort(out)
	return out
}

// KWOK's pod-ready stage given a fixed delay, at a load KWOK keeps up with:
// what kwok-run measures is the delay.
func TestFidelityFixedDelay(t *testing.T) {
	_, res := run(t, `
scenario "fixed" { timeout = "3m" }
node_pool "n" { count = 10 }
pod_lifecycle "default" {
  ready_after = "2s"
  jitter      = "0s"
}
step "nodes" {
  create_nodes { pool = "n" }
  wait "nodes_ready" { pool = "n" }
}
step "pods" {
  create_pods "p" {
    count = 200
    rate  = 20
  }
  wait "pods_running" { wave = "p" }
}
`)
	d := runningDelays(t, res, 200)
	p50 := percentile(d, .5)
	t.Logf("scheduled→Running of 200 pods with a 2 s delay: min %.4f p50 %.4f p99 %.4f max %.4f",
		d[0], p50, percentile(d, .99), d[len(d)-1])
	if math.Abs(p50-2) > 0.05 {
		t.Errorf("p50 %.4f s, want 2.00 ± 0.05 s", p50)
	}
	if d[0] < 2-0.010 {
		t.Errorf("min %.4f s: below the 2 s delay by more than 10 ms", d[0])
	}
}

// With jitter KWOK draws each delay uniformly between ready_after and
// ready_after + jitter: the measured distribution must be that uniform one.
func TestFidelityJitter(t *testing.T) {
	_, res := run(t, `
scenario "jitter" {
  timeout = "3m"
  seed    = 3
}
node_pool "n" { count = 10 }
pod_lifecycle "default" {
  ready_after = "1s"
  jitter      = "2s"
}
step "nodes" {
  create_nodes { pool = "n" }
  wait "nodes_ready" { pool = "n" }
}
step "pods" {
  create_pods "p" {
    count = 300
    rate  = 30
  }
  wait "pods_running" { wave = "p" }
}
`)
	d := runningDelays(t, res, 300)
	t.Logf("scheduled→Running of 300 pods, delay uniform on [1 s, 3 s): min %.3f p10 %.3f p50 %.3f p90 %.3f max %.3f",
		d[0], percentile(d, .1), percentile(d, .5), percentile(d, .9), d[len(d)-1])
	// KWOK can be late (its queue), never early: a sample below the
	// shortest delay would be a measuring error.
	if d[0] < 1-0.010 || d[len(d)-1] > 3+0.25 {
		t.Errorf("range [%.3f, %.3f], want within [1, 3] s (-10 ms, +250 ms of delivery and queueing)", d[0], d[len(d)-1])
	}
	// The largest distance between the measured distribution and the
	// uniform one (Kolmogorov–Smirnov). Delivery adds a few milliseconds to
	// each sample, so the uniform one is shifted by the median excess seen
	// at low load (~8 ms). For 300 samples the 1% critical value is 0.094.
	var ks float64
	for i, x := range d {
		f := math.Min(math.Max((x-0.008-1)/2, 0), 1)
		ks = math.Max(ks, math.Max(math.Abs(float64(i+1)/300-f), math.Abs(float64(i)/300-f)))
	}
	t.Logf("Kolmogorov–Smirnov distance to uniform [1, 3): %.3f", ks)
	if ks > 0.094 {
		t.Errorf("the measured delays are not the configured uniform distribution: KS distance %.3f > 0.094", ks)
	}
}

// 10,000 pods with the apiserver killed while they are created and
// started: every pod still has every transition, each either timed or
// counted as not timed, and no latency is negative.
func TestNoLostTransitions(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 pods take minutes")
	}
	const pods = 10000
	p, res := run(t, fmt.Sprintf(`
scenario "restart" { timeout = "15m" }
node_pool "n" {
  count    = 100
  capacity = { pods = 200, cpu = "200" }
}
step "nodes" {
  create_nodes {
    pool = "n"
    rate = 100
  }
  wait "nodes_ready" { pool = "n" }
}
step "first" {
  create_pods "a" {
    namespace = "load"
    count     = %d
    rate      = 400
  }
}
step "restart" {
  restart_component {
    component = "apiserver"
    signal    = "KILL"
    down_for  = "2s"
  }
  create_pods "b" {
    namespace = "load"
    count     = %d
    rate      = 400
  }
}
step "settle" {
  wait "pods_running" {
    namespace = "load"
    count     = %d
    timeout   = "10m"
  }
}
`, pods*4/10, pods*6/10, pods))
	var seen, untimed int
	for _, pod := range res.Observed.Pods {
		if pod.Preexisting {
			continue
		}
		seen++
		for _, tr := range []observe.PodTransition{observe.PodCreated, observe.PodScheduled, observe.PodRunning} {
			if pod.At[tr] == 0 {
				t.Fatalf("pod %s/%s has no %s stamp: %v", pod.Namespace, pod.Name, tr, pod.At)
			}
			if !pod.Timed(tr) {
				untimed++
			}
		}
		if pod.At[observe.PodScheduled] < pod.At[observe.PodCreated] || pod.At[observe.PodRunning] < pod.At[observe.PodScheduled] {
			t.Errorf("pod %s: stamps out of order %v", pod.Name, pod.At)
		}
	}
	if seen != pods {
		t.Fatalf("%d pods recorded, want %d", seen, pods)
	}
	m := Compute(p, res)
	for _, name := range []string{"pod_scheduling_latency", "pod_running_latency", "pod_startup_latency"} {
		if min := m.Run[name+".min"]; min < 0 {
			t.Errorf("%s has a negative sample: %v", name, min)
		}
	}
	var restarts int
	for _, w := range res.Observed.Watches {
		restarts += w.Restarts + w.Relists
		t.Logf("watch %s: %d events, %d restarts, %d relists, longest gap %v", w.Kind, w.Events, w.Restarts, w.Relists, w.LongestGap)
	}
	if restarts == 0 {
		t.Error("the apiserver was killed but no watch was re-established")
	}
	if got := int(m.Run["missed_transitions"]); got < untimed {
		t.Errorf("missed_transitions %d, but %d of the pods' transitions are untimed", got, untimed)
	}
	t.Logf("%d pods, %d transitions untimed (counted as missed: %v), start-up timed for %v pods, p50 %.2fs p99 %.2fs",
		seen, untimed, m.Run["missed_transitions"], m.Run["pod_startup_latency.count"], m.Run["pod_startup_latency.p50"], m.Run["pod_startup_latency.p99"])
}
