package bootstrap

import (
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ProbeNode is the node start-up creates to see KWOK at work; it is deleted
// once Ready.
const ProbeNode = "kwok-run-probe"

// Probe creates a node and waits until KWOK reports it Ready: the only
// proof that the whole chain (apiserver, etcd, KWOK and its stages) works.
// It gives up when ctx ends or when abort delivers a component's failure.
// name tells probes apart on a cluster that several runs share.
func Probe(ctx context.Context, cs kubernetes.Interface, name string, abort <-chan error) error {
	return ProbeLabelled(ctx, cs, name, nil, abort)
}

// ProbeLabelled is Probe with labels of the caller's on the node as well: a
// KWOK controller that manages only the nodes of a selector sees a probe
// that carries it.
func ProbeLabelled(ctx context.Context, cs kubernetes.Interface, name string, labels map[string]string, abort <-chan error) error {
	all := map[string]string{"type": "kwok", "kwok-run/probe": "true"}
	maps.Copy(all, labels)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      all,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		},
		Spec: corev1.NodeSpec{
			// Nothing of a scenario lands here in the moment it exists.
			Taints: []corev1.Taint{{Key: "kwok-run/probe", Effect: corev1.TaintEffectNoSchedule}},
		},
		Status: corev1.NodeStatus{
			Capacity: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")},
		},
	}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create the probe node: %w", err)
	}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil && Ready(n) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("KWOK did not make the probe node Ready: %w", ctx.Err())
		case err := <-abort:
			return err
		case <-tick.C:
		}
	}
	if err := cs.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete the probe node: %w", err)
	}
	return nil
}

// Ready reports whether a node's Ready condition is True.
func Ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
