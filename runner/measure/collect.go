package measure

import (
	"slices"
	"time"

	"github.com/kwok-run/kwok-run/reports"
	"github.com/kwok-run/kwok-run/runner"
	"github.com/kwok-run/kwok-run/runner/observe"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// latencyOrder is the order latencies are listed in: a pod's life, then a
// node's, then workloads'.
var latencyOrder = []string{
	"pod_scheduling_latency", "pod_running_latency", "pod_startup_latency", "pod_ready_latency",
	"pod_completion_latency", "pod_deletion_latency", "simulator_lag",
	"node_ready_latency", "node_recovery_latency", "node_deletion_latency",
	"deployment_available_latency", "job_completion_latency", "service_endpoints_latency",
}

// collect turns the records into sorted samples. Only timed transitions
// make latencies; untimed ones are counted.
func collect(p *plan.Plan, res *runner.Result) *samples {
	s := &samples{
		recs: res.Observed, latencies: map[string][]timed{}, events: map[string][]time.Duration{},
		requests: res.Requests, scrape: res.Scrape, runEnd: res.End.Sub(res.Start),
	}
	add := func(name string, from, to time.Duration) {
		s.latencies[name] = append(s.latencies[name], timed{at: from, v: (to - from).Seconds()})
	}
	asked := askedDelays(p, res)
	for _, pod := range res.Observed.Pods {
		if pod.Preexisting {
			continue
		}
		for t, at := range pod.At {
			if at > 0 && pod.Inexact&(1<<t) != 0 {
				s.inexact = append(s.inexact, at)
			}
		}
		at := pod.At
		ok := pod.Timed
		if ok(observe.PodCreated) {
			s.events["pod_creation_throughput"] = append(s.events["pod_creation_throughput"], at[observe.PodCreated])
		}
		if ok(observe.PodScheduled) {
			s.events["scheduling_throughput"] = append(s.events["scheduling_throughput"], at[observe.PodScheduled])
		}
		pairs := []struct {
			name     string
			from, to observe.PodTransition
		}{
			{"pod_scheduling_latency", observe.PodCreated, observe.PodScheduled},
			{"pod_running_latency", observe.PodScheduled, observe.PodRunning},
			{"pod_startup_latency", observe.PodCreated, observe.PodRunning},
			{"pod_ready_latency", observe.PodCreated, observe.PodReady},
			{"pod_completion_latency", observe.PodRunning, observe.PodSucceeded},
			{"pod_deletion_latency", observe.PodDeleting, observe.PodGone},
		}
		for _, pr := range pairs {
			if ok(pr.from) && ok(pr.to) {
				add(pr.name, at[pr.from], at[pr.to])
			}
		}
		if ok(observe.PodScheduled) && ok(observe.PodRunning) {
			lag := at[observe.PodRunning] - at[observe.PodScheduled] - asked(at[observe.PodScheduled])
			s.latencies["simulator_lag"] = append(s.latencies["simulator_lag"], timed{at: at[observe.PodScheduled], v: max(lag, 0).Seconds()})
		}
	}
	for _, n := range res.Observed.Nodes {
		if n.Preexisting {
			continue
		}
		for t, at := range n.At {
			if at > 0 && n.Inexact&(1<<t) != 0 {
				s.inexact = append(s.inexact, at)
			}
		}
		if n.Timed(observe.NodeCreated) {
			s.events["node_creation_throughput"] = append(s.events["node_creation_throughput"], n.At[observe.NodeCreated])
			if n.Timed(observe.NodeReady) {
				add("node_ready_latency", n.At[observe.NodeCreated], n.At[observe.NodeReady])
			}
		}
		if n.Timed(observe.NodeDeleting) && n.Timed(observe.NodeGone) {
			add("node_deletion_latency", n.At[observe.NodeDeleting], n.At[observe.NodeGone])
		}
		s.intervals("node_recovery_latency", n.Outages)
	}
	for _, d := range res.Observed.Deployments {
		if !d.Preexisting {
			s.intervals("deployment_available_latency", d.Rollouts)
		}
	}
	for _, j := range res.Observed.Jobs {
		switch {
		case j.Preexisting:
		case j.Inexact:
			s.inexact = append(s.inexact, j.Created)
		case j.Complete > 0:
			add("job_completion_latency", j.Created, j.Complete)
		}
	}
	for _, svc := range res.Observed.Services {
		switch {
		case svc.Preexisting || svc.EndpointsReady == 0:
		case svc.Inexact:
			s.inexact = append(s.inexact, svc.EndpointsReady)
		case svc.Early:
		default:
			add("service_endpoints_latency", svc.From, svc.EndpointsReady)
		}
	}
	for _, w := range res.Observed.Watches {
		s.resumed = append(s.resumed, w.Resumed...)
	}
	s.unseen = slices.Clone(res.Observed.Unseen)
	slices.Sort(s.unseen)
	for _, list := range s.latencies {
		slices.SortFunc(list, func(a, b timed) int { return cmpDur(a.at, b.at) })
	}
	for _, list := range s.events {
		slices.Sort(list)
	}
	slices.Sort(s.inexact)
	slices.Sort(s.resumed)
	return s
}

// intervals adds the closed, timed intervals as samples of name; an
// untimed one is counted at its start.
func (s *samples) intervals(name string, ivs []observe.Interval) {
	for _, iv := range ivs {
		switch {
		case iv.Inexact:
			s.inexact = append(s.inexact, iv.Start)
		case iv.End > 0:
			s.latencies[name] = append(s.latencies[name], timed{at: iv.Start, v: (iv.End - iv.Start).Seconds()})
		}
	}
}

// askedDelays returns, for a moment of the run, the longest delay the pod
// lifecycle in force then could give a pod before Running: KWOK draws it
// between ready_after and ready_after + jitter. Beyond that a pod waited in
// KWOK's queue. KWOK's own default stages make pods Running at once.
func askedDelays(p *plan.Plan, res *runner.Result) func(time.Duration) time.Duration {
	delay := func(name string) time.Duration {
		l := p.Lifecycle(name)
		if l == nil || l.ReadyAfter == 0 {
			return 0
		}
		return l.ReadyAfter.D() + l.Jitter.D()
	}
	type change struct{ from, delay time.Duration }
	timeline := []change{{0, delay(p.InitialLifecycle)}}
	for i, st := range res.Steps {
		if name := p.Steps[i].PodLifecycle; name != "" {
			timeline = append(timeline, change{st.Start.Sub(res.Start), delay(name)})
		}
	}
	return func(at time.Duration) time.Duration {
		d := timeline[0].delay
		for _, c := range timeline[1:] {
			if c.from <= at {
				d = c.delay
			}
		}
		return d
	}
}

// crossChecks compute the same intervals from the apiserver's timestamps, for
// the objects timed both ways.
func (s *samples) crossChecks() []reports.CrossCheck {
	var sched, schedSrv, ready, readySrv, node, nodeSrv []float64
	for _, p := range s.recs.Pods {
		if p.Preexisting || p.ServerCreated == 0 {
			continue
		}
		if p.Timed(observe.PodCreated) && p.Timed(observe.PodScheduled) && p.ServerScheduled > 0 {
			sched = append(sched, (p.At[observe.PodScheduled] - p.At[observe.PodCreated]).Seconds())
			schedSrv = append(schedSrv, float64(p.ServerScheduled-p.ServerCreated))
		}
		if p.Timed(observe.PodCreated) && p.Timed(observe.PodReady) && p.ServerReady > 0 {
			ready = append(ready, (p.At[observe.PodReady] - p.At[observe.PodCreated]).Seconds())
			readySrv = append(readySrv, float64(p.ServerReady-p.ServerCreated))
		}
	}
	for _, n := range s.recs.Nodes {
		if !n.Preexisting && n.ServerCreated > 0 && n.ServerReady > 0 && n.Timed(observe.NodeCreated) && n.Timed(observe.NodeReady) {
			node = append(node, (n.At[observe.NodeReady] - n.At[observe.NodeCreated]).Seconds())
			nodeSrv = append(nodeSrv, float64(n.ServerReady-n.ServerCreated))
		}
	}
	var out []reports.CrossCheck
	for _, c := range []struct {
		metric, interval string
		watch, server    []float64
	}{
		{"pod_scheduling_latency", "metadata.creationTimestamp → PodScheduled condition lastTransitionTime", sched, schedSrv},
		{"pod_ready_latency", "metadata.creationTimestamp → Ready condition lastTransitionTime", ready, readySrv},
		{"node_ready_latency", "metadata.creationTimestamp → Ready condition lastTransitionTime", node, nodeSrv},
	} {
		if len(c.watch) > 0 {
			out = append(out, reports.CrossCheck{Metric: c.metric, Interval: c.interval, Watch: statsOf(c.watch), Server: statsOf(c.server)})
		}
	}
	return out
}
