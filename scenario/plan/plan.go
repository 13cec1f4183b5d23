// Package plan is the resolved, validated form of a scenario: plain data that
// the runner plays and that `kwok-run plan` prints. Everything here is final
// (variables substituted, defaults filled in, references resolved), except what
// differs per node or per object: those fields are templates, rendered when the
// node or object is created, so a plan for 100,000 nodes holds one template and
// not 100,000 nodes.
package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"

	"github.com/kwok-run/kwok-run/scenario/metrics"
)

// Plan is one scenario, ready to run.
type Plan struct {
	Scenario  Scenario    `json:"scenario"`
	Variables []Variable  `json:"variables"`
	Cluster   Cluster     `json:"cluster"`
	Pools     []*NodePool `json:"node_pools"`
	// Lifecycles are every pod_lifecycle with the KWOK Stages it compiles to.
	Lifecycles []*PodLifecycle `json:"pod_lifecycles"`
	// InitialLifecycle names the lifecycle applied before the first step; empty
	// means KWOK's own default pod stages.
	InitialLifecycle string       `json:"initial_pod_lifecycle,omitempty"`
	Steps            []*Step      `json:"steps"`
	Assertions       []*Assertion `json:"assertions"`
}

// Scenario identifies the run and bounds it.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// File is the scenario file as given on the command line; SHA256 is of its
	// bytes, so a report tells which version of the file produced it.
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	// Source is the file's text, for the report of a run.
	Source  string   `json:"-"`
	Seed    int64    `json:"seed"`
	Timeout Duration `json:"timeout"`
}

// Variable is a resolved input variable and where its value came from.
type Variable struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value any    `json:"value"`
	// Source is "default", "env" (KWOKRUN_VAR_name), "file <path>" or "flag".
	Source string `json:"source"`
}

// Backends kwok-run can bring a control plane up with.
const (
	BackendLocal   = "local"
	BackendDocker  = "docker"
	BackendNerdctl = "nerdctl"
	// BackendKubeconfig plays the scenario against an existing cluster: only
	// KWOK's controllers are kwok-run's.
	BackendKubeconfig = "kubeconfig"
)

// Component names, as the scenario language, the metrics and the logs spell
// them.
const (
	Etcd              = "etcd"
	APIServer         = "apiserver"
	Scheduler         = "scheduler"
	ControllerManager = "controller_manager"
	Kwok              = "kwok"
)

// ComponentNames lists the control plane in start order.
var ComponentNames = []string{Etcd, APIServer, Scheduler, ControllerManager, Kwok}

// ComponentOf is the component an endpoint or process name belongs to: a
// backend that runs several instances of one component names them
// "<component>/<instance>" (kwok/workers-0), so their metrics can be told
// apart and still add up to the component's.
func ComponentOf(name string) string {
	c, _, _ := strings.Cut(name, "/")
	return c
}

// Cluster is what the backend brings up.
type Cluster struct {
	Backend string `json:"backend"`
	// Kubeconfig is the existing cluster of BackendKubeconfig; empty when
	// the command line gives it instead.
	Kubeconfig string      `json:"kubeconfig,omitempty"`
	Kubernetes string      `json:"kubernetes"`
	Kwok       string      `json:"kwok"`
	Etcd       string      `json:"etcd"`
	Components []Component `json:"components"`
	// NodeLeaseDuration is how long a node's lease lasts; KWOK renews it every
	// quarter of that, which is the heartbeat load of the cluster.
	NodeLeaseDuration Duration `json:"node_lease_duration"`
	// KwokParallelism is how many workers each KWOK controller gives node
	// stages, pod stages and leases each.
	KwokParallelism int               `json:"kwok_parallelism"`
	FeatureGates    map[string]bool   `json:"feature_gates,omitempty"`
	RuntimeConfig   map[string]string `json:"runtime_config,omitempty"`
}

// Component is one process of the control plane.
type Component struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	// Args are extra flags, name without dashes to value; they override the
	// backend's own flags of the same name.
	Args map[string]string `json:"args,omitempty"`
	// Binary, when set, is used instead of a cached, downloaded or built one.
	Binary string `json:"binary,omitempty"`
	// Image, when set, is used by container backends instead of the default.
	Image string `json:"image,omitempty"`
}

// VersionOf is the version the named component runs: etcd's, KWOK's, or
// Kubernetes' for the rest.
func (c *Cluster) VersionOf(component string) string {
	switch ComponentOf(component) {
	case Etcd:
		return c.Etcd
	case Kwok:
		return c.Kwok
	}
	return c.Kubernetes
}

// Component returns the named component.
func (c *Cluster) Component(name string) (Component, bool) {
	for _, comp := range c.Components {
		if comp.Name == name {
			return comp, true
		}
	}
	return Component{}, false
}

// NodePool is a family of simulated nodes built from one template.
type NodePool struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	// Template renders node i (0 ≤ i < Count, or a replacement's index). It is
	// safe for concurrent use.
	Template NodeTemplate `json:"template"`
	// Conditions the pool's nodes report beside Ready, over the healthy
	// ones a kubelet reports.
	Conditions []NodeCondition `json:"conditions,omitempty"`
	// StatusInterval is how often KWOK rewrites a node's status; zero is
	// KWOK's own (ten minutes).
	StatusInterval Duration `json:"status_interval,omitempty"`
	// LeaseDuration is how long the pool's node leases last; zero is the
	// cluster's NodeLeaseDuration.
	LeaseDuration Duration `json:"lease_duration,omitempty"`
}

// NodeCondition is a condition a pool's nodes report.
type NodeCondition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// PoolLabel on a node names its pool.
const PoolLabel = "kwok-run/pool"

// HeartbeatLabel on a node says that its pool has its own KWOK stages for
// the node's status (conditions or a status interval), and names the pool.
const HeartbeatLabel = "kwok-run/heartbeat"

// healthyConditions are a healthy kubelet's, as KWOK's own initialisation
// sets them.
var healthyConditions = []NodeCondition{
	{Type: "Ready", Status: "True", Reason: "KubeletReady"},
	{Type: "MemoryPressure", Status: "False", Reason: "KubeletHasSufficientMemory"},
	{Type: "DiskPressure", Status: "False", Reason: "KubeletHasNoDiskPressure"},
	{Type: "PIDPressure", Status: "False", Reason: "KubeletHasSufficientPID"},
	{Type: "NetworkUnavailable", Status: "False", Reason: "RouteCreated"},
}

// NodeConditions are the conditions of the pool's healthy nodes: a healthy
// kubelet's, with the pool's in place of those of the same type.
func (p *NodePool) NodeConditions() []NodeCondition {
	out := slices.Clone(healthyConditions)
	for _, c := range p.Conditions {
		if i := slices.IndexFunc(out, func(o NodeCondition) bool { return o.Type == c.Type }); i >= 0 {
			out[i] = c
		} else {
			out = append(out, c)
		}
	}
	return out
}

// OwnHeartbeat reports whether the pool's nodes need their own KWOK stages:
// KWOK's would reset their conditions to a healthy kubelet's.
func (p *NodePool) OwnHeartbeat() bool {
	return len(p.Conditions) > 0 || p.StatusInterval.D() > 0
}

// LeaseLabel on a node names its pool's lease duration ("20s") where it
// differs from the cluster's: KWOK renews every lease of a controller at one
// duration, so a controller of that duration manages the node.
const LeaseLabel = "kwok-run/lease"

// Lease is how long the pool's node leases last in cluster c.
func (p NodePool) Lease(c Cluster) time.Duration {
	if d := p.LeaseDuration.D(); d > 0 {
		return d
	}
	return c.NodeLeaseDuration.D()
}

// LeaseLabelValue is the pool's LeaseLabel value, "" when its lease is the
// cluster's.
func (p *NodePool) LeaseLabelValue(c Cluster) string {
	if d := p.Lease(c); d != c.NodeLeaseDuration.D() {
		return LeaseValue(d)
	}
	return ""
}

// LeaseValue names a lease duration in whole seconds, "20s", as LeaseLabel
// and the controller of that duration do.
func LeaseValue(d time.Duration) string {
	return fmt.Sprintf("%ds", int(d/time.Second))
}

// OwnLeases are the lease durations of pools that differ from the
// cluster's, sorted and distinct: a backend that runs one KWOK controller
// for the cluster runs one more for each. Pools come as values (a backend's spec) or pointers (a plan), hence the
// type parameter; Lease has a value receiver so that both have it.
func OwnLeases[P interface{ Lease(Cluster) time.Duration }](c Cluster, pools []P) []time.Duration {
	var out []time.Duration
	for _, p := range pools {
		if d := p.Lease(c); d != c.NodeLeaseDuration.D() && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// NodesPerKwok is how many nodes one KWOK controller manages at most where
// kwok-run shards them (KWOK's own advice for a controller).
const NodesPerKwok = 1000

// ShardLabel on a node names the KWOK controller that manages it, where a
// backend runs one per shard.
const ShardLabel = "kwok-run/shard"

// Shards is how many KWOK controllers the pool's nodes are spread over: one
// per NodesPerKwok nodes, at least one.
func (p *NodePool) Shards() int {
	return max(1, (p.Count+NodesPerKwok-1)/NodesPerKwok)
}

// Shard is the ShardLabel value of the pool's node i; replacements of a node
// keep its index, so they stay with its controller.
func (p *NodePool) Shard(i int) string {
	return fmt.Sprintf("%s-%d", p.Name, i%p.Shards())
}

// NodeTemplate renders the node with the given index; the scenario's
// `count.index`.
type NodeTemplate interface {
	Node(index int) (NodeSpec, error)
	// Source describes the template as written, for printing.
	Source() map[string]string
}

// NodeSpec is everything the scenario says about one node.
type NodeSpec struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Taints      []Taint           `json:"taints,omitempty"`
	// Capacity and Allocatable map resource names to Kubernetes quantities.
	Capacity    map[string]string `json:"capacity"`
	Allocatable map[string]string `json:"allocatable"`
}

// Clone returns a copy that shares nothing with s.
func (s NodeSpec) Clone() NodeSpec {
	return NodeSpec{
		Labels: maps.Clone(s.Labels), Annotations: maps.Clone(s.Annotations),
		Taints:   slices.Clone(s.Taints),
		Capacity: maps.Clone(s.Capacity), Allocatable: maps.Clone(s.Allocatable),
	}
}

// Taint is a node taint.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

// PodLifecycle is the simulated kubelet's behaviour, and the KWOK Stages that
// make it happen.
type PodLifecycle struct {
	Name          string               `json:"name"`
	ReadyAfter    Duration             `json:"ready_after"`
	CompleteAfter Duration             `json:"complete_after"`
	DeleteAfter   Duration             `json:"delete_after"`
	Jitter        Duration             `json:"jitter"`
	FailureRatio  float64              `json:"failure_ratio"`
	Stages        []kwokv1alpha1.Stage `json:"stages"`
}

// Lifecycle returns the named pod lifecycle.
func (p *Plan) Lifecycle(name string) *PodLifecycle {
	for _, l := range p.Lifecycles {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// Pool returns the named node pool.
func (p *Plan) Pool(name string) *NodePool {
	for _, pool := range p.Pools {
		if pool.Name == name {
			return pool
		}
	}
	return nil
}

// Step is a phase of the scenario. Steps run one after another; the actions
// of a step run concurrently, and the step ends when all of them have ended and
// Duration has passed.
type Step struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Duration is the least time the step lasts; repeating actions without a
	// duration of their own run for this long.
	Duration Duration `json:"duration,omitempty"`
	// Timeout fails the step when it has not ended by then; zero means only
	// the scenario's timeout applies.
	Timeout Duration `json:"timeout,omitempty"`
	// PodLifecycle, when set, replaces the pod lifecycle as the step starts.
	PodLifecycle string   `json:"pod_lifecycle,omitempty"`
	Actions      []Action `json:"actions"`
}

// Assertion is a condition on the measured metrics, checked after the run.
type Assertion struct {
	Name string `json:"name"`
	// Condition is the expression as written.
	Condition string `json:"condition"`
	// Severity is "error" (a failure fails the run) or "warning" (reported only).
	Severity string `json:"severity"`
	// Metrics lists the paths below `metrics.` the condition refers to.
	Metrics []string `json:"metrics"`
	Check   Checker  `json:"-"`
}

// Checker evaluates an assertion against measured values.
type Checker interface {
	Check(metrics.Values) Verdict
}

// Verdict is the outcome of one assertion.
type Verdict struct {
	// Evaluated is false when a metric the condition needs was not measured or
	// the expression failed; such an assertion counts as failed.
	Evaluated bool   `json:"evaluated"`
	Passed    bool   `json:"passed"`
	Message   string `json:"message,omitempty"`
	// Observed holds the value of each referenced metric that was measured.
	Observed map[string]float64 `json:"observed,omitempty"`
}
