package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

func (a *actionCtx) restart(ctx context.Context, r *plan.RestartComponent) error {
	a.record("restart %s with SIG%s, down for %s", r.Component, r.Signal, r.DownFor)
	start := time.Now()
	if err := a.r.opts.Cluster.Stop(ctx, r.Component, r.Signal); err != nil {
		return fmt.Errorf("stop %s: %w", r.Component, err)
	}
	if r.DownFor > 0 {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(r.DownFor.D()):
		}
	}
	if err := a.r.opts.Cluster.Start(ctx, r.Component); err != nil {
		return fmt.Errorf("start %s again: %w", r.Component, err)
	}
	a.res.Done = 1
	a.res.Summary = fmt.Sprintf("%s restarted and healthy after %s", r.Component, time.Since(start).Round(10*time.Millisecond))
	return nil
}

func (a *actionCtx) stop(ctx context.Context, s *plan.StopComponent) error {
	a.record("stop %s with SIG%s", s.Component, s.Signal)
	if err := a.r.opts.Cluster.Stop(ctx, s.Component, s.Signal); err != nil {
		return fmt.Errorf("stop %s: %w", s.Component, err)
	}
	a.res.Done = 1
	a.res.Summary = s.Component + " stopped"
	return nil
}

func (a *actionCtx) sleep(ctx context.Context, s *plan.Sleep) error {
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(s.For.D()):
	}
	a.res.Summary = "slept " + s.For.String()
	return nil
}
