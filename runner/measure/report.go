package measure

import (
	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/reports"
	"github.com/kwok-run/kwok-run/runner"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Report is the report of a run: the plan's facts and the components as
// started, every step with what its actions did, the measurements, and each
// assertion's verdict. res may be partial (a run that stopped) or nil (one
// that never started its first step). The outcome is the caller's to set.
func Report(p *plan.Plan, res *runner.Result, components []backends.Component, version string) *reports.Report {
	r := reports.New(p, version)
	for _, c := range components {
		r.Cluster.Components = append(r.Cluster.Components, reports.Component{
			Name: c.Name, Version: p.Cluster.VersionOf(c.Name), Binary: c.Binary, SHA256: c.SHA256, Args: c.Args,
		})
	}
	if res == nil {
		for _, st := range p.Steps {
			r.Steps = append(r.Steps, reports.Step{Name: st.Name, Status: reports.StepNotRun})
		}
		r.Assertions = verdicts(p, nil)
		return r
	}
	m := Compute(p, res)
	r.Started = res.Start
	r.Duration = res.End.Sub(res.Start).Seconds()
	r.Metrics = m.Run
	r.Distributions, r.ServerSide, r.Series, r.Measurement = m.Distributions, m.ServerSide, m.Series, m.Measurement
	for i, st := range p.Steps {
		if i >= len(res.Steps) {
			r.Steps = append(r.Steps, reports.Step{Name: st.Name, Status: reports.StepNotRun})
			continue
		}
		sr := res.Steps[i]
		step := reports.Step{
			Name: sr.Name, Start: sr.Start.Sub(res.Start).Seconds(), End: sr.End.Sub(res.Start).Seconds(),
			Status: reports.StepPassed, Metrics: m.Steps[i],
		}
		if sr.Err != nil {
			step.Status, step.Error = reports.StepFailed, sr.Err.Error()
		}
		for _, a := range sr.Actions {
			ra := reports.Action{
				Kind: a.Kind, Summary: a.Summary, Done: a.Done, Failed: a.Failed,
				Asked: a.Asked, Achieved: a.Achieved, Errors: a.Errors,
			}
			if a.Err != nil {
				ra.Error = a.Err.Error()
			}
			step.Actions = append(step.Actions, ra)
		}
		r.Steps = append(r.Steps, step)
	}
	r.Assertions = verdicts(p, m.Values(res))
	return r
}

// verdicts checks every assertion; with nothing measured, each fails as not
// measured.
func verdicts(p *plan.Plan, values map[string]float64) []reports.Assertion {
	var out []reports.Assertion
	for _, a := range p.Assertions {
		v := a.Check.Check(values)
		out = append(out, reports.Assertion{
			Name: a.Name, Condition: a.Condition, Severity: a.Severity,
			Evaluated: v.Evaluated, Passed: v.Passed, Message: v.Message, Observed: v.Observed,
		})
	}
	return out
}
