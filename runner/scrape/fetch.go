package scrape

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Families read in every round, and the request histograms read at marks.
const (
	cpuFamily             = "process_cpu_seconds_total"
	rssFamily             = "process_resident_memory_bytes"
	startFamily           = "process_start_time_seconds"
	dbSizeFamily          = "etcd_mvcc_db_total_size_in_bytes"
	resourceObjectsFamily = "apiserver_resource_objects"
	// storageObjectsFamily is deprecated since Kubernetes 1.34 and read only
	// where apiserver_resource_objects is missing.
	storageObjectsFamily = "apiserver_storage_objects"
)

var (
	roundFamilies = []string{cpuFamily, rssFamily, startFamily, dbSizeFamily, resourceObjectsFamily, storageObjectsFamily}
	markFamilies  = append([]string{RequestDuration, RequestSLIDuration}, roundFamilies...)
)

// acceptProto asks for the delimited protobuf exposition first: the
// apiserver's /metrics is megabytes of text, five times less as protobuf,
// whose families can be skipped unread (see decodeProto).
const acceptProto = `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3`

// acceptAny is what KWOK's /metrics accepts: its router answers 406 to any
// other Accept header, and then serves text.
const acceptAny = "*/*"

// fetcher reads /metrics endpoints over one keep-alive client.
type fetcher struct {
	client *http.Client
	// anyOnly remembers the URLs that answered 406 to acceptProto.
	anyOnly sync.Map
}

func newFetcher(cfg *tls.Config) *fetcher {
	return &fetcher{client: &http.Client{Transport: &http.Transport{
		// The cluster's health checks share cfg, and an HTTP/2 transport
		// writes into NextProtos of the config it is given.
		TLSClientConfig: cfg.Clone(),
		// Loopback is fast; gzip would only cost both sides CPU, which is
		// what this package measures.
		DisableCompression:  true,
		MaxIdleConnsPerHost: 2,
	}}}
}

// reading is what one /metrics read yielded.
type reading struct {
	cpu, rss, start, dbSize float64
	// objects is from apiserver_resource_objects, legacyObjects from
	// apiserver_storage_objects: the first wins when both are present.
	objects, legacyObjects map[string]float64
	requests               map[string]map[Key]Histogram
}

// read fetches url and keeps the families named in want.
func (f *fetcher) read(ctx context.Context, url string, want []string) (*reading, error) {
	accept := acceptProto
	if _, ok := f.anyOnly.Load(url); ok {
		accept = acceptAny
	}
	resp, err := f.get(ctx, url, accept)
	if err == nil && resp.StatusCode == http.StatusNotAcceptable && accept != acceptAny {
		resp.Body.Close()
		f.anyOnly.Store(url, true)
		resp, err = f.get(ctx, url, acceptAny)
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	r := &reading{}
	format := expfmt.ResponseFormat(resp.Header)
	if format.FormatType() == expfmt.TypeProtoDelim {
		err = decodeProto(resp.Body, want, r.add)
	} else {
		err = decodeAny(expfmt.NewDecoder(resp.Body, format), want, r.add)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", url, err)
	}
	return r, nil
}

// decodeAny reads any exposition expfmt knows; KWOK serves only text.
func decodeAny(dec expfmt.Decoder, want []string, keep func(*dto.MetricFamily)) error {
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if slices.Contains(want, mf.GetName()) {
			keep(mf)
		}
	}
}

func (f *fetcher) get(ctx context.Context, url, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	return f.client.Do(req)
}

func (r *reading) add(mf *dto.MetricFamily) {
	switch name := mf.GetName(); name {
	case cpuFamily:
		r.cpu = first(mf)
	case rssFamily:
		r.rss = first(mf)
	case startFamily:
		r.start = first(mf)
	case dbSizeFamily:
		r.dbSize = first(mf)
	case resourceObjectsFamily:
		r.objects = objectCounts(mf)
	case storageObjectsFamily:
		r.legacyObjects = objectCounts(mf)
	case RequestDuration, RequestSLIDuration:
		if r.requests == nil {
			r.requests = map[string]map[Key]Histogram{}
		}
		r.requests[name] = requestHistograms(mf)
	}
}

// objectCounts sums a family by its resource label. apiserver_storage_objects
// spells a group into it ("deployments.apps"), which is cut off so both
// families use the same keys. A negative value means the apiserver could not
// count, and is left out.
func objectCounts(mf *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, m := range mf.GetMetric() {
		v := value(m)
		if v < 0 || math.IsNaN(v) {
			continue
		}
		res, _, _ := strings.Cut(label(m, "resource"), ".")
		out[res] += v
	}
	return out
}

// verbs maps the apiserver's verb label to the catalogue's verbs.
var verbs = map[string]string{
	"POST": "create", "PUT": "update", "GET": "get", "LIST": "list", "WATCH": "watch",
	"PATCH": "patch", "DELETE": "delete", "DELETECOLLECTION": "deletecollection",
	"APPLY": "apply", "CONNECT": "connect",
}

// requestHistograms sums a request histogram family by Key, over every other
// label. Requests without a resource (/healthz, /metrics, /readyz: the
// health checks and this very scraper) are not API traffic and are left out.
func requestHistograms(mf *dto.MetricFamily) map[Key]Histogram {
	out := map[Key]Histogram{}
	for _, m := range mf.GetMetric() {
		res := label(m, "resource")
		if res == "" || m.GetHistogram() == nil {
			continue
		}
		if sub := label(m, "subresource"); sub != "" {
			res += "/" + sub
		}
		v := label(m, "verb")
		verb, ok := verbs[v]
		if !ok {
			verb = strings.ToLower(v)
		}
		k := Key{verb, res}
		out[k] = add(out[k], histogram(m.GetHistogram()))
	}
	return out
}

func histogram(h *dto.Histogram) Histogram {
	count := h.GetSampleCountFloat()
	if count == 0 {
		count = float64(h.GetSampleCount())
	}
	out := Histogram{Count: count, Sum: h.GetSampleSum(), Buckets: make([]Bucket, 0, len(h.GetBucket())+1)}
	for _, b := range h.GetBucket() {
		c := b.GetCumulativeCountFloat()
		if c == 0 {
			c = float64(b.GetCumulativeCount())
		}
		out.Buckets = append(out.Buckets, Bucket{b.GetUpperBound(), c})
	}
	// The protobuf exposition leaves the +Inf bucket implicit in the count.
	if n := len(out.Buckets); n == 0 || !math.IsInf(out.Buckets[n-1].UpperBound, +1) {
		out.Buckets = append(out.Buckets, Bucket{math.Inf(+1), count})
	}
	return out
}

// first is the value of a family's first metric: the process families have
// exactly one.
func first(mf *dto.MetricFamily) float64 {
	if len(mf.GetMetric()) == 0 {
		return 0
	}
	return value(mf.GetMetric()[0])
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	}
	return m.GetUntyped().GetValue()
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
