package reports

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/kwok-run/kwok-run/scenario/metrics"
)

// The HTML report's number formatting. Every value is shown in the unit a
// person reads it in (milliseconds for short latencies, MiB for memory), so
// the page never asks the reader to count zeros.

const (
	htmlKiB = 1 << 10
	htmlMiB = 1 << 20
	htmlGiB = 1 << 30
)

// htmlSig3 writes v with three significant digits and no exponent, dropping
// trailing zeros: 412, 41.2, 4.12, 0.5.
func htmlSig3(v float64) string {
	if v == 0 {
		return "0"
	}
	decimals := max(0, 2-int(math.Floor(math.Log10(math.Abs(v)))))
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// htmlNotFinite stands in for a value a chart or table cannot show.
const htmlNotFinite = "n/a"

func htmlFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// htmlSeconds formats a duration: µs and ms below a second, minutes and hours
// beyond a minute.
func htmlSeconds(s float64) string {
	a := math.Abs(s)
	switch {
	case !htmlFinite(s):
		return htmlNotFinite
	case s == 0:
		return "0 s"
	case a < 1e-3:
		return htmlSig3(s*1e6) + " µs"
	case a < 1:
		return htmlSig3(s*1e3) + " ms"
	case a < 60:
		return htmlSig3(s) + " s"
	}
	sign := ""
	if s < 0 {
		sign = "-"
	}
	whole := int64(math.Round(a))
	if whole < 3600 {
		return fmt.Sprintf("%s%dm %02ds", sign, whole/60, whole%60)
	}
	return fmt.Sprintf("%s%dh %02dm", sign, whole/3600, whole%3600/60)
}

// htmlBytes formats a size in binary units.
func htmlBytes(b float64) string {
	a := math.Abs(b)
	switch {
	case !htmlFinite(b):
		return htmlNotFinite
	case a >= htmlGiB:
		return htmlSig3(b/htmlGiB) + " GiB"
	case a >= htmlMiB:
		return htmlSig3(b/htmlMiB) + " MiB"
	case a >= htmlKiB:
		return htmlSig3(b/htmlKiB) + " KiB"
	}
	return strconv.FormatFloat(b, 'f', 0, 64) + " B"
}

// htmlRate formats a per-second rate.
func htmlRate(r float64) string {
	if !htmlFinite(r) {
		return htmlNotFinite
	}
	return htmlSig3(r) + "/s"
}

// htmlCount formats a count with thousands separators; a fractional count
// (a mean) keeps three significant digits.
func htmlCount(c float64) string {
	if !htmlFinite(c) {
		return htmlNotFinite
	}
	if c != math.Trunc(c) || math.Abs(c) >= 1e15 {
		return htmlSig3(c)
	}
	digits := strconv.FormatInt(int64(math.Abs(c)), 10)
	var b strings.Builder
	if c < 0 {
		b.WriteByte('-')
	}
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return b.String()
}

// htmlFormat formats v in unit u.
func htmlFormat(u metrics.Unit, v float64) string {
	switch u {
	case metrics.Seconds:
		return htmlSeconds(v)
	case metrics.Bytes:
		return htmlBytes(v)
	case metrics.PerSecond:
		return htmlRate(v)
	case metrics.Count:
		return htmlCount(v)
	}
	if !htmlFinite(v) {
		return htmlNotFinite
	}
	return htmlSig3(v)
}

// htmlMetricPath splits a metric path as assertions and r.Metrics spell it
// ("metrics.steps.load.pod_startup_latency.p99") into the catalogue name
// ("pod_startup_latency") and what follows it ("p99"), dropping the
// `metrics.` and `steps.<step>.` prefixes.
func htmlMetricPath(path string) (name, rest string) {
	path = strings.TrimPrefix(path, "metrics.")
	if after, ok := strings.CutPrefix(path, metrics.StepsKey+"."); ok {
		if _, inStep, ok := strings.Cut(after, "."); ok {
			path = inStep
		}
	}
	name, rest, _ = strings.Cut(path, ".")
	return name, rest
}

// htmlPathUnit is the unit of the value at path. A distribution's count
// statistic counts samples, whatever the distribution measures.
func htmlPathUnit(path string) metrics.Unit {
	name, rest := htmlMetricPath(path)
	m, ok := metrics.Lookup(name)
	if !ok {
		return ""
	}
	if m.Stats != nil && (rest == "count" || strings.HasSuffix(rest, ".count")) {
		return metrics.Count
	}
	return m.Unit
}

// htmlFormatPath formats the value of the metric at path in its unit.
func htmlFormatPath(path string, v float64) string {
	return htmlFormat(htmlPathUnit(path), v)
}
