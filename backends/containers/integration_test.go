package containers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/bootstrap"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// realDocker is the machine's Docker Engine. Without one the test is
// skipped, loudly, unless the integration tests are required.
func realDocker(t testing.TB) *Engine {
	t.Helper()
	e, err := Find(plan.BackendDocker, "", nil)
	if err == nil {
		_, err = e.Run(context.Background(), "version", "--format", "{{.Server.Version}}")
	}
	if err != nil {
		msg := "INTEGRATION TEST NOT RUN: no Docker Engine answers here: " + err.Error()
		if os.Getenv(binariestest.EnvRequire) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last error: %v)", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leftovers lists what the engine still holds with the run's label.
func leftovers(t *testing.T, e *Engine, run string) string {
	t.Helper()
	ctrs, err := e.Run(context.Background(), "ps", "--all", "--quiet", "--filter", "label="+RunLabel+"="+run)
	if err != nil {
		t.Fatal(err)
	}
	nets, err := e.Run(context.Background(), "network", "ls", "--quiet", "--filter", "label="+RunLabel+"="+run)
	if err != nil {
		t.Fatal(err)
	}
	vols, err := e.Run(context.Background(), "volume", "ls", "--quiet", "--filter", "label="+RunLabel+"="+run)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(ctrs + " " + nets + " " + vols)
}

// The whole life of a docker cluster: see clusterLife.
func TestDockerCluster(t *testing.T) {
	e := realDocker(t)
	clusterLife(t, e, binariestest.Cached(t))
}

// clusterLife is the whole life of a cluster on a real engine: up from
// images packed from the cached binaries, recorded in the registry with
// the engine's command line, a node Ready and a pod Running through the
// real scheduler and KWOK, the apiserver killed and started again (on
// purpose: not a failure) and a second pod scheduled after it, a container
// that dies on its own reported with its exit code, and a teardown that
// leaves nothing with the run's label, no registry entry and no etcd data,
// and keeps the logs.
func clusterLife(t *testing.T, e *Engine, r *binaries.Resolver) {
	reg := &registry.Registry{Dir: t.TempDir()}
	runDir := filepath.Join(t.TempDir(), "run")
	ctx := context.Background()
	name := e.Name + "-test"
	c, err := Up(ctx, backends.Spec{Cluster: scenario.DefaultCluster()}, Options{
		Name: name, RunDir: runDir, Engine: e, Binaries: r, Registry: reg,
		Log: testWriter{t}, StartTimeout: 2 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Down(context.Background()) })
	// The engine's whole command line: nerdctl's global flags too, which
	// down --all needs to reach the containerd of a crashed run.
	entry, err := reg.Get(name)
	if err != nil || entry.Run != c.run || entry.Backend != e.Name || !slices.Equal(entry.Engine, e.Argv) {
		t.Fatalf("registry entry %+v, %v: want the run and the engine, with its global flags, recorded", entry, err)
	}
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-0", Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"}},
		Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")},
		},
	}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node Ready", 30*time.Second, func() (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, "node-0", metav1.GetOptions{})
		return err == nil && bootstrap.Ready(n), err
	})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-0", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod bound by kube-scheduler and Running through KWOK", 30*time.Second, func() (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "pod-0", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == "node-0" && p.Status.Phase == corev1.PodRunning, err
	})
	if got := len(c.Endpoints()); got != 5 {
		t.Errorf("%d metrics endpoints, want 5", got)
	}
	for _, comp := range c.Components() {
		if comp.SHA256 == "" || comp.Binary == "" {
			t.Errorf("component %s has no image or image id: %+v", comp.Name, comp)
		}
	}

	// A fault on purpose: the apiserver killed and started again.
	if err := c.Stop(ctx, plan.APIServer, plan.SignalKill); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, plan.APIServer); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "pod-0", metav1.GetOptions{}); err != nil {
		t.Fatalf("the pod after the apiserver's restart: %v", err)
	}
	// The other components reach the restarted apiserver by its name.
	pod1 := pod.DeepCopy()
	pod1.Name = "pod-1"
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod1, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a pod bound and Running after the apiserver's restart", 60*time.Second, func() (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "pod-1", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == "node-0" && p.Status.Phase == corev1.PodRunning, err
	})
	select {
	case err := <-c.Failed():
		t.Fatalf("a stop on purpose was reported as a failure: %v", err)
	default:
	}

	// Leave the fault's grace period, then a container that dies on its own.
	c.faultMu.Lock()
	c.faultUntil = time.Time{}
	c.faultMu.Unlock()
	if _, err := e.Run(ctx, "kill", c.byName[plan.Scheduler].name); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.Failed():
		if !strings.Contains(err.Error(), "scheduler") || !strings.Contains(err.Error(), "exited with code 137") {
			t.Errorf("failure %q: want the component and its exit code", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a container killed from outside was not reported")
	}

	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, e, c.run); left != "" {
		t.Errorf("left behind after Down: %s", left)
	}
	if _, err := reg.Get(name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("registry entry still there after Down: %v", err)
	}
	if _, err := os.Stat(c.dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("etcd's data still there after Down: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(runDir, "logs", "apiserver.log"))
	if err != nil || len(raw) == 0 {
		t.Errorf("the apiserver's log was not kept: %v", err)
	}
	for _, secret := range []string{"cluster/pki", "cluster/kubeconfig", "kubeconfig"} {
		if _, err := os.Stat(filepath.Join(runDir, secret)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s outlived the cluster in the run directory: %v", secret, err)
		}
	}
}

// Ctrl-C while the containers start: Up returns the cancellation and leaves
// nothing behind, found by label even for containers it had not recorded.
func TestDockerCancelDuringStartup(t *testing.T) {
	e := realDocker(t)
	r := binariestest.Cached(t)
	reg := &registry.Registry{Dir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan string, 1)
	go func() {
		// Cancel as soon as the first container of a kwok-run run exists.
		for ctx.Err() == nil {
			out, _ := e.Run(context.Background(), "ps", "--all", "--format", `{{.Label "`+RunLabel+`"}}`, "--filter", "label="+ComponentLabel+"="+plan.Etcd, "--filter", "name=kwok-run-")
			for _, run := range strings.Fields(out) {
				if ent, err := reg.List(); err == nil && len(ent) == 1 && ent[0].Run == run {
					started <- run
					cancel()
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	_, err := Up(ctx, backends.Spec{Cluster: scenario.DefaultCluster()}, Options{
		Name: "cancel-test", RunDir: filepath.Join(t.TempDir(), "run"), Engine: e, Binaries: r, Registry: reg,
		Log: testWriter{t}, StartTimeout: 2 * time.Minute,
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Up = %v, want the cancellation", err)
	}
	var run string
	select {
	case run = <-started:
	default:
		t.Fatal("the test cancelled nothing: no container was seen starting")
	}
	if left := leftovers(t, e, run); left != "" {
		t.Errorf("left behind after a cancelled start: %s", left)
	}
	if ent, _ := reg.List(); len(ent) != 0 {
		t.Errorf("registry entries left: %+v", ent)
	}
}
