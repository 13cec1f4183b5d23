package runner

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

func TestPaceCountsAndRetries(t *testing.T) {
	var busyTries atomic.Int64
	tl := newTally()
	busy := apierrors.NewTooManyRequests("slow down", 0)
	gone := apierrors.NewNotFound(schema.GroupResource{Resource: "nodes"}, "x")
	err := pace(context.Background(), plan.Rate{Parallelism: 4}, 10, nil, tl, func(ctx context.Context, i int) error {
		switch {
		case i == 3 && busyTries.Add(1) <= 2:
			return busy // retried, and works the third time
		case i == 7:
			return gone // not retried
		}
		return nil
	})
	if err == nil || !apierrors.IsNotFound(errors.Unwrap(err)) {
		t.Errorf("want the permanent failure reported, got %v", err)
	}
	if tl.ops.Load() != 9 || tl.failed.Load() != 1 {
		t.Errorf("want 9 done and 1 failed, got %d and %d", tl.ops.Load(), tl.failed.Load())
	}
	codes := tl.errorCounts()
	if codes["404"] != 1 || codes["429"] != 2 {
		t.Errorf("failed requests by code: %v", codes)
	}
}

func TestPaceStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	err := pace(ctx, plan.Rate{PerSecond: 1000, Parallelism: 1}, 1000000, nil, newTally(), func(ctx context.Context, i int) error {
		if calls.Add(1) == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls.Load() > 12 {
		t.Errorf("pace went on after cancellation: %d calls, %v", calls.Load(), err)
	}
}

func TestSpread(t *testing.T) {
	for _, tc := range []struct {
		count, n, per int
		want          string
	}{
		{10, 3, 4, "[4 4 2]"}, {2, 3, 1, "[1 1 0]"}, {0, 2, 1, "[0 0]"},
	} {
		if got := fmt.Sprint(spread(tc.count, tc.n, tc.per)); got != tc.want {
			t.Errorf("spread(%d, %d, %d) = %s, want %s", tc.count, tc.n, tc.per, got, tc.want)
		}
	}
}

// BenchmarkPaceAccuracy measures the pacer alone against an operation that
// takes a millisecond: how close to the asked rate it completes, without a
// cluster that may not keep up.
func BenchmarkPaceAccuracy(b *testing.B) {
	for _, rate := range []float64{100, 500, 2000} {
		b.Run(fmt.Sprintf("%g-per-s", rate), func(b *testing.B) {
			var pct float64
			for i := 0; i < b.N; i++ {
				tl := newTally()
				n := int(rate * 5)
				pace(context.Background(), plan.Rate{PerSecond: rate, Burst: 1, Parallelism: 50}, n, nil, tl, func(ctx context.Context, i int) error {
					time.Sleep(time.Millisecond)
					return nil
				})
				pct += 100 * tl.achieved() / rate
			}
			b.ReportMetric(pct/float64(b.N), "%-of-asked-rate")
			b.ReportMetric(0, "ns/op")
		})
	}
}
