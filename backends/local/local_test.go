package local

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/bootstrap"
	"github.com/kwok-run/kwok-run/backends/components"
	"github.com/kwok-run/kwok-run/backends/pki"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/backends/supervise"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

type testCluster struct {
	*Cluster
	reg    *registry.Registry
	runDir string
	client kubernetes.Interface
}

func up(t *testing.T, ctx context.Context, mutate func(*Options)) (*testCluster, error) {
	t.Helper()
	r := binariestest.Cached(t)
	reg := &registry.Registry{Dir: t.TempDir()}
	opts := Options{
		Name: "test", RunDir: filepath.Join(t.TempDir(), "run"), Binaries: r, Registry: reg,
		Log: testWriter{t}, StartTimeout: time.Minute,
	}
	if mutate != nil {
		mutate(&opts)
	}
	c, err := Up(ctx, backends.Spec{Cluster: scenario.DefaultCluster()}, opts)
	if err != nil {
		return &testCluster{reg: reg, runDir: opts.RunDir}, err
	}
	t.Cleanup(func() { c.Down(context.Background()) })
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return &testCluster{Cluster: c, reg: reg, runDir: opts.RunDir, client: cs}, nil
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

// assertGone checks that nothing of the cluster is left: no process of the
// entry, no listening port, no etcd data, no registry entry.
func assertGone(t *testing.T, reg *registry.Registry, entry *registry.Entry, ports []int) {
	t.Helper()
	for _, p := range entry.Processes {
		if p.Alive() && !isZombie(p.PID) {
			t.Errorf("%s (pid %d) still runs", p.Name, p.PID)
		}
	}
	for _, port := range ports {
		if conn, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", Host, port), 200*time.Millisecond); err == nil {
			conn.Close()
			t.Errorf("port %d still listens", port)
		}
	}
	if entry.DataDir != "" {
		if _, err := os.Stat(entry.DataDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("etcd data left in %s", entry.DataDir)
		}
	}
	if _, err := reg.Get(entry.Name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("registry entry left: %v", err)
	}
}

func isZombie(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}

func (c *testCluster) ports() []int {
	var ports []int
	for _, p := range c.procs {
		ports = append(ports, p.Spec.Ports...)
	}
	return ports
}

// The acceptance test: a node KWOK makes Ready, a pod the real
// scheduler binds and KWOK makes Running, then nothing left behind.
func TestNodeAndPodThroughTheRealControlPlane(t *testing.T) {
	ctx := context.Background()
	c, err := up(t, ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := c.reg.Get("test")
	if err != nil {
		t.Fatalf("the running cluster is not registered: %v", err)
	}
	if len(entry.Processes) != 5 || entry.Owner.PID != os.Getpid() {
		t.Errorf("registry entry: %d processes, owner %d", len(entry.Processes), entry.Owner.PID)
	}
	if info, err := os.Stat(c.runDir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("run directory: %v %v", info.Mode(), err)
	}

	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-0", Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"}},
		Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")},
		},
	}
	if _, err := c.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node Ready", 30*time.Second, func() (bool, error) {
		n, err := c.client.CoreV1().Nodes().Get(ctx, "node-0", metav1.GetOptions{})
		return err == nil && bootstrap.Ready(n), err
	})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-0", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
	}
	if _, err := c.client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod bound by kube-scheduler and Running through KWOK", 30*time.Second, func() (bool, error) {
		p, err := c.client.CoreV1().Pods("default").Get(ctx, "pod-0", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == "node-0" && p.Status.Phase == corev1.PodRunning, err
	})

	ports := c.ports()
	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	assertGone(t, c.reg, entry, ports)
	if _, err := os.Stat(filepath.Join(c.runDir, "logs", "apiserver.log")); err != nil {
		t.Errorf("a run keeps its logs: %v", err)
	}
	for _, secret := range []string{"pki", "kubeconfig"} {
		if _, err := os.Stat(filepath.Join(c.runDir, secret)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s outlived the cluster in the run directory: %v", secret, err)
		}
	}
	if err := c.Down(ctx); err != nil {
		t.Errorf("a second Down should be a no-op: %v", err)
	}
}

// A component killed behind kwok-run's back is reported with its name, how it
// ended and its last log lines.
func TestComponentThatDiesIsReported(t *testing.T) {
	c, err := up(t, context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pid := c.byName["scheduler"].Record().PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.Failed():
		var ce *supervise.ComponentError
		if !errors.As(err, &ce) || ce.Component != "scheduler" || !strings.Contains(ce.Status, "killed") || ce.Log == "" {
			t.Errorf("want the scheduler named with its signal and log, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the dead scheduler was not noticed within 5s")
	}
}

// A component stopped with SIGSTOP never exits: its silence is the failure,
// named within seconds, and teardown still removes everything.
func TestComponentThatHangsIsReported(t *testing.T) {
	c, err := up(t, context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := c.reg.Get("test")
	if err != nil {
		t.Fatal(err)
	}
	pid := c.byName["kwok"].Record().PID
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.Failed():
		var ce *supervise.ComponentError
		if !errors.As(err, &ce) || ce.Component != "kwok" || !strings.Contains(ce.Status, "is paused") || ce.Log == "" {
			t.Errorf("want KWOK named as paused, with its log, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stopped KWOK was not noticed within 10s")
	}
	if err := c.Down(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertGone(t, c.reg, entry, nil)
}

// Stop and Start are how scenarios inject faults: neither counts as a failure.
func TestStopAndStartAComponent(t *testing.T) {
	ctx := context.Background()
	c, err := up(t, ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx, "apiserver", "KILL"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		t.Error("the apiserver answers after being stopped")
	}
	if err := c.Start(ctx, "apiserver"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("the apiserver does not answer after Start: %v", err)
	}
	select {
	case err := <-c.Failed():
		t.Errorf("a requested stop was reported as a failure: %v", err)
	default:
	}
	entry, _ := c.reg.Get("test")
	if p := c.byName["apiserver"].Record(); entry == nil || !containsPID(entry, p.PID) {
		t.Error("the registry does not know the restarted apiserver")
	}
}

func containsPID(e *registry.Entry, pid int) bool {
	for _, p := range e.Processes {
		if p.PID == pid {
			return true
		}
	}
	return false
}

// Ctrl-C during start-up: Up returns the cancellation and leaves nothing.
func TestCancelDuringStartUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	var reg *registry.Registry
	c, err := up(t, ctx, func(o *Options) { reg = o.Registry })
	if !errors.Is(err, context.Canceled) {
		if err == nil {
			c.Down(context.Background())
		}
		t.Fatalf("want context.Canceled, got %v", err)
	}
	entries, _ := reg.List()
	if len(entries) != 0 {
		t.Errorf("registry entries left: %v", entries)
	}
	assertNoChildren(t)
}

// assertNoChildren checks that no process this test started is left.
func assertNoChildren(t *testing.T) {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", os.Getpid(), os.Getpid()))
	if err != nil {
		return // not available on every kernel; the registry checks cover it
	}
	for _, f := range strings.Fields(string(raw)) {
		var pid int
		fmt.Sscan(f, &pid)
		if !isZombie(pid) {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if strings.Contains(string(cmdline), "kwok-run/bin") {
				t.Errorf("child process left: %d %s", pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
			}
		}
	}
}

// A port taken between choosing it and the component binding it is retried
// on other ports.
func TestBusyPortIsRetried(t *testing.T) {
	busy, err := net.Listen("tcp", Host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := busy.Addr().(*net.TCPAddr).Port
	calls := 0
	c, err := up(t, context.Background(), func(o *Options) {
		o.ports = func(n int) ([]int, error) {
			calls++
			ports, err := freePorts(n)
			if calls == 1 && err == nil {
				ports[2] = taken // the apiserver's port
			}
			return ports, err
		}
	})
	if err != nil {
		t.Fatalf("start with a busy port: %v", err)
	}
	if calls < 2 {
		t.Errorf("the busy port was not retried (%d attempts)", calls)
	}
	if c.byName["apiserver"].Spec.Ports[0] == taken {
		t.Error("the apiserver kept the busy port")
	}
}

// The stages live in the cluster, and the not-ready stage works both ways: a
// labelled node turns NotReady, and comes back when the label goes.
func TestStagesInTheClusterAndNotReady(t *testing.T) {
	ctx := context.Background()
	c, err := up(t, ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.client.Discovery().RESTClient().Get().AbsPath("/apis/kwok.x-k8s.io/v1alpha1/stages").DoRaw(ctx)
	if err != nil {
		t.Fatalf("list stages: %v", err)
	}
	for _, want := range []string{"node-initialize", "node-not-ready", "pod-ready"} {
		if !strings.Contains(string(raw), `"name":"`+want+`"`) {
			t.Errorf("stage %s is not in the cluster", want)
		}
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "flaky", Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"}}}
	if _, err := c.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	readyIs := func(want bool) func() (bool, error) {
		return func() (bool, error) {
			n, err := c.client.CoreV1().Nodes().Get(ctx, "flaky", metav1.GetOptions{})
			return err == nil && bootstrap.Ready(n) == want, err
		}
	}
	waitFor(t, "node Ready", 30*time.Second, readyIs(true))
	label := func(value *string) {
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:null}}}`, components.NotReadyLabel)
		if value != nil {
			patch = fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, components.NotReadyLabel, *value)
		}
		if _, err := c.client.CoreV1().Nodes().Patch(ctx, "flaky", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	yes := "true"
	label(&yes)
	waitFor(t, "node NotReady after the label", 30*time.Second, readyIs(false))
	time.Sleep(2 * time.Second)
	if ok, _ := readyIs(false)(); !ok {
		t.Fatal("the node did not stay NotReady while labelled")
	}
	label(nil)
	waitFor(t, "node Ready again without the label", 30*time.Second, readyIs(true))
}

// A cluster without KWOK is ready when its components are healthy: no
// stages and no probe node, for another kwok-run to bring KWOK to (backend
// kubeconfig).
func TestWithoutKwok(t *testing.T) {
	ctx := context.Background()
	cluster := scenario.DefaultCluster()
	for i := range cluster.Components {
		cluster.Components[i].Enabled = cluster.Components[i].Name != plan.Kwok
	}
	c, err := Up(ctx, backends.Spec{Cluster: cluster}, Options{
		Name: "bare", RunDir: filepath.Join(t.TempDir(), "run"), Binaries: binariestest.Cached(t),
		Registry: &registry.Registry{Dir: t.TempDir()}, Log: testWriter{t}, StartTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Down(context.Background()) })
	var names []string
	for _, comp := range c.Components() {
		names = append(names, comp.Name)
	}
	if strings.Join(names, " ") != "etcd apiserver scheduler controller_manager" {
		t.Errorf("components %v", names)
	}
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil || len(nodes.Items) > 0 {
		t.Errorf("nodes in a cluster without KWOK: %v %v", err, nodes)
	}
	if _, err := cs.Discovery().ServerResourcesForGroupVersion("kwok.x-k8s.io/v1alpha1"); err == nil {
		t.Error("KWOK's stages were installed in a cluster without KWOK")
	}
}

// Every endpoint of the control plane wants a client certificate of the
// cluster's CA: without one, or with one of another CA (even a
// system:masters one), health, version and metrics are refused; with the
// admin's they answer. KWOK is the exception docs/security.md names: its
// server has no client-certificate option.
func TestEndpointsWantAClientCertificate(t *testing.T) {
	c, err := up(t, context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := pki.Generate(t.TempDir(), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	strangerTLS, err := stranger.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	anonymous := c.tls.Clone()
	anonymous.Certificates = nil
	impostor := c.tls.Clone()
	impostor.Certificates = strangerTLS.Certificates
	get := func(cfg *tls.Config, url string) (int, error) {
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := hc.Get(url)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	checked := 0
	for _, p := range c.procs {
		if p.Spec.Name == plan.Kwok {
			continue
		}
		urls := []string{p.Spec.HealthURL, p.Spec.MetricsURL}
		if p.Spec.Name == plan.APIServer {
			urls = append(urls, strings.Replace(p.Spec.HealthURL, "/readyz", "/version", 1))
		}
		for _, url := range urls {
			if code, err := get(c.tls, url); code != http.StatusOK {
				t.Errorf("%s with the admin's certificate: %d %v", url, code, err)
			}
			for who, cfg := range map[string]*tls.Config{"without a certificate": anonymous, "with another CA's certificate": impostor} {
				if code, err := get(cfg, url); err == nil && code < 400 {
					t.Errorf("%s %s: answered %d", url, who, code)
				}
			}
			checked++
		}
	}
	if checked < 9 {
		t.Fatalf("checked %d endpoints, want those of etcd, apiserver, scheduler and controller-manager", checked)
	}
}
