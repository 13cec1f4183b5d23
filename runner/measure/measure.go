// Package measure turns what a run recorded (every object's stamps, every
// API request of kwok-run, the components' metrics) into the numbers of the
// metric catalogue, for the whole run and for each step, and into the
// distributions and series the reports draw. A latency belongs to the step
// its first transition happened in; a throughput is taken over 1 s windows
// from the first event to the last.
package measure

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/kwok-run/kwok-run/reports"
	"github.com/kwok-run/kwok-run/runner"
	"github.com/kwok-run/kwok-run/runner/observe"
	"github.com/kwok-run/kwok-run/runner/requests"
	"github.com/kwok-run/kwok-run/runner/scrape"
	"github.com/kwok-run/kwok-run/scenario/metrics"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Measured is a run's numbers.
type Measured struct {
	// Run holds the whole run's values, Steps each step's that ran, by the
	// paths assertions use.
	Run           metrics.Values
	Steps         []metrics.Values
	Distributions []reports.Distribution
	ServerSide    []reports.CrossCheck
	Series        []reports.Series
	Measurement   reports.Measurement
}

// Values are every number as assertions see them: the run's, and each
// step's under steps.<name>.
func (m *Measured) Values(res *runner.Result) metrics.Values {
	out := metrics.Values{}
	for k, v := range m.Run {
		out[k] = v
	}
	for i, st := range res.Steps {
		for k, v := range m.Steps[i] {
			out[metrics.StepsKey+"."+st.Name+"."+k] = v
		}
	}
	return out
}

// scope is a time window of the run and the actions that ran in it.
type scope struct {
	from, to time.Duration
	actions  []*runner.ActionResult
}

// Compute measures a run.
func Compute(p *plan.Plan, res *runner.Result) *Measured {
	end := res.End.Sub(res.Start)
	s := collect(p, res)
	m := &Measured{}
	var all []*runner.ActionResult
	for _, st := range res.Steps {
		all = append(all, st.Actions...)
	}
	// The run's window includes the last moment, whose stamps a half-open
	// window would leave out.
	m.Run = s.values(scope{from: 0, to: end + 1, actions: all})
	for _, st := range res.Steps {
		m.Steps = append(m.Steps, s.values(scope{from: st.Start.Sub(res.Start), to: st.End.Sub(res.Start), actions: st.Actions}))
	}
	for _, name := range latencyOrder {
		if values := s.latencyValues(name); len(values) > 0 {
			metric, _ := metrics.Lookup(name)
			m.Distributions = append(m.Distributions, reports.Distribution{
				Metric: name, Unit: string(metric.Unit), Count: len(values), Points: cdfPoints(values, 200),
			})
		}
	}
	m.ServerSide = s.crossChecks()
	m.Series = append(s.objectSeries(end), s.storedSeries(res.WaveResources)...)
	m.Series = append(m.Series, s.throughputSeries(end)...)
	m.Series = append(m.Series, res.Scrape.Series()...)
	m.Measurement = measurement(res, len(s.inexact))
	return m
}

// samples is everything a run recorded, sorted for windowing.
type samples struct {
	recs observe.Records
	// latencies by metric, sorted by the stamp they start at.
	latencies map[string][]timed
	// events by throughput metric, sorted.
	events map[string][]time.Duration
	// inexact are the stamps of untimed transitions, sorted.
	inexact []time.Duration
	resumed []time.Duration
	// unseen are the creation stamps of what kwok-run created and no
	// watch saw.
	unseen   []time.Duration
	requests map[requests.Key][]requests.Sample
	scrape   scrape.Result
	runEnd   time.Duration
}

type timed struct {
	at time.Duration
	v  float64
}

func stampOf(t timed) time.Duration      { return t.at }
func self(d time.Duration) time.Duration { return d }

// latencyValues are every sample of a latency, in seconds.
func (s *samples) latencyValues(name string) []float64 {
	list := s.latencies[name]
	out := make([]float64, len(list))
	for i, t := range list {
		out[i] = t.v
	}
	return out
}

func (s *samples) values(sc scope) metrics.Values {
	v := metrics.Values{}
	for name, list := range s.latencies {
		var values []float64
		for _, t := range within(list, stampOf, sc.from, sc.to) {
			values = append(values, t.v)
		}
		putStats(v, name, values)
	}
	for name, list := range s.events {
		putStats(v, name, windows(within(list, self, sc.from, sc.to)))
	}
	s.counts(v, sc)
	s.apiLatencies(v, sc)
	s.apiserverLatencies(v, sc)
	s.resources(v, sc)
	errs := map[string]int{}
	for _, a := range sc.actions {
		for code, n := range a.Errors {
			errs[code] += n
			errs[metrics.All] += n
		}
	}
	if len(sc.actions) > 0 {
		v["api_errors."+metrics.All] = 0
	}
	for code, n := range errs {
		v["api_errors."+code] = float64(n)
	}
	v["watch_restarts"] = float64(len(within(s.resumed, self, sc.from, sc.to)))
	v["missed_transitions"] = float64(len(within(s.inexact, self, sc.from, sc.to)))
	v["unseen_objects"] = float64(len(within(s.unseen, self, sc.from, sc.to)))
	v["duration"] = (min(sc.to, s.runEnd) - sc.from).Seconds()
	// A histogram without observations has no percentiles: such a value
	// was not measured, and JSON could not hold it either.
	for k, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			delete(v, k)
		}
	}
	return v
}

func (s *samples) apiLatencies(v metrics.Values, sc scope) {
	byPath := map[string][]float64{}
	for k, list := range s.requests {
		for _, r := range within(list, func(r requests.Sample) time.Duration { return r.At }, sc.from, sc.to) {
			d := r.Took.Seconds()
			for _, verb := range []string{k.Verb, metrics.All} {
				for _, res := range []string{k.Resource, metrics.All} {
					p := "api_request_latency." + verb + "." + res
					byPath[p] = append(byPath[p], d)
				}
			}
		}
	}
	for p, values := range byPath {
		putStats(v, p, values)
	}
}

// apiserverMetrics maps the catalogue's names to the apiserver's histograms.
var apiserverMetrics = map[string]string{
	"apiserver_request_latency": "apiserver_request_duration_seconds",
	"apiserver_sli_latency":     "apiserver_request_sli_duration_seconds",
}

func (s *samples) apiserverLatencies(v metrics.Values, sc scope) {
	for name, histogram := range apiserverMetrics {
		hs, ok := s.scrape.Requests(histogram, sc.from, sc.to)
		if !ok {
			continue
		}
		for k, h := range hs {
			if h.Count == 0 || strings.Contains(k.Resource, ".") {
				continue
			}
			p := name + "." + k.Verb + "." + k.Resource
			v[p+".count"] = h.Count
			v[p+".mean"] = h.Mean()
			for stat, q := range quantiles {
				v[p+"."+stat] = h.Quantile(q)
			}
		}
	}
}

func (s *samples) resources(v metrics.Values, sc scope) {
	for _, c := range append(slices.Clone(metrics.Components), metrics.All) {
		if cpu, ok := s.scrape.CPUSeconds(c, sc.from, sc.to); ok {
			v["component_cpu_seconds."+c] = cpu
		}
		if rss, ok := s.scrape.PeakRSS(c, sc.from, sc.to); ok {
			v["component_rss_peak_bytes."+c] = rss
		}
	}
	if db, ok := s.scrape.PeakDBSize(sc.from, sc.to); ok {
		v["etcd_db_size_bytes"] = db
	}
	// A count of zero is as likely a count not polled yet as no objects.
	for res, n := range s.scrape.PeakObjects(sc.from, sc.to) {
		if n > 0 && !strings.Contains(res, ".") {
			v["stored_objects."+res] = n
		}
	}
}

func measurement(res *runner.Result, inexact int) reports.Measurement {
	m := reports.Measurement{
		Inexact: inexact, InexactExamples: res.Observed.Examples,
		Unseen: len(res.Observed.Unseen), UnseenExamples: res.Observed.UnseenExamples,
		Scrapes: res.Scrape.Scrapes, ScrapesFailed: res.Scrape.Failed,
	}
	for _, w := range res.Observed.Watches {
		m.Watches = append(m.Watches, reports.Watch{
			Kind: w.Kind, Events: w.Events, Restarts: w.Restarts, Relists: w.Relists, LongestGap: w.LongestGap.Seconds(),
		})
	}
	return m
}
