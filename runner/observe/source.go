package observe

import (
	"context"
	"errors"
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
// closes early with a back-off and a relist, which loses timings. Only a
// resourceVersion too old to resume from (410) goes back to the reflector,
// which relists; the relist then says which objects changed or went meanwhile.
type Source struct {
	kind string
	rec  *Recorder
	lw   cache.ListerWatcherWithContext
	// ctx ends when the run's observation ends.
	ctx context.Context

	mu       sync.Mutex
	listed   bool
	listSeen map[objKey]bool
}

// NewSource returns the source of kind, listing and watching through lw
// until ctx ends.
func NewSource(ctx context.Context, kind string, rec *Recorder, lw cache.ListerWatcherWithContext) *Source {
	return &Source{kind: kind, rec: rec, lw: lw, ctx: ctx}
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
	items, err := meta.ExtractList(obj)
	if err != nil {
		return nil, err
	}
	lm, err := meta.ListAccessor(obj)
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
	rw := &resumingWatch{s: s, out: make(chan watch.Event), stop: make(chan struct{}), wake: make(chan struct{}, 1)}
	rw.current = w
	go rw.receive(ctx, w, opts)
	go rw.forward()
	return rw, nil
}

// resumingWatch reads events as fast as the apiserver sends them and hands
// them on through an unbounded queue: an informer that falls behind must not
// slow the reading down, or the apiserver drops the watch.
type resumingWatch struct {
	s    *Source
	out  chan watch.Event
	stop chan struct{}
	once sync.Once

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
		w.mu.Lock()
		cur := w.current
		w.mu.Unlock()
		if cur != nil {
			cur.Stop()
		}
	})
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

// receive reads one watch after another from the last resourceVersion seen.
func (w *resumingWatch) receive(ctx context.Context, cur watch.Interface, opts metav1.ListOptions) {
	defer w.end()
	rv := opts.ResourceVersion
	// Events up to replayUntil were sent again after a long gap: they
	// happened while no watch was open.
	var replayUntil uint64
	for {
		for ev := range cur.ResultChan() {
			at := w.s.rec.Since()
			switch ev.Type {
			case watch.Error:
				if expired(ev.Object) {
					w.push(ev)
					cur.Stop()
					return
				}
				// Any other error: resume below.
				continue
			case watch.Bookmark:
				rv = resourceVersion(ev.Object, rv)
				w.push(ev)
				continue
			}
			rv = resourceVersion(ev.Object, rv)
			origin := Live
			if replayUntil > 0 {
				if n, err := strconv.ParseUint(rv, 10, 64); err != nil || n <= replayUntil {
					origin = Replayed
				} else {
					replayUntil = 0
				}
			}
			w.s.rec.observe(w.s.kind, ev.Type, ev.Object, at, origin)
			w.push(ev)
		}
		cur.Stop()
		if w.stopped() || ctx.Err() != nil {
			return
		}
		gapStart := w.s.rec.Since()
		next, until, err := w.resume(ctx, opts, rv)
		if err != nil {
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				w.push(watch.Event{Type: watch.Error, Object: &metav1.Status{
					Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: err.Error(),
				}})
			}
			return
		}
		gap := w.s.rec.Since() - gapStart
		w.s.rec.resumed(w.s.kind, gap)
		replayUntil = 0
		if gap > ExactGap {
			replayUntil = until
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

// resume opens the next watch from rv, retrying every retryEvery (up to a
// second after repeated failures) while the apiserver is unreachable. It
// first reads the current resourceVersion, so the events the new watch
// replays can be told apart from new ones.
func (w *resumingWatch) resume(ctx context.Context, opts metav1.ListOptions, rv string) (watch.Interface, uint64, error) {
	const retryEvery = 100 * time.Millisecond
	backoff := retryEvery
	for {
		until, err := w.currentVersion(ctx)
		if err == nil {
			opts.ResourceVersion = rv
			var next watch.Interface
			if next, err = w.s.lw.WatchWithContext(ctx, opts); err == nil {
				return next, until, nil
			}
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				return nil, 0, err
			}
		}
		if !transient(err) {
			backoff = min(2*backoff, time.Second)
		}
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-w.stop:
			return nil, 0, errors.New("stopped")
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
