package scenario

import (
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Limits on rates and parallelism: beyond them a number is a typo, not a plan.
const (
	MaxRate        = 100_000
	MaxParallelism = 10_000
	// DefaultParallelism is the number of requests an action keeps in flight
	// unless it says otherwise.
	DefaultParallelism = 50
)

var stepSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "description"}, {Name: "duration"}, {Name: "timeout"}, {Name: "pod_lifecycle"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "create_nodes"}, {Type: "delete_nodes"}, {Type: "churn_nodes"},
		{Type: "create_pods", LabelNames: []string{"name"}},
		{Type: "scale_pods", LabelNames: []string{"wave"}},
		{Type: "delete_pods"}, {Type: "apply"},
		{Type: "create_objects", LabelNames: []string{"name"}},
		{Type: "update_objects", LabelNames: []string{"wave"}},
		{Type: "delete_objects", LabelNames: []string{"wave"}},
		{Type: "restart_component"}, {Type: "stop_component"},
		{Type: "wait", LabelNames: []string{"condition"}},
		{Type: "sleep"}, {Type: "exec"},
	},
}

// rateAttrs are accepted by every action that issues many requests.
var rateAttrs = []hcl.AttributeSchema{{Name: "rate"}, {Name: "burst"}, {Name: "parallelism"}}

func withRate(attrs ...hcl.AttributeSchema) []hcl.AttributeSchema {
	return append(attrs, rateAttrs...)
}

// waveState follows a create_pods wave for the actions that refer to it.
type waveState struct {
	create *plan.CreatePods
	step   string
}

func (d *decoder) decodeSteps(blocks hcl.Blocks, file hcl.Body) {
	d.steps = map[string]hcl.Range{}
	d.waves = map[string]*waveState{}
	d.objectWaves = map[string]*objectWave{}
	usedLifecycles := map[string]bool{}
	if len(blocks) == 0 {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No steps",
			Detail:   "A scenario needs at least one step \"<name>\" { } block saying what to do.",
			Subject:  startOf(file),
		})
	}
	for _, blk := range blocks {
		name := blk.Labels[0]
		if !d.checkName(blk.LabelRanges[0], "step", name, 63) || !d.unique(d.steps, "step", name, blk.LabelRanges[0]) {
			continue
		}
		b := d.body(blk, stepSchema)
		step := &plan.Step{
			Name:        name,
			Description: b.str("description", ""),
			Duration:    b.duration("duration", 0, 0),
			Timeout:     b.duration("timeout", 0, time.Second),
		}
		if step.Timeout > 0 && step.Duration > step.Timeout {
			b.fail("duration", "Step lasts longer than its timeout", "The step lasts %s but times out after %s.", step.Duration, step.Timeout)
		}
		if l := b.str("pod_lifecycle", ""); l != "" {
			if _, ok := d.lifecycles[l]; !ok {
				b.fail("pod_lifecycle", "Unknown pod_lifecycle", "There is no pod_lifecycle %q.%s", l, suggest(l, mapKeys(d.lifecycles)))
			} else {
				step.PodLifecycle = l
				usedLifecycles[l] = true
			}
		}
		for _, ab := range b.content.Blocks {
			if a := d.decodeAction(ab, step); a != nil {
				step.Actions = append(step.Actions, a)
			}
		}
		if len(b.content.Blocks) == 0 && step.Duration == 0 {
			d.errorf(blk.DefRange, "Empty step", "Step %q has no actions and no duration: give it something to do, or a duration to hold the cluster steady.", name)
		}
		d.plan.Steps = append(d.plan.Steps, step)
	}
	d.checkLifecyclesUsed(usedLifecycles)
	d.checkTimeline()
}

// checkTimeline compares what the steps need at least with the scenario's
// timeout: a scenario that cannot finish in time should not start.
func (d *decoder) checkTimeline() {
	var least time.Duration
	for _, s := range d.plan.Steps {
		least += s.MinDuration()
	}
	if t := d.plan.Scenario.Timeout.D(); t > 0 && least > t {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Scenario cannot finish within its timeout",
			Detail: fmt.Sprintf("The steps take at least %s (durations, sleeps, churn and creation at the asked rates), longer than the timeout of %s. Raise scenario.timeout or shorten the steps.",
				least.Round(time.Second), t),
			Subject: d.scenarioRange,
		})
	}
}

func (d *decoder) decodeAction(blk *hcl.Block, step *plan.Step) plan.Action {
	switch blk.Type {
	case "create_nodes":
		return d.decodeCreateNodes(blk)
	case "delete_nodes":
		return d.decodeDeleteNodes(blk)
	case "churn_nodes":
		return d.decodeChurnNodes(blk, step)
	case "create_pods":
		return d.decodeCreatePods(blk, step)
	case "scale_pods":
		return d.decodeScalePods(blk, step)
	case "delete_pods":
		return d.decodeDeletePods(blk)
	case "apply":
		return d.decodeApply(blk)
	case "create_objects":
		return d.decodeCreateObjects(blk, step)
	case "update_objects":
		return d.decodeUpdateObjects(blk, step)
	case "delete_objects":
		return d.decodeDeleteObjects(blk, step)
	case "restart_component":
		return d.decodeRestart(blk)
	case "stop_component":
		return d.decodeStop(blk)
	case "wait":
		return d.decodeWait(blk)
	case "sleep":
		return d.decodeSleep(blk)
	case "exec":
		return d.decodeExec(blk)
	}
	return nil
}

func (b *body) rate() plan.Rate {
	r := plan.Rate{
		// -1 stands for absent or already reported.
		PerSecond:   b.number("rate", -1, 0, MaxRate),
		Parallelism: b.integer("parallelism", DefaultParallelism, 1, MaxParallelism),
	}
	switch {
	case r.PerSecond == 0:
		b.fail("rate", "Invalid rate", "A rate of 0 would never finish; leave rate out to go as fast as parallelism allows.")
	case r.PerSecond < 0:
		r.PerSecond = 0
	}
	r.Burst = b.integer("burst", 1, 1, MaxRate)
	if b.has("burst") && !b.has("rate") {
		b.fail("burst", "burst without rate", "burst only shapes a rate; set rate too, or leave burst out.")
	}
	return r
}

// amount reads count or percent; exactly one unless def is given.
func (b *body) amount(limit int, def *plan.Amount) plan.Amount {
	hasCount, hasPercent := b.has("count"), b.has("percent")
	switch {
	case hasCount && hasPercent:
		b.fail("percent", "Both count and percent", "Say how many with count or with percent, not both.")
	case !hasCount && !hasPercent && def == nil:
		b.d.errorf(b.block.DefRange, "Missing count or percent", "Say how many with count (a number) or percent (of what exists when the action runs).")
	case hasCount:
		return plan.Amount{Count: b.integer("count", 0, 1, int64(limit))}
	case hasPercent:
		// -1 stands for already reported.
		switch p := b.number("percent", -1, 0, 100); {
		case p == 0:
			b.fail("percent", "percent out of range", "percent must be more than 0 and at most 100.")
		case p > 0:
			return plan.Amount{Percent: p}
		}
	}
	if def != nil {
		return *def
	}
	return plan.Amount{}
}

// pool resolves the pool attribute.
func (b *body) pool() *poolState {
	name := b.str("pool", "")
	if name == "" {
		return nil
	}
	p := b.d.pools[name]
	switch {
	case p == nil:
		b.fail("pool", "Unknown node_pool", "There is no node_pool %q.%s", name, suggest(name, mapKeys(b.d.pools)))
	case p.broken:
		return nil
	}
	if kwok, _ := b.d.plan.Cluster.Component(plan.Kwok); !kwok.Enabled {
		b.fail("pool", "Nodes without KWOK", "The cluster block disables kwok, and nothing else makes a simulated node Ready; enable kwok, or leave node actions out of this scenario.")
		return nil
	}
	return p
}

var createNodesSchema = &hcl.BodySchema{Attributes: withRate(hcl.AttributeSchema{Name: "pool", Required: true}, hcl.AttributeSchema{Name: "count"})}

func (d *decoder) decodeCreateNodes(blk *hcl.Block) plan.Action {
	b := d.body(blk, createNodesSchema)
	a := &plan.CreateNodes{Rate: b.rate()}
	p := b.pool()
	if p == nil {
		return nil
	}
	a.Pool = p.pool.Name
	left := p.pool.Count - p.created
	if left == 0 {
		d.errorf(blk.DefRange, "Node pool already created",
			"All %d nodes of pool %q are created by earlier create_nodes actions; raise the pool's count to create more.", p.pool.Count, a.Pool)
		return nil
	}
	a.Count = b.integer("count", left, 1, int64(MaxPoolNodes))
	if a.Count > left {
		b.fail("count", "More nodes than the pool has",
			"Pool %q has %d nodes and %d are created before this action, so %d are left; asked for %d.", a.Pool, p.pool.Count, p.created, left, a.Count)
		return nil
	}
	a.FirstIndex = p.created
	p.created += a.Count
	return a
}

var deleteNodesSchema = &hcl.BodySchema{Attributes: withRate(hcl.AttributeSchema{Name: "pool", Required: true}, hcl.AttributeSchema{Name: "count"}, hcl.AttributeSchema{Name: "percent"})}

func (d *decoder) decodeDeleteNodes(blk *hcl.Block) plan.Action {
	b := d.body(blk, deleteNodesSchema)
	a := &plan.DeleteNodes{Rate: b.rate()}
	p := b.pool()
	if p == nil {
		return nil
	}
	a.Pool = p.pool.Name
	a.Amount = b.amount(MaxPoolNodes, nil)
	return a
}

var churnNodesSchema = &hcl.BodySchema{Attributes: withRate(
	hcl.AttributeSchema{Name: "pool", Required: true}, hcl.AttributeSchema{Name: "count"}, hcl.AttributeSchema{Name: "percent"},
	hcl.AttributeSchema{Name: "every", Required: true}, hcl.AttributeSchema{Name: "mode"},
	hcl.AttributeSchema{Name: "recover_after"}, hcl.AttributeSchema{Name: "duration"},
)}

var churnModes = []string{plan.ChurnDelete, plan.ChurnReplace, plan.ChurnNotReady}

func (d *decoder) decodeChurnNodes(blk *hcl.Block, step *plan.Step) plan.Action {
	b := d.body(blk, churnNodesSchema)
	a := &plan.ChurnNodes{
		Rate:         b.rate(),
		Every:        b.duration("every", 0, time.Second),
		Mode:         b.oneOf("mode", plan.ChurnReplace, churnModes),
		RecoverAfter: b.duration("recover_after", 0, 0),
		For:          b.duration("duration", step.Duration.D(), time.Second),
	}
	p := b.pool()
	if p == nil {
		return nil
	}
	a.Pool = p.pool.Name
	a.Amount = b.amount(MaxPoolNodes, nil)
	if a.For == 0 {
		d.errorf(blk.DefRange, "Churn without an end", "churn_nodes repeats until its duration is over: set duration here or on the step.")
	} else if a.Every > a.For {
		b.fail("every", "Churn never repeats", "every (%s) is longer than the churn's duration (%s).", a.Every, a.For)
	}
	if b.has("recover_after") && a.Mode != plan.ChurnNotReady {
		b.fail("recover_after", "recover_after needs mode \"not-ready\"", "Only nodes made NotReady can recover; deleted and replaced nodes are gone.")
	}
	return a
}

var createPodsSchema = &hcl.BodySchema{
	Attributes: withRate(
		hcl.AttributeSchema{Name: "namespace"}, hcl.AttributeSchema{Name: "kind"},
		hcl.AttributeSchema{Name: "count", Required: true}, hcl.AttributeSchema{Name: "replicas"},
		hcl.AttributeSchema{Name: "image"}, hcl.AttributeSchema{Name: "requests"}, hcl.AttributeSchema{Name: "limits"},
		hcl.AttributeSchema{Name: "labels"}, hcl.AttributeSchema{Name: "annotations"}, hcl.AttributeSchema{Name: "node_selector"},
		hcl.AttributeSchema{Name: "scheduler_name"}, hcl.AttributeSchema{Name: "priority_class_name"},
	),
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "toleration"}, {Type: "node_affinity"}, {Type: "pod_affinity"}, {Type: "pod_anti_affinity"}, {Type: "topology_spread"},
	},
}

// DefaultImage is the image of every simulated container; KWOK never pulls it.
const DefaultImage = "registry.k8s.io/pause:3.10"

var podKinds = []string{plan.KindPod, plan.KindDeployment, plan.KindJob, plan.KindStatefulSet}

func (d *decoder) decodeCreatePods(blk *hcl.Block, step *plan.Step) plan.Action {
	name := blk.Labels[0]
	b := d.body(blk, createPodsSchema)
	a := &plan.CreatePods{
		Name:      name,
		Namespace: d.namespace(b, "namespace", "default"),
		Kind:      b.oneOf("kind", plan.KindPod, podKinds),
		Count:     b.integer("count", 0, 1, MaxWavePods),
		Rate:      b.rate(),
	}
	if !d.checkName(blk.LabelRanges[0], "create_pods", name, 40) {
		return nil
	}
	if w, ok := d.waves[name]; ok {
		d.errorf(blk.LabelRanges[0], fmt.Sprintf("Duplicate create_pods %q", name),
			"Step %q already creates a wave named %q; waves name their objects, so names must be unique.", w.step, name)
		return nil
	}
	if w, ok := d.objectWaves[name]; ok {
		d.errorf(blk.LabelRanges[0], fmt.Sprintf("Duplicate wave %q", name),
			"Step %q creates objects in a wave named %q; waves of pods and of objects share their names.", w.step, name)
		return nil
	}
	if a.Kind == plan.KindPod {
		if b.has("replicas") {
			b.fail("replicas", "replicas needs a workload kind", "Bare pods have no replicas; set kind to Deployment, Job or StatefulSet.")
		}
		a.Replicas = 1
	} else {
		a.Replicas = b.integer("replicas", max(a.Count, 1), 1, MaxWavePods)
	}
	if a.Count > 0 {
		a.Objects = (a.Count + a.Replicas - 1) / a.Replicas
	}

	t := &objectTemplate{wave: name, template: template{ctx: d.ctx, attrs: map[string]*lazyAttr{}}}
	for _, attr := range []string{"labels", "annotations", "node_selector"} {
		d.lazy(&t.template, b.attr(attr))
	}
	a.Template = t
	d.checkInstances(a.Objects, t.perItem(), func(i int) hcl.Diagnostics { _, diags := t.render(i); return diags })

	a.Pod = plan.PodSpec{
		Image:             b.str("image", DefaultImage),
		Requests:          b.quantityMap("requests"),
		Limits:            b.quantityMap("limits"),
		SchedulerName:     b.str("scheduler_name", ""),
		PriorityClassName: b.str("priority_class_name", ""),
	}
	d.checkRequestsWithinLimits(b, a.Pod.Requests, a.Pod.Limits)
	d.decodePodScheduling(b, &a.Pod)
	d.waves[name] = &waveState{create: a, step: step.Name}
	return a
}

// namespace reads a namespace name.
func (d *decoder) namespace(b *body, attr, def string) string {
	ns := b.str(attr, def)
	if ns != def && !d.checkName(b.rng(attr), "namespace", ns, 63) {
		return def
	}
	return ns
}

var scalePodsSchema = &hcl.BodySchema{Attributes: withRate(hcl.AttributeSchema{Name: "count", Required: true})}

func (d *decoder) decodeScalePods(blk *hcl.Block, step *plan.Step) plan.Action {
	b := d.body(blk, scalePodsSchema)
	count := b.integer("count", 0, 0, MaxWavePods)
	w := d.wave(blk.Labels[0], blk.LabelRanges[0], step)
	if w == nil {
		return nil
	}
	if k := w.create.Kind; k != plan.KindDeployment && k != plan.KindStatefulSet {
		d.errorf(blk.LabelRanges[0], "Wave cannot be scaled",
			"Wave %q is of kind %s; only Deployment and StatefulSet waves scale.", w.create.Name, k)
		return nil
	}
	return &plan.ScalePods{
		Wave:      w.create.Name,
		Namespace: w.create.Namespace,
		Kind:      w.create.Kind,
		Objects:   w.create.Objects,
		Count:     count,
		Rate:      b.rate(),
	}
}

// wave resolves a reference to a create_pods wave of an earlier step.
func (d *decoder) wave(name string, rng hcl.Range, step *plan.Step) *waveState {
	w := d.waves[name]
	switch {
	case w == nil:
		d.errorf(rng, "Unknown wave", "No earlier step has create_pods %q.%s", name, suggest(name, mapKeys(d.waves)))
		return nil
	case w.step == step.Name:
		d.createdAlongside(rng, name)
		return nil
	}
	return w
}

// createdAlongside reports an action on a wave created in its own step.
func (d *decoder) createdAlongside(rng hcl.Range, wave string) {
	d.errorf(rng, "Wave created in the same step",
		"Actions in a step run at the same time, so this one cannot act on wave %q created alongside it; move it to a later step.", wave)
}

var deletePodsSchema = &hcl.BodySchema{Attributes: withRate(
	hcl.AttributeSchema{Name: "namespace"}, hcl.AttributeSchema{Name: "selector"}, hcl.AttributeSchema{Name: "wave"},
	hcl.AttributeSchema{Name: "count"}, hcl.AttributeSchema{Name: "percent"},
)}

// WaveLabel is put on every object and pod of a create_pods wave, with the
// wave's name as value, so later actions and waits can select them.
const WaveLabel = "kwok-run/wave"

func (d *decoder) decodeDeletePods(blk *hcl.Block) plan.Action {
	b := d.body(blk, deletePodsSchema)
	a := &plan.DeletePods{Rate: b.rate(), Amount: b.amount(MaxWavePods, &plan.Amount{Percent: 100})}
	ns, sel, ok := d.podSelection(b)
	if !ok {
		return nil
	}
	if ns == "" {
		b.d.errorf(blk.DefRange, "Missing namespace", "Say which pods to delete with namespace (and selector) or wave.")
		return nil
	}
	a.Namespace, a.Selector = ns, sel
	return a
}

// podSelection reads namespace, selector and wave, the ways actions and waits
// pick pods; a wave stands for its namespace and its wave label.
func (d *decoder) podSelection(b *body) (ns string, sel map[string]string, ok bool) {
	ns = d.namespace(b, "namespace", "")
	sel = b.stringMap("selector")
	b.d.diags = append(b.d.diags, checkLabels(sel, b.expr("selector"), "selector", "")...)
	if !b.has("wave") {
		return ns, sel, true
	}
	if b.has("namespace") || b.has("selector") {
		b.fail("wave", "wave with namespace or selector", "A wave already says which pods: its namespace and the %s label. Use one or the other.", WaveLabel)
		return "", nil, false
	}
	name := b.str("wave", "")
	w := d.waves[name]
	if w == nil {
		b.fail("wave", "Unknown wave", "No earlier step has create_pods %q.%s", name, suggest(name, mapKeys(d.waves)))
		return "", nil, false
	}
	return w.create.Namespace, map[string]string{WaveLabel: name}, true
}

var restartSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "component", Required: true}, {Name: "signal"}, {Name: "down_for"}}}
var stopSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "component", Required: true}, {Name: "signal"}}}

var signals = []string{plan.SignalTerm, plan.SignalKill}

func (d *decoder) component(b *body) string {
	name := b.str("component", "")
	if name == "" {
		return ""
	}
	comp, ok := d.plan.Cluster.Component(name)
	switch {
	case !ok:
		b.fail("component", "Unknown component", "%q is not a component; they are %s.%s", name, listNames(plan.ComponentNames), suggest(name, plan.ComponentNames))
		return ""
	case !comp.Enabled:
		b.fail("component", "Component is disabled", "The cluster block disables %s, so there is nothing to restart or stop.", name)
		return ""
	case d.plan.Cluster.Backend == plan.BackendKubeconfig && name != plan.Kwok:
		b.fail("component", "Component of the existing cluster",
			"With backend = \"kubeconfig\" kwok-run runs only KWOK; it cannot restart or stop the cluster's own %s.", name)
		return ""
	}
	return name
}

func (d *decoder) decodeRestart(blk *hcl.Block) plan.Action {
	b := d.body(blk, restartSchema)
	a := &plan.RestartComponent{
		Component: d.component(b),
		Signal:    b.oneOf("signal", plan.SignalTerm, signals),
		DownFor:   b.duration("down_for", 0, 0),
	}
	if a.Component == "" {
		return nil
	}
	return a
}

func (d *decoder) decodeStop(blk *hcl.Block) plan.Action {
	b := d.body(blk, stopSchema)
	a := &plan.StopComponent{Component: d.component(b), Signal: b.oneOf("signal", plan.SignalKill, signals)}
	if a.Component == "" {
		return nil
	}
	return a
}

var waitSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "pool"}, {Name: "namespace"}, {Name: "selector"}, {Name: "wave"},
	{Name: "count"}, {Name: "kind"}, {Name: "api_version"}, {Name: "timeout"},
}}

// waitAttrs says which attributes each condition takes besides timeout.
var waitAttrs = map[string][]string{
	plan.WaitNodesReady:           {"pool", "count"},
	plan.WaitPodsScheduled:        {"namespace", "selector", "wave", "count"},
	plan.WaitPodsRunning:          {"namespace", "selector", "wave", "count"},
	plan.WaitPodsSucceeded:        {"namespace", "selector", "wave", "count"},
	plan.WaitPodsDeleted:          {"namespace", "selector", "wave"},
	plan.WaitDeploymentsAvailable: {"namespace", "selector", "wave", "count"},
	plan.WaitJobsComplete:         {"namespace", "selector", "wave", "count"},
	plan.WaitObjects:              {"kind", "api_version", "namespace", "selector", "count"},
}

func (d *decoder) decodeWait(blk *hcl.Block) plan.Action {
	cond := blk.Labels[0]
	b := d.body(blk, waitSchema)
	allowed, ok := waitAttrs[cond]
	if !ok {
		d.errorf(blk.LabelRanges[0], "Unknown wait condition", "%q is not one of %s.%s", cond, listNames(plan.WaitConditions), suggest(cond, plan.WaitConditions))
		return nil
	}
	for name := range b.content.Attributes {
		if name != "timeout" && !slices.Contains(allowed, name) {
			b.fail(name, fmt.Sprintf("%s does not apply to %s", name, cond), "wait %q takes %s and timeout.", cond, listNames(allowed))
			return nil
		}
	}
	a := &plan.Wait{For: cond, Timeout: b.duration("timeout", 0, time.Second)}
	if cond == plan.WaitNodesReady {
		if p := b.pool(); p != nil {
			a.Pool = p.pool.Name
		}
	} else {
		ns, sel, ok := d.podSelection(b)
		if !ok {
			return nil
		}
		a.Namespace, a.Selector = ns, sel
	}
	if cond == plan.WaitObjects {
		a.Kind = b.str("kind", "")
		a.APIVersion = b.str("api_version", "v1")
		if a.Kind == "" {
			d.errorf(blk.DefRange, "Missing kind", "wait \"objects\" needs the kind of object to count, e.g. kind = \"ConfigMap\".")
		}
		if !b.has("count") {
			d.errorf(blk.DefRange, "Missing count", "wait \"objects\" needs count: how many objects of the kind to wait for.")
		}
	}
	a.Count = b.integer("count", 0, 1, MaxWavePods)
	return a
}

var sleepSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "duration", Required: true}}}

func (d *decoder) decodeSleep(blk *hcl.Block) plan.Action {
	b := d.body(blk, sleepSchema)
	return &plan.Sleep{For: b.duration("duration", 0, time.Millisecond)}
}

var execSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "command", Required: true}, {Name: "env"}, {Name: "dir"}, {Name: "timeout"}, {Name: "background"},
}}

func (d *decoder) decodeExec(blk *hcl.Block) plan.Action {
	if !d.opts.AllowExec {
		d.errorf(blk.DefRange, "exec needs --allow-exec",
			"This scenario runs commands on this machine. Run it with --allow-exec if you trust the file and what it runs.")
	}
	b := d.body(blk, execSchema)
	a := &plan.Exec{
		Command:    b.stringList("command"),
		Env:        b.stringMap("env"),
		Dir:        b.str("dir", ""),
		Timeout:    b.duration("timeout", 0, time.Second),
		Background: b.boolean("background", false),
	}
	if b.has("command") && len(a.Command) == 0 {
		b.fail("command", "Empty command", "command is the program and its arguments, e.g. [\"kubectl\", \"get\", \"nodes\"].")
	}
	if a.Background && b.has("timeout") {
		b.fail("timeout", "timeout on a background command", "A background command runs until the end of the run; leave timeout out.")
	}
	for k := range a.Env {
		if !envNamePattern.MatchString(k) {
			b.fail("env", "Invalid environment variable name", "%q is not a variable name: letters, digits and _, not starting with a digit.", k)
		}
	}
	return a
}
