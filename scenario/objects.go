package scenario

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

// MaxObjects bounds a create_objects wave, as MaxWavePods bounds pods.
const MaxObjects = 10_000_000

var createObjectsSchema = &hcl.BodySchema{Attributes: withRate(
	hcl.AttributeSchema{Name: "count", Required: true}, hcl.AttributeSchema{Name: "namespace"},
	hcl.AttributeSchema{Name: "object"}, hcl.AttributeSchema{Name: "manifest"},
)}

// objectWave follows a create_objects wave for the actions that refer to it.
type objectWave struct {
	create *plan.CreateObjects
	step   string
}

func (d *decoder) decodeCreateObjects(blk *hcl.Block, step *plan.Step) plan.Action {
	name, rng := blk.Labels[0], blk.LabelRanges[0]
	b := d.body(blk, createObjectsSchema)
	a := &plan.CreateObjects{Name: name, Count: b.integer("count", 0, 1, MaxObjects), Rate: b.rate()}
	if !d.checkName(rng, "create_objects", name, 40) {
		return nil
	}
	if w, ok := d.objectWaves[name]; ok {
		d.errorf(rng, fmt.Sprintf("Duplicate create_objects %q", name), "Step %q already creates objects named %q; waves name their objects, so names must be unique.", w.step, name)
		return nil
	}
	if w, ok := d.waves[name]; ok {
		d.errorf(rng, fmt.Sprintf("Duplicate wave %q", name), "Step %q creates pods in a wave named %q; waves of pods and of objects share their names.", w.step, name)
		return nil
	}
	t := &manifestTemplate{wave: name, template: template{ctx: d.ctx, attrs: map[string]*lazyAttr{}}}
	switch has := [2]bool{b.has("object"), b.has("manifest")}; has {
	case [2]bool{true, true}:
		b.fail("manifest", "Both object and manifest", "Give the object inline with object, or in a YAML file with manifest, not both.")
		return nil
	case [2]bool{false, false}:
		d.errorf(blk.DefRange, "Missing object", "Say what to create: object = { apiVersion = \"v1\", kind = \"ConfigMap\", ... }, or manifest = \"file.yaml\".")
		return nil
	case [2]bool{true, false}:
		d.lazy(&t.template, b.attr("object"))
		t.source = t.attrs["object"]
	default:
		expr, ok := d.manifestTemplate(b.str("manifest", ""), b.rng("manifest"))
		if !ok {
			return nil
		}
		t.fromYAML = true
		d.lazy(&t.template, &hcl.Attribute{Name: "manifest", Expr: expr, Range: expr.Range(), NameRange: b.rng("manifest")})
		t.source = t.attrs["manifest"]
	}
	d.lazy(&t.template, b.attr("namespace"))
	if t.source == nil || a.Count == 0 {
		return nil // already reported
	}
	a.Template = t
	before := len(d.diags)
	var first, last map[string]any
	d.checkInstances(a.Count, t.perItem(), func(i int) hcl.Diagnostics {
		m, diags := t.render(i)
		if i == 0 {
			first = m
		} else {
			last = m
		}
		return diags
	})
	if len(d.diags) > before && d.diags[before:].HasErrors() {
		return nil
	}
	if last == nil && a.Count > 1 {
		// The same object every time: only its name can tell, below.
		last, _ = t.render(a.Count - 1)
	}
	a.APIVersion, _ = first["apiVersion"].(string)
	a.Kind, _ = first["kind"].(string)
	if last != nil {
		if v, _ := last["apiVersion"].(string); v != a.APIVersion || last["kind"] != a.Kind {
			d.errorf(t.source.expr.Range(), "Copies of different kinds", "Copy 0 is a %s (%s) and copy %d a %s (%s); a wave is of one kind.", a.Kind, a.APIVersion, a.Count-1, last["kind"], v)
			return nil
		}
		if nameOf(first) == nameOf(last) && namespaceOf(first) == namespaceOf(last) {
			d.errorf(t.source.expr.Range(), "Copies with the same name", "Copy 0 and copy %d are both %q: name them with count.index, or leave metadata.name out for %s-<index>.", a.Count-1, nameOf(first), name)
			return nil
		}
	}
	d.objectWaves[name] = &objectWave{create: a, step: step.Name}
	return a
}

// manifestTemplate reads and parses a manifest, a YAML file that is an HCL
// template (${var.x}, and count.index for create_objects; a literal ${ is
// written $${), relative to the scenario, for apply and create_objects.
func (d *decoder) manifestTemplate(path string, attrRng hcl.Range) (hclsyntax.Expression, bool) {
	full, ok := d.file(path, attrRng, "manifest")
	if !ok {
		return nil, false
	}
	src, err := readBounded(full, MaxManifestSize)
	if err != nil {
		d.errorf(attrRng, "Cannot read manifest", "%s: %s", path, err)
		return nil, false
	}
	if diags := checkText(src, full); diags.HasErrors() {
		d.diags = append(d.diags, diags...)
		return nil, false
	}
	d.loader.remember(full, src)
	if diags := checkComplexity(lexTemplate, src, full); diags.HasErrors() {
		d.diags = append(d.diags, diags...)
		return nil, false
	}
	expr, diags := hclsyntax.ParseTemplate(src, full, hcl.InitialPos)
	if !diags.HasErrors() {
		diags = append(diags, guard(expr)...)
	}
	d.diags = append(d.diags, diags...)
	return expr, !diags.HasErrors()
}

// manifestTemplate renders one object of a create_objects wave.
type manifestTemplate struct {
	wave string
	template
	// source is the object or the manifest, whichever was given.
	source   *lazyAttr
	fromYAML bool
}

var _ plan.ManifestTemplate = (*manifestTemplate)(nil)

func (t *manifestTemplate) Manifest(i int) (map[string]any, error) {
	m, diags := t.render(i)
	if diags.HasErrors() {
		return nil, instanceError(fmt.Sprintf("create_objects %q copy", t.wave), i, diags)
	}
	return m, nil
}

func (t *manifestTemplate) Source() map[string]string {
	out := map[string]string{}
	t.sources("", out)
	return out
}

// render builds copy i: the object as written, with its name (the wave's
// name and the index unless metadata.name says otherwise), its namespace
// (metadata.namespace, else the namespace attribute) and the wave's label.
func (t *manifestTemplate) render(i int) (map[string]any, hcl.Diagnostics) {
	v, la, diags := t.value(t.source.name, i)
	if diags.HasErrors() || la == nil {
		return nil, diags
	}
	rng, where := la.expr.Range(), la.where(i)
	fail := func(summary, detail string, args ...any) (map[string]any, hcl.Diagnostics) {
		return nil, append(diags, instanceDiag(rng, summary, where, detail, args...))
	}
	var obj map[string]any
	if t.fromYAML {
		s, sdiags := toString(v, rng, "manifest")
		if sdiags.HasErrors() {
			return nil, append(diags, sdiags...)
		}
		if docs := splitYAML(s); len(docs) != 1 {
			return fail("Not one object", "A create_objects manifest holds one object, which is created count times; this one holds %d documents.", len(docs))
		}
		j, err := yaml.YAMLToJSON([]byte(s))
		if err != nil {
			return fail("Invalid YAML in manifest", "%s", err)
		}
		if err := utiljson.Unmarshal(j, &obj); err != nil {
			return fail("Not an object", "The manifest is not a mapping: %s.", err)
		}
	} else {
		if !v.Type().IsObjectType() && !v.Type().IsMapType() {
			return fail("Not an object", "object is an object such as { apiVersion = \"v1\", kind = \"ConfigMap\", data = { ... } }; got %s.", friendlyType(v.Type()))
		}
		j, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			return fail("Not an object", "%s", err)
		}
		// apimachinery's decoder keeps whole numbers as integers, as
		// Kubernetes' own objects want them (ports, replicas).
		if err := utiljson.Unmarshal(j, &obj); err != nil {
			return fail("Not an object", "%s", err)
		}
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if apiVersion == "" || kind == "" {
		return fail("Not a Kubernetes object", "An object has apiVersion and kind, e.g. apiVersion = \"v1\", kind = \"ConfigMap\".")
	}
	meta, ok := obj["metadata"].(map[string]any)
	if obj["metadata"] != nil && !ok {
		return fail("Invalid metadata", "metadata is an object with name, namespace, labels and annotations.")
	}
	if meta == nil {
		meta = map[string]any{}
		obj["metadata"] = meta
	}
	if meta["name"] == nil {
		meta["name"] = fmt.Sprintf("%s-%d", t.wave, i)
	}
	name, _ := meta["name"].(string)
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fail("Invalid object name", "%q: %s.", name, strings.Join(msgs, "; "))
	}
	if meta["namespace"] == nil {
		ns, nsRng, nsWhere, nsDiags := t.str("namespace", i, "")
		if nsDiags.HasErrors() {
			return nil, append(diags, nsDiags...)
		}
		if ns != "" {
			if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
				return nil, append(diags, instanceDiag(nsRng, "Invalid namespace name", nsWhere, "%q: %s.", ns, strings.Join(msgs, "; ")))
			}
			meta["namespace"] = ns
		}
	}
	labels, ok := meta["labels"].(map[string]any)
	if meta["labels"] != nil && !ok {
		return fail("Invalid labels", "metadata.labels maps label keys to values.")
	}
	if labels == nil {
		labels = map[string]any{}
		meta["labels"] = labels
	}
	for k, v := range labels {
		s, isString := v.(string)
		if !isString {
			return fail("Invalid value in labels", "%s: label values are strings.", k)
		}
		if msgs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(s)...); len(msgs) > 0 {
			return fail("Invalid label", "%s = %q: %s.", k, s, strings.Join(msgs, "; "))
		}
	}
	if w, set := labels[WaveLabel]; set && w != t.wave {
		return fail("Reserved label", "%s is kwok-run's: it names the object's wave.", WaveLabel)
	}
	labels[WaveLabel] = t.wave
	return obj, diags
}

func nameOf(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	s, _ := meta["name"].(string)
	return s
}

func namespaceOf(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	s, _ := meta["namespace"].(string)
	return s
}

// objectWave resolves a wave of objects named by an update or delete.
func (d *decoder) objectWave(name string, rng hcl.Range, step *plan.Step) *objectWave {
	w, ok := d.objectWaves[name]
	switch {
	case !ok:
		d.errorf(rng, "Unknown create_objects wave", "No earlier step has create_objects %q.%s", name, suggest(name, mapKeys(d.objectWaves)))
		return nil
	case w.step == step.Name:
		d.createdAlongside(rng, name)
		return nil
	}
	return w
}

var updateObjectsSchema = &hcl.BodySchema{Attributes: withRate(
	hcl.AttributeSchema{Name: "count"}, hcl.AttributeSchema{Name: "percent"},
	hcl.AttributeSchema{Name: "every", Required: true}, hcl.AttributeSchema{Name: "duration"},
	hcl.AttributeSchema{Name: "patch"},
)}

func (d *decoder) decodeUpdateObjects(blk *hcl.Block, step *plan.Step) plan.Action {
	b := d.body(blk, updateObjectsSchema)
	a := &plan.UpdateObjects{
		Name:  blk.Labels[0],
		Rate:  b.rate(),
		Every: b.duration("every", 0, time.Second),
		For:   b.duration("duration", step.Duration.D(), time.Second),
	}
	a.Amount = b.amount(MaxObjects, nil)
	w := d.objectWave(a.Name, blk.LabelRanges[0], step)
	if w == nil {
		return nil
	}
	if a.For == 0 {
		d.errorf(blk.DefRange, "Updates without an end", "update_objects repeats until its duration is over: set duration here or on the step.")
	} else if a.Every > a.For {
		b.fail("every", "Updates never repeat", "every (%s) is longer than the updates' duration (%s).", a.Every, a.For)
	}
	if attr := b.attr("patch"); attr != nil {
		t := &patchTemplate{wave: a.Name, template: template{ctx: d.ctx, attrs: map[string]*lazyAttr{}}}
		d.lazy(&t.template, attr)
		if t.attrs["patch"] == nil {
			return nil // already reported
		}
		d.checkInstances(w.create.Count, t.perItem(), func(i int) hcl.Diagnostics { _, diags := t.render(i); return diags })
		a.Patch = t
	}
	return a
}

// patchTemplate renders update_objects' merge patch for object i.
type patchTemplate struct {
	wave string
	template
}

func (t *patchTemplate) Manifest(i int) (map[string]any, error) {
	m, diags := t.render(i)
	if diags.HasErrors() {
		return nil, instanceError(fmt.Sprintf("update_objects %q patch of object", t.wave), i, diags)
	}
	return m, nil
}

func (t *patchTemplate) Source() map[string]string {
	out := map[string]string{}
	t.sources("", out)
	return out
}

func (t *patchTemplate) render(i int) (map[string]any, hcl.Diagnostics) {
	v, la, diags := t.value("patch", i)
	if diags.HasErrors() || la == nil {
		return nil, diags
	}
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		return nil, append(diags, instanceDiag(la.expr.Range(), "Invalid patch", la.where(i), "patch is an object merged into each object, e.g. { data = { version = \"2\" } }; got %s.", friendlyType(v.Type())))
	}
	j, err := ctyjson.Marshal(v, v.Type())
	var m map[string]any
	if err == nil {
		err = utiljson.Unmarshal(j, &m)
	}
	if err != nil {
		return nil, append(diags, instanceDiag(la.expr.Range(), "Invalid patch", la.where(i), "%s", err))
	}
	return m, diags
}

var deleteObjectsSchema = &hcl.BodySchema{Attributes: withRate(hcl.AttributeSchema{Name: "count"}, hcl.AttributeSchema{Name: "percent"})}

func (d *decoder) decodeDeleteObjects(blk *hcl.Block, step *plan.Step) plan.Action {
	b := d.body(blk, deleteObjectsSchema)
	a := &plan.DeleteObjects{Name: blk.Labels[0], Rate: b.rate()}
	a.Amount = b.amount(MaxObjects, &plan.Amount{Percent: 100})
	if d.objectWave(a.Name, blk.LabelRanges[0], step) == nil {
		return nil
	}
	return a
}
