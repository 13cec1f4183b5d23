// Package stages compiles a pod_lifecycle into KWOK Stage objects. It starts
// from the stages KWOK itself ships (embedded in its module), so pods look the
// way KWOK's users expect, and changes only delays, jitter and weights.
package stages

//lint:file-ignore SA1019 KWOK v0.8.0 ships its default stages in the Next.StatusTemplate form, and kwok-run keeps KWOK's own stages rather than rewriting them.

import (
	"fmt"
	"strings"
	"time"

	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

// LifecycleLabel marks every Stage kwok-run creates with the lifecycle it
// belongs to, so switching lifecycles can find and replace them.
const LifecycleLabel = "kwok-run/pod-lifecycle"

// weightScale turns a ratio into KWOK's integer weights with 0.01% precision.
const weightScale = 10000

// Compile returns the Stages for l: pod-ready, pod-complete and pod-delete,
// plus pod-failed when some Job pods are to fail (pods of other owners run
// until deleted, as they would on a kubelet).
func Compile(l *plan.PodLifecycle) ([]kwokv1alpha1.Stage, error) {
	ready, err := parse(podfast.DefaultPodReady)
	if err != nil {
		return nil, err
	}
	complete, err := parse(podfast.DefaultPodComplete)
	if err != nil {
		return nil, err
	}
	del, err := parse(podfast.DefaultPodDelete)
	if err != nil {
		return nil, err
	}
	failed, err := failedFrom(complete)
	if err != nil {
		return nil, err
	}

	jitter := l.Jitter.D()
	ready.Spec.Delay = delay(l.ReadyAfter.D(), jitter)
	complete.Spec.Delay = delay(l.CompleteAfter.D(), jitter)
	failed.Spec.Delay = delay(l.CompleteAfter.D(), jitter)
	del.Spec.Delay = delay(l.DeleteAfter.D(), jitter)

	out := []kwokv1alpha1.Stage{ready}
	// KWOK picks one of the stages whose selectors match by weight, so the
	// failing and the succeeding end of a Job pod share the same selector.
	switch failWeight := int(l.FailureRatio*weightScale + 0.5); {
	case failWeight == 0:
		out = append(out, complete)
	case failWeight == weightScale:
		out = append(out, failed)
	default:
		complete.Spec.Weight = weightScale - failWeight
		failed.Spec.Weight = failWeight
		out = append(out, complete, failed)
	}
	out = append(out, del)
	for i := range out {
		out[i].Labels = map[string]string{LifecycleLabel: l.Name}
	}
	return out, nil
}

func parse(doc string) (kwokv1alpha1.Stage, error) {
	var s kwokv1alpha1.Stage
	if err := yaml.UnmarshalStrict([]byte(doc), &s); err != nil {
		return s, fmt.Errorf("read KWOK's embedded stage: %w", err)
	}
	return s, nil
}

// failedFrom derives the failing end of a Job pod from KWOK's pod-complete
// stage: the same status with a non-zero exit code and phase Failed. It
// refuses to guess if a KWOK release words the template differently.
func failedFrom(complete kwokv1alpha1.Stage) (kwokv1alpha1.Stage, error) {
	failed := *complete.DeepCopy()
	failed.Name = "pod-failed"
	tmpl := failed.Spec.Next.StatusTemplate
	for _, r := range [][2]string{
		{"exitCode: 0", "exitCode: 1"},
		{"reason: Completed", "reason: Error"},
		{"phase: Succeeded", "phase: Failed"},
	} {
		if !strings.Contains(tmpl, r[0]) {
			return failed, fmt.Errorf("derive pod-failed from KWOK's pod-complete stage: its status template has no %q", r[0])
		}
		tmpl = strings.ReplaceAll(tmpl, r[0], r[1])
	}
	failed.Spec.Next.StatusTemplate = tmpl
	return failed, nil
}

// delay returns KWOK's delay for d plus up to jitter. KWOK draws uniformly
// between DurationMilliseconds and JitterDurationMilliseconds, so the latter is
// the upper bound, not the spread. A zero delay stays immediate: jitter
// spreads delays, it does not invent them.
func delay(d, jitter time.Duration) *kwokv1alpha1.StageDelay {
	if d == 0 {
		return nil
	}
	ms := d.Milliseconds()
	out := &kwokv1alpha1.StageDelay{DurationMilliseconds: &ms}
	if jitter > 0 {
		upper := (d + jitter).Milliseconds()
		out.JitterDurationMilliseconds = &upper
	}
	return out
}
