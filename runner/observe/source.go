package observe

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// Source is the ListerWatcher under one kind's informer. Every object it
// lists or receives goes to the recorder first, stamped on arrival, and then
// on to the informer, so one list and one watch per kind serve both the
// measurements and the runner's waits.
//
// A watch that ends is resumed here, from the last resourceVersion seen,
// instead of by the informer: client-go's reflector answers a watch that
// closes early with a back-off and a relist, which loses timings. When the
// resourceVersion is too old to resume from (410: the apiserver restarted),
// the Source relists at once and watches on from the list, handing the
// informer what changed as events; what the list shows changed or gone is
// recorded, untimed.
type Source struct {
	kind string
	rec  *Recorder
	lw   cache.ListerWatcherWithContext
	// example is an empty object of kind, for the deletions a relist finds.
	example runtime.Object
	// ctx ends when the run's observation ends.
	ctx context.Context

	mu       sync.Mutex
	listed   bool
	listSeen map[objKey]bool
}

// NewSource returns the source of kind, listing and watching through lw
// until ctx ends.
func NewSource(ctx context.Context, kind string, rec *Recorder, lw cache.ListerWatcherWithContext, example runtime.Object) *Source {
	return &Source{kind: kind, rec: rec, lw: lw, ctx: ctx, example: example}
}

var (
	_ cache.ListerWatcher            = (*Source)(nil)
	_ cache.ListerWatcherWithContext = (*Source)(nil)
)

// IsWatchListSemanticsUnSupported declines client-go's watch-list: its
// initial state arrives as watch events, which would look like creations.
func (s *Source) IsWatchListSemanticsUnSupported() bool { return true }

// List implements cache.Lister.
func (s *Source) List(opts metav1.ListOptions) (runtime.Object, error) {
	return s.ListWithContext(s.ctx, opts)
}

// Watch implements cache.Watcher.
func (s *Source) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	return s.WatchWithContext(s.ctx, opts)
}

// ListWithContext lists through to the apiserver. The first complete list is
// the state before the run; a later one is a relist after a gap.
func (s *Source) ListWithContext(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	obj, err := s.lw.ListWithContext(ctx, opts)
	if err != nil {
		return nil, err
	}
	at := s.rec.Since()
	s.rec.track(s.kind)
	items, lm, err := listed(obj)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	origin := Initial
	if s.listed {
		origin = Relisted
	}
	// A list comes in pages; the objects it no longer shows are known at
	// its last page.
	if opts.Continue == "" {
		s.listSeen = map[objKey]bool{}
	}
	for _, it := range items {
		if m, err := meta.Accessor(it); err == nil {
			s.listSeen[objKey{m.GetNamespace(), m.GetName()}] = true
		}
		s.rec.observe(s.kind, watch.Modified, it, at, origin)
	}
	if lm.GetContinue() == "" {
		if s.listed {
			s.rec.sweep(s.kind, s.listSeen, at)
		}
		s.listed, s.listSeen = true, nil
	}
	return obj, nil
}

// WatchWithContext starts a watch that resumes itself until it is stopped or
// its resourceVersion is too old.
func (s *Source) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	w, err := s.lw.WatchWithContext(ctx, opts)
	if err != nil {
		return nil, err
	}
	// Stop cancels what receive is waiting on, a resumed watch or a relist
	// of 100,000 pods from a busy apiserver, so that it returns at once.
	ctx, cancel := context.WithCancel(ctx)
	rw := &resumingWatch{s: s, out: make(chan watch.Event), stop: make(chan struct{}), cancel: cancel, wake: make(chan struct{}, 1), received: make(chan struct{})}
	rw.current = w
	go func() {
		defer close(rw.received)
		rw.receive(ctx, w, opts)
	}()
	go rw.forward()
	return rw, nil
}

// resumingWatch reads events as fast as the apiserver sends them and hands
// them on through an unbounded queue: an informer that falls behind must not
// slow the reading down, or the apiserver drops the watch.
type resumingWatch struct {
	s      *Source
	out    chan watch.Event
	stop   chan struct{}
	cancel context.CancelFunc
	once   sync.Once
	// received is closed when receive has returned: after Stop nothing is
	// recorded, so the records can be read.
	received chan struct{}

	mu      sync.Mutex
	current watch.Interface
	queue   []watch.Event
	ended   bool
	wake    chan struct{}
}

func (w *resumingWatch) ResultChan() <-chan watch.Event { return w.out }

func (w *resumingWatch) Stop() {
	w.once.Do(func() {
		close(w.stop)
		w.cancel()
		w.mu.Lock()
		cur := w.current
		w.mu.Unlock()
		if cur != nil {
			cur.Stop()
		}
	})
	<-w.received
}

func (w *resumingWatch) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

func (w *resumingWatch) push(ev watch.Event) {
	w.mu.Lock()
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	w.signal()
}

func (w *resumingWatch) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// end lets the forwarder close the channel once the queue is drained.
func (w *resumingWatch) end() {
	w.mu.Lock()
	w.ended = true
	w.mu.Unlock()
	w.signal()
}

func (w *resumingWatch) forward() {
	defer close(w.out)
	for {
		w.mu.Lock()
		batch, ended := w.queue, w.ended
		w.queue = nil
		w.mu.Unlock()
		for _, ev := range batch {
			select {
			case w.out <- ev:
			case <-w.stop:
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		if ended {
			return
		}
		select {
		case <-w.wake:
		case <-w.stop:
			return
		}
	}
}

// stamped is an event and when it arrived.
type stamped struct {
	ev watch.Event
	at time.Duration
}

// receive reads one watch after another from the last resourceVersion seen.
func (w *resumingWatch) receive(ctx context.Context, cur watch.Interface, opts metav1.ListOptions) {
	defer w.end()
	r := &replay{rv: opts.ResourceVersion}
	// After a long gap, the current resourceVersion is read while the new
	// watch is already being read (the apiserver closes a watcher whose
	// ten-event buffer stays full); events wait in held until it is known.
	var boundary <-chan uint64
	var held []stamped
	for {
		tooOld := false
		events := cur.ResultChan()
	read:
		for {
			select {
			case until := <-boundary:
				boundary, r.until = nil, until
				for _, h := range held {
					w.deliver(h, r)
				}
				held = nil
				if until == math.MaxUint64 {
					r.until = 0
				}
			case ev, ok := <-events:
				if !ok {
					break read
				}
				h := stamped{ev, w.s.rec.Since()}
				switch {
				case ev.Type == watch.Error:
					// The apiserver ends the watch after an error: resume
					// below, or relist when it is too old to resume.
					tooOld = tooOld || expired(ev.Object)
				case boundary != nil:
					held = append(held, h)
				default:
					w.deliver(h, r)
				}
			}
		}
		cur.Stop()
		// Whatever is still held arrived after a gap with no boundary
		// known: on the safe side, all of it was replayed.
		if len(held) > 0 {
			r.until = math.MaxUint64
			for _, h := range held {
				w.deliver(h, r)
			}
			held, boundary, r.until = nil, nil, 0
		}
		if w.stopped() || ctx.Err() != nil {
			return
		}
		gapStart := w.s.rec.Since()
		var next watch.Interface
		var err error
		if !tooOld {
			next, err = w.resume(ctx, opts, r.rv)
		}
		relisted := tooOld || apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
		if relisted {
			next, r.rv, err = w.relist(ctx, opts)
		}
		if err != nil {
			return
		}
		gap := w.s.rec.Since() - gapStart
		w.s.rec.resumed(w.s.kind, gap)
		if gap > ExactGap && !relisted {
			boundary = w.boundary(ctx)
		}
		w.mu.Lock()
		w.current = next
		w.mu.Unlock()
		if w.stopped() {
			next.Stop()
			return
		}
		cur = next
	}
}

// replay tells replayed events from new ones: those up to until (set after
// a long gap) happened while no watch was open.
type replay struct {
	rv    string
	until uint64
}

// deliver records an event with its origin and hands it to the informer.
func (w *resumingWatch) deliver(h stamped, r *replay) {
	r.rv = resourceVersion(h.ev.Object, r.rv)
	if h.ev.Type == watch.Bookmark {
		w.push(h.ev)
		return
	}
	origin := Live
	if r.until > 0 {
		if n, err := strconv.ParseUint(r.rv, 10, 64); err != nil || n <= r.until {
			origin = Replayed
		} else {
			r.until = 0
		}
	}
	w.s.rec.observe(w.s.kind, h.ev.Type, h.ev.Object, h.at, origin)
	w.push(h.ev)
}

// boundary reads the cluster's resourceVersion now; if it cannot, every
// event held so far counts as replayed.
func (w *resumingWatch) boundary(ctx context.Context) <-chan uint64 {
	ch := make(chan uint64, 1)
	go func() {
		v, err := w.currentVersion(ctx)
		if err != nil {
			v = math.MaxUint64
		}
		ch <- v
	}()
	return ch
}

// relist lists kind now, records what changed or went while no watch was
// open, hands the informer the same as events (so its copy is right without
// a relist of its own, which would wait out the reflector's back-off), and
// watches on from the list.
func (w *resumingWatch) relist(ctx context.Context, opts metav1.ListOptions) (watch.Interface, string, error) {
	for {
		obj, err := w.s.lw.ListWithContext(ctx, metav1.ListOptions{})
		if err == nil {
			items, lm, err := listed(obj)
			if err != nil {
				return nil, "", err
			}
			at := w.s.rec.Since()
			seen := map[objKey]bool{}
			for _, it := range items {
				if m, err := meta.Accessor(it); err == nil {
					seen[objKey{m.GetNamespace(), m.GetName()}] = true
				}
				w.s.rec.observe(w.s.kind, watch.Modified, it, at, Relisted)
				w.push(watch.Event{Type: watch.Modified, Object: it})
			}
			for _, k := range w.s.rec.sweep(w.s.kind, seen, at) {
				gone := w.s.example.DeepCopyObject()
				if m, err := meta.Accessor(gone); err == nil {
					m.SetNamespace(k.ns)
					m.SetName(k.name)
				}
				w.push(watch.Event{Type: watch.Deleted, Object: gone})
			}
			rv := lm.GetResourceVersion()
			opts.ResourceVersion = rv
			next, err := w.s.lw.WatchWithContext(ctx, opts)
			if err == nil {
				return next, rv, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-w.stop:
			return nil, "", errors.New("stopped")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func listed(obj runtime.Object) ([]runtime.Object, metav1.ListInterface, error) {
	items, err := meta.ExtractList(obj)
	if err != nil {
		return nil, nil, err
	}
	lm, err := meta.ListAccessor(obj)
	return items, lm, err
}

// resume opens the next watch from rv, retrying every 100 ms (up to a
// second after repeated refusals) while the apiserver is unreachable.
func (w *resumingWatch) resume(ctx context.Context, opts metav1.ListOptions, rv string) (watch.Interface, error) {
	const retryEvery = 100 * time.Millisecond
	backoff := retryEvery
	opts.ResourceVersion = rv
	for {
		next, err := w.s.lw.WatchWithContext(ctx, opts)
		if err == nil {
			return next, nil
		}
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return nil, err
		}
		if !transient(err) {
			backoff = min(2*backoff, time.Second)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-w.stop:
			return nil, errors.New("stopped")
		case <-time.After(backoff):
		}
	}
}

// currentVersion is the cluster's resourceVersion now, from the cheapest
// consistent list there is.
func (w *resumingWatch) currentVersion(ctx context.Context) (uint64, error) {
	obj, err := w.s.lw.ListWithContext(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return 0, err
	}
	lm, err := meta.ListAccessor(obj)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(lm.GetResourceVersion(), 10, 64)
}

// transient errors are those of an apiserver that is restarting or shedding
// load: tried again at once.
func transient(err error) bool {
	return apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		!isAPIStatus(err)
}

func isAPIStatus(err error) bool {
	var s apierrors.APIStatus
	return errors.As(err, &s)
}

func expired(obj runtime.Object) bool {
	st, ok := obj.(*metav1.Status)
	return ok && (st.Code == 410 || st.Reason == metav1.StatusReasonExpired || st.Reason == metav1.StatusReasonGone)
}

func resourceVersion(obj runtime.Object, prev string) string {
	if m, err := meta.Accessor(obj); err == nil && m.GetResourceVersion() != "" {
		return m.GetResourceVersion()
	}
	return prev
}
