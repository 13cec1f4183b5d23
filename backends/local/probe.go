package local

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProbeNode is the node start-up creates to see KWOK at work; it is deleted
// once Ready.
const ProbeNode = "kwok-run-probe"

// probeNode creates a node and waits until KWOK reports it Ready: the only
// proof that the whole chain (apiserver, etcd, KWOK and its stages) works.
func (c *Cluster) probeNode(ctx context.Context) error {
	cs, err := c.Clientset()
	if err != nil {
		return err
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        ProbeNode,
			Labels:      map[string]string{"type": "kwok", "kwok-run/probe": "true"},
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
		n, err := cs.CoreV1().Nodes().Get(ctx, ProbeNode, metav1.GetOptions{})
		if err == nil && ready(n) {
			break
		}
		select {
		case <-ctx.Done():
			kwok := c.byName["kwok"]
			return fmt.Errorf("KWOK did not make the probe node Ready: %w\nthe end of %s:\n%s", ctx.Err(), kwok.logPath, indent(tail(kwok.logPath, 10)))
		case e := <-c.exits:
			return c.failure(e)
		case <-tick.C:
		}
	}
	if err := cs.CoreV1().Nodes().Delete(ctx, ProbeNode, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete the probe node: %w", err)
	}
	return nil
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
