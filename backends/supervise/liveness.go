package supervise

import (
	"cmp"
	"context"
	"fmt"
	"time"
)

// Liveness notices a component that stops answering while it still runs: a
// process stopped with SIGSTOP, a paused container, a deadlock. Such a
// component never exits, so without this a run would wait on a silent
// control plane until its timeout.
type Liveness struct {
	// Check asks the component's health endpoint once, within ctx.
	Check func(ctx context.Context) bool
	// Paused, when set, asks the operating system whether the component is
	// stopped without having exited (SIGSTOP, docker pause). It is asked
	// only after a failed check, and names the hang within seconds.
	Paused func() bool
	// Skip says when silence is expected: the component is not running, or
	// a fault is being injected.
	Skip func() bool
	// Every and SilentFor default to LivenessEvery and SilentFor.
	Every, SilentFor time.Duration
}

const (
	// LivenessEvery is how often a component is checked.
	LivenessEvery = time.Second
	// livenessTimeout bounds one check. A busy component may miss it now
	// and then: only SilentFor of misses in a row, or a paused process,
	// counts.
	livenessTimeout = 2 * time.Second
	// SilentFor is how long a component that is not paused may fail every
	// check before it counts as hung: long enough that two saturated cores
	// do not make a busy component look hung.
	SilentFor = 15 * time.Second
	// pausedChecks failed checks in a row, each with the component paused,
	// name it paused.
	pausedChecks = 2
)

// Watch checks the component every second until done is closed, and calls
// hung once, with what it saw, when the component has stopped answering.
func (l Liveness) Watch(done <-chan struct{}, hung func(status string)) {
	every, silentFor := cmp.Or(l.Every, LivenessEvery), cmp.Or(l.SilentFor, SilentFor)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var silentSince time.Time
	paused := 0
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		if l.Skip() {
			silentSince, paused = time.Time{}, 0
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), livenessTimeout)
		ok := l.Check(ctx)
		cancel()
		// A fault injected or a teardown begun while the check ran explains
		// its failure.
		select {
		case <-done:
			return
		default:
		}
		if ok || l.Skip() {
			silentSince, paused = time.Time{}, 0
			continue
		}
		if silentSince.IsZero() {
			silentSince = time.Now()
		}
		if l.Paused != nil && l.Paused() {
			if paused++; paused >= pausedChecks {
				hung(fmt.Sprintf("is paused (stopped by SIGSTOP or its engine): it has not exited, but has not answered for %s", time.Since(silentSince).Round(time.Second)))
				return
			}
			continue
		}
		paused = 0
		if time.Since(silentSince) >= silentFor {
			hung(fmt.Sprintf("has not answered its health check for %s: hung", silentFor))
			return
		}
	}
}
