package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/runner/observe"
	"github.com/kwok-run/kwok-run/runner/requests"
	"github.com/kwok-run/kwok-run/runner/scrape"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Options are what Run needs besides the plan.
type Options struct {
	Cluster backends.Cluster
	// Log receives progress: a live line on a terminal, plain lines in CI.
	Log      io.Writer
	Terminal bool
	// RunDir receives the output of exec actions.
	RunDir string
	// ScrapeEvery is how often the components' metrics are read; default
	// 2 s.
	ScrapeEvery time.Duration
	// Cleanup deletes what the run created when it ends, however it ends:
	// a cluster that outlives the run (backend kubeconfig) is left as it
	// was found. A cluster thrown away after the run needs none. What cannot
	// be deleted fails a run that otherwise succeeded, as infrastructure.
	Cleanup bool
}

// Result is what the run did, step by step.
type Result struct {
	Start, End time.Time
	Steps      []*StepResult
	// Operations is the log of decisions: what each action chose to create,
	// delete or disturb, in the order it chose. The same plan and seed give
	// the same log.
	Operations []string

	// What the run measured, raw, for runner/measure: every object's
	// stamps, every API request kwok-run sent, and the components' metrics.
	// All times count from Start.
	Observed observe.Records
	Requests map[requests.Key][]requests.Sample
	Scrape   scrape.Result
	// WaveResources maps each create_objects wave to its resource as the
	// apiserver counts stored objects: "configmaps", "widgets.example.com".
	WaveResources map[string]string
}

// StepResult is one step's outcome.
type StepResult struct {
	Name       string
	Start, End time.Time
	Actions    []*ActionResult
	Err        error
}

// ActionResult is one action's outcome.
type ActionResult struct {
	Kind string
	// Summary says what happened in a line: "created 1000 nodes of workers".
	Summary  string
	Done     int
	Failed   int
	Asked    float64
	Achieved float64
	// Errors counts failed requests by status code, retries included.
	Errors map[string]int
	Err    error
}

// Failure kinds, for the exit code: a scenario that did not reach what it
// waited for, against a cluster or machine that broke.
var (
	ErrStepFailed     = errors.New("step failed")
	ErrInfrastructure = errors.New("infrastructure failed")
)

// Run plays the plan's steps against the cluster. The result is complete up
// to where the run stopped, also when it returns an error.
func Run(ctx context.Context, p *plan.Plan, opts Options) (res *Result, err error) {
	res = &Result{Start: time.Now()}
	r, err := newRunner(p, opts, res.Start)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInfrastructure, err)
	}
	defer func() {
		res.End = time.Now()
		res.Operations = r.ops.list()
		r.stopBackground()
		r.stopMeasuring(res)
		if !opts.Cleanup {
			return
		}
		// Also after a timeout or an interrupt: ctx may be over, its
		// values are not.
		if cerr := r.cleanup(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = fmt.Errorf("%w: %w", ErrInfrastructure, cerr)
		}
	}()

	ctx, cancel := context.WithTimeoutCause(ctx, p.Scenario.Timeout.D(),
		fmt.Errorf("%w: the scenario's timeout of %s passed", ErrStepFailed, p.Scenario.Timeout))
	defer cancel()
	ctx, cancelCause := context.WithCancelCause(ctx)
	defer cancelCause(nil)
	go func() {
		select {
		case err := <-opts.Cluster.Failed():
			cancelCause(fmt.Errorf("%w: %w", ErrInfrastructure, err))
		case err := <-r.backgroundFailed:
			cancelCause(fmt.Errorf("%w: %w", ErrStepFailed, err))
		case <-ctx.Done():
		}
	}()

	if err := r.startMeasuring(ctx); err != nil {
		if ctx.Err() != nil {
			return res, context.Cause(ctx)
		}
		return res, fmt.Errorf("%w: %w", ErrInfrastructure, err)
	}
	for i, step := range p.Steps {
		sr := r.step(ctx, i, step)
		res.Steps = append(res.Steps, sr)
		// The step's end is a boundary of every per-step measurement, so the
		// components are read at it, also when the step failed.
		r.mark(context.WithoutCancel(ctx))
		if sr.Err != nil {
			// The scenario's timeout, a component that died, a background
			// command that failed, or an interrupt, say why in the cause.
			if ctx.Err() != nil {
				return res, context.Cause(ctx)
			}
			return res, fmt.Errorf("%w: step %s: %w", ErrStepFailed, step.Name, sr.Err)
		}
	}
	return res, nil
}

// measuring labels everything the measurements run, and the goroutines
// they start, so a CPU profile of kwok-run says what measuring costs
// (`make bench` reports it; `go tool pprof -tagfocus kwok-run=measure`).
var measuring = pprof.Labels("kwok-run", "measure")

// startMeasuring starts the watches and the scraper before the first step,
// so the first action's objects are seen from their creation.
func (r *runner) startMeasuring(ctx context.Context) (err error) {
	pprof.Do(ctx, measuring, func(ctx context.Context) {
		if r.tracker, err = startTracker(ctx, r.watchCS, r.recorder); err != nil {
			return
		}
		r.recorder.SetSelectRunning(r.tracker.runningPods)
		scrapeCtx, stop := context.WithCancel(context.Background())
		r.stopScraper = stop
		r.scraper.Mark(ctx)
		r.scraperDone = make(chan struct{})
		go func() {
			defer close(r.scraperDone)
			r.scraper.Run(scrapeCtx)
		}()
	})
	return err
}

// mark reads the components at a step boundary.
func (r *runner) mark(ctx context.Context) {
	pprof.Do(ctx, measuring, r.scraper.Mark)
}

// stopMeasuring ends the watches and the scraper and hands what they
// recorded to the result.
func (r *runner) stopMeasuring(res *Result) {
	if r.tracker != nil {
		// The watches outlive the run's context: what the last moments
		// created may still arrive, and is not unseen.
		r.recorder.WaitSeen(2 * time.Second)
		r.tracker.close()
	}
	if r.stopScraper != nil {
		r.stopScraper()
		<-r.scraperDone
	}
	res.Observed = r.recorder.Records()
	res.Requests = r.requests.Samples()
	res.Scrape = r.scraper.Result()
	r.mu.Lock()
	res.WaveResources = map[string]string{}
	for name, w := range r.objectWaves {
		gr := w.mapping.Resource.GroupResource()
		res.WaveResources[name] = gr.String()
	}
	r.mu.Unlock()
}

type runner struct {
	plan *plan.Plan
	opts Options
	cs   kubernetes.Interface
	dyn  dynamic.Interface
	ops  *opLog

	mu    sync.Mutex
	pools map[string]*poolNodes
	waves map[string]*waveState
	// objectWaves are the create_objects waves, by name.
	objectWaves map[string]*objectWave
	// applied are the objects apply created, in order, for Cleanup.
	applied []appliedObject

	// namespaces holds, by name, whether the run created the namespace
	// (true) or found it (false).
	namespaces sync.Map
	mapper     *mapper

	// Measuring: watchCS has a connection of its own for the watches.
	watchCS     kubernetes.Interface
	tracker     *tracker
	recorder    *observe.Recorder
	requests    *requests.Recorder
	scraper     *scrape.Scraper
	stopScraper context.CancelFunc
	scraperDone chan struct{}

	bgMu             sync.Mutex
	background       []*backgroundCmd
	backgroundFailed chan error
}

type waveState struct {
	create *plan.CreatePods
	pods   int // pods the wave should have now, after scaling
	// deleted counts the bare pods kwok-run itself deleted (delete_pods).
	deleted int
	// replicas are what each workload of the wave is asked for now, by
	// name: a wait must not take a copy from before the change for done.
	replicas map[string]int32
}

func newRunner(p *plan.Plan, opts Options, start time.Time) (*runner, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", opts.Cluster.Kubeconfig())
	if err != nil {
		return nil, err
	}
	// Actions pace themselves; the client must never be the limit.
	cfg.QPS, cfg.Burst = -1, 0
	cfg.UserAgent = "kwok-run"
	watchCfg := rest.CopyConfig(cfg)
	reqs := requests.New(start)
	cfg.WrapTransport = reqs.Wrap
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(protobuf(cfg))
	if err != nil {
		return nil, err
	}
	// The measuring watches get a connection of their own (client-go shares
	// a transport between equal configs, and compression is part of the
	// key): multiplexed behind the runner's requests on one HTTP/2
	// connection their events would queue, and the apiserver drops a
	// watcher that does not keep up. Compressing loopback traffic would
	// only cost CPU.
	watchCfg.DisableCompression = true
	watchCfg.UserAgent = "kwok-run/observe"
	watchCS, err := kubernetes.NewForConfig(protobuf(watchCfg))
	if err != nil {
		return nil, err
	}
	r := &runner{
		plan: p, opts: opts, cs: cs, dyn: dyn, ops: &opLog{},
		pools: map[string]*poolNodes{}, waves: map[string]*waveState{}, objectWaves: map[string]*objectWave{},
		backgroundFailed: make(chan error, 1),
		watchCS:          watchCS, recorder: observe.NewRecorder(start), requests: reqs,
		scraper: scrape.New(opts.Cluster, scrape.Options{Start: start, Every: opts.ScrapeEvery}),
	}
	r.mapper = newMapper(cs.Discovery())
	for i, pool := range p.Pools {
		r.pools[pool.Name] = &poolNodes{pool: pool, ordinal: i, live: map[string]int{}, notReady: map[string]bool{}}
	}
	return r, nil
}

// protobuf is cfg speaking protobuf, which costs the apiserver and kwok-run
// less than JSON for the built-in kinds.
func protobuf(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.ContentType = "application/vnd.kubernetes.protobuf"
	c.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return c
}

// step runs one step: its actions at once, then the rest of its duration.
func (r *runner) step(ctx context.Context, index int, s *plan.Step) *StepResult {
	sr := &StepResult{Name: s.Name, Start: time.Now()}
	defer func() { sr.End = time.Now() }()
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, s.Timeout.D(), fmt.Errorf("the step's timeout of %s passed", s.Timeout))
		defer cancel()
	}
	if s.PodLifecycle != "" {
		if err := r.switchLifecycle(ctx, index, s.PodLifecycle); err != nil {
			sr.Err = err
			return sr
		}
	}
	prog := r.progress(s.Name)
	defer prog.stop()
	var g errgroup.Group
	sr.Actions = make([]*ActionResult, len(s.Actions))
	for i, a := range s.Actions {
		ar := &ActionResult{Kind: a.BlockType(), Errors: map[string]int{}}
		sr.Actions[i] = ar
		rng := rand.New(rand.NewPCG(uint64(r.plan.Scenario.Seed), uint64(index)<<32|uint64(i)))
		ac := &actionCtx{r: r, step: s, res: ar, rng: rng, at: [2]int{index, i}, name: fmt.Sprintf("%s/%s", s.Name, a.BlockType()), prog: prog}
		g.Go(func() error {
			ar.Err = ac.run(ctx, a)
			return nil
		})
	}
	g.Wait()
	for _, ar := range sr.Actions {
		if ar.Err != nil {
			sr.Err = ar.Err
			break
		}
	}
	if sr.Err == nil && ctx.Err() != nil {
		sr.Err = context.Cause(ctx)
	}
	if sr.Err == nil {
		if rest := time.Until(sr.Start.Add(s.Duration.D())); rest > 0 {
			select {
			case <-time.After(rest):
			case <-ctx.Done():
				sr.Err = context.Cause(ctx)
			}
		}
	}
	return sr
}

// actionCtx is what one action works with.
type actionCtx struct {
	r    *runner
	step *plan.Step
	res  *ActionResult
	rng  *rand.Rand
	// at is the step's and the action's index, name how the log names it.
	at   [2]int
	name string
	prog *progress
}

func (a *actionCtx) run(ctx context.Context, act plan.Action) error {
	switch act := act.(type) {
	case *plan.CreateNodes:
		return a.createNodes(ctx, act)
	case *plan.DeleteNodes:
		return a.deleteNodes(ctx, act)
	case *plan.ChurnNodes:
		return a.churnNodes(ctx, act)
	case *plan.CreatePods:
		return a.createPods(ctx, act)
	case *plan.ScalePods:
		return a.scalePods(ctx, act)
	case *plan.DeletePods:
		return a.deletePods(ctx, act)
	case *plan.CreateObjects:
		return a.createObjects(ctx, act)
	case *plan.UpdateObjects:
		return a.updateObjects(ctx, act)
	case *plan.DeleteObjects:
		return a.deleteObjects(ctx, act)
	case *plan.Apply:
		return a.apply(ctx, act)
	case *plan.RestartComponent:
		return a.restart(ctx, act)
	case *plan.StopComponent:
		return a.stop(ctx, act)
	case *plan.Wait:
		return a.wait(ctx, act)
	case *plan.Sleep:
		return a.sleep(ctx, act)
	case *plan.Exec:
		return a.exec(ctx, act)
	}
	return fmt.Errorf("no runner for %T", act)
}

// record logs a decision in the operation log.
func (a *actionCtx) record(format string, args ...any) {
	a.r.ops.add(a.at, a.name+": "+fmt.Sprintf(format, args...))
}

// finish fills the result from a tally.
func (a *actionCtx) finish(t *tally, rate plan.Rate, summary string) {
	a.res.Done = int(t.units.Load())
	a.res.Failed = int(t.failed.Load())
	a.res.Asked = rate.PerSecond
	a.res.Achieved = t.achieved()
	a.res.Errors = t.errorCounts()
	a.res.Summary = summary
}

// opLog collects decisions from concurrent actions, per action.
type opLog struct {
	mu  sync.Mutex
	ops map[[2]int][]string
}

func (l *opLog) add(at [2]int, op string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ops == nil {
		l.ops = map[[2]int][]string{}
	}
	l.ops[at] = append(l.ops[at], op)
}

// list returns the operations in step and action order, each action's in the
// order it decided them: actions run concurrently, so only that is fixed.
func (l *opLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([][2]int, 0, len(l.ops))
	for k := range l.ops {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1]
	})
	var out []string
	for _, k := range keys {
		out = append(out, l.ops[k]...)
	}
	return out
}
