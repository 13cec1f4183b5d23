package observe

import (
	"bufio"
	"encoding/json"
	"io"
	"time"
)

// eventLine is one object of events.jsonl: its stamps in seconds since the
// run started (microsecond resolution), the transitions that were not timed,
// and the apiserver's own timestamps for the cross-check.
type eventLine struct {
	Kind      string             `json:"kind"`
	Namespace string             `json:"namespace,omitempty"`
	Name      string             `json:"name"`
	Node      string             `json:"node,omitempty"`
	At        map[string]float64 `json:"at"`
	Inexact   []string           `json:"inexact,omitempty"`
	Intervals [][2]float64       `json:"intervals,omitempty"`
	Server    map[string]string  `json:"server,omitempty"`
}

func seconds(d time.Duration) float64 { return float64(d.Microseconds()) / 1e6 }

func serverTimes(kv ...any) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		if unix := kv[i+1].(int64); unix > 0 {
			out[kv[i].(string)] = time.Unix(unix, 0).UTC().Format(time.RFC3339)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func intervals(in []Interval) [][2]float64 {
	var out [][2]float64
	for _, iv := range in {
		out = append(out, [2]float64{seconds(iv.Start), seconds(iv.End)})
	}
	return out
}

// WriteJSONL writes one line per object the run created: the raw data every
// latency of the report is computed from, for analysis later. Interval ends
// of zero were still open when the run ended.
func WriteJSONL(w io.Writer, recs Records) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	write := func(l eventLine) error { return enc.Encode(l) }
	for _, p := range recs.Pods {
		if p.Preexisting {
			continue
		}
		l := eventLine{Kind: "pod", Namespace: p.Namespace, Name: p.Name, Node: p.Node, At: map[string]float64{},
			Server: serverTimes("created", p.ServerCreated, "scheduled", p.ServerScheduled, "ready", p.ServerReady)}
		for t := range podTransitions {
			if p.At[t] > 0 {
				l.At[t.String()] = seconds(p.At[t])
				if p.Inexact&(1<<t) != 0 {
					l.Inexact = append(l.Inexact, t.String())
				}
			}
		}
		if err := write(l); err != nil {
			return err
		}
	}
	for _, n := range recs.Nodes {
		if n.Preexisting {
			continue
		}
		l := eventLine{Kind: "node", Name: n.Name, At: map[string]float64{}, Intervals: intervals(n.Outages),
			Server: serverTimes("created", n.ServerCreated, "ready", n.ServerReady)}
		for t := range nodeTransitions {
			if n.At[t] > 0 {
				l.At[t.String()] = seconds(n.At[t])
				if n.Inexact&(1<<t) != 0 {
					l.Inexact = append(l.Inexact, t.String())
				}
			}
		}
		if err := write(l); err != nil {
			return err
		}
	}
	for _, d := range recs.Deployments {
		if d.Preexisting {
			continue
		}
		if err := write(eventLine{Kind: "deployment", Namespace: d.Namespace, Name: d.Name, At: map[string]float64{}, Intervals: intervals(d.Rollouts)}); err != nil {
			return err
		}
	}
	for _, j := range recs.Jobs {
		if j.Preexisting {
			continue
		}
		l := eventLine{Kind: "job", Namespace: j.Namespace, Name: j.Name, At: map[string]float64{"created": seconds(j.Created)}}
		if j.Complete > 0 {
			l.At["complete"] = seconds(j.Complete)
		}
		if j.Failed > 0 {
			l.At["failed"] = seconds(j.Failed)
		}
		if j.Inexact {
			l.Inexact = []string{"job"}
		}
		if err := write(l); err != nil {
			return err
		}
	}
	return bw.Flush()
}
