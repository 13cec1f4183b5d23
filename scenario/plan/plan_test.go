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
