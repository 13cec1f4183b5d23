package observe

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// fakeLW stands in for the apiserver: each Watch hands out the next fake
// watcher, or the next error; List reports the cluster's resourceVersion.
type fakeLW struct {
	mu       sync.Mutex
	rv       string
	items    []corev1.Pod
	watchers []*watch.FakeWatcher
	errs     []error
	watchRVs []string
	lists    int
	// hang makes List wait, as a busy apiserver may, until it is cancelled.
	hang bool
}

func (f *fakeLW) ListWithContext(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if f.hang {
		f.mu.Unlock()
		<-ctx.Done()
		f.mu.Lock()
		return nil, ctx.Err()
	}
	return &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: f.rv}, Items: f.items}, nil
}

func (f *fakeLW) WatchWithContext(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watchRVs = append(f.watchRVs, o.ResourceVersion)
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		if err != nil {
			return nil, err
		}
	}
	w := watch.NewFakeWithChanSize(100, false)
	f.watchers = append(f.watchers, w)
	return w, nil
}

func (f *fakeLW) watcher(t *testing.T, i int) *watch.FakeWatcher {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		if len(f.watchers) > i {
			w := f.watchers[i]
			f.mu.Unlock()
			return w
		}
		f.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("watch %d was never opened", i)
	return nil
}

func rvPod(name, rv string) *corev1.Pod {
	p := pod(name, "uid-"+name, "", corev1.PodPending, false)
	p.ResourceVersion = rv
	return p
}

func receive(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("the watch closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return watch.Event{}
}

func TestWatchResumesWhereItEnded(t *testing.T) {
	rec := NewRecorder(time.Now())
	lw := &fakeLW{rv: "10"}
	src := NewSource(context.Background(), Pods, rec, lw, &corev1.Pod{})
	w, err := src.WatchWithContext(context.Background(), metav1.ListOptions{ResourceVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	first := lw.watcher(t, 0)
	first.Add(rvPod("a", "11"))
	receive(t, w)
	// The apiserver ends the watch; a new one opens from the last version
	// seen, and the informer sees nothing of it.
	first.Stop()
	second := lw.watcher(t, 1)
	second.Add(rvPod("b", "12"))
	if ev := receive(t, w); ev.Object.(*corev1.Pod).Name != "b" {
		t.Errorf("got %v", ev)
	}
	if lw.watchRVs[1] != "11" {
		t.Errorf("resumed from %q, want 11", lw.watchRVs[1])
	}
	recs := rec.Records()
	if len(recs.Pods) != 2 || !recs.Pods[1].Timed(PodCreated) {
		t.Errorf("b after a quick resume should be timed: %+v", recs.Pods)
	}
	if recs.Watches[0].Restarts != 1 {
		t.Errorf("restarts %d, want 1", recs.Watches[0].Restarts)
	}
}

func TestEventsReplayedAfterALongGapAreNotTimed(t *testing.T) {
	rec := NewRecorder(time.Now())
	lw := &fakeLW{rv: "20", errs: []error{nil}}
	src := NewSource(context.Background(), Pods, rec, lw, &corev1.Pod{})
	w, err := src.WatchWithContext(context.Background(), metav1.ListOptions{ResourceVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// The apiserver is down for a while: the first two resumes fail.
	lw.mu.Lock()
	lw.errs = []error{apierrors.NewServiceUnavailable("restarting"), apierrors.NewServiceUnavailable("restarting")}
	lw.mu.Unlock()
	lw.watcher(t, 0).Stop()
	next := lw.watcher(t, 1)
	next.Add(rvPod("during-gap", "15"))
	next.Add(rvPod("after-gap", "21"))
	receive(t, w)
	receive(t, w)
	recs := rec.Records()
	if recs.Pods[0].Timed(PodCreated) {
		t.Error("a creation replayed after a 200 ms gap was timed")
	}
	if !recs.Pods[1].Timed(PodCreated) {
		t.Error("a creation after the gap was not timed")
	}
	if gap := recs.Watches[0].LongestGap; gap < 150*time.Millisecond {
		t.Errorf("longest gap %v, want the two retries", gap)
	}
}

// After an apiserver restart the old resourceVersion is gone (410): the
// source relists by itself, records what changed meanwhile untimed, gives
// the informer the same as events, and watches on from the list.
func TestTooOldRelistsAndWatchesOn(t *testing.T) {
	rec := NewRecorder(time.Now())
	lw := &fakeLW{rv: "20", items: []corev1.Pod{*rvPod("a", "18"), *rvPod("c", "19")}}
	src := NewSource(context.Background(), Pods, rec, lw, &corev1.Pod{})
	w, err := src.WatchWithContext(context.Background(), metav1.ListOptions{ResourceVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	first := lw.watcher(t, 0)
	first.Add(rvPod("a", "11"))
	first.Add(rvPod("b", "12"))
	receive(t, w)
	receive(t, w)
	lw.mu.Lock()
	lw.errs = []error{apierrors.NewResourceExpired("too old resource version")}
	lw.mu.Unlock()
	first.Stop()
	got := map[string]watch.EventType{}
	for range 3 {
		ev := receive(t, w)
		got[ev.Object.(*corev1.Pod).Name] = ev.Type
	}
	if got["a"] != watch.Modified || got["c"] != watch.Modified || got["b"] != watch.Deleted {
		t.Errorf("the informer was handed %v, want a and c modified, b deleted", got)
	}
	next := lw.watcher(t, 1)
	if rv := lw.watchRVs[2]; rv != "20" {
		t.Errorf("watching on from %q, want the list's 20", rv)
	}
	next.Add(rvPod("d", "21"))
	receive(t, w)
	byName := map[string]*Pod{}
	for _, p := range rec.Records().Pods {
		byName[p.Name] = p
	}
	if b := byName["b"]; b.At[PodGone] == 0 || b.Timed(PodGone) {
		t.Errorf("b went while no watch was open: gone, untimed: %+v", b)
	}
	if c := byName["c"]; c.Timed(PodCreated) {
		t.Error("c, created while no watch was open, was timed")
	}
	if d := byName["d"]; d == nil || !d.Timed(PodCreated) {
		t.Error("d, created after the relist, was not timed")
	}
}

// Stopping a watch while it relists from an apiserver that does not answer
// returns: the relist is cancelled rather than waited out.
func TestStopDuringAHangingRelist(t *testing.T) {
	rec := NewRecorder(time.Now())
	lw := &fakeLW{rv: "20"}
	src := NewSource(context.Background(), Pods, rec, lw, &corev1.Pod{})
	w, err := src.WatchWithContext(context.Background(), metav1.ListOptions{ResourceVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	first := lw.watcher(t, 0)
	lw.mu.Lock()
	lw.errs = []error{apierrors.NewResourceExpired("too old resource version")}
	lw.hang = true
	lw.mu.Unlock()
	first.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lw.mu.Lock()
		lists := lw.lists
		lw.mu.Unlock()
		if lists > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watch never relisted")
		}
		time.Sleep(time.Millisecond)
	}
	stopped := make(chan struct{})
	go func() {
		w.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop waited for a relist that never ends")
	}
}

func TestASlowInformerDoesNotSlowTheWatch(t *testing.T) {
	rec := NewRecorder(time.Now())
	lw := &fakeLW{rv: "1"}
	src := NewSource(context.Background(), Pods, rec, lw, &corev1.Pod{})
	w, err := src.WatchWithContext(context.Background(), metav1.ListOptions{ResourceVersion: "1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	fw := lw.watcher(t, 0)
	// Nobody reads w: every event must still be recorded on arrival.
	for i := range 50 {
		fw.Add(rvPod(string(rune('a'+i%26))+string(rune('a'+i/26)), "2"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.Records().Pods) < 50 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := len(rec.Records().Pods); n != 50 {
		t.Fatalf("%d of 50 events recorded while the informer read none", n)
	}
	for range 50 {
		receive(t, w)
	}
}

func TestRelistSweepsAndFlags(t *testing.T) {
	rec := NewRecorder(time.Now())
	items := []corev1.Pod{*rvPod("a", "5")}
	lw := &listOnly{pages: [][]corev1.Pod{items}}
	src := NewSource(context.Background(), Pods, rec, lw, &corev1.Pod{})
	if _, err := src.ListWithContext(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.observe(Pods, watch.Added, rvPod("b", "6"), 10*ms, Live)
	// The relist comes in two pages, shows a new pod c, and no longer b.
	lw.pages = [][]corev1.Pod{{*rvPod("a", "5")}, {*rvPod("c", "9")}}
	if _, err := src.ListWithContext(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.ListWithContext(context.Background(), metav1.ListOptions{Continue: "page-2"}); err != nil {
		t.Fatal(err)
	}
	recs := rec.Records()
	byName := map[string]*Pod{}
	for _, p := range recs.Pods {
		byName[p.Name] = p
	}
	if !byName["a"].Preexisting {
		t.Error("a, from the first list, should be preexisting")
	}
	if b := byName["b"]; b.At[PodGone] == 0 || b.Timed(PodGone) {
		t.Errorf("b should be gone, untimed: %+v", b)
	}
	if c := byName["c"]; c.At[PodCreated] == 0 || c.Timed(PodCreated) {
		t.Errorf("c should be created, untimed: %+v", c)
	}
}

// listOnly serves lists page by page.
type listOnly struct {
	pages [][]corev1.Pod
	next  int
}

func (l *listOnly) ListWithContext(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
	if o.Continue == "" {
		l.next = 0
	}
	list := &corev1.PodList{Items: l.pages[l.next], ListMeta: metav1.ListMeta{ResourceVersion: "9"}}
	l.next++
	if l.next < len(l.pages) {
		list.Continue = "page-2"
	}
	return list, nil
}

func (l *listOnly) WatchWithContext(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
	return nil, apierrors.NewMethodNotSupported(schema.GroupResource{Resource: "pods"}, "watch")
}
