package runner

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"unique"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kwok-run/kwok-run/runner/observe"
	"github.com/kwok-run/kwok-run/scenario"
)

// tracker keeps a watch-fed copy of the objects waits look at, reduced to
// the fields they read: a wait over 10,000 pods then reads memory instead of
// asking the apiserver to list them twice a second. Each kind is one
// reflector listing and watching through the observing sources, so the same
// watch that feeds the waits stamps every transition for the measurements,
// and writing straight into an indexer: no informer queue holds a second
// copy of what arrives faster than it is read.
type tracker struct {
	stores map[string]cache.Indexer
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// gone counts the deleted pods of each wave: a bare pod deleted by the
	// cluster (evicted) never comes back, and a wait for it must say so.
	goneMu sync.Mutex
	gone   map[string]int
}

// trackedKinds are the kinds the runner watches from before its first step.
var trackedKinds = []string{observe.Pods, observe.Nodes, observe.Deployments, observe.Jobs, observe.Services, observe.EndpointSlices}

// startTracker starts one reflector per tracked kind and returns once every
// one has listed what exists.
func startTracker(ctx context.Context, cs kubernetes.Interface, rec *observe.Recorder) (*tracker, error) {
	srcCtx, cancel := context.WithCancel(context.Background())
	t := &tracker{stores: map[string]cache.Indexer{}, cancel: cancel, gone: map[string]int{}}
	var reflectors []*cache.Reflector
	for _, kind := range trackedKinds {
		lw, obj, err := observe.ListWatch(cs, kind)
		if err != nil {
			t.close()
			return nil, err
		}
		store := cache.NewIndexer(trackerKey, trackerIndexers)
		t.stores[kind] = store
		r := cache.NewReflectorWithOptions(observe.NewSource(srcCtx, kind, rec, lw, obj), obj,
			reducingStore{store, t.deleted}, cache.ReflectorOptions{Name: "tracker " + kind})
		reflectors = append(reflectors, r)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			r.RunWithContext(srcCtx)
		}()
	}
	listed := func() bool {
		for _, r := range reflectors {
			if r.LastSyncResourceVersion() == "" {
				return false
			}
		}
		return true
	}
	if !cache.WaitForCacheSync(ctx.Done(), listed) {
		t.close()
		return nil, fmt.Errorf("watch the cluster: %w", context.Cause(ctx))
	}
	return t, nil
}

// trackedPod is what waits read of a pod. Pods are the objects a run has by
// the hundred thousand, so it is a few words rather than a corev1.Pod
// (1.2 KiB before its maps), and the strings pods share (namespace, node,
// phase, label keys and wave names) are interned.
type trackedPod struct {
	namespace, name string
	labels          labelList
	nodeName        string
	phase           corev1.PodPhase
	deleting        bool
}

// labelList holds labels as key, value pairs: a slice of two pairs is a
// quarter of the smallest map.
type labelList []string

func newLabelList(m map[string]string) labelList {
	l := make(labelList, 0, 2*len(m))
	for k, v := range m {
		l = append(l, intern(k), v)
	}
	return l
}

// Has, Get and Lookup make a labelList a labels.Labels, for selectors.
func (l labelList) Has(key string) bool { _, ok := l.Lookup(key); return ok }

func (l labelList) Get(key string) string { v, _ := l.Lookup(key); return v }

func (l labelList) Lookup(key string) (string, bool) {
	for i := 0; i < len(l); i += 2 {
		if l[i] == key {
			return l[i+1], true
		}
	}
	return "", false
}

func intern(s string) string { return unique.Make(s).Value() }

// reduce turns what a watch delivered into what the tracker keeps.
func reduce(obj any) any {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return reduce(d.Obj)
	}
	meta := func(m metav1.ObjectMeta) metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
			Generation: m.Generation, Labels: m.Labels, DeletionTimestamp: m.DeletionTimestamp,
		}
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		p := &trackedPod{
			namespace: intern(o.Namespace), name: o.Name, labels: newLabelList(o.Labels),
			nodeName: o.Spec.NodeName, phase: corev1.PodPhase(intern(string(o.Status.Phase))),
			deleting: o.DeletionTimestamp != nil,
		}
		if p.nodeName != "" {
			p.nodeName = intern(p.nodeName)
		}
		// Interned, the wave's name is shared by all its pods.
		for i := 0; i < len(p.labels); i += 2 {
			if p.labels[i] == scenario.WaveLabel {
				p.labels[i+1] = intern(p.labels[i+1])
			}
		}
		return p
	case *corev1.Node:
		n := &corev1.Node{ObjectMeta: meta(o.ObjectMeta)}
		for _, c := range o.Status.Conditions {
			if c.Type == corev1.NodeReady {
				n.Status.Conditions = []corev1.NodeCondition{{Type: c.Type, Status: c.Status}}
			}
		}
		return n
	case *appsv1.Deployment:
		return &appsv1.Deployment{ObjectMeta: meta(o.ObjectMeta), Spec: appsv1.DeploymentSpec{Replicas: o.Spec.Replicas}, Status: o.Status}
	case *batchv1.Job:
		return &batchv1.Job{ObjectMeta: meta(o.ObjectMeta), Status: batchv1.JobStatus{
			Conditions: o.Status.Conditions, Succeeded: o.Status.Succeeded, Failed: o.Status.Failed,
		}}
	case *corev1.Service:
		// The recorder has timed it; waits read none of it.
		return &corev1.Service{ObjectMeta: meta(o.ObjectMeta)}
	case *discoveryv1.EndpointSlice:
		return &discoveryv1.EndpointSlice{ObjectMeta: meta(o.ObjectMeta)}
	}
	return obj
}

// reducingStore is the reflector's side of an indexer: it stores each
// object reduced, and tells deleted of every deletion.
type reducingStore struct {
	cache.Indexer
	deleted func(obj any)
}

func (s reducingStore) Add(obj any) error    { return s.Indexer.Add(reduce(obj)) }
func (s reducingStore) Update(obj any) error { return s.Indexer.Update(reduce(obj)) }

func (s reducingStore) Delete(obj any) error {
	r := reduce(obj)
	s.deleted(r)
	return s.Indexer.Delete(r)
}

// deleted counts a deleted pod of a wave.
func (t *tracker) deleted(obj any) {
	if p, ok := obj.(*trackedPod); ok {
		if wave, ok := p.labels.Lookup(scenario.WaveLabel); ok {
			t.goneMu.Lock()
			t.gone[wave]++
			t.goneMu.Unlock()
		}
	}
}

// runningPods are the Running pods of namespace that selector matches, by
// name: what a Service's EndpointSlices should list.
func (t *tracker) runningPods(namespace string, selector map[string]string) []string {
	objs, err := t.list(observe.Pods, namespace, selector)
	if err != nil {
		return nil
	}
	var out []string
	for _, o := range objs {
		if p, ok := o.(*trackedPod); ok && p.phase == corev1.PodRunning && !p.deleting {
			out = append(out, p.name)
		}
	}
	return out
}

// podsGone is how many pods of a wave were deleted, by anyone.
func (t *tracker) podsGone(wave string) int {
	t.goneMu.Lock()
	defer t.goneMu.Unlock()
	return t.gone[wave]
}

func (s reducingStore) Replace(list []any, rv string) error {
	for i, obj := range list {
		list[i] = reduce(obj)
	}
	return s.Indexer.Replace(list, rv)
}

// trackerKey is the namespace/name key of a tracked object.
func trackerKey(obj any) (string, error) {
	if p, ok := obj.(*trackedPod); ok {
		if p.namespace == "" {
			return p.name, nil
		}
		return p.namespace + "/" + p.name, nil
	}
	return cache.MetaNamespaceKeyFunc(obj)
}

// namespaceAndLabels reads what selectors match of a tracked object.
func namespaceAndLabels(obj any) (string, labels.Labels, bool) {
	switch o := obj.(type) {
	case *trackedPod:
		return o.namespace, o.labels, true
	case metav1.Object:
		return o.GetNamespace(), labels.Set(o.GetLabels()), true
	}
	return "", nil, false
}

// trackerIndexers let a wait that polls a wave, a pool or a namespace read
// only those objects: with 100,000 pods, listing them all four times a
// second was most of what the runner allocated.
var trackerIndexers = cache.Indexers{
	cache.NamespaceIndex: func(obj any) ([]string, error) {
		ns, _, ok := namespaceAndLabels(obj)
		if !ok {
			return nil, nil
		}
		return []string{ns}, nil
	},
	scenario.WaveLabel: labelIndex(scenario.WaveLabel),
	PoolLabel:          labelIndex(PoolLabel),
}

func labelIndex(key string) cache.IndexFunc {
	return func(obj any) ([]string, error) {
		_, l, ok := namespaceAndLabels(obj)
		if ok && l.Has(key) {
			return []string{l.Get(key)}, nil
		}
		return nil, nil
	}
}

// list returns the tracked objects of a kind in namespace (all when empty)
// that match the selector, read through the narrowest index that applies.
func (t *tracker) list(kind, namespace string, selector map[string]string) ([]any, error) {
	store, ok := t.stores[kind]
	if !ok {
		return nil, fmt.Errorf("nothing tracks %s", kind)
	}
	var candidates []any
	var err error
	// The index read satisfies its label; only the rest is matched, so a
	// wait on a wave of 100,000 pods compares no labels at all.
	rest := maps.Clone(selector)
	switch {
	case selector[scenario.WaveLabel] != "":
		candidates, err = store.ByIndex(scenario.WaveLabel, selector[scenario.WaveLabel])
		delete(rest, scenario.WaveLabel)
	case selector[PoolLabel] != "":
		candidates, err = store.ByIndex(PoolLabel, selector[PoolLabel])
		delete(rest, PoolLabel)
	case namespace != "":
		candidates, err = store.ByIndex(cache.NamespaceIndex, namespace)
	default:
		candidates = store.List()
	}
	if err != nil {
		return nil, err
	}
	if namespace == "" && len(rest) == 0 {
		return candidates, nil
	}
	sel := labels.SelectorFromSet(rest)
	// Filtered in place: both listings return a slice of their own.
	out := slices.DeleteFunc(candidates, func(obj any) bool {
		ns, l, ok := namespaceAndLabels(obj)
		return !ok || (namespace != "" && ns != namespace) || !sel.Matches(l)
	})
	return out, nil
}

// close stops the reflectors and waits until their watches are closed, so
// nothing is recorded after it returns.
func (t *tracker) close() {
	t.cancel()
	t.wg.Wait()
}
