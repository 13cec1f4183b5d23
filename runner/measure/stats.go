package measure

import (
	"math"
	"slices"
	"time"

	"github.com/kwok-run/kwok-run/reports"
	"github.com/kwok-run/kwok-run/scenario/metrics"
)

// percentile is the nearest-rank percentile of sorted values: the smallest
// sample at or above a fraction q of them, so every reported number is one
// that was measured.
func percentile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

var quantiles = map[string]float64{"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}

// putStats writes the SampleStats of values under path. Nothing is written
// for no values: a metric without samples was not measured.
func putStats(v metrics.Values, path string, values []float64) {
	if len(values) == 0 {
		return
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	var sum float64
	for _, x := range sorted {
		sum += x
	}
	v[path+".count"] = float64(len(sorted))
	v[path+".min"] = sorted[0]
	v[path+".max"] = sorted[len(sorted)-1]
	v[path+".mean"] = sum / float64(len(sorted))
	for name, q := range quantiles {
		v[path+"."+name] = percentile(sorted, q)
	}
}

func statsOf(values []float64) reports.Stats {
	if len(values) == 0 {
		return reports.Stats{}
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	return reports.Stats{
		Count: len(sorted), P50: percentile(sorted, .5), P90: percentile(sorted, .9),
		P99: percentile(sorted, .99), Max: sorted[len(sorted)-1],
	}
}

// cdfPoints is the cumulative distribution of values in at most n points:
// every sample when there are few, evenly spaced ranks otherwise, always
// with the minimum and the maximum.
func cdfPoints(values []float64, n int) [][2]float64 {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	total := len(sorted)
	if total == 0 {
		return nil
	}
	if total <= n {
		out := make([][2]float64, total)
		for i, x := range sorted {
			out[i] = [2]float64{x, float64(i+1) / float64(total)}
		}
		return out
	}
	out := make([][2]float64, 0, n+1)
	out = append(out, [2]float64{sorted[0], 1 / float64(total)})
	for k := 1; k <= n; k++ {
		rank := int(math.Ceil(float64(k) * float64(total) / float64(n)))
		out = append(out, [2]float64{sorted[rank-1], float64(rank) / float64(total)})
	}
	return out
}

// windows counts sorted stamps in 1 s windows from the first to the last:
// the per-second rates a throughput's statistics are taken over.
func windows(stamps []time.Duration) []float64 {
	if len(stamps) == 0 {
		return nil
	}
	first := stamps[0]
	n := int((stamps[len(stamps)-1]-first)/time.Second) + 1
	counts := make([]float64, n)
	for _, s := range stamps {
		counts[int((s-first)/time.Second)]++
	}
	return counts
}

// within returns the samples of a slice sorted by time whose time is in
// [from, to).
func within[T any](sorted []T, at func(T) time.Duration, from, to time.Duration) []T {
	lo, _ := slices.BinarySearchFunc(sorted, from, func(x T, t time.Duration) int { return cmpDur(at(x), t) })
	hi, _ := slices.BinarySearchFunc(sorted, to, func(x T, t time.Duration) int { return cmpDur(at(x), t) })
	return sorted[lo:hi]
}

func cmpDur(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
