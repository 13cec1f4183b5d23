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
	// between them: slices that came first were kept for the Service.
	if pending, ok := r.earlySlices[k]; ok {
		delete(r.earlySlices, k)
		if !rec.Preexisting {
			for name, n := range pending {
				rec.ready[name] = n
			}
			// They were complete before the Service was seen: a moment
			// that cannot be timed.
			r.endpointsComplete(rec, at, false)
		}
	}
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
	rec := r.services[k]
	if rec == nil {
		// The Service's own event may not have come yet.
		if r.earlySlices[k] == nil {
			r.earlySlices[k] = map[string]int{}
		}
		r.earlySlices[k][es.Name] = ready
		if typ == watch.Deleted {
			delete(r.earlySlices[k], es.Name)
			if len(r.earlySlices[k]) == 0 {
				delete(r.earlySlices, k)
			}
		}
		return
	}
	if rec.Preexisting || rec.EndpointsReady > 0 {
		return
	}
	rec.ready[es.Name] = ready
	r.endpointsComplete(rec, at, origin == Live)
}

// endpointsComplete stamps the Service's endpoints ready at when its slices
// list every Running pod it selects.
func (r *Recorder) endpointsComplete(rec *Service, at time.Duration, exact bool) {
	if r.selectRunning == nil || rec.EndpointsReady > 0 {
		return
	}
	total := 0
	for _, n := range rec.ready {
		total += n
	}
	running := r.selectRunning(rec.Namespace, rec.selector)
	if len(running) == 0 || total < len(running) {
		return
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
}
