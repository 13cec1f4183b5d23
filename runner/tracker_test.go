package runner

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// wavePod is a pod of a wave as kwok-run creates it, as the watch decodes it.
func wavePod(ns, wave string, i int, node string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: fmt.Sprintf("%s-%d", wave, i), UID: "00000000-0000-0000-0000-000000000000",
			ResourceVersion: "12345", CreationTimestamp: metav1.Unix(1000, 0),
			Labels: map[string]string{scenario.WaveLabel: wave, ObjectLabel: fmt.Sprintf("%s-%d", wave, i), "app": "web"},
		},
		Spec:   corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "fake"}}},
		Status: corev1.PodStatus{Phase: phase},
	}
}

func newTrackerStore() (cache.Indexer, reducingStore) {
	s := cache.NewIndexer(trackerKey, trackerIndexers)
	return s, reducingStore{s, func(any) {}}
}

func TestTrackerKeepsWhatWaitsRead(t *testing.T) {
	store, in := newTrackerStore()
	tr := &tracker{stores: map[string]cache.Indexer{"pods": store}}
	if err := in.Replace([]any{wavePod("a", "web", 0, "", corev1.PodPending), wavePod("b", "web", 0, "", corev1.PodPending)}, "1"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := in.Add(wavePod("a", "web", i+1, "", corev1.PodPending)); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Add(wavePod("a", "db", 0, "", corev1.PodPending)); err != nil {
		t.Fatal(err)
	}
	if err := in.Update(wavePod("a", "web", 1, "node-7", corev1.PodRunning)); err != nil {
		t.Fatal(err)
	}
	gone := wavePod("a", "web", 2, "", corev1.PodPending)
	if err := in.Delete(gone); err != nil {
		t.Fatal(err)
	}
	deleting := wavePod("a", "web", 3, "", corev1.PodPending)
	deleting.DeletionTimestamp = &metav1.Time{}
	if err := in.Update(deleting); err != nil {
		t.Fatal(err)
	}

	got := func(ns string, sel map[string]string) map[string]*trackedPod {
		t.Helper()
		list, err := tr.list("pods", ns, sel)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*trackedPod{}
		for _, o := range list {
			p := o.(*trackedPod)
			out[p.namespace+"/"+p.name] = p
		}
		return out
	}
	web := got("a", map[string]string{scenario.WaveLabel: "web"})
	if len(web) != 3 || web["a/web-2"] != nil {
		t.Fatalf("wave web in a: %v, want web-0, web-1 and web-3 (web-2 was deleted)", web)
	}
	if p := web["a/web-1"]; p.nodeName != "node-7" || p.phase != corev1.PodRunning || p.deleting {
		t.Errorf("updated pod kept as %+v", p)
	}
	if !web["a/web-3"].deleting {
		t.Error("a pod with a deletion timestamp is not marked deleting")
	}
	if n := len(got("", map[string]string{scenario.WaveLabel: "web"})); n != 4 {
		t.Errorf("wave web everywhere: %d pods, want 4", n)
	}
	if n := len(got("a", nil)); n != 4 {
		t.Errorf("namespace a: %d pods, want 4", n)
	}
	if n := len(got("", map[string]string{"app": "web", ObjectLabel: "db-0"})); n != 1 {
		t.Errorf("by two labels: %d pods, want 1", n)
	}
	// Set-based selectors read the same labels.
	sel, err := labels.Parse(scenario.WaveLabel + " in (db), app")
	if err != nil {
		t.Fatal(err)
	}
	if p := got("a", nil)["a/db-0"]; !sel.Matches(p.labels) || sel.Matches(web["a/web-0"].labels) {
		t.Errorf("selector %q matched the wrong pods", sel)
	}
}

// BenchmarkTrackedPodBytes measures what the tracker keeps per pod, its
// indexes included, for pods of one wave spread over 1,000 nodes (beyond
// the strings of their names, which the decoded pods already hold).
func BenchmarkTrackedPodBytes(b *testing.B) {
	const n = 20000
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		pods[i] = wavePod("ns", "web", i, fmt.Sprintf("node-%d", i%1000), corev1.PodRunning)
	}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		store, in := newTrackerStore()
		for _, p := range pods {
			if err := in.Add(p); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/pod")
		runtime.KeepAlive(store)
	}
}

// A bare pod the cluster deletes (the taint manager evicts the pods of a
// node that went NotReady) never comes back: a wait for its wave fails at
// once, saying why, instead of waiting for its timeout. Pods kwok-run
// deletes itself only make the wave smaller.
func TestWaitOnAWaveThatLostPods(t *testing.T) {
	store, _ := newTrackerStore()
	tr := &tracker{stores: map[string]cache.Indexer{"pods": store}, gone: map[string]int{}}
	in := reducingStore{store, tr.deleted}
	r := &runner{tracker: tr, waves: map[string]*waveState{
		"web": {create: &plan.CreatePods{Name: "web", Kind: plan.KindPod, Count: 4}, pods: 4},
	}}
	a := &actionCtx{r: r}
	w := &plan.Wait{For: plan.WaitPodsRunning, Namespace: "a", Selector: map[string]string{scenario.WaveLabel: "web"}}
	for i := range 4 {
		if err := in.Add(wavePod("a", "web", i, "node-1", corev1.PodRunning)); err != nil {
			t.Fatal(err)
		}
	}
	// kwok-run deletes one: three are left, and three are all it waits for.
	a.countDeleted("web", 1)
	if err := in.Delete(wavePod("a", "web", 0, "node-1", corev1.PodRunning)); err != nil {
		t.Fatal(err)
	}
	p, err := a.checkPods(context.Background(), w)
	if err != nil || !p.done() || p.want != 3 {
		t.Fatalf("after deleting one pod itself: %+v, %v; want 3 of 3 Running", p, err)
	}
	// The cluster deletes another.
	if err := in.Delete(wavePod("a", "web", 1, "node-1", corev1.PodRunning)); err != nil {
		t.Fatal(err)
	}
	_, err = a.checkPods(context.Background(), w)
	if !errors.Is(err, errHopeless) || !strings.Contains(err.Error(), "1 pods of wave web were deleted by the cluster") {
		t.Errorf("after an eviction: %v, want the wait to give up saying why", err)
	}
}
