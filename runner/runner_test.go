package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/local"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/runner/observe"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

type played struct {
	res *Result
	err error
	cs  kubernetes.Interface
	dyn dynamic.Interface
	dir string
}

// play loads src (with files beside it), brings a fresh local cluster up,
// runs the scenario and leaves the cluster up for assertions until the test
// ends.
func play(t *testing.T, src string, files map[string]string, opts scenario.Options) *played {
	t.Helper()
	r := binariestest.Cached(t)
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "scenario.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	l := scenario.NewLoader()
	p, diags := l.Load(path, opts)
	if diags.HasErrors() {
		var b bytes.Buffer
		l.WriteDiagnostics(&b, diags)
		t.Fatalf("scenario:\n%s", b.String())
	}
	c, err := local.Up(context.Background(), backends.SpecOf(p), local.Options{
		Name: "runner-test", RunDir: filepath.Join(dir, "run"),
		Binaries: r, Registry: &registry.Registry{Dir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Down(context.Background()) })
	res, err := Run(context.Background(), p, Options{Cluster: c, RunDir: filepath.Join(dir, "run")})
	cfg, cerr := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if cerr != nil {
		t.Fatal(cerr)
	}
	return &played{res: res, err: err, cs: kubernetes.NewForConfigOrDie(cfg), dyn: dynamic.NewForConfigOrDie(cfg), dir: dir}
}

func (p *played) mustSucceed(t *testing.T) {
	t.Helper()
	if p.err != nil {
		for _, s := range p.res.Steps {
			for _, a := range s.Actions {
				t.Logf("%s %s: %s (errors %v, err %v)", s.Name, a.Kind, a.Summary, a.Errors, a.Err)
			}
		}
		t.Fatalf("run failed: %v", p.err)
	}
}

func nodes(t *testing.T, cs kubernetes.Interface, sel string) map[string]corev1.Node {
	t.Helper()
	list, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]corev1.Node{}
	for _, n := range list.Items {
		out[n.Name] = n
	}
	return out
}

const nodeScenario = `
scenario "nodes" {
  seed    = 7
  timeout = "3m"
}

node_pool "gpu" {
  count    = 10
  capacity = { cpu = "8", "nvidia.com/gpu" = count.index < 2 ? 4 : 0 }
  labels = {
    "topology.kubernetes.io/zone" = "zone-${count.index % 2}"
  }
  taint {
    key    = "dedicated"
    value  = "gpu-${count.index}"
    effect = "NoSchedule"
  }
}

step "first-half" {
  create_nodes {
    pool  = "gpu"
    count = 6
    rate  = 50
  }
}

step "second-half" {
  create_nodes {
    pool = "gpu"
  }
  wait "nodes_ready" {
    pool    = "gpu"
    timeout = "1m"
  }
}

step "churn" {
  churn_nodes {
    pool     = "gpu"
    percent  = 20
    every    = "1s"
    duration = "2s"
    mode     = "replace"
  }
}

step "flap" {
  churn_nodes {
    pool          = "gpu"
    count         = 3
    every         = "2s"
    duration      = "2s"
    mode          = "not-ready"
    recover_after = "4s"
  }
}

step "shrink" {
  delete_nodes {
    pool  = "gpu"
    count = 2
  }
  wait "nodes_ready" {
    pool    = "gpu"
    timeout = "1m"
  }
}
`

func TestNodeActions(t *testing.T) {
	p := play(t, nodeScenario, nil, scenario.Options{})
	p.mustSucceed(t)
	got := nodes(t, p.cs, PoolLabel+"=gpu")
	if len(got) != 8 {
		t.Fatalf("want 10 created, 2 deleted = 8 nodes, got %d", len(got))
	}
	var replacements int
	for name, n := range got {
		if strings.Contains(name, "-r") {
			replacements++
		}
		if !nodeReady(&n) {
			t.Errorf("%s is not Ready after the recoveries", name)
		}
		if _, ok := n.Labels["kwok-run/not-ready"]; ok {
			t.Errorf("%s still carries the not-ready label", name)
		}
	}
	if replacements == 0 {
		t.Error("replace churn made no replacement nodes")
	}
	// Rounds at 0s and 1s, and the churn lasts its 2s all the same.
	for _, s := range p.res.Steps {
		if s.Name == "churn" && s.End.Sub(s.Start) < 2*time.Second {
			t.Errorf("the churn step lasted %s, shorter than its churn's duration of 2s", s.End.Sub(s.Start))
		}
	}
	// Templated per node: node 1 keeps its index-derived values whatever its
	// name after a replacement.
	for name, n := range got {
		if name != "gpu-1" && !strings.HasPrefix(name, "gpu-1-r") {
			continue
		}
		if n.Labels["topology.kubernetes.io/zone"] != "zone-1" || n.Spec.Taints[0].Value != "gpu-1" {
			t.Errorf("%s: labels %v taints %v", name, n.Labels, n.Spec.Taints)
		}
		if q := n.Status.Capacity["nvidia.com/gpu"]; q.Value() != 4 {
			t.Errorf("%s: gpu capacity %v", name, q.String())
		}
	}
	var ops []string
	for _, op := range p.res.Operations {
		if strings.Contains(op, "not-ready node") {
			ops = append(ops, op)
		}
	}
	if len(ops) != 3 {
		t.Errorf("want 3 nodes made NotReady, log says %v", ops)
	}
}

const podScenario = `
scenario "pods" {
  timeout = "3m"
}

node_pool "workers" {
  count  = 6
  labels = { "topology.kubernetes.io/zone" = "zone-${count.index % 3}" }
}

pod_lifecycle "default" {
  ready_after = "200ms"
}

pod_lifecycle "batch" {
  ready_after    = "100ms"
  complete_after = "1s"
}

step "nodes" {
  create_nodes {
    pool = "workers"
  }
  wait "nodes_ready" {
    pool = "workers"
  }
}

step "workloads" {
  create_pods "bare" {
    namespace = "a"
    count     = 6
    rate      = 20
    labels    = { shard = "s${count.index % 2}" }
    toleration {
      key      = "dedicated"
      operator = "Exists"
    }
    topology_spread {
      topology_key = "topology.kubernetes.io/zone"
    }
  }
  create_pods "web" {
    namespace = "b"
    kind      = "Deployment"
    count     = 10
    replicas  = 4
    requests  = { cpu = "100m" }
  }
  create_pods "db" {
    namespace = "b"
    kind      = "StatefulSet"
    count     = 3
  }
}

step "running" {
  wait "pods_running" {
    wave    = "bare"
    timeout = "1m"
  }
  wait "deployments_available" {
    wave    = "web"
    timeout = "1m"
  }
  wait "pods_running" {
    wave    = "db"
    timeout = "1m"
  }
}

step "jobs" {
  pod_lifecycle = "batch"
  create_pods "etl" {
    namespace = "c"
    kind      = "Job"
    count     = 6
    replicas  = 3
  }
}

step "jobs-done" {
  wait "jobs_complete" {
    wave    = "etl"
    timeout = "1m"
  }
}

step "change" {
  scale_pods "web" {
    count = 2
  }
  delete_pods {
    wave    = "bare"
    percent = 50
  }
}

step "settled" {
  wait "deployments_available" {
    wave    = "web"
    timeout = "1m"
  }
  wait "pods_deleted" {
    namespace = "a"
    selector  = { shard = "nonexistent" }
  }
}
`

func TestPodActions(t *testing.T) {
	p := play(t, podScenario, nil, scenario.Options{})
	p.mustSucceed(t)
	ctx := context.Background()

	bare, err := p.cs.CoreV1().Pods("a").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var live int
	for _, pod := range bare.Items {
		if pod.DeletionTimestamp == nil {
			live++
		}
		if len(pod.Spec.Tolerations) == 0 || len(pod.Spec.TopologySpreadConstraints) == 0 || pod.Labels[scenario.WaveLabel] != "bare" {
			t.Errorf("%s lacks what the wave asked for: %+v", pod.Name, pod.Spec)
		}
	}
	if live != 3 {
		t.Errorf("want 3 of 6 bare pods left after deleting half, got %d", live)
	}
	if pod, err := p.cs.CoreV1().Pods("a").Get(ctx, "bare-3", metav1.GetOptions{}); err == nil && pod.Labels["shard"] != "s1" {
		t.Errorf("bare-3 should carry shard=s1 (count.index 3), got %v", pod.Labels)
	}

	deps, err := p.cs.AppsV1().Deployments("b").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var replicas int32
	for _, d := range deps.Items {
		replicas += *d.Spec.Replicas
	}
	if len(deps.Items) != 3 || replicas != 2 {
		t.Errorf("web: want 3 Deployments scaled to 2 pods in all, got %d with %d", len(deps.Items), replicas)
	}
	db, err := p.cs.CoreV1().Pods("b").Get(ctx, "db-0-2", metav1.GetOptions{})
	if err != nil || db.Status.Phase != corev1.PodRunning {
		t.Errorf("StatefulSet pod db-0-2: %v", err)
	}
	jobs, err := p.cs.BatchV1().Jobs("c").List(ctx, metav1.ListOptions{})
	if err != nil || len(jobs.Items) != 2 || jobs.Items[0].Status.Succeeded != 3 {
		t.Errorf("want 2 Jobs of 3 succeeded pods: %v %+v", err, jobs.Items)
	}

	// The batch lifecycle replaced the default one in the cluster.
	stages, err := p.dyn.Resource(schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "stages"}).
		List(ctx, metav1.ListOptions{LabelSelector: "kwok-run/pod-lifecycle"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stages.Items {
		if s.GetLabels()["kwok-run/pod-lifecycle"] != "batch" {
			t.Errorf("stage %s of lifecycle %s left after the switch", s.GetName(), s.GetLabels()["kwok-run/pod-lifecycle"])
		}
	}
	if len(stages.Items) != 3 {
		t.Errorf("want the batch lifecycle's 3 pod stages, got %d", len(stages.Items))
	}
}

const applyScenario = `
variable "greeting" {
  default = "hello"
}

scenario "apply" {
  timeout = "2m"
}

step "define" {
  apply {
    files = ["crd.yaml"]
  }
}

step "use" {
  apply {
    files = ["objects.yaml"]
  }
  wait "objects" {
    api_version = "example.com/v1"
    kind        = "Widget"
    namespace   = "default"
    count       = 2
    timeout     = "30s"
  }
  exec {
    command = ["sh", "-c", "echo $GREETING from $KUBECONFIG > out.txt"]
    env     = { GREETING = "hi" }
  }
  exec {
    command    = ["sleep", "600"]
    background = true
  }
}

step "faults" {
  restart_component {
    component = "apiserver"
    signal    = "KILL"
  }
  wait "objects" {
    kind      = "ConfigMap"
    namespace = "default"
    count     = 2
    timeout   = "30s"
  }
}

step "undo" {
  apply {
    files  = ["objects.yaml"]
    delete = true
  }
}
`

const crdYAML = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

const objectsYAML = `apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: default}
spec: {size: 1}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w2, namespace: default}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: greeting, namespace: default}
data: {text: "${var.greeting}"}
`

func TestApplyExecAndRestart(t *testing.T) {
	p := play(t, applyScenario, map[string]string{"crd.yaml": crdYAML, "objects.yaml": objectsYAML}, scenario.Options{AllowExec: true})
	p.mustSucceed(t)
	ctx := context.Background()
	if _, err := p.cs.CoreV1().ConfigMaps("default").Get(ctx, "greeting", metav1.GetOptions{}); err == nil {
		t.Error("the ConfigMap survived the delete step")
	}
	widgets, err := p.dyn.Resource(schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}).Namespace("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(widgets.Items) != 0 {
		t.Errorf("widgets left after delete: %v %d", err, len(widgets.Items))
	}
	out, err := os.ReadFile(filepath.Join(p.dir, "out.txt"))
	if err != nil || !strings.HasPrefix(string(out), "hi from ") || !strings.Contains(string(out), "kubeconfig") {
		t.Errorf("exec output: %q %v", out, err)
	}
	var restarted bool
	for _, s := range p.res.Steps {
		for _, a := range s.Actions {
			if a.Kind == "restart_component" && strings.Contains(a.Summary, "healthy") {
				restarted = true
			}
		}
	}
	if !restarted {
		t.Error("no healthy apiserver restart reported")
	}
	if out, _ := osexec.Command("pgrep", "-f", "^sleep 600$").Output(); len(out) > 0 {
		t.Errorf("the background command outlived the run: %s", out)
	}
}

func TestFailedWaitStopsTheRun(t *testing.T) {
	p := play(t, `
scenario "stuck" {}
node_pool "p" {
  count = 1
}
step "nodes" {
  create_nodes {
    pool = "p"
  }
}
step "pending" {
  create_pods "nowhere" {
    count         = 2
    node_selector = { disk = "ssd" }
  }
  wait "pods_running" {
    wave    = "nowhere"
    timeout = "2s"
  }
}
step "never" {
  sleep {
    duration = "1s"
  }
}
`, nil, scenario.Options{})
	if !errors.Is(p.err, ErrStepFailed) || errors.Is(p.err, ErrInfrastructure) {
		t.Fatalf("want a failed step, got %v", p.err)
	}
	if !strings.Contains(p.err.Error(), "0 of 2") || !strings.Contains(p.err.Error(), "2 Pending") {
		t.Errorf("the failure should say what was missing: %v", p.err)
	}
	if len(p.res.Steps) != 2 {
		t.Errorf("steps after the failed one ran: %d steps", len(p.res.Steps))
	}
}

// A Job whose pods all fail cannot complete: the wait says so at once,
// not at its timeout. A Job with a few failing pods retries them and
// completes.
func TestFailedJobEndsTheWait(t *testing.T) {
	p := play(t, `
scenario "jobs" {}
node_pool "p" {
  count = 2
}
pod_lifecycle "failing" {
  ready_after    = "100ms"
  complete_after = "200ms"
  failure_ratio  = 1
}
step "nodes" {
  create_nodes {
    pool = "p"
  }
}
step "doomed" {
  pod_lifecycle = "failing"
  create_pods "batch" {
    kind      = "Job"
    count     = 2
    namespace = "jobs"
  }
  wait "jobs_complete" {
    namespace = "jobs"
    timeout   = "3m"
  }
}
`, nil, scenario.Options{})
	if !errors.Is(p.err, ErrStepFailed) || !strings.Contains(p.err.Error(), "failed") {
		t.Fatalf("want the wait to fail on the failed Job, got %v", p.err)
	}
	if took := p.res.Steps[1].End.Sub(p.res.Steps[1].Start); took > time.Minute {
		t.Errorf("the wait took %v: it waited for its timeout instead of the failure", took)
	}
}

// The same file and seed make the same choices: victims of churn and
// deletions, names, in the same order.
func TestSameSeedSameOperations(t *testing.T) {
	src := `
scenario "seeded" {
  seed = 99
}
node_pool "p" {
  count = 20
}
step "create" {
  create_nodes {
    pool = "p"
  }
  create_pods "bare" {
    count = 10
  }
}
step "disturb" {
  churn_nodes {
    pool     = "p"
    percent  = 25
    every    = "1s"
    duration = "2s"
    mode     = "replace"
  }
}
step "remove" {
  delete_nodes {
    pool    = "p"
    percent = 30
  }
  delete_pods {
    namespace = "default"
    count     = 4
  }
}
`
	first := play(t, src, nil, scenario.Options{})
	first.mustSucceed(t)
	second := play(t, src, nil, scenario.Options{})
	second.mustSucceed(t)
	if !slices.Equal(first.res.Operations, second.res.Operations) {
		t.Fatalf("the operation logs differ:\n%s\n---\n%s", strings.Join(first.res.Operations, "\n"), strings.Join(second.res.Operations, "\n"))
	}
	other := play(t, strings.Replace(src, "seed = 99", "seed = 100", 1), nil, scenario.Options{})
	other.mustSucceed(t)
	if slices.Equal(first.res.Operations, other.res.Operations) {
		t.Error("another seed chose exactly the same victims")
	}
	if len(first.res.Operations) < 30 {
		t.Errorf("the log is too short to mean anything: %d operations", len(first.res.Operations))
	}
}

// A wait in the step that creates the pool's nodes holds for every node the
// step will create, not only for those made so far: slowly created nodes
// are each Ready long before the next one exists, so a wait that counted
// only the nodes made so far would end after the first few.
func TestWaitInTheCreatingStepHoldsForEveryNode(t *testing.T) {
	p := play(t, `
scenario "same-step" {
  timeout = "2m"
}
node_pool "slow" {
  count = 12
}
step "nodes" {
  create_nodes {
    pool = "slow"
    rate = 6
  }
  wait "nodes_ready" {
    pool = "slow"
  }
}
`, nil, scenario.Options{})
	p.mustSucceed(t)
	for _, a := range p.res.Steps[0].Actions {
		if a.Kind == "wait" && a.Done != 12 {
			t.Errorf("the wait ended with %d nodes Ready (%s), want all 12", a.Done, a.Summary)
		}
	}
}

// A pool's conditions are on its nodes from registration, survive KWOK's
// heartbeats and a NotReady spell, and keep the scheduler away through the
// taint the node lifecycle controller would add.
func TestPoolConditions(t *testing.T) {
	p := play(t, `
scenario "conditions" {
  timeout = "5m"
}
node_pool "healthy" {
  count = 3
}
node_pool "pressured" {
  count     = 3
  node_type = "m5.large"
  condition "MemoryPressure" {
    reason  = "KubeletHasInsufficientMemory"
    message = "low on memory"
  }
  condition "example.com/GPUHealthy" {
    status = "False"
  }
  heartbeat {
    status_interval = "10s"
  }
}
step "nodes" {
  create_nodes {
    pool = "healthy"
  }
  create_nodes {
    pool = "pressured"
  }
  wait "nodes_ready" {
    pool = "pressured"
  }
  wait "nodes_ready" {
    pool = "healthy"
  }
}
step "pods" {
  create_pods "web" {
    namespace = "web"
    count     = 30
  }
  wait "pods_running" {
    wave = "web"
  }
}
step "flap" {
  churn_nodes {
    pool          = "pressured"
    percent       = 100
    every         = "1s"
    duration      = "1s"
    mode          = "not-ready"
    recover_after = "2s"
  }
  wait "nodes_ready" {
    pool = "pressured"
  }
}
step "heartbeats" {
  sleep {
    duration = "12s"
  }
}
`, nil, scenario.Options{})
	p.mustSucceed(t)
	pressured := nodes(t, p.cs, PoolLabel+"=pressured")
	pods, err := p.cs.CoreV1().Pods("web").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range pods.Items {
		if _, bad := pressured[pod.Spec.NodeName]; bad || pod.Spec.NodeName == "" {
			t.Errorf("pod %s is on %q", pod.Name, pod.Spec.NodeName)
		}
	}
	if len(pressured) != 3 || len(pods.Items) != 30 {
		t.Fatalf("%d pressured nodes, %d pods", len(pressured), len(pods.Items))
	}
	for name, n := range pressured {
		if n.Labels[corev1.LabelInstanceTypeStable] != "m5.large" {
			t.Errorf("%s: labels %v", name, n.Labels)
		}
		if !slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == corev1.TaintNodeMemoryPressure }) {
			t.Errorf("%s has no memory-pressure taint: %v", name, n.Spec.Taints)
		}
		byType := map[corev1.NodeConditionType]corev1.NodeCondition{}
		for _, c := range n.Status.Conditions {
			byType[c.Type] = c
		}
		mem, gpu, ready := byType[corev1.NodeMemoryPressure], byType["example.com/GPUHealthy"], byType[corev1.NodeReady]
		if mem.Status != corev1.ConditionTrue || mem.Reason != "KubeletHasInsufficientMemory" || mem.Message != "low on memory" || gpu.Status != corev1.ConditionFalse || ready.Status != corev1.ConditionTrue {
			t.Errorf("%s after a NotReady spell and heartbeats: %+v", name, n.Status.Conditions)
		}
		// Made Ready again after the spell, and rewritten by heartbeats
		// since: the heartbeat is later than the spell's end.
		if age := mem.LastHeartbeatTime.Sub(n.CreationTimestamp.Time); age < 10*time.Second {
			t.Errorf("%s: last heartbeat %s after creation, want a heartbeat after the spell", name, age)
		}
	}
}

const serviceYAML = `apiVersion: v1
kind: Service
metadata:
  name: web-${count.index}
spec:
  selector:
    app: web
  ports:
  - port: ${8080 + count.index}
`

// Objects of any kind in bulk: ConfigMaps spread over namespaces, Services
// from a templated manifest (ClusterIPs allocated, EndpointSlices listing
// the Running pods they select), custom objects of a CRD applied first;
// then updates and deletions of some of them.
func TestObjectWaves(t *testing.T) {
	p := play(t, `
scenario "objects" {
  timeout = "5m"
}
node_pool "n" {
  count = 2
}
step "setup" {
  create_nodes {
    pool = "n"
  }
  apply {
    files = ["crd.yaml"]
  }
  wait "nodes_ready" {
    pool = "n"
  }
}
step "create" {
  create_pods "web" {
    namespace = "default"
    count     = 4
    labels    = { app = "web" }
  }
  create_objects "config" {
    count     = 30
    namespace = "cm-${count.index % 3}"
    object = {
      apiVersion = "v1"
      kind       = "ConfigMap"
      data       = { index = "i-${count.index}" }
    }
    rate = 100
  }
  create_objects "services" {
    count    = 3
    manifest = "service.yaml"
  }
  create_objects "widgets" {
    count  = 20
    object = { apiVersion = "example.com/v1", kind = "Widget", metadata = { namespace = "default" }, spec = { size = count.index } }
  }
  wait "pods_running" {
    wave = "web"
  }
}
step "change" {
  update_objects "config" {
    percent  = 50
    every    = "1s"
    duration = "2s"
    patch    = { data = { touched = "t-${count.index}" } }
  }
  delete_objects "widgets" {
    count = 5
  }
}
`, map[string]string{"crd.yaml": crdYAML, "service.yaml": serviceYAML}, scenario.Options{})
	p.mustSucceed(t)
	ctx := context.Background()
	var touched, updated int
	for ns := range 3 {
		list, err := p.cs.CoreV1().ConfigMaps(fmt.Sprintf("cm-%d", ns)).List(ctx, metav1.ListOptions{LabelSelector: "kwok-run/wave=config"})
		if err != nil || len(list.Items) != 10 {
			t.Fatalf("cm-%d holds %d ConfigMaps of the wave (%v), want 10", ns, len(list.Items), err)
		}
		for _, cm := range list.Items {
			if want := "i-" + strings.TrimPrefix(cm.Name, "config-"); cm.Data["index"] != want {
				t.Errorf("cm-%d/%s data %v", ns, cm.Name, cm.Data)
			}
			if cm.Data["touched"] == "t-"+strings.TrimPrefix(cm.Name, "config-") {
				touched++
			}
			if cm.Annotations["kwok-run/update"] != "" {
				updated++
			}
		}
	}
	// Two rounds of half the wave, drawn anew each round.
	if touched < 15 || touched != updated {
		t.Errorf("%d ConfigMaps patched, %d annotated; want at least 15, the same", touched, updated)
	}
	for i := range 3 {
		svc, err := p.cs.CoreV1().Services("default").Get(ctx, fmt.Sprintf("web-%d", i), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Spec.ClusterIP == "" || svc.Spec.Ports[0].Port != int32(8080+i) {
			t.Errorf("service web-%d: ClusterIP %q, port %d", i, svc.Spec.ClusterIP, svc.Spec.Ports[0].Port)
		}
	}
	// The controller-manager fills the EndpointSlices on its own time.
	deadline := time.Now().Add(30 * time.Second)
	for {
		eps, err := p.cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=web-1"})
		var ready int
		if err == nil {
			for _, s := range eps.Items {
				for _, e := range s.Endpoints {
					if e.Conditions.Ready != nil && *e.Conditions.Ready {
						ready++
					}
				}
			}
		}
		if ready == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web-1's EndpointSlices list %d ready endpoints, want the 4 Running pods (%v)", ready, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	widgets, err := p.dyn.Resource(schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}).Namespace("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(widgets.Items) != 15 {
		t.Fatalf("%d widgets left (%v), want 20 created, 5 deleted", len(widgets.Items), err)
	}
	for _, w := range widgets.Items {
		size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size")
		if want := strings.TrimPrefix(w.GetName(), "widgets-"); fmt.Sprint(size) != want {
			t.Errorf("%s has size %d", w.GetName(), size)
		}
	}
}

// The apiserver killed while pods are created, scheduled and started and
// nodes are replaced: the measuring watches resume or relist, and no pod's
// measurement is lost. Every pod and node the cluster holds was seen; every
// pod's start-up is either timed or counted as inexact; every node the run
// deleted was seen to go.
func TestApiserverRestartUnderLoad(t *testing.T) {
	p := play(t, `
scenario "restart" {
  timeout = "4m"
}
node_pool "p" {
  count = 20
}
# Replaced nodes take their pods with them: no pod goes to these.
node_pool "spare" {
  count = 10
  taint {
    key    = "spare"
    effect = "NoSchedule"
  }
}
step "nodes" {
  create_nodes {
    pool = "p"
  }
  create_nodes {
    pool = "spare"
  }
  wait "nodes_ready" {}
}
step "first" {
  create_pods "first" {
    count = 300
    rate  = 150
  }
}
step "restart" {
  restart_component {
    component = "apiserver"
    signal    = "KILL"
    down_for  = "2s"
  }
  create_pods "second" {
    count = 300
    rate  = 50
  }
  churn_nodes {
    pool     = "spare"
    count    = 2
    every    = "1s"
    duration = "6s"
  }
}
step "settle" {
  wait "pods_running" {
    wave    = "first"
    timeout = "2m"
  }
  wait "pods_running" {
    wave    = "second"
    timeout = "2m"
  }
}
`, nil, scenario.Options{})
	p.mustSucceed(t)
	obs := p.res.Observed
	restarts := 0
	for _, w := range obs.Watches {
		restarts += w.Restarts + w.Relists
		t.Logf("%s watch: %d events, %d restarts, %d relists, longest gap %s", w.Kind, w.Events, w.Restarts, w.Relists, w.LongestGap)
	}
	if restarts == 0 {
		t.Fatal("no measuring watch was restarted: the test proves nothing")
	}
	seenPods := map[string]*observe.Pod{}
	for _, pod := range obs.Pods {
		seenPods[pod.Namespace+"/"+pod.Name] = pod
	}
	ctx := context.Background()
	pods, err := p.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "kwok-run/wave"})
	if err != nil || len(pods.Items) != 600 {
		t.Fatalf("want the 600 pods of both waves, got %d (%v)", len(pods.Items), err)
	}
	timed, inexact := 0, 0
	for _, pod := range pods.Items {
		rec := seenPods[pod.Namespace+"/"+pod.Name]
		switch {
		case rec == nil:
			t.Errorf("pod %s was never seen", pod.Name)
		case rec.Timed(observe.PodCreated) && rec.Timed(observe.PodRunning):
			timed++
		case rec.At[observe.PodRunning] > 0 && (rec.Inexact&(1<<observe.PodCreated|1<<observe.PodRunning)) != 0:
			inexact++
		default:
			t.Errorf("pod %s: start-up neither timed nor counted inexact: %+v", pod.Name, rec)
		}
	}
	t.Logf("start-up of %d pods timed, %d inexact; %d inexact transitions named, e.g. %v", timed, inexact, len(obs.Examples), obs.Examples)
	seenNodes := map[string]*observe.Node{}
	for _, n := range obs.Nodes {
		seenNodes[n.Name] = n
	}
	for name := range nodes(t, p.cs, "") {
		if seenNodes[name] == nil || seenNodes[name].At[observe.NodeReady] == 0 {
			t.Errorf("node %s was not seen Ready", name)
		}
	}
	deleted := 0
	replaced := regexp.MustCompile(`: round \d+: replace node (\S+)$`)
	for _, op := range p.res.Operations {
		if m := replaced.FindStringSubmatch(op); m != nil {
			deleted++
			if n := seenNodes[m[1]]; n == nil || n.At[observe.NodeGone] == 0 {
				t.Errorf("replaced node %s was not seen to go", m[1])
			}
		}
	}
	if deleted == 0 {
		t.Errorf("the churn deleted no node; operations: %v", p.res.Operations)
	}
	// 600 pods, 30 nodes and one replacement per node replaced.
	if want := 600 + 30 + deleted; obs.Created != want || len(obs.Unseen) != 0 {
		t.Errorf("kwok-run created %d objects (want %d), %d never seen: %v", obs.Created, want, len(obs.Unseen), obs.UnseenExamples)
	}
}

// Pools with lease durations of their own: every node's Lease lasts its
// pool's duration, held by a KWOK controller of that duration, and the
// short pool's controller works again after restart_component restarted
// all of KWOK's controllers.
func TestPoolLeases(t *testing.T) {
	p := play(t, `
scenario "leases" {
  timeout = "3m"
}
node_pool "plain" {
  count = 2
}
node_pool "short" {
  count = 2
  heartbeat {
    lease_duration = "10s"
  }
}
node_pool "long" {
  count = 2
  heartbeat {
    lease_duration  = "2m"
    status_interval = "30s"
  }
}
step "nodes" {
  create_nodes {
    pool = "plain"
  }
  create_nodes {
    pool = "short"
  }
  create_nodes {
    pool = "long"
  }
  wait "nodes_ready" {}
}
step "restart" {
  restart_component {
    component = "kwok"
    down_for  = "1s"
  }
}
# A restarted KWOK leaves a node alone until the lease its previous self
# held expires: the short pool's controller takes its nodes back within
# 10s, and the churned node goes NotReady before it recovers.
step "again" {
  churn_nodes {
    pool          = "short"
    count         = 1
    every         = "1s"
    duration      = "1s"
    mode          = "not-ready"
    recover_after = "20s"
  }
  wait "nodes_ready" {}
}
`, nil, scenario.Options{})
	p.mustSucceed(t)
	ctx := context.Background()
	want := map[string]int32{"plain": 40, "short": 10, "long": 120}
	holders := map[string]map[string]bool{}
	for name, n := range nodes(t, p.cs, "kwok-run/pool") {
		pool := n.Labels[plan.PoolLabel]
		lease, err := p.cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("node %s: %v", name, err)
			continue
		}
		if got := *lease.Spec.LeaseDurationSeconds; got != want[pool] {
			t.Errorf("node %s of %s: lease of %ds, want %ds", name, pool, got, want[pool])
		}
		if holders[pool] == nil {
			holders[pool] = map[string]bool{}
		}
		holders[pool][*lease.Spec.HolderIdentity] = true
	}
	// One controller per duration: no two pools share a holder. (A pool's
	// leases may be passing from the old controller to the restarted one,
	// so a pool may have two.)
	owner := map[string]string{}
	for pool, hs := range holders {
		for h := range hs {
			if other, ok := owner[h]; ok && other != pool {
				t.Errorf("pools %s and %s share the lease holder %s", pool, other, h)
			}
			owner[h] = pool
		}
	}
	if len(holders) != 3 {
		t.Errorf("lease holders by pool %v, want three pools", holders)
	}
	// KWOK's stages of the short pool's node ran after the restart: its
	// controller came back with the others.
	var recovered bool
	for _, n := range p.res.Observed.Nodes {
		for _, o := range n.Outages {
			recovered = recovered || (n.Pool == "short" && o.End > 0)
		}
	}
	if !recovered {
		t.Error("no node of the short pool went NotReady and Ready again after KWOK's restart")
	}
}
