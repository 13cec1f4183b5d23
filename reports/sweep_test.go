package reports

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestSweepGrowth(t *testing.T) {
	s := &Sweep{Scenario: "q", Variables: []string{"nodes"}, Metrics: []string{"component_rss_peak_bytes.apiserver", "pod_startup_latency.p99"}}
	for _, n := range []float64{1000, 2000, 4000} {
		s.Points = append(s.Points, SweepPoint{Values: []string{strconv.FormatFloat(n, 'f', -1, 64)}, Metrics: map[string]float64{
			"component_rss_peak_bytes.apiserver": 300<<20 + n*(50<<10), // 50 KiB a node
			"pod_startup_latency.p99":            1.5,
		}})
	}
	g := s.Growths()
	if len(g) != 2 || g[0].Per != 1000 || math.Abs(g[0].Slope-50<<20*1000/1024) > 1 || math.Abs(g[0].R2-1) > 1e-9 || g[1].Slope != 0 {
		t.Fatalf("growths %+v", g)
	}
	var b bytes.Buffer
	if err := WriteSweepTerminal(&b, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "component_rss_peak_bytes.apiserver grows 48.8 MiB per 1000 nodes (R² 1.00)") {
		t.Errorf("terminal:\n%s", b.String())
	}
	words := &Sweep{Variables: []string{"release"}, Metrics: s.Metrics, Points: []SweepPoint{{Values: []string{"a"}}, {Values: []string{"b"}}, {Values: []string{"c"}}}}
	if words.Growths() != nil {
		t.Error("a variable of words: no line to fit")
	}
}

// With two swept variables, a line is fitted along the first for each value
// of the second that has three points, and the growth says at which.
func TestSweepGrowthOfTwoVariables(t *testing.T) {
	s := &Sweep{Scenario: "q", Variables: []string{"nodes", "pods_per_node"}, Metrics: []string{"pod_startup_latency.p99"}}
	for _, ppn := range []float64{10, 30} {
		for _, n := range []float64{100, 200, 300} {
			s.Points = append(s.Points, SweepPoint{Values: []string{strconv.FormatFloat(n, 'f', -1, 64), strconv.FormatFloat(ppn, 'f', -1, 64)},
				Metrics: map[string]float64{"pod_startup_latency.p99": 1 + n*ppn/1e4}})
		}
	}
	// A combination with two points has no line of its own.
	s.Points = append(s.Points, SweepPoint{Values: []string{"100", "50"}, Metrics: map[string]float64{"pod_startup_latency.p99": 2}},
		SweepPoint{Values: []string{"200", "50"}, Metrics: map[string]float64{"pod_startup_latency.p99": 3}})
	lines := s.Lines()
	if len(lines) != 3 || lines[0].At != "pods_per_node=10" || !slices.Equal(lines[1].Points, []int{3, 4, 5}) {
		t.Fatalf("lines %+v", lines)
	}
	g := s.Growths()
	if len(g) != 2 || g[0].At != "pods_per_node=10" || g[1].At != "pods_per_node=30" || g[0].Per != 100 ||
		math.Abs(g[0].Slope-0.1) > 1e-9 || math.Abs(g[1].Slope-0.3) > 1e-9 {
		t.Fatalf("growths %+v", g)
	}
	var b bytes.Buffer
	if err := WriteSweepTerminal(&b, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "pod_startup_latency.p99 grows 300ms per 100 nodes at pods_per_node=30 (R² 1.00)") {
		t.Errorf("terminal:\n%s", b.String())
	}
}

// sampleSweep is a sweep over three node counts and two pod densities whose
// last point failed.
func sampleSweep() *Sweep {
	s := &Sweep{Scenario: "quickstart", Variables: []string{"nodes", "pods_per_node"}, Metrics: []string{"pod_startup_latency.p99", "component_rss_peak_bytes.apiserver", "etcd_db_size_bytes"}}
	for _, ppn := range []float64{10, 30} {
		for _, n := range []float64{500, 1000, 2000} {
			s.Points = append(s.Points, SweepPoint{
				Values: []string{strconv.FormatFloat(n, 'f', -1, 64), strconv.FormatFloat(ppn, 'f', -1, 64)},
				Dir:    "nodes=" + strconv.FormatFloat(n, 'f', -1, 64) + ",pods_per_node=" + strconv.FormatFloat(ppn, 'f', -1, 64),
				Runs:   3, Outcome: Passed,
				Metrics: map[string]float64{
					"pod_startup_latency.p99":            1.2 + n*ppn/4e4,
					"component_rss_peak_bytes.apiserver": 300<<20 + n*ppn*(4<<10),
				},
			})
		}
	}
	s.Points[len(s.Points)-1].Outcome = Failed
	s.Stopped = "nodes=2000,pods_per_node=30: the run failed (exit 1)"
	return s
}

// The sweep's page has a chart per metric, a line per pod density, the
// growth under its chart, the failed point and the table; a metric measured
// nowhere says so instead of drawing an empty chart.
func TestSweepHTML(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSweepHTML(&b, sampleSweep()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, "<svg"); n != 2 {
		t.Errorf("%d charts, want 2 (etcd_db_size_bytes was not measured)", n)
	}
	for _, want := range []string{
		"Not measured at any point.", "pods_per_node=10</li>", "pods_per_node=30</li>",
		"pod_startup_latency.p99 grows 750ms per 1000 nodes at pods_per_node=30 (R² 1.00)",
		"Stopped early: nodes=2000,pods_per_node=30", "<code>nodes=2000,pods_per_node=30</code>", "<td>failed</td>",
	} {
		if !strings.Contains(page, want) && !strings.Contains(page, strings.ReplaceAll(want, "=", "&#61;")) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
