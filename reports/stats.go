package reports

import (
	"math"
	"slices"
	"sort"
)

// median of xs; NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// mannWhitney is the two-sided p-value of the Mann–Whitney U test that a and
// b come from the same distribution. It makes no assumption about the
// shape of run-to-run noise, which for latencies is skewed, and it is what
// benchstat uses. Without ties the p-value is exact (the U distribution
// counted out); with ties it is the normal approximation with the tie
// correction. With three runs a side the smallest possible p is 0.1, with
// four 0.029, with five 0.008.
func mannWhitney(a, b []float64) float64 {
	n1, n2 := len(a), len(b)
	if n1 == 0 || n2 == 0 {
		return math.NaN()
	}
	type obs struct {
		v     float64
		fromA bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	// Ranks, ties sharing their mean rank.
	var rankA, tieTerm float64
	ties := false
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2
		if t := float64(j - i); t > 1 {
			ties = true
			tieTerm += t*t*t - t
		}
		for k := i; k < j; k++ {
			if all[k].fromA {
				rankA += rank
			}
		}
		i = j
	}
	u := rankA - float64(n1*(n1+1))/2
	if ties || n1+n2 > 60 {
		return normalP(u, float64(n1), float64(n2), tieTerm)
	}
	return exactP(u, n1, n2)
}

// exactP counts, over every way to split n1+n2 distinct ranks, how many give
// a U at least as far from its mean as u.
func exactP(u float64, n1, n2 int) float64 {
	// count[i][j][s]: arrangements of i a's and j b's with U = s, built up
	// one observation at a time (the recurrence of Mann and Whitney).
	maxU := n1 * n2
	prev := make([][]float64, n2+1)
	for j := range prev {
		prev[j] = make([]float64, maxU+1)
		prev[j][0] = 1 // no a's: U = 0
	}
	for i := 1; i <= n1; i++ {
		cur := make([][]float64, n2+1)
		for j := 0; j <= n2; j++ {
			cur[j] = make([]float64, maxU+1)
			for s := 0; s <= maxU; s++ {
				// The largest observation is an a (it beats all j b's) or a b.
				if s >= j {
					cur[j][s] += prev[j][s-j]
				}
				if j > 0 {
					cur[j][s] += cur[j-1][s]
				}
			}
		}
		prev = cur
	}
	dist := prev[n2]
	var total, tail float64
	mean := float64(maxU) / 2
	far := math.Abs(u - mean)
	for s, c := range dist {
		total += c
		if math.Abs(float64(s)-mean) >= far-1e-9 {
			tail += c
		}
	}
	return math.Min(1, tail/total)
}

func normalP(u, n1, n2, tieTerm float64) float64 {
	n := n1 + n2
	mean := n1 * n2 / 2
	variance := n1 * n2 / 12 * ((n + 1) - tieTerm/(n*(n-1)))
	if variance <= 0 {
		return 1
	}
	// Continuity correction towards the mean.
	z := (math.Abs(u-mean) - 0.5) / math.Sqrt(variance)
	if z < 0 {
		z = 0
	}
	return math.Min(1, math.Erfc(z/math.Sqrt2))
}
