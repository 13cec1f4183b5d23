package requests

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestKeyOf(t *testing.T) {
	for _, c := range []struct {
		method, path, contentType string
		want                      Key
		skip                      bool
	}{
		{"POST", "/api/v1/namespaces/ns/pods", "", Key{"create", "pods"}, false},
		{"GET", "/api/v1/namespaces/ns/pods", "", Key{"list", "pods"}, false},
		{"GET", "/api/v1/pods", "", Key{"list", "pods"}, false},
		{"GET", "/api/v1/namespaces/ns/pods/p", "", Key{"get", "pods"}, false},
		{"POST", "/api/v1/namespaces/ns/pods/p/binding", "", Key{"create", "pods/binding"}, false},
		{"PUT", "/api/v1/nodes/n/status", "", Key{"update", "nodes/status"}, false},
		{"PATCH", "/apis/apps/v1/namespaces/ns/deployments/web", "application/merge-patch+json", Key{"patch", "deployments"}, false},
		{"PATCH", "/apis/kwok.x-k8s.io/v1alpha1/stages/pod-ready", "application/apply-patch+yaml", Key{"apply", "stages"}, false},
		{"DELETE", "/api/v1/nodes/n", "", Key{"delete", "nodes"}, false},
		{"DELETE", "/api/v1/namespaces/ns/pods", "", Key{"deletecollection", "pods"}, false},
		{"POST", "/api/v1/namespaces", "", Key{"create", "namespaces"}, false},
		{"GET", "/api/v1/namespaces/ns", "", Key{"get", "namespaces"}, false},
		{"GET", "/api/v1/pods?watch=true", "", Key{}, true},
		{"GET", "/api/v1/watch/pods", "", Key{}, true},
		{"GET", "/apis", "", Key{}, true},
		{"GET", "/version", "", Key{}, true},
	} {
		req := httptest.NewRequest(c.method, c.path, nil)
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		got, ok := keyOf(req)
		if ok == c.skip || got != c.want {
			t.Errorf("%s %s: got %v (timed %v), want %v (timed %v)", c.method, c.path, got, ok, c.want, !c.skip)
		}
	}
}

func TestWrapTimesUntilTheBodyIsRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		w.(http.Flusher).Flush()
		// The body comes later than the headers: the sample must include it.
		time.Sleep(50 * time.Millisecond)
		io.WriteString(w, `{"kind":"Pod"}`)
	}))
	defer srv.Close()
	rec := New(time.Now())
	client := &http.Client{Transport: rec.Wrap(http.DefaultTransport)}
	resp, err := client.Post(srv.URL+"/api/v1/namespaces/ns/pods", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, err := client.Get(srv.URL + "/api/v1/pods?watch=true"); err != nil {
		t.Fatal(err)
	}
	got := rec.Samples()
	if len(got) != 1 || len(got[Key{"create", "pods"}]) != 1 {
		t.Fatalf("samples %v, want one create of pods", got)
	}
	if s := got[Key{"create", "pods"}][0]; s.Took < 50*time.Millisecond || s.At < 0 {
		t.Errorf("sample %+v: should last at least the 50 ms until the body arrived", s)
	}
}
