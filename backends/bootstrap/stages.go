// Package bootstrap is what every backend does to a fresh control plane
// before a scenario may use it: KWOK's stages installed, and a probe node
// made Ready by KWOK.
package bootstrap

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/kwok-run/kwok-run/backends/components"
)

var (
	crdResource   = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	stageResource = kwokv1alpha1.GroupVersion.WithResource("stages")
)

// InstallStages creates KWOK's Stage CRD and the stages the cluster starts
// with, before KWOK starts: KWOK then reads them from the cluster, and a
// scenario can replace pod stages while it runs. It reports whether it
// created the CRD, which an existing cluster may already have. An apiserver
// that is still starting is tried again until ctx ends.
func InstallStages(ctx context.Context, cfg *rest.Config, stages []kwokv1alpha1.Stage) (createdCRD bool, err error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return false, err
	}
	var crd unstructured.Unstructured
	if err := yaml.Unmarshal(components.StageCRD, &crd.Object); err != nil {
		return false, fmt.Errorf("read KWOK's Stage CRD: %w", err)
	}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	// Started with the apiserver: tried until it answers.
	for {
		_, err := dyn.Resource(crdResource).Create(ctx, &crd, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			createdCRD = err == nil
			break
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("create KWOK's Stage CRD: %w (last error: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
	for !established(ctx, dyn, crd.GetName()) {
		select {
		case <-ctx.Done():
			return createdCRD, fmt.Errorf("KWOK's Stage CRD was not established: %w", ctx.Err())
		case <-tick.C:
		}
	}
	for _, s := range stages {
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&s)
		if err != nil {
			return createdCRD, err
		}
		u := &unstructured.Unstructured{Object: obj}
		u.SetAPIVersion(kwokv1alpha1.GroupVersion.String())
		u.SetKind(kwokv1alpha1.StageKind)
		for {
			_, err := dyn.Resource(stageResource).Create(ctx, u, metav1.CreateOptions{})
			if err == nil || apierrors.IsAlreadyExists(err) {
				break
			}
			// Established, but not served yet.
			if !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
				return createdCRD, fmt.Errorf("create stage %s: %w", s.Name, err)
			}
			select {
			case <-ctx.Done():
				return createdCRD, fmt.Errorf("create stage %s: %w", s.Name, ctx.Err())
			case <-tick.C:
			}
		}
	}
	return createdCRD, nil
}

func established(ctx context.Context, dyn dynamic.Interface, name string) bool {
	crd, err := dyn.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
