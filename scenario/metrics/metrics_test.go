package metrics

import (
	"slices"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func TestCatalogueIsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Catalogue() {
		if seen[m.Name] {
			t.Errorf("%s twice", m.Name)
		}
		seen[m.Name] = true
		// Assertions write metrics.<name>, so names must be identifiers.
		if !hclsyntax.ValidIdentifier(m.Name) || m.Name == StepsKey {
			t.Errorf("%q cannot be written after metrics.", m.Name)
		}
		if m.Unit == "" || m.Better == "" || m.Description == "" {
			t.Errorf("%s lacks a unit, a direction or a description", m.Name)
		}
		for _, d := range m.Dimensions {
			if slices.Contains(d.Keys, All) {
				t.Errorf("%s: %q is added to every dimension, not listed", m.Name, All)
			}
		}
	}
	if !slices.IsSorted(Names()) {
		t.Error("Names must be sorted")
	}
}

func TestTypeAndValues(t *testing.T) {
	ty := Type([]string{"load"})
	v := Values{
		"pod_startup_latency.p99":              2.5,
		"api_request_latency.create.pods.p50":  0.01,
		"api_request_latency.create.nodes.p50": 0.02,
		"component_cpu_seconds.apiserver":      100,
		"steps.load.pods_created":              10,
	}.Value(ty)

	get := func(path ...any) cty.Value {
		cur := v
		for _, p := range path {
			switch p := p.(type) {
			case string:
				if cur.Type().IsObjectType() {
					cur = cur.GetAttr(p)
				} else {
					cur = cur.Index(cty.StringVal(p))
				}
			}
		}
		return cur
	}
	if n, _ := get("pod_startup_latency", "p99").AsBigFloat().Float64(); n != 2.5 {
		t.Errorf("p99 = %v", n)
	}
	if get("pod_startup_latency", "p50").IsKnown() {
		t.Error("an unmeasured statistic must be unknown, not zero")
	}
	if n, _ := get("api_request_latency", "create", "nodes", "p50").AsBigFloat().Float64(); n != 0.02 {
		t.Errorf("open dimension lost a key: %v", n)
	}
	if get("api_request_latency", "get").LengthInt() != 0 {
		t.Error("a verb without samples should be an empty map")
	}
	if n, _ := get("steps", "load", "pods_created").AsBigFloat().Float64(); n != 10 {
		t.Errorf("per-step value = %v", n)
	}
	if get("component_cpu_seconds", "kwok").IsKnown() {
		t.Error("an unmeasured component must be unknown")
	}
}

func TestHas(t *testing.T) {
	v := Values{"api_errors.429": 1, "duration": 3}
	for path, want := range map[string]bool{"api_errors": true, "api_errors.429": true, "api_errors.500": false, "duration": true, "dur": false} {
		if v.Has(path) != want {
			t.Errorf("Has(%q) = %v", path, !want)
		}
	}
}
