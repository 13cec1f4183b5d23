package components

//lint:file-ignore SA1019 KWOK v0.8.0 ships its stages in the Next.StatusTemplate form, and kwok-run keeps to it.

import (
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/kwok/kustomize/crd"
	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	nodelease "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
	kwokconfig "sigs.k8s.io/kwok/pkg/apis/config/v1alpha1"
	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/kwok-run/kwok-run/scenario/plan"
	"github.com/kwok-run/kwok-run/scenario/stages"
)

// StageCRD is KWOK's Stage CustomResourceDefinition. KWOK reads its stages
// as objects of the cluster, so a scenario can switch pod lifecycles mid-run
// by replacing them.
var StageCRD = crd.Stage

// KwokConfig is the file given to KWOK with --config: KWOK's defaults, the
// cluster's parallelism, and stages taken from the cluster rather than from
// the file.
func KwokConfig(c plan.Cluster) ([]byte, error) {
	conf := kwokconfig.KwokConfiguration{}
	conf.APIVersion = kwokconfig.GroupVersion.String()
	conf.Kind = kwokconfig.KwokConfigurationKind
	conf.Name = "kwok-run"
	// KWOK fills in its defaults only for configurations it makes itself.
	kwokconfig.SetObjectDefaults_KwokConfiguration(&conf)
	conf.Options.EnableCRDs = []string{kwokv1alpha1.StageKind}
	if c.KwokParallelism > 0 {
		n := uint(c.KwokParallelism)
		conf.Options.NodePlayStageParallelism = n
		conf.Options.PodPlayStageParallelism = n
		conf.Options.NodeLeaseParallelism = n
	}
	return yaml.Marshal(conf)
}

// NodeStagesLabel marks the node stages kwok-run installs, beside the pod
// stages that carry stages.LifecycleLabel.
const NodeStagesLabel = "kwok-run/node-stages"

// NotReadyLabel on a node makes it NotReady (churn_nodes mode "not-ready");
// removing the label makes it Ready again.
const NotReadyLabel = "kwok-run/not-ready"

// Stages are the Stage objects a cluster starts with: KWOK's own node
// stages (initialize and lease heartbeat), a stage that turns a node with
// NotReadyLabel NotReady, a pair of node stages for each pool with its own
// conditions or status interval, and podStages (a scenario's initial
// pod_lifecycle), or KWOK's own fast pod stages when there are none.
func Stages(podStages []kwokv1alpha1.Stage, pools []plan.NodePool) ([]kwokv1alpha1.Stage, error) {
	initialize, err := parse(nodefast.DefaultNodeInit)
	if err != nil {
		return nil, err
	}
	// Without this, KWOK would initialize a NotReady node back to Ready at
	// once; with it, removing the label is what brings the node back.
	initialize.Spec.Selector.MatchExpressions = append(initialize.Spec.Selector.MatchExpressions, kwokv1alpha1.MatchExpression{
		Key: `.metadata.labels["` + NotReadyLabel + `"]`, Operator: kwokv1alpha1.SelectorOpDoesNotExist,
	})
	heartbeat, err := parse(nodelease.DefaultNodeHeartbeatWithLease)
	if err != nil {
		return nil, err
	}
	// KWOK's stages write a healthy kubelet's conditions: a pool with its
	// own has its own stages.
	ownHeartbeat := kwokv1alpha1.MatchExpression{Key: `.metadata.labels["` + plan.HeartbeatLabel + `"]`, Operator: kwokv1alpha1.SelectorOpDoesNotExist}
	for _, s := range []*kwokv1alpha1.Stage{&initialize, &heartbeat} {
		s.Spec.Selector.MatchExpressions = append(s.Spec.Selector.MatchExpressions, ownHeartbeat)
	}
	out := []kwokv1alpha1.Stage{initialize, heartbeat, notReady()}
	for i := range pools {
		if pools[i].OwnHeartbeat() {
			out = append(out, poolStages(&pools[i])...)
		}
	}
	for i := range out {
		out[i].Labels = map[string]string{NodeStagesLabel: "true"}
	}
	if len(podStages) > 0 {
		return append(out, podStages...), nil
	}
	for _, raw := range []string{podfast.DefaultPodReady, podfast.DefaultPodComplete, podfast.DefaultPodDelete} {
		s, err := parse(raw)
		if err != nil {
			return nil, err
		}
		s.Labels = map[string]string{stages.LifecycleLabel: "kwok-default"}
		out = append(out, s)
	}
	return out, nil
}

// notReady turns a Ready node that carries NotReadyLabel NotReady. Its weight
// beats the heartbeat stage, which also matches a Ready node; once the node
// is NotReady neither matches, so it stays so until the label goes.
func notReady() kwokv1alpha1.Stage {
	s := kwokv1alpha1.Stage{}
	s.APIVersion = kwokv1alpha1.GroupVersion.String()
	s.Kind = kwokv1alpha1.StageKind
	s.Name = "node-not-ready"
	s.Spec = kwokv1alpha1.StageSpec{
		ResourceRef: kwokv1alpha1.StageResourceRef{APIGroup: "v1", Kind: "Node"},
		Selector: &kwokv1alpha1.StageSelector{MatchExpressions: []kwokv1alpha1.MatchExpression{
			{Key: `.metadata.labels["` + NotReadyLabel + `"]`, Operator: kwokv1alpha1.SelectorOpIn, Values: []string{"true"}},
			{Key: `.status.conditions.[] | select( .type == "Ready" ) | .status`, Operator: kwokv1alpha1.SelectorOpIn, Values: []string{"True"}},
		}},
		Weight: 10000,
		Next: &kwokv1alpha1.StageNext{StatusTemplate: `{{ $now := Now }}
conditions:
- type: Ready
  status: "False"
  reason: KwokRunNotReady
  message: made NotReady by kwok-run churn_nodes
  lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $now | Quote }}
`},
	}
	return s
}

// KWOK's heartbeat rewrites a node's status every ten minutes and some
// seconds, as its own heartbeat stage does.
const (
	heartbeatEvery  = 600_000
	heartbeatJitter = 610_000
)

// poolStages make the pool's nodes Ready again after churn and keep their
// status fresh, with the pool's conditions rather than a healthy kubelet's.
func poolStages(p *plan.NodePool) []kwokv1alpha1.Stage {
	status := conditionsTemplate(p.NodeConditions())
	ofPool := kwokv1alpha1.MatchExpression{Key: `.metadata.labels["` + plan.HeartbeatLabel + `"]`, Operator: kwokv1alpha1.SelectorOpIn, Values: []string{p.Name}}
	ready := `.status.conditions.[] | select( .type == "Ready" ) | .status`

	initialize := stage("node-initialize-"+p.Name, "Node", status, []kwokv1alpha1.MatchExpression{
		ofPool,
		{Key: ready, Operator: kwokv1alpha1.SelectorOpNotIn, Values: []string{"True"}},
		{Key: `.metadata.labels["` + NotReadyLabel + `"]`, Operator: kwokv1alpha1.SelectorOpDoesNotExist},
	})
	heartbeat := stage("node-heartbeat-"+p.Name, "Node", status, []kwokv1alpha1.MatchExpression{
		ofPool,
		{Key: ".status.phase", Operator: kwokv1alpha1.SelectorOpIn, Values: []string{"Running"}},
		{Key: ready, Operator: kwokv1alpha1.SelectorOpIn, Values: []string{"True"}},
	})
	every, jitter := int64(heartbeatEvery), int64(heartbeatJitter)
	if d := p.StatusInterval.D(); d > 0 {
		every = d.Milliseconds()
		jitter = every + every/60
	}
	heartbeat.Spec.Delay = &kwokv1alpha1.StageDelay{DurationMilliseconds: &every, JitterDurationMilliseconds: &jitter}
	for _, s := range []*kwokv1alpha1.Stage{&initialize, &heartbeat} {
		s.Labels = map[string]string{NodeStagesLabel: "true"}
	}
	return []kwokv1alpha1.Stage{initialize, heartbeat}
}

func stage(name, kind, statusTemplate string, match []kwokv1alpha1.MatchExpression) kwokv1alpha1.Stage {
	s := kwokv1alpha1.Stage{}
	s.APIVersion = kwokv1alpha1.GroupVersion.String()
	s.Kind = kwokv1alpha1.StageKind
	s.Name = name
	s.Spec = kwokv1alpha1.StageSpec{
		ResourceRef: kwokv1alpha1.StageResourceRef{APIGroup: "v1", Kind: kind},
		Selector:    &kwokv1alpha1.StageSelector{MatchExpressions: match},
		Next:        &kwokv1alpha1.StageNext{StatusTemplate: statusTemplate},
	}
	return s
}

// conditionsTemplate is a KWOK status template that writes conds, fresh.
// Their text goes in as Go string constants, so that nothing in a message
// can be read as template.
func conditionsTemplate(conds []plan.NodeCondition) string {
	var b strings.Builder
	b.WriteString("{{ $now := Now }}\n{{ $since := or .metadata.creationTimestamp $now }}\nconditions:\n")
	for _, c := range conds {
		fmt.Fprintf(&b, "- type: {{ %s | Quote }}\n  status: {{ %s | Quote }}\n  reason: {{ %s | Quote }}\n  message: {{ %s | Quote }}\n",
			strconv.Quote(c.Type), strconv.Quote(c.Status), strconv.Quote(c.Reason), strconv.Quote(c.Message))
		b.WriteString("  lastHeartbeatTime: {{ $now | Quote }}\n  lastTransitionTime: {{ $since | Quote }}\n")
	}
	return b.String()
}

func parse(raw string) (kwokv1alpha1.Stage, error) {
	var s kwokv1alpha1.Stage
	if err := yaml.UnmarshalStrict([]byte(raw), &s); err != nil {
		return s, fmt.Errorf("read KWOK's embedded stage: %w", err)
	}
	return s, nil
}
