package runner

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

// mapper resolves kinds to resources through discovery, and looks again when
// a kind is unknown: a CRD applied a moment ago takes a moment to be served.
type mapper struct {
	mu     sync.Mutex
	cached discovery.CachedDiscoveryInterface
	rm     *restmapper.DeferredDiscoveryRESTMapper
}

func newMapper(d discovery.DiscoveryInterface) *mapper {
	c := memory.NewMemCacheClient(d)
	return &mapper{cached: c, rm: restmapper.NewDeferredDiscoveryRESTMapper(c)}
}

func (m *mapper) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mapping, err := m.rm.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		m.rm.Reset()
		mapping, err = m.rm.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return mapping, err
}

// resource returns the client for an object's kind and namespace.
func (r *runner) resource(ctx context.Context, obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	m, err := r.mappingFor(ctx, obj.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := obj.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		return r.dyn.Resource(m.Resource).Namespace(ns), nil
	}
	return r.dyn.Resource(m.Resource), nil
}

// mappingFor resolves a kind to its resource.
func (r *runner) mappingFor(ctx context.Context, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	var m *meta.RESTMapping
	var err error
	// A kind defined by a CRD applied in the same file becomes known within
	// a second or two.
	for wait := 100 * time.Millisecond; ; wait *= 2 {
		if m, err = r.mapper.mapping(gvk); err == nil || !meta.IsNoMatchError(err) || wait > 5*time.Second {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", gvk.Kind, err)
	}
	return m, nil
}

// FieldManager is the name kwok-run applies as.
const FieldManager = "kwok-run"

func (a *actionCtx) apply(ctx context.Context, ap *plan.Apply) error {
	var docs []*unstructured.Unstructured
	for _, f := range ap.Files {
		for i, d := range f.Documents {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(d), &obj.Object); err != nil {
				return fmt.Errorf("%s document %d: %w", f.Path, i+1, err)
			}
			docs = append(docs, obj)
		}
	}
	verb := "apply"
	if ap.Delete {
		verb = "delete"
	}
	for _, d := range docs {
		a.record("%s %s/%s", verb, d.GetKind(), d.GetName())
	}
	t := newTally()
	a.prog.track(verb, len(docs), t)
	// In file order, one at a time: a manifest may define a CRD and then
	// use it, or a namespace and then fill it. Deletion goes backwards.
	order := make([]int, len(docs))
	for i := range order {
		order[i] = i
		if ap.Delete {
			order[i] = len(docs) - 1 - i
		}
	}
	sequential := ap.Rate
	sequential.Parallelism = 1
	err := pace(ctx, sequential, len(docs), nil, t, func(ctx context.Context, i int) error {
		obj := docs[order[i]]
		res, err := a.r.resource(ctx, obj)
		if err != nil {
			return err
		}
		if ap.Delete {
			err := res.Delete(ctx, obj.GetName(), metav1.DeleteOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
		return a.r.applyOne(ctx, res, obj)
	})
	a.finish(t, ap.Rate, fmt.Sprintf("%s: %d of %d objects", verb, t.ops.Load(), len(docs)))
	return err
}

// appliedObject is an object apply created, which Cleanup deletes.
type appliedObject struct {
	res            dynamic.ResourceInterface
	kind, ns, name string
}

// applyOne applies obj. With Cleanup it first asks whether obj exists: an
// object the run only changed is not the run's to delete.
func (r *runner) applyOne(ctx context.Context, res dynamic.ResourceInterface, obj *unstructured.Unstructured) error {
	existed := true
	if r.opts.Cleanup {
		_, err := res.Get(ctx, obj.GetName(), metav1.GetOptions{})
		existed = !apierrors.IsNotFound(err)
	}
	if _, err := res.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return err
	}
	if !existed {
		r.mu.Lock()
		r.applied = append(r.applied, appliedObject{res: res, kind: obj.GetKind(), ns: obj.GetNamespace(), name: obj.GetName()})
		r.mu.Unlock()
	}
	return nil
}
