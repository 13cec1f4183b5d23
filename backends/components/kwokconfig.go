package components

import (
	"bytes"
	"fmt"

	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	nodelease "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
	kwokconfig "sigs.k8s.io/kwok/pkg/apis/config/v1alpha1"
	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"
	"sigs.k8s.io/yaml"
)

// KwokConfig is the file given to KWOK with --config: its configuration and
// the stages it plays. Nodes get KWOK's own initialize and lease-heartbeat
// stages; pods get podStages (a scenario's initial pod_lifecycle), or KWOK's
// own fast stages when there are none.
func KwokConfig(podStages []kwokv1alpha1.Stage) ([]byte, error) {
	conf := kwokconfig.KwokConfiguration{}
	conf.APIVersion = kwokconfig.GroupVersion.String()
	conf.Kind = kwokconfig.KwokConfigurationKind
	conf.Name = "kwok-run"
	// KWOK fills in its defaults only for configurations it makes itself.
	kwokconfig.SetObjectDefaults_KwokConfiguration(&conf)

	var docs []any
	docs = append(docs, conf)
	for _, raw := range []string{nodefast.DefaultNodeInit, nodelease.DefaultNodeHeartbeatWithLease} {
		docs = append(docs, rawYAML(raw))
	}
	if len(podStages) > 0 {
		for _, s := range podStages {
			docs = append(docs, s)
		}
	} else {
		for _, raw := range []string{podfast.DefaultPodReady, podfast.DefaultPodComplete, podfast.DefaultPodDelete} {
			docs = append(docs, rawYAML(raw))
		}
	}
	var out bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			out.WriteString("---\n")
		}
		b, err := marshal(d)
		if err != nil {
			return nil, fmt.Errorf("KWOK configuration: %w", err)
		}
		out.Write(b)
	}
	return out.Bytes(), nil
}

// rawYAML is a stage as KWOK ships it.
type rawYAML string

func marshal(d any) ([]byte, error) {
	if raw, ok := d.(rawYAML); ok {
		// Parse to check it, but keep KWOK's own text.
		var s kwokv1alpha1.Stage
		if err := yaml.UnmarshalStrict([]byte(raw), &s); err != nil {
			return nil, err
		}
		return []byte(raw), nil
	}
	return yaml.Marshal(d)
}
