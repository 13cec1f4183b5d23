package scenario

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/kwok-run/kwok-run/scenario/funcs"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// EnvPrefix starts the environment variables that set scenario variables.
const EnvPrefix = "KWOKRUN_VAR_"

type variable struct {
	name        string
	decl        hcl.Range
	typ         cty.Type
	defaults    *typeexpr.Defaults
	description string
	validations hcl.Blocks

	value cty.Value // cty.NilVal until a source sets it
	// source and valueRange say where the value came from, for reports and
	// for pointing at it when a validation fails.
	source     string
	valueRange *hcl.Range
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "condition", Required: true}, {Name: "error_message"}},
}

// decodeVariables declares every variable and resolves its value with
// Terraform's precedence: default < KWOKRUN_VAR_name < -var-file and -var in
// command-line order.
func (d *decoder) decodeVariables(blocks hcl.Blocks) {
	d.vars = map[string]*variable{}
	seen := map[string]hcl.Range{}
	for _, blk := range blocks {
		name := blk.Labels[0]
		if !hclsyntax.ValidIdentifier(name) {
			d.errorf(blk.LabelRanges[0], "Invalid variable name",
				"%q cannot be used in expressions: a name starts with a letter and holds letters, digits, _ and -.", name)
			continue
		}
		if !d.unique(seen, "variable", name, blk.LabelRanges[0]) {
			continue
		}
		d.vars[name] = d.decodeVariable(blk)
	}

	for _, kv := range d.opts.Environ {
		k, raw, _ := strings.Cut(kv, "=")
		name, ok := strings.CutPrefix(k, EnvPrefix)
		if !ok {
			continue
		}
		// Like Terraform, an environment variable for an undeclared variable
		// is ignored: the environment is shared by many scenarios.
		if v := d.vars[name]; v != nil {
			d.setRaw(v, raw, "env", k)
		}
	}
	for _, arg := range d.opts.Vars {
		if arg.File {
			d.readVarFile(arg.Value)
			continue
		}
		name, raw, ok := strings.Cut(arg.Value, "=")
		if !ok || name == "" {
			d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -var option",
				Detail: fmt.Sprintf("-var %q: write -var name=value.", arg.Value)})
			continue
		}
		v := d.vars[name]
		if v == nil {
			d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value for undeclared variable",
				Detail: fmt.Sprintf("-var %s: the scenario declares no variable %q.%s", arg.Value, name, suggest(name, mapKeys(d.vars)))})
			continue
		}
		d.setRaw(v, raw, "flag", "-var "+name)
	}

	for _, name := range mapKeys(d.vars) {
		v := d.vars[name]
		if v.value == cty.NilVal {
			d.errorf(v.decl, fmt.Sprintf("No value for required variable %q", name),
				"Set it with -var %s=..., in a -var-file, or with %s%s, or give the variable a default.", name, EnvPrefix, name)
		}
	}
}

func (d *decoder) decodeVariable(blk *hcl.Block) *variable {
	b := d.body(blk, variableSchema)
	v := &variable{
		name:        blk.Labels[0],
		decl:        blk.DefRange,
		typ:         cty.DynamicPseudoType,
		validations: b.blocks("validation"),
	}
	if a := b.attr("type"); a != nil {
		ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(a.Expr)
		d.diags = append(d.diags, diags...)
		if !diags.HasErrors() {
			v.typ, v.defaults = ty, defaults
		}
	}
	v.description = b.str("description", "")
	if a := b.attr("default"); a != nil {
		val, diags := d.eval(a.Expr, scope{constant: true})
		d.diags = append(d.diags, diags...)
		if !diags.HasErrors() && !val.IsNull() {
			rng := a.Expr.Range()
			d.setValue(v, val, "default", &rng, "the default")
		}
	}
	return v
}

// setValue converts val to the variable's type and records it.
func (d *decoder) setValue(v *variable, val cty.Value, source string, rng *hcl.Range, what string) {
	if v.defaults != nil {
		val = v.defaults.Apply(val)
	}
	conv, err := convert.Convert(val, v.typ)
	if err != nil {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid value for variable %q", v.name),
			Detail:   fmt.Sprintf("%s does not fit type %s: %s.", what, typeexpr.TypeString(v.typ), errText(err)),
			Subject:  rng,
		})
		return
	}
	if !budgetOf(d.ctx).spend(conv) {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid value for variable %q", v.name),
			Detail:   fmt.Sprintf("%s is larger than kwok-run allows (%d MiB of values, numbers within ±1e%d).", what, MaxLoadWeight>>20, funcs.MaxExponent),
			Subject:  rng,
		})
		return
	}
	v.value, v.source, v.valueRange = conv, source, rng
}

// setRaw sets a variable from a command-line or environment string. As in
// Terraform, a string, number or bool variable takes the text as it is;
// anything else parses it as an HCL expression, e.g. -var 'zones=["a","b"]'.
func (d *decoder) setRaw(v *variable, raw, source, what string) {
	if v.typ.IsPrimitiveType() {
		d.setValue(v, cty.StringVal(raw), source, nil, what)
		return
	}
	diags := checkComplexity(lexExpression, []byte(raw), what)
	var expr hclsyntax.Expression
	if !diags.HasErrors() {
		expr, diags = hclsyntax.ParseExpression([]byte(raw), what, hcl.InitialPos)
	}
	if !diags.HasErrors() {
		diags = append(diags, guard(expr)...)
	}
	if !diags.HasErrors() {
		var val cty.Value
		val, diags = d.eval(expr, scope{constant: true})
		if !diags.HasErrors() {
			d.setValue(v, val, source, nil, what)
			return
		}
	}
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid value for variable %q", v.name),
		Detail:   fmt.Sprintf("%s: %q is not a valid %s value: %s", what, raw, typeexpr.TypeString(v.typ), diags[0].Summary),
	})
}

// readVarFile reads name = value lines, as Terraform's .tfvars files.
func (d *decoder) readVarFile(path string) {
	src, err := readBounded(path, MaxFileSize)
	if err != nil {
		d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read variable file", Detail: err.Error(), Subject: fileStart(path)})
		return
	}
	if diags := checkText(src, path); diags.HasErrors() {
		d.diags = append(d.diags, diags...)
		return
	}
	if diags := checkComplexity(lexConfig, src, path); diags.HasErrors() {
		d.loader.remember(path, src)
		d.diags = append(d.diags, diags...)
		return
	}
	f, diags := d.loader.parser.ParseHCL(src, path)
	if !diags.HasErrors() {
		diags = append(diags, guard(f.Body.(*hclsyntax.Body))...)
	}
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return
	}
	attrs, diags := f.Body.JustAttributes()
	d.diags = append(d.diags, diags...)
	for _, name := range mapKeys(attrs) {
		a := attrs[name]
		v := d.vars[name]
		if v == nil {
			// A warning, not an error: one variable file often serves several
			// scenarios.
			d.warnf(a.NameRange, "Value for undeclared variable",
				"The scenario declares no variable %q; this value is ignored.%s", name, suggest(name, mapKeys(d.vars)))
			continue
		}
		val, diags := d.eval(a.Expr, scope{constant: true})
		d.diags = append(d.diags, diags...)
		if !diags.HasErrors() {
			rng := a.Expr.Range()
			d.setValue(v, val, "file "+path, &rng, "the value in "+path)
		}
	}
}

// varObject is the `var` object expressions see. A variable without a valid
// value is unknown, so expressions using it are skipped without further noise.
func (d *decoder) varObject() cty.Value {
	attrs := make(map[string]cty.Value, len(d.vars))
	for name, v := range d.vars {
		if v.value == cty.NilVal {
			attrs[name] = cty.DynamicVal
		} else {
			attrs[name] = v.value
		}
	}
	return cty.ObjectVal(attrs)
}

// checkVariableValidations runs every validation block against the final
// values and records the resolved variables in the plan.
func (d *decoder) checkVariableValidations() {
	for _, name := range mapKeys(d.vars) {
		v := d.vars[name]
		if v.value == cty.NilVal {
			continue
		}
		for _, blk := range v.validations {
			d.checkValidation(v, blk)
		}
		d.plan.Variables = append(d.plan.Variables, plan.Variable{
			Name:   name,
			Type:   typeexpr.TypeString(v.value.Type()),
			Value:  jsonValue(v.value),
			Source: v.source,
		})
	}
}

func (d *decoder) checkValidation(v *variable, blk *hcl.Block) {
	b := d.body(blk, validationSchema)
	cond := b.attr("condition")
	if cond == nil {
		return
	}
	if !slices.ContainsFunc(cond.Expr.Variables(), func(t hcl.Traversal) bool {
		name, _ := stepName(t, 1)
		return t.RootName() == "var" && name == v.name
	}) {
		d.errorf(cond.Expr.Range(), "Validation does not check the variable",
			"A validation of variable %q must refer to var.%s.", v.name, v.name)
		return
	}
	val, diags := d.eval(cond.Expr, scope{})
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || !val.IsWhollyKnown() {
		return
	}
	ok, err := convert.Convert(val, cty.Bool)
	if err != nil || ok.IsNull() {
		d.errorf(cond.Expr.Range(), "Invalid validation condition", "A condition must be true or false; got %s.", friendlyType(val.Type()))
		return
	}
	if ok.True() {
		return
	}
	msg := fmt.Sprintf("The value of var.%s does not satisfy the condition.", v.name)
	if a := b.attr("error_message"); a != nil {
		if m, diags := d.eval(a.Expr, scope{}); !diags.HasErrors() && m.Type() == cty.String && m.IsKnown() && !m.IsNull() {
			msg = m.AsString()
		}
	}
	subject := v.valueRange
	where := ""
	if subject == nil {
		r := cond.Expr.Range()
		subject = &r
	} else {
		where = fmt.Sprintf("\nChecked by the validation at %s.", cond.Expr.Range())
	}
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid value for variable %q", v.name),
		Detail:   fmt.Sprintf("%s (value from %s)%s", msg, v.source, where),
		Subject:  subject,
	})
}

// jsonValue turns a cty value into plain Go data for the plan's JSON.
func jsonValue(v cty.Value) any {
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return v.GoString()
	}
	return json.RawMessage(b)
}

func errText(err error) string {
	if pe, ok := err.(cty.PathError); ok && len(pe.Path) > 0 {
		return fmt.Sprintf("%s: %s", pathString(pe.Path), pe.Error())
	}
	return err.Error()
}

func pathString(p cty.Path) string {
	var sb strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case cty.GetAttrStep:
			fmt.Fprintf(&sb, ".%s", s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				fmt.Fprintf(&sb, "[%q]", s.Key.AsString())
			} else if s.Key.Type() == cty.Number {
				fmt.Fprintf(&sb, "[%s]", s.Key.AsBigFloat().Text('f', -1))
			}
		}
	}
	return strings.TrimPrefix(sb.String(), ".")
}
