// Package requests times every API request kwok-run itself sends, by
// Kubernetes verb and resource, from the moment it is sent until its
// response body has been read.
//
// It wraps the client's transport (rest.Config.WrapTransport) rather than
// registering client-go's metrics hooks: those are process-wide and can be
// registered only once, and they report HTTP methods, not Kubernetes verbs.
package requests

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Key is what a request's latency is filed under.
type Key struct {
	// Verb is a Kubernetes verb: create, get, list, update, patch, apply,
	// delete, deletecollection.
	Verb string
	// Resource is the resource, with "/subresource" when there is one.
	Resource string
}

// Sample is one request: when it was sent (since the run started) and how
// long it took.
type Sample struct {
	At, Took time.Duration
}

// Recorder collects samples; safe for concurrent use. A sample costs 16
// bytes.
type Recorder struct {
	start time.Time

	mu      sync.Mutex
	samples map[Key][]Sample
}

// New returns a recorder whose times count from start.
func New(start time.Time) *Recorder {
	return &Recorder{start: start, samples: map[Key][]Sample{}}
}

// Samples returns a copy of everything recorded.
func (r *Recorder) Samples() map[Key][]Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[Key][]Sample, len(r.samples))
	for k, s := range r.samples {
		out[k] = append([]Sample(nil), s...)
	}
	return out
}

func (r *Recorder) add(k Key, s Sample) {
	r.mu.Lock()
	r.samples[k] = append(r.samples[k], s)
	r.mu.Unlock()
}

// Wrap returns a transport that times the requests rt sends. Watches are
// not timed (they last as long as they are open), nor are requests that are
// not for a resource (discovery, /version).
func (r *Recorder) Wrap(rt http.RoundTripper) http.RoundTripper {
	return &timing{rec: r, next: rt}
}

type timing struct {
	rec  *Recorder
	next http.RoundTripper
}

func (t *timing) RoundTrip(req *http.Request) (*http.Response, error) {
	key, ok := keyOf(req)
	if !ok {
		return t.next.RoundTrip(req)
	}
	sent := time.Now()
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.rec.add(key, Sample{At: sent.Sub(t.rec.start), Took: time.Since(sent)})
		return resp, err
	}
	resp.Body = &timedBody{ReadCloser: resp.Body, done: func() {
		t.rec.add(key, Sample{At: sent.Sub(t.rec.start), Took: time.Since(sent)})
	}}
	return resp, nil
}

// timedBody ends the sample when the body is read to its end or closed,
// whichever comes first.
type timedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(b.done)
	}
	return n, err
}

func (b *timedBody) Close() error {
	b.once.Do(b.done)
	return b.ReadCloser.Close()
}

// keyOf reads the verb and resource from a request's method and path, the
// way the apiserver's RequestInfo does:
// /api/v1[/namespaces/NS]/RESOURCE[/NAME[/SUBRESOURCE]] and the same under
// /apis/GROUP/VERSION.
func keyOf(req *http.Request) (Key, bool) {
	// Parsing the query of every request only to find watches would cost
	// the hot path an allocation.
	if strings.Contains(req.URL.RawQuery, "watch=") && req.URL.Query().Get("watch") == "true" {
		return Key{}, false
	}
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return Key{}, false
	}
	if len(parts) > 0 && parts[0] == "watch" {
		return Key{}, false
	}
	// namespaces/NS/RESOURCE... is a namespaced resource; namespaces[/NS]
	// alone is the namespace itself.
	if len(parts) >= 3 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	resource := parts[0]
	named := len(parts) >= 2
	if len(parts) >= 3 {
		resource += "/" + parts[2]
	}
	var verb string
	switch req.Method {
	case http.MethodGet:
		verb = "list"
		if named {
			verb = "get"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
		if strings.HasPrefix(req.Header.Get("Content-Type"), "application/apply-patch") {
			verb = "apply"
		}
	case http.MethodDelete:
		verb = "deletecollection"
		if named {
			verb = "delete"
		}
	default:
		return Key{}, false
	}
	return Key{Verb: verb, Resource: resource}, true
}
