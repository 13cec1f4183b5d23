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
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// tracker keeps a watch-fed copy of the objects waits look at, stripped to
// the fields they need: a wait over 10,000 pods then reads memory instead of
// asking the apiserver to list them twice a second.
type tracker struct {
	factory informers.SharedInformerFactory
	stop    chan struct{}

	mu     sync.Mutex
	synced map[string]cache.SharedIndexInformer
}

func newTracker(cs kubernetes.Interface) *tracker {
	return &tracker{
		factory: informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTransform(strip)),
		stop:    make(chan struct{}),
		synced:  map[string]cache.SharedIndexInformer{},
	}
}

// informer returns the named kind's informer, started and synced.
func (t *tracker) informer(ctx context.Context, kind string) (cache.SharedIndexInformer, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if inf, ok := t.synced[kind]; ok {
		return inf, nil
	}
	var inf cache.SharedIndexInformer
	switch kind {
	case "pods":
		inf = t.factory.Core().V1().Pods().Informer()
	case "nodes":
		inf = t.factory.Core().V1().Nodes().Informer()
	case "deployments":
		inf = t.factory.Apps().V1().Deployments().Informer()
	case "jobs":
		inf = t.factory.Batch().V1().Jobs().Informer()
	default:
		return nil, fmt.Errorf("nothing tracks %s", kind)
	}
	t.factory.Start(t.stop)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil, fmt.Errorf("watch %s: %w", kind, context.Cause(ctx))
	}
	t.synced[kind] = inf
	return inf, nil
}

// list returns the tracked objects of a kind in namespace (all when empty)
// that match the selector.
func (t *tracker) list(ctx context.Context, kind, namespace string, selector map[string]string) ([]any, error) {
	inf, err := t.informer(ctx, kind)
	if err != nil {
		return nil, err
	}
	sel := labels.SelectorFromSet(selector)
	var out []any
	for _, obj := range inf.GetStore().List() {
		m, ok := obj.(metav1.Object)
		if !ok || (namespace != "" && m.GetNamespace() != namespace) || !sel.Matches(labels.Set(m.GetLabels())) {
			continue
		}
		out = append(out, obj)
	}
	return out, nil
}

func (t *tracker) close() {
	close(t.stop)
	t.factory.Shutdown()
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
