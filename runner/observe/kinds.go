package observe

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// ListWatch is the typed list and watch of kind, and an empty object of it
// for the informer.
func ListWatch(cs kubernetes.Interface, kind string) (cache.ListerWatcherWithContext, runtime.Object, error) {
	var (
		list func(context.Context, metav1.ListOptions) (runtime.Object, error)
		wat  func(context.Context, metav1.ListOptions) (watch.Interface, error)
		obj  runtime.Object
	)
	switch kind {
	case Pods:
		c := cs.CoreV1().Pods("")
		list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) }
		wat, obj = WatchLean(cs.CoreV1().RESTClient(), Pods), &corev1.Pod{}
	case Nodes:
		c := cs.CoreV1().Nodes()
		list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) }
		wat, obj = WatchLean(cs.CoreV1().RESTClient(), Nodes), &corev1.Node{}
	case Deployments:
		c := cs.AppsV1().Deployments("")
		list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) }
		wat, obj = c.Watch, &appsv1.Deployment{}
	case Jobs:
		c := cs.BatchV1().Jobs("")
		list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) }
		wat, obj = c.Watch, &batchv1.Job{}
	case Services:
		c := cs.CoreV1().Services("")
		list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) }
		wat, obj = c.Watch, &corev1.Service{}
	case EndpointSlices:
		c := cs.DiscoveryV1().EndpointSlices("")
		list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) }
		wat, obj = c.Watch, &discoveryv1.EndpointSlice{}
	default:
		return nil, nil, fmt.Errorf("nothing observes %s", kind)
	}
	return &cache.ListWatch{ListWithContextFunc: list, WatchFuncWithContext: wat}, obj, nil
}
