package runner

import (
	"context"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/kwok-run/kwok-run/runner/observe"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// ensureNamespace creates a namespace once per run; one that exists is fine,
// and is remembered as not the run's, so Cleanup leaves it.
func (r *runner) ensureNamespace(ctx context.Context, t *tally, ns string) error {
	if _, done := r.namespaces.Load(ns); done {
		return nil
	}
	created := false
	err := retry(ctx, t, func(ctx context.Context) error {
		_, err := r.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		created = err == nil
		return err
	})
	if err != nil {
		return err
	}
	// Two actions may race to create it: the one that did must win.
	if created {
		r.namespaces.Store(ns, true)
	} else {
		r.namespaces.LoadOrStore(ns, false)
	}
	return nil
}

func (a *actionCtx) createPods(ctx context.Context, c *plan.CreatePods) error {
	ws := &waveState{create: c, pods: c.Count, replicas: map[string]int32{}}
	for i := range c.Objects {
		ws.replicas[objectName(c.Name, i)] = int32(c.ReplicasOf(i))
	}
	a.r.mu.Lock()
	a.r.waves[c.Name] = ws
	a.r.mu.Unlock()
	t := newTally()
	if err := a.r.ensureNamespace(ctx, t, c.Namespace); err != nil {
		a.finish(t, c.Rate, fmt.Sprintf("could not create namespace %s", c.Namespace))
		return err
	}
	for i := range c.Objects {
		a.record("create %s %s/%s with %d pods", c.Kind, c.Namespace, objectName(c.Name, i), c.ReplicasOf(i))
	}
	label := fmt.Sprintf("create_pods %s", c.Name)
	a.prog.track(label+" (pods)", c.Count, t)
	err := pace(ctx, c.Rate, c.Objects, c.ReplicasOf, t, func(ctx context.Context, i int) error {
		obj, err := workload(c, i)
		if err != nil {
			return err
		}
		return a.r.create(ctx, c.Namespace, obj)
	})
	what := "pods"
	if c.Kind != plan.KindPod {
		what = "pods in " + plural(c.Objects, c.Kind)
	}
	a.finish(t, c.Rate, fmt.Sprintf("created %d of %d %s in %s", t.units.Load(), c.Count, what, c.Namespace))
	return err
}

// create sends one typed object to the apiserver and tells the recorder
// what it created. An object already there is a retry's whose first try
// went through unanswered: it is read back for its UID.
func (r *runner) create(ctx context.Context, ns string, obj any) error {
	var (
		kind, name string
		uid        types.UID
		err        error
	)
	// The typed clients return an empty object with an error.
	switch o := obj.(type) {
	case *corev1.Pod:
		kind, name = observe.Pods, o.Name
		o, err = createOrGet(ctx, o, r.cs.CoreV1().Pods(ns))
		uid = o.UID
	case *appsv1.Deployment:
		kind, name = observe.Deployments, o.Name
		o, err = createOrGet(ctx, o, r.cs.AppsV1().Deployments(ns))
		uid = o.UID
	case *appsv1.StatefulSet:
		_, err = createOrGet(ctx, o, r.cs.AppsV1().StatefulSets(ns))
	case *batchv1.Job:
		kind, name = observe.Jobs, o.Name
		o, err = createOrGet(ctx, o, r.cs.BatchV1().Jobs(ns))
		uid = o.UID
	default:
		err = fmt.Errorf("cannot create %T", obj)
	}
	if err == nil && kind != "" && uid != "" {
		r.recorder.Created(kind, ns, name, uid)
	}
	return err
}

// createOrGet creates obj, or, when it exists already, reads it back for
// its UID. An object that cannot be read back (gone again, or already
// being deleted, so perhaps another) was still created: it comes back
// without a UID, and is not counted.
func createOrGet[T interface {
	GetName() string
	GetDeletionTimestamp() *metav1.Time
	SetUID(types.UID)
}](ctx context.Context, obj T, c interface {
	Create(context.Context, T, metav1.CreateOptions) (T, error)
	Get(context.Context, string, metav1.GetOptions) (T, error)
}) (T, error) {
	created, err := c.Create(ctx, obj, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return created, err
	}
	if got, err := c.Get(ctx, obj.GetName(), metav1.GetOptions{}); err == nil && got.GetDeletionTimestamp() == nil {
		return got, nil
	}
	obj.SetUID("")
	return obj, nil
}

// spread divides count pods over n objects the way create_pods does: full
// objects of per first, the remainder after.
func spread(count, n, per int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = max(min(per, count), 0)
		count -= out[i]
	}
	return out
}

func (a *actionCtx) scalePods(ctx context.Context, s *plan.ScalePods) error {
	a.r.mu.Lock()
	w := a.r.waves[s.Wave]
	a.r.mu.Unlock()
	if w == nil {
		return fmt.Errorf("wave %s was never created", s.Wave)
	}
	per := (s.Count + s.Objects - 1) / max(s.Objects, 1)
	replicas := spread(s.Count, s.Objects, per)
	// The wave asks for the new sizes from now on, so a wait in the same
	// step does not finish on the old ones.
	a.r.mu.Lock()
	w.pods = s.Count
	for i, n := range replicas {
		w.replicas[objectName(s.Wave, i)] = int32(n)
	}
	a.r.mu.Unlock()
	for i, n := range replicas {
		a.record("scale %s %s/%s to %d", s.Kind, s.Namespace, objectName(s.Wave, i), n)
	}
	t := newTally()
	a.prog.track("scale_pods "+s.Wave, s.Objects, t)
	err := pace(ctx, s.Rate, s.Objects, nil, t, func(ctx context.Context, i int) error {
		patch := []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas[i]))
		var err error
		name := objectName(s.Wave, i)
		if s.Kind == plan.KindDeployment {
			_, err = a.r.cs.AppsV1().Deployments(s.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		} else {
			_, err = a.r.cs.AppsV1().StatefulSets(s.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		}
		return err
	})
	a.finish(t, s.Rate, fmt.Sprintf("scaled %s of %s to %d pods in all", plural(int(t.ops.Load()), s.Kind), s.Wave, s.Count))
	return err
}

// countDeleted counts bare pods of a wave that kwok-run deletes, so that a
// wait can tell them from pods the cluster deleted.
func (a *actionCtx) countDeleted(wave string, n int) {
	a.r.mu.Lock()
	defer a.r.mu.Unlock()
	if ws := a.r.waves[wave]; ws != nil && ws.create.Kind == plan.KindPod {
		ws.deleted += n
	}
}

func (a *actionCtx) deletePods(ctx context.Context, d *plan.DeletePods) error {
	t := newTally()
	var pods *corev1.PodList
	err := retry(ctx, t, func(ctx context.Context) (err error) {
		pods, err = a.r.cs.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.Set(d.Selector).String()})
		return err
	})
	if err != nil {
		a.finish(t, d.Rate, "could not list the pods to delete")
		return err
	}
	var names []string
	waveOf := map[string]string{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			names = append(names, p.Name)
			waveOf[p.Name] = p.Labels[scenario.WaveLabel]
		}
	}
	// Pods of workloads have generated names, so the draw is over the pods
	// as they are now, sorted; for bare pods it repeats exactly.
	slices.Sort(names)
	gone := a.victims(names, d.Amount.Of(len(names)))
	for _, n := range gone {
		a.record("delete pod %s/%s", d.Namespace, n)
	}
	a.prog.track("delete_pods "+d.Namespace, len(gone), t)
	err = pace(ctx, d.Rate, len(gone), nil, t, func(ctx context.Context, i int) error {
		// Counted before the request: its watch event may come first.
		a.countDeleted(waveOf[gone[i]], 1)
		err := a.r.cs.CoreV1().Pods(d.Namespace).Delete(ctx, gone[i], metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			a.countDeleted(waveOf[gone[i]], -1)
		}
		return err
	})
	a.finish(t, d.Rate, fmt.Sprintf("deleted %d of %d pods in %s", t.ops.Load(), len(gone), d.Namespace))
	return err
}

func plural(n int, kind string) string {
	if n == 1 {
		return "1 " + kind
	}
	return fmt.Sprintf("%d %ss", n, kind)
}
