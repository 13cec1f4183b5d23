package runner

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"

	"github.com/kwok-run/kwok-run/scenario/stages"
)

var stageResource = kwokv1alpha1.GroupVersion.WithResource("stages")

// switchLifecycle replaces the pod stages KWOK plays: the new lifecycle's
// stages are applied over the old ones of the same name (so pods are never
// without a stage), then the old lifecycle's other stages are deleted.
func (r *runner) switchLifecycle(ctx context.Context, step int, name string) error {
	l := r.plan.Lifecycle(name)
	if l == nil {
		return fmt.Errorf("no pod_lifecycle %q", name)
	}
	res := r.dyn.Resource(stageResource)
	t := newTally()
	for i := range l.Stages {
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&l.Stages[i])
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{Object: obj}
		u.SetAPIVersion(kwokv1alpha1.GroupVersion.String())
		u.SetKind(kwokv1alpha1.StageKind)
		if err := retry(ctx, t, func(ctx context.Context) error {
			_, err := res.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
			return err
		}); err != nil {
			return fmt.Errorf("switch to pod_lifecycle %s: apply stage %s: %w", name, u.GetName(), err)
		}
	}
	selector := fmt.Sprintf("%s,%s!=%s", stages.LifecycleLabel, stages.LifecycleLabel, name)
	if err := retry(ctx, t, func(ctx context.Context) error {
		return res.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: selector})
	}); err != nil {
		return fmt.Errorf("switch to pod_lifecycle %s: delete the old stages: %w", name, err)
	}
	r.ops.add([2]int{step, -1}, "switch to pod_lifecycle "+name)
	return nil
}
