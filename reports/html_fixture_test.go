package reports

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// sampleReport is a two-minute run of 500 nodes and 3,000 pods whose last
// step failed: three steps, six latency distributions, series of every group
// for the six components, assertions that held, failed and warned, and
// imperfect measurements, so that every part of a rendered report has
// something to show. It is built from a fixed seed: the same every time.
func sampleReport() *Report {
	rng := rand.New(rand.NewPCG(7, 11))
	r := &Report{
		SchemaVersion: SchemaVersion,
		KwokRun:       "v0.4.0",
		Started:       time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC),
		Duration:      121.4,
		Scenario: Scenario{
			Name:        "scheduler-throughput",
			Description: "500 nodes in three zones, 3,000 pods in three Deployments, then scale down by half.",
			File:        "examples/scheduler-throughput.hcl",
			SHA256:      "9f2c1b7e4a0d5c3b8e6f1a2d4c7b9e0f3a5d8c1b6e4f7a0d2c5b8e1f4a7d0c3b",
			Source:      sampleSource,
			Seed:        42,
			Timeout:     "10m",
		},
		Variables: []Variable{
			{Name: "nodes", Type: "number", Value: 500.0, Source: "default"},
			{Name: "pods", Type: "number", Value: 3000.0, Source: "flag"},
			{Name: "zones", Type: "list(string)", Value: []any{"zone-a", "zone-b", "zone-c"}, Source: "file values.hcl"},
			{Name: "labels", Type: "map(string)", Value: map[string]any{"tier": "web", "app": "demo"}, Source: "env"},
		},
		Cluster: sampleCluster(),
		Outcome: Outcome{Status: Failed, ExitCode: 1, Error: "step \"scale-down\": wait deployments_available: 1 of 3 Deployments not available after 30s (web-2: 1,480 of 1,500 replicas)", StoppedIn: "scale-down"},
		Metrics: map[string]float64{},
		Measurement: Measurement{
			Watches: []Watch{
				{Kind: "pods", Events: 14_212, Restarts: 1, Relists: 0, LongestGap: 0.84},
				{Kind: "nodes", Events: 1_530, LongestGap: 0.02},
				{Kind: "deployments", Events: 96, LongestGap: 0.01},
			},
			Inexact:         3,
			InexactExamples: []string{"pod demo/web-1-7d9f8-x2k4q Pending→Running", "pod demo/web-0-5c8b7-p9w2d Pending→Running", "pod demo/web-2-66f4c-l8m3n created→scheduled"},
			Scrapes:         242,
			ScrapesFailed:   2,
		},
	}

	r.Steps = []Step{
		{Name: "nodes", Start: 0, End: 14.2, Status: Passed, Actions: []Action{
			{Kind: "create_nodes", Summary: "workers: 500 nodes created", Done: 500, Asked: 50, Achieved: 49.6},
			{Kind: "wait", Summary: "nodes_ready: 500 of 500", Done: 500},
		}},
		{Name: "pods", Start: 14.2, End: 88.7, Status: Passed, Actions: []Action{
			{Kind: "create_pods", Summary: "web: 3 Deployments, 3,000 pods created | 14 retried", Done: 3000, Failed: 14,
				Asked: 100, Achieved: 62.4, Errors: map[string]int{"429": 12, "timeout": 2}},
			{Kind: "wait", Summary: "pods_running: 3,000 of 3,000", Done: 3000},
		}},
		{Name: "scale-down", Start: 88.7, End: 121.4, Status: Failed,
			Error: "wait deployments_available: 1 of 3 Deployments not available after 30s",
			Actions: []Action{
				{Kind: "scale_pods", Summary: "web: 3 Deployments scaled to 500 replicas", Done: 3},
				{Kind: "wait", Summary: "deployments_available: 2 of 3", Done: 2, Failed: 1, Error: "timed out after 30s"},
			}},
	}

	// Latencies: samples drawn around a typical value, reduced to CDF points
	// and statistics the way the runner does.
	latencies := []struct {
		metric       string
		n            int
		median, wide float64
	}{
		{"pod_scheduling_latency", 3000, 0.018, 0.7},
		{"pod_running_latency", 3000, 1.25, 0.12},
		{"pod_startup_latency", 3000, 1.31, 0.26},
		{"node_ready_latency", 500, 0.42, 0.5},
		{"pod_deletion_latency", 1500, 0.21, 0.35},
		{"api_request_latency.create.pods", 3014, 0.011, 0.8},
	}
	for _, l := range latencies {
		samples := make([]float64, l.n)
		for i := range samples {
			samples[i] = l.median * math.Exp(l.wide*rng.NormFloat64())
		}
		slices.Sort(samples)
		r.Distributions = append(r.Distributions, sampleCDF(l.metric, samples))
		for k, v := range sampleStats(samples) {
			r.Metrics[l.metric+"."+k] = v
		}
	}
	r.Steps[0].Metrics = map[string]float64{"duration": 14.2, "nodes_created": 500,
		"node_ready_latency.p50": r.Metrics["node_ready_latency.p50"], "node_ready_latency.p99": r.Metrics["node_ready_latency.p99"]}
	r.Steps[1].Metrics = map[string]float64{"duration": 74.5, "pods_created": 3000,
		"pod_startup_latency.p50": r.Metrics["pod_startup_latency.p50"], "pod_startup_latency.p99": r.Metrics["pod_startup_latency.p99"],
		"scheduling_throughput.p50": 61, "scheduling_throughput.max": 98, "api_errors.429": 12, "api_errors.timeout": 2, "api_errors.all": 14}
	r.Steps[2].Metrics = map[string]float64{"duration": 32.7, "pods_deleted": 1480, "pod_deletion_latency.p99": r.Metrics["pod_deletion_latency.p99"]}
	for _, s := range r.Steps {
		for k, v := range s.Metrics {
			r.Metrics["steps."+s.Name+"."+k] = v
		}
	}
	for k, v := range map[string]float64{
		"duration": 121.4, "pods_created": 3000, "pods_scheduled": 3000, "pods_running": 3000, "pods_deleted": 1480,
		"pods_unscheduled": 0, "pods_failed": 0, "nodes_created": 500, "nodes_ready": 500, "nodes_not_ready": 0,
		"scheduling_throughput.count": 75, "scheduling_throughput.mean": 58.2, "scheduling_throughput.p50": 61,
		"scheduling_throughput.p90": 88, "scheduling_throughput.p99": 97, "scheduling_throughput.max": 98,
		"pod_creation_throughput.p50": 62, "pod_creation_throughput.max": 100,
		"apiserver_request_latency.create.pods.count": 3120, "apiserver_request_latency.create.pods.p50": 0.0061,
		"apiserver_request_latency.create.pods.p99": 0.045, "apiserver_request_latency.list.nodes.count": 12,
		"apiserver_request_latency.list.nodes.p99": 0.21,
		"api_errors.429": 12, "api_errors.timeout": 2, "api_errors.all": 14,
		"stored_objects.pods": 3000, "stored_objects.nodes": 500, "stored_objects.leases": 502,
		"watch_restarts": 1, "missed_transitions": 3, "etcd_db_size_bytes": 61.4 * htmlMiB,
	} {
		r.Metrics[k] = v
	}

	r.Series = sampleSeries(rng)
	for _, c := range []string{"etcd", "apiserver", "scheduler", "controller_manager", "kwok", "kwok_run"} {
		cpu, rss := 0.0, 0.0
		for _, s := range r.Series {
			if s.Name != c {
				continue
			}
			for i, p := range s.Points {
				switch s.Group {
				case GroupCPU:
					if i > 0 {
						cpu += p[1] * (p[0] - s.Points[i-1][0])
					}
				case GroupMemory:
					rss = math.Max(rss, p[1])
				}
			}
		}
		r.Metrics["component_cpu_seconds."+c] = math.Round(cpu*100) / 100
		r.Metrics["component_rss_peak_bytes."+c] = rss
		r.Metrics["component_cpu_seconds.all"] += math.Round(cpu*100) / 100
		r.Metrics["component_rss_peak_bytes.all"] += rss
	}

	r.Assertions = []Assertion{
		{Name: "every pod was scheduled", Condition: "metrics.pods_unscheduled == 0", Severity: "error",
			Evaluated: true, Passed: true, Observed: map[string]float64{"metrics.pods_unscheduled": 0}},
		{Name: "pods start within 2s at p99", Condition: "metrics.steps.pods.pod_startup_latency.p99 <= 2", Severity: "error",
			Evaluated: true, Passed: false, Message: fmt.Sprintf("p99 pod start-up was %.2fs", r.Metrics["pod_startup_latency.p99"]),
			Observed: map[string]float64{"metrics.steps.pods.pod_startup_latency.p99": r.Metrics["pod_startup_latency.p99"]}},
		{Name: "scheduler keeps up", Condition: "metrics.scheduling_throughput.p50 >= 90", Severity: "warning",
			Evaluated: true, Passed: false, Message: "the scheduler bound 61 pods/s at the median",
			Observed: map[string]float64{"metrics.scheduling_throughput.p50": 61}},
		{Name: "nodes are Ready within 30s", Condition: "metrics.node_ready_latency.max <= seconds(\"30s\")", Severity: "error",
			Evaluated: true, Passed: true, Observed: map[string]float64{"metrics.node_ready_latency.max": r.Metrics["node_ready_latency.max"]}},
		{Name: "apiserver stays under 1 GiB", Condition: "metrics.component_rss_peak_bytes.apiserver < 1024 * 1024 * 1024", Severity: "error",
			Evaluated: true, Passed: true, Observed: map[string]float64{"metrics.component_rss_peak_bytes.apiserver": r.Metrics["component_rss_peak_bytes.apiserver"]}},
		{Name: "jobs complete within a minute", Condition: "metrics.job_completion_latency.p99 <= 60", Severity: "error",
			Evaluated: false, Passed: false, Message: "job_completion_latency has no samples"},
	}
	watch := func(metric string) Stats {
		m := func(stat string) float64 { return r.Metrics[metric+"."+stat] }
		return Stats{Count: int(m("count")), P50: m("p50"), P90: m("p90"), P99: m("p99"), Max: m("max")}
	}
	r.ServerSide = []CrossCheck{
		{Metric: "pod_startup_latency", Interval: "metadata.creationTimestamp → Ready condition lastTransitionTime",
			Watch: watch("pod_startup_latency"), Server: Stats{Count: 3000, P50: 1, P90: 2, P99: 3, Max: 4}},
		{Metric: "node_ready_latency", Interval: "metadata.creationTimestamp → Ready condition lastTransitionTime",
			Watch: watch("node_ready_latency"), Server: Stats{Count: 500, P50: 0, P90: 1, P99: 2, Max: 3}},
	}
	return r
}

// sampleCDF keeps at most 200 points of the samples' CDF, as the runner
// does whatever the sample count.
func sampleCDF(metric string, sorted []float64) Distribution {
	d := Distribution{Metric: metric, Unit: "s", Count: len(sorted)}
	step := max(1, len(sorted)/200)
	for i := step - 1; i < len(sorted); i += step {
		d.Points = append(d.Points, [2]float64{sorted[i], float64(i+1) / float64(len(sorted))})
	}
	if last := d.Points[len(d.Points)-1]; last[1] != 1 {
		d.Points = append(d.Points, [2]float64{sorted[len(sorted)-1], 1})
	}
	return d
}

func sampleStats(sorted []float64) map[string]float64 {
	q := func(p float64) float64 { return sorted[int(math.Ceil(p*float64(len(sorted))))-1] }
	sum := 0.0
	for _, v := range sorted {
		sum += v
	}
	return map[string]float64{
		"count": float64(len(sorted)), "min": sorted[0], "mean": sum / float64(len(sorted)),
		"p50": q(0.5), "p90": q(0.9), "p95": q(0.95), "p99": q(0.99), "max": sorted[len(sorted)-1],
	}
}

// sampleSeries are one sample a second for two minutes: objects rising with
// the steps, noisy rates, and each component's CPU and memory following the
// load.
func sampleSeries(rng *rand.Rand) []Series {
	ramp := func(t, from, to, height float64) float64 {
		return height * math.Min(1, math.Max(0, (t-from)/(to-from)))
	}
	podsCreated := func(t float64) float64 { return ramp(t, 15, 63, 3000) }
	podsAlive := func(t float64) float64 { return podsCreated(t) - ramp(t, 90, 112, 1480) }
	objects := []Series{
		{Name: "nodes ready", Group: GroupObjects, Unit: "count"},
		{Name: "pods created", Group: GroupObjects, Unit: "count"},
		{Name: "pods scheduled", Group: GroupObjects, Unit: "count"},
		{Name: "pods running", Group: GroupObjects, Unit: "count"},
		{Name: "pods created/s", Group: GroupThroughput, Unit: "1/s"},
		{Name: "pods scheduled/s", Group: GroupThroughput, Unit: "1/s"},
		{Name: "nodes created/s", Group: GroupThroughput, Unit: "1/s"},
		{Name: "etcd database", Group: GroupStorage, Unit: "bytes"},
		{Name: "stored objects", Group: GroupStorage, Unit: "count"},
	}
	for t := 0.0; t <= 121; t++ {
		values := []float64{
			math.Round(ramp(t, 1.5, 12.5, 500)),
			math.Round(podsCreated(t)),
			math.Round(podsAlive(t - 0.6)),
			math.Round(podsAlive(t - 1.9)),
			math.Max(0, ramp(t, 15, 16, 62)-ramp(t, 63, 64, 62)+4*rng.NormFloat64()),
			math.Max(0, ramp(t, 15.5, 16.5, 61)-ramp(t, 63.5, 64.5, 61)+9*rng.NormFloat64()),
			math.Max(0, ramp(t, 1, 2, 50)-ramp(t, 11, 12, 50)+rng.NormFloat64()),
			(20 + 0.012*podsCreated(t) + 0.01*t) * htmlMiB,
			math.Round(1500 + ramp(t, 1.5, 12.5, 1002) + podsAlive(t)),
		}
		for i, v := range values {
			objects[i].Points = append(objects[i].Points, [2]float64{t, v})
		}
	}

	components := []struct {
		name            string
		idle, busy      float64 // cores
		base, perObject float64 // bytes
	}{
		{"etcd", 0.05, 0.45, 40 * htmlMiB, 12 * htmlKiB},
		{"apiserver", 0.15, 1.9, 220 * htmlMiB, 60 * htmlKiB},
		{"scheduler", 0.02, 0.85, 30 * htmlMiB, 14 * htmlKiB},
		{"controller_manager", 0.03, 0.6, 45 * htmlMiB, 18 * htmlKiB},
		{"kwok", 0.04, 1.1, 35 * htmlMiB, 20 * htmlKiB},
		{"kwok_run", 0.02, 0.35, 25 * htmlMiB, 8 * htmlKiB},
	}
	var cpu, mem []Series
	for _, c := range components {
		cs := Series{Name: c.name, Group: GroupCPU, Unit: "cores"}
		ms := Series{Name: c.name, Group: GroupMemory, Unit: "bytes"}
		for t := 0.0; t <= 121; t += 2 {
			load := ramp(t, 1, 2, 0.4) - ramp(t, 12, 13, 0.4) + ramp(t, 15, 17, 1) - ramp(t, 62, 66, 1) + ramp(t, 89, 91, 0.5) - ramp(t, 100, 112, 0.5)
			cs.Points = append(cs.Points, [2]float64{t, math.Max(0, c.idle+c.busy*load*(1+0.15*rng.NormFloat64()))})
			ms.Points = append(ms.Points, [2]float64{t, c.base + c.perObject*(podsCreated(t)+ramp(t, 1.5, 12.5, 500))})
		}
		cpu, mem = append(cpu, cs), append(mem, ms)
	}
	return slices.Concat(objects, cpu, mem)
}

func sampleCluster() Cluster {
	var components []Component
	for i, c := range []struct{ name, version string }{
		{"etcd", "v3.6.5"}, {"kube-apiserver", "v1.37.2"}, {"kube-scheduler", "v1.37.2"},
		{"kube-controller-manager", "v1.37.2"}, {"kwok-controller", "v0.8.0"},
	} {
		binary := "/root/.cache/kwok-run/bin/" + c.name + "-" + c.version
		components = append(components, Component{
			Name: c.name, Version: c.version, Binary: binary,
			SHA256: fmt.Sprintf("%016x", uint64(i+1)*0x9e3779b97f4a7c15) + strings.Repeat("0", 48),
			Args: []string{binary, "--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", 32760+i),
				"--kubeconfig=/tmp/kwok-run/run-42/kubeconfig", "--v=2", "--feature-gates=InPlacePodVerticalScaling=true"},
		})
	}
	// A URL and a path with a space, as real command lines have: text on
	// the page, not references the browser would follow.
	components[1].Args = append(components[1].Args, "--max-requests-inflight=400", "--etcd-servers=http://127.0.0.1:32760",
		"--admission-control-config-file=/tmp/kwok-run/run-42/admission config.yaml")
	return Cluster{
		Backend: "processes", Kubernetes: "v1.37.2", Kwok: "v0.8.0", Etcd: "v3.6.5",
		NodeLeaseDuration: "40s",
		FeatureGates:      map[string]bool{"InPlacePodVerticalScaling": true, "SchedulerQueueingHints": false},
		RuntimeConfig:     map[string]string{"api/all": "true"},
		Components:        components,
	}
}

const sampleSource = `# Scheduler throughput: how fast pods are bound as the cluster fills.
variable "nodes" {
  type    = number
  default = 500
}

variable "pods" {
  type    = number
  default = 1500
}

scenario "scheduler-throughput" {
  description = "500 nodes in three zones, 3,000 pods in three Deployments, then scale down by half."
  seed        = 42
  timeout     = "10m"
}

node_pool "workers" {
  count = var.nodes
  labels = {
    "topology.kubernetes.io/zone" = "zone-${count.index % 3}"
  }
}

step "nodes" {
  create_nodes {
    pool = "workers"
    rate = 50
  }
  wait "nodes_ready" {
    pool    = "workers"
    timeout = "1m"
  }
}

step "pods" {
  create_pods "web" {
    namespace = "demo"
    kind      = "Deployment"
    count     = var.pods
    rate      = 100
  }
  wait "pods_running" {
    wave    = "web"
    timeout = "2m"
  }
}

step "scale-down" {
  scale_pods "web" {
    count = var.pods / 2
  }
  wait "deployments_available" {
    wave    = "web"
    timeout = "30s"
  }
}

assert "pods start within 2s at p99" {
  condition     = metrics.steps.pods.pod_startup_latency.p99 <= 2
  error_message = "p99 pod start-up was ${metrics.steps.pods.pod_startup_latency.p99}s"
}
`

// interruptedReport is a run stopped by SIGINT during its first step: it
// measured nothing.
func interruptedReport() *Report {
	return &Report{
		SchemaVersion: SchemaVersion,
		KwokRun:       "v0.4.0",
		Started:       time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC),
		Duration:      0.4,
		Scenario:      Scenario{Name: "quickstart", File: "examples/quickstart.hcl", Seed: 42, Timeout: "5m"},
		Cluster:       Cluster{Backend: "processes", Kubernetes: "v1.37.2", Kwok: "v0.8.0", Etcd: "v3.6.5"},
		Outcome:       Outcome{Status: Interrupted, ExitCode: 130, Error: "interrupted", StoppedIn: "nodes"},
		Steps:         []Step{{Name: "nodes", Start: 0, Status: Interrupted}},
	}
}
