package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/utils/ptr"

	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// cleanupTimeout bounds Cleanup: long enough for tens of thousands of nodes
// and a namespace controller that takes its time, short enough that an
// interrupted run still ends.
const cleanupTimeout = 2 * time.Minute

// cleanupParallelism bounds the deletions in flight.
const cleanupParallelism = 32

// cleanup deletes what the run created: what apply created, newest first;
// the objects of waves in namespaces that were there before; the namespaces
// the run created, with everything in them; and the nodes of the plan's
// pools. It waits until the nodes and namespaces are gone, and says what it
// deleted, or what remained, in the log.
func (r *runner) cleanup(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, cleanupTimeout)
	defer cancel()
	begin := time.Now()
	var deleted []string
	var errs []error
	note := func(what string, err error) {
		if what != "" {
			deleted = append(deleted, what)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}

	note(r.deleteApplied(ctx))
	created := r.createdNamespaces()
	for _, w := range r.wavesIn(func(ns string) bool { return !slices.Contains(created, ns) }) {
		note(r.deleteWave(ctx, w))
	}
	note(r.deleteObjectWaves(ctx, created))
	for _, ns := range created {
		err := r.cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			note("", fmt.Errorf("delete namespace %s: %w", ns, err))
			continue
		}
		note("namespace "+ns, nil)
	}
	note(r.deleteNodes(ctx))

	remaining := r.awaitGone(ctx, created)
	if remaining != "" {
		errs = append(errs, fmt.Errorf("still there after %s: %s", since(begin), remaining))
	}
	if len(deleted) == 0 {
		deleted = append(deleted, "nothing")
	}
	err := errors.Join(errs...)
	if err != nil {
		logf(r.opts.Log, "cleanup: deleted %s; %v", strings.Join(deleted, ", "), err)
		return fmt.Errorf("cleanup: %w", err)
	}
	logf(r.opts.Log, "cleanup: deleted %s; all gone in %s", strings.Join(deleted, ", "), since(begin))
	return nil
}

// deleteApplied deletes the objects apply created, the last first: a custom
// resource before its CRD, an object before its namespace.
func (r *runner) deleteApplied(ctx context.Context) (string, error) {
	r.mu.Lock()
	applied := slices.Clone(r.applied)
	r.mu.Unlock()
	if len(applied) == 0 {
		return "", nil
	}
	var errs []error
	var names []string
	for _, o := range slices.Backward(applied) {
		err := o.res.Delete(ctx, o.name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s %s: %w", o.kind, o.name, err))
			continue
		}
		name := o.kind + " " + o.name
		if o.ns != "" {
			name = o.kind + " " + o.ns + "/" + o.name
		}
		names = append(names, name)
	}
	slices.Reverse(names)
	return fmt.Sprintf("%s apply created (%s)", plural(len(names), "object"), strings.Join(names, ", ")), errors.Join(errs...)
}

// createdNamespaces lists the namespaces the run created, sorted.
func (r *runner) createdNamespaces() []string {
	var out []string
	r.namespaces.Range(func(k, v any) bool {
		if v.(bool) {
			out = append(out, k.(string))
		}
		return true
	})
	slices.Sort(out)
	return out
}

// wavesIn lists the waves whose namespace keep says, by name.
func (r *runner) wavesIn(keep func(ns string) bool) []*plan.CreatePods {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*plan.CreatePods
	for _, w := range r.waves {
		if keep(w.create.Namespace) {
			out = append(out, w.create)
		}
	}
	slices.SortFunc(out, func(a, b *plan.CreatePods) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// deleteWave deletes a wave's workloads, their dependents with them, then
// any of its pods still there, by the wave label.
func (r *runner) deleteWave(ctx context.Context, c *plan.CreatePods) (string, error) {
	sel := metav1.ListOptions{LabelSelector: labels.Set{scenario.WaveLabel: c.Name}.String()}
	background := metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}
	var names []string
	var err error
	switch c.Kind {
	case plan.KindDeployment:
		names, err = deleteAll(ctx, func() ([]string, error) {
			l, err := r.cs.AppsV1().Deployments(c.Namespace).List(ctx, sel)
			if err != nil {
				return nil, err
			}
			return itemNames(l.Items), nil
		}, func(ctx context.Context, name string) error {
			return r.cs.AppsV1().Deployments(c.Namespace).Delete(ctx, name, background)
		})
	case plan.KindStatefulSet:
		names, err = deleteAll(ctx, func() ([]string, error) {
			l, err := r.cs.AppsV1().StatefulSets(c.Namespace).List(ctx, sel)
			if err != nil {
				return nil, err
			}
			return itemNames(l.Items), nil
		}, func(ctx context.Context, name string) error {
			return r.cs.AppsV1().StatefulSets(c.Namespace).Delete(ctx, name, background)
		})
	case plan.KindJob:
		names, err = deleteAll(ctx, func() ([]string, error) {
			l, err := r.cs.BatchV1().Jobs(c.Namespace).List(ctx, sel)
			if err != nil {
				return nil, err
			}
			return itemNames(l.Items), nil
		}, func(ctx context.Context, name string) error {
			return r.cs.BatchV1().Jobs(c.Namespace).Delete(ctx, name, background)
		})
	}
	if err != nil {
		return "", fmt.Errorf("delete wave %s: %w", c.Name, err)
	}
	// A KWOK pod has nothing to wait for when it is deleted.
	pods, err := deleteAll(ctx, func() ([]string, error) {
		l, err := r.cs.CoreV1().Pods(c.Namespace).List(ctx, sel)
		if err != nil {
			return nil, err
		}
		return itemNames(l.Items), nil
	}, func(ctx context.Context, name string) error {
		return r.cs.CoreV1().Pods(c.Namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	})
	if err != nil {
		return "", fmt.Errorf("delete the pods of wave %s: %w", c.Name, err)
	}
	what := plural(len(pods), "pod")
	if c.Kind != plan.KindPod {
		what = plural(len(names), c.Kind) + " and " + what
	}
	return fmt.Sprintf("%s of wave %s in %s", what, c.Name, c.Namespace), nil
}

// poolSelector selects the nodes of the plan's pools.
func (r *runner) poolSelector() (string, bool) {
	var pools []string
	for _, p := range r.plan.Pools {
		pools = append(pools, p.Name)
	}
	if len(pools) == 0 {
		return "", false
	}
	req, err := labels.NewRequirement(PoolLabel, selection.In, pools)
	if err != nil {
		return "", false
	}
	return labels.NewSelector().Add(*req).String(), true
}

// deleteNodes deletes every node of the plan's pools, also those whose
// creation the run never heard back about.
func (r *runner) deleteNodes(ctx context.Context) (string, error) {
	sel, ok := r.poolSelector()
	if !ok {
		return "", nil
	}
	names, err := deleteAll(ctx, func() ([]string, error) {
		l, err := r.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return nil, err
		}
		return itemNames(l.Items), nil
	}, func(ctx context.Context, name string) error {
		return r.cs.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	})
	if err != nil {
		return "", fmt.Errorf("delete the nodes: %w", err)
	}
	return plural(len(names), "node"), nil
}

// itemNames are the names of a list's items.
func itemNames[T any, P interface {
	*T
	GetName() string
}](items []T) []string {
	out := make([]string, len(items))
	for i := range items {
		out[i] = P(&items[i]).GetName()
	}
	return out
}

// deleteAll deletes what list names, cleanupParallelism at a time, and
// returns the names it deleted; one already gone counts as deleted.
func deleteAll(ctx context.Context, list func() ([]string, error), del func(context.Context, string) error) ([]string, error) {
	t := newTally()
	var names []string
	if err := retry(ctx, t, func(context.Context) (err error) {
		names, err = list()
		return err
	}); err != nil {
		return nil, err
	}
	done := make([]bool, len(names))
	err := pace(ctx, plan.Rate{Parallelism: cleanupParallelism}, len(names), nil, t, func(ctx context.Context, i int) error {
		if err := del(ctx, names[i]); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		done[i] = true
		return nil
	})
	var out []string
	for i, ok := range done {
		if ok {
			out = append(out, names[i])
		}
	}
	return out, err
}

// awaitGone waits until the namespaces and the pools' nodes no longer
// exist, and describes what is still there when ctx ends first.
func (r *runner) awaitGone(ctx context.Context, namespaces []string) string {
	sel, pools := r.poolSelector()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		var left []string
		for _, ns := range namespaces {
			if _, err := r.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				left = append(left, "namespace "+ns)
			}
		}
		if pools {
			l, err := r.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sel})
			switch {
			case err != nil:
				left = append(left, fmt.Sprintf("nodes of the pools (cannot list them: %v)", err))
			case len(l.Items) > 0:
				var names []string
				for _, n := range l.Items {
					names = append(names, n.Name)
				}
				slices.Sort(names)
				left = append(left, fmt.Sprintf("%s (%s)", plural(len(names), "node"), strings.Join(names[:min(len(names), 5)], ", ")))
			}
		}
		if len(left) == 0 {
			return ""
		}
		select {
		case <-ctx.Done():
			return strings.Join(left, ", ")
		case <-tick.C:
		}
	}
}

func since(t time.Time) string { return time.Since(t).Round(10 * time.Millisecond).String() }

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
