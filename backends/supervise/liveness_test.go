package supervise

import (
	"cmp"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// watch runs l until it reports a hang or has ticked n times, and returns
// the report.
func watch(t *testing.T, l Liveness, n int32) string {
	t.Helper()
	var checks atomic.Int32
	skip := l.Skip
	l.Skip = func() bool {
		checks.Add(1)
		return skip()
	}
	l.Every = time.Millisecond
	l.SilentFor = cmp.Or(l.SilentFor, 20*time.Millisecond)
	done := make(chan struct{})
	defer close(done)
	hung := make(chan string, 1)
	go l.Watch(done, func(status string) { hung <- status })
	for checks.Load() < n {
		select {
		case s := <-hung:
			return s
		case <-time.After(time.Millisecond):
		}
	}
	return ""
}

func never(context.Context) bool  { return false }
func always(context.Context) bool { return true }
func no() bool                    { return false }
func yes() bool                   { return true }

func TestLiveness(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    Liveness
		want string
	}{
		{"answering", Liveness{Check: always, Paused: yes, Skip: no}, ""},
		{"paused", Liveness{Check: never, Paused: yes, Skip: no}, "is paused"},
		{"silent", Liveness{Check: never, Paused: no, Skip: no}, "has not answered its health check for 20ms: hung"},
		{"silent, no way to tell paused", Liveness{Check: never, Skip: no}, "hung"},
		{"stopped on purpose", Liveness{Check: never, Paused: yes, Skip: yes}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := watch(t, tc.l, 200)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("reported %q, want %q", got, tc.want)
			}
		})
	}
}

// A component that answers now and then is busy, not hung.
func TestLivenessForgivesAnAnswer(t *testing.T) {
	var n atomic.Int32
	sometimes := func(context.Context) bool { return n.Add(1)%5 == 0 }
	l := Liveness{Check: sometimes, Paused: no, Skip: no, SilentFor: time.Second}
	if got := watch(t, l, 200); got != "" {
		t.Errorf("reported %q for a component that answers", got)
	}
}
