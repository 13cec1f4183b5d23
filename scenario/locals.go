package scenario

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// decodeLocals evaluates every local value in dependency order, so a local can
// refer to another declared below it, and reports cycles with their path.
func (d *decoder) decodeLocals(blocks hcl.Blocks) {
	attrs := map[string]*hcl.Attribute{}
	for _, blk := range blocks {
		as, diags := blk.Body.JustAttributes()
		d.diags = append(d.diags, diags...)
		for name, a := range as {
			if first, ok := attrs[name]; ok {
				d.errorf(a.NameRange, fmt.Sprintf("Duplicate local value %q", name),
					"local.%s is already defined at %s.", name, first.NameRange)
				continue
			}
			attrs[name] = a
		}
	}

	// Declared names resolve while their values are computed; a local that
	// fails stays unknown and silences what depends on it.
	d.locals = make(map[string]cty.Value, len(attrs))
	for name := range attrs {
		d.locals[name] = cty.DynamicVal
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(name string)
	visit = func(name string) {
		a := attrs[name]
		switch state[name] {
		case done:
			return
		case visiting:
			start := 0
			for i, p := range path {
				if p == name {
					start = i
				}
			}
			cycle := append(append([]string(nil), path[start:]...), name)
			d.errorf(a.NameRange, "Cycle in local values",
				"These local values refer to each other in a circle: local.%s.", strings.Join(cycle, " → local."))
			return
		}
		state[name] = visiting
		path = append(path, name)
		for _, t := range a.Expr.Variables() {
			if dep, ok := stepName(t, 1); ok && t.RootName() == "local" && attrs[dep] != nil {
				visit(dep)
			}
		}
		path = path[:len(path)-1]
		state[name] = done

		d.ctx.Variables["local"] = cty.ObjectVal(d.locals)
		v, diags := d.eval(a.Expr, scope{})
		d.diags = append(d.diags, diags...)
		if !diags.HasErrors() {
			d.locals[name] = v
		}
	}
	for _, name := range mapKeys(attrs) {
		visit(name)
	}
}
