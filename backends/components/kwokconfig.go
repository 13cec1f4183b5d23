package components

//lint:file-ignore SA1019 KWOK v0.8.0 ships its stages in the Next.StatusTemplate form, and kwok-run keeps to it.

import (
	"fmt"

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
// NotReadyLabel NotReady, and podStages (a scenario's initial pod_lifecycle),
// or KWOK's own fast pod stages when there are none.
func Stages(podStages []kwokv1alpha1.Stage) ([]kwokv1alpha1.Stage, error) {
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
	out := []kwokv1alpha1.Stage{initialize, heartbeat, notReady()}
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

func parse(raw string) (kwokv1alpha1.Stage, error) {
	var s kwokv1alpha1.Stage
	if err := yaml.UnmarshalStrict([]byte(raw), &s); err != nil {
		return s, fmt.Errorf("read KWOK's embedded stage: %w", err)
	}
	return s, nil
}
