package plan

import (
	"time"
)

// MinDuration is the least time the step takes: its own duration, and each
// action's lower bound (creating at the asked rate, sleeping, churning, a
// component kept down). Waits add an unknown amount on top.
func (s *Step) MinDuration() time.Duration {
	least := s.Duration.D()
	for _, a := range s.Actions {
		least = max(least, MinDuration(a))
	}
	return least
}

// MinDuration is the least time an action takes.
func MinDuration(a Action) time.Duration {
	switch a := a.(type) {
	case *CreateNodes:
		return a.Rate.timeFor(a.Count)
	case *CreatePods:
		return a.Rate.timeFor(a.Count)
	case *DeleteNodes:
		return a.Rate.timeFor(a.Amount.Count)
	case *DeletePods:
		return a.Rate.timeFor(a.Amount.Count)
	case *CreateObjects:
		return a.Rate.timeFor(a.Count)
	case *DeleteObjects:
		return a.Rate.timeFor(a.Amount.Count)
	case *UpdateObjects:
		return a.For.D()
	case *ChurnNodes:
		return a.For.D()
	case *Sleep:
		return a.For.D()
	case *RestartComponent:
		return a.DownFor.D()
	}
	return 0
}

// timeFor is how long n requests take at the rate; zero when unlimited.
func (r Rate) timeFor(n int) time.Duration {
	if r.PerSecond <= 0 || n <= 0 {
		return 0
	}
	// The burst goes at once; the rest at the rate.
	rest := max(n-r.Burst, 0)
	return time.Duration(float64(rest) / r.PerSecond * float64(time.Second))
}
