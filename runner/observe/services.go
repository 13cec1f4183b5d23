package observe

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// Service is what the run keeps of one Service with a selector: when its
// EndpointSlices first listed every Running pod it selects.
type Service struct {
	Namespace, Name string
	uid             uint64
	Preexisting     bool
	Created         time.Duration
	// From is the later of Created and the Running of the last pod the
	// Service selected when its endpoints were complete; EndpointsReady is
	// that moment (0 until then). The latency is their difference.
	From, EndpointsReady time.Duration
	// Inexact is set when the moment was seen only in a relist or after a
	// gap, or the creation was.
	Inexact bool
	// Early is set when the Service's slices were complete before its own
	// event came (two watches, in no order between them): no watch missed
	// anything, but there is no latency to take.
	Early bool

	selector map[string]string
	// ready counts the ready endpoints of each of the Service's slices.
	ready map[string]int
}

// SelectRunning returns the Running pods of namespace that selector
// matches, by name: the recorder asks it when a Service's EndpointSlices
// change, to know whether they list every pod they should.
type SelectRunning func(namespace string, selector map[string]string) []string

// SetSelectRunning gives the recorder what it needs to time Services.
func (r *Recorder) SetSelectRunning(f SelectRunning) {
	r.mu.Lock()
	r.selectRunning = f
	r.mu.Unlock()
}

func (r *Recorder) service(typ watch.EventType, s *corev1.Service, at time.Duration, origin Origin) {
	k := objKey{s.Namespace, s.Name}
	uid := uidHash(s.UID)
	rec := r.services[k]
	if rec == nil || rec.uid != uid {
		if typ == watch.Deleted || len(s.Spec.Selector) == 0 {
			// Nothing will claim the slices of a Service without a
			// selector, which are someone else's to fill.
			delete(r.earlySlices, k)
			return
		}
		rec = &Service{Namespace: s.Namespace, Name: s.Name, uid: uid, Preexisting: origin == Initial, Created: at,
			Inexact: origin != Live || typ != watch.Added, ready: map[string]int{}}
		r.services[k] = rec
		r.allServices = append(r.allServices, rec)
	}
	if typ == watch.Deleted {
		delete(r.services, k)
		return
	}
	rec.selector = s.Spec.Selector
	// Services and EndpointSlices arrive on two watches, in no order
	// between them: slices that came first were kept for the Service, by
	// the Service's UID, their owner's, so an old Service's are not taken.
	if pending, ok := r.earlySlices[k]; ok {
		delete(r.earlySlices, k)
		if !rec.Preexisting {
			for name, es := range pending {
				if es.owner == 0 || es.owner == uid {
					rec.ready[name] = es.ready
				}
			}
			if r.endpointsComplete(rec, at, true) {
				rec.Early = true
			}
		}
	}
}

// earlySlice is an EndpointSlice seen before its Service.
type earlySlice struct {
	ready int
	owner uint64
}

// sliceOwner is the UID of the Service that owns es, 0 when none does.
func sliceOwner(es *discoveryv1.EndpointSlice) uint64 {
	for _, o := range es.OwnerReferences {
		if o.Kind == "Service" {
			return uidHash(o.UID)
		}
	}
	return 0
}

func (r *Recorder) endpointSlice(typ watch.EventType, es *discoveryv1.EndpointSlice, at time.Duration, origin Origin) {
	k := objKey{es.Namespace, es.Labels[discoveryv1.LabelServiceName]}
	ready := 0
	if typ != watch.Deleted {
		for _, e := range es.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				ready++
			}
		}
	}
	owner := sliceOwner(es)
	rec := r.services[k]
	if rec == nil || (owner != 0 && owner != rec.uid) {
		// The Service's own event may not have come yet.
		if typ == watch.Deleted {
			delete(r.earlySlices[k], es.Name)
			if len(r.earlySlices[k]) == 0 {
				delete(r.earlySlices, k)
			}
			return
		}
		if r.earlySlices[k] == nil {
			r.earlySlices[k] = map[string]earlySlice{}
		}
		r.earlySlices[k][es.Name] = earlySlice{ready: ready, owner: owner}
		return
	}
	if rec.Preexisting || rec.EndpointsReady > 0 {
		return
	}
	rec.ready[es.Name] = ready
	r.endpointsComplete(rec, at, origin == Live)
}

// endpointsComplete stamps the Service's endpoints ready at when its slices
// list every Running pod it selects, and reports whether they do.
func (r *Recorder) endpointsComplete(rec *Service, at time.Duration, exact bool) bool {
	if r.selectRunning == nil || rec.EndpointsReady > 0 {
		return false
	}
	total := 0
	for _, n := range rec.ready {
		total += n
	}
	running := r.selectRunning(rec.Namespace, rec.selector)
	if len(running) == 0 || total < len(running) {
		return false
	}
	rec.EndpointsReady, rec.From = at, rec.Created
	for _, name := range running {
		if p := r.pods[objKey{rec.Namespace, name}]; p != nil {
			rec.From = max(rec.From, p.At[PodRunning])
		}
	}
	rec.Inexact = rec.Inexact || !exact
	if !exact {
		r.missed(Services, rec.Namespace, rec.Name, "endpoints ready", at)
	}
	return true
}
