package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// objectWave is what the run knows of a create_objects wave: how its kind
// maps to a resource, and which of its objects exist.
type objectWave struct {
	create  *plan.CreateObjects
	mapping *meta.RESTMapping
	// live maps each existing object to its index in the wave.
	live map[objectKey]int
	// namespaces the wave's objects were created in.
	namespaces map[string]bool
}

type objectKey struct{ ns, name string }

func (k objectKey) String() string {
	if k.ns == "" {
		return k.name
	}
	return k.ns + "/" + k.name
}

// client returns the resource client for an object of the wave in ns.
func (w *objectWave) client(dyn dynamic.Interface, ns string) dynamic.ResourceInterface {
	if w.mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return dyn.Resource(w.mapping.Resource).Namespace(ns)
	}
	return dyn.Resource(w.mapping.Resource)
}

func (w *objectWave) sorted() []objectKey {
	keys := make([]objectKey, 0, len(w.live))
	for k := range w.live {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b objectKey) int { return w.live[a] - w.live[b] })
	return keys
}

func (a *actionCtx) createObjects(ctx context.Context, c *plan.CreateObjects) error {
	t := newTally()
	label := fmt.Sprintf("create_objects %s", c.Name)
	a.prog.track(label, c.Count, t)
	first, err := c.Template.Manifest(0)
	if err != nil {
		a.finish(t, c.Rate, "could not render the first object")
		return err
	}
	mapping, err := a.r.mappingFor(ctx, (&unstructured.Unstructured{Object: first}).GroupVersionKind())
	if err != nil {
		a.finish(t, c.Rate, fmt.Sprintf("no resource for %s %s", c.APIVersion, c.Kind))
		return err
	}
	w := &objectWave{create: c, mapping: mapping, live: map[objectKey]int{}, namespaces: map[string]bool{}}
	a.r.mu.Lock()
	a.r.objectWaves[c.Name] = w
	a.r.mu.Unlock()
	namespaced := mapping.Scope.Name() == meta.RESTScopeNameNamespace
	a.record("create %d %s (%s)", c.Count, c.Kind, mapping.Resource.Resource)
	err = pace(ctx, c.Rate, c.Count, nil, t, func(ctx context.Context, i int) error {
		m, err := c.Template.Manifest(i)
		if err != nil {
			return err
		}
		obj := &unstructured.Unstructured{Object: m}
		ns := ""
		if namespaced {
			ns = obj.GetNamespace()
			if ns == "" {
				ns = "default"
				obj.SetNamespace(ns)
			}
			if err := a.r.ensureNamespace(ctx, t, ns); err != nil {
				return err
			}
		} else {
			obj.SetNamespace("")
		}
		_, err = w.client(a.r.dyn, ns).Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldManager})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		a.r.mu.Lock()
		w.live[objectKey{ns, obj.GetName()}] = i
		w.namespaces[ns] = true
		a.r.mu.Unlock()
		return nil
	})
	a.finish(t, c.Rate, fmt.Sprintf("created %d of %d %s", t.ops.Load(), c.Count, plural(c.Count, c.Kind)))
	return err
}

func (a *actionCtx) objectWave(name string) *objectWave {
	a.r.mu.Lock()
	defer a.r.mu.Unlock()
	return a.r.objectWaves[name]
}

// updateObjects patches part of a wave every u.Every until u.For has passed.
// Every patch also sets plan.UpdateAnnotation to the round, so that each is
// a write the apiserver stores and watchers see.
func (a *actionCtx) updateObjects(ctx context.Context, u *plan.UpdateObjects) error {
	w := a.objectWave(u.Name)
	if w == nil {
		return fmt.Errorf("no objects of wave %q were created", u.Name)
	}
	t := newTally()
	start := time.Now()
	rounds := int((u.For.D()-1)/u.Every.D()) + 1
	label := fmt.Sprintf("update_objects %s", u.Name)
	a.prog.track(label, rounds, nil)
	var failed firstError
	for round := range rounds {
		if wait := time.Until(start.Add(time.Duration(round) * u.Every.D())); wait > 0 {
			select {
			case <-ctx.Done():
				a.finish(t, u.Rate, fmt.Sprintf("updated %d objects of %s in %d rounds", t.ops.Load(), u.Name, round))
				return context.Cause(ctx)
			case <-time.After(wait):
			}
		}
		a.r.mu.Lock()
		keys := w.sorted()
		a.r.mu.Unlock()
		chosen := a.pick(keys, u.Amount.Of(len(keys)))
		a.record("round %d: update %d of %s", round, len(chosen), u.Name)
		err := pace(ctx, u.Rate, len(chosen), nil, t, func(ctx context.Context, i int) error {
			k := chosen[i]
			a.r.mu.Lock()
			index := w.live[k]
			a.r.mu.Unlock()
			patch, err := mergePatch(u, index, round)
			if err != nil {
				return err
			}
			_, err = w.client(a.r.dyn, k.ns).Patch(ctx, k.name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
			if apierrors.IsNotFound(err) {
				return nil // deleted by someone else meanwhile
			}
			return err
		})
		failed.set(err)
		a.prog.advance(label, 1)
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(start.Add(u.For.D()))):
	}
	a.finish(t, u.Rate, fmt.Sprintf("updated %d objects of %s in %d rounds", t.ops.Load(), u.Name, rounds))
	a.res.Achieved = 0
	return failed.get()
}

// mergePatch is the patch for object index in round: the scenario's, with
// the round's annotation.
func mergePatch(u *plan.UpdateObjects, index, round int) ([]byte, error) {
	patch := map[string]any{}
	if u.Patch != nil {
		p, err := u.Patch.Manifest(index)
		if err != nil {
			return nil, err
		}
		patch = p
	}
	meta, _ := patch["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		patch["metadata"] = meta
	}
	annotations, _ := meta["annotations"].(map[string]any)
	if annotations == nil {
		annotations = map[string]any{}
		meta["annotations"] = annotations
	}
	annotations[plan.UpdateAnnotation] = strconv.Itoa(round + 1)
	return json.Marshal(patch)
}

// pick draws n of keys with the action's seeded generator, in wave order.
func (a *actionCtx) pick(keys []objectKey, n int) []objectKey {
	perm := a.rng.Perm(len(keys))[:min(n, len(keys))]
	slices.Sort(perm)
	out := make([]objectKey, len(perm))
	for i, p := range perm {
		out[i] = keys[p]
	}
	return out
}

func (a *actionCtx) deleteObjects(ctx context.Context, d *plan.DeleteObjects) error {
	w := a.objectWave(d.Name)
	if w == nil {
		return fmt.Errorf("no objects of wave %q were created", d.Name)
	}
	a.r.mu.Lock()
	keys := w.sorted()
	a.r.mu.Unlock()
	gone := a.pick(keys, d.Amount.Of(len(keys)))
	for _, k := range gone {
		a.record("delete %s %s", w.create.Kind, k)
	}
	t := newTally()
	a.prog.track(fmt.Sprintf("delete_objects %s", d.Name), len(gone), t)
	err := pace(ctx, d.Rate, len(gone), nil, t, func(ctx context.Context, i int) error {
		k := gone[i]
		err := w.client(a.r.dyn, k.ns).Delete(ctx, k.name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		a.r.mu.Lock()
		delete(w.live, k)
		a.r.mu.Unlock()
		return nil
	})
	a.finish(t, d.Rate, fmt.Sprintf("deleted %d of %d %s of %s", t.ops.Load(), len(gone), plural(len(gone), w.create.Kind), d.Name))
	return err
}

// deleteObjectWaves deletes, for Cleanup, the objects of create_objects
// waves outside the namespaces the run created (those go with their
// namespace), a collection per namespace.
func (r *runner) deleteObjectWaves(ctx context.Context, created []string) (string, error) {
	r.mu.Lock()
	var waves []*objectWave
	for _, w := range r.objectWaves {
		waves = append(waves, w)
	}
	r.mu.Unlock()
	var errs []error
	var cleared []string
	for _, w := range waves {
		for ns := range w.namespaces {
			if ns != "" && slices.Contains(created, ns) {
				continue
			}
			sel := metav1.ListOptions{LabelSelector: scenario.WaveLabel + "=" + w.create.Name}
			err := w.client(r.dyn, ns).DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete %s of wave %s: %w", w.mapping.Resource.Resource, w.create.Name, err))
				continue
			}
			where := "in " + ns
			if ns == "" {
				where = "cluster-wide"
			}
			cleared = append(cleared, fmt.Sprintf("%s of %s %s", w.mapping.Resource.Resource, w.create.Name, where))
		}
	}
	slices.Sort(cleared)
	if len(cleared) == 0 {
		return "", errors.Join(errs...)
	}
	return strings.Join(cleared, ", "), errors.Join(errs...)
}
