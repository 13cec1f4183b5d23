package scenario

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Limits that keep a typo (count = 1e9) from becoming a run that cannot end.
const (
	MaxPoolNodes = 1_000_000
	MaxWavePods  = 10_000_000
)

// DefaultCapacity is a node's capacity unless the pool says otherwise: a large
// machine, so that pods rather than nodes are what a scenario runs out of.
var DefaultCapacity = map[string]string{"cpu": "32", "memory": "256Gi", "pods": "110"}

var poolSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "count", Required: true},
		{Name: "capacity"}, {Name: "allocatable"}, {Name: "labels"}, {Name: "annotations"}, {Name: "node_type"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "taint"}, {Type: "condition", LabelNames: []string{"type"}}, {Type: "heartbeat"}},
}

var conditionSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "status"}, {Name: "reason"}, {Name: "message"}},
}

var heartbeatSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "status_interval"}, {Name: "lease_duration"}},
}

// InstanceTypeLabels are the labels node_type sets: the well-known one, and
// the beta one that older tools still read.
var InstanceTypeLabels = []string{corev1.LabelInstanceTypeStable, corev1.LabelInstanceType}

var conditionStatuses = []string{"True", "False", "Unknown"}

// A condition's reason is one CamelCase word, as Kubernetes asks of
// metav1.Condition; it also keeps the KWOK stage that writes it plain.
var conditionReason = regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`)

// MaxOwnLeases bounds the KWOK controllers pools' lease durations add, one
// per duration other than the cluster's.
const MaxOwnLeases = 4

// MinStatusInterval bounds how often KWOK rewrites a node's status: a
// kubelet does so at most every ten seconds.
const MinStatusInterval = 10 * time.Second

var taintSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "key", Required: true}, {Name: "value"}, {Name: "effect", Required: true}},
}

var taintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

// poolState follows a pool through the steps while they are decoded.
type poolState struct {
	pool    *plan.NodePool
	rng     hcl.Range
	created int
	broken  bool
}

func (d *decoder) decodePools(blocks hcl.Blocks) {
	d.pools = map[string]*poolState{}
	seen := map[string]hcl.Range{}
	for _, blk := range blocks {
		name := blk.Labels[0]
		if !d.checkName(blk.LabelRanges[0], "node_pool", name, 40) || !d.unique(seen, "node_pool", name, blk.LabelRanges[0]) {
			continue
		}
		b := d.body(blk, poolSchema)
		pool := &plan.NodePool{Name: name, Count: b.integer("count", -1, 0, MaxPoolNodes)}
		// A pool whose count is wrong is still checked as if it had one
		// node, and actions using it are skipped rather than reported again.
		broken := pool.Count < 0
		checked := pool.Count
		if broken {
			pool.Count, checked = 0, 1
		}
		t := &nodeTemplate{pool: name, template: template{ctx: d.ctx, attrs: map[string]*lazyAttr{}}}
		for _, attr := range []string{"capacity", "allocatable", "labels", "annotations", "node_type"} {
			d.lazy(&t.template, b.attr(attr))
		}
		for _, tb := range b.blocks("taint") {
			tt := template{ctx: d.ctx, attrs: map[string]*lazyAttr{}}
			tc, diags := tb.Body.Content(taintSchema)
			d.diags = append(d.diags, diags...)
			for _, a := range tc.Attributes {
				d.lazy(&tt, a)
			}
			t.taints = append(t.taints, tt)
		}
		pool.Template = t
		pool.Conditions = d.decodeConditions(b.blocks("condition"))
		if hb := d.singleton(b.blocks("heartbeat"), "heartbeat"); hb != nil {
			hbb := d.body(hb, heartbeatSchema)
			pool.StatusInterval = hbb.duration("status_interval", 0, MinStatusInterval)
			if lease, ok := d.lease(hbb, "lease_duration", 0, d.plan.Cluster.Backend); ok {
				pool.LeaseDuration = lease
			}
			leases := plan.OwnLeases(d.plan.Cluster, d.plan.Pools)
			if own := pool.LeaseLabelValue(d.plan.Cluster) != ""; own && len(leases) >= MaxOwnLeases && !slices.Contains(leases, pool.Lease(d.plan.Cluster)) {
				hbb.fail("lease_duration", "Too many lease durations", "Each lease duration other than the cluster's node_lease_duration runs a KWOK controller of its own; a scenario may have %d, and earlier pools have %v.", MaxOwnLeases, leases)
				pool.LeaseDuration = 0
			}
		}
		d.checkInstances(checked, t.perItem(), func(i int) hcl.Diagnostics { _, diags := t.render(i); return diags })
		d.plan.Pools = append(d.plan.Pools, pool)
		d.pools[name] = &poolState{pool: pool, rng: blk.LabelRanges[0], broken: broken}
	}
}

// decodeConditions reads a pool's condition blocks. Ready is not among
// them: KWOK keeps it, and churn_nodes is how a scenario takes it away.
func (d *decoder) decodeConditions(blocks hcl.Blocks) []plan.NodeCondition {
	var out []plan.NodeCondition
	seen := map[string]hcl.Range{}
	for _, blk := range blocks {
		typ, rng := blk.Labels[0], blk.LabelRanges[0]
		switch {
		case typ == string(corev1.NodeReady):
			d.errorf(rng, "Ready is not a pool condition", "KWOK keeps nodes Ready; churn_nodes with mode = \"not-ready\" makes them NotReady.")
			continue
		case len(validation.IsQualifiedName(typ)) > 0:
			d.errorf(rng, "Invalid condition type", "%q: %s.", typ, strings.Join(validation.IsQualifiedName(typ), "; "))
			continue
		case !d.unique(seen, "condition", typ, rng):
			continue
		}
		b := d.body(blk, conditionSchema)
		c := plan.NodeCondition{
			Type:    typ,
			Status:  b.oneOf("status", "True", conditionStatuses),
			Reason:  b.str("reason", defaultReason(typ)),
			Message: b.str("message", ""),
		}
		if !conditionReason.MatchString(c.Reason) {
			b.fail("reason", "Invalid condition reason", "%q: a reason is one word of letters, digits and _ , :, starting with a letter, e.g. \"KubeletHasInsufficientMemory\".", c.Reason)
		}
		if len(c.Message) > 1024 {
			b.fail("message", "Condition message too long", "A condition's message has at most 1024 characters; got %d.", len(c.Message))
		}
		out = append(out, c)
	}
	return out
}

// defaultReason names a condition's reason after its type without prefix:
// KwokRunGPUHealthy for example.com/GPUHealthy.
func defaultReason(typ string) string {
	name := typ[strings.LastIndex(typ, "/")+1:]
	return "KwokRun" + strings.NewReplacer(".", "", "-", "").Replace(name)
}

// checkPoolsUsed warns about pools no step creates. After an error it says
// nothing: a misspelt pool in create_nodes would make the warning an echo.
func (d *decoder) checkPoolsUsed() {
	if d.diags.HasErrors() {
		return
	}
	for _, pool := range d.plan.Pools {
		if st := d.pools[pool.Name]; st.created == 0 && pool.Count > 0 && !st.broken {
			d.warnf(st.rng, "Node pool is never created",
				"No step has a create_nodes action for pool %q, so its nodes never exist.", pool.Name)
		}
	}
}

type nodeTemplate struct {
	pool string
	template
	taints []template

	// static holds the one rendering of a template that does not use
	// count.index: rendering and validating it again for every node of a
	// large pool would be most of the cost of creating it.
	static     *plan.NodeSpec
	staticOnce sync.Once
}

func (t *nodeTemplate) isStatic() bool {
	if t.perItem() {
		return false
	}
	for _, tt := range t.taints {
		if tt.perItem() {
			return false
		}
	}
	return true
}

var _ plan.NodeTemplate = (*nodeTemplate)(nil)

// Node renders node i of the pool.
func (t *nodeTemplate) Node(i int) (plan.NodeSpec, error) {
	if t.isStatic() {
		t.staticOnce.Do(func() {
			if spec, diags := t.render(0); !diags.HasErrors() {
				t.static = &spec
			}
		})
		if t.static != nil {
			return t.static.Clone(), nil
		}
	}
	spec, diags := t.render(i)
	if diags.HasErrors() {
		return spec, instanceError(fmt.Sprintf("pool %q node", t.pool), i, diags)
	}
	return spec, nil
}

// Source returns the templated attributes as written.
func (t *nodeTemplate) Source() map[string]string {
	out := map[string]string{}
	t.sources("", out)
	for i, tt := range t.taints {
		tt.sources(fmt.Sprintf("taint[%d].", i), out)
	}
	return out
}

func (t *nodeTemplate) render(i int) (plan.NodeSpec, hcl.Diagnostics) {
	var spec plan.NodeSpec
	var all hcl.Diagnostics
	add := func(diags hcl.Diagnostics) { all = append(all, diags...) }

	labels, expr, where, diags := t.stringMap("labels", i)
	add(diags)
	add(checkLabels(labels, expr, "labels", where))
	spec.Labels = labels

	nodeType, rng, where, diags := t.str("node_type", i, "")
	add(diags)
	if nodeType != "" {
		if msgs := validation.IsValidLabelValue(nodeType); len(msgs) > 0 {
			all = append(all, instanceDiag(rng, "Invalid node_type", where, "%q is not a label value: %s.", nodeType, strings.Join(msgs, "; ")))
		}
		// Labels written out win over the convenience.
		for _, k := range InstanceTypeLabels {
			if _, set := spec.Labels[k]; !set {
				if spec.Labels == nil {
					spec.Labels = map[string]string{}
				}
				spec.Labels[k] = nodeType
			}
		}
	}

	annotations, expr, where, diags := t.stringMap("annotations", i)
	add(diags)
	add(checkKeys(annotations, expr, "annotations", where))
	spec.Annotations = annotations

	capacity, expr, where, diags := t.stringMap("capacity", i)
	add(diags)
	add(checkResources(capacity, expr, "capacity", where))
	spec.Capacity = cloneMap(DefaultCapacity)
	for k, v := range capacity {
		spec.Capacity[k] = v
	}

	allocatable, expr, where, diags := t.stringMap("allocatable", i)
	add(diags)
	add(checkResources(allocatable, expr, "allocatable", where))
	spec.Allocatable = cloneMap(spec.Capacity)
	for k, v := range allocatable {
		spec.Allocatable[k] = v
	}

	for _, tt := range t.taints {
		var taintDiags hcl.Diagnostics
		key, keyRng, keyWhere, diags := tt.str("key", i, "")
		taintDiags = append(taintDiags, diags...)
		value, valRng, valWhere, diags := tt.str("value", i, "")
		taintDiags = append(taintDiags, diags...)
		effect, effRng, effWhere, diags := tt.str("effect", i, "")
		taintDiags = append(taintDiags, diags...)
		add(taintDiags)
		if taintDiags.HasErrors() {
			continue
		}
		if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
			all = append(all, instanceDiag(keyRng, "Invalid taint key", keyWhere, "%q: %s.", key, strings.Join(msgs, "; ")))
		}
		if msgs := validation.IsValidLabelValue(value); len(msgs) > 0 {
			all = append(all, instanceDiag(valRng, "Invalid taint value", valWhere, "%q: %s.", value, strings.Join(msgs, "; ")))
		}
		if !slices.Contains(taintEffects, effect) {
			all = append(all, instanceDiag(effRng, "Invalid taint effect", effWhere, "%q is not one of %s.%s", effect, listNames(taintEffects), suggest(effect, taintEffects)))
		}
		spec.Taints = append(spec.Taints, plan.Taint{Key: key, Value: value, Effect: effect})
	}
	return spec, all
}

// instanceDiag reports a problem with a rendered value; where names the
// instance when the value differs per instance.
func instanceDiag(rng hcl.Range, summary, where, detail string, args ...any) *hcl.Diagnostic {
	return diagf(hcl.DiagError, rng, summary, "%s%s", where, fmt.Sprintf(detail, args...))
}

// checkLabels applies Kubernetes' rules for label keys and values to the map
// that expr produced, pointing at the offending entry where it can.
func checkLabels(m map[string]string, expr hcl.Expression, what, where string) hcl.Diagnostics {
	diags := checkKeys(m, expr, what, where)
	for _, k := range mapKeys(m) {
		if msgs := validation.IsValidLabelValue(m[k]); len(msgs) > 0 {
			diags = append(diags, instanceDiag(itemRange(expr, k), fmt.Sprintf("Invalid value in %s", what), where, "%s = %q: %s.", k, m[k], strings.Join(msgs, "; ")))
		}
	}
	return diags
}

func checkKeys(m map[string]string, expr hcl.Expression, what, where string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, k := range mapKeys(m) {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			diags = append(diags, instanceDiag(keyRange(expr, k), fmt.Sprintf("Invalid key in %s", what), where, "%q: %s.", k, strings.Join(msgs, "; ")))
		}
	}
	return diags
}

// checkResources validates resource names and Kubernetes quantities.
func checkResources(m map[string]string, expr hcl.Expression, what, where string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, k := range mapKeys(m) {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			diags = append(diags, instanceDiag(keyRange(expr, k), fmt.Sprintf("Invalid resource name in %s", what), where, "%q: %s.", k, strings.Join(msgs, "; ")))
		}
		if _, err := resource.ParseQuantity(m[k]); err != nil {
			diags = append(diags, instanceDiag(itemRange(expr, k), fmt.Sprintf("Invalid quantity in %s", what), where,
				"%s = %q is not a Kubernetes quantity: write a number with an optional suffix, e.g. \"500m\", \"8\", \"256Gi\".", k, m[k]))
		}
	}
	return diags
}

// quantityMap evaluates an eager map of resources (pod requests and limits).
func (b *body) quantityMap(name string) map[string]string {
	m := b.stringMap(name)
	b.d.diags = append(b.d.diags, checkResources(m, b.expr(name), name, "")...)
	return m
}
