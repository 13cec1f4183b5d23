package runner

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/kwok-run/kwok-run/backends/components"
	"github.com/kwok-run/kwok-run/runner/observe"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// poolNodes is what the runner knows of a pool's nodes: it created them, so
// it does not need to ask, and its choices do not depend on list order.
type poolNodes struct {
	pool *plan.NodePool
	// ordinal is the pool's place in the scenario, for node addresses.
	ordinal int
	// live maps a node's name to its template index.
	live map[string]int
	// creating counts the nodes create_nodes actions have yet to try: a
	// wait for the pool in the same step holds for them too, or it would
	// end whenever the nodes made so far happened to be Ready.
	creating int
	// generation counts replacements per index, for fresh names.
	generation map[int]int
	notReady   map[string]bool
}

// nodeName is a pool's node i, or its gen-th replacement: a replacement gets
// a new name, because KWOK may still hold work queued for the old one.
func nodeName(pool string, i, gen int) string {
	if gen == 0 {
		return fmt.Sprintf("%s-%d", pool, i)
	}
	return fmt.Sprintf("%s-%d-r%d", pool, i, gen)
}

// sorted lists the live nodes by name, the order victims are drawn from.
func (p *poolNodes) sorted(filter func(string) bool) []string {
	var names []string
	for n := range p.live {
		if filter == nil || filter(n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

func (a *actionCtx) pool(name string) *poolNodes {
	return a.r.pools[name]
}

func (a *actionCtx) createNodes(ctx context.Context, c *plan.CreateNodes) error {
	p := a.pool(c.Pool)
	names := make([]string, c.Count)
	for i := range names {
		names[i] = nodeName(c.Pool, c.FirstIndex+i, 0)
		a.record("create node %s", names[i])
	}
	t := newTally()
	a.prog.track(fmt.Sprintf("create_nodes %s", c.Pool), c.Count, t)
	a.r.mu.Lock()
	p.creating += c.Count
	a.r.mu.Unlock()
	tried := 0
	err := pace(ctx, c.Rate, c.Count, nil, t, func(ctx context.Context, i int) error {
		err := a.createNode(ctx, p, names[i], c.FirstIndex+i)
		a.r.mu.Lock()
		p.creating--
		tried++
		a.r.mu.Unlock()
		return err
	})
	a.r.mu.Lock()
	p.creating -= c.Count - tried
	a.r.mu.Unlock()
	a.finish(t, c.Rate, fmt.Sprintf("created %d of %d nodes of %s", t.ops.Load(), c.Count, c.Pool))
	return err
}

func (a *actionCtx) createNode(ctx context.Context, p *poolNodes, name string, index int) error {
	n, err := node(p.pool, p.ordinal, index, name, a.r.plan.Cluster)
	if err != nil {
		return err
	}
	created, err := createOrGet(ctx, n, a.r.cs.CoreV1().Nodes())
	if err != nil {
		return err
	}
	if created.UID != "" {
		a.r.recorder.Created(observe.Nodes, "", name, created.UID)
	}
	a.r.mu.Lock()
	p.live[name] = index
	a.r.mu.Unlock()
	return nil
}

// victims draws n of names with the action's seeded generator.
func (a *actionCtx) victims(names []string, n int) []string {
	perm := a.rng.Perm(len(names))
	out := make([]string, 0, n)
	for _, i := range perm[:min(n, len(names))] {
		out = append(out, names[i])
	}
	slices.Sort(out)
	return out
}

func (a *actionCtx) deleteNodes(ctx context.Context, d *plan.DeleteNodes) error {
	p := a.pool(d.Pool)
	a.r.mu.Lock()
	names := p.sorted(nil)
	a.r.mu.Unlock()
	gone := a.victims(names, d.Amount.Of(len(names)))
	for _, n := range gone {
		a.record("delete node %s", n)
	}
	t := newTally()
	a.prog.track(fmt.Sprintf("delete_nodes %s", d.Pool), len(gone), t)
	err := pace(ctx, d.Rate, len(gone), nil, t, func(ctx context.Context, i int) error {
		return a.deleteNode(ctx, p, gone[i])
	})
	a.finish(t, d.Rate, fmt.Sprintf("deleted %d of %d nodes of %s", t.ops.Load(), len(gone), d.Pool))
	return err
}

func (a *actionCtx) deleteNode(ctx context.Context, p *poolNodes, name string) error {
	err := a.r.cs.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	a.r.mu.Lock()
	delete(p.live, name)
	delete(p.notReady, name)
	a.r.mu.Unlock()
	return nil
}

// churnNodes disturbs part of a pool every c.Every until c.For has passed.
func (a *actionCtx) churnNodes(ctx context.Context, c *plan.ChurnNodes) error {
	p := a.pool(c.Pool)
	t := newTally()
	start := time.Now()
	rounds := int((c.For.D()-1)/c.Every.D()) + 1
	a.prog.track(fmt.Sprintf("churn_nodes %s (%s)", c.Pool, c.Mode), rounds, nil)
	var recoveries sync.WaitGroup
	var failed firstError
	for round := 0; round < rounds; round++ {
		if wait := time.Until(start.Add(time.Duration(round) * c.Every.D())); wait > 0 {
			select {
			case <-ctx.Done():
				recoveries.Wait()
				a.finish(t, c.Rate, fmt.Sprintf("churned %d nodes of %s in %d rounds (%s)", t.ops.Load(), c.Pool, round, c.Mode))
				return context.Cause(ctx)
			case <-time.After(wait):
			}
		}
		a.r.mu.Lock()
		candidates := p.sorted(func(n string) bool { return !p.notReady[n] })
		a.r.mu.Unlock()
		victims := a.victims(candidates, c.Amount.Of(len(candidates)))
		for _, v := range victims {
			a.record("round %d: %s node %s", round, c.Mode, v)
		}
		err := pace(ctx, c.Rate, len(victims), nil, t, func(ctx context.Context, i int) error {
			return a.disturb(ctx, p, c, victims[i])
		})
		failed.set(err)
		if c.Mode == plan.ChurnNotReady && c.RecoverAfter > 0 {
			recoveries.Add(1)
			time.AfterFunc(c.RecoverAfter.D(), func() {
				defer recoveries.Done()
				for _, v := range victims {
					failed.set(retry(ctx, t, func(ctx context.Context) error { return a.setNotReady(ctx, p, v, false) }))
				}
			})
		}
		a.prog.advance(fmt.Sprintf("churn_nodes %s (%s)", c.Pool, c.Mode), 1)
	}
	// The churn lasts its duration: the last round comes at most one every
	// before the end, and what follows it is still churn, measured as such.
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(start.Add(c.For.D()))):
	}
	// Nodes made NotReady near the end still come back before the action
	// ends, unless the step is cut short.
	recoveries.Wait()
	a.finish(t, c.Rate, fmt.Sprintf("churned %d nodes of %s in %d rounds (%s)", t.ops.Load(), c.Pool, rounds, c.Mode))
	// Requests come in rounds: a rate over the whole churn says nothing.
	a.res.Achieved = 0
	return failed.get()
}

func (a *actionCtx) disturb(ctx context.Context, p *poolNodes, c *plan.ChurnNodes, name string) error {
	switch c.Mode {
	case plan.ChurnDelete:
		return a.deleteNode(ctx, p, name)
	case plan.ChurnReplace:
		a.r.mu.Lock()
		index := p.live[name]
		if p.generation == nil {
			p.generation = map[int]int{}
		}
		p.generation[index]++
		fresh := nodeName(p.pool.Name, index, p.generation[index])
		a.r.mu.Unlock()
		if err := a.deleteNode(ctx, p, name); err != nil {
			return err
		}
		return a.createNode(ctx, p, fresh, index)
	default:
		return a.setNotReady(ctx, p, name, true)
	}
}

// setNotReady labels a node for KWOK's not-ready stage, or removes the label
// so that KWOK initializes it back to Ready.
func (a *actionCtx) setNotReady(ctx context.Context, p *poolNodes, name string, on bool) error {
	value := "null"
	if on {
		value = `"true"`
	}
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, components.NotReadyLabel, value)
	if _, err := a.r.cs.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	a.r.mu.Lock()
	if on {
		p.notReady[name] = true
	} else {
		delete(p.notReady, name)
	}
	a.r.mu.Unlock()
	return nil
}

// firstError keeps the first error set from several goroutines.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) set(err error) {
	if err == nil {
		return
	}
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
