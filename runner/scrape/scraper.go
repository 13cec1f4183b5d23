package scrape

import (
	"context"
	"crypto/tls"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Targets is what the scraper needs of a cluster; backends.Cluster satisfies it.
type Targets interface {
	Endpoints() []backends.Endpoint
	ClientTLS() *tls.Config
}

var _ Targets = backends.Cluster(nil)

// Options configure a Scraper.
type Options struct {
	// Start is the run's time zero: every sample is stamped time.Since(Start)
	// (monotonic). The zero value means the time New is called.
	Start time.Time
	// Every is the sampling period; default 2 s.
	Every time.Duration
}

const (
	defaultEvery = 2 * time.Second
	// roundTimeout bounds one round of reads: long enough for the
	// apiserver's /metrics on a loaded two-core machine, short enough that a
	// hung component does not hold up a step boundary.
	roundTimeout = 5 * time.Second
)

// Scraper samples a cluster's /metrics endpoints and kwok-run itself.
type Scraper struct {
	targets Targets
	opts    Options
	fetch   *fetcher
	self    selfReader

	mu     sync.Mutex
	result Result
}

// New returns a Scraper of t; nothing is read until Run or Mark.
func New(t Targets, opts Options) *Scraper {
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	if opts.Every <= 0 {
		opts.Every = defaultEvery
	}
	return &Scraper{targets: t, opts: opts, fetch: newFetcher(t.ClientTLS()), self: newSelfReader()}
}

// Run samples every component (and kwok-run itself) every opts.Every until
// ctx ends. Safe to run once.
func (s *Scraper) Run(ctx context.Context) {
	tick := time.NewTicker(s.opts.Every)
	defer tick.Stop()
	for {
		s.round(ctx, roundFamilies)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Mark scrapes every component now, synchronously (within a bounded
// timeout), including the apiserver's request histograms, and records the
// snapshot. Its time is taken when Mark is called, so everything the caller
// did before falls before the mark. The runner calls it before the first step
// and at the end of each step, so per-step histogram deltas have exact
// boundaries. It is safe to call while Run is running.
func (s *Scraper) Mark(ctx context.Context) {
	at, reads := s.round(ctx, markFamilies)
	m := Mark{At: at}
	if r := reads[plan.APIServer]; r != nil {
		m.Requests, m.apiserverStart = r.requests, r.start
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.result.Marks), func(i int) bool { return s.result.Marks[i].At > at })
	s.result.Marks = slices.Insert(s.result.Marks, i, m)
}

// Result returns everything recorded so far: a copy, safe to call
// concurrently with Run and Mark.
func (s *Scraper) Result() Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.result
	r.Samples = slices.Clone(r.Samples)
	r.Marks = slices.Clone(r.Marks)
	return r
}

// round reads every endpoint concurrently and records one sample per
// component read, all stamped with the round's start. A round cut short
// because ctx ended is dropped: its failures say nothing about the cluster.
func (s *Scraper) round(parent context.Context, families []string) (time.Duration, map[string]*reading) {
	at := time.Since(s.opts.Start)
	ctx, cancel := context.WithTimeout(parent, roundTimeout)
	defer cancel()
	endpoints := s.targets.Endpoints()
	reads := make([]*reading, len(endpoints))
	var wg sync.WaitGroup
	for i, e := range endpoints {
		wg.Go(func() {
			if r, err := s.fetch.read(ctx, e.MetricsURL, families); err == nil {
				reads[i] = r
			}
		})
	}
	own, ownOK := s.self.read()
	wg.Wait()
	if parent.Err() != nil {
		return at, nil
	}

	byComponent := map[string]*reading{}
	samples := make([]Sample, 0, len(endpoints)+1)
	failed := 0
	for i, r := range reads {
		if r == nil {
			failed++
			continue
		}
		c := endpoints[i].Component
		byComponent[c] = r
		samples = append(samples, sampleOf(at, c, r))
	}
	if ownOK {
		samples = append(samples, Sample{At: at, Component: selfComponent, CPUSeconds: own.cpu, RSSBytes: own.rss})
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.result.Scrapes += len(endpoints)
	s.result.Failed += failed
	i := sort.Search(len(s.result.Samples), func(i int) bool { return s.result.Samples[i].At > at })
	s.result.Samples = slices.Insert(s.result.Samples, i, samples...)
	return at, byComponent
}

func sampleOf(at time.Duration, component string, r *reading) Sample {
	objects := r.objects
	if objects == nil {
		objects = r.legacyObjects
	}
	return Sample{
		At: at, Component: component,
		CPUSeconds: r.cpu, RSSBytes: r.rss, DBSizeBytes: r.dbSize,
		Objects: objects,
	}
}
