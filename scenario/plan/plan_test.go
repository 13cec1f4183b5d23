package plan

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestAmount(t *testing.T) {
	for _, tc := range []struct {
		a    Amount
		n    int
		want int
	}{
		{Amount{Count: 5}, 100, 5},
		{Amount{Count: 500}, 100, 100},
		{Amount{Percent: 10}, 1000, 100},
		{Amount{Percent: 10}, 15, 2},
		{Amount{Percent: 100}, 7, 7},
	} {
		if got := tc.a.Of(tc.n); got != tc.want {
			t.Errorf("%v of %d = %d, want %d", tc.a, tc.n, got, tc.want)
		}
	}
}

func TestMinDuration(t *testing.T) {
	s := &Step{
		Duration: Duration(time.Second),
		Actions: []Action{
			&CreateNodes{Count: 1001, Rate: Rate{PerSecond: 100, Burst: 1}},
			&CreatePods{Count: 50, Rate: Rate{Parallelism: 10}},
			&Sleep{For: Duration(3 * time.Second)},
		},
	}
	if got := s.MinDuration(); got != 10*time.Second {
		t.Errorf("MinDuration = %v, want 10s (1000 nodes after the burst at 100/s)", got)
	}
}

func TestStepJSONNamesActions(t *testing.T) {
	s := &Step{Name: "s", Actions: []Action{&Sleep{For: Duration(time.Second)}, &Wait{For: WaitPodsRunning, Namespace: "x"}}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Name    string           `json:"name"`
		Actions []map[string]any `json:"actions"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "s" || len(got.Actions) != 2 || got.Actions[0]["action"] != "sleep" || got.Actions[0]["duration"] != "1s" || got.Actions[1]["for"] != WaitPodsRunning {
		t.Errorf("unexpected JSON: %s", b)
	}
	if strings.Contains(string(b), `"Actions"`) {
		t.Errorf("actions emitted twice: %s", b)
	}
}

func TestExamplesRenderEnds(t *testing.T) {
	render := func(i int) (int, error) { return i * 10, nil }
	for n, want := range map[int][]int{0: nil, 1: {0}, 2: {0, 1}, 50: {0, 49}} {
		ex, err := Examples(n, render)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, e := range ex {
			if e.Spec != e.Index*10 {
				t.Errorf("spec of %d is %d", e.Index, e.Spec)
			}
			got = append(got, e.Index)
		}
		if len(got) != len(want) {
			t.Errorf("n=%d: indexes %v, want %v", n, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("n=%d: indexes %v, want %v", n, got, want)
			}
		}
	}
}

func TestShards(t *testing.T) {
	for _, tc := range []struct {
		count, shards int
		node          int
		shard         string
	}{
		{0, 1, 0, "w-0"},
		{1, 1, 0, "w-0"},
		{1000, 1, 999, "w-0"},
		{1001, 2, 999, "w-1"},
		{2500, 3, 2500, "w-1"},
	} {
		p := &NodePool{Name: "w", Count: tc.count}
		if got := p.Shards(); got != tc.shards {
			t.Errorf("%d nodes: %d shards, want %d", tc.count, got, tc.shards)
		}
		if got := p.Shard(tc.node); got != tc.shard {
			t.Errorf("%d nodes: node %d in shard %q, want %q", tc.count, tc.node, got, tc.shard)
		}
	}
}

func TestComponentOf(t *testing.T) {
	for name, want := range map[string]string{"kwok": Kwok, "kwok/workers-1": Kwok, "apiserver": APIServer} {
		if got := ComponentOf(name); got != want {
			t.Errorf("ComponentOf(%q) = %q, want %q", name, got, want)
		}
	}
	c := Cluster{Kubernetes: "v1.37.2", Kwok: "v0.8.0"}
	if v := c.VersionOf("kwok/workers-0"); v != "v0.8.0" {
		t.Errorf("an instance of kwok runs %s, want KWOK's version", v)
	}
}
