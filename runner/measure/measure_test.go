package measure

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kwok-run/kwok-run/reports"
	"github.com/kwok-run/kwok-run/runner"
	"github.com/kwok-run/kwok-run/runner/observe"
	"github.com/kwok-run/kwok-run/runner/requests"
	"github.com/kwok-run/kwok-run/runner/scrape"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

const scenarioSrc = `
scenario "m" {}
node_pool "w" { count = 2 }
pod_lifecycle "slow" { ready_after = "2s" }
step "load" {
  create_pods "a" { count = 3 }
}
step "more" {
  pod_lifecycle = "slow"
  create_pods "b" { count = 1 }
}
assert "fast start" { condition = metrics.steps.load.pod_startup_latency.p99 < 2 }
assert "few errors" { condition = metrics.api_errors.all == 0 }
assert "no jobs" { condition = metrics.job_completion_latency.p50 < 1 }
`

func loadPlan(t *testing.T) *plan.Plan {
	t.Helper()
	p, diags := scenario.NewLoader().LoadSource("m.hcl", []byte(scenarioSrc), scenario.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

const s = time.Second

// podAt builds a pod record with the given stamps (created, scheduled,
// running), all timed.
func podAt(name string, created, scheduled, running time.Duration) *observe.Pod {
	p := &observe.Pod{Namespace: "ns", Name: name}
	p.At[observe.PodCreated], p.At[observe.PodScheduled], p.At[observe.PodRunning] = created, scheduled, running
	p.At[observe.PodReady] = running
	return p
}

// twoSteps is a run of two steps, [0 s, 10 s) and [10 s, 20 s).
func twoSteps(t *testing.T) *runner.Result {
	t0 := time.Now()
	res := &runner.Result{
		Start: t0, End: t0.Add(20 * s),
		Steps: []*runner.StepResult{
			{Name: "load", Start: t0, End: t0.Add(10 * s), Actions: []*runner.ActionResult{{Kind: "create_pods", Errors: map[string]int{}}}},
			{Name: "more", Start: t0.Add(10 * s), End: t0.Add(20 * s), Actions: []*runner.ActionResult{{Kind: "create_pods", Errors: map[string]int{"429": 2}}}},
		},
		Requests: map[requests.Key][]requests.Sample{
			{Verb: "create", Resource: "pods"}: {{At: 1 * s, Took: 10 * time.Millisecond}, {At: 11 * s, Took: 30 * time.Millisecond}},
		},
	}
	untimed := podAt("untimed", 3*s, 3*s+100*time.Millisecond, 5*s)
	untimed.Inexact = 1 << observe.PodRunning
	res.Observed.Pods = []*observe.Pod{
		podAt("a0", 1*s, 1*s+200*time.Millisecond, 1*s+700*time.Millisecond),
		podAt("a1", 1*s+100*time.Millisecond, 1*s+300*time.Millisecond, 2*s),
		podAt("a2", 2*s+500*time.Millisecond, 2*s+600*time.Millisecond, 4*s),
		untimed,
		// Created in the second step, under the slow lifecycle: 2 s asked,
		// 2.5 s taken.
		podAt("b0", 11*s, 11*s+500*time.Millisecond, 14*s),
		{Namespace: "ns", Name: "before", Preexisting: true},
	}
	return res
}

func TestLatenciesBelongToTheStepTheyStartedIn(t *testing.T) {
	p := loadPlan(t)
	m := Compute(p, twoSteps(t))
	load, more := m.Steps[0], m.Steps[1]
	// load's start-ups: 0.7, 0.9, 1.5 (the untimed pod is counted, not timed).
	if load["pod_startup_latency.count"] != 3 || !near(load["pod_startup_latency.p50"], 0.9) || !near(load["pod_startup_latency.max"], 1.5) {
		t.Errorf("load start-up: count %v p50 %v max %v", load["pod_startup_latency.count"], load["pod_startup_latency.p50"], load["pod_startup_latency.max"])
	}
	if more["pod_startup_latency.count"] != 1 || !near(more["pod_startup_latency.p99"], 3) {
		t.Errorf("more start-up: %v", more["pod_startup_latency.p99"])
	}
	if m.Run["pod_startup_latency.count"] != 4 || !near(m.Run["pod_startup_latency.mean"], (0.7+0.9+1.5+3)/4) {
		t.Errorf("run start-up: count %v mean %v", m.Run["pod_startup_latency.count"], m.Run["pod_startup_latency.mean"])
	}
	if load["pods_created"] != 4 || more["pods_created"] != 1 || m.Run["pods_created"] != 5 {
		t.Errorf("pods created: %v %v %v", load["pods_created"], more["pods_created"], m.Run["pods_created"])
	}
	if load["missed_transitions"] != 1 || more["missed_transitions"] != 0 {
		t.Errorf("missed: %v %v", load["missed_transitions"], more["missed_transitions"])
	}
	if !near(load["duration"], 10) || !near(m.Run["duration"], 20) {
		t.Errorf("durations %v %v", load["duration"], m.Run["duration"])
	}
}

func TestSimulatorLagIsBeyondTheAskedDelay(t *testing.T) {
	m := Compute(loadPlan(t), twoSteps(t))
	// b0 ran 2.5 s after scheduling with 2 s asked; the first step's pods
	// had KWOK's immediate default, so their whole delay is lag.
	if got := m.Steps[1]["simulator_lag.max"]; !near(got, 0.5) {
		t.Errorf("lag in the slow step %v, want 0.5", got)
	}
	if got := m.Steps[0]["simulator_lag.max"]; !near(got, 1.4) {
		t.Errorf("lag in the first step %v, want 1.4", got)
	}
}

func TestThroughputWindows(t *testing.T) {
	m := Compute(loadPlan(t), twoSteps(t))
	// Bindings in load at 1.2, 1.3, 2.6 and 3.1 s (that pod's Running is
	// untimed, its binding is not): windows from 1.2 s hold 2 and 2.
	if got := m.Steps[0]["scheduling_throughput.max"]; got != 2 {
		t.Errorf("max %v, want 2", got)
	}
	if got := m.Steps[0]["scheduling_throughput.count"]; got != 2 {
		t.Errorf("windows %v, want 2", got)
	}
}

func TestAPIMetrics(t *testing.T) {
	m := Compute(loadPlan(t), twoSteps(t))
	if got := m.Steps[1]["api_request_latency.create.pods.p50"]; !near(got, 0.03) {
		t.Errorf("create pods in step 2: %v", got)
	}
	if got := m.Run["api_request_latency.all.all.count"]; got != 2 {
		t.Errorf("all requests: %v", got)
	}
	if m.Steps[0]["api_errors.all"] != 0 || m.Steps[1]["api_errors.429"] != 2 || m.Run["api_errors.all"] != 2 {
		t.Errorf("errors: %v %v %v", m.Steps[0]["api_errors.all"], m.Steps[1]["api_errors.429"], m.Run["api_errors.all"])
	}
}

func TestReportVerdicts(t *testing.T) {
	p := loadPlan(t)
	res := twoSteps(t)
	res.Steps[1].Err = errors.New("wait timed out")
	r := Report(p, res, nil, "test")
	got := map[string]reports.Assertion{}
	for _, a := range r.Assertions {
		got[a.Name] = a
	}
	if a := got["fast start"]; !a.Evaluated || !a.Passed {
		t.Errorf("fast start: %+v", a)
	}
	if a := got["few errors"]; !a.Evaluated || a.Passed {
		t.Errorf("few errors should fail on two 429s: %+v", a)
	}
	if a := got["no jobs"]; a.Evaluated || a.Passed {
		t.Errorf("a metric without samples must fail as not measured: %+v", a)
	}
	if r.Steps[1].Status != reports.StepFailed || r.Steps[1].Error != "wait timed out" {
		t.Errorf("step 2: %+v", r.Steps[1])
	}
}

func TestObjectSeries(t *testing.T) {
	m := Compute(loadPlan(t), twoSteps(t))
	var running reports.Series
	for _, sr := range m.Series {
		if sr.Name == "pods running" {
			running = sr
		}
	}
	// Sampled every second: Running at 1.7, 2.0, 4.0, 5.0 and 14.0 s.
	want := map[float64]float64{1: 0, 2: 2, 3: 2, 4: 3, 5: 4, 13: 4, 14: 5, 20: 5}
	for _, pt := range running.Points {
		if w, ok := want[pt[0]]; ok && pt[1] != w {
			t.Errorf("pods running at %vs: %v, want %v", pt[0], pt[1], w)
		}
	}
	if last := running.Points[len(running.Points)-1]; last[0] != 20 {
		t.Errorf("the series ends at %v, want the run's end", last[0])
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	values := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for q, want := range map[float64]float64{0.5: 5, 0.9: 9, 0.95: 10, 0.99: 10, 0.01: 1} {
		if got := percentile(values, q); got != want {
			t.Errorf("p%v = %v, want %v", q*100, got, want)
		}
	}
}

func TestCDFPoints(t *testing.T) {
	var values []float64
	for i := range 10000 {
		values = append(values, float64(i))
	}
	pts := cdfPoints(values, 200)
	if len(pts) != 201 || pts[0][0] != 0 || pts[len(pts)-1] != [2]float64{9999, 1} {
		t.Errorf("%d points, first %v last %v", len(pts), pts[0], pts[len(pts)-1])
	}
	if small := cdfPoints([]float64{3, 1, 2}, 200); len(small) != 3 || small[1] != [2]float64{2, 2.0 / 3} {
		t.Errorf("small: %v", small)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// Pods are counted by the pool of the node they were bound to, and a pool
// with nodes but no pods is listed at 0.
func TestPodsScheduledOnPool(t *testing.T) {
	res := twoSteps(t)
	for i, p := range res.Observed.Pods {
		if !p.Preexisting {
			p.Node = []string{"big-0", "big-1"}[i%2]
		}
	}
	res.Observed.Pods[0].Node = "tiny-0"
	res.Observed.Nodes = []*observe.Node{
		{Name: "big-0", Pool: "big"}, {Name: "big-1", Pool: "big"}, {Name: "tiny-0", Pool: "tiny"},
		{Name: "idle-0", Pool: "idle"}, {Name: "theirs"},
	}
	m := Compute(loadPlan(t), res)
	if m.Run["pods_scheduled_on_pool.big"] != 4 || m.Run["pods_scheduled_on_pool.tiny"] != 1 || m.Run["pods_scheduled_on_pool.idle"] != 0 || !m.Run.Has("pods_scheduled_on_pool.idle") {
		t.Errorf("by pool: %v", m.Run)
	}
	if load, more := m.Steps[0], m.Steps[1]; load["pods_scheduled_on_pool.big"] != 3 || more["pods_scheduled_on_pool.big"] != 1 {
		t.Errorf("by step: %v %v", load["pods_scheduled_on_pool.big"], more["pods_scheduled_on_pool.big"])
	}
}

// A create_objects wave's resource is drawn as the apiserver stored it.
func TestStoredSeries(t *testing.T) {
	res := twoSteps(t)
	res.WaveResources = map[string]string{"w1": "widgets.example.com", "w2": "widgets.example.com", "cm": "configmaps"}
	res.Scrape.Samples = []scrape.Sample{
		{At: 5 * s, Component: "apiserver", Objects: map[string]float64{"widgets.example.com": 10, "pods": 3}},
		{At: 5 * s, Component: "etcd"},
		{At: 10 * s, Component: "apiserver", Objects: map[string]float64{"widgets.example.com": 25, "configmaps": 7}},
	}
	m := Compute(loadPlan(t), res)
	got := map[string][][2]float64{}
	for _, sr := range m.Series {
		if strings.HasSuffix(sr.Name, " stored") {
			got[sr.Name] = sr.Points
		}
	}
	want := map[string][][2]float64{"widgets.example.com stored": {{5, 10}, {10, 25}}, "configmaps stored": {{10, 7}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored series %v, want %v", got, want)
	}
}
