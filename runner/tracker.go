package runner

import (
	"context"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kwok-run/kwok-run/runner/observe"
	"github.com/kwok-run/kwok-run/scenario"
)

// tracker keeps a watch-fed copy of the objects waits look at, stripped to
// the fields they need: a wait over 10,000 pods then reads memory instead of
// asking the apiserver to list them twice a second. Its informers list and
// watch through the observing sources, so the same watch that feeds the
// waits stamps every transition for the measurements.
type tracker struct {
	informers map[string]cache.SharedIndexInformer
	cancel    context.CancelFunc
	stop      chan struct{}
	wg        sync.WaitGroup
}

// trackedKinds are the kinds the runner watches from before its first step.
var trackedKinds = []string{observe.Pods, observe.Nodes, observe.Deployments, observe.Jobs}

// startTracker starts one informer per tracked kind and returns once every
// one has listed what exists.
func startTracker(ctx context.Context, cs kubernetes.Interface, rec *observe.Recorder) (*tracker, error) {
	srcCtx, cancel := context.WithCancel(context.Background())
	t := &tracker{informers: map[string]cache.SharedIndexInformer{}, cancel: cancel, stop: make(chan struct{})}
	var synced []cache.InformerSynced
	for _, kind := range trackedKinds {
		lw, obj, err := observe.ListWatch(cs, kind)
		if err != nil {
			t.close()
			return nil, err
		}
		inf := cache.NewSharedIndexInformerWithOptions(observe.NewSource(srcCtx, kind, rec, lw, obj), obj, cache.SharedIndexInformerOptions{Indexers: trackerIndexers})
		if err := inf.SetTransform(strip); err != nil {
			t.close()
			return nil, err
		}
		t.informers[kind] = inf
		synced = append(synced, inf.HasSynced)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			inf.Run(t.stop)
		}()
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		t.close()
		return nil, fmt.Errorf("watch the cluster: %w", context.Cause(ctx))
	}
	return t, nil
}

// trackerIndexers let a wait that polls a wave, a pool or a namespace read
// only those objects: with 100,000 pods, listing them all four times a
// second was most of what the runner allocated.
var trackerIndexers = cache.Indexers{
	cache.NamespaceIndex: cache.MetaNamespaceIndexFunc,
	scenario.WaveLabel:   labelIndex(scenario.WaveLabel),
	PoolLabel:            labelIndex(PoolLabel),
}

func labelIndex(key string) cache.IndexFunc {
	return func(obj any) ([]string, error) {
		m, ok := obj.(metav1.Object)
		if !ok {
			return nil, nil
		}
		if v, ok := m.GetLabels()[key]; ok {
			return []string{v}, nil
		}
		return nil, nil
	}
}

// list returns the tracked objects of a kind in namespace (all when empty)
// that match the selector, read through the narrowest index that applies.
func (t *tracker) list(kind, namespace string, selector map[string]string) ([]any, error) {
	inf, ok := t.informers[kind]
	if !ok {
		return nil, fmt.Errorf("nothing tracks %s", kind)
	}
	var candidates []any
	var err error
	switch {
	case selector[scenario.WaveLabel] != "":
		candidates, err = inf.GetIndexer().ByIndex(scenario.WaveLabel, selector[scenario.WaveLabel])
	case selector[PoolLabel] != "":
		candidates, err = inf.GetIndexer().ByIndex(PoolLabel, selector[PoolLabel])
	case namespace != "":
		candidates, err = inf.GetIndexer().ByIndex(cache.NamespaceIndex, namespace)
	default:
		candidates = inf.GetStore().List()
	}
	if err != nil {
		return nil, err
	}
	sel := labels.SelectorFromSet(selector)
	// Filtered in place: both listings return a slice of their own.
	out := candidates[:0]
	for _, obj := range candidates {
		m, ok := obj.(metav1.Object)
		if !ok || (namespace != "" && m.GetNamespace() != namespace) || !sel.Matches(labels.Set(m.GetLabels())) {
			continue
		}
		out = append(out, obj)
	}
	return out, nil
}

// close stops the informers and waits until their watches are closed, so
// nothing is recorded after it returns.
func (t *tracker) close() {
	close(t.stop)
	t.cancel()
	t.wg.Wait()
}

// strip keeps what waits read of an object.
func strip(obj any) (any, error) {
	meta := func(m metav1.ObjectMeta) metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
			Generation: m.Generation, Labels: m.Labels, DeletionTimestamp: m.DeletionTimestamp,
		}
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		return &corev1.Pod{
			ObjectMeta: meta(o.ObjectMeta),
			Spec:       corev1.PodSpec{NodeName: o.Spec.NodeName},
			Status:     corev1.PodStatus{Phase: o.Status.Phase},
		}, nil
	case *corev1.Node:
		n := &corev1.Node{ObjectMeta: meta(o.ObjectMeta)}
		for _, c := range o.Status.Conditions {
			if c.Type == corev1.NodeReady {
				n.Status.Conditions = []corev1.NodeCondition{{Type: c.Type, Status: c.Status}}
			}
		}
		return n, nil
	case *appsv1.Deployment:
		return &appsv1.Deployment{ObjectMeta: meta(o.ObjectMeta), Spec: appsv1.DeploymentSpec{Replicas: o.Spec.Replicas}, Status: o.Status}, nil
	case *batchv1.Job:
		return &batchv1.Job{ObjectMeta: meta(o.ObjectMeta), Status: batchv1.JobStatus{
			Conditions: o.Status.Conditions, Succeeded: o.Status.Succeeded, Failed: o.Status.Failed,
		}}, nil
	}
	return obj, nil
}
