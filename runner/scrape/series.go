package scrape

import (
	"cmp"
	"slices"
	"time"

	"github.com/kwok-run/kwok-run/reports"
	"github.com/kwok-run/kwok-run/scenario/metrics"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

const (
	// minRateWindow is the shortest interval a cores point is computed over:
	// CPU counters tick in 10 ms, and a mark a few milliseconds after a
	// sample would otherwise chart as a spike of noise.
	minRateWindow = time.Second
	// Stored-object series are charted only for resources that reached more
	// than objectsFloor objects, and at most maxObjectSeries of them, the
	// largest: the dozens of built-in kinds with one or two objects would
	// hide the ones the scenario created.
	objectsFloor    = 10
	maxObjectSeries = 8
)

// Series are the charts' data: cores used and RSS by component, etcd's
// database size, and stored objects of the largest resources. Points are
// (seconds since Start, value).
func (r Result) Series() []reports.Series {
	byComponent := map[string][]Sample{}
	for _, s := range r.Samples {
		byComponent[s.Component] = append(byComponent[s.Component], s)
	}
	components := componentOrder(byComponent)

	var out []reports.Series
	for _, c := range components {
		out = append(out, reports.Series{Name: c, Group: reports.GroupCPU, Unit: "cores", Points: cores(byComponent[c])})
	}
	for _, c := range components {
		out = append(out, reports.Series{Name: c, Group: reports.GroupMemory, Unit: string(metrics.Bytes),
			Points: points(byComponent[c], func(s Sample) (float64, bool) { return s.RSSBytes, true })})
	}
	if etcd := byComponent[plan.Etcd]; len(etcd) > 0 {
		out = append(out, reports.Series{Name: "etcd db size", Group: reports.GroupStorage, Unit: string(metrics.Bytes),
			Points: points(etcd, func(s Sample) (float64, bool) { return s.DBSizeBytes, true })})
	}
	for _, res := range largestResources(r.PeakObjects(0, r.end())) {
		out = append(out, reports.Series{Name: "objects: " + res, Group: reports.GroupStorage, Unit: string(metrics.Count),
			Points: points(byComponent[plan.APIServer], func(s Sample) (float64, bool) {
				n, ok := s.Objects[res]
				return n, ok
			})})
	}
	return out
}

// componentOrder is the catalogue's order, then any other component by name.
func componentOrder(byComponent map[string][]Sample) []string {
	var out, others []string
	for _, c := range metrics.Components {
		if _, ok := byComponent[c]; ok {
			out = append(out, c)
		}
	}
	for c := range byComponent {
		if !slices.Contains(metrics.Components, c) {
			others = append(others, c)
		}
	}
	slices.Sort(others)
	return append(out, others...)
}

// cores turns one component's CPU counter into cores used, over intervals of
// at least minRateWindow; a counter that went down restarted from 0.
func cores(samples []Sample) [][2]float64 {
	var out [][2]float64
	for i, base, used := 1, 0, 0.0; i < len(samples); i++ {
		used += counterIncrease(samples[i-1].CPUSeconds, samples[i].CPUSeconds)
		if dt := samples[i].At - samples[base].At; dt >= minRateWindow {
			out = append(out, [2]float64{samples[i].At.Seconds(), used / dt.Seconds()})
			base, used = i, 0
		}
	}
	return out
}

func points(samples []Sample, value func(Sample) (float64, bool)) [][2]float64 {
	var out [][2]float64
	for _, s := range samples {
		if v, ok := value(s); ok {
			out = append(out, [2]float64{s.At.Seconds(), v})
		}
	}
	return out
}

func largestResources(peaks map[string]float64) []string {
	var res []string
	for r, n := range peaks {
		if n > objectsFloor {
			res = append(res, r)
		}
	}
	slices.SortFunc(res, func(a, b string) int {
		return cmp.Or(cmp.Compare(peaks[b], peaks[a]), cmp.Compare(a, b))
	})
	return res[:min(len(res), maxObjectSeries)]
}

func (r Result) end() time.Duration {
	if len(r.Samples) == 0 {
		return 0
	}
	return r.Samples[len(r.Samples)-1].At
}
