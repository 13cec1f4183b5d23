// Package observe records the lifecycle of every pod, node, Deployment and
// Job of a run from watch events, each transition stamped on receipt with the
// monotonic clock. It keeps a few names and stamps per object, never the
// objects, and it knows which transitions it could not time (a watch that
// was down, a relist), so a measurement is exact or says it is not.
package observe

import (
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

// maxExamples bounds the inexact transitions named in a report.
const maxExamples = 5

// Recorder turns the objects the sources receive into records. It is safe
// for concurrent use.
type Recorder struct {
	start time.Time

	mu sync.Mutex
	// The maps hold the objects that exist; the slices every object seen,
	// gone ones too.
	pods           map[objKey]*Pod
	allPods        []*Pod
	nodes          map[string]*Node
	allNodes       []*Node
	deployments    map[objKey]*Deployment
	allDeployments []*Deployment
	jobs           map[objKey]*Job
	allJobs        []*Job
	services       map[objKey]*Service
	allServices    []*Service
	// earlySlices are the ready counts of EndpointSlices, by slice, of
	// Services not seen yet.
	earlySlices   map[objKey]map[string]earlySlice
	selectRunning SelectRunning
	watches       map[string]*WatchStats
	examples      []string
	// created are the objects kwok-run itself created, to count those no
	// watch saw.
	created []createdObject
}

type createdObject struct {
	kind, ns, name string
	uid            uint64
	at             time.Duration
}

type objKey struct{ ns, name string }

// NewRecorder returns a recorder whose stamps count from start.
func NewRecorder(start time.Time) *Recorder {
	return &Recorder{
		start: start,
		pods:  map[objKey]*Pod{}, nodes: map[string]*Node{},
		deployments: map[objKey]*Deployment{}, jobs: map[objKey]*Job{}, services: map[objKey]*Service{}, earlySlices: map[objKey]map[string]earlySlice{},
		watches: map[string]*WatchStats{},
	}
}

// Since is the stamp of now.
func (r *Recorder) Since() time.Duration { return time.Since(r.start) }

// Records returns what was recorded so far. The records themselves are
// shared: read them only once the sources have stopped.
func (r *Recorder) Records() Records {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := Records{
		Pods: slices.Clone(r.allPods), Nodes: slices.Clone(r.allNodes),
		Deployments: slices.Clone(r.allDeployments), Jobs: slices.Clone(r.allJobs), Services: slices.Clone(r.allServices),
		Examples: slices.Clone(r.examples),
	}
	for _, k := range []string{Pods, Nodes, Deployments, Jobs, Services, EndpointSlices} {
		if w := r.watches[k]; w != nil {
			c := *w
			c.Resumed = slices.Clone(w.Resumed)
			out.Watches = append(out.Watches, c)
		}
	}
	r.unseen(&out)
	return out
}

// Created tells the recorder that kwok-run created an object of kind (Pods,
// Nodes, Deployments, Jobs) with this UID: a watch that was down and
// relisted cannot see an object made and gone in the gap, and only those
// kwok-run made can be counted.
func (r *Recorder) Created(kind, ns, name string, uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created = append(r.created, createdObject{kind: kind, ns: ns, name: name, uid: uidHash(uid), at: time.Since(r.start)})
}

// WaitSeen waits, at most limit, until a watch has seen every object
// kwok-run created: those created in the last moments of a run are on their
// way, and are not what Unseen counts.
func (r *Recorder) WaitSeen(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		r.mu.Lock()
		n := len(r.unseenObjects())
		r.mu.Unlock()
		if n == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// unseenObjects are the created objects that no watch saw.
func (r *Recorder) unseenObjects() []createdObject {
	if len(r.created) == 0 {
		return nil
	}
	seen := make(map[uint64]bool, len(r.allPods)+len(r.allNodes))
	for _, p := range r.allPods {
		seen[p.uid] = true
	}
	for _, n := range r.allNodes {
		seen[n.uid] = true
	}
	for _, d := range r.allDeployments {
		seen[d.uid] = true
	}
	for _, j := range r.allJobs {
		seen[j.uid] = true
	}
	var out []createdObject
	for _, c := range r.created {
		if !seen[c.uid] {
			out = append(out, c)
		}
	}
	return out
}

// unseen counts the created objects that no watch saw.
func (r *Recorder) unseen(out *Records) {
	out.Created = len(r.created)
	for _, c := range r.unseenObjects() {
		out.Unseen = append(out.Unseen, c.at)
		if len(out.UnseenExamples) < maxExamples {
			name := c.name
			if c.ns != "" {
				name = c.ns + "/" + name
			}
			out.UnseenExamples = append(out.UnseenExamples, c.kind[:len(c.kind)-1]+" "+name)
		}
	}
}

func uidHash(uid types.UID) uint64 {
	h := fnv.New64a()
	h.Write([]byte(uid))
	return h.Sum64()
}

// observe takes one object of kind as it arrived.
func (r *Recorder) observe(kind string, typ watch.EventType, obj runtime.Object, at time.Duration, origin Origin) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if origin == Live || origin == Replayed {
		r.watch(kind).Events++
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		r.pod(typ, o, at, origin)
	case *corev1.Node:
		r.node(typ, o, at, origin)
	case *appsv1.Deployment:
		r.deployment(typ, o, at, origin)
	case *batchv1.Job:
		r.job(typ, o, at, origin)
	case *corev1.Service:
		r.service(typ, o, at, origin)
	case *discoveryv1.EndpointSlice:
		r.endpointSlice(typ, o, at, origin)
	}
}

func (r *Recorder) watch(kind string) *WatchStats {
	w := r.watches[kind]
	if w == nil {
		w = &WatchStats{Kind: kind}
		r.watches[kind] = w
	}
	return w
}

// track lists a watch in the records even when no event ever comes.
func (r *Recorder) track(kind string) {
	r.mu.Lock()
	r.watch(kind)
	r.mu.Unlock()
}

func (r *Recorder) resumed(kind string, gap time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.watch(kind)
	w.Restarts++
	w.Resumed = append(w.Resumed, r.Since())
	w.LongestGap = max(w.LongestGap, gap)
}

// missed names the first few transitions that cannot be timed.
func (r *Recorder) missed(kind, ns, name, what string, at time.Duration) {
	if len(r.examples) < maxExamples {
		if ns != "" {
			name = ns + "/" + name
		}
		r.examples = append(r.examples, fmt.Sprintf("%s %s %s, seen at %.3fs", kind[:len(kind)-1], name, what, at.Seconds()))
	}
}

func (r *Recorder) pod(typ watch.EventType, p *corev1.Pod, at time.Duration, origin Origin) {
	k := objKey{p.Namespace, p.Name}
	uid := uidHash(p.UID)
	rec := r.pods[k]
	if rec != nil && rec.uid != uid {
		// A new pod under an old name (a StatefulSet's, recreated): the old
		// one went while no watch saw it go.
		r.podStamp(rec, PodGone, at, false)
		delete(r.pods, k)
		rec = nil
	}
	if rec == nil {
		if typ == watch.Deleted {
			return
		}
		rec = &Pod{Namespace: p.Namespace, Name: p.Name, uid: uid, ServerCreated: p.CreationTimestamp.Unix()}
		r.pods[k] = rec
		r.allPods = append(r.allPods, rec)
		if origin == Initial {
			rec.Preexisting = true
			return
		}
		r.podStamp(rec, PodCreated, at, origin == Live && typ == watch.Added)
	}
	if typ == watch.Deleted {
		delete(r.pods, k)
	}
	if rec.Preexisting {
		return
	}
	exact := origin == Live
	// A later state implies the earlier ones: those not seen are stamped
	// now but not timed.
	phase := p.Status.Phase
	done := phase == corev1.PodSucceeded || phase == corev1.PodFailed
	if p.Spec.NodeName != "" {
		rec.Node = p.Spec.NodeName
		r.podStamp(rec, PodScheduled, at, exact)
	}
	if phase == corev1.PodRunning || done {
		r.podStamp(rec, PodScheduled, at, false)
		r.podStamp(rec, PodRunning, at, exact && !done)
	}
	for _, c := range p.Status.Conditions {
		switch {
		case c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue && rec.ServerScheduled == 0:
			rec.ServerScheduled = c.LastTransitionTime.Unix()
		case c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue:
			if rec.ServerReady == 0 {
				rec.ServerReady = c.LastTransitionTime.Unix()
			}
			r.podStamp(rec, PodReady, at, exact)
		}
	}
	switch phase {
	case corev1.PodSucceeded:
		r.podStamp(rec, PodSucceeded, at, exact)
	case corev1.PodFailed:
		r.podStamp(rec, PodFailed, at, exact)
	}
	if p.DeletionTimestamp != nil {
		r.podStamp(rec, PodDeleting, at, exact)
	}
	if typ == watch.Deleted {
		// A pod deleted with no grace period goes in one event: the request
		// and the removal are the same moment.
		r.podStamp(rec, PodDeleting, at, exact)
		r.podStamp(rec, PodGone, at, exact)
	}
}

func (r *Recorder) podStamp(rec *Pod, t PodTransition, at time.Duration, exact bool) {
	if rec.stamp(t, at, exact) && !exact {
		r.missed(Pods, rec.Namespace, rec.Name, t.String(), at)
	}
}

func nodeReady(n *corev1.Node) (bool, int64) {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue, c.LastTransitionTime.Unix()
		}
	}
	return false, 0
}

func (r *Recorder) node(typ watch.EventType, n *corev1.Node, at time.Duration, origin Origin) {
	uid := uidHash(n.UID)
	rec := r.nodes[n.Name]
	if rec != nil && rec.uid != uid {
		// Replaced under the same name while no watch saw the old one go.
		r.nodeStamp(rec, NodeGone, at, false)
		delete(r.nodes, n.Name)
		rec = nil
	}
	if rec == nil {
		if typ == watch.Deleted {
			return
		}
		rec = &Node{Name: n.Name, Pool: n.Labels[plan.PoolLabel], uid: uid, ServerCreated: n.CreationTimestamp.Unix()}
		r.nodes[n.Name] = rec
		r.allNodes = append(r.allNodes, rec)
		if origin == Initial {
			rec.Preexisting = true
			return
		}
		r.nodeStamp(rec, NodeCreated, at, origin == Live && typ == watch.Added)
	}
	if typ == watch.Deleted {
		delete(r.nodes, n.Name)
	}
	if rec.Preexisting {
		return
	}
	exact := origin == Live
	ready, since := nodeReady(n)
	switch {
	case ready && rec.At[NodeReady] == 0:
		rec.ServerReady = since
		r.nodeStamp(rec, NodeReady, at, exact)
	case ready && !rec.ready:
		// Back from NotReady.
		if last := len(rec.Outages) - 1; last >= 0 && rec.Outages[last].End == 0 {
			rec.Outages[last].End = at
			rec.Outages[last].Inexact = rec.Outages[last].Inexact || !exact
			if !exact {
				r.missed(Nodes, "", rec.Name, "Ready again", at)
			}
		}
	case !ready && rec.ready && typ != watch.Deleted && n.DeletionTimestamp == nil:
		rec.Outages = append(rec.Outages, Interval{Start: at, Inexact: !exact})
		if !exact {
			r.missed(Nodes, "", rec.Name, "NotReady", at)
		}
	}
	rec.ready = ready
	if n.DeletionTimestamp != nil {
		r.nodeStamp(rec, NodeDeleting, at, exact)
	}
	if typ == watch.Deleted {
		r.nodeStamp(rec, NodeDeleting, at, exact)
		r.nodeStamp(rec, NodeGone, at, exact)
	}
}

func (r *Recorder) nodeStamp(rec *Node, t NodeTransition, at time.Duration, exact bool) {
	if rec.stamp(t, at, exact) && !exact {
		r.missed(Nodes, "", rec.Name, t.String(), at)
	}
}

// DeploymentAvailable is whether every replica the Deployment asks for is
// updated and available, for the generation it asks for.
func DeploymentAvailable(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
		d.Status.AvailableReplicas == want && d.Status.Replicas == want
}

func (r *Recorder) deployment(typ watch.EventType, d *appsv1.Deployment, at time.Duration, origin Origin) {
	k := objKey{d.Namespace, d.Name}
	uid := uidHash(d.UID)
	rec := r.deployments[k]
	if rec == nil || rec.uid != uid {
		if typ == watch.Deleted {
			return
		}
		rec = &Deployment{Namespace: d.Namespace, Name: d.Name, uid: uid, Preexisting: origin == Initial}
		r.deployments[k] = rec
		r.allDeployments = append(r.allDeployments, rec)
	}
	if typ == watch.Deleted {
		delete(r.deployments, k)
		return
	}
	if rec.Preexisting {
		return
	}
	exact := origin == Live
	available := DeploymentAvailable(d)
	open := len(rec.Rollouts) > 0 && rec.Rollouts[len(rec.Rollouts)-1].End == 0
	switch {
	case !available && !open:
		// Created, or its spec changed: a rollout begins.
		rec.Rollouts = append(rec.Rollouts, Interval{Start: at, Inexact: !exact || (len(rec.Rollouts) == 0 && typ != watch.Added)})
	case available && open:
		last := &rec.Rollouts[len(rec.Rollouts)-1]
		last.End = at
		last.Inexact = last.Inexact || !exact
	}
	rec.Available = available
}

func (r *Recorder) job(typ watch.EventType, j *batchv1.Job, at time.Duration, origin Origin) {
	k := objKey{j.Namespace, j.Name}
	uid := uidHash(j.UID)
	rec := r.jobs[k]
	if rec == nil || rec.uid != uid {
		if typ == watch.Deleted {
			return
		}
		rec = &Job{Namespace: j.Namespace, Name: j.Name, uid: uid, Preexisting: origin == Initial}
		r.jobs[k] = rec
		r.allJobs = append(r.allJobs, rec)
		if !rec.Preexisting {
			rec.Created = at
			rec.Inexact = origin != Live || typ != watch.Added
		}
	}
	if typ == watch.Deleted {
		delete(r.jobs, k)
		return
	}
	if rec.Preexisting {
		return
	}
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch {
		case c.Type == batchv1.JobComplete && rec.Complete == 0:
			rec.Complete = at
			rec.Inexact = rec.Inexact || origin != Live
		case c.Type == batchv1.JobFailed && rec.Failed == 0:
			rec.Failed = at
			rec.Inexact = rec.Inexact || origin != Live
		}
	}
}

// sweep ends every object of kind that a complete relist no longer shows:
// it went while the watch was down. It returns their keys.
func (r *Recorder) sweep(kind string, seen map[objKey]bool, at time.Duration) []objKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.watch(kind).Relists++
	var gone []objKey
	switch kind {
	case Pods:
		for k, rec := range r.pods {
			if !seen[k] {
				gone = append(gone, k)
				delete(r.pods, k)
				if !rec.Preexisting {
					r.podStamp(rec, PodDeleting, at, false)
					r.podStamp(rec, PodGone, at, false)
				}
			}
		}
	case Nodes:
		for name, rec := range r.nodes {
			if k := (objKey{name: name}); !seen[k] {
				gone = append(gone, k)
				delete(r.nodes, name)
				if !rec.Preexisting {
					r.nodeStamp(rec, NodeDeleting, at, false)
					r.nodeStamp(rec, NodeGone, at, false)
				}
			}
		}
	case Deployments:
		for k := range r.deployments {
			if !seen[k] {
				gone = append(gone, k)
				delete(r.deployments, k)
			}
		}
	case Jobs:
		for k := range r.jobs {
			if !seen[k] {
				gone = append(gone, k)
				delete(r.jobs, k)
			}
		}
	}
	return gone
}
