package scrape

import (
	"testing"
	"time"
)

func requests(hs map[Key]Histogram) map[string]map[Key]Histogram {
	return map[string]map[Key]Histogram{RequestDuration: hs}
}

// one is a histogram of n requests all taking 0.05 s.
func one(n float64) Histogram {
	return Histogram{Count: n, Sum: 0.05 * n, Buckets: []Bucket{{0.1, n}, {1, n}, {inf, n}}}
}

func TestRequests(t *testing.T) {
	s := time.Second
	r := Result{Marks: []Mark{
		{At: 0, apiserverStart: 100, Requests: requests(map[Key]Histogram{
			{"get", "pods"}: one(1), {"list", "pods"}: one(2), {"watch", "pods"}: one(1),
		})},
		{At: 5 * s}, // the apiserver could not be read: skipped
		{At: 10 * s, apiserverStart: 100, Requests: requests(map[Key]Histogram{
			{"get", "pods"}: one(4), {"list", "pods"}: one(2), {"watch", "pods"}: one(3),
			{"create", "pods/binding"}: one(5),
		})},
		// Restarted: counters are from 0 again, and list/pods at 3 is more
		// than its 2 before, yet all 3 are new.
		{At: 20 * s, apiserverStart: 200, Requests: requests(map[Key]Histogram{
			{"list", "pods"}: one(3),
		})},
	}}

	got, ok := r.Requests(RequestDuration, 0, 10*s)
	if !ok {
		t.Fatal("Requests(0, 10s) not ok")
	}
	want := map[Key]float64{
		{"get", "pods"}: 3, {"watch", "pods"}: 2, {"create", "pods/binding"}: 5,
		{"get", "all"}: 3, {"watch", "all"}: 2, {"create", "all"}: 5,
		// watch is not in the all verb.
		{"all", "pods"}: 3, {"all", "pods/binding"}: 5, {"all", "all"}: 8,
		// list/pods did not change: left out, and so is list/all.
	}
	checkCounts(t, got, want)

	got, _ = r.Requests(RequestDuration, 10*s, 20*s)
	checkCounts(t, got, map[Key]float64{{"list", "pods"}: 3, {"list", "all"}: 3, {"all", "pods"}: 3, {"all", "all"}: 3})

	// Over the whole run the increases of both intervals add up.
	got, _ = r.Requests(RequestDuration, 0, 20*s)
	if n := got[Key{"all", "all"}].Count; n != 11 {
		t.Errorf("all/all over the run = %v, want 8+3", n)
	}

	// Between marks, the nearest ones around the window are used.
	got, _ = r.Requests(RequestDuration, 12*s, 15*s)
	if n := got[Key{"list", "pods"}].Count; n != 3 {
		t.Errorf("list/pods in [12s, 15s] = %v, want 3 (marks at 10s and 20s)", n)
	}

	if _, ok := r.Requests(RequestDuration, 20*s, 30*s); ok {
		t.Error("a window with one mark is ok")
	}
	if _, ok := (Result{Marks: r.Marks[:2]}).Requests(RequestDuration, 0, 10*s); ok {
		t.Error("one usable mark is ok")
	}
}

func checkCounts(t *testing.T, got map[Key]Histogram, want map[Key]float64) {
	t.Helper()
	for k, n := range want {
		if got[k].Count != n {
			t.Errorf("%v: count %v, want %v", k, got[k].Count, n)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %v (count %v)", k, got[k].Count)
		}
	}
}

func TestCPUSeconds(t *testing.T) {
	s := time.Second
	r := Result{Samples: []Sample{
		{At: 0, Component: "apiserver", CPUSeconds: 10},
		{At: 0, Component: "kwok_run", CPUSeconds: 1},
		{At: 2 * s, Component: "apiserver", CPUSeconds: 12},
		{At: 2 * s, Component: "kwok_run", CPUSeconds: 2},
		// The apiserver restarted: 0.5 s since its start.
		{At: 4 * s, Component: "apiserver", CPUSeconds: 0.5},
		{At: 4 * s, Component: "kwok_run", CPUSeconds: 2.5},
		{At: 6 * s, Component: "apiserver", CPUSeconds: 1.5},
	}}
	tests := []struct {
		component string
		from, to  time.Duration
		want      float64
		ok        bool
	}{
		// 12-10 + 0.5 (from 0 after the restart) + 1.5-0.5.
		{"apiserver", 0, 6 * s, 3.5, true},
		// Samples at 4 s and 6 s, and the last one before: 12 at 2 s.
		{"apiserver", 3 * s, 6 * s, 1.5, true},
		// apiserver 3.5 + kwok_run 1.5.
		{"all", 0, 6 * s, 5, true},
		// One sample in the window plus the one before is enough.
		{"kwok_run", 3 * s, 5 * s, 0.5, true},
		{"kwok_run", 0, 1 * s, 0, false},
		{"etcd", 0, 6 * s, 0, false},
	}
	for _, tt := range tests {
		got, ok := r.CPUSeconds(tt.component, tt.from, tt.to)
		if ok != tt.ok || !near(got, tt.want) {
			t.Errorf("CPUSeconds(%s, %v, %v) = %v, %v; want %v, %v", tt.component, tt.from, tt.to, got, ok, tt.want, tt.ok)
		}
	}
}

// A backend that runs several KWOK controllers names them kwok/<shard>: the
// kwok metrics add them up, each counter on its own.
func TestInstancesAddUp(t *testing.T) {
	s := time.Second
	r := Result{Samples: []Sample{
		{At: 0, Component: "kwok/a-0", CPUSeconds: 1, RSSBytes: 10},
		{At: 0, Component: "kwok/a-1", CPUSeconds: 5, RSSBytes: 20},
		{At: 2 * s, Component: "kwok/a-0", CPUSeconds: 2, RSSBytes: 15},
		{At: 2 * s, Component: "kwok/a-1", CPUSeconds: 7, RSSBytes: 40},
		{At: 2 * s, Component: "kwok_run", CPUSeconds: 100, RSSBytes: 1000},
		{At: 4 * s, Component: "kwok/a-0", CPUSeconds: 4, RSSBytes: 50},
	}}
	if cpu, ok := r.CPUSeconds("kwok", 0, 4*s); !ok || !near(cpu, 1+2+2) {
		t.Errorf("kwok CPU = %v, %v; want 5 (a-0 1+2, a-1 2)", cpu, ok)
	}
	if rss, ok := r.PeakRSS("kwok", 0, 4*s); !ok || rss != 55 {
		t.Errorf("kwok peak RSS = %v, %v; want 55 (15+40 in one round)", rss, ok)
	}
	if rss, ok := r.PeakRSS("kwok", 3*s, 4*s); !ok || rss != 50 {
		t.Errorf("kwok peak RSS after 3s = %v, %v; want 50", rss, ok)
	}
}

func TestPeaks(t *testing.T) {
	s := time.Second
	r := Result{Samples: []Sample{
		{At: 0, Component: "etcd", RSSBytes: 50, DBSizeBytes: 1000},
		{At: 0, Component: "apiserver", RSSBytes: 100, Objects: map[string]float64{"pods": 1, "nodes": 4}},
		{At: 2 * s, Component: "etcd", RSSBytes: 20, DBSizeBytes: 3000},
		{At: 2 * s, Component: "apiserver", RSSBytes: 120, Objects: map[string]float64{"pods": 7, "nodes": 2}},
		{At: 4 * s, Component: "apiserver", RSSBytes: 90, Objects: map[string]float64{"pods": 3}},
	}}
	rss := []struct {
		component string
		from, to  time.Duration
		want      float64
		ok        bool
	}{
		{"apiserver", 0, 4 * s, 120, true},
		// Rounds: 50+100 at 0 s, 20+120 at 2 s, 90 at 4 s.
		{"all", 0, 4 * s, 150, true},
		{"all", 1 * s, 4 * s, 140, true},
		{"etcd", 3 * s, 4 * s, 0, false},
	}
	for _, tt := range rss {
		got, ok := r.PeakRSS(tt.component, tt.from, tt.to)
		if ok != tt.ok || got != tt.want {
			t.Errorf("PeakRSS(%s, %v, %v) = %v, %v; want %v, %v", tt.component, tt.from, tt.to, got, ok, tt.want, tt.ok)
		}
	}
	if db, ok := r.PeakDBSize(0, 4*s); !ok || db != 3000 {
		t.Errorf("PeakDBSize = %v, %v; want 3000", db, ok)
	}
	objects := r.PeakObjects(0, 4*s)
	if objects["pods"] != 7 || objects["nodes"] != 4 || len(objects) != 2 {
		t.Errorf("PeakObjects = %v, want pods 7, nodes 4", objects)
	}
}

func TestSeries(t *testing.T) {
	s := time.Second
	ms := time.Millisecond
	samples := []Sample{{At: 0, Component: "etcd", DBSizeBytes: 10}}
	for i, cpu := range []float64{0, 1, 3, 0.5} { // restart before 6 s
		samples = append(samples, Sample{At: time.Duration(i) * 2 * s, Component: "apiserver", CPUSeconds: cpu, RSSBytes: 100,
			Objects: map[string]float64{"pods": float64(100 * i), "namespaces": 4}})
		if i == 1 {
			// A mark 10 ms after a round: folded into the next point.
			samples = append(samples, Sample{At: 2*s + 10*ms, Component: "apiserver", CPUSeconds: 1.01, RSSBytes: 100})
		}
	}
	r := Result{Samples: samples}

	byName := map[string][][2]float64{}
	for _, sr := range r.Series() {
		byName[sr.Group+"/"+sr.Name] = sr.Points
	}
	// 1 s over 2 s, 2 s over 2 s (via the mark), then 0.5 since the restart.
	cores := byName["cpu/apiserver"]
	want := [][2]float64{{2, 0.5}, {4, 1}, {6, 0.25}}
	if len(cores) != len(want) {
		t.Fatalf("cores = %v, want %v", cores, want)
	}
	for i := range want {
		if !near(cores[i][0], want[i][0]) || !near(cores[i][1], want[i][1]) {
			t.Errorf("cores[%d] = %v, want %v", i, cores[i], want[i])
		}
	}
	if n := len(byName["memory/apiserver"]); n != 5 {
		t.Errorf("memory points = %d, want 5", n)
	}
	if p := byName["storage/etcd db size"]; len(p) != 1 || p[0][1] != 10 {
		t.Errorf("etcd db size = %v", p)
	}
	if p := byName["storage/objects: pods"]; len(p) != 4 || p[3][1] != 300 {
		t.Errorf("objects: pods = %v", p)
	}
	// Never more than a handful: not charted.
	if _, ok := byName["storage/objects: namespaces"]; ok {
		t.Error("objects: namespaces charted")
	}
}
