package scrape

import (
	"math"
	"testing"
)

var inf = math.Inf(+1)

func hist(count float64, bounds ...float64) Histogram {
	h := Histogram{Count: count}
	for i := 0; i+1 < len(bounds); i += 2 {
		h.Buckets = append(h.Buckets, Bucket{bounds[i], bounds[i+1]})
	}
	return h
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) < 1e-9
}

func TestQuantile(t *testing.T) {
	// 10 observations: 2 ≤ 0.1, 4 in (0.1, 0.5], 3 in (0.5, 1], 1 above 1.
	h := hist(10, 0.1, 2, 0.5, 6, 1, 9, inf, 10)
	tests := []struct {
		name string
		h    Histogram
		q    float64
		want float64
	}{
		// rank 5 falls in (0.1, 0.5] holding 6-2=4: 0.1 + 0.4*(5-2)/4 = 0.4.
		{"median", h, 0.5, 0.4},
		// rank 9 is the top of (0.5, 1]: 0.5 + 0.5*(9-6)/3 = 1.
		{"p90", h, 0.9, 1},
		// rank 9.5 is in +Inf: the highest finite bound, 1.
		{"p95 in +Inf", h, 0.95, 1},
		// rank 1 in the first bucket, lower bound 0: 0.1*(1/2) = 0.05.
		{"p10 first bucket", h, 0.1, 0.05},
		// rank 0: the first bucket with count ≥ 0 is the first: 0.1*0/2 = 0.
		{"q=0", h, 0, 0},
		// rank 10: no finite bucket reaches it, so +Inf: 1.
		{"q=1", h, 1, 1},
		{"q<0", h, -0.5, math.Inf(-1)},
		{"q>1", h, 1.5, inf},
		{"q NaN", h, math.NaN(), math.NaN()},
		{"q<0 even when empty", Histogram{}, -1, math.Inf(-1)},
		{"empty", Histogram{}, 0.5, math.NaN()},
		{"no observations", hist(0, 0.1, 0, inf, 0), 0.5, math.NaN()},
		// Only the +Inf bucket: fewer than two buckets is NaN.
		{"one bucket", hist(5, inf, 5), 0.5, math.NaN()},
		// Every observation above 1: rank 2 lands in +Inf, so 1.
		{"all in +Inf", hist(4, 0.1, 0, 1, 0, inf, 4), 0.5, 1},
		// No +Inf bucket: NaN.
		{"no +Inf", hist(4, 0.1, 2, 1, 4), 0.5, math.NaN()},
		// A first bound ≤ 0 is returned as is: rank 1 ≤ 2 in le=-1.
		{"first bound negative", hist(4, -1, 2, 1, 4, inf, 4), 0.25, -1},
		// le=0.2 dropped from 3 to 2; the envelope raises it to 3:
		// 0.1:3 0.2:3 0.5:5 +Inf:5. Rank 4 falls in (0.2, 0.5]:
		// 0.2 + 0.3*(4-3)/(5-3) = 0.35.
		{"non-monotonic", hist(5, 0.1, 3, 0.2, 2, 0.5, 5, inf, 5), 0.8, 0.35},
		// Same, rank 2.5 in the first bucket: 0.1*2.5/3.
		{"non-monotonic low", hist(5, 0.1, 3, 0.2, 2, 0.5, 5, inf, 5), 0.5, 0.1 * 2.5 / 3},
		// Unsorted, with le=0.5 twice: sorted and coalesced to
		// 0.5:3 1:4 +Inf:4; rank 2: 0.5*2/3.
		{"unsorted duplicate bounds", hist(4, 1, 4, 0.5, 2, inf, 4, 0.5, 1), 0.5, 0.5 * 2 / 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.Quantile(tt.q); !near(got, tt.want) {
				t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestQuantileLeavesBucketsAlone(t *testing.T) {
	h := hist(5, 0.2, 2, 0.1, 3, inf, 5)
	h.Quantile(0.5)
	if h.Buckets[0].UpperBound != 0.2 || h.Buckets[1].Count != 3 {
		t.Errorf("Quantile changed its receiver: %v", h.Buckets)
	}
}

func TestMean(t *testing.T) {
	if m := (Histogram{Count: 4, Sum: 2}).Mean(); m != 0.5 {
		t.Errorf("Mean = %v, want 0.5", m)
	}
	if m := (Histogram{}).Mean(); !math.IsNaN(m) {
		t.Errorf("Mean of empty = %v, want NaN", m)
	}
}

func TestSub(t *testing.T) {
	earlier := Histogram{Count: 10, Sum: 3, Buckets: []Bucket{{0.1, 5}, {1, 8}, {inf, 10}}}
	tests := []struct {
		name string
		h    Histogram
		want Histogram
	}{
		{"increase",
			Histogram{Count: 15, Sum: 5, Buckets: []Bucket{{0.1, 7}, {1, 12}, {inf, 15}}},
			Histogram{Count: 5, Sum: 2, Buckets: []Bucket{{0.1, 2}, {1, 4}, {inf, 5}}}},
		// The apiserver restarted: what it counted since is the increase.
		{"reset",
			Histogram{Count: 2, Sum: 0.1, Buckets: []Bucket{{0.1, 1}, {1, 2}, {inf, 2}}},
			Histogram{Count: 2, Sum: 0.1, Buckets: []Bucket{{0.1, 1}, {1, 2}, {inf, 2}}}},
		// Only one bucket went down: still a reset, as Count alone would miss.
		{"reset in a bucket",
			Histogram{Count: 12, Sum: 4, Buckets: []Bucket{{0.1, 4}, {1, 11}, {inf, 12}}},
			Histogram{Count: 12, Sum: 4, Buckets: []Bucket{{0.1, 4}, {1, 11}, {inf, 12}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.h.Sub(earlier)
			if !equalHist(got, tt.want) {
				t.Errorf("Sub = %+v, want %+v", got, tt.want)
			}
		})
	}
	// A series that did not exist yet increased by all of it.
	h := Histogram{Count: 1, Sum: 1, Buckets: []Bucket{{1, 1}, {inf, 1}}}
	if got := h.Sub(Histogram{}); !equalHist(got, h) {
		t.Errorf("Sub(zero) = %+v, want %+v", got, h)
	}
}

func TestAddUnionOfBounds(t *testing.T) {
	a := Histogram{Count: 3, Sum: 1, Buckets: []Bucket{{0.1, 1}, {1, 2}, {inf, 3}}}
	b := Histogram{Count: 2, Sum: 2, Buckets: []Bucket{{0.5, 1}, {1, 1}, {inf, 2}}}
	want := Histogram{Count: 5, Sum: 3, Buckets: []Bucket{{0.1, 1}, {0.5, 1}, {1, 3}, {inf, 5}}}
	if got := add(a, b); !equalHist(got, want) {
		t.Errorf("add = %+v, want %+v", got, want)
	}
}

func equalHist(a, b Histogram) bool {
	if !near(a.Count, b.Count) || !near(a.Sum, b.Sum) || len(a.Buckets) != len(b.Buckets) {
		return false
	}
	for i := range a.Buckets {
		if a.Buckets[i].UpperBound != b.Buckets[i].UpperBound || !near(a.Buckets[i].Count, b.Buckets[i].Count) {
			return false
		}
	}
	return true
}
