package scenario

import (
	"fmt"
	"reflect"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/kwok-run/kwok-run/scenario/funcs"
)

// A scenario's expressions can multiply what they build: three nested for
// expressions over range(1000) are a billion values, a list of ten thousand
// references to one long string joins into gigabytes, and a number such as
// 1e-500000 takes minutes to write out. The functions bound their own
// results (funcs.MaxWeight); what expressions build between them is charged
// to a budget that every evaluation carries in its context, and the
// evaluation fails with a position once the budget is spent.
const (
	// MaxLoadWeight bounds everything one load of a scenario builds, its
	// variables, locals and every attribute together.
	MaxLoadWeight = 32 << 20
	// MaxInstanceWeight bounds one node's or pod's templated attributes,
	// rendered mid-run, and one assertion's evaluation.
	MaxInstanceWeight = funcs.MaxWeight
)

type budget struct {
	left atomic.Int64
}

// budgetVar holds an evaluation's budget among its context's variables.
// It is no identifier, so no expression can name it.
const budgetVar = "\x00budget"

var budgetType = cty.Capsule("budget", reflect.TypeFor[budget]())

// withBudget adds a fresh budget of limit to vars.
func withBudget(vars map[string]cty.Value, limit int64) map[string]cty.Value {
	b := &budget{}
	b.left.Store(limit)
	vars[budgetVar] = cty.CapsuleVal(budgetType, b)
	return vars
}

func budgetOf(ctx *hcl.EvalContext) *budget {
	for ; ctx != nil; ctx = ctx.Parent() {
		if v, ok := ctx.Variables[budgetVar]; ok {
			return v.EncapsulatedValue().(*budget)
		}
	}
	return nil
}

func (b *budget) spent() bool { return b.left.Load() < 0 }

// spend charges v's weight, and reports whether the budget still holds.
func (b *budget) spend(v cty.Value) bool {
	left := b.left.Load()
	if left < 0 {
		return false
	}
	return b.left.Add(-funcs.Weight(v, left)) >= 0
}

// evaluate is how every expression of a scenario is evaluated: within ctx's
// budget, its result charged. The first evaluation that runs out reports it
// once, even where try() swallowed the guard's error; later ones come back
// unknown, as values that depend on an earlier error do.
func evaluate(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	b := budgetOf(ctx)
	if b == nil {
		return expr.Value(ctx)
	}
	if b.spent() {
		return cty.DynamicVal, nil
	}
	v, diags := expr.Value(ctx)
	if !diags.HasErrors() {
		b.spend(v)
	}
	if !b.spent() {
		return v, diags
	}
	// Every guard that ran after the budget was spent said so: keep the
	// first, which points at what built too much.
	var kept hcl.Diagnostics
	var first *hcl.Diagnostic
	for _, d := range diags {
		if d.Summary != valueTooLargeSummary {
			kept = append(kept, d)
		} else if first == nil {
			first = d
		}
	}
	if first == nil {
		first = valueTooLarge(expr.Range())
	}
	return cty.DynamicVal, append(kept, first)
}

// guarded is a syntax node whose every value is charged to the budget. Once
// the budget is spent it evaluates nothing and fails, so that a for
// expression over a billion elements ends at its next iteration. It holds its node in parentheses, which
// HCL's walks (Variables among them) step into.
type guarded struct{ *hclsyntax.ParenthesesExpr }

func (g guarded) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	b := budgetOf(ctx)
	if b == nil {
		return g.ParenthesesExpr.Value(ctx)
	}
	if b.spent() {
		return cty.DynamicVal, hcl.Diagnostics{valueTooLarge(g.Range())}
	}
	v, diags := g.ParenthesesExpr.Value(ctx)
	if diags.HasErrors() {
		return v, diags
	}
	if !b.spend(v) {
		return cty.DynamicVal, hcl.Diagnostics{valueTooLarge(g.Range())}
	}
	return v, diags
}

// UnwrapExpression lets HCL see through the guard where it looks for a
// keyword or a traversal.
func (g guarded) UnwrapExpression() hcl.Expression { return g.Expression }

// guard makes the nodes of a freshly parsed file or expression charge what
// they build: the collections, keys and values of for expressions, the
// interpolations of templates, the items of tuples and objects, and the
// operands of arithmetic. It also rejects number literals out of range.
func guard(root hclsyntax.Node) hcl.Diagnostics {
	var nodes []hclsyntax.Node
	// Collected before wrapping, which would walk each node twice.
	hclsyntax.VisitAll(root, func(n hclsyntax.Node) hcl.Diagnostics {
		nodes = append(nodes, n)
		return nil
	})
	var diags hcl.Diagnostics
	wrap := func(e *hclsyntax.Expression) {
		if *e != nil {
			*e = guarded{&hclsyntax.ParenthesesExpr{Expression: *e, SrcRange: (*e).Range()}}
		}
	}
	for _, n := range nodes {
		switch n := n.(type) {
		case *hclsyntax.ForExpr:
			wrap(&n.CollExpr)
			wrap(&n.KeyExpr)
			wrap(&n.ValExpr)
		case *hclsyntax.TemplateExpr:
			for i := range n.Parts {
				if _, literal := n.Parts[i].(*hclsyntax.LiteralValueExpr); !literal {
					wrap(&n.Parts[i])
				}
			}
		case *hclsyntax.TupleConsExpr:
			for i := range n.Exprs {
				wrap(&n.Exprs[i])
			}
		case *hclsyntax.ObjectConsExpr:
			for i := range n.Items {
				wrap(&n.Items[i].ValueExpr)
			}
		case *hclsyntax.BinaryOpExpr:
			wrap(&n.LHS)
			wrap(&n.RHS)
		case *hclsyntax.LiteralValueExpr:
			if n.Val.Type() == cty.Number && !funcs.NumberInRange(n.Val) {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Number out of range",
					Detail:  fmt.Sprintf("kwok-run's numbers stay within ±1e%d.", funcs.MaxExponent),
					Subject: n.SrcRange.Ptr(),
				})
			}
		}
	}
	return diags
}

const valueTooLargeSummary = "Value too large"

func valueTooLarge(rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  valueTooLargeSummary,
		Detail: fmt.Sprintf("Here the scenario builds more than kwok-run allows (%d MiB of values while loading, %d MiB for one node, pod or assertion, numbers within ±1e%d): far more than a scenario needs, and kwok-run stops so that no file can exhaust its memory.",
			MaxLoadWeight>>20, MaxInstanceWeight>>20, funcs.MaxExponent),
		Subject: rng.Ptr(),
	}
}
