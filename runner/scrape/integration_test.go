package scrape

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/local"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestRealControlPlane scrapes a real KWOK control plane: the metric names,
// labels and formats this package relies on are the components' own.
func TestRealControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	bins := binariestest.Cached(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cluster := scenario.DefaultCluster()
	for i, comp := range cluster.Components {
		if comp.Name == plan.APIServer {
			// The apiserver counts stored objects at start-up, before it
			// has bootstrapped any, and then once a minute by default.
			cluster.Components[i].Args = map[string]string{"etcd-count-metric-poll-period": "1s"}
		}
	}
	c, err := local.Up(ctx, backends.Spec{Cluster: cluster}, local.Options{
		Name: "scrape-test", RunDir: filepath.Join(t.TempDir(), "run"), Binaries: bins,
		Registry: &registry.Registry{Dir: t.TempDir()}, Log: logWriter{t}, StartTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Down(context.Background()) })
	client, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}

	s := New(c, Options{Start: time.Now(), Every: 500 * time.Millisecond})
	s.Mark(ctx)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(runCtx) })
	defer func() { stop(); wg.Wait() }()

	const lists = 5
	for range lists {
		if _, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Wait for the apiserver's next count of stored objects.
	deadline := time.Now().Add(30 * time.Second)
	for s.Result().PeakObjects(0, time.Hour)["namespaces"] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no stored-object count for namespaces within 30 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.Mark(ctx)
	stop()
	wg.Wait()

	r := s.Result()
	t.Logf("%d samples, %d marks, %d scrapes, %d failed", len(r.Samples), len(r.Marks), r.Scrapes, r.Failed)
	if r.Failed != 0 {
		t.Errorf("%d of %d scrapes failed", r.Failed, r.Scrapes)
	}
	end := r.Marks[len(r.Marks)-1].At
	components := []string{selfComponent}
	for _, e := range c.Endpoints() {
		components = append(components, e.Component)
	}
	if len(components) != len(plan.ComponentNames)+1 {
		t.Errorf("components %v, want %v and %s", components, plan.ComponentNames, selfComponent)
	}
	for _, comp := range components {
		cpu, ok := r.CPUSeconds(comp, 0, end)
		rss, rssOK := r.PeakRSS(comp, 0, end)
		t.Logf("%-18s cpu %.2f s  rss %.0f MiB", comp, cpu, rss/(1<<20))
		if !ok || !rssOK || rss <= 0 {
			t.Errorf("%s: CPU %v (%v), RSS %v (%v)", comp, cpu, ok, rss, rssOK)
		}
	}
	if db, ok := r.PeakDBSize(0, end); !ok || db <= 0 {
		t.Errorf("etcd db size %v, %v", db, ok)
	}
	objects := r.PeakObjects(0, end)
	t.Logf("objects: %v", objects)

	last := r.Marks[len(r.Marks)-1].Requests
	if last == nil {
		t.Fatal("last mark has no request histograms")
	}
	for _, metric := range []string{RequestDuration, RequestSLIDuration} {
		if h := last[metric][Key{"list", "namespaces"}]; h.Count == 0 {
			t.Errorf("%s: no list/namespaces in %d keys", metric, len(last[metric]))
		}
	}
	inc, ok := r.Requests(RequestDuration, 0, end)
	if !ok {
		t.Fatal("Requests over the run not ok")
	}
	if h := inc[Key{"list", "namespaces"}]; h.Count < lists {
		t.Errorf("list/namespaces increased by %v, want at least %d", h.Count, lists)
	}
	all := inc[Key{"all", "all"}]
	t.Logf("all/all: %v requests, p50 %.4f s, p99 %.4f s, mean %.4f s", all.Count, all.Quantile(0.5), all.Quantile(0.99), all.Mean())
	if all.Count == 0 || !(all.Quantile(0.99) > 0) {
		t.Errorf("all/all = %+v", all)
	}
	for k := range inc {
		if k.Verb == "" || k.Resource == "" {
			t.Errorf("key %+v", k)
		}
	}
	if series := r.Series(); len(series) == 0 {
		t.Error("no series")
	}
}
