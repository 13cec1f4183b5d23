package runner

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// fakeRunner is a runner of p against a fake clientset holding objs: enough
// for what Cleanup does, which a unit test can check object by object.
func fakeRunner(p *plan.Plan, objs ...runtime.Object) (*runner, *fake.Clientset, *bytes.Buffer) {
	cs := fake.NewClientset(objs...)
	log := &bytes.Buffer{}
	r := &runner{
		plan: p, opts: Options{Cleanup: true, Log: log}, cs: cs, ops: &opLog{},
		pools: map[string]*poolNodes{}, waves: map[string]*waveState{},
	}
	return r, cs, log
}

func testNode(name string, labels map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func exists(t *testing.T, err error) bool {
	t.Helper()
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func TestCleanupDeletesOnlyWhatTheRunCreated(t *testing.T) {
	ctx := context.Background()
	p := &plan.Plan{Pools: []*plan.NodePool{{Name: "workers", Count: 2}}}
	web := map[string]string{scenario.WaveLabel: "web"}
	r, cs, log := fakeRunner(p,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		testNode("workers-0", map[string]string{PoolLabel: "workers"}),
		testNode("workers-1-r1", map[string]string{PoolLabel: "workers"}),
		// The cluster's own node, and one of a pool of another scenario.
		testNode("real-0", nil),
		testNode("other-0", map[string]string{PoolLabel: "other"}),
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "default", Labels: web}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "keep", Namespace: "default"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0-abc", Namespace: "default", Labels: web}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: "default"}},
	)
	// default was there before the run; churn is the run's.
	for _, ns := range []string{"default", "churn"} {
		if err := r.ensureNamespace(ctx, newTally(), ns); err != nil {
			t.Fatal(err)
		}
	}
	r.waves["web"] = &waveState{create: &plan.CreatePods{Name: "web", Namespace: "default", Kind: plan.KindDeployment}}
	r.waves["batch"] = &waveState{create: &plan.CreatePods{Name: "batch", Namespace: "churn", Kind: plan.KindJob}}

	// apply created one ConfigMap and changed another that was there.
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	dyn := dynamicfake.NewSimpleDynamicClient(scheme.Scheme,
		&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "existing", Namespace: "default"}})
	// The fake's own apply merges into typed objects only.
	dyn.PrependReactor("patch", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(pa.GetPatch()); err != nil {
			return true, nil, err
		}
		if _, err := dyn.Tracker().Get(gvr, pa.GetNamespace(), pa.GetName()); apierrors.IsNotFound(err) {
			return true, obj, dyn.Tracker().Create(gvr, obj, pa.GetNamespace())
		}
		return true, obj, dyn.Tracker().Update(gvr, obj, pa.GetNamespace())
	})
	res := dyn.Resource(gvr).Namespace("default")
	for _, name := range []string{"existing", "new"} {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": "default"},
			"data":     map[string]any{"k": "v"},
		}}
		if err := r.applyOne(ctx, res, obj); err != nil {
			t.Fatal(err)
		}
	}

	if err := r.cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	t.Log(log.String())

	for name, want := range map[string]bool{"workers-0": false, "workers-1-r1": false, "real-0": true, "other-0": true} {
		_, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if exists(t, err) != want {
			t.Errorf("node %s exists = %v, want %v", name, !want, want)
		}
	}
	for name, want := range map[string]bool{"default": true, "churn": false} {
		_, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if exists(t, err) != want {
			t.Errorf("namespace %s exists = %v, want %v", name, !want, want)
		}
	}
	for name, want := range map[string]bool{"web-0": false, "keep": true} {
		_, err := cs.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
		if exists(t, err) != want {
			t.Errorf("Deployment %s exists = %v, want %v", name, !want, want)
		}
	}
	for name, want := range map[string]bool{"web-0-abc": false, "mine": true} {
		_, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if exists(t, err) != want {
			t.Errorf("pod %s exists = %v, want %v", name, !want, want)
		}
	}
	for name, want := range map[string]bool{"existing": true, "new": false} {
		_, err := res.Get(ctx, name, metav1.GetOptions{})
		if exists(t, err) != want {
			t.Errorf("ConfigMap %s exists = %v, want %v", name, !want, want)
		}
	}
	for _, said := range []string{
		"1 object apply created (ConfigMap default/new)",
		"1 Deployment and 1 pod of wave web in default",
		"namespace churn", "2 nodes", "all gone in",
	} {
		if !strings.Contains(log.String(), said) {
			t.Errorf("the log does not say %q:\n%s", said, log.String())
		}
	}
}

// A namespace that does not go away (a finalizer nobody removes) is named
// when Cleanup gives up, and fails it.
func TestCleanupSaysWhatRemained(t *testing.T) {
	p := &plan.Plan{Pools: []*plan.NodePool{{Name: "workers", Count: 1}}}
	r, cs, log := fakeRunner(p, testNode("workers-0", map[string]string{PoolLabel: "workers"}))
	if err := r.ensureNamespace(context.Background(), newTally(), "stuck"); err != nil {
		t.Fatal(err)
	}
	cs.PrependReactor("delete", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := r.cleanup(ctx)
	if err == nil || !strings.Contains(err.Error(), "namespace stuck") || strings.Contains(err.Error(), "node") {
		t.Errorf("cleanup = %v, want it to name namespace stuck and no node", err)
	}
	if !strings.Contains(log.String(), "still there after") {
		t.Errorf("the log does not say what remained:\n%s", log.String())
	}
}

// A node registers Ready, with an address of its own.
func TestNodesRegisterReady(t *testing.T) {
	pool := &plan.NodePool{Name: "workers", Count: 3, Template: fixedNode{}}
	seen := map[string]bool{}
	for _, at := range [][2]int{{0, 0}, {0, 1}, {0, 1<<20 - 1}, {1, 0}, {7, 1<<20 - 1}} {
		n, err := node(pool, at[0], at[1], "n", scenario.DefaultCluster())
		if err != nil {
			t.Fatal(err)
		}
		if !nodeReady(n) || n.Status.Phase != corev1.NodeRunning {
			t.Errorf("node %v: not registered Ready: %+v", at, n.Status)
		}
		ip := n.Status.Addresses[0].Address
		if net.ParseIP(ip) == nil || !strings.HasPrefix(ip, "10.") || seen[ip] {
			t.Errorf("node %v: address %s (seen before: %v)", at, ip, seen[ip])
		}
		seen[ip] = true
	}
}

// A pool whose lease differs from the cluster's names it on its nodes, for
// the KWOK controller of that duration; one with the cluster's does not.
func TestNodesCarryTheirLease(t *testing.T) {
	c := scenario.DefaultCluster()
	for lease, want := range map[time.Duration]string{0: "", 40 * time.Second: "", 15 * time.Second: "15s", 2 * time.Minute: "120s"} {
		pool := &plan.NodePool{Name: "workers", Count: 1, Template: fixedNode{}, LeaseDuration: plan.Duration(lease)}
		n, err := node(pool, 0, 0, "n", c)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := n.Labels[plan.LeaseLabel]; got != want || ok != (want != "") {
			t.Errorf("lease %s: label %q (%v), want %q", lease, got, ok, want)
		}
	}
}

func TestNodesCarryTheirShard(t *testing.T) {
	pool := &plan.NodePool{Name: "workers", Count: 2500, Template: fixedNode{}}
	for i, want := range map[int]string{0: "workers-0", 1: "workers-1", 2: "workers-2", 3: "workers-0", 2499: "workers-0"} {
		n, err := node(pool, 0, i, nodeName("workers", i, 0), scenario.DefaultCluster())
		if err != nil {
			t.Fatal(err)
		}
		if got := n.Labels[plan.ShardLabel]; got != want {
			t.Errorf("node %d: shard %q, want %q", i, got, want)
		}
	}
}

// fixedNode renders every node alike, trying to claim a shard of its own.
type fixedNode struct{}

func (fixedNode) Node(int) (plan.NodeSpec, error) {
	return plan.NodeSpec{Labels: map[string]string{plan.ShardLabel: "mine"}}, nil
}
func (fixedNode) Source() map[string]string { return nil }
