package scenario

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

type objectTemplate struct {
	wave string
	template
}

var _ plan.ObjectTemplate = (*objectTemplate)(nil)

// Object renders the metadata of object i of the wave.
func (t *objectTemplate) Object(i int) (plan.ObjectSpec, error) {
	spec, diags := t.render(i)
	if diags.HasErrors() {
		return spec, instanceError(fmt.Sprintf("wave %q object", t.wave), i, diags)
	}
	return spec, nil
}

// Source returns the templated attributes as written.
func (t *objectTemplate) Source() map[string]string {
	out := map[string]string{}
	t.sources("", out)
	return out
}

func (t *objectTemplate) render(i int) (plan.ObjectSpec, hcl.Diagnostics) {
	var spec plan.ObjectSpec
	var all hcl.Diagnostics
	labels, expr, where, diags := t.stringMap("labels", i)
	all = append(all, diags...)
	all = append(all, checkLabels(labels, expr, "labels", where)...)
	if _, ok := labels[WaveLabel]; ok {
		all = append(all, diagf(hcl.DiagError, keyRange(expr, WaveLabel), "Reserved label", "kwok-run sets the %s label of a wave itself.", WaveLabel))
	}
	spec.Labels = labels

	annotations, expr, where, diags := t.stringMap("annotations", i)
	all = append(all, diags...)
	all = append(all, checkKeys(annotations, expr, "annotations", where)...)
	spec.Annotations = annotations

	sel, expr, where, diags := t.stringMap("node_selector", i)
	all = append(all, diags...)
	all = append(all, checkLabels(sel, expr, "node_selector", where)...)
	spec.NodeSelector = sel
	return spec, all
}

// checkRequestsWithinLimits applies Kubernetes' rule that a request may not
// exceed its limit, which the apiserver would otherwise reject mid-run.
func (d *decoder) checkRequestsWithinLimits(b *body, requests, limits map[string]string) {
	for _, name := range mapKeys(requests) {
		l, ok := limits[name]
		if !ok {
			continue
		}
		rq, err1 := resource.ParseQuantity(requests[name])
		lq, err2 := resource.ParseQuantity(l)
		if err1 == nil && err2 == nil && rq.Cmp(lq) > 0 {
			b.d.errorf(itemRange(b.expr("requests"), name), "Request above limit", "The %s request (%s) is larger than its limit (%s); Kubernetes rejects such pods.", name, requests[name], l)
		}
	}
}

var tolerationSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "key"}, {Name: "operator"}, {Name: "value"}, {Name: "effect"}, {Name: "toleration_seconds"},
}}

var nodeAffinitySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "key", Required: true}, {Name: "operator"}, {Name: "values"}, {Name: "required"}, {Name: "weight"},
}}

var podAffinitySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "topology_key", Required: true}, {Name: "match_labels"}, {Name: "required"}, {Name: "weight"},
}}

var topologySpreadSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "topology_key", Required: true}, {Name: "max_skew"}, {Name: "when_unsatisfiable"}, {Name: "match_labels"},
}}

var (
	tolerationOperators   = []string{"Equal", "Exists"}
	nodeSelectorOperators = []string{"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"}
	unsatisfiableActions  = []string{"DoNotSchedule", "ScheduleAnyway"}
)

// decodePodScheduling reads the blocks that steer the scheduler. Affinity and
// spread select the wave's own pods unless match_labels says otherwise.
func (d *decoder) decodePodScheduling(b *body, pod *plan.PodSpec) {
	wave := map[string]string{WaveLabel: b.block.Labels[0]}
	for _, blk := range b.blocks("toleration") {
		tb := d.body(blk, tolerationSchema)
		t := plan.Toleration{
			Key:      tb.str("key", ""),
			Operator: tb.oneOf("operator", "Equal", tolerationOperators),
			Value:    tb.str("value", ""),
			Effect:   tb.str("effect", ""),
		}
		if t.Effect != "" && !slices.Contains(taintEffects, t.Effect) {
			tb.fail("effect", "Invalid effect", "%q is not one of %s.%s", t.Effect, listNames(taintEffects), suggest(t.Effect, taintEffects))
		}
		if t.Operator == "Exists" && t.Value != "" {
			tb.fail("value", "value with operator Exists", "Exists matches any value of the key; leave value out.")
		}
		if t.Key == "" && t.Operator != "Exists" {
			d.errorf(blk.DefRange, "Toleration without key", "Only operator = \"Exists\" may leave key out (tolerating every taint).")
		}
		if tb.has("toleration_seconds") {
			if t.Effect != "NoExecute" {
				tb.fail("toleration_seconds", "toleration_seconds needs effect NoExecute", "Only NoExecute taints evict pods, so only they have a toleration time.")
			}
			s := int64(tb.integer("toleration_seconds", 0, 0, 1<<31))
			t.Seconds = &s
		}
		pod.Tolerations = append(pod.Tolerations, t)
	}
	for _, blk := range b.blocks("node_affinity") {
		nb := d.body(blk, nodeAffinitySchema)
		a := plan.NodeAffinity{
			Key:      nb.str("key", ""),
			Operator: nb.oneOf("operator", "In", nodeSelectorOperators),
			Values:   nb.stringList("values"),
			Required: nb.boolean("required", true),
		}
		for _, msg := range validation.IsQualifiedName(a.Key) {
			nb.fail("key", "Invalid label key", "%q: %s.", a.Key, msg)
		}
		switch a.Operator {
		case "In", "NotIn":
			if len(a.Values) == 0 {
				d.errorf(blk.DefRange, "Missing values", "Operator %s needs values to compare with.", a.Operator)
			}
		case "Exists", "DoesNotExist":
			if len(a.Values) > 0 {
				nb.fail("values", "values with operator "+a.Operator, "%s looks at the key only; leave values out.", a.Operator)
			}
		case "Gt", "Lt":
			if _, err := strconv.ParseInt(firstOr(a.Values, ""), 10, 64); len(a.Values) != 1 || err != nil {
				nb.fail("values", "Invalid values", "%s compares with one whole number, e.g. values = [\"4\"].", a.Operator)
			}
		}
		a.Weight = d.weight(nb, a.Required)
		pod.NodeAffinity = append(pod.NodeAffinity, a)
	}
	for _, typ := range []string{"pod_affinity", "pod_anti_affinity"} {
		for _, blk := range b.blocks(typ) {
			pb := d.body(blk, podAffinitySchema)
			a := plan.PodAffinity{
				TopologyKey: pb.str("topology_key", ""),
				MatchLabels: pb.stringMap("match_labels"),
				Required:    pb.boolean("required", true),
			}
			if a.MatchLabels == nil {
				a.MatchLabels = cloneMap(wave)
			}
			d.diags = append(d.diags, checkLabels(a.MatchLabels, pb.expr("match_labels"), "match_labels", "")...)
			a.Weight = d.weight(pb, a.Required)
			if typ == "pod_affinity" {
				pod.PodAffinity = append(pod.PodAffinity, a)
			} else {
				pod.PodAntiAffinity = append(pod.PodAntiAffinity, a)
			}
		}
	}
	for _, blk := range b.blocks("topology_spread") {
		sb := d.body(blk, topologySpreadSchema)
		s := plan.TopologySpread{
			TopologyKey:       sb.str("topology_key", ""),
			MaxSkew:           sb.integer("max_skew", 1, 1, 1<<31),
			WhenUnsatisfiable: sb.oneOf("when_unsatisfiable", "DoNotSchedule", unsatisfiableActions),
			MatchLabels:       sb.stringMap("match_labels"),
		}
		if s.MatchLabels == nil {
			s.MatchLabels = cloneMap(wave)
		}
		d.diags = append(d.diags, checkLabels(s.MatchLabels, sb.expr("match_labels"), "match_labels", "")...)
		pod.TopologySpread = append(pod.TopologySpread, s)
	}
}

// weight reads the weight of a preferred term; required terms have none.
func (d *decoder) weight(b *body, required bool) int {
	if required {
		if b.has("weight") {
			b.fail("weight", "weight on a required term", "Only preferred terms (required = false) are weighted.")
		}
		return 0
	}
	return b.integer("weight", 1, 1, 100)
}

func firstOr(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	return s[0]
}
