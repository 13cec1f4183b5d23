package scenario

import (
	"fmt"
	"maps"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// lazyAttr is an attribute that may depend on count.index. One that does not
// is evaluated once at load time; one that does is evaluated per instance, so
// a pool of 100,000 nodes costs one expression, not 100,000 values.
type lazyAttr struct {
	name    string
	expr    hcl.Expression
	static  cty.Value
	perItem bool
	source  string
}

// template evaluates a block's lazy attributes for instance i. It only reads
// the shared evaluation context, so instances can be rendered concurrently.
type template struct {
	ctx   *hcl.EvalContext
	attrs map[string]*lazyAttr
}

// lazy prepares attribute a of a templated block, reporting what is wrong with
// it for every instance (unknown references, type errors) at load time.
func (d *decoder) lazy(t *template, a *hcl.Attribute) {
	if a == nil {
		return
	}
	la := &lazyAttr{name: a.Name, expr: a.Expr, source: d.sourceText(a.Expr.Range())}
	for _, tr := range a.Expr.Variables() {
		if tr.RootName() == "count" {
			la.perItem = true
		}
	}
	v, diags := d.eval(a.Expr, scope{count: true})
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || (!la.perItem && !v.IsWhollyKnown()) {
		// Already reported, or depends on something that was.
		return
	}
	la.static = v
	t.attrs[a.Name] = la
}

func (t *template) value(name string, i int) (cty.Value, *lazyAttr, hcl.Diagnostics) {
	la := t.attrs[name]
	if la == nil {
		return cty.NilVal, nil, nil
	}
	if !la.perItem {
		return la.static, la, nil
	}
	ctx := t.ctx.NewChild()
	ctx.Variables = withBudget(map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(i))})}, MaxInstanceWeight)
	v, diags := evaluate(la.expr, ctx)
	return v, la, diags
}

// stringMap renders a map attribute for instance i; nil when absent. where
// names the instance in messages when the value differs per instance.
func (t *template) stringMap(name string, i int) (m map[string]string, expr hcl.Expression, where string, diags hcl.Diagnostics) {
	v, la, diags := t.value(name, i)
	if la == nil || diags.HasErrors() {
		return nil, nil, "", diags
	}
	expr, where = la.expr, la.where(i)
	if v.IsNull() {
		return nil, expr, where, nil
	}
	m, diags = toStringMap(v, expr.Range(), name)
	return m, expr, where, diags
}

// str renders a string attribute for instance i; def when absent.
func (t *template) str(name string, i int, def string) (s string, rng hcl.Range, where string, diags hcl.Diagnostics) {
	v, la, diags := t.value(name, i)
	if la == nil || diags.HasErrors() {
		return def, hcl.Range{}, "", diags
	}
	rng, where = la.expr.Range(), la.where(i)
	if v.IsNull() {
		return def, rng, where, nil
	}
	s, diags = toString(v, rng, name)
	return s, rng, where, diags
}

// perItem reports whether any attribute differs per instance.
func (t *template) perItem() bool {
	for _, la := range t.attrs {
		if la.perItem {
			return true
		}
	}
	return false
}

// checkInstances renders the first instance of n, and the last when values
// differ per instance, so that what is wrong for every instance or at the
// edges shows up at load time rather than mid-run.
func (d *decoder) checkInstances(n int, perItem bool, render func(int) hcl.Diagnostics) {
	if n > 0 {
		d.diags = append(d.diags, render(0)...)
	}
	if n > 1 && perItem {
		d.diags = append(d.diags, render(n-1)...)
	}
}

func (la *lazyAttr) where(i int) string {
	if !la.perItem {
		return ""
	}
	return fmt.Sprintf("For count.index = %d: ", i)
}

// sources adds the attributes that differ per instance, as written and
// prefix-qualified; the others show in any rendered instance.
func (t *template) sources(prefix string, into map[string]string) {
	for name, la := range t.attrs {
		if la.perItem {
			into[prefix+name] = la.source
		}
	}
}

// sourceText returns the text of rng in its file, squeezed onto one line.
func (d *decoder) sourceText(rng hcl.Range) string {
	return strings.Join(strings.Fields(string(rng.SliceBytes(d.loader.source(rng.Filename)))), " ")
}

// instanceError turns per-instance diagnostics into an error for the runner.
func instanceError(what string, i int, diags hcl.Diagnostics) error {
	return fmt.Errorf("%s %d: %w", what, i, diags)
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	return maps.Clone(m)
}
