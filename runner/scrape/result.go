package scrape

import (
	"time"

	"github.com/kwok-run/kwok-run/scenario/metrics"
)

// The apiserver's request latency histograms, as Mark.Requests names them.
const (
	RequestDuration    = "apiserver_request_duration_seconds"
	RequestSLIDuration = "apiserver_request_sli_duration_seconds"
)

// Result is everything a Scraper recorded. Its maps are shared with the
// Scraper and with other copies: read them, never write them.
type Result struct {
	Samples []Sample // in time order
	Marks   []Mark   // in time order
	// Scrapes and Failed count /metrics reads attempted and failed; a
	// component down during a restart fails, that is normal.
	Scrapes, Failed int
}

// Sample is one component's resource use at one moment. Samples of one scrape
// round share At, so sums over components line up.
type Sample struct {
	At         time.Duration
	Component  string  // etcd, apiserver, scheduler, controller_manager, kwok, kwok_run
	CPUSeconds float64 // process_cpu_seconds_total (a counter: it restarts from 0 when the process restarts)
	RSSBytes   float64 // process_resident_memory_bytes
	// DBSizeBytes is etcd_mvcc_db_total_size_in_bytes (etcd only, else 0).
	DBSizeBytes float64
	// Objects are stored objects by resource name (apiserver only).
	Objects map[string]float64
}

// Mark is a snapshot taken at a step boundary.
type Mark struct {
	At time.Duration
	// Requests holds the apiserver's histograms by metric (RequestDuration,
	// RequestSLIDuration), each by Key. Nil when the apiserver could not be
	// read.
	Requests map[string]map[Key]Histogram
	// apiserverStart is the apiserver's process_start_time_seconds: when it
	// changes between marks the apiserver restarted, and every counter
	// started again, even one that has since grown past its old value.
	apiserverStart float64
}

// Requests is the increase of metric between the last mark at or before from
// and the first mark at or after to (the nearest marks when there are none
// so placed; ok=false with fewer than two usable marks), summed bucket by
// bucket by Key, with the metrics.All keys: {v, all} per verb, {all, r} per
// resource and {all, all}. The all verb leaves out WATCH and CONNECT, whose
// durations are how long a stream stayed open, not how fast it was served.
// Keys without requests in the window are left out.
func (r Result) Requests(metric string, from, to time.Duration) (map[Key]Histogram, bool) {
	var usable []Mark
	for _, m := range r.Marks {
		if m.Requests != nil {
			usable = append(usable, m)
		}
	}
	first, last := 0, len(usable)-1
	for i, m := range usable {
		if m.At <= from {
			first = i
		}
	}
	for i := len(usable) - 1; i >= 0; i-- {
		if usable[i].At >= to {
			last = i
		}
	}
	if last <= first {
		return nil, false
	}
	// Pair by pair, like increase() over every sample in its range, so a
	// restart between two marks loses nothing counted before or after it.
	sum := map[Key]Histogram{}
	for i := first; i < last; i++ {
		before, after := usable[i], usable[i+1]
		restarted := before.apiserverStart != after.apiserverStart
		for k, h := range after.Requests[metric] {
			inc := h
			if !restarted {
				inc = h.Sub(before.Requests[metric][k])
			}
			sum[k] = add(sum[k], inc)
		}
	}
	out := map[Key]Histogram{}
	for k, h := range sum {
		if h.Count == 0 {
			continue
		}
		out[k] = h
		out[Key{k.Verb, metrics.All}] = add(out[Key{k.Verb, metrics.All}], h)
		if k.Verb != "watch" && k.Verb != "connect" {
			out[Key{metrics.All, k.Resource}] = add(out[Key{metrics.All, k.Resource}], h)
			out[Key{metrics.All, metrics.All}] = add(out[Key{metrics.All, metrics.All}], h)
		}
	}
	return out, true
}
