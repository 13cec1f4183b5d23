package measure

import (
	"slices"
	"time"

	"github.com/kwok-run/kwok-run/reports"
	"github.com/kwok-run/kwok-run/runner/observe"
	"github.com/kwok-run/kwok-run/scenario/metrics"
)

// maxPoints bounds a series: a long run is drawn at a coarser resolution
// rather than with more points than a chart has pixels.
const maxPoints = 1200

func resolution(end time.Duration) time.Duration {
	return max(time.Second, (end / maxPoints).Round(time.Second))
}

// in reports whether a stamp happened by t.
func in(stamp, t time.Duration) bool { return stamp > 0 && stamp <= t }

// podAlive and nodeAlive say whether an object existed at t.
func podAlive(p *observe.Pod, t time.Duration) bool {
	return in(p.At[observe.PodCreated], t) && !in(p.At[observe.PodGone], t)
}

func nodeAlive(n *observe.Node, t time.Duration) bool {
	return in(n.At[observe.NodeCreated], t) && !in(n.At[observe.NodeGone], t)
}

func nodeReadyAt(n *observe.Node, t time.Duration) bool {
	if !nodeAlive(n, t) || !in(n.At[observe.NodeReady], t) {
		return false
	}
	for _, o := range n.Outages {
		if in(o.Start, t) && !in(o.End, t) {
			return false
		}
	}
	return true
}

// counts are the catalogue's object counts: transitions within the window,
// and the state at its end.
func (s *samples) counts(v metrics.Values, sc scope) {
	end := min(sc.to, s.runEnd)
	inWindow := func(at time.Duration) bool { return at > 0 && at >= sc.from && at < sc.to }
	var created, scheduled, running, succeeded, failed, unscheduled, deleted float64
	counted := []struct {
		t observe.PodTransition
		n *float64
	}{
		{observe.PodCreated, &created}, {observe.PodScheduled, &scheduled}, {observe.PodRunning, &running},
		{observe.PodSucceeded, &succeeded}, {observe.PodFailed, &failed}, {observe.PodGone, &deleted},
	}
	for _, p := range s.recs.Pods {
		if p.Preexisting {
			continue
		}
		for _, c := range counted {
			if inWindow(p.At[c.t]) {
				*c.n++
			}
		}
		if podAlive(p, end) && !in(p.At[observe.PodScheduled], end) {
			unscheduled++
		}
	}
	var nCreated, nReady, nNotReady, nDeleted float64
	poolOf := map[string]string{}
	for _, n := range s.recs.Nodes {
		if n.Pool != "" {
			poolOf[n.Name] = n.Pool
			// Listed even at 0, so that an assertion that no pod landed
			// on a pool has something to check.
			v["pods_scheduled_on_pool."+n.Pool] = 0
		}
		if n.Preexisting {
			continue
		}
		if inWindow(n.At[observe.NodeCreated]) {
			nCreated++
		}
		if inWindow(n.At[observe.NodeGone]) {
			nDeleted++
		}
		switch {
		case nodeReadyAt(n, end):
			nReady++
		case nodeAlive(n, end):
			nNotReady++
		}
	}
	// A name can belong to a deleted node and then to its replacement, in
	// the same pool: the pool is what counts.
	for _, p := range s.recs.Pods {
		if pool := poolOf[p.Node]; pool != "" && !p.Preexisting && inWindow(p.At[observe.PodScheduled]) {
			v["pods_scheduled_on_pool."+pool]++
		}
	}
	var endpointsReady float64
	for _, svc := range s.recs.Services {
		if !svc.Preexisting && inWindow(svc.EndpointsReady) {
			endpointsReady++
		}
	}
	for name, n := range map[string]float64{
		"services_endpoints_ready": endpointsReady,
		"pods_created":             created, "pods_scheduled": scheduled, "pods_running": running, "pods_succeeded": succeeded,
		"pods_failed": failed, "pods_unscheduled": unscheduled, "pods_deleted": deleted,
		"nodes_created": nCreated, "nodes_ready": nReady, "nodes_not_ready": nNotReady, "nodes_deleted": nDeleted,
	} {
		v[name] = n
	}
}

// delta is a change of a count at a moment.
type delta struct {
	at time.Duration
	d  float64
}

// level turns changes into a count sampled every step until end.
func level(name string, deltas []delta, step, end time.Duration) reports.Series {
	slices.SortFunc(deltas, func(a, b delta) int { return cmpDur(a.at, b.at) })
	s := reports.Series{Name: name, Group: reports.GroupObjects, Unit: "objects"}
	var cur float64
	i := 0
	for t := time.Duration(0); ; t += step {
		t = min(t, end)
		for i < len(deltas) && deltas[i].at <= t {
			cur += deltas[i].d
			i++
		}
		s.Points = append(s.Points, [2]float64{t.Seconds(), cur})
		if t == end {
			return s
		}
	}
}

// storedSeries are how many objects of each create_objects wave's resource
// the apiserver stored over the run, as scraped.
func (s *samples) storedSeries(waveResources map[string]string) []reports.Series {
	var resources []string
	for _, res := range waveResources {
		if !slices.Contains(resources, res) {
			resources = append(resources, res)
		}
	}
	slices.Sort(resources)
	var out []reports.Series
	for _, res := range resources {
		sr := reports.Series{Name: res + " stored", Group: reports.GroupObjects, Unit: "objects"}
		for _, smp := range s.scrape.Samples {
			if n, ok := smp.Objects[res]; ok {
				sr.Points = append(sr.Points, [2]float64{smp.At.Seconds(), n})
			}
		}
		if len(sr.Points) > 0 {
			out = append(out, sr)
		}
	}
	return out
}

// objectSeries are how many pods and nodes existed, were bound, Running or
// Ready over the run.
func (s *samples) objectSeries(end time.Duration) []reports.Series {
	var pods, bound, running, nodes, ready []delta
	for _, p := range s.recs.Pods {
		if p.Preexisting {
			continue
		}
		at := p.At
		gone := at[observe.PodGone]
		if at[observe.PodCreated] > 0 {
			pods = append(pods, delta{at[observe.PodCreated], 1})
			if gone > 0 {
				pods = append(pods, delta{gone, -1})
			}
		}
		if at[observe.PodScheduled] > 0 {
			bound = append(bound, delta{at[observe.PodScheduled], 1})
			if gone > 0 {
				bound = append(bound, delta{gone, -1})
			}
		}
		if at[observe.PodRunning] > 0 {
			running = append(running, delta{at[observe.PodRunning], 1})
			// Running ends with the first of these.
			var stop time.Duration
			for _, t := range []observe.PodTransition{observe.PodSucceeded, observe.PodFailed, observe.PodGone} {
				if at[t] > 0 && (stop == 0 || at[t] < stop) {
					stop = at[t]
				}
			}
			if stop > 0 {
				running = append(running, delta{stop, -1})
			}
		}
	}
	for _, n := range s.recs.Nodes {
		if n.Preexisting || n.At[observe.NodeCreated] == 0 {
			continue
		}
		gone := n.At[observe.NodeGone]
		nodes = append(nodes, delta{n.At[observe.NodeCreated], 1})
		if gone > 0 {
			nodes = append(nodes, delta{gone, -1})
		}
		if r := n.At[observe.NodeReady]; r > 0 {
			ready = append(ready, delta{r, 1})
			for _, o := range n.Outages {
				ready = append(ready, delta{o.Start, -1})
				if o.End > 0 {
					ready = append(ready, delta{o.End, 1})
				}
			}
			if gone > 0 && nodeReadyAt(n, gone-1) {
				ready = append(ready, delta{gone, -1})
			}
		}
	}
	step := resolution(end)
	var out []reports.Series
	for _, c := range []struct {
		name   string
		deltas []delta
	}{{"pods", pods}, {"pods bound", bound}, {"pods running", running}, {"nodes", nodes}, {"nodes ready", ready}} {
		if len(c.deltas) > 0 {
			out = append(out, level(c.name, c.deltas, step, end))
		}
	}
	return out
}

// throughputSeries are creations and bindings per second over the run.
func (s *samples) throughputSeries(end time.Duration) []reports.Series {
	step := resolution(end)
	var out []reports.Series
	for _, c := range []struct{ name, metric string }{
		{"pods created/s", "pod_creation_throughput"},
		{"pods bound/s", "scheduling_throughput"},
		{"nodes created/s", "node_creation_throughput"},
	} {
		stamps := s.events[c.metric]
		if len(stamps) == 0 {
			continue
		}
		buckets := make([]float64, int(end/step)+1)
		for _, at := range stamps {
			buckets[min(int(at/step), len(buckets)-1)]++
		}
		sr := reports.Series{Name: c.name, Group: reports.GroupThroughput, Unit: "1/s"}
		for i, n := range buckets {
			sr.Points = append(sr.Points, [2]float64{(time.Duration(i) * step).Seconds(), n / step.Seconds()})
		}
		out = append(out, sr)
	}
	return out
}
