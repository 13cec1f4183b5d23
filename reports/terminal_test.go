package reports

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTerminalGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTerminal(&b, textFixture(), false); err != nil {
		t.Fatal(err)
	}
	golden(t, "terminal.golden", b.String())
}

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s changed; if that is intended, run go test ./reports -run %s -update\ngot:\n%s", path, t.Name(), got)
	}
}

// textFixture is a quickstart run that passed, with a warning that did not
// hold and a watch that restarted, so that every part of the summaries shows.
func textFixture() *Report {
	return &Report{
		SchemaVersion: SchemaVersion,
		KwokRun:       "v0.4.0",
		Started:       time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC),
		Duration:      74.62,
		Scenario: Scenario{
			Name:        "quickstart",
			Description: "Ten nodes, a hundred pods.",
			File:        "examples/quickstart.hcl",
			SHA256:      "9f2c1b7e4a0d5c3b8e6f1a2d4c7b9e0f3a5d8c1b6e4f7a0d2c5b8e1f4a7d0c3b",
			Source:      "scenario \"quickstart\" {\n  timeout = \"5m\"\n}\n",
			Seed:        42,
			Timeout:     "5m",
		},
		Variables: []Variable{
			{Name: "nodes", Type: "number", Value: 10.0, Source: "default"},
			{Name: "zones", Type: "list(string)", Value: []any{"a", "b"}, Source: "flag"},
		},
		Cluster: Cluster{
			Backend: "local", Kubernetes: "v1.37.2", Kwok: "v0.8.0", Etcd: "v3.6.5",
			NodeLeaseDuration: "40s",
			FeatureGates:      map[string]bool{"InPlacePodVerticalScaling": true},
			Components: []Component{
				{Name: "etcd", Version: "v3.6.5", Binary: "/cache/etcd", SHA256: "ab12", Args: []string{"--unsafe-no-fsync"}},
				{Name: "apiserver", Version: "v1.37.2", Args: []string{"--max-requests-inflight=400"}},
			},
		},
		Outcome: Outcome{Status: Passed, ExitCode: 0},
		Steps: []Step{
			{
				Name: "nodes", Start: 0, End: 3.118, Status: Passed,
				Actions: []Action{
					{Kind: "create_nodes", Summary: "10 nodes created", Done: 10},
					{Kind: "wait", Summary: "nodes_ready: 10 of 10", Done: 10},
				},
				Metrics: map[string]float64{"duration": 3.118, "node_ready_latency.p99": 1.912},
			},
			{
				Name: "pods", Start: 3.118, End: 74.62, Status: Passed,
				Actions: []Action{
					{Kind: "create_pods", Summary: "web: 100 pods created | 2 retried", Done: 100, Failed: 2,
						Asked: 50, Achieved: 31.2, Errors: map[string]int{"429": 2}},
				},
				Metrics: map[string]float64{"duration": 71.502, "pod_startup_latency.p99": 2.01},
			},
		},
		Assertions: []Assertion{
			{Name: "pods start within 5s at p99", Condition: "metrics.pod_startup_latency.p99 <= 5",
				Severity: "error", Evaluated: true, Passed: true,
				Observed: map[string]float64{"metrics.pod_startup_latency.p99": 2.01}},
			{Name: "scheduler keeps up", Condition: "metrics.scheduling_throughput.p50 >= 45 || metrics.pods_unscheduled == 0",
				Severity: "warning", Evaluated: true, Passed: false,
				Message:  "scheduling slowed down",
				Observed: map[string]float64{"metrics.scheduling_throughput.p50": 31, "metrics.pods_unscheduled": 4}},
		},
		Metrics: map[string]float64{
			"duration":                                    74.62,
			"pod_startup_latency.count":                   100,
			"pod_startup_latency.min":                     0.203,
			"pod_startup_latency.mean":                    0.58,
			"pod_startup_latency.p50":                     0.412,
			"pod_startup_latency.p90":                     1.2,
			"pod_startup_latency.p95":                     1.5,
			"pod_startup_latency.p99":                     2.01,
			"pod_startup_latency.max":                     2.3,
			"node_ready_latency.count":                    10,
			"node_ready_latency.p50":                      0.0042,
			"node_ready_latency.p90":                      0.9,
			"node_ready_latency.p99":                      1.912,
			"node_ready_latency.max":                      1.95,
			"pod_deletion_latency.count":                  0,
			"api_request_latency.create.pods.count":       102,
			"api_request_latency.create.pods.p50":         0.011,
			"api_request_latency.create.pods.p90":         0.023,
			"api_request_latency.create.pods.p99":         0.151,
			"api_request_latency.create.pods.max":         0.2,
			"apiserver_request_latency.create.pods.count": 140,
			"apiserver_request_latency.create.pods.p99":   0.05,
			"scheduling_throughput.count":                 20,
			"scheduling_throughput.mean":                  31.4,
			"scheduling_throughput.p50":                   31,
			"scheduling_throughput.p99":                   50,
			"scheduling_throughput.max":                   52,
			"pods_created":                                100,
			"pods_running":                                100,
			"pods_unscheduled":                            4,
			"nodes_created":                               10,
			"api_errors.429":                              2,
			"api_errors.all":                              2,
			"watch_restarts":                              1,
			"missed_transitions":                          0,
			"component_cpu_seconds.etcd":                  4.21,
			"component_cpu_seconds.apiserver":             18.7,
			"component_cpu_seconds.all":                   31.02,
			"component_rss_peak_bytes.etcd":               58 << 20,
			"component_rss_peak_bytes.apiserver":          412 << 20,
			"component_rss_peak_bytes.all":                801 << 20,
			"etcd_db_size_bytes":                          12 << 20,
			"steps.nodes.duration":                        3.118,
			"steps.nodes.node_ready_latency.p99":          1.912,
			"steps.pods.duration":                         71.502,
			"steps.pods.pod_startup_latency.p99":          2.01,
		},
		Distributions: []Distribution{
			{Metric: "pod_startup_latency", Unit: "s", Count: 100, Points: [][2]float64{{0.203, 0.01}, {0.412, 0.5}, {2.3, 1}}},
		},
		ServerSide: []CrossCheck{{
			Metric:   "pod_startup_latency",
			Interval: "metadata.creationTimestamp → Ready condition lastTransitionTime",
			Watch:    Stats{Count: 100, P50: 0.412, P90: 1.2, P99: 2.01, Max: 2.3},
			Server:   Stats{Count: 100, P50: 0, P90: 1, P99: 2, Max: 3},
		}},
		Series: []Series{
			{Name: "pods running", Group: GroupObjects, Unit: "count", Points: [][2]float64{{0, 0}, {10, 50}, {74, 100}}},
			{Name: "apiserver", Group: GroupCPU, Unit: "cores", Points: [][2]float64{{0, 0.1}, {10, 0.6}}},
		},
		Measurement: Measurement{
			Watches: []Watch{
				{Kind: "pods", Events: 412, Restarts: 1, Relists: 0, LongestGap: 0.31},
				{Kind: "nodes", Events: 30},
			},
			Scrapes: 75,
		},
	}
}

// verdict is a variant of textFixture and what every summary must say of it.
type verdict struct {
	name     string
	edit     func(r *Report)
	terminal []string
	markdown []string
	junit    []string
}

func verdicts() []verdict {
	return []verdict{
		{
			name: "failed assertion",
			edit: func(r *Report) {
				r.Outcome = Outcome{Status: Failed, ExitCode: 1, Error: `assertion "pods start within 5s at p99" failed`}
				a := &r.Assertions[0]
				a.Passed, a.Message = false, "pods started too slowly"
				a.Observed = map[string]float64{"metrics.pod_startup_latency.p99": 6.2}
			},
			terminal: []string{"kwok-run quickstart: failed (exit 1)", `error: assertion "pods start within 5s at p99" failed`,
				"✗  pods start within 5s at p99", "pod_startup_latency.p99 = 6.20s", "pods started too slowly"},
			markdown: []string{"## ✗ kwok-run quickstart: failed", "| ✗ | pods start within 5s at p99 | `metrics.pod_startup_latency.p99 <= 5` | pod_startup_latency.p99 = 6.20s | pods started too slowly |"},
			junit: []string{`tests="4" failures="1" errors="0" skipped="1"`,
				`<failure message="pods started too slowly"><![CDATA[metrics.pod_startup_latency.p99 <= 5` + "\nobserved: pod_startup_latency.p99 = 6.20s]]></failure>"},
		},
		{
			name: "unevaluated assertion",
			edit: func(r *Report) {
				r.Outcome = Outcome{Status: Failed, ExitCode: 1, Error: `assertion "pods ready within 1s" could not be evaluated`}
				r.Assertions = append(r.Assertions, Assertion{Name: "pods ready within 1s", Condition: "metrics.pod_ready_latency.p99 < 1",
					Severity: "error", Message: "not measured: pod_ready_latency had no samples"})
			},
			terminal: []string{"✗  pods ready within 1s", "metrics.pod_ready_latency.p99 < 1", "not measured: pod_ready_latency had no samples"},
			markdown: []string{"| ✗ | pods ready within 1s | `metrics.pod_ready_latency.p99 < 1` |  | not measured: pod_ready_latency had no samples |"},
			junit:    []string{`tests="5" failures="1"`, `<failure message="not measured: pod_ready_latency had no samples">`},
		},
		{
			name: "interrupted run",
			edit: func(r *Report) {
				r.Outcome = Outcome{Status: Interrupted, ExitCode: 130, Error: "interrupted", StoppedIn: "pods"}
				r.Steps[1].Status, r.Steps[1].Error = Interrupted, "interrupted after 40 of 100 pods"
				r.Assertions = nil
			},
			terminal: []string{"kwok-run quickstart: interrupted (exit 130)", `stopped in step "pods"`,
				" pods   interrupted  71.50s", "error: interrupted after 40 of 100 pods"},
			markdown: []string{"## ✗ kwok-run quickstart: interrupted", "Stopped in step `pods`.", "| pods | interrupted | 71.50s |", "|  |  |  | error: interrupted after 40 of 100 pods |  |"},
			junit: []string{`tests="2" failures="1"`, `<failure message="interrupted after 40 of 100 pods" type="interrupted">`,
				"<system-err><![CDATA[interrupted]]></system-err>"},
		},
	}
}

func TestTerminalVerdicts(t *testing.T) {
	for _, v := range verdicts() {
		t.Run(v.name, func(t *testing.T) {
			r := textFixture()
			v.edit(r)
			var b bytes.Buffer
			if err := WriteTerminal(&b, r, false); err != nil {
				t.Fatal(err)
			}
			contains(t, b.String(), v.terminal)
		})
	}
}

func contains(t *testing.T, got string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
}

func TestTerminalColor(t *testing.T) {
	r := textFixture()
	var plain, color bytes.Buffer
	if err := WriteTerminal(&plain, r, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteTerminal(&color, r, true); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("escape codes without color")
	}
	contains(t, color.String(), []string{green + "passed" + reset, green + "✓" + reset, yellow + "!" + reset})
}

func TestTerminalFormats(t *testing.T) {
	for _, c := range []struct {
		path string
		v    float64
		want string
	}{
		{"pod_startup_latency.p99", 0.412, "412ms"},
		{"pod_startup_latency.p99", 0.0042, "4.20ms"},
		{"pod_startup_latency.p99", 0.9999, "1.00s"},
		{"pod_startup_latency.p99", 2.014, "2.01s"},
		{"duration", 125, "2m5s"},
		{"metrics.steps.pods.pod_startup_latency.max", 1.5, "1.50s"},
		{"pod_startup_latency.count", 100, "100"},
		{"component_rss_peak_bytes.etcd", 58.25 * (1 << 20), "58.3 MiB"},
		{"scheduling_throughput.p50", 31.04, "31/s"},
		{"pods_created", 100, "100"},
	} {
		if got := value(c.path, c.v); got != c.want {
			t.Errorf("value(%q, %v) = %q, want %q", c.path, c.v, got, c.want)
		}
	}
}
