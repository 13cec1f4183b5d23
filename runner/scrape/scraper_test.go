package scrape

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/kwok-run/kwok-run/backends"
)

type fakeTargets struct {
	endpoints []backends.Endpoint
	tls       *tls.Config
}

func (f *fakeTargets) Endpoints() []backends.Endpoint { return f.endpoints }
func (f *fakeTargets) ClientTLS() *tls.Config         { return f.tls }

func family(name string, typ dto.MetricType, metrics ...*dto.Metric) *dto.MetricFamily {
	return &dto.MetricFamily{Name: proto.String(name), Help: proto.String(name), Type: typ.Enum(), Metric: metrics}
}

func labels(kv ...string) []*dto.LabelPair {
	var out []*dto.LabelPair
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, &dto.LabelPair{Name: proto.String(kv[i]), Value: proto.String(kv[i+1])})
	}
	return out
}

func gauge(v float64, kv ...string) *dto.Metric {
	return &dto.Metric{Label: labels(kv...), Gauge: &dto.Gauge{Value: proto.Float64(v)}}
}

func counter(v float64) *dto.Metric {
	return &dto.Metric{Counter: &dto.Counter{Value: proto.Float64(v)}}
}

// requestHist is one series of a request histogram with buckets 0.1 and 1.
func requestHist(below01, below1, count uint64, sum float64, kv ...string) *dto.Metric {
	return &dto.Metric{Label: labels(kv...), Histogram: &dto.Histogram{
		SampleCount: proto.Uint64(count), SampleSum: proto.Float64(sum),
		Bucket: []*dto.Bucket{
			{UpperBound: proto.Float64(0.1), CumulativeCount: proto.Uint64(below01)},
			{UpperBound: proto.Float64(1), CumulativeCount: proto.Uint64(below1)},
		},
	}}
}

func process(cpu, rss float64) []*dto.MetricFamily {
	return []*dto.MetricFamily{
		family(cpuFamily, dto.MetricType_COUNTER, counter(cpu)),
		family(rssFamily, dto.MetricType_GAUGE, gauge(rss)),
		family(startFamily, dto.MetricType_GAUGE, gauge(1700000000)),
	}
}

func apiserverFamilies() []*dto.MetricFamily {
	req := func(verb, resource, sub, group, scope string) []string {
		return []string{"component", "apiserver", "dry_run", "", "group", group, "resource", resource,
			"scope", scope, "subresource", sub, "verb", verb, "version", "v1"}
	}
	return append(process(12.5, 300e6),
		family(resourceObjectsFamily, dto.MetricType_GAUGE,
			gauge(3, "group", "", "resource", "pods"),
			gauge(2, "group", "apps", "resource", "deployments"),
			gauge(-1, "group", "", "resource", "broken")),
		family(RequestDuration, dto.MetricType_HISTOGRAM,
			requestHist(1, 2, 2, 0.3, req("LIST", "pods", "", "", "namespace")...),
			// Same key, other scope: summed.
			requestHist(1, 1, 1, 0.05, req("LIST", "pods", "", "", "cluster")...),
			requestHist(3, 3, 3, 0.03, req("POST", "pods", "binding", "", "namespace")...),
			requestHist(0, 0, 1, 30, req("WATCH", "deployments", "", "apps", "namespace")...),
			// Not API traffic.
			requestHist(9, 9, 9, 0.01, req("GET", "", "", "", "")...)),
		family(RequestSLIDuration, dto.MetricType_HISTOGRAM,
			requestHist(1, 2, 2, 0.3, req("LIST", "pods", "", "", "namespace")...)),
		family("apiserver_unrelated_total", dto.MetricType_COUNTER, counter(7)),
	)
}

// promServer serves families the way client_golang does: the format the
// Accept header negotiates.
func promServer(t *testing.T, families []*dto.MetricFamily, served *atomic.Value) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
		served.Store(format.FormatType())
		w.Header().Set("Content-Type", string(format))
		enc := expfmt.NewEncoder(w, format)
		for _, mf := range families {
			if err := enc.Encode(mf); err != nil {
				t.Error(err)
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// kwokServer is like KWOK's: 406 unless Accept is */*, then text.
func kwokServer(t *testing.T, families []*dto.MetricFamily, refused *atomic.Int32) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "*/*" {
			refused.Add(1)
			http.Error(w, "406: Not Acceptable", http.StatusNotAcceptable)
			return
		}
		format := expfmt.NewFormat(expfmt.TypeTextPlain)
		w.Header().Set("Content-Type", string(format))
		enc := expfmt.NewEncoder(w, format)
		for _, mf := range families {
			if err := enc.Encode(mf); err != nil {
				t.Error(err)
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

type fakeCluster struct {
	targets      *fakeTargets
	apiserverFmt atomic.Value
	etcdFmt      atomic.Value
	kwokRefused  atomic.Int32
}

func newFakeCluster(t *testing.T) *fakeCluster {
	c := &fakeCluster{}
	api := promServer(t, apiserverFamilies(), &c.apiserverFmt)
	// etcd still serves the deprecated object family, which nobody reads
	// from etcd, and its database size.
	etcd := promServer(t, append(process(3, 80e6),
		family(dbSizeFamily, dto.MetricType_GAUGE, gauge(4096))), &c.etcdFmt)
	kwok := kwokServer(t, process(1.5, 60e6), &c.kwokRefused)
	down := httptest.NewTLSServer(http.NotFoundHandler())
	down.Close()

	pool := x509.NewCertPool()
	pool.AddCert(api.Certificate())
	c.targets = &fakeTargets{tls: &tls.Config{RootCAs: pool}, endpoints: []backends.Endpoint{
		{Component: "apiserver", MetricsURL: api.URL + "/metrics"},
		{Component: "etcd", MetricsURL: etcd.URL + "/metrics"},
		{Component: "kwok", MetricsURL: kwok.URL + "/metrics"},
		{Component: "scheduler", MetricsURL: down.URL + "/metrics"},
	}}
	return c
}

func TestMark(t *testing.T) {
	c := newFakeCluster(t)
	s := New(c.targets, Options{Start: time.Now()})
	s.Mark(context.Background())
	s.Mark(context.Background())
	r := s.Result()

	if r.Scrapes != 8 || r.Failed != 2 {
		t.Errorf("Scrapes, Failed = %d, %d; want 8, 2 (the scheduler is down)", r.Scrapes, r.Failed)
	}
	if got := c.apiserverFmt.Load(); got != expfmt.TypeProtoDelim {
		t.Errorf("apiserver served format %v, want delimited protobuf", got)
	}
	if n := c.kwokRefused.Load(); n != 1 {
		t.Errorf("kwok refused %d requests, want 1: the 406 is remembered", n)
	}

	byComponent := map[string]Sample{}
	for _, sm := range r.Samples {
		byComponent[sm.Component] = sm
	}
	want := map[string]Sample{
		"apiserver": {CPUSeconds: 12.5, RSSBytes: 300e6},
		"etcd":      {CPUSeconds: 3, RSSBytes: 80e6, DBSizeBytes: 4096},
		"kwok":      {CPUSeconds: 1.5, RSSBytes: 60e6},
	}
	for comp, w := range want {
		got, ok := byComponent[comp]
		if !ok {
			t.Errorf("no sample of %s", comp)
			continue
		}
		if got.CPUSeconds != w.CPUSeconds || got.RSSBytes != w.RSSBytes || got.DBSizeBytes != w.DBSizeBytes {
			t.Errorf("%s: %+v, want %+v", comp, got, w)
		}
	}
	if _, ok := byComponent["scheduler"]; ok {
		t.Error("a sample of the scheduler, which is down")
	}
	if runtime.GOOS == "linux" {
		if own := byComponent[selfComponent]; own.RSSBytes <= 0 {
			t.Errorf("kwok_run sample %+v: no RSS", own)
		}
	}
	objects := byComponent["apiserver"].Objects
	if objects["pods"] != 3 || objects["deployments"] != 2 || len(objects) != 2 {
		t.Errorf("objects = %v, want pods 3, deployments 2 (broken's -1 left out)", objects)
	}

	if len(r.Marks) != 2 {
		t.Fatalf("%d marks, want 2", len(r.Marks))
	}
	m := r.Marks[0]
	if m.apiserverStart != 1700000000 {
		t.Errorf("apiserver start = %v", m.apiserverStart)
	}
	dur := m.Requests[RequestDuration]
	wantHist := map[Key]Histogram{
		// Two scopes summed: le 0.1: 1+1, le 1: 2+1, +Inf: the counts 2+1.
		{"list", "pods"}:           {Count: 3, Sum: 0.35, Buckets: []Bucket{{0.1, 2}, {1, 3}, {inf, 3}}},
		{"create", "pods/binding"}: {Count: 3, Sum: 0.03, Buckets: []Bucket{{0.1, 3}, {1, 3}, {inf, 3}}},
		{"watch", "deployments"}:   {Count: 1, Sum: 30, Buckets: []Bucket{{0.1, 0}, {1, 0}, {inf, 1}}},
	}
	if len(dur) != len(wantHist) {
		t.Errorf("request histograms %v, want %v", dur, wantHist)
	}
	for k, w := range wantHist {
		if !equalHist(dur[k], w) {
			t.Errorf("%v: %+v, want %+v", k, dur[k], w)
		}
	}
	if len(m.Requests[RequestSLIDuration]) != 1 {
		t.Errorf("SLI histograms %v", m.Requests[RequestSLIDuration])
	}
	// Nothing changed between the marks: nothing to report, but ok.
	if got, ok := r.Requests(RequestDuration, 0, r.Marks[1].At); !ok || len(got) != 0 {
		t.Errorf("Requests between identical marks = %v, %v", got, ok)
	}
}

func TestTextDecoding(t *testing.T) {
	// The text exposition spells the +Inf bucket out; the protobuf one
	// leaves it implicit. Both must give the same histogram.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := expfmt.NewFormat(expfmt.TypeTextPlain)
		w.Header().Set("Content-Type", string(format))
		enc := expfmt.NewEncoder(w, format)
		for _, mf := range apiserverFamilies() {
			if err := enc.Encode(mf); err != nil {
				t.Error(err)
			}
		}
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	f := newFetcher(&tls.Config{RootCAs: pool})
	r, err := f.read(context.Background(), srv.URL, markFamilies)
	if err != nil {
		t.Fatal(err)
	}
	got := r.requests[RequestDuration][Key{"list", "pods"}]
	want := Histogram{Count: 3, Sum: 0.35, Buckets: []Bucket{{0.1, 2}, {1, 3}, {inf, 3}}}
	if !equalHist(got, want) {
		t.Errorf("list/pods from text = %+v, want %+v", got, want)
	}
	if r.cpu != 12.5 || r.objects["pods"] != 3 {
		t.Errorf("reading = %+v", r)
	}
}

func TestLegacyObjectCounts(t *testing.T) {
	mf := family(storageObjectsFamily, dto.MetricType_GAUGE,
		gauge(4, "resource", "deployments.apps"), gauge(9, "resource", "pods"))
	r := &reading{}
	r.add(mf)
	s := sampleOf(0, "apiserver", r)
	if s.Objects["deployments"] != 4 || s.Objects["pods"] != 9 {
		t.Errorf("objects = %v", s.Objects)
	}
	r.add(family(resourceObjectsFamily, dto.MetricType_GAUGE, gauge(5, "group", "", "resource", "pods")))
	if s := sampleOf(0, "apiserver", r); s.Objects["pods"] != 5 || len(s.Objects) != 1 {
		t.Errorf("apiserver_resource_objects does not win: %v", s.Objects)
	}
}

func TestRun(t *testing.T) {
	c := newFakeCluster(t)
	s := New(c.targets, Options{Start: time.Now(), Every: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	// Marks while Run runs: both record into the same, ordered result.
	for range 3 {
		s.Mark(ctx)
	}
	for len(s.Result().Marks) < 3 || s.Result().Scrapes < 6*4 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()

	r := s.Result()
	for i := 1; i < len(r.Samples); i++ {
		if r.Samples[i].At < r.Samples[i-1].At {
			t.Fatalf("samples out of order at %d: %v after %v", i, r.Samples[i].At, r.Samples[i-1].At)
		}
	}
	rounds := r.rounds(0, r.end())
	if len(rounds) < 6 {
		t.Errorf("%d rounds, want at least 6", len(rounds))
	}
	for _, round := range rounds {
		seen := map[string]bool{}
		for _, sm := range round {
			if seen[sm.Component] {
				t.Fatalf("two samples of %s at %v", sm.Component, sm.At)
			}
			seen[sm.Component] = true
		}
	}
	if r.Failed*4 != r.Scrapes {
		t.Errorf("Failed %d of %d: want exactly the scheduler's", r.Failed, r.Scrapes)
	}
}
