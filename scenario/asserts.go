package scenario

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/kwok-run/kwok-run/scenario/metrics"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

var assertSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "condition", Required: true}, {Name: "error_message"}, {Name: "severity"}},
}

// Assertion severities.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// metricsDoc is where a user reads what can be measured.
const metricsDoc = "docs/scenario-language.md#metrics"

func (d *decoder) decodeAsserts(blocks hcl.Blocks) {
	steps := make([]string, len(d.plan.Steps))
	for i, s := range d.plan.Steps {
		steps[i] = s.Name
	}
	ty := metrics.Type(steps)
	seen := map[string]hcl.Range{}
	for _, blk := range blocks {
		name := blk.Labels[0]
		if strings.TrimSpace(name) == "" {
			d.errorf(blk.LabelRanges[0], "Empty assert name", "Name the assertion with what it checks, e.g. \"pod start-up p99 under 5s\"; reports list it by that name.")
			continue
		}
		if !d.unique(seen, "assert", name, blk.LabelRanges[0]) {
			continue
		}
		b := d.body(blk, assertSchema)
		severity := b.oneOf("severity", SeverityError, []string{SeverityError, SeverityWarning})
		cond := b.attr("condition")
		if cond == nil {
			continue
		}
		paths, ok := d.typeCheckAssertion(cond.Expr, ty, steps, cty.Bool, "condition")
		if !ok {
			continue
		}
		if len(paths) == 0 {
			d.warnf(cond.Expr.Range(), "Condition does not depend on metrics",
				"This condition is the same whatever the run measures; refer to metrics.<name> (see %s).", metricsDoc)
		}
		c := &checker{cond: cond.Expr, ctx: d.ctx, ty: ty, paths: paths}
		if msg := b.attr("error_message"); msg != nil {
			if _, ok := d.typeCheckAssertion(msg.Expr, ty, steps, cty.String, "error_message"); ok {
				c.msg = msg.Expr
			}
		}
		d.plan.Assertions = append(d.plan.Assertions, &plan.Assertion{
			Name:      name,
			Condition: d.sourceText(cond.Expr.Range()),
			Severity:  severity,
			Metrics:   paths,
			Check:     c,
		})
	}
}

// typeCheckAssertion checks an expression over metrics before the run:
// references against the catalogue, then a trial evaluation with every metric
// unknown, which catches type errors (comparing a distribution with a number,
// say) without any measurement.
func (d *decoder) typeCheckAssertion(expr hcl.Expression, ty cty.Type, steps []string, want cty.Type, what string) ([]string, bool) {
	diags := d.checkRefs(expr, scope{metrics: true})
	paths, incomplete, mdiags := checkMetricRefs(expr, steps)
	diags = append(diags, mdiags...)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return nil, false
	}
	ctx := d.ctx.NewChild()
	ctx.Variables = map[string]cty.Value{"metrics": cty.UnknownVal(ty)}
	v, diags := evaluate(expr, ctx)
	if diags.HasErrors() {
		// A reference that stops short of a number is the likely cause, and
		// saying so beats HCL's "number required, but have object".
		for _, inc := range incomplete {
			d.errorf(inc.rng, "Metric needs a statistic or key",
				"metrics.%s is not a single number: add %s.", inc.path, inc.next)
		}
		if len(incomplete) == 0 {
			d.diags = append(d.diags, diags...)
		}
		return nil, false
	}
	if _, err := convert.Convert(v, want); err != nil {
		must := "a string"
		if want == cty.Bool {
			must = "true or false, a comparison such as metrics.pod_startup_latency.p99 <= 5"
		}
		d.errorf(expr.Range(), fmt.Sprintf("Invalid %s", what), "The %s must be %s; this expression is %s.", what, must, friendlyType(v.Type()))
		return nil, false
	}
	return paths, true
}

type incompleteRef struct {
	rng        hcl.Range
	path, next string
}

// checkMetricRefs resolves every metrics.* traversal against the catalogue and
// returns the dotted paths referenced (the keys of metrics.Values).
func checkMetricRefs(expr hcl.Expression, steps []string) ([]string, []incompleteRef, hcl.Diagnostics) {
	var paths []string
	var incomplete []incompleteRef
	var diags hcl.Diagnostics
	for _, t := range expr.Variables() {
		if t.RootName() != "metrics" {
			continue
		}
		rng := t.SourceRange()
		fail := func(summary, detail string, args ...any) {
			diags = append(diags, diagf(hcl.DiagError, rng, summary, detail, args...))
		}
		i := 1
		name, ok := stepName(t, i)
		if !ok {
			if len(t) == 1 {
				fail("Incomplete metric reference", "Write metrics.<name>, e.g. metrics.pod_startup_latency.p99 (see %s).", metricsDoc)
			}
			continue
		}
		prefix := ""
		if name == metrics.StepsKey {
			step, ok := stepName(t, 2)
			if !ok {
				if len(t) == 2 {
					fail("Incomplete metric reference", "Write metrics.steps.<step>.<metric>, e.g. metrics.steps.load.pod_startup_latency.p99.")
				}
				continue
			}
			if !slices.Contains(steps, step) {
				fail("Unknown step", "There is no step %q.%s", step, suggest(step, steps))
				continue
			}
			prefix = "steps." + step + "."
			i = 3
			if name, ok = stepName(t, i); !ok {
				if len(t) == i {
					fail("Incomplete metric reference", "Add the metric: metrics.steps.%s.<metric>.", step)
				}
				continue
			}
		}
		m, ok := metrics.Lookup(name)
		if !ok {
			fail("Unknown metric", "kwok-run measures no metric %q.%s The metrics are listed in %s.", name, suggest(name, metrics.Names()), metricsDoc)
			continue
		}
		path := prefix + name
		i++
		complete := true
		for _, dim := range m.Dimensions {
			key, ok := stepName(t, i)
			if !ok {
				if len(t) == i {
					incomplete = append(incomplete, incompleteRef{rng, path, fmt.Sprintf("a %s, e.g. metrics.%s.%s", dim.Name, path, metrics.All)})
				}
				complete = false
				break
			}
			if dim.Keys != nil && key != metrics.All && !slices.Contains(dim.Keys, key) {
				keys := append(slices.Clone(dim.Keys), metrics.All)
				fail(fmt.Sprintf("Unknown %s", dim.Name), "%s is split by %s: one of %s.%s", m.Name, dim.Name, listNames(keys), suggest(key, keys))
				complete = false
				break
			}
			path += "." + key
			i++
		}
		if !complete {
			continue
		}
		if m.Stats != nil {
			stat, ok := stepName(t, i)
			if !ok {
				if len(t) == i {
					incomplete = append(incomplete, incompleteRef{rng, path, fmt.Sprintf("a statistic (%s), e.g. metrics.%s.p99", strings.Join(m.Stats, ", "), path)})
				}
				continue
			}
			if !slices.Contains(m.Stats, stat) {
				fail("Unknown statistic", "%s has no statistic %q; it has %s.%s", m.Name, stat, listNames(m.Stats), suggest(stat, m.Stats))
				continue
			}
			path += "." + stat
			i++
		}
		if i < len(t) {
			fail("Metric is a number", "metrics.%s is a single number; nothing can follow it.", path)
			continue
		}
		if !slices.Contains(paths, path) {
			paths = append(paths, path)
		}
	}
	slices.Sort(paths)
	return paths, incomplete, diags
}

// checker evaluates one assertion after the run.
type checker struct {
	cond, msg hcl.Expression
	ctx       *hcl.EvalContext
	ty        cty.Type
	paths     []string
}

// Check evaluates the condition. An assertion that depends on a metric that
// was not measured fails with that reason rather than passing: a check that
// could not look is not a check that passed. (try() can supply a fallback.)
func (c *checker) Check(values metrics.Values) plan.Verdict {
	v := plan.Verdict{Observed: map[string]float64{}}
	var missing []string
	for _, p := range c.paths {
		if n, ok := values[p]; ok {
			v.Observed[p] = n
		} else if !values.Has(p) {
			missing = append(missing, "metrics."+p)
		}
	}
	notMeasured := "it depends on a metric that was not measured"
	if len(missing) > 0 {
		notMeasured = fmt.Sprintf("not measured: %s had no samples", strings.Join(missing, ", "))
	}
	ctx := c.ctx.NewChild()
	ctx.Variables = withBudget(map[string]cty.Value{"metrics": values.Value(c.ty)}, MaxInstanceWeight)
	res, diags := evaluate(c.cond, ctx)
	switch {
	case diags.HasErrors() && len(missing) > 0:
		v.Message = notMeasured
		return v
	case diags.HasErrors():
		v.Message = "cannot be evaluated: " + diags.Error()
		return v
	case !res.IsWhollyKnown():
		v.Message = notMeasured
		return v
	}
	b, err := convert.Convert(res, cty.Bool)
	if err != nil || b.IsNull() {
		v.Message = "cannot be evaluated: the condition is not true or false"
		return v
	}
	v.Evaluated, v.Passed = true, b.True()
	if !v.Passed {
		v.Message = "condition is false"
		if c.msg != nil {
			if m, diags := evaluate(c.msg, ctx); !diags.HasErrors() && m.IsWhollyKnown() {
				if s, err := convert.Convert(m, cty.String); err == nil && !s.IsNull() {
					v.Message = s.AsString()
				}
			}
		}
	}
	return v
}
