package reports

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func TestMannWhitney(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []float64
		want float64
	}{
		// Every arrangement of 5 and 5 is one of C(10,5) = 252; the two
		// extremes are as far from the mean as complete separation.
		{"separated five a side", []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}, 2.0 / 252},
		{"separated three a side", []float64{1, 2, 3}, []float64{4, 5, 6}, 2.0 / 20},
		{"interleaved", []float64{1, 3, 5, 7}, []float64{2, 4, 6, 8}, 0.686},
	} {
		if got := mannWhitney(tc.a, tc.b); math.Abs(got-tc.want) > 0.001 {
			t.Errorf("%s: p = %.4f, want %.4f", tc.name, got, tc.want)
		}
	}
	// Ties: the normal approximation, which must find identical samples
	// indistinguishable and separated ones far apart.
	if p := mannWhitney([]float64{1, 1, 2, 2, 3}, []float64{1, 1, 2, 2, 3}); p < 0.9 {
		t.Errorf("identical samples with ties: p = %.3f, want about 1", p)
	}
	if p := mannWhitney([]float64{1, 1, 1, 2, 2, 2}, []float64{5, 5, 5, 6, 6, 6}); p > 0.01 {
		t.Errorf("separated samples with ties: p = %.4f, want < 0.01", p)
	}
}

// runs counts fixtures, so that each has ports and directories of its own,
// as real runs do.
var runs int

// run is a report fixture: one run of scenario name with the given metrics.
func run(name, kubernetes string, m map[string]float64) *Report {
	runs++
	return &Report{
		Scenario: Scenario{Name: name, SHA256: "sha-" + name, Seed: 1},
		Cluster: Cluster{Backend: "local", Kubernetes: kubernetes, Kwok: "v0.8.0", Etcd: "v3.6.16",
			Components: []Component{
				{Name: "apiserver", Args: []string{fmt.Sprintf("--secure-port=%d", 40000+runs), fmt.Sprintf("--etcd-servers=https://127.0.0.1:%d", 41000+runs), fmt.Sprintf("--client-ca-file=/tmp/run-%d/pki/ca.crt", runs)}},
				{Name: "etcd", Args: []string{fmt.Sprintf("--data-dir=/dev/shm/kwok-run-etcd-%d", 1000000+runs), "--quota-backend-bytes=8589934592"}},
			}},
		Metrics: m,
	}
}

// side is repeated runs of the quickstart whose p99 start-up and scheduling
// throughput take the given values, run by run.
func side(label, kubernetes string, p99, throughput []float64) Side {
	s := Side{Label: label}
	for i := range p99 {
		s.Runs = append(s.Runs, run("quickstart", kubernetes, map[string]float64{
			"pod_startup_latency.p99":   p99[i],
			"pod_startup_latency.count": 100,
			"scheduling_throughput.p50": throughput[i],
		}))
	}
	return s
}

func find(t *testing.T, c *Comparison, metric string) MetricChange {
	t.Helper()
	for _, r := range c.Rows {
		if r.Metric == metric {
			return r
		}
	}
	t.Fatalf("no row for %s", metric)
	return MetricChange{}
}

// A release that starts pods 30% slower, five runs a side: detected,
// significant, past the threshold, and it fails the comparison; the
// throughput that improved is reported better and fails nothing.
func TestCompareFindsAKnownRegression(t *testing.T) {
	base := side("base", "v1.36.3", []float64{1.00, 1.02, 0.98, 1.01, 0.99}, []float64{100, 98, 101, 99, 100})
	new := side("new", "v1.37.2", []float64{1.30, 1.28, 1.33, 1.31, 1.29}, []float64{120, 118, 121, 119, 122})
	c, err := Compare(base, new, CompareOptions{Threshold: 0.10})
	if err != nil {
		t.Fatal(err)
	}
	p99 := find(t, c, "pod_startup_latency.p99")
	if p99.Verdict != VerdictWorse || !p99.Regression || !p99.Tested() || p99.P > 0.01 || math.Abs(p99.Delta-0.30) > 0.001 {
		t.Errorf("p99: %+v; want a significant 30%% regression", p99)
	}
	if tp := find(t, c, "scheduling_throughput.p50"); tp.Verdict != VerdictBetter || tp.Regression {
		t.Errorf("throughput: %+v; want better (higher is better)", tp)
	}
	if n := find(t, c, "pod_startup_latency.count"); n.Verdict != VerdictNoChange {
		t.Errorf("sample count: %+v; want no change", n)
	}
	if got := c.Regressions(); len(got) != 1 {
		t.Errorf("regressions: %v, want the p99 alone", got)
	}
	if !containsLine(c.Differences, "kubernetes: v1.36.3 → v1.37.2") {
		t.Errorf("differences %q: want the version change", c.Differences)
	}
	for _, d := range c.Differences {
		if strings.Contains(d, "apiserver") || strings.Contains(d, "etcd") {
			t.Errorf("ports and run directories are not differences: %q", d)
		}
	}
	// Past the threshold only: a 50% threshold forgives 30%.
	c, _ = Compare(base, new, CompareOptions{Threshold: 0.10, PerMetric: map[string]float64{"pod_startup_latency": 0.5}})
	if p99 := find(t, c, "pod_startup_latency.p99"); p99.Verdict != VerdictWorse || p99.Regression {
		t.Errorf("with a 50%% threshold: %+v; want worse, not a regression", p99)
	}

	var term, md bytes.Buffer
	if err := WriteComparisonTerminal(&term, c, false, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteComparisonMarkdown(&md, c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kubernetes: v1.36.3 → v1.37.2", "pod_startup_latency.p99", "+30.0%", "no regression", "1 more metric with no significant change"} {
		if !strings.Contains(term.String(), want) {
			t.Errorf("terminal output lacks %q:\n%s", want, term.String())
		}
	}
	if !strings.Contains(md.String(), "| pod_startup_latency.count |") {
		t.Errorf("markdown lists every metric:\n%s", md.String())
	}
}

// The comparison's page marks the regression, lists the version change and
// draws one distribution chart per metric measured on both sides.
func TestComparisonHTML(t *testing.T) {
	base := side("base", "v1.36.3", []float64{1.00, 1.02, 0.98, 1.01, 0.99}, []float64{100, 98, 101, 99, 100})
	new := side("new", "v1.37.2", []float64{1.30, 1.28, 1.33, 1.31, 1.29}, []float64{120, 118, 121, 119, 122})
	new.Runs[0].Metrics["apiserver_request_latency.update.replicasets.p99"] = 0.1
	c, err := Compare(base, new, CompareOptions{Threshold: 0.10})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteComparisonHTML(&b, c); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, "<svg"); n != 3 {
		t.Errorf("%d distribution charts, want 3: one per metric of both sides", n)
	}
	for _, want := range []string{
		"<h1>1 regression</h1>", "kubernetes: v1.36.3 → v1.37.2",
		`<tr class="fail"><td>✗</td><th scope="row"><code>pod_startup_latency.p99</code>`,
		"1 breakdowns by verb, resource or status", "Mann–Whitney U",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// Noise only: the same distribution drawn twice differs in its medians, but
// not significantly; nothing is flagged.
func TestCompareIgnoresNoise(t *testing.T) {
	base := side("base", "v1.37.2", []float64{1.00, 1.04, 0.97, 1.02, 0.99}, []float64{100, 97, 103, 99, 101})
	new := side("new", "v1.37.2", []float64{1.03, 0.98, 1.01, 0.96, 1.05}, []float64{98, 102, 100, 104, 99})
	c, err := Compare(base, new, CompareOptions{Threshold: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.Rows {
		if r.Verdict != VerdictNoChange || r.Regression {
			t.Errorf("%s: %s (p %.3f); want no significant change", r.Metric, r.Verdict, r.P)
		}
	}
	if len(c.Differences) != 0 {
		t.Errorf("differences %q; want none", c.Differences)
	}
}

// Single runs cannot be tested: a change past the threshold is reported as
// untested, and still fails; one within it does not.
func TestCompareSingleRuns(t *testing.T) {
	base := side("base", "v1.37.2", []float64{1.0}, []float64{100})
	new := side("new", "v1.37.2", []float64{1.2}, []float64{95})
	c, _ := Compare(base, new, CompareOptions{Threshold: 0.10})
	if r := find(t, c, "pod_startup_latency.p99"); r.Tested() || !r.Regression {
		t.Errorf("p99 +20%%: %+v; want an untested regression", r)
	}
	if r := find(t, c, "scheduling_throughput.p50"); r.Verdict != VerdictNoChange {
		t.Errorf("throughput -5%%: %+v; want no change within the threshold", r)
	}
}

// Different scenarios with different metrics: said first, compared where
// they overlap, and no crash.
func TestCompareMismatchedScenarios(t *testing.T) {
	base := Side{Label: "a", Runs: []*Report{run("quickstart", "v1.37.2", map[string]float64{"pod_startup_latency.p99": 1, "nodes_created": 10})}}
	new := Side{Label: "b", Runs: []*Report{run("node-churn", "v1.37.2", map[string]float64{"pod_startup_latency.p99": 1, "nodes_deleted": 4})}}
	c, err := Compare(base, new, CompareOptions{Threshold: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if !containsLine(c.Differences, "scenario: quickstart → node-churn") {
		t.Errorf("differences %q: want the scenarios named", c.Differences)
	}
	if find(t, c, "nodes_created").Verdict != VerdictOnlyBase || find(t, c, "nodes_deleted").Verdict != VerdictOnlyNew {
		t.Error("metrics of one side only are not marked so")
	}
	var b bytes.Buffer
	if err := WriteComparisonTerminal(&b, c, true, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "only in base") {
		t.Errorf("terminal output:\n%s", b.String())
	}
}

// A side is a report.json, a results directory, or a directory of them.
func TestLoadSide(t *testing.T) {
	dir := t.TempDir()
	for i, v := range []float64{1, 2, 3} {
		r := run("quickstart", "v1.37.2", map[string]float64{"pod_startup_latency.p99": v})
		r.SchemaVersion = SchemaVersion
		if err := Write(filepath.Join(dir, "repeats", "run-"+string(rune('1'+i))), r); err != nil {
			t.Fatal(err)
		}
	}
	for path, want := range map[string]int{
		filepath.Join(dir, "repeats"):                         3,
		filepath.Join(dir, "repeats", "run-2"):                1,
		filepath.Join(dir, "repeats", "run-3", "report.json"): 1,
	} {
		s, err := LoadSide(path)
		if err != nil || len(s.Runs) != want {
			t.Errorf("%s: %d runs, %v; want %d", path, len(s.Runs), err, want)
		}
	}
	if _, err := LoadSide(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no report.json") {
		t.Errorf("an empty directory: %v", err)
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func TestAggregate(t *testing.T) {
	a := Aggregate(side("runs", "v1.37.2", []float64{1.0, 1.2, 0.9}, []float64{100, 0, 50}))
	p99 := a.Metrics["pod_startup_latency.p99"]
	if a.Runs != 3 || p99.Median != 1.0 || p99.Min != 0.9 || p99.Max != 1.2 || p99.Spread == nil || math.Abs(*p99.Spread-0.3) > 1e-9 {
		t.Errorf("p99 %+v over %d runs", p99, a.Runs)
	}
	var b bytes.Buffer
	if err := WriteAggregateTerminal(&b, a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "pod_startup_latency.p99") || !strings.Contains(b.String(), "30.0%") {
		t.Errorf("terminal:\n%s", b.String())
	}
}

// Hundreds of per-verb and per-resource breakdowns are tested in a real
// comparison, so some differ "significantly" by chance: they are listed,
// and fail the comparison only when asked.
func TestBreakdownsDoNotGateByDefault(t *testing.T) {
	mk := func(label string, vs ...float64) Side {
		s := Side{Label: label}
		for _, v := range vs {
			s.Runs = append(s.Runs, run("quickstart", "v1.37.2", map[string]float64{
				"apiserver_request_latency.update.replicasets.p99": v,
				"apiserver_request_latency.all.all.p99":            v,
				"component_cpu_seconds.apiserver":                  v,
			}))
		}
		return s
	}
	base, new := mk("base", 1, 1.01, 0.99, 1.02, 0.98), mk("new", 2, 2.01, 1.99, 2.02, 1.98)
	c, _ := Compare(base, new, CompareOptions{Threshold: 0.1})
	if r := find(t, c, "apiserver_request_latency.update.replicasets.p99"); !r.Breakdown || r.Verdict != VerdictWorse || r.Regression {
		t.Errorf("breakdown: %+v; want worse, listed, not gating", r)
	}
	for _, m := range []string{"apiserver_request_latency.all.all.p99", "component_cpu_seconds.apiserver"} {
		if r := find(t, c, m); r.Breakdown || !r.Regression {
			t.Errorf("%s: %+v; want a gating regression", m, r)
		}
	}
	c, _ = Compare(base, new, CompareOptions{Threshold: 0.1, GateBreakdowns: true})
	if len(c.Regressions()) != 3 {
		t.Errorf("with breakdowns gating: %d regressions, want 3", len(c.Regressions()))
	}
}

// A time that grows from a millisecond to six is +500% but below the floor:
// worse, not a regression; without a floor it is one.
func TestCompareFloor(t *testing.T) {
	mk := func(label string, vs ...float64) Side {
		s := Side{Label: label}
		for _, v := range vs {
			s.Runs = append(s.Runs, run("quickstart", "v1.37.2", map[string]float64{"simulator_lag.p99": v}))
		}
		return s
	}
	base, new := mk("base", 0.001, 0.0012, 0.0009, 0.0011, 0.001), mk("new", 0.006, 0.0058, 0.0061, 0.0062, 0.0059)
	c, err := Compare(base, new, CompareOptions{Threshold: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if r := find(t, c, "simulator_lag.p99"); r.Verdict != VerdictWorse || r.Regression {
		t.Errorf("below the floor: %+v; want worse, not a regression", r)
	}
	c, _ = Compare(base, new, CompareOptions{Threshold: 0.1, Floor: -1})
	if r := find(t, c, "simulator_lag.p99"); !r.Regression {
		t.Errorf("without a floor: %+v; want a regression", r)
	}
}
