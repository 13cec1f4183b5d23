package metrics

import (
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Values holds measured numbers by dotted path, the way an assertion spells
// them after `metrics.`: "pod_startup_latency.p99",
// "api_request_latency.create.pods.p50", "steps.load.pods_created". A path
// that is absent was not measured (no samples), which is different from zero.
// Keys of open dimensions (resources, status codes) never contain dots.
type Values map[string]float64

// Has reports whether anything was measured at path or below it.
func (v Values) Has(path string) bool {
	if _, ok := v[path]; ok {
		return true
	}
	prefix := path + "."
	for k := range v {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// Type is the type of the `metrics` object that assert blocks see, for a
// scenario with the given steps. Assertions are type-checked against it when
// the file loads, so a misspelt metric or statistic is caught before a run.
func Type(steps []string) cty.Type {
	run := runType()
	stepAttrs := make(map[string]cty.Type, len(steps))
	for _, s := range steps {
		stepAttrs[s] = run
	}
	attrs := run.AttributeTypes()
	all := make(map[string]cty.Type, len(attrs)+1)
	for k, t := range attrs {
		all[k] = t
	}
	all[StepsKey] = cty.Object(stepAttrs)
	return cty.Object(all)
}

func runType() cty.Type {
	attrs := make(map[string]cty.Type, len(catalogue))
	for _, m := range catalogue {
		attrs[m.Name] = m.Type()
	}
	return cty.Object(attrs)
}

// Type is the type of this metric's value: a number, an object of statistics,
// and for each dimension an object (known keys) or a map (open keys) around it.
func (m Metric) Type() cty.Type {
	t := cty.Number
	if m.Stats != nil {
		attrs := make(map[string]cty.Type, len(m.Stats))
		for _, s := range m.Stats {
			attrs[s] = cty.Number
		}
		t = cty.Object(attrs)
	}
	for _, d := range slices.Backward(m.Dimensions) {
		if d.Keys == nil {
			t = cty.Map(t)
			continue
		}
		attrs := make(map[string]cty.Type, len(d.Keys)+1)
		for _, k := range d.Keys {
			attrs[k] = t
		}
		attrs[All] = t
		t = cty.Object(attrs)
	}
	return t
}

// Value builds the `metrics` object of type ty from measured values. What was
// not measured is unknown, so an expression that depends on it evaluates to an
// unknown result instead of a wrong one.
func (v Values) Value(ty cty.Type) cty.Value {
	return v.value(ty, "")
}

func (v Values) value(ty cty.Type, path string) cty.Value {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch {
	case ty.IsObjectType():
		attrs := make(map[string]cty.Value, len(ty.AttributeTypes()))
		for k, t := range ty.AttributeTypes() {
			attrs[k] = v.value(t, join(k))
		}
		return cty.ObjectVal(attrs)
	case ty.IsMapType():
		keys := v.childKeys(path)
		if len(keys) == 0 {
			return cty.MapValEmpty(ty.ElementType())
		}
		elems := make(map[string]cty.Value, len(keys))
		for _, k := range keys {
			elems[k] = v.value(ty.ElementType(), join(k))
		}
		return cty.MapVal(elems)
	default:
		if n, ok := v[path]; ok {
			return cty.NumberFloatVal(n)
		}
		return cty.UnknownVal(ty)
	}
}

// childKeys lists the distinct next path segments below path.
func (v Values) childKeys(path string) []string {
	prefix := path + "."
	seen := map[string]bool{}
	for k := range v {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		key, _, _ := strings.Cut(rest, ".")
		seen[key] = true
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
