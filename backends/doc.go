// Package backends brings a KWOK control plane (etcd, kube-apiserver,
// kube-scheduler, kube-controller-manager and the KWOK controller) up and down.
// A backend knows the plan's cluster block and node pools, and nothing else
// of a scenario.
// Subpackages: binaries (finding executables), pki (certificates), components
// (what each process is: flags, ports, health), registry (clusters on this
// machine, for `kwok-run down`), bootstrap (what every fresh control plane
// gets: KWOK's stages, a probe node), local (child processes on 127.0.0.1),
// kubeconfig (an existing cluster, with KWOK controllers as child processes).
package backends

import (
	"context"
	"crypto/tls"

	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Cluster is a running control plane.
type Cluster interface {
	// Kubeconfig is the path of an admin kubeconfig.
	Kubeconfig() string
	// Endpoints lists each running component with its metrics URL.
	Endpoints() []Endpoint
	// Components describes every component as it was started, for the
	// report: a run must be reproducible from it.
	Components() []Component
	// ClientTLS is the TLS configuration that health and metrics endpoints
	// accept.
	ClientTLS() *tls.Config
	// Stop stops a component with a signal ("TERM" or "KILL") and waits
	// until it is gone; the cluster does not count that as a failure.
	Stop(ctx context.Context, component, signal string) error
	// Start starts a stopped component again and waits until it is healthy.
	Start(ctx context.Context, component string) error
	// Failed delivers the first unexpected exit of a component, with its
	// last log lines.
	Failed() <-chan error
	// Down stops everything and removes what the cluster put on the
	// machine, except its logs. It is safe to call more than once.
	Down(ctx context.Context) error
}

// Endpoint is where a component serves its metrics.
type Endpoint struct {
	Component  string
	MetricsURL string
}

// Component is one process of the control plane: its executable (a path
// for the local backend, an image for container backends) and flags.
type Component struct {
	Name   string
	Binary string
	// SHA256 is the binary's digest when the backend knows it.
	SHA256 string
	Args   []string
}

// Spec is what a backend brings up: the scenario's cluster block, the KWOK
// stages pods start with, and the node pools KWOK will manage.
type Spec struct {
	Cluster plan.Cluster
	// PodStages come from the scenario's initial pod_lifecycle; nil means
	// KWOK's own default pod stages.
	PodStages []kwokv1alpha1.Stage
	// Pools are the scenario's node pools, for a backend that runs a KWOK
	// controller per shard of a pool (plan.NodePool.Shards).
	Pools []plan.NodePool
}

// SpecOf takes a backend's part of a plan.
func SpecOf(p *plan.Plan) Spec {
	s := Spec{Cluster: p.Cluster}
	for _, pool := range p.Pools {
		s.Pools = append(s.Pools, *pool)
	}
	if l := p.Lifecycle(p.InitialLifecycle); l != nil {
		s.PodStages = l.Stages
	}
	return s
}
