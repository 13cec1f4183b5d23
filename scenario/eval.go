package scenario

import (
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

// scope says what an expression may refer to besides var.* and local.*.
type scope struct {
	// count allows count.index: per node in node_pool, per object in the
	// labels, annotations and node_selector of create_pods.
	count bool
	// metrics allows metrics.*: only assert blocks, evaluated after the run.
	metrics bool
	// constant forbids every reference: variable defaults and var files.
	constant bool
}

// checkRefs reports references that cannot be resolved where expr stands,
// with a suggestion, before evaluation would report them less helpfully.
func (d *decoder) checkRefs(expr hcl.Expression, s scope) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, t := range expr.Variables() {
		rng := t.SourceRange()
		root := t.RootName()
		if s.constant {
			diags = append(diags, diagf(hcl.DiagError, rng, "References not allowed here",
				"This value must be a constant; it cannot refer to %s.", root))
			continue
		}
		name, hasName := stepName(t, 1)
		switch root {
		case "var":
			if !hasName {
				diags = append(diags, diagf(hcl.DiagError, rng, "Incomplete variable reference", "Write var.<name>, e.g. var.nodes."))
			} else if _, ok := d.vars[name]; !ok {
				diags = append(diags, diagf(hcl.DiagError, rng, "Reference to undeclared variable",
					"There is no variable named %q.%s Declare it with a variable %q { } block.", name, suggest(name, mapKeys(d.vars)), name))
			}
		case "local":
			if !hasName {
				diags = append(diags, diagf(hcl.DiagError, rng, "Incomplete local reference", "Write local.<name>, e.g. local.zones."))
			} else if d.locals == nil {
				diags = append(diags, diagf(hcl.DiagError, rng, "Local values not available here",
					"Variables are resolved before locals, so their defaults and validations can refer to var.* only."))
			} else if _, ok := d.locals[name]; !ok {
				diags = append(diags, diagf(hcl.DiagError, rng, "Reference to undeclared local value",
					"There is no local value named %q.%s", name, suggest(name, mapKeys(d.locals))))
			}
		case "count":
			switch {
			case !s.count:
				diags = append(diags, diagf(hcl.DiagError, rng, "count.index is not available here",
					"count.index is the index of the node in node_pool attributes (other than count) and of the object in the labels, annotations and node_selector of create_pods."))
			case name != "index":
				diags = append(diags, diagf(hcl.DiagError, rng, "Unsupported attribute of count", "count has one attribute: count.index."))
			}
		case "metrics":
			if !s.metrics {
				diags = append(diags, diagf(hcl.DiagError, rng, "Metrics are not known yet",
					"metrics.* is measured during the run and can only be used in assert blocks."))
			}
		default:
			allowed := []string{"var", "local"}
			if s.count {
				allowed = append(allowed, "count")
			}
			if s.metrics {
				allowed = append(allowed, "metrics")
			}
			hint := suggest(root, allowed) + fmt.Sprintf(" Strings need quotes: %q.", root)
			if _, ok := d.vars[root]; ok {
				hint = fmt.Sprintf(" Did you mean var.%s?", root)
			} else if _, ok := d.locals[root]; ok {
				hint = fmt.Sprintf(" Did you mean local.%s?", root)
			}
			diags = append(diags, diagf(hcl.DiagError, rng, fmt.Sprintf("Unknown name %q", root),
				"Expressions here can refer to %s.%s", listNames(allowed), hint))
		}
	}
	return diags
}

// stepName returns the attribute name at position i of a traversal.
func stepName(t hcl.Traversal, i int) (string, bool) {
	if len(t) <= i {
		return "", false
	}
	switch s := t[i].(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if !s.Key.IsKnown() || s.Key.IsNull() {
			return "", false
		}
		// Map keys are strings; HCL turns metrics.api_errors[429] into "429".
		switch s.Key.Type() {
		case cty.String:
			return s.Key.AsString(), true
		case cty.Number:
			return s.Key.AsBigFloat().Text('f', -1), true
		}
	}
	return "", false
}

// eval checks references and evaluates expr in the scenario's context.
// A value that depends on an earlier error comes back unknown, and callers
// then skip it quietly: the cause has been reported once.
func (d *decoder) eval(expr hcl.Expression, s scope) (cty.Value, hcl.Diagnostics) {
	if diags := d.checkRefs(expr, s); diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	ctx := d.ctx
	if s.constant {
		ctx = &hcl.EvalContext{Functions: d.ctx.Functions, Variables: map[string]cty.Value{budgetVar: d.ctx.Variables[budgetVar]}}
	}
	if s.count {
		ctx = ctx.NewChild()
		ctx.Variables = map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.UnknownVal(cty.Number)})}
	}
	v, diags := evaluate(expr, ctx)
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	return v, diags
}

// body decodes one block's attributes with typed accessors, collecting
// diagnostics in the decoder. An absent or null attribute yields the default.
type body struct {
	d       *decoder
	content *hcl.BodyContent
	block   *hcl.Block
}

func (d *decoder) body(b *hcl.Block, schema *hcl.BodySchema) *body {
	content, diags := b.Body.Content(schema)
	d.diags = append(d.diags, diags...)
	return &body{d: d, content: content, block: b}
}

func (b *body) attr(name string) *hcl.Attribute { return b.content.Attributes[name] }

// expr returns the attribute's expression, or nil when it is absent.
func (b *body) expr(name string) hcl.Expression {
	if a := b.attr(name); a != nil {
		return a.Expr
	}
	return nil
}

func (b *body) has(name string) bool {
	a := b.attr(name)
	if a == nil {
		return false
	}
	v, diags := a.Expr.Value(nil)
	// A literal null counts as absent; anything else (even an expression
	// that fails to evaluate here) is present.
	return diags.HasErrors() || !v.IsNull()
}

// rng is the narrowest range to blame for name: the value if it is there,
// else the block header.
func (b *body) rng(name string) hcl.Range {
	if a := b.attr(name); a != nil {
		return a.Expr.Range()
	}
	return b.block.DefRange
}

func (b *body) blocks(typ string) hcl.Blocks { return b.content.Blocks.OfType(typ) }

// value evaluates name; ok is false when absent, null, unknown or failed.
func (b *body) value(name string) (cty.Value, bool) {
	a := b.attr(name)
	if a == nil {
		return cty.NilVal, false
	}
	v, diags := b.d.eval(a.Expr, scope{})
	b.d.diags = append(b.d.diags, diags...)
	if diags.HasErrors() || v.IsNull() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return v, true
}

func (b *body) fail(name, summary, detail string, args ...any) {
	b.d.errorf(b.rng(name), summary, detail, args...)
}

func (b *body) str(name, def string) string {
	v, ok := b.value(name)
	if !ok {
		return def
	}
	s, diags := toString(v, b.rng(name), name)
	b.d.diags = append(b.d.diags, diags...)
	if diags.HasErrors() {
		return def
	}
	return s
}

// oneOf reads a string that must be one of allowed.
func (b *body) oneOf(name, def string, allowed []string) string {
	s := b.str(name, def)
	if s != def && !slices.Contains(allowed, s) {
		b.fail(name, fmt.Sprintf("Invalid %s", name), "%q is not one of %s.%s", s, listNames(allowed), suggest(s, allowed))
		return def
	}
	return s
}

func (b *body) boolean(name string, def bool) bool {
	v, ok := b.value(name)
	if !ok {
		return def
	}
	c, err := convert.Convert(v, cty.Bool)
	if err != nil {
		b.fail(name, fmt.Sprintf("Invalid %s", name), "%s must be true or false.", name)
		return def
	}
	return c.True()
}

func (b *body) number(name string, def, lo, hi float64) float64 {
	v, ok := b.value(name)
	if !ok {
		return def
	}
	f, diags := toNumber(v, b.rng(name), name)
	b.d.diags = append(b.d.diags, diags...)
	if diags.HasErrors() {
		return def
	}
	if f < lo || f > hi {
		b.fail(name, fmt.Sprintf("%s out of range", name), "%s must be between %s and %s; got %s.", name, fmtNum(lo), fmtNum(hi), fmtNum(f))
		return def
	}
	return f
}

func (b *body) integer(name string, def int, lo, hi int64) int {
	v, ok := b.value(name)
	if !ok {
		return def
	}
	n, diags := toInt(v, b.rng(name), name, lo, hi)
	b.d.diags = append(b.d.diags, diags...)
	if diags.HasErrors() {
		return def
	}
	return int(n)
}

// duration reads a duration string no shorter than least.
func (b *body) duration(name string, def, least time.Duration) plan.Duration {
	v, ok := b.value(name)
	if !ok {
		return plan.Duration(def)
	}
	dur, diags := toDuration(v, b.rng(name), name)
	b.d.diags = append(b.d.diags, diags...)
	if diags.HasErrors() {
		return plan.Duration(def)
	}
	if dur < least {
		b.fail(name, fmt.Sprintf("%s too short", name), "%s must be at least %s; got %s.", name, least, dur)
		return plan.Duration(def)
	}
	return plan.Duration(dur)
}

func (b *body) stringMap(name string) map[string]string {
	v, ok := b.value(name)
	if !ok {
		return nil
	}
	m, diags := toStringMap(v, b.rng(name), name)
	b.d.diags = append(b.d.diags, diags...)
	return m
}

func (b *body) stringList(name string) []string {
	v, ok := b.value(name)
	if !ok {
		return nil
	}
	c, err := convert.Convert(v, cty.List(cty.String))
	if err != nil {
		b.fail(name, fmt.Sprintf("Invalid %s", name), "%s must be a list of strings, e.g. [\"a\", \"b\"]: %s.", name, err)
		return nil
	}
	out := make([]string, 0, c.LengthInt())
	for it := c.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			b.fail(name, fmt.Sprintf("Invalid %s", name), "%s must not contain null.", name)
			return nil
		}
		out = append(out, e.AsString())
	}
	return out
}

// itemRange narrows a problem with one key of a map written as an object
// literal to that key's value; other expressions keep their whole range.
func itemRange(expr hcl.Expression, key string) hcl.Range {
	if item := objectItem(expr, key); item != nil {
		return item.ValueExpr.Range()
	}
	return wholeRange(expr)
}

// keyRange is itemRange for a problem with the key itself.
func keyRange(expr hcl.Expression, key string) hcl.Range {
	if item := objectItem(expr, key); item != nil {
		return item.KeyExpr.Range()
	}
	return wholeRange(expr)
}

func objectItem(expr hcl.Expression, key string) *hclsyntax.ObjectConsItem {
	obj, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	for i, item := range obj.Items {
		if k, diags := item.KeyExpr.Value(nil); !diags.HasErrors() && k.Type() == cty.String && k.IsKnown() && k.AsString() == key {
			return &obj.Items[i]
		}
	}
	return nil
}

func wholeRange(expr hcl.Expression) hcl.Range {
	if expr == nil {
		return hcl.Range{}
	}
	return expr.Range()
}

// Conversions shared by eager attributes and per-node templates.

func toString(v cty.Value, rng hcl.Range, what string) (string, hcl.Diagnostics) {
	c, err := convert.Convert(v, cty.String)
	if err != nil || c.IsNull() {
		return "", hcl.Diagnostics{diagf(hcl.DiagError, rng, fmt.Sprintf("Invalid %s", what),
			"%s must be a string; got %s.", what, friendlyType(v.Type()))}
	}
	return c.AsString(), nil
}

func toNumber(v cty.Value, rng hcl.Range, what string) (float64, hcl.Diagnostics) {
	c, err := convert.Convert(v, cty.Number)
	if err != nil || c.IsNull() {
		return 0, hcl.Diagnostics{diagf(hcl.DiagError, rng, fmt.Sprintf("Invalid %s", what),
			"%s must be a number; got %s.", what, friendlyType(v.Type()))}
	}
	f, _ := c.AsBigFloat().Float64()
	return f, nil
}

func toInt(v cty.Value, rng hcl.Range, what string, lo, hi int64) (int64, hcl.Diagnostics) {
	c, err := convert.Convert(v, cty.Number)
	if err != nil || c.IsNull() {
		return 0, hcl.Diagnostics{diagf(hcl.DiagError, rng, fmt.Sprintf("Invalid %s", what),
			"%s must be a whole number; got %s.", what, friendlyType(v.Type()))}
	}
	bf := c.AsBigFloat()
	if !bf.IsInt() {
		return 0, hcl.Diagnostics{diagf(hcl.DiagError, rng, fmt.Sprintf("Invalid %s", what),
			"%s must be a whole number; got %s.", what, bf.Text('g', 10))}
	}
	if bf.Cmp(big.NewFloat(float64(lo))) < 0 || bf.Cmp(big.NewFloat(float64(hi))) > 0 {
		return 0, hcl.Diagnostics{diagf(hcl.DiagError, rng, fmt.Sprintf("%s out of range", what),
			"%s must be between %d and %d; got %s.", what, lo, hi, bf.Text('g', 10))}
	}
	n, _ := bf.Int64()
	return n, nil
}

func toDuration(v cty.Value, rng hcl.Range, what string) (time.Duration, hcl.Diagnostics) {
	if v.Type() == cty.Number {
		return 0, hcl.Diagnostics{diagf(hcl.DiagError, rng, "Invalid duration",
			"%s is a duration: write it as a string with a unit, e.g. \"%ss\"; a bare number has no unit.", what, v.AsBigFloat().Text('f', -1))}
	}
	s, diags := toString(v, rng, what)
	if diags.HasErrors() {
		return 0, diags
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur < 0 {
		return 0, hcl.Diagnostics{diagf(hcl.DiagError, rng, "Invalid duration",
			"%q is not a duration: write a number and a unit (ms, s, m, h), e.g. \"500ms\", \"30s\", \"1h30m\".", s)}
	}
	return dur, nil
}

func toStringMap(v cty.Value, rng hcl.Range, what string) (map[string]string, hcl.Diagnostics) {
	if !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return nil, hcl.Diagnostics{diagf(hcl.DiagError, rng, fmt.Sprintf("Invalid %s", what),
			"%s must be a map of strings, e.g. { app = \"web\" }; got %s.", what, friendlyType(v.Type()))}
	}
	out := make(map[string]string, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		key := k.AsString()
		if e.IsNull() {
			return nil, hcl.Diagnostics{diagf(hcl.DiagError, rng, fmt.Sprintf("Invalid %s", what), "The value of %q must not be null.", key)}
		}
		s, err := convert.Convert(e, cty.String)
		if err != nil {
			return nil, hcl.Diagnostics{diagf(hcl.DiagError, rng, fmt.Sprintf("Invalid %s", what),
				"The value of %q must be a string; got %s.", key, friendlyType(e.Type()))}
		}
		out[key] = s.AsString()
	}
	return out, nil
}

func friendlyType(t cty.Type) string {
	switch {
	case t == cty.DynamicPseudoType:
		return "a value of unknown type"
	case t == cty.String:
		return "a string"
	case t == cty.Number:
		return "a number"
	case t == cty.Bool:
		return "a bool"
	case t.IsObjectType() || t.IsMapType():
		return "a map"
	case t.IsTupleType() || t.IsListType() || t.IsSetType():
		return "a list"
	}
	return t.FriendlyName()
}

func fmtNum(f float64) string { return big.NewFloat(f).Text('g', 10) }

// suggest returns ` Did you mean "x"?` for the closest name, or "": a name
// within two edits, or else one that starts with what was given
// (pod_startup → pod_startup_latency).
func suggest(given string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := levenshtein.Distance(given, n, nil); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" && len(given) >= 3 {
		for _, n := range names {
			if strings.HasPrefix(n, given) {
				best = n
				break
			}
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

func listNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) <= 1 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func mapKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
