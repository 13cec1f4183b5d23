package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/kwok-run/kwok-run/scenario/metrics"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

func examples(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("../examples/*.hcl")
	if err != nil || len(files) < 6 {
		t.Fatalf("expected at least six examples, found %d (%v)", len(files), err)
	}
	return files
}

// mustLoad loads src and fails the test on any error.
func mustLoad(t *testing.T, src string, opts Options) *plan.Plan {
	t.Helper()
	l := NewLoader()
	p, diags := l.LoadSource("test.hcl", []byte(src), opts)
	if diags.HasErrors() {
		var out bytes.Buffer
		_ = l.WriteDiagnostics(&out, diags)
		t.Fatalf("load failed:\n%s", out.String())
	}
	return p
}

// loadErrors loads src and returns its diagnostics as text.
func loadErrors(t *testing.T, src string, opts Options) (string, hcl.Diagnostics) {
	t.Helper()
	l := NewLoader()
	p, diags := l.LoadSource("test.hcl", []byte(src), opts)
	if p != nil && diags.HasErrors() {
		t.Fatal("a plan came back with errors")
	}
	var out bytes.Buffer
	_ = l.WriteDiagnostics(&out, diags)
	return out.String(), diags
}

func TestExamplesLoadCleanly(t *testing.T) {
	for _, f := range examples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			l := NewLoader()
			p, diags := l.Load(f, Options{})
			if len(diags) > 0 {
				var out bytes.Buffer
				_ = l.WriteDiagnostics(&out, diags)
				t.Fatalf("examples must load without errors or warnings:\n%s", out.String())
			}
			var text, js bytes.Buffer
			if err := p.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if err := p.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			if !json.Valid(js.Bytes()) {
				t.Fatal("plan JSON is not valid JSON")
			}
			if len(p.Steps) == 0 || len(p.Assertions) == 0 {
				t.Errorf("an example should have steps and assertions; got %d and %d", len(p.Steps), len(p.Assertions))
			}
		})
	}
}

func TestExamplesAreFormatted(t *testing.T) {
	for _, f := range examples(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, diags := NewLoader().Format(f, src)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if !bytes.Equal(out, src) {
			t.Errorf("%s is not formatted; run kwok-run fmt examples", f)
		}
	}
}

func TestPlanIsDeterministic(t *testing.T) {
	for _, f := range examples(t) {
		var first [2]string
		for i := range 3 {
			p, diags := NewLoader().Load(f, Options{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			var text, js bytes.Buffer
			if err := p.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if err := p.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = [2]string{text.String(), js.String()}
			} else if text.String() != first[0] || js.String() != first[1] {
				t.Fatalf("%s: plan output differs between loads", f)
			}
		}
	}
}

const minimal = `
variable "nodes" {
  type    = number
  default = 10
}
variable "zones" {
  type    = list(string)
  default = ["a"]
}
scenario "t" {}
node_pool "workers" {
  count  = var.nodes
  labels = { zone = var.zones[count.index % length(var.zones)], index = count.index }
}
step "s" {
  create_nodes {
    pool = "workers"
  }
}
`

func variableValue(t *testing.T, p *plan.Plan, name string) (string, string) {
	t.Helper()
	for _, v := range p.Variables {
		if v.Name == name {
			return fmt.Sprintf("%s", v.Value), v.Source
		}
	}
	t.Fatalf("variable %s not in plan", name)
	return "", ""
}

func TestVariablePrecedence(t *testing.T) {
	dir := t.TempDir()
	varFile := filepath.Join(dir, "more.hcl")
	if err := os.WriteFile(varFile, []byte("nodes = 30\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"KWOKRUN_VAR_nodes=20", "KWOKRUN_VAR_undeclared=1", "PATH=/bin"}
	for _, tc := range []struct {
		name       string
		opts       Options
		want, from string
	}{
		{"default", Options{}, "10", "default"},
		{"environment over default", Options{Environ: env}, "20", "env"},
		{"file over environment", Options{Environ: env, Vars: []VarArg{{File: true, Value: varFile}}}, "30", "file " + varFile},
		{"flag after file wins", Options{Environ: env, Vars: []VarArg{{File: true, Value: varFile}, {Value: "nodes=40"}}}, "40", "flag"},
		{"file after flag wins", Options{Environ: env, Vars: []VarArg{{Value: "nodes=40"}, {File: true, Value: varFile}}}, "30", "file " + varFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustLoad(t, minimal, tc.opts)
			got, from := variableValue(t, p, "nodes")
			if got != tc.want || from != tc.from {
				t.Errorf("nodes = %s from %q, want %s from %q", got, from, tc.want, tc.from)
			}
			if p.Pools[0].Count != mustAtoi(t, tc.want) {
				t.Errorf("pool count %d does not follow the variable", p.Pools[0].Count)
			}
		})
	}
}

func mustAtoi(t *testing.T, s string) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestComplexVariableFromFlag(t *testing.T) {
	p := mustLoad(t, minimal, Options{Vars: []VarArg{{Value: `zones=["x","y"]`}}})
	n, err := p.Pools[0].Template.Node(1)
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels["zone"] != "y" {
		t.Errorf("node 1 zone = %q, want y", n.Labels["zone"])
	}
}

func TestVariableErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		opts Options
		want []string
	}{
		{"undeclared flag", minimal, Options{Vars: []VarArg{{Value: "node=3"}}}, []string{"Value for undeclared variable", `Did you mean "nodes"?`}},
		{"flag without value", minimal, Options{Vars: []VarArg{{Value: "nodes"}}}, []string{"Invalid -var option"}},
		{"wrong type", minimal, Options{Vars: []VarArg{{Value: "nodes=many"}}}, []string{`Invalid value for variable "nodes"`, "-var nodes"}},
		{"bad list", minimal, Options{Vars: []VarArg{{Value: "zones=[a"}}}, []string{`Invalid value for variable "zones"`}},
		{"missing file", minimal, Options{Vars: []VarArg{{File: true, Value: "/nonexistent/vars.hcl"}}}, []string{"Cannot read variable file"}},
		{"required", strings.Replace(minimal, "default = 10", "", 1), Options{}, []string{`No value for required variable "nodes"`, "-var nodes="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, diags := loadErrors(t, tc.src, tc.opts)
			if !diags.HasErrors() {
				t.Fatal("expected errors")
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("missing %q in:\n%s", w, out)
				}
			}
		})
	}
}

func TestValidationPointsAtTheValue(t *testing.T) {
	src := `
variable "nodes" {
  type = number
  default = 10
  validation {
    condition     = var.nodes <= 100
    error_message = "at most 100 nodes, not ${var.nodes}."
  }
}
scenario "t" {}
step "s" {
  duration = "1s"
}
`
	dir := t.TempDir()
	varFile := filepath.Join(dir, "big.hcl")
	if err := os.WriteFile(varFile, []byte("\n\nnodes = 1000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, diags := loadErrors(t, src, Options{Vars: []VarArg{{File: true, Value: varFile}}})
	if len(diags) != 1 {
		t.Fatalf("want one diagnostic, got:\n%s", out)
	}
	if d := diags[0]; d.Subject == nil || d.Subject.Filename != varFile || d.Subject.Start.Line != 3 {
		t.Errorf("the diagnostic should point at line 3 of the variable file:\n%s", out)
	}
	if !strings.Contains(out, "at most 100 nodes, not 1000.") {
		t.Errorf("the error_message should be rendered:\n%s", out)
	}
}

func TestNodeTemplate(t *testing.T) {
	p := mustLoad(t, minimal, Options{Vars: []VarArg{{Value: `zones=["a","b","c"]`}, {Value: "nodes=100000"}}})
	pool := p.Pools[0]
	n, err := pool.Template.Node(99_998)
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels["zone"] != "c" || n.Labels["index"] != "99998" {
		t.Errorf("node 99998 labels = %v", n.Labels)
	}
	if n.Capacity["pods"] != "110" || n.Allocatable["cpu"] != "32" {
		t.Errorf("default capacity and allocatable missing: %v %v", n.Capacity, n.Allocatable)
	}
	// The runner renders nodes from many workers at once.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < 2000; i += 8 {
				n, err := pool.Template.Node(i)
				if err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprint(i); n.Labels["index"] != want {
					errs <- fmt.Errorf("node %d got index label %q", i, n.Labels["index"])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestTemplateErrorInTheMiddleSurfacesAtRunTime(t *testing.T) {
	// Only the first and last node are rendered at load time, so a value that
	// is wrong for node 5 alone loads, and the runner gets an error that names
	// the node.
	src := strings.Replace(minimal, "index = count.index", `index = count.index == 5 ? "bad value!" : count.index`, 1)
	p := mustLoad(t, src, Options{})
	if _, err := p.Pools[0].Template.Node(4); err != nil {
		t.Fatal(err)
	}
	_, err := p.Pools[0].Template.Node(5)
	if err == nil || !strings.Contains(err.Error(), `pool "workers" node 5`) || !strings.Contains(err.Error(), "Invalid value in labels") {
		t.Fatalf("want an error naming node 5, got %v", err)
	}
}

func TestLargePoolsAreNotExpandedAtLoad(t *testing.T) {
	allocs := func(nodes int) float64 {
		return testing.AllocsPerRun(5, func() {
			if _, diags := NewLoader().LoadSource("t.hcl", []byte(minimal), Options{Vars: []VarArg{{Value: fmt.Sprintf("nodes=%d", nodes)}}}); diags.HasErrors() {
				t.Fatal(diags)
			}
		})
	}
	small, large := allocs(10), allocs(100_000)
	// The same work for any count, give or take the digits of the number.
	if large > small*1.05+50 {
		t.Errorf("loading 100,000 nodes allocates %.0f times, 10 nodes %.0f: nodes are being built up front", large, small)
	}
}

func TestCreateNodesContinuesIndexes(t *testing.T) {
	src := `
scenario "t" {}
node_pool "p" {
  count = 10
}
step "a" {
  create_nodes {
    pool  = "p"
    count = 4
  }
}
step "b" {
  create_nodes {
    pool = "p"
  }
}
`
	p := mustLoad(t, src, Options{})
	a := p.Steps[0].Actions[0].(*plan.CreateNodes)
	b := p.Steps[1].Actions[0].(*plan.CreateNodes)
	if a.FirstIndex != 0 || a.Count != 4 || b.FirstIndex != 4 || b.Count != 6 {
		t.Errorf("got [%d,+%d) then [%d,+%d), want [0,+4) then [4,+6)", a.FirstIndex, a.Count, b.FirstIndex, b.Count)
	}
}

func TestKubeconfigIsRelativeToTheScenario(t *testing.T) {
	src := `
scenario "t" {}
cluster {
  backend    = "kubeconfig"
  kubeconfig = "%s"
}
step "s" {
  sleep {
    duration = "1s"
  }
}
`
	for given, want := range map[string]string{
		"admin.conf":           filepath.Join("clusters", "big", "admin.conf"),
		"/etc/kube/admin.conf": "/etc/kube/admin.conf",
	} {
		l := NewLoader()
		// A kubeconfig elsewhere is the user's to allow (TestOutsideFiles).
		p, diags := l.LoadSource(filepath.Join("clusters", "big", "scenario.hcl"), []byte(fmt.Sprintf(src, given)), Options{AllowOutsideFiles: filepath.IsAbs(given)})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if p.Cluster.Backend != plan.BackendKubeconfig || p.Cluster.Kubeconfig != want {
			t.Errorf("kubeconfig %q: backend %s, path %q, want %q", given, p.Cluster.Backend, p.Cluster.Kubeconfig, want)
		}
		var text bytes.Buffer
		if err := p.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		for _, line := range []string{"kubeconfig  " + want, "components  0 KWOK controllers"} {
			if !strings.Contains(text.String(), line) {
				t.Errorf("the plan does not say %q:\n%s", line, text.String())
			}
		}
	}
}

func TestWavesResolveToSelectors(t *testing.T) {
	src := `
scenario "t" {}
step "a" {
  create_pods "web" {
    namespace = "ns"
    kind      = "Deployment"
    count     = 25
    replicas  = 10
  }
}
step "b" {
  wait "pods_running" {
    wave = "web"
  }
  scale_pods "web" {
    count = 5
  }
}
`
	p := mustLoad(t, src, Options{})
	c := p.Steps[0].Actions[0].(*plan.CreatePods)
	if c.Objects != 3 || c.ReplicasOf(0) != 10 || c.ReplicasOf(2) != 5 {
		t.Errorf("25 pods by 10: objects %d, replicas %d and %d", c.Objects, c.ReplicasOf(0), c.ReplicasOf(2))
	}
	w := p.Steps[1].Actions[0].(*plan.Wait)
	if w.Namespace != "ns" || w.Selector[WaveLabel] != "web" {
		t.Errorf("wave did not resolve: %+v", w)
	}
	s := p.Steps[1].Actions[1].(*plan.ScalePods)
	if s.Namespace != "ns" || s.Objects != 3 || s.Kind != plan.KindDeployment {
		t.Errorf("scale did not resolve: %+v", s)
	}
}

func TestExecNeedsPermission(t *testing.T) {
	src := "scenario \"t\" {}\nstep \"s\" {\n  exec {\n    command = [\"true\"]\n  }\n}\n"
	out, diags := loadErrors(t, src, Options{})
	if !diags.HasErrors() || !strings.Contains(out, "test.hcl:3:3: error: exec needs --allow-exec") {
		t.Errorf("want the exec refused with its position, got:\n%s", out)
	}
	mustLoad(t, src, Options{AllowExec: true})

	// Components that run a program of the scenario's choosing, or flags
	// that open them up or reach files, are exec by other means.
	src = `scenario "t" {}
cluster {
  component "apiserver" {
    binary = "/usr/bin/true"
    args = {
      "bind-address"          = "0.0.0.0"
      "authorization-mode"    = "AlwaysAllow"
      "audit-log-path"        = "/etc/passwd"
      "max-requests-inflight" = 800
      "v"                     = 4
    }
  }
  component "kwok" {
    image = "example/kwok:evil"
  }
}
step "s" {
  duration = "1s"
}
`
	out, _ = loadErrors(t, src, Options{})
	for _, want := range []string{
		"test.hcl:4:14: error: binary needs --allow-exec",
		"test.hcl:6:7: error: Flag needs --allow-exec", "bind-address decides where apiserver listens",
		"test.hcl:7:7: error: Flag needs --allow-exec", "test.hcl:8:7: error: Flag needs --allow-exec",
		"test.hcl:14:13: error: image needs --allow-exec",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "error:"); n != 5 {
		t.Errorf("%d errors, want 5 (max-requests-inflight and v are harmless):\n%s", n, out)
	}
	mustLoad(t, src, Options{AllowExec: true})
}

// TestOutsideFiles: what a scenario names resolves inside its directory
// tree, links followed, or needs --allow-outside-files; validate says so.
func TestOutsideFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "scenario")
	for _, d := range []string{filepath.Join(dir, "manifests"), filepath.Join(root, "secrets")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: default\n"
	for _, f := range []string{filepath.Join(dir, "manifests", "cm.yaml"), filepath.Join(root, "secrets", "cm.yaml")} {
		if err := os.WriteFile(f, []byte(cm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(dir, "manifests", "out.yaml"): filepath.Join(root, "secrets", "cm.yaml"),
		filepath.Join(dir, "in.yaml"):               filepath.Join(dir, "manifests", "cm.yaml"),
		filepath.Join(dir, "secrets"):               filepath.Join(root, "secrets"),
	}
	for link, target := range links {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	for path, inside := range map[string]bool{
		"manifests/cm.yaml":                     true,
		"./manifests/../manifests/cm.yaml":      true,
		filepath.Join(dir, "manifests/cm.yaml"): true,
		"in.yaml":                               true,
		"../secrets/cm.yaml":                    false,
		filepath.Join(root, "secrets/cm.yaml"):  false,
		"manifests/out.yaml":                    false,
		"secrets/cm.yaml":                       false,
		"manifests/../../secrets/cm.yaml":       false,
	} {
		src := fmt.Sprintf("scenario \"t\" {}\nstep \"s\" {\n  apply {\n    files = [%q]\n  }\n}\n", path)
		file := filepath.Join(dir, "s.hcl")
		l := NewLoader()
		_, diags := l.LoadSource(file, []byte(src), Options{})
		var out bytes.Buffer
		_ = l.WriteDiagnostics(&out, diags)
		if inside && diags.HasErrors() {
			t.Errorf("%s is inside the scenario's directory, yet:\n%s", path, out.String())
		}
		if !inside && !strings.Contains(out.String(), file+":4:13: error: Manifest outside the scenario's directory") {
			t.Errorf("%s leads outside the scenario's directory, yet:\n%s", path, out.String())
		}
		if _, diags := NewLoader().LoadSource(file, []byte(src), Options{AllowOutsideFiles: true}); diags.HasErrors() {
			t.Errorf("%s with --allow-outside-files: %s", path, diags)
		}
	}
}

func TestDiagnosticFormat(t *testing.T) {
	src := "scenario \"t\" {}\nnode_pool \"p\" {\n  cont = 5\n}\nstep \"s\" {\n  duration = \"1s\"\n}\n"
	out, _ := loadErrors(t, src, Options{})
	want := `test.hcl:3:3: error: Unsupported argument
 3 |   cont = 5
   |   ^~~~
  An argument named "cont" is not expected here. Did you mean "count"?
`
	if !strings.Contains(out, want) {
		t.Errorf("got:\n%s\nwant it to contain:\n%s", out, want)
	}
}

func TestAssertionVerdicts(t *testing.T) {
	src := `
scenario "t" {}
step "load" {
  duration = "1s"
}
assert "fast" {
  condition     = metrics.pod_startup_latency.p99 <= 5
  error_message = "p99 was ${metrics.pod_startup_latency.p99}s"
}
assert "per step" {
  condition = metrics.steps.load.pods_created >= 10
}
assert "fallback" {
  condition = try(metrics.api_errors["429"], 0) == 0
}
`
	p := mustLoad(t, src, Options{})
	check := func(name string, values metrics.Values) plan.Verdict {
		for _, a := range p.Assertions {
			if a.Name == name {
				return a.Check.Check(values)
			}
		}
		t.Fatalf("no assertion %q", name)
		return plan.Verdict{}
	}
	if v := check("fast", metrics.Values{"pod_startup_latency.p99": 3}); !v.Evaluated || !v.Passed || v.Observed["pod_startup_latency.p99"] != 3 {
		t.Errorf("3s should pass: %+v", v)
	}
	if v := check("fast", metrics.Values{"pod_startup_latency.p99": 7.5}); !v.Evaluated || v.Passed || v.Message != "p99 was 7.5s" {
		t.Errorf("7.5s should fail with the error_message: %+v", v)
	}
	if v := check("fast", metrics.Values{"pod_startup_latency.p50": 1}); v.Evaluated || v.Passed || !strings.Contains(v.Message, "metrics.pod_startup_latency.p99 had no samples") {
		t.Errorf("a missing metric must fail as not measured: %+v", v)
	}
	if v := check("per step", metrics.Values{"steps.load.pods_created": 12}); !v.Passed {
		t.Errorf("per-step value should pass: %+v", v)
	}
	if v := check("fallback", metrics.Values{"api_errors.all": 0}); !v.Evaluated || !v.Passed {
		t.Errorf("try() should supply the fallback: %+v", v)
	}
	if v := check("fallback", metrics.Values{"api_errors.all": 3, "api_errors.429": 3}); !v.Evaluated || v.Passed {
		t.Errorf("three 429s should fail: %+v", v)
	}
}

// BenchmarkLoad measures validate + plan (load, then render the text plan) of
// every example: `make bench`.
func BenchmarkLoad(b *testing.B) {
	for _, f := range examples(b) {
		src, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Base(f), func(b *testing.B) {
			for b.Loop() {
				l := NewLoader()
				p, diags := l.LoadSource(f, src, Options{})
				if diags.HasErrors() {
					b.Fatal(diags)
				}
				if err := p.WriteText(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestPoolConditionsAndNodeType(t *testing.T) {
	p := mustLoad(t, `
scenario "pools" {}
node_pool "pressured" {
  count     = 3
  node_type = "m5.${count.index}xlarge"
  labels    = count.index == 2 ? { "beta.kubernetes.io/instance-type" = "legacy" } : {}
  condition "MemoryPressure" {
    reason  = "KubeletHasInsufficientMemory"
    message = "low"
  }
  condition "example.com/GPUHealthy" {
    status = "False"
  }
  heartbeat {
    status_interval = "30s"
  }
}
node_pool "plain" {
  count = 1
}
step "s" {
  create_nodes {
    pool = "pressured"
  }
  create_nodes {
    pool = "plain"
  }
}
`, Options{})
	pool, plain := p.Pools[0], p.Pools[1]
	want := []plan.NodeCondition{
		{Type: "MemoryPressure", Status: "True", Reason: "KubeletHasInsufficientMemory", Message: "low"},
		{Type: "example.com/GPUHealthy", Status: "False", Reason: "KwokRunGPUHealthy"},
	}
	if !slices.Equal(pool.Conditions, want) || pool.StatusInterval.D() != 30*time.Second || !pool.OwnHeartbeat() {
		t.Errorf("conditions %+v, interval %s", pool.Conditions, pool.StatusInterval.D())
	}
	if plain.OwnHeartbeat() {
		t.Error("a pool without conditions or heartbeat needs no stages of its own")
	}
	all := pool.NodeConditions()
	if len(all) != 6 || all[1] != want[0] || all[0].Type != "Ready" || all[5] != want[1] {
		t.Errorf("the pool's conditions over a healthy kubelet's: %+v", all)
	}
	n1, err := pool.Template.Node(1)
	if err != nil {
		t.Fatal(err)
	}
	n2, err := pool.Template.Node(2)
	if err != nil {
		t.Fatal(err)
	}
	if n1.Labels["node.kubernetes.io/instance-type"] != "m5.1xlarge" || n1.Labels["beta.kubernetes.io/instance-type"] != "m5.1xlarge" {
		t.Errorf("node 1 labels %v", n1.Labels)
	}
	if n2.Labels["beta.kubernetes.io/instance-type"] != "legacy" || n2.Labels["node.kubernetes.io/instance-type"] != "m5.2xlarge" {
		t.Errorf("labels written out must win over node_type: %v", n2.Labels)
	}
}

func TestObjectWaves(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "service.yaml"), []byte(`apiVersion: v1
kind: Service
metadata:
  name: web-${count.index}
  labels:
    app: web
spec:
  selector:
    app: web-${count.index % 10}
  ports:
  - port: 80
`), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `
scenario "objects" {}
step "create" {
  create_objects "config" {
    count     = 100
    namespace = "load-${count.index % 4}"
    object = {
      apiVersion = "v1"
      kind       = "ConfigMap"
      data       = { index = "i-${count.index}" }
    }
  }
  create_objects "services" {
    count    = 10
    manifest = "service.yaml"
    rate     = 5
  }
}
step "churn" {
  update_objects "config" {
    percent  = 10
    every    = "1s"
    duration = "3s"
    patch    = { data = { touched = "yes-${count.index}" } }
  }
  delete_objects "services" {
    count = 5
  }
}
`
	path := filepath.Join(dir, "s.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	l := NewLoader()
	p, diags := l.Load(path, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	config := p.Steps[0].Actions[0].(*plan.CreateObjects)
	services := p.Steps[0].Actions[1].(*plan.CreateObjects)
	if config.Kind != "ConfigMap" || config.APIVersion != "v1" || services.Kind != "Service" || plan.MinDuration(services) != 1800*time.Millisecond {
		t.Errorf("kinds %s %s %s %s, services take %s", config.APIVersion, config.Kind, services.APIVersion, services.Kind, plan.MinDuration(services))
	}
	c7, err := config.Template.Manifest(7)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"apiVersion":"v1","data":{"index":"i-7"},"kind":"ConfigMap","metadata":{"labels":{"kwok-run/wave":"config"},"name":"config-7","namespace":"load-3"}}`
	if got, _ := json.Marshal(c7); string(got) != want {
		t.Errorf("config 7:\n got %s\nwant %s", got, want)
	}
	s3, err := services.Template.Manifest(3)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"apiVersion":"v1","kind":"Service","metadata":{"labels":{"app":"web","kwok-run/wave":"services"},"name":"web-3"},"spec":{"ports":[{"port":80}],"selector":{"app":"web-3"}}}`
	if got, _ := json.Marshal(s3); string(got) != want {
		t.Errorf("service 3:\n got %s\nwant %s", got, want)
	}
	if _, isInt := s3["spec"].(map[string]any)["ports"].([]any)[0].(map[string]any)["port"].(int64); !isInt {
		t.Error("a port must stay an integer")
	}
	up := p.Steps[1].Actions[0].(*plan.UpdateObjects)
	patch, err := up.Patch.Manifest(4)
	if err != nil || patch["data"].(map[string]any)["touched"] != "yes-4" || up.Amount.Percent != 10 || up.For.D() != 3*time.Second {
		t.Errorf("update: %+v patch %v %v", up, patch, err)
	}
	if del := p.Steps[1].Actions[1].(*plan.DeleteObjects); del.Amount.Count != 5 || del.Name != "services" {
		t.Errorf("delete: %+v", del)
	}
	var out bytes.Buffer
	if err := p.WriteJSON(&out); err != nil || !strings.Contains(out.String(), `"name": "config-99"`) {
		t.Errorf("the plan's JSON shows the last copy: %v", err)
	}
}
