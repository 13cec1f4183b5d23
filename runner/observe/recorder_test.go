package observe

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

func pod(name, uid, node string, phase corev1.PodPhase, ready bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid), CreationTimestamp: metav1.Unix(1000, 0)},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: phase},
	}
	if node != "" {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Unix(1001, 0)})
	}
	if ready {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Unix(1003, 0)})
	}
	return p
}

const ms = time.Millisecond

func TestPodLifecycleStampedOnReceipt(t *testing.T) {
	r := NewRecorder(time.Now())
	r.observe(Pods, watch.Added, pod("a", "u1", "", corev1.PodPending, false), 10*ms, Live)
	r.observe(Pods, watch.Modified, pod("a", "u1", "n1", corev1.PodPending, false), 20*ms, Live)
	r.observe(Pods, watch.Modified, pod("a", "u1", "n1", corev1.PodRunning, true), 2020*ms, Live)
	// Later events change nothing already stamped.
	r.observe(Pods, watch.Modified, pod("a", "u1", "n1", corev1.PodRunning, true), 3000*ms, Live)
	r.observe(Pods, watch.Modified, pod("a", "u1", "n1", corev1.PodSucceeded, false), 4000*ms, Live)
	r.observe(Pods, watch.Deleted, pod("a", "u1", "n1", corev1.PodSucceeded, false), 5000*ms, Live)

	recs := r.Records()
	if len(recs.Pods) != 1 {
		t.Fatalf("%d pods recorded, want 1", len(recs.Pods))
	}
	p := recs.Pods[0]
	want := [podTransitions]time.Duration{10 * ms, 20 * ms, 2020 * ms, 2020 * ms, 4000 * ms, 0, 5000 * ms, 5000 * ms}
	if p.At != want {
		t.Errorf("stamps %v, want %v", p.At, want)
	}
	if p.Inexact != 0 || p.Node != "n1" {
		t.Errorf("inexact %b, node %q", p.Inexact, p.Node)
	}
	if p.ServerCreated != 1000 || p.ServerScheduled != 1001 || p.ServerReady != 1003 {
		t.Errorf("server times %d %d %d", p.ServerCreated, p.ServerScheduled, p.ServerReady)
	}
	if len(r.pods) != 0 {
		t.Error("a gone pod is still in the live map")
	}
}

func TestSkippedStatesAreStampedButNotTimed(t *testing.T) {
	r := NewRecorder(time.Now())
	// Succeeded arrives with Running never seen: Running is known to have
	// happened, not when.
	r.observe(Pods, watch.Added, pod("b", "u2", "", corev1.PodPending, false), 10*ms, Live)
	r.observe(Pods, watch.Modified, pod("b", "u2", "n1", corev1.PodSucceeded, false), 900*ms, Live)
	b := r.Records().Pods[0]
	if b.Timed(PodRunning) || b.At[PodRunning] != 900*ms {
		t.Errorf("running inferred from Succeeded: at %v, timed %v; want stamped, untimed", b.At[PodRunning], b.Timed(PodRunning))
	}
	if !b.Timed(PodSucceeded) {
		t.Error("succeeded, seen live, is not timed")
	}
}

func TestReplayedAndRelistedTransitionsAreNotTimed(t *testing.T) {
	r := NewRecorder(time.Now())
	r.observe(Pods, watch.Added, pod("a", "u1", "", corev1.PodPending, false), 10*ms, Live)
	r.observe(Pods, watch.Modified, pod("a", "u1", "n1", corev1.PodPending, false), 500*ms, Replayed)
	// A pod created and scheduled while the watch was down, found by a relist.
	r.observe(Pods, watch.Modified, pod("b", "u2", "n1", corev1.PodPending, false), 600*ms, Relisted)
	recs := r.Records()
	a, b := recs.Pods[0], recs.Pods[1]
	if !a.Timed(PodCreated) || a.Timed(PodScheduled) || a.At[PodScheduled] != 500*ms {
		t.Errorf("a: %+v", a)
	}
	if b.Timed(PodCreated) || b.Timed(PodScheduled) || b.At[PodCreated] != 600*ms {
		t.Errorf("b: %+v", b)
	}
	if len(recs.Examples) != 3 {
		t.Errorf("examples %q, want the three untimed transitions", recs.Examples)
	}
}

func TestInitialObjectsAreNotMeasured(t *testing.T) {
	r := NewRecorder(time.Now())
	r.observe(Pods, watch.Modified, pod("old", "u0", "n1", corev1.PodRunning, true), 1*ms, Initial)
	r.observe(Pods, watch.Modified, pod("old", "u0", "n1", corev1.PodSucceeded, false), 50*ms, Live)
	p := r.Records().Pods[0]
	if !p.Preexisting || p.At != [podTransitions]time.Duration{} {
		t.Errorf("a pod from before the run was measured: %+v", p)
	}
}

func TestNameReusedByANewPod(t *testing.T) {
	r := NewRecorder(time.Now())
	r.observe(Pods, watch.Added, pod("web-0", "u1", "", corev1.PodPending, false), 10*ms, Live)
	r.observe(Pods, watch.Added, pod("web-0", "u2", "", corev1.PodPending, false), 90*ms, Live)
	recs := r.Records()
	if len(recs.Pods) != 2 {
		t.Fatalf("%d records, want 2", len(recs.Pods))
	}
	if recs.Pods[0].At[PodGone] != 90*ms || recs.Pods[0].Timed(PodGone) {
		t.Errorf("the first pod should be gone, untimed, at 90ms: %+v", recs.Pods[0])
	}
	if !recs.Pods[1].Timed(PodCreated) {
		t.Error("the second pod's creation is not timed")
	}
}

func TestSweepEndsWhatARelistNoLongerShows(t *testing.T) {
	r := NewRecorder(time.Now())
	r.observe(Pods, watch.Added, pod("a", "u1", "", corev1.PodPending, false), 10*ms, Live)
	r.observe(Pods, watch.Added, pod("b", "u2", "", corev1.PodPending, false), 10*ms, Live)
	r.sweep(Pods, map[objKey]bool{{"ns", "b"}: true}, 700*ms)
	recs := r.Records()
	if a := recs.Pods[0]; a.At[PodGone] != 700*ms || a.Timed(PodGone) {
		t.Errorf("a: gone %v timed %v", a.At[PodGone], a.Timed(PodGone))
	}
	if recs.Pods[1].At[PodGone] != 0 {
		t.Error("b was swept though the relist showed it")
	}
	if recs.Watches[0].Relists != 1 {
		t.Errorf("relists %d", recs.Watches[0].Relists)
	}
}

func node(name, uid string, ready bool) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(uid)},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}},
	}
}

func TestNodeOutages(t *testing.T) {
	r := NewRecorder(time.Now())
	r.observe(Nodes, watch.Added, node("n", "u", false), 10*ms, Live)
	r.observe(Nodes, watch.Modified, node("n", "u", true), 400*ms, Live)
	r.observe(Nodes, watch.Modified, node("n", "u", false), 1000*ms, Live)
	r.observe(Nodes, watch.Modified, node("n", "u", false), 1100*ms, Live)
	r.observe(Nodes, watch.Modified, node("n", "u", true), 3000*ms, Live)
	n := r.Records().Nodes[0]
	if n.At[NodeCreated] != 10*ms || n.At[NodeReady] != 400*ms {
		t.Errorf("stamps %v", n.At)
	}
	if len(n.Outages) != 1 || n.Outages[0] != (Interval{Start: 1000 * ms, End: 3000 * ms}) {
		t.Errorf("outages %+v, want one from 1s to 3s", n.Outages)
	}
}

func TestDeploymentRollouts(t *testing.T) {
	dep := func(gen, observed int64, want, available int32) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u", Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(want)},
			Status:     appsv1.DeploymentStatus{ObservedGeneration: observed, Replicas: available, UpdatedReplicas: available, AvailableReplicas: available},
		}
	}
	r := NewRecorder(time.Now())
	r.observe(Deployments, watch.Added, dep(1, 0, 10, 0), 100*ms, Live)
	r.observe(Deployments, watch.Modified, dep(1, 1, 10, 4), 900*ms, Live)
	r.observe(Deployments, watch.Modified, dep(1, 1, 10, 10), 2000*ms, Live)
	r.observe(Deployments, watch.Modified, dep(2, 1, 5, 10), 5000*ms, Live)
	r.observe(Deployments, watch.Modified, dep(2, 2, 5, 5), 5500*ms, Live)
	d := r.Records().Deployments[0]
	want := []Interval{{Start: 100 * ms, End: 2000 * ms}, {Start: 5000 * ms, End: 5500 * ms}}
	if fmt.Sprint(d.Rollouts) != fmt.Sprint(want) {
		t.Errorf("rollouts %+v, want %+v", d.Rollouts, want)
	}
}

// BenchmarkPodRecordBytes measures what the recorder keeps per pod beyond
// the objects the informers hold: created, bound, Running, Ready.
func BenchmarkPodRecordBytes(b *testing.B) {
	const n = 20000
	pods := make([][]*corev1.Pod, n)
	for i := range pods {
		name, uid := fmt.Sprintf("pod-%06d", i), fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
		pods[i] = []*corev1.Pod{
			pod(name, uid, "", corev1.PodPending, false),
			pod(name, uid, "node-1", corev1.PodPending, false),
			pod(name, uid, "node-1", corev1.PodRunning, true),
		}
	}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := NewRecorder(time.Now())
		for i, events := range pods {
			for j, p := range events {
				typ := watch.Modified
				if j == 0 {
					typ = watch.Added
				}
				r.observe(Pods, typ, p, time.Duration(i*3+j+1), Live)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/pod")
		runtime.KeepAlive(r)
	}
}

func endpointSlice(name, service string, ready int) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{
		Namespace: "ns", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: service},
	}}
	for range ready {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}})
	return es
}

// A Service's endpoints are ready when its slices, together, list as many
// ready endpoints as it selects Running pods; the latency runs from the
// later of its creation and the last of those pods' Running.
func TestServiceEndpointsReady(t *testing.T) {
	r := NewRecorder(time.Now())
	running := []string{"a", "b", "c"}
	r.SetSelectRunning(func(ns string, sel map[string]string) []string {
		if ns != "ns" || sel["app"] != "web" {
			t.Errorf("asked for %s %v", ns, sel)
		}
		return running
	})
	for i, name := range running {
		r.observe(Pods, watch.Added, pod(name, "u"+name, "n1", corev1.PodRunning, true), time.Duration(100+i)*ms, Live)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "s1"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}}
	r.observe(Services, watch.Added, svc, 50*ms, Live)
	headless := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "external", UID: "s2"}}
	r.observe(Services, watch.Added, headless, 60*ms, Live)
	r.observe(EndpointSlices, watch.Added, endpointSlice("web-1", "web", 2), 200*ms, Live)
	if s := r.Records().Services[0]; s.EndpointsReady != 0 {
		t.Fatalf("ready at %s with 2 of 3 pods listed", s.EndpointsReady)
	}
	r.observe(EndpointSlices, watch.Added, endpointSlice("web-2", "web", 1), 300*ms, Live)
	// Later changes do not move the moment.
	r.observe(EndpointSlices, watch.Modified, endpointSlice("web-2", "web", 0), 400*ms, Live)
	r.observe(EndpointSlices, watch.Modified, endpointSlice("web-2", "web", 1), 500*ms, Live)
	recs := r.Records()
	if len(recs.Services) != 1 {
		t.Fatalf("%d services recorded, want the one with a selector", len(recs.Services))
	}
	if s := recs.Services[0]; s.EndpointsReady != 300*ms || s.From != 102*ms || s.Inexact {
		t.Errorf("endpoints ready at %s from %s (inexact %v), want 300ms from 102ms", s.EndpointsReady, s.From, s.Inexact)
	}
}

// The Service's EndpointSlices may arrive, complete, before the Service
// itself (two watches, in no order between them): its endpoints are ready
// when the Service comes, not timed and not counted as missed; a slice
// deleted before its Service came, or owned by an earlier Service of the
// same name, does not count.
func TestEndpointSlicesBeforeTheirService(t *testing.T) {
	r := NewRecorder(time.Now())
	r.SetSelectRunning(func(ns string, sel map[string]string) []string { return []string{"a", "b"} })
	owned := func(es *discoveryv1.EndpointSlice, uid string) *discoveryv1.EndpointSlice {
		es.OwnerReferences = []metav1.OwnerReference{{Kind: "Service", Name: es.Labels[discoveryv1.LabelServiceName], UID: types.UID(uid)}}
		return es
	}
	r.observe(EndpointSlices, watch.Added, owned(endpointSlice("web-1", "web", 2), "sweb"), 100*ms, Live)
	r.observe(EndpointSlices, watch.Added, endpointSlice("gone-1", "gone", 2), 100*ms, Live)
	r.observe(EndpointSlices, watch.Deleted, endpointSlice("gone-1", "gone", 2), 110*ms, Live)
	r.observe(EndpointSlices, watch.Added, owned(endpointSlice("old-1", "old", 2), "an-earlier-uid"), 120*ms, Live)
	for i, name := range []string{"web", "gone", "old"} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("s" + name)}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}}}
		r.observe(Services, watch.Added, svc, time.Duration(150+i)*ms, Live)
	}
	recs := r.Records()
	if s := recs.Services[0]; s.EndpointsReady != 150*ms || !s.Early || s.Inexact {
		t.Errorf("web: endpoints ready at %s (early %v, inexact %v), want at its arrival, 150ms, early", s.EndpointsReady, s.Early, s.Inexact)
	}
	for _, s := range recs.Services[1:] {
		if s.EndpointsReady != 0 {
			t.Errorf("%s: endpoints ready at %s from a slice not its own", s.Name, s.EndpointsReady)
		}
	}
	if len(r.earlySlices) != 0 || len(recs.Examples) != 0 {
		t.Errorf("slices kept after their Services came: %v; missed: %v", r.earlySlices, recs.Examples)
	}
}

// Objects created in a run's last moments are still on their way when the
// run ends: WaitSeen gives the watches that moment.
func TestWaitSeen(t *testing.T) {
	r := NewRecorder(time.Now())
	r.Created(Pods, "ns", "late", "u1")
	go func() {
		time.Sleep(100 * time.Millisecond)
		r.observe(Pods, watch.Added, pod("late", "u1", "", corev1.PodPending, false), 100*ms, Live)
	}()
	r.WaitSeen(time.Minute)
	if recs := r.Records(); len(recs.Unseen) != 0 || recs.Created != 1 {
		t.Errorf("unseen %v of %d created, want none", recs.UnseenExamples, recs.Created)
	}
}

// What kwok-run created and no watch saw (made and gone during a relisted
// gap) is counted by UID, with names; what was seen, even only in a
// relist, and a name reused by a new object are not mistaken for it.
func TestCreatedButNeverSeen(t *testing.T) {
	r := NewRecorder(time.Now())
	r.Created(Pods, "ns", "a", "u1")
	r.observe(Pods, watch.Added, pod("a", "u1", "", corev1.PodPending, false), 10*ms, Live)
	r.Created(Pods, "ns", "b", "u2")
	r.observe(Pods, watch.Modified, pod("b", "u2", "n1", corev1.PodRunning, false), 20*ms, Relisted)
	r.Created(Pods, "ns", "c", "u3") // created and deleted inside the gap
	r.Created(Pods, "ns", "d", "u4") // its name later taken by another pod
	r.observe(Pods, watch.Added, pod("d", "u5", "", corev1.PodPending, false), 30*ms, Live)
	r.Created(Nodes, "", "n7", "u6")
	r.observe(Nodes, watch.Added, node("n7", "u6", true), 40*ms, Live)
	recs := r.Records()
	if len(recs.Unseen) != 2 || !slices.Equal(recs.UnseenExamples, []string{"pod ns/c", "pod ns/d"}) {
		t.Errorf("unseen %v (%v), want pods ns/c and ns/d", recs.Unseen, recs.UnseenExamples)
	}
}
