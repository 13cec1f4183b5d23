package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

// tally counts what an action did; safe for concurrent use.
type tally struct {
	// units are what the rate counts (pods for pod waves), ops the requests.
	units, ops, failed atomic.Int64

	mu     sync.Mutex
	errors map[string]int
	first  error
	start  time.Time
	// firstDone, firstUnits and last time the completions.
	firstDone  time.Time
	firstUnits int64
	last       time.Time
}

func newTally() *tally { return &tally{errors: map[string]int{}} }

func (t *tally) began(now time.Time) {
	t.mu.Lock()
	if t.start.IsZero() {
		t.start = now
	}
	t.mu.Unlock()
}

func (t *tally) done(units int, now time.Time) {
	t.units.Add(int64(units))
	t.ops.Add(1)
	t.mu.Lock()
	if t.firstDone.IsZero() {
		t.firstDone, t.firstUnits = now, int64(units)
	}
	if now.After(t.last) {
		t.last = now
	}
	t.mu.Unlock()
}

// failure counts one failed request by its HTTP status code, or by what
// went wrong when there was no response.
func (t *tally) failure(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errors[errorCode(err)]++
	if t.first == nil {
		t.first = err
	}
}

// achieved is the completion rate: units completed after the first
// completion, per second until the last. One request's latency is not part
// of it, so a long action and a short one at the same pace agree. Zero when
// one request did all (a single Deployment's pods come from its controller,
// at whatever rate it manages).
func (t *tally) achieved() float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.last.Sub(t.firstDone).Seconds()
	if d <= 0 || t.ops.Load() < 2 {
		return 0
	}
	return float64(t.units.Load()-t.firstUnits) / d
}

func (t *tally) errorCounts() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int, len(t.errors))
	for k, v := range t.errors {
		out[k] = v
	}
	return out
}

func errorCode(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Code != 0 {
		return strconv.Itoa(int(status.Status().Code))
	}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &netErr):
		return "connection"
	}
	return "other"
}

// transient errors are retried: the apiserver shedding load (429), being
// briefly unavailable (5xx), or not reachable while it restarts.
func transient(err error) bool {
	if apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) || apierrors.IsUnexpectedServerError(err) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// retry runs op until it succeeds, fails for good, or has tried maxTries
// times; every failed try is counted.
func retry(ctx context.Context, t *tally, op func(context.Context) error) error {
	const maxTries = 6
	backoff := 100 * time.Millisecond
	for try := 1; ; try++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.failure(err)
		if !transient(err) || try == maxTries {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// pace runs op(i) for i in [0, n) at the rate r asks, with at most
// r.Parallelism in flight. weight(i) is what op i counts for the rate (the
// pods of a Deployment). Operations that fail are counted and the rest go
// on; the error is the first failure, or the context's.
//
// Each operation has a due time on a fixed schedule (start + units before
// it / rate, the first r.Burst units at once), so a timer that wakes late
// is made up on the next one and the long-run rate is exact. A dispatcher
// held back by parallelism (a cluster that does not keep up) catches up by
// at most r.Burst units, like a token bucket.
func pace(ctx context.Context, r plan.Rate, n int, weight func(int) int, t *tally, op func(context.Context, int) error) error {
	var g errgroup.Group
	g.SetLimit(max(r.Parallelism, 1))
	var firstErr error
	var once sync.Once
	burst := max(r.Burst, 1)
	slack := time.Duration(float64(burst) / r.PerSecond * float64(time.Second))
	next := time.Now()
	var units int
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			break
		}
		w := 1
		if weight != nil {
			w = weight(i)
		}
		if r.PerSecond > 0 {
			// The first burst units are due at once; after that, each is due
			// 1/rate after the one before it.
			if units >= burst {
				if wait := time.Until(next); wait > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(wait):
					}
				} else if -wait > slack {
					next = time.Now().Add(-slack)
				}
				next = next.Add(time.Duration(float64(w) / r.PerSecond * float64(time.Second)))
			}
			units += w
			if ctx.Err() != nil {
				break
			}
		}
		g.Go(func() error {
			t.began(time.Now())
			err := retry(ctx, t, func(ctx context.Context) error { return op(ctx, i) })
			if err != nil {
				t.failed.Add(1)
				once.Do(func() { firstErr = fmt.Errorf("item %d: %w", i, err) })
				return nil
			}
			t.done(w, time.Now())
			return nil
		})
	}
	g.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}
