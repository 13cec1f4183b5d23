package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/reports"
	"github.com/kwok-run/kwok-run/reports/browsertest"
	"github.com/kwok-run/kwok-run/scenario"
)

func TestSweptVars(t *testing.T) {
	fixed, swept, err := sweptVars([]scenario.VarArg{
		{Value: "nodes=500..2000/500"}, {Value: "pods=10,30"}, {Value: "name=a"}, {File: true, Value: "x.tfvars"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fixed) != 2 || len(swept) != 2 || !reflect.DeepEqual(swept[0].values, []string{"500", "1000", "1500", "2000"}) || !reflect.DeepEqual(swept[1].values, []string{"10", "30"}) {
		t.Fatalf("fixed %v, swept %v", fixed, swept)
	}
	points := combinations(swept)
	if len(points) != 8 || points[0].dir() != "nodes=500,pods=10" || points[1].dir() != "nodes=500,pods=30" || points[7].dir() != "nodes=2000,pods=30" {
		t.Errorf("combinations: %v", points)
	}
	for _, bad := range []string{"nodes=10..1", "nodes=1..10/0", "nodes=a..b", "nodes=1..100000/1"} {
		if _, _, err := sweptVars([]scenario.VarArg{{Value: bad}}); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
	if _, _, err := sweptVars([]scenario.VarArg{{Value: "n=1,2"}, {Value: "n=3,4"}}); err == nil {
		t.Error("a variable swept twice: want an error")
	}
}

// A real sweep over three node counts: every point runs on a fresh
// cluster, the table and sweep.json hold each point's medians, the growth
// of each metric is fitted, and sweep.html charts them, checked in a real
// browser. A value the variable refuses is found before anything runs.
func TestSweepNodes(t *testing.T) {
	binariestest.Cached(t)
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv(binaries.EnvSources, "cache")
	out := filepath.Join(t.TempDir(), "sweep")
	r := run(t, "", "sweep", "--out", out, "-var", "nodes=5..15/5", "-var", "pods=20", "--metric", "pod_startup_latency.p99", "--metric", "nodes_created", "../../../examples/quickstart.hcl")
	if r.code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.errOut)
	}
	if !strings.Contains(r.out, "nodes_created grows 10 per 10 nodes (R² 1.00)") {
		t.Errorf("the growth of a metric that is the swept value itself:\n%s", r.out)
	}
	raw, err := os.ReadFile(filepath.Join(out, reports.SweepFile))
	if err != nil {
		t.Fatal(err)
	}
	var sw reports.Sweep
	if err := json.Unmarshal(raw, &sw); err != nil {
		t.Fatal(err)
	}
	if len(sw.Points) != 3 || sw.Points[2].Dir != "nodes=15" || sw.Points[2].Metrics["nodes_created"] != 15 || sw.Points[0].Outcome != reports.Passed {
		t.Errorf("sweep.json: %+v", sw.Points)
	}
	if _, err := os.Stat(filepath.Join(out, "nodes=10", "report.json")); err != nil {
		t.Errorf("a point's results: %v", err)
	}
	page, err := os.ReadFile(filepath.Join(out, "sweep.html"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), "<svg"); n != 2 {
		t.Errorf("sweep.html has %d charts, want one per metric (2)", n)
	}
	t.Run("browser", func(t *testing.T) {
		img := browsertest.Check(t, browsertest.Start(t), filepath.Join(out, "sweep.html"))
		if n := browsertest.DistinctColours(img); n < 32 {
			t.Errorf("the screenshot has %d distinct colours: the page looks blank", n)
		}
	})
	if r := run(t, "", "sweep", "--out", t.TempDir(), "-var", "nodes=5,ten", "../../../examples/quickstart.hcl"); r.code != ExitUsage || !strings.Contains(r.errOut, "ten") {
		t.Errorf("a value the variable refuses: exit %d\n%s", r.code, r.errOut)
	}
	if r := run(t, "", "sweep", "../../../examples/quickstart.hcl"); r.code != ExitUsage || !strings.Contains(r.errOut, "nothing to sweep") {
		t.Errorf("nothing swept: exit %d\n%s", r.code, r.errOut)
	}
}
