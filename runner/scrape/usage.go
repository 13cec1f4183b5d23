package scrape

import (
	"time"

	"github.com/kwok-run/kwok-run/scenario/metrics"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// CPUSeconds is the increase of a component's CPU counter in [from, to],
// from every sample in the window plus the last one before it; a lower
// value means the process restarted, and counts from 0. Component "all" sums
// every component, kwok_run included, and a component sums its instances
// (kwok/workers-0, kwok/workers-1). ok=false when fewer than two samples.
func (r Result) CPUSeconds(component string, from, to time.Duration) (float64, bool) {
	prev := map[string]float64{}
	total, ok := 0.0, false
	for _, s := range r.Samples {
		if s.At > to {
			break
		}
		if component != metrics.All && plan.ComponentOf(s.Component) != component {
			continue
		}
		if p, seen := prev[s.Component]; seen && s.At >= from {
			total += counterIncrease(p, s.CPUSeconds)
			ok = true
		}
		prev[s.Component] = s.CPUSeconds
	}
	return total, ok
}

// counterIncrease is how much a counter grew from a to b, where a drop means
// it started again from 0.
func counterIncrease(a, b float64) float64 {
	if b < a {
		return b
	}
	return b - a
}

// PeakRSS is the highest RSS sampled in [from, to], of the sum over the
// component's instances sampled in the same round; "all" sums every
// component.
func (r Result) PeakRSS(component string, from, to time.Duration) (float64, bool) {
	peak, ok := 0.0, false
	for _, round := range r.rounds(from, to) {
		sum, sampled := 0.0, false
		for _, s := range round {
			if component == metrics.All || plan.ComponentOf(s.Component) == component {
				sum, sampled = sum+s.RSSBytes, true
			}
		}
		if sampled {
			peak, ok = max(peak, sum), true
		}
	}
	return peak, ok
}

// PeakDBSize is etcd's largest database size in [from, to].
func (r Result) PeakDBSize(from, to time.Duration) (float64, bool) {
	return r.peak(from, to, func(s Sample) (float64, bool) { return s.DBSizeBytes, s.Component == plan.Etcd })
}

// PeakObjects is the highest stored-object count per resource in [from, to].
func (r Result) PeakObjects(from, to time.Duration) map[string]float64 {
	out := map[string]float64{}
	for _, s := range r.window(from, to) {
		for res, n := range s.Objects {
			if cur, ok := out[res]; !ok || n > cur {
				out[res] = n
			}
		}
	}
	return out
}

func (r Result) peak(from, to time.Duration, value func(Sample) (float64, bool)) (float64, bool) {
	peak, ok := 0.0, false
	for _, s := range r.window(from, to) {
		if v, mine := value(s); mine {
			if !ok || v > peak {
				peak = v
			}
			ok = true
		}
	}
	return peak, ok
}

// window is the samples with At in [from, to].
func (r Result) window(from, to time.Duration) []Sample {
	lo := 0
	for lo < len(r.Samples) && r.Samples[lo].At < from {
		lo++
	}
	hi := lo
	for hi < len(r.Samples) && r.Samples[hi].At <= to {
		hi++
	}
	return r.Samples[lo:hi]
}

// rounds splits the window's samples into scrape rounds, by their shared At.
func (r Result) rounds(from, to time.Duration) [][]Sample {
	var out [][]Sample
	w := r.window(from, to)
	for i := 0; i < len(w); {
		j := i
		for j < len(w) && w[j].At == w[i].At {
			j++
		}
		out = append(out, w[i:j])
		i = j
	}
	return out
}
