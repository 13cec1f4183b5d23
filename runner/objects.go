package runner

import (
	"fmt"
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Labels kwok-run puts on what it creates.
const (
	PoolLabel   = plan.PoolLabel
	ObjectLabel = "kwok-run/object"
)

// node builds the Node for index i of the pool-th pool, named name, in
// cluster c.
func node(pool *plan.NodePool, ordinal, i int, name string, c plan.Cluster) (*corev1.Node, error) {
	spec, err := pool.Template.Node(i)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{
		"kubernetes.io/hostname": name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     "amd64",
		"type":                   "kwok",
		PoolLabel:                pool.Name,
	}
	maps.Copy(labels, spec.Labels)
	// After the scenario's labels: a KWOK controller that manages one shard
	// finds its nodes by it, and a node without it would never be Ready.
	labels[plan.ShardLabel] = pool.Shard(i)
	if pool.OwnHeartbeat() {
		labels[plan.HeartbeatLabel] = pool.Name
	}
	if lease := pool.LeaseLabelValue(c); lease != "" {
		labels[plan.LeaseLabel] = lease
	}
	annotations := map[string]string{"kwok.x-k8s.io/node": "fake"}
	maps.Copy(annotations, spec.Annotations)
	capacity, err := resources(spec.Capacity)
	if err != nil {
		return nil, err
	}
	allocatable, err := resources(spec.Allocatable)
	if err != nil {
		return nil, err
	}
	// The node registers the way a kubelet does: with its whole status,
	// Ready. KWOK's initialisation would patch every new node once more,
	// queued behind its few workers, and that queue, not Kubernetes, set how
	// fast a pool got Ready; KWOK still renews each node's lease, and still
	// makes a node Ready again after churn_nodes made it NotReady.
	now := metav1.Now()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations},
		Status: corev1.NodeStatus{
			Phase:       corev1.NodeRunning,
			Capacity:    capacity,
			Allocatable: allocatable,
			Conditions:  registeredConditions(now, pool),
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: nodeIP(ordinal, i)},
				{Type: corev1.NodeHostName, Address: name},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
			NodeInfo:        corev1.NodeSystemInfo{KubeletVersion: c.Kubernetes, OperatingSystem: "linux", Architecture: "amd64"},
		},
	}
	for _, t := range spec.Taints {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
	}
	n.Spec.Taints = append(n.Spec.Taints, conditionTaints(pool.Conditions, spec.Taints)...)
	return n, nil
}

// conditionTaint is the taint the node lifecycle controller puts on a node
// whose condition is True, so that the scheduler avoids it.
var conditionTaint = map[string]string{
	string(corev1.NodeMemoryPressure):     corev1.TaintNodeMemoryPressure,
	string(corev1.NodeDiskPressure):       corev1.TaintNodeDiskPressure,
	string(corev1.NodePIDPressure):        corev1.TaintNodePIDPressure,
	string(corev1.NodeNetworkUnavailable): corev1.TaintNodeNetworkUnavailable,
}

// conditionTaints are the taints the node lifecycle controller would add for
// conds. The node registers with them, as it would be a moment later:
// otherwise the scheduler could place pods in that moment.
func conditionTaints(conds []plan.NodeCondition, have []plan.Taint) []corev1.Taint {
	var out []corev1.Taint
	for _, c := range conds {
		key, ok := conditionTaint[c.Type]
		if !ok || c.Status != string(corev1.ConditionTrue) || slices.ContainsFunc(have, func(t plan.Taint) bool { return t.Key == key }) {
			continue
		}
		out = append(out, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
	}
	return out
}

// registeredConditions are the pool's healthy conditions, as the node
// registers them.
func registeredConditions(now metav1.Time, pool *plan.NodePool) []corev1.NodeCondition {
	var out []corev1.NodeCondition
	for _, c := range pool.NodeConditions() {
		out = append(out, corev1.NodeCondition{
			Type: corev1.NodeConditionType(c.Type), Status: corev1.ConditionStatus(c.Status),
			Reason: c.Reason, Message: c.Message, LastHeartbeatTime: now, LastTransitionTime: now,
		})
	}
	return out
}

// nodeIP is a distinct address for node i of the p-th pool in 10.128.0.0/9
// (eight pools of a million), so that what reads node addresses sees no
// clashes.
func nodeIP(p, i int) string {
	v := uint32(p)<<20 | uint32(i)&(1<<20-1)
	return fmt.Sprintf("10.%d.%d.%d", 128|(v>>16)&127, (v>>8)&255, v&255)
}

func resources(m map[string]string) (corev1.ResourceList, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(corev1.ResourceList, len(m))
	for k, v := range m {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("%s = %q: %w", k, v, err)
		}
		out[corev1.ResourceName(k)] = q
	}
	return out, nil
}

// objectName names object i of a wave.
func objectName(wave string, i int) string { return fmt.Sprintf("%s-%d", wave, i) }

// podTemplate is the pod of object i of a wave: the wave label on every pod,
// the object label for workload selectors.
func podTemplate(c *plan.CreatePods, i int) (corev1.PodTemplateSpec, error) {
	meta, err := c.Template.Object(i)
	if err != nil {
		return corev1.PodTemplateSpec{}, err
	}
	labels := map[string]string{scenario.WaveLabel: c.Name, ObjectLabel: objectName(c.Name, i)}
	maps.Copy(labels, meta.Labels)
	requests, err := resources(c.Pod.Requests)
	if err != nil {
		return corev1.PodTemplateSpec{}, err
	}
	limits, err := resources(c.Pod.Limits)
	if err != nil {
		return corev1.PodTemplateSpec{}, err
	}
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "app", Image: c.Pod.Image,
			Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits},
		}},
		NodeSelector:      meta.NodeSelector,
		SchedulerName:     c.Pod.SchedulerName,
		PriorityClassName: c.Pod.PriorityClassName,
		// Nothing runs in a KWOK pod: no reason to wait when deleting one.
		TerminationGracePeriodSeconds: ptr.To[int64](0),
	}
	if c.Kind == plan.KindJob {
		spec.RestartPolicy = corev1.RestartPolicyNever
	}
	for _, t := range c.Pod.Tolerations {
		spec.Tolerations = append(spec.Tolerations, corev1.Toleration{
			Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value,
			Effect: corev1.TaintEffect(t.Effect), TolerationSeconds: t.Seconds,
		})
	}
	spec.Affinity = affinity(c.Pod)
	for _, s := range c.Pod.TopologySpread {
		spec.TopologySpreadConstraints = append(spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
			MaxSkew: int32(s.MaxSkew), TopologyKey: s.TopologyKey,
			WhenUnsatisfiable: corev1.UnsatisfiableConstraintAction(s.WhenUnsatisfiable),
			LabelSelector:     &metav1.LabelSelector{MatchLabels: s.MatchLabels},
		})
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: meta.Annotations},
		Spec:       spec,
	}, nil
}

func affinity(p plan.PodSpec) *corev1.Affinity {
	if len(p.NodeAffinity)+len(p.PodAffinity)+len(p.PodAntiAffinity) == 0 {
		return nil
	}
	a := &corev1.Affinity{}
	var required []corev1.NodeSelectorRequirement
	for _, n := range p.NodeAffinity {
		req := corev1.NodeSelectorRequirement{Key: n.Key, Operator: corev1.NodeSelectorOperator(n.Operator), Values: n.Values}
		if a.NodeAffinity == nil {
			a.NodeAffinity = &corev1.NodeAffinity{}
		}
		if n.Required {
			required = append(required, req)
			continue
		}
		a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.PreferredSchedulingTerm{Weight: int32(n.Weight), Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req}}})
	}
	if len(required) > 0 {
		a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: required}},
		}
	}
	terms := func(src []plan.PodAffinity) (req []corev1.PodAffinityTerm, pref []corev1.WeightedPodAffinityTerm) {
		for _, t := range src {
			term := corev1.PodAffinityTerm{TopologyKey: t.TopologyKey, LabelSelector: &metav1.LabelSelector{MatchLabels: t.MatchLabels}}
			if t.Required {
				req = append(req, term)
			} else {
				pref = append(pref, corev1.WeightedPodAffinityTerm{Weight: int32(t.Weight), PodAffinityTerm: term})
			}
		}
		return req, pref
	}
	if len(p.PodAffinity) > 0 {
		req, pref := terms(p.PodAffinity)
		a.PodAffinity = &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: req, PreferredDuringSchedulingIgnoredDuringExecution: pref}
	}
	if len(p.PodAntiAffinity) > 0 {
		req, pref := terms(p.PodAntiAffinity)
		a.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: req, PreferredDuringSchedulingIgnoredDuringExecution: pref}
	}
	return a
}

// workload builds object i of a wave: a Pod, or a Deployment, Job or
// StatefulSet owning its share of the wave's pods.
func workload(c *plan.CreatePods, i int) (any, error) {
	tmpl, err := podTemplate(c, i)
	if err != nil {
		return nil, err
	}
	name := objectName(c.Name, i)
	meta := metav1.ObjectMeta{Name: name, Namespace: c.Namespace, Labels: tmpl.Labels, Annotations: tmpl.Annotations}
	replicas := int32(c.ReplicasOf(i))
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{scenario.WaveLabel: c.Name, ObjectLabel: name}}
	switch c.Kind {
	case plan.KindDeployment:
		return &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: selector, Template: tmpl}}, nil
	case plan.KindStatefulSet:
		return &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas, Selector: selector, Template: tmpl,
			// Pods start together, as a Deployment's do; the default starts
			// them one at a time, each waiting for the last to be Ready.
			PodManagementPolicy: appsv1.ParallelPodManagement,
		}}, nil
	case plan.KindJob:
		// A pod_lifecycle's failure_ratio fails pods on purpose: with
		// Kubernetes' default backoffLimit of 6, 5% failing pods fail one
		// Job of 100 pods in four. Such a Job fails only if as many pods
		// fail as it must complete.
		return &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{
			Completions: &replicas, Parallelism: &replicas, Template: tmpl,
			BackoffLimit: ptr.To(replicas),
		}}, nil
	}
	return &corev1.Pod{ObjectMeta: meta, Spec: tmpl.Spec}, nil
}
