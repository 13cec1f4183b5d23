package scrape

import (
	"math"
	"slices"
	"sort"
)

// Key is what the apiserver's request histograms are split by here: the
// catalogue's lower-case verb, and the resource with its subresource
// ("pods/binding").
type Key struct{ Verb, Resource string }

// Histogram is a classic Prometheus histogram.
type Histogram struct {
	Buckets    []Bucket // cumulative, sorted by upper bound, ending with +Inf
	Count, Sum float64
}

// Bucket counts the observations at or below UpperBound.
type Bucket struct{ UpperBound, Count float64 }

// smallDelta is the relative difference between neighbouring bucket counts
// that Prometheus takes for a floating point artefact rather than data.
const smallDelta = 1e-12

// Quantile is Prometheus' histogram_quantile(q, ...) on this histogram: NaN
// with no observations; linear interpolation inside the bucket where the rank
// falls (lower bound 0 for the first bucket when its upper bound is > 0); the
// upper bound of the highest finite bucket when the rank falls into +Inf.
// It follows promql's BucketQuantile, so a report's percentiles are the ones
// a Prometheus dashboard would show for the same counters.
func (h Histogram) Quantile(q float64) float64 {
	switch {
	case math.IsNaN(q):
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(+1)
	}
	if len(h.Buckets) == 0 {
		return math.NaN()
	}
	b := slices.Clone(h.Buckets)
	slices.SortStableFunc(b, func(x, y Bucket) int {
		switch {
		case x.UpperBound < y.UpperBound:
			return -1
		case x.UpperBound > y.UpperBound:
			return +1
		}
		return 0
	})
	if !math.IsInf(b[len(b)-1].UpperBound, +1) {
		return math.NaN()
	}
	b = coalesce(b)
	monotonic(b)
	if len(b) < 2 {
		return math.NaN()
	}
	total := b[len(b)-1].Count
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	i := sort.Search(len(b)-1, func(i int) bool { return b[i].Count >= rank })
	if i == len(b)-1 {
		return b[len(b)-2].UpperBound
	}
	if i == 0 && b[0].UpperBound <= 0 {
		return b[0].UpperBound
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = b[i-1].UpperBound, b[i-1].Count
	}
	return lower + (b[i].UpperBound-lower)*(rank-below)/(b[i].Count-below)
}

// coalesce merges buckets of equal upper bound, summing their counts, as
// Prometheus does when two series end up with the same le.
func coalesce(b []Bucket) []Bucket {
	out := b[:1]
	for _, x := range b[1:] {
		if last := &out[len(out)-1]; x.UpperBound == last.UpperBound {
			last.Count += x.Count
		} else {
			out = append(out, x)
		}
	}
	return out
}

// monotonic makes counts non-decreasing: differences too small to be real
// are levelled in either direction, and a real decrease is raised to the
// highest count so far, so the binary search for the rank stays meaningful.
func monotonic(b []Bucket) {
	prev := b[0].Count
	for i := 1; i < len(b); i++ {
		cur := b[i].Count
		if cur == prev {
			continue
		}
		if almostEqual(prev, cur) || cur < prev {
			b[i].Count = prev
			continue
		}
		prev = cur
	}
}

// almostEqual is Prometheus' relative comparison with tolerance smallDelta.
func almostEqual(a, b float64) bool {
	if a == b {
		return true
	}
	const minNormal = 0x1p-1022
	sum, diff := math.Abs(a)+math.Abs(b), math.Abs(a-b)
	if a == 0 || b == 0 || sum < minNormal {
		return diff < smallDelta*minNormal
	}
	return diff/math.Min(sum, math.MaxFloat64) < smallDelta
}

// Mean is Sum/Count, NaN when empty.
func (h Histogram) Mean() float64 {
	if h.Count == 0 {
		return math.NaN()
	}
	return h.Sum / h.Count
}

// Sub is the increase from earlier to h. A counter that went down means the
// apiserver restarted in between: then the increase is h itself (what was
// counted since the restart), as Prometheus' increase() treats a reset.
func (h Histogram) Sub(earlier Histogram) Histogram {
	if h.resetSince(earlier) {
		return h.clone()
	}
	out := Histogram{Count: h.Count - earlier.Count, Sum: h.Sum - earlier.Sum, Buckets: make([]Bucket, len(h.Buckets))}
	j := 0
	for i, b := range h.Buckets {
		for j < len(earlier.Buckets) && earlier.Buckets[j].UpperBound < b.UpperBound {
			j++
		}
		out.Buckets[i] = b
		if j < len(earlier.Buckets) && earlier.Buckets[j].UpperBound == b.UpperBound {
			out.Buckets[i].Count -= earlier.Buckets[j].Count
		}
	}
	return out
}

func (h Histogram) resetSince(earlier Histogram) bool {
	if h.Count < earlier.Count || h.Sum < earlier.Sum {
		return true
	}
	j := 0
	for _, e := range earlier.Buckets {
		for j < len(h.Buckets) && h.Buckets[j].UpperBound < e.UpperBound {
			j++
		}
		if j < len(h.Buckets) && h.Buckets[j].UpperBound == e.UpperBound && h.Buckets[j].Count < e.Count {
			return true
		}
	}
	return false
}

func (h Histogram) clone() Histogram {
	h.Buckets = slices.Clone(h.Buckets)
	return h
}

// add is sum by (le): counts of equal upper bounds add up, and a bound only
// one side has keeps that side's count.
func add(a, b Histogram) Histogram {
	out := Histogram{Count: a.Count + b.Count, Sum: a.Sum + b.Sum, Buckets: make([]Bucket, 0, max(len(a.Buckets), len(b.Buckets)))}
	i, j := 0, 0
	for i < len(a.Buckets) || j < len(b.Buckets) {
		switch {
		case j == len(b.Buckets) || i < len(a.Buckets) && a.Buckets[i].UpperBound < b.Buckets[j].UpperBound:
			out.Buckets = append(out.Buckets, a.Buckets[i])
			i++
		case i == len(a.Buckets) || b.Buckets[j].UpperBound < a.Buckets[i].UpperBound:
			out.Buckets = append(out.Buckets, b.Buckets[j])
			j++
		default:
			out.Buckets = append(out.Buckets, Bucket{a.Buckets[i].UpperBound, a.Buckets[i].Count + b.Buckets[j].Count})
			i++
			j++
		}
	}
	return out
}
