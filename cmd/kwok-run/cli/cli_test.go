package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/reports"
)

var update = flag.Bool("update", false, "rewrite golden files")

type result struct {
	code        int
	out, errOut string
}

func run(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), Streams{In: strings.NewReader(stdin), Out: &out, Err: &errOut}, args)
	return result{code, out.String(), errOut.String()}
}

func examples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../../examples/*.hcl")
	if err != nil || len(files) < 6 {
		t.Fatalf("want six or more examples, got %d (%v)", len(files), err)
	}
	return files
}

func TestValidateExamples(t *testing.T) {
	files := examples(t)
	r := run(t, "", append([]string{"validate"}, files...)...)
	if r.code != ExitOK || r.errOut != "" {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.errOut)
	}
	if got := strings.Count(r.out, ": valid\n"); got != len(files) {
		t.Errorf("%d of %d files reported valid:\n%s", got, len(files), r.out)
	}
}

// A broken copy of an example exits 2 with every error as file:line:col.
func TestValidateBrokenCopy(t *testing.T) {
	src, err := os.ReadFile("../../../examples/quickstart.hcl")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.NewReplacer(
		`rate = 50`, `rate = "fast"`,
		`timeout     = "5m"`, `timeout     = 5`,
		`pool = "workers"`, `pool = "worker"`,
		`metrics.pods_unscheduled`, `metrics.pod_unscheduled`,
		`kind      = "Deployment"`, `kind      = "Deploymnet"`,
	).Replace(string(src))
	path := filepath.Join(t.TempDir(), "broken.hcl")
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", "validate", path)
	if r.code != ExitUsage {
		t.Fatalf("exit %d, want %d", r.code, ExitUsage)
	}
	positions := regexp.MustCompile(regexp.QuoteMeta(path)+`:\d+:\d+: error: `).FindAllString(r.errOut, -1)
	for _, want := range []string{"Invalid rate", "Invalid duration", "Unknown node_pool", "Unknown metric", "Invalid kind"} {
		if !strings.Contains(r.errOut, want) {
			t.Errorf("missing %q in:\n%s", want, r.errOut)
		}
	}
	if len(positions) < 5 {
		t.Errorf("want every error with file:line:col, got %d:\n%s", len(positions), r.errOut)
	}
	if !strings.Contains(r.errOut, `Did you mean "workers"?`) || !strings.Contains(r.errOut, `Did you mean "pods_unscheduled"?`) {
		t.Errorf("want suggestions:\n%s", r.errOut)
	}
}

// TestValidateReportsWhatNeedsTrust: exec and files outside the scenario's
// directory are refused at load time, so validate and plan say so, and each
// is accepted with its flag.
func TestValidateReportsWhatNeedsTrust(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "shared")
	manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: default\n"
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "cm.yaml"), []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s.hcl")
	src := "scenario \"s\" {}\nstep \"s\" {\n  exec {\n    command = [\"true\"]\n  }\n  apply {\n    files = [\"../cm.yaml\"]\n  }\n}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"validate", "plan"} {
		r := run(t, "", cmd, path)
		if r.code != ExitUsage || !strings.Contains(r.errOut, path+":3:3: error: exec needs --allow-exec") ||
			!strings.Contains(r.errOut, path+":7:13: error: Manifest outside the scenario's directory") {
			t.Errorf("%s: exit %d, want %d and both refusals with their positions:\n%s", cmd, r.code, ExitUsage, r.errOut)
		}
		if r := run(t, "", cmd, "--allow-exec", "--allow-outside-files", path); r.code != ExitOK {
			t.Errorf("%s with both flags: exit %d:\n%s", cmd, r.code, r.errOut)
		}
	}
}

func TestPlanGolden(t *testing.T) {
	r := run(t, "", "plan", "../../../examples/quickstart.hcl")
	if r.code != ExitOK {
		t.Fatalf("exit %d:\n%s", r.code, r.errOut)
	}
	// The hash changes with every edit of the example; the rest should not.
	got := regexp.MustCompile(`sha256 [0-9a-f]+`).ReplaceAllString(r.out, "sha256 …")
	golden := "testdata/quickstart.plan.txt"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("plan output changed; if that is intended, run go test ./cmd/kwok-run/cli -run TestPlanGolden -update\ngot:\n%s", got)
	}
}

func TestPlanJSONWithSingleDashVars(t *testing.T) {
	r := run(t, "", "plan", "--json", "-var", "nodes=7", "-var=pods=20", "../../../examples/quickstart.hcl")
	if r.code != ExitOK {
		t.Fatalf("exit %d:\n%s", r.code, r.errOut)
	}
	var p struct {
		Pools []struct {
			Count int `json:"count"`
		} `json:"node_pools"`
		Steps []struct {
			Actions []map[string]any `json:"actions"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(r.out), &p); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.out)
	}
	if p.Pools[0].Count != 7 || p.Steps[1].Actions[0]["count"] != float64(20) {
		t.Errorf("-var did not reach the plan: %+v", p)
	}
}

func TestFmt(t *testing.T) {
	dir := t.TempDir()
	messy := filepath.Join(dir, "messy.hcl")
	if err := os.WriteFile(messy, []byte("scenario \"x\" {\nseed=1\n  timeout   =   \"1m\"\n}\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	clean := filepath.Join(dir, "clean.hcl")
	if err := os.WriteFile(clean, []byte("scenario \"x\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	r := run(t, "", "fmt", "-check", dir)
	if r.code != ExitFailed || strings.TrimSpace(r.out) != messy {
		t.Fatalf("fmt -check: exit %d, out %q", r.code, r.out)
	}
	r = run(t, "", "fmt", dir)
	if r.code != ExitOK || strings.TrimSpace(r.out) != messy {
		t.Fatalf("fmt: exit %d, out %q, err %q", r.code, r.out, r.errOut)
	}
	got, _ := os.ReadFile(messy)
	if string(got) != "scenario \"x\" {\n  seed    = 1\n  timeout = \"1m\"\n}\n" {
		t.Errorf("formatted:\n%s", got)
	}
	if info, _ := os.Stat(messy); info.Mode().Perm() != 0o640 {
		t.Errorf("fmt changed the file mode to %v", info.Mode().Perm())
	}
	if r := run(t, "", "fmt", "-check", dir); r.code != ExitOK {
		t.Errorf("after fmt, -check exits %d", r.code)
	}

	r = run(t, "scenario \"y\" {\nseed=2\n}\n", "fmt", "-")
	if r.code != ExitOK || r.out != "scenario \"y\" {\n  seed = 2\n}\n" {
		t.Errorf("fmt - : exit %d, out %q", r.code, r.out)
	}

	broken := filepath.Join(dir, "broken.hcl")
	if err := os.WriteFile(broken, []byte("scenario \"x\" {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "", "fmt", broken); r.code != ExitUsage || !strings.Contains(r.errOut, broken+":") {
		t.Errorf("fmt of a broken file: exit %d, err %q", r.code, r.errOut)
	}
	if b, _ := os.ReadFile(broken); string(b) != "scenario \"x\" {\n" {
		t.Error("fmt must not touch a file it cannot parse")
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"validate"},
		{"plan", "a.hcl", "b.hcl"},
		{"validate", "--no-such-flag", "x.hcl"},
		{"validate", "/nonexistent/scenario.hcl"},
	} {
		if r := run(t, "", args...); r.code != ExitUsage || r.errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want %d and a message", args, r.code, r.errOut, ExitUsage)
		}
	}
}

func TestVersion(t *testing.T) {
	r := run(t, "", "version")
	if r.code != ExitOK || !strings.HasPrefix(r.out, "kwok-run ") || !strings.Contains(r.out, "kubernetes v1.37.2") {
		t.Errorf("version: exit %d, out %q", r.code, r.out)
	}
}

// up leaves a working cluster behind and prints how to reach it; down
// removes it and everything it put on the machine.
func TestUpAndDown(t *testing.T) {
	binariestest.Cached(t)
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	t.Setenv(binaries.EnvSources, "cache")

	r := run(t, "", "up", "--name", "cli-test", "../../../examples/quickstart.hcl")
	if r.code != ExitOK {
		t.Fatalf("up: exit %d\n%s", r.code, r.errOut)
	}
	kubeconfig, ok := strings.CutPrefix(strings.TrimSpace(r.out), "export KUBECONFIG=")
	if !ok {
		t.Fatalf("up should print export KUBECONFIG=..., got %q", r.out)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "kube-system", metav1.GetOptions{}); err != nil {
		t.Fatalf("the cluster does not answer: %v", err)
	}
	if r := run(t, "", "up", "--name", "cli-test"); r.code != ExitInfrastructure || !strings.Contains(r.errOut, "already registered") {
		t.Errorf("a second up with the same name: exit %d, %s", r.code, r.errOut)
	}
	if r := run(t, "", "down", "no-such-cluster"); r.code != ExitUsage || !strings.Contains(r.errOut, "up: cli-test") {
		t.Errorf("down of an unknown cluster: exit %d, %s", r.code, r.errOut)
	}
	if r := run(t, "", "down"); r.code != ExitOK || strings.TrimSpace(r.out) != "removed cli-test" {
		t.Fatalf("down: exit %d, out %q, err %s", r.code, r.out, r.errOut)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "kube-system", metav1.GetOptions{}); err == nil {
		t.Error("the cluster still answers after down")
	}
	if _, err := os.Stat(filepath.Dir(kubeconfig)); !os.IsNotExist(err) {
		t.Errorf("the cluster's directory is left: %v", err)
	}
	if r := run(t, "", "down"); r.code != ExitOK || !strings.Contains(r.errOut, "no clusters") {
		t.Errorf("down with nothing up: exit %d, %s", r.code, r.errOut)
	}
}

// down --all removes what a kwok-run that died left, and leaves the clusters
// of kwok-runs still running alone.
func TestDownAllFindsOrphans(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	reg, err := registry.Default()
	if err != nil {
		t.Fatal(err)
	}
	// An orphan: its owner is a process that has exited, and one of its
	// components still runs.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	leftover := exec.Command("sleep", "60")
	leftover.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := leftover.Start(); err != nil {
		t.Fatal(err)
	}
	go leftover.Wait()
	start, err := registry.StartTime(leftover.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	orphan := &registry.Entry{
		Name: "orphan", Backend: "local", DataDir: data,
		Owner:     registry.Process{Name: "kwok-run", PID: dead.Process.Pid, Start: 1},
		Processes: []registry.Process{{Name: "etcd", PID: leftover.Process.Pid, Start: start}},
	}
	self, _ := registry.Self()
	live := &registry.Entry{Name: "live", Backend: "local", Owner: self}
	for _, e := range []*registry.Entry{orphan, live} {
		if err := reg.Save(e); err != nil {
			t.Fatal(err)
		}
	}

	r := run(t, "", "down", "--all")
	if r.code != ExitOK || !strings.Contains(r.out, "removed orphan") || !strings.Contains(r.errOut, "leaving live") {
		t.Fatalf("down --all: exit %d, out %q, err %q", r.code, r.out, r.errOut)
	}
	if (registry.Process{PID: leftover.Process.Pid, Start: start}).Alive() && !zombie(leftover.Process.Pid) {
		t.Error("the orphan's process still runs")
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Error("the orphan's data is left")
	}
	if _, err := reg.Get("live"); err != nil {
		t.Error("the cluster of a running kwok-run was removed")
	}
}

func zombie(pid int) bool {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}

// kwok-run FILE runs the scenario, prints the summary, tears the cluster
// down, and writes the results: report, renderings, raw stamps and logs.
func TestRunQuickstart(t *testing.T) {
	binariestest.Cached(t)
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv(binaries.EnvSources, "cache")
	out := filepath.Join(t.TempDir(), "results")
	r := run(t, "", "../../../examples/quickstart.hcl", "--out", out, "-var", "pods=20")
	if r.code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.errOut)
	}
	for _, want := range []string{"quickstart: passed", "created 10 of 10 nodes of workers", "pods_running: 20 of 20", "scale-down",
		"pod_startup_latency", "✓  pods start within 5s at p99", "results in " + out} {
		if !strings.Contains(r.out, want) {
			t.Errorf("the summary lacks %q:\n%s", want, r.out)
		}
	}
	for _, f := range []string{"logs/apiserver.log", "report.json", "summary.md", "report.html", "junit.xml", "events.jsonl"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s is not in the results: %v", f, err)
		}
	}
	rep, err := reports.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome.Status != reports.Passed || rep.Metrics["pods_created"] != 20 || rep.Metrics["nodes_ready"] != 10 {
		t.Errorf("report: outcome %+v, pods created %v, nodes ready %v", rep.Outcome, rep.Metrics["pods_created"], rep.Metrics["nodes_ready"])
	}
	if rep.Scenario.Source == "" || len(rep.Cluster.Components) != 5 || rep.Cluster.Components[1].SHA256 == "" {
		t.Errorf("the report cannot reproduce the run: source %d bytes, components %+v", len(rep.Scenario.Source), rep.Cluster.Components)
	}
	events, _ := os.ReadFile(filepath.Join(out, "events.jsonl"))
	if n := strings.Count(string(events), `"kind":"pod"`); n != 20 {
		t.Errorf("events.jsonl holds %d pods, want 20", n)
	}
	assertNoSecrets(t, out)
	reg, _ := registry.Default()
	if entries, _ := reg.List(); len(entries) != 0 {
		t.Errorf("the cluster is still registered after the run: %v", entries[0].Name)
	}
}

// assertNoSecrets checks that no file of a results directory, which CI
// jobs upload, holds a private key, a kubeconfig's key or a bearer token
// (a JWT).
func assertNoSecrets(t *testing.T, dir string) {
	t.Helper()
	secret := regexp.MustCompile(`PRIVATE KEY|client-key-data|eyJhbGciOi|(?i)bearer [a-z0-9._-]{20,}`)
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if m := secret.Find(raw); m != nil {
			t.Errorf("%s holds a secret: %q", path, m)
		}
		return nil
	})
	if err != nil || files < 5 {
		t.Fatalf("read %d files of %s: %v", files, dir, err)
	}
}

func TestRunExitCodes(t *testing.T) {
	binariestest.Cached(t)
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv(binaries.EnvSources, "cache")
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withExec := write("exec.hcl", "scenario \"e\" {}\nstep \"s\" {\n  exec {\n    command = [\"true\"]\n  }\n}\n")
	if r := run(t, "", "run", withExec, "--out", filepath.Join(dir, "r1")); r.code != ExitUsage || !strings.Contains(r.errOut, "exec needs --allow-exec") {
		t.Errorf("exec without --allow-exec: exit %d, %s", r.code, r.errOut)
	}
	if r := run(t, "", "run", withExec, "--allow-exec", "--out", filepath.Join(dir, "r2")); r.code != ExitOK {
		t.Errorf("exec with --allow-exec: exit %d, %s", r.code, r.errOut)
	}
	stuck := write("stuck.hcl", "scenario \"s\" {}\nstep \"s\" {\n  wait \"pods_running\" {\n    namespace = \"none\"\n    timeout   = \"1s\"\n  }\n}\nstep \"never\" {\n  sleep {\n    duration = \"1s\"\n  }\n}\n")
	r := run(t, "", stuck, "--out", filepath.Join(dir, "r3"))
	if r.code != ExitFailed || !strings.Contains(r.out, "failed") || !strings.Contains(r.out, "timed out") {
		t.Errorf("a wait that times out: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	if rep, err := reports.Read(filepath.Join(dir, "r3")); err != nil || rep.Outcome.StoppedIn != "s" || rep.Steps[1].Status != reports.StepNotRun {
		t.Errorf("the report of a failed step should say where it stopped: %v %+v", err, rep)
	}
	// A run whose steps succeed but whose assertions do not: exit 1, the
	// failed one and the one that could not be evaluated both named.
	slow := write("assert.hcl", `scenario "a" {}
node_pool "n" {
  count = 2
}
step "nodes" {
  create_nodes {
    pool = "n"
  }
  wait "nodes_ready" {
    pool = "n"
  }
}
assert "impossible" {
  condition = metrics.node_ready_latency.max < 0
}
assert "jobs" {
  condition = metrics.job_completion_latency.p50 < 10
}
assert "only a warning" {
  condition = metrics.nodes_created > 100
  severity  = "warning"
}
`)
	r = run(t, "", slow, "--out", filepath.Join(dir, "r4"))
	if r.code != ExitFailed || !strings.Contains(r.out, "2 assertion(s) failed: impossible, jobs") {
		t.Errorf("failed assertions: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	rep, err := reports.Read(filepath.Join(dir, "r4"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range rep.Assertions {
		if a.Name == "jobs" && (a.Evaluated || !strings.Contains(a.Message, "not measured")) {
			t.Errorf("an assertion on a metric without samples: %+v", a)
		}
	}
	junit, _ := os.ReadFile(filepath.Join(dir, "r4", "junit.xml"))
	if !strings.Contains(string(junit), `failures="2"`) {
		t.Errorf("junit.xml should count two failures:\n%s", junit)
	}
}

// No scenario that the loader rejects reaches an apiserver: run against a
// stand-in apiserver that counts requests, every broken fixture exits 2
// without a single one.
func TestRejectedScenariosReachNoAPIServer(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "not an apiserver", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	kc := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: %q}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n", srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../../../scenario/testdata/invalid/*.hcl")
	if err != nil || len(files) < 10 {
		t.Fatalf("%d invalid fixtures (%v)", len(files), err)
	}
	bomb := filepath.Join(dir, "bomb.hcl")
	if err := os.WriteFile(bomb, []byte(`scenario "bomb" {
  description = jsonencode([for i in range(1000): [for j in range(1000): [for k in range(1000): k]]])
}
step "s" {
  sleep {
    duration = "1s"
  }
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, bomb) {
		r := run(t, "", "run", "--kubeconfig", kubeconfig, "--out", filepath.Join(dir, "out-"+filepath.Base(f)), f)
		if r.code != ExitUsage || !strings.Contains(r.errOut, "error:") {
			t.Errorf("%s: exit %d, want %d with its errors:\n%s", f, r.code, ExitUsage, r.errOut)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("rejected scenarios sent %d requests to the apiserver", n)
	}
	// The stand-in is one a valid scenario does reach.
	if r := run(t, "", "run", "--kubeconfig", kubeconfig, "--out", filepath.Join(dir, "valid"), "../../../examples/quickstart.hcl"); r.code == ExitOK || requests.Load() == 0 {
		t.Errorf("a valid scenario: exit %d after %d requests", r.code, requests.Load())
	}
}
