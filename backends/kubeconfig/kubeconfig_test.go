package kubeconfig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/bootstrap"
	"github.com/kwok-run/kwok-run/backends/components"
	"github.com/kwok-run/kwok-run/backends/local"
	"github.com/kwok-run/kwok-run/backends/pki"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/runner"
	"github.com/kwok-run/kwok-run/runner/measure"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
	"github.com/kwok-run/kwok-run/scenario/stages"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// The acceptance test: the node-churn example, small, played by the
// existing-cluster backend against a cluster the local backend brought up
// without KWOK; then nothing of the run is left in the cluster or on the
// machine.
func TestNodeChurnAgainstAnExistingCluster(t *testing.T) {
	begin := time.Now()
	bins := binariestest.Cached(t)
	ctx := context.Background()
	reg := &registry.Registry{Dir: t.TempDir()}
	dir := t.TempDir()

	existing := scenario.DefaultCluster()
	for i := range existing.Components {
		if existing.Components[i].Name == plan.Kwok {
			existing.Components[i].Enabled = false
		}
	}
	lc, err := local.Up(ctx, backends.Spec{Cluster: existing}, local.Options{
		Name: "existing", RunDir: filepath.Join(dir, "existing"), Binaries: bins, Registry: reg,
		Log: testWriter{t}, StartTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lc.Down(context.Background()) })
	if entry, err := reg.Get("existing"); err != nil || len(entry.Processes) != 4 {
		t.Fatalf("the cluster without KWOK: %v, %+v", err, entry)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", lc.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	if crdExists(t, dyn) {
		t.Fatal("the cluster without KWOK has KWOK's Stage CRD already")
	}

	l := scenario.NewLoader()
	p, diags := l.Load("../../examples/node-churn.hcl", scenario.Options{Vars: []scenario.VarArg{
		{Value: "nodes=50"}, {Value: "churn_percent=20"}, {Value: "churn_for=1m"},
	}})
	if diags.HasErrors() {
		var b bytes.Buffer
		l.WriteDiagnostics(&b, diags)
		t.Fatalf("the example does not load:\n%s", b.String())
	}
	p.Cluster.Backend = plan.BackendKubeconfig
	c, err := Up(ctx, backends.SpecOf(p), Options{
		Name: "node-churn", RunDir: filepath.Join(dir, "run"), Kubeconfig: lc.Kubeconfig(),
		Binaries: bins, Registry: reg, Log: testWriter{t}, StartTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Down(context.Background()) })
	entry, err := reg.Get("node-churn")
	if err != nil || entry.Backend != plan.BackendKubeconfig || len(entry.Processes) != 1 {
		t.Fatalf("the KWOK controller is not registered: %v, %+v", err, entry)
	}
	if !crdExists(t, dyn) {
		t.Fatal("Up did not install KWOK's Stage CRD")
	}
	var endpoints []string
	for _, e := range c.Endpoints() {
		endpoints = append(endpoints, e.Component)
	}
	if !slices.Equal(endpoints, []string{plan.APIServer, plan.Kwok}) {
		t.Errorf("endpoints %v, want the apiserver (a client certificate) and KWOK", endpoints)
	}

	seen := watchNodes(t, cs)
	var log bytes.Buffer
	res, err := runner.Run(ctx, p, runner.Options{
		Cluster: c, RunDir: filepath.Join(dir, "run"), Cleanup: true,
		Log: io.MultiWriter(testWriter{t}, &log),
	})
	if err != nil {
		for _, s := range res.Steps {
			for _, a := range s.Actions {
				t.Logf("%s %s: %s (errors %v, err %v)", s.Name, a.Kind, a.Summary, a.Errors, a.Err)
			}
		}
		t.Fatalf("the run failed: %v", err)
	}
	report := measure.Report(p, res, c.Components(), "test")
	for _, a := range report.Assertions {
		if !a.Evaluated || !a.Passed {
			t.Errorf("assertion %q: evaluated %v, passed %v: %s", a.Name, a.Evaluated, a.Passed, a.Message)
		}
	}
	if len(report.Assertions) != len(p.Assertions) || len(p.Assertions) == 0 {
		t.Errorf("%d verdicts for %d assertions", len(report.Assertions), len(p.Assertions))
	}
	for _, m := range []string{"component_cpu_seconds.kwok", "component_rss_peak_bytes.kwok", "component_cpu_seconds.apiserver"} {
		if _, ok := report.Metrics[m]; !ok {
			t.Errorf("%s was not measured: the scraper did not read that endpoint", m)
		}
	}
	nodes := seen()
	pool := p.Pool("workers")
	ready := 0
	for name, n := range nodes {
		if want := pool.Shard(n.index); n.shard != want {
			t.Errorf("node %s carried shard %q, want %q", name, n.shard, want)
		}
		if n.ready {
			ready++
		}
	}
	// 50 at first, then a fifth of them replaced every 30 s for a minute.
	if len(nodes) < 60 || ready != len(nodes) {
		t.Errorf("%d nodes seen, %d of them made Ready by the backend's KWOK; want at least 60, all Ready", len(nodes), ready)
	}
	if !strings.Contains(log.String(), "cleanup: deleted") || !strings.Contains(log.String(), "namespace churn") {
		t.Errorf("the log does not say what cleanup deleted:\n%s", log.String())
	}

	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if left, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: runner.PoolLabel}); err != nil || len(left.Items) > 0 {
		t.Errorf("nodes of the run left: %v %v", err, left)
	}
	if left, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "kwok-run/probe"}); err != nil || len(left.Items) > 0 {
		t.Errorf("probe nodes left: %v %v", err, left)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "churn", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the namespace the run created is still there: %v", err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("the default namespace is gone: %v", err)
	}
	if crdExists(t, dyn) {
		t.Error("KWOK's Stage CRD, which kwok-run created, is still there")
	}
	for _, p := range entry.Processes {
		if p.Alive() && !zombie(p.PID) {
			t.Errorf("%s (pid %d) still runs", p.Name, p.PID)
		}
	}
	if _, err := reg.Get("node-churn"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the registry entry is left: %v", err)
	}
	if err := c.Down(ctx); err != nil {
		t.Errorf("a second Down should be a no-op: %v", err)
	}
	t.Logf("the existing cluster, the run and the teardown took %s", time.Since(begin).Round(time.Second))
}

func crdExists(t *testing.T, dyn dynamic.Interface) bool {
	t.Helper()
	_, err := dyn.Resource(crdResource).Get(context.Background(), stageCRD, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

type seenNode struct {
	index int
	shard string
	ready bool
}

// watchNodes polls the run's nodes until the test ends; seen returns every
// node observed, with its shard label and whether it was ever Ready.
func watchNodes(t *testing.T, cs kubernetes.Interface) (seen func() map[string]seenNode) {
	var mu sync.Mutex
	nodes := map[string]seenNode{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
	})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: runner.PoolLabel + "=workers"})
			if err == nil {
				mu.Lock()
				for _, n := range list.Items {
					var index int
					fmt.Sscanf(strings.TrimPrefix(n.Name, "workers-"), "%d", &index)
					s := nodes[n.Name]
					s.index, s.shard = index, n.Labels[plan.ShardLabel]
					s.ready = s.ready || bootstrap.Ready(&n)
					nodes[n.Name] = s
				}
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return func() map[string]seenNode {
		mu.Lock()
		defer mu.Unlock()
		out := make(map[string]seenNode, len(nodes))
		for k, v := range nodes {
			out[k] = v
		}
		return out
	}
}

func zombie(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}

// Each pool gets a controller per thousand nodes, each managing its shard
// alone at its pool's lease duration, with the scenario's KWOK settings.
func TestControllersShardPools(t *testing.T) {
	files, err := pki.Generate(t.TempDir(), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	spec := backends.Spec{Cluster: scenario.DefaultCluster(), Pools: []plan.NodePool{{Name: "workers", Count: 2500}, {Name: "gpu", Count: 10, LeaseDuration: plan.Duration(2 * time.Minute)}}}
	for i := range spec.Cluster.Components {
		if spec.Cluster.Components[i].Name == plan.Kwok {
			spec.Cluster.Components[i].Args = map[string]string{"v": "4"}
		}
	}
	procs, err := controllers(spec, files, "/kubeconfig", "/kwok.yaml", "/bin/kwok", "/logs")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ports := map[string]bool{}
	for _, p := range procs {
		names = append(names, p.Spec.Name)
		args := strings.Join(p.Spec.Args, " ")
		shard := strings.TrimPrefix(p.Spec.Name, "kwok/")
		if !strings.Contains(args, "--manage-nodes-with-label-selector=kwok-run/shard="+shard) || strings.Contains(args, "--manage-all-nodes") {
			t.Errorf("%s: %s", p.Spec.Name, args)
		}
		if !strings.Contains(args, "--v=4") || !strings.Contains(args, "--kubeconfig=/kubeconfig") {
			t.Errorf("%s lacks the scenario's or the cluster's flags: %s", p.Spec.Name, args)
		}
		lease := "--node-lease-duration-seconds=40"
		if shard == "gpu-0" {
			lease = "--node-lease-duration-seconds=120"
		}
		if !strings.Contains(args, lease) {
			t.Errorf("%s renews not at its pool's lease (%s): %s", p.Spec.Name, lease, args)
		}
		if p.LogPath != "/logs/kwok-"+shard+".log" {
			t.Errorf("%s logs to %s", p.Spec.Name, p.LogPath)
		}
		ports[p.Spec.MetricsURL] = true
	}
	want := []string{"kwok/workers-0", "kwok/workers-1", "kwok/workers-2", "kwok/gpu-0"}
	if !slices.Equal(names, want) || len(ports) != len(want) {
		t.Errorf("controllers %v on %d ports, want %v on as many", names, len(ports), want)
	}
}

// A kubeconfig that is missing, or whose cluster does not answer, is named in
// the error, with the server.
func TestUpSaysWhichClusterIsMissing(t *testing.T) {
	opts := Options{Name: "t", RunDir: t.TempDir(), Registry: &registry.Registry{Dir: t.TempDir()}}
	spec := backends.Spec{Cluster: scenario.DefaultCluster()}
	if _, err := Up(context.Background(), spec, opts); err == nil || !strings.Contains(err.Error(), "--kubeconfig") {
		t.Errorf("no kubeconfig: %v", err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	files, err := pki.Generate(t.TempDir(), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := files.WriteKubeconfig(path, "https://127.0.0.1:1", "gone"); err != nil {
		t.Fatal(err)
	}
	spec.Cluster.Kubeconfig = path
	_, err = Up(context.Background(), spec, opts)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "https://127.0.0.1:1") {
		t.Errorf("a cluster that does not answer: %v", err)
	}
}

// In a cluster that had KWOK's Stage CRD, Down deletes kwok-run's stages
// that were not there before, and nothing else.
func TestDownKeepsTheStagesItFound(t *testing.T) {
	stage := func(name string, labels map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(kwokv1alpha1.GroupVersion.String())
		u.SetKind(kwokv1alpha1.StageKind)
		u.SetName(name)
		u.SetLabels(labels)
		return u
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{stageResource: "StageList"},
		stage("node-initialize", map[string]string{components.NodeStagesLabel: "true"}),
		stage("pod-ready", map[string]string{stages.LifecycleLabel: "kwok-default"}),
		stage("pod-slow", map[string]string{stages.LifecycleLabel: "slow"}),
		stage("theirs", nil),
	)
	c := &Cluster{dyn: dyn, preexisting: map[string]bool{"pod-ready": true, "theirs": true}}
	if err := c.uninstall(context.Background()); err != nil {
		t.Fatal(err)
	}
	list, err := dyn.Resource(stageResource).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, s := range list.Items {
		left = append(left, s.GetName())
	}
	slices.Sort(left)
	if !slices.Equal(left, []string{"pod-ready", "theirs"}) {
		t.Errorf("stages left %v, want those that were there before", left)
	}
}
