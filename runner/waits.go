package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kwok-run/kwok-run/runner/observe"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// waitPoll is how often a wait looks: at the tracker's watch-fed copy for
// pods, nodes, Deployments and Jobs, at the apiserver's watch cache
// (resourceVersion 0) for other kinds.
const waitPoll = 250 * time.Millisecond

// errHopeless is a wait that can no longer succeed (a Job failed): it ends
// at once instead of at its timeout.
var errHopeless = errors.New("can no longer succeed")

// progressOf is where a wait stands: how many objects are there, how many
// satisfy it, and how many must.
type progressOf struct {
	have, total, want int
	// detail names what is missing, for the message on timeout.
	detail string
}

func (p progressOf) done() bool { return p.want > 0 && p.have >= p.want }

func (a *actionCtx) wait(ctx context.Context, w *plan.Wait) error {
	if w.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.Timeout.D())
		defer cancel()
	}
	start := time.Now()
	label := "wait " + w.For
	a.prog.track(label, 0, nil)
	t := newTally()
	var last progressOf
	for {
		var err error
		last, err = a.check(ctx, w)
		if errors.Is(err, errHopeless) {
			a.finish(t, plan.Rate{}, fmt.Sprintf("%s: %d of %d after %s (%s)", w.For, last.have, last.want, time.Since(start).Round(10*time.Millisecond), last.detail))
			return fmt.Errorf("wait %s: %w", w.For, err)
		}
		if err != nil {
			t.failure(err)
		}
		a.prog.set(label, last.have, last.want)
		if err == nil && last.done() {
			a.finish(t, plan.Rate{}, fmt.Sprintf("%s: %d of %d after %s", w.For, last.have, last.want, time.Since(start).Round(10*time.Millisecond)))
			a.res.Done = last.have
			return nil
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("%s: %d of %d after %s", w.For, last.have, last.want, time.Since(start).Round(time.Second))
			if last.detail != "" {
				msg += " (" + last.detail + ")"
			}
			a.finish(t, plan.Rate{}, msg)
			if w.Timeout > 0 && ctx.Err() == context.DeadlineExceeded && context.Cause(ctx) == context.DeadlineExceeded {
				return fmt.Errorf("wait %s timed out after %s: %s", w.For, w.Timeout, msg)
			}
			return fmt.Errorf("%w: %s", context.Cause(ctx), msg)
		case <-time.After(waitPoll):
		}
	}
}

func listOptions(sel map[string]string) metav1.ListOptions {
	return metav1.ListOptions{ResourceVersion: "0", LabelSelector: labels.Set(sel).String()}
}

// check measures the wait's condition once.
func (a *actionCtx) check(ctx context.Context, w *plan.Wait) (progressOf, error) {
	switch w.For {
	case plan.WaitNodesReady:
		return a.checkNodes(ctx, w)
	case plan.WaitDeploymentsAvailable:
		return a.checkDeployments(ctx, w)
	case plan.WaitJobsComplete:
		return a.checkJobs(ctx, w)
	case plan.WaitObjects:
		return a.checkObjects(ctx, w)
	}
	return a.checkPods(ctx, w)
}

func (a *actionCtx) checkNodes(ctx context.Context, w *plan.Wait) (progressOf, error) {
	sel := map[string]string{}
	if w.Pool != "" {
		sel[PoolLabel] = w.Pool
	}
	nodes, err := a.r.tracker.list("nodes", "", sel)
	if err != nil {
		return progressOf{}, err
	}
	p := progressOf{total: len(nodes), want: w.Count}
	if p.want == 0 {
		// All the nodes the runner made (in the pool) must be Ready, and
		// those it is still making.
		a.r.mu.Lock()
		for name, pool := range a.r.pools {
			if w.Pool == "" || w.Pool == name {
				p.want += len(pool.live) + pool.creating
			}
		}
		a.r.mu.Unlock()
		p.want = max(p.want, p.total)
	}
	for _, n := range nodes {
		if nodeReady(n.(*corev1.Node)) {
			p.have++
		}
	}
	p.detail = fmt.Sprintf("%d nodes exist", p.total)
	return p, nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waveSize is how many pods the wave a wait names should have, or 0, and
// how many of its bare pods something other than kwok-run deleted (the
// taint manager evicts the pods of a node that went NotReady): those never
// come back.
func (a *actionCtx) waveSize(w *plan.Wait) (size, lost int) {
	name := w.Selector[scenario.WaveLabel]
	if name == "" || len(w.Selector) != 1 {
		return 0, 0
	}
	a.r.mu.Lock()
	defer a.r.mu.Unlock()
	ws := a.r.waves[name]
	if ws == nil {
		return 0, 0
	}
	if ws.create.Kind != plan.KindPod {
		return ws.pods, 0
	}
	return ws.pods - ws.deleted, a.r.tracker.podsGone(name) - ws.deleted
}

func (a *actionCtx) checkPods(ctx context.Context, w *plan.Wait) (progressOf, error) {
	pods, err := a.r.tracker.list("pods", w.Namespace, w.Selector)
	if err != nil {
		return progressOf{}, err
	}
	var live []*trackedPod
	for _, obj := range pods {
		if pod := obj.(*trackedPod); !pod.deleting {
			live = append(live, pod)
		}
	}
	if w.For == plan.WaitPodsDeleted {
		// Done when none is left, terminating ones included.
		left := len(pods)
		return progressOf{have: boolInt(left == 0), want: 1, total: left, detail: fmt.Sprintf("%d pods left", left)}, nil
	}
	p := progressOf{total: len(live), want: w.Count}
	if p.want == 0 {
		size, lost := a.waveSize(w)
		if lost > 0 {
			return p, fmt.Errorf("%w: %d pods of wave %s were deleted by the cluster, not by the scenario (evicted from nodes that went NotReady? see the events), and bare pods do not come back",
				errHopeless, lost, w.Selector[scenario.WaveLabel])
		}
		p.want = max(size, len(live), 1)
	}
	phases := map[corev1.PodPhase]int{}
	for _, pod := range live {
		phases[pod.phase]++
		switch w.For {
		case plan.WaitPodsScheduled:
			if pod.nodeName != "" {
				p.have++
			}
		case plan.WaitPodsRunning:
			if pod.phase == corev1.PodRunning {
				p.have++
			}
		case plan.WaitPodsSucceeded:
			if pod.phase == corev1.PodSucceeded {
				p.have++
			}
		}
	}
	p.detail = fmt.Sprintf("%d pods: %d Pending, %d Running, %d Succeeded, %d Failed",
		len(live), phases[corev1.PodPending], phases[corev1.PodRunning], phases[corev1.PodSucceeded], phases[corev1.PodFailed])
	return p, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (a *actionCtx) checkDeployments(ctx context.Context, w *plan.Wait) (progressOf, error) {
	list, err := a.r.tracker.list("deployments", w.Namespace, w.Selector)
	if err != nil {
		return progressOf{}, err
	}
	p := progressOf{total: len(list), want: max(w.Count, len(list), 1)}
	var replicas, available int32
	for _, obj := range list {
		d := obj.(*appsv1.Deployment)
		if observe.DeploymentAvailable(d) && a.asked(d) {
			p.have++
		}
		replicas += ptrOr(d.Spec.Replicas, 1)
		available += d.Status.AvailableReplicas
	}
	p.detail = fmt.Sprintf("%d of %d replicas available", available, replicas)
	return p, nil
}

// asked reports whether the watched copy of a workload the runner made
// already has the replicas the runner last asked for.
func (a *actionCtx) asked(d *appsv1.Deployment) bool {
	a.r.mu.Lock()
	defer a.r.mu.Unlock()
	ws := a.r.waves[d.Labels[scenario.WaveLabel]]
	if ws == nil {
		return true
	}
	want, ok := ws.replicas[d.Labels[ObjectLabel]]
	return !ok || ptrOr(d.Spec.Replicas, 1) == want
}

func ptrOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

func (a *actionCtx) checkJobs(ctx context.Context, w *plan.Wait) (progressOf, error) {
	list, err := a.r.tracker.list("jobs", w.Namespace, w.Selector)
	if err != nil {
		return progressOf{}, err
	}
	p := progressOf{total: len(list), want: max(w.Count, len(list), 1)}
	var succeeded, failed int32
	var failedJobs []string
	for _, obj := range list {
		j := obj.(*batchv1.Job)
		for _, c := range j.Status.Conditions {
			switch {
			case c.Status != corev1.ConditionTrue:
			case c.Type == batchv1.JobComplete:
				p.have++
			case c.Type == batchv1.JobFailed:
				failedJobs = append(failedJobs, fmt.Sprintf("%s/%s (%s)", j.Namespace, j.Name, c.Reason))
			}
		}
		succeeded += j.Status.Succeeded
		failed += j.Status.Failed
	}
	p.detail = fmt.Sprintf("%d pods succeeded, %d failed", succeeded, failed)
	if len(failedJobs) > 0 {
		return p, fmt.Errorf("%w: Job %s failed", errHopeless, strings.Join(failedJobs, ", "))
	}
	return p, nil
}

func (a *actionCtx) checkObjects(ctx context.Context, w *plan.Wait) (progressOf, error) {
	gv, err := schema.ParseGroupVersion(w.APIVersion)
	if err != nil {
		return progressOf{}, err
	}
	m, err := a.r.mapper.mapping(gv.WithKind(w.Kind))
	if err != nil {
		return progressOf{}, err
	}
	var res dynamic.ResourceInterface = a.r.dyn.Resource(m.Resource)
	if w.Namespace != "" && m.Scope.Name() == meta.RESTScopeNameNamespace {
		res = a.r.dyn.Resource(m.Resource).Namespace(w.Namespace)
	}
	list, err := res.List(ctx, listOptions(w.Selector))
	if err != nil {
		return progressOf{}, err
	}
	n := len(list.Items)
	return progressOf{have: n, total: n, want: w.Count, detail: fmt.Sprintf("%d %s", n, m.Resource.Resource)}, nil
}
