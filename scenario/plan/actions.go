package plan

import (
	"time"
)

// Action is one thing a step does. The concrete types below are the whole
// set; the runner switches on them.
type Action interface {
	// BlockType is the block that declared the action, e.g. "create_nodes".
	BlockType() string
}

// Rate bounds how fast an action issues requests.
type Rate struct {
	// PerSecond is the target rate; zero means as fast as Parallelism allows.
	PerSecond float64 `json:"per_second,omitempty"`
	// Burst is how many requests may go at once above the rate.
	Burst int `json:"burst"`
	// Parallelism is the number of requests in flight at most.
	Parallelism int `json:"parallelism"`
}

// Amount is how many of a set an action affects: an absolute Count, or a
// Percent of what exists when the action runs.
type Amount struct {
	Count   int     `json:"count,omitempty"`
	Percent float64 `json:"percent,omitempty"`
}

// IsPercent reports whether the amount is relative.
func (a Amount) IsPercent() bool { return a.Percent > 0 }

// Of resolves the amount against a population of n.
func (a Amount) Of(n int) int {
	if !a.IsPercent() {
		return min(a.Count, n)
	}
	return int(float64(n)*a.Percent/100 + 0.5)
}

// CreateNodes creates nodes FirstIndex … FirstIndex+Count-1 of a pool.
type CreateNodes struct {
	Pool       string `json:"pool"`
	FirstIndex int    `json:"first_index"`
	Count      int    `json:"count"`
	Rate       Rate   `json:"rate"`
}

// DeleteNodes deletes nodes of a pool, chosen with the scenario's seed.
type DeleteNodes struct {
	Pool   string `json:"pool"`
	Amount Amount `json:"amount"`
	Rate   Rate   `json:"rate"`
}

// Churn modes.
const (
	ChurnDelete   = "delete"
	ChurnReplace  = "replace"
	ChurnNotReady = "not-ready"
)

// ChurnNodes disturbs part of a pool again and again.
type ChurnNodes struct {
	Pool   string   `json:"pool"`
	Amount Amount   `json:"amount"`
	Every  Duration `json:"every"`
	For    Duration `json:"duration"`
	Mode   string   `json:"mode"`
	// RecoverAfter brings not-ready nodes back to Ready; zero leaves them.
	RecoverAfter Duration `json:"recover_after,omitempty"`
	Rate         Rate     `json:"rate"`
}

// Workload kinds create_pods can make.
const (
	KindPod         = "Pod"
	KindDeployment  = "Deployment"
	KindJob         = "Job"
	KindStatefulSet = "StatefulSet"
)

// CreatePods creates a wave of pods: bare pods or workload objects, each
// owning Replicas pods. Objects are named <Name>-<index>.
type CreatePods struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`
	// Count is the number of pods; Objects = ceil(Count/Replicas) objects are
	// created, the last one holding the remainder.
	Count    int  `json:"count"`
	Replicas int  `json:"replicas"`
	Objects  int  `json:"objects"`
	Rate     Rate `json:"rate"`
	// Template renders the metadata of object i.
	Template ObjectTemplate `json:"template"`
	Pod      PodSpec        `json:"pod"`
}

// ReplicasOf returns the pods of object i.
func (c *CreatePods) ReplicasOf(i int) int {
	if i < c.Objects-1 {
		return c.Replicas
	}
	return c.Count - c.Replicas*(c.Objects-1)
}

// ObjectTemplate renders per-object metadata (`count.index` is the object's
// index in its wave).
type ObjectTemplate interface {
	Object(index int) (ObjectSpec, error)
	Source() map[string]string
}

// ObjectSpec is the metadata of one object of a wave.
type ObjectSpec struct {
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	NodeSelector map[string]string `json:"node_selector,omitempty"`
}

// PodSpec is what every pod of a wave shares.
type PodSpec struct {
	Image             string            `json:"image"`
	Requests          map[string]string `json:"requests,omitempty"`
	Limits            map[string]string `json:"limits,omitempty"`
	SchedulerName     string            `json:"scheduler_name,omitempty"`
	PriorityClassName string            `json:"priority_class_name,omitempty"`
	Tolerations       []Toleration      `json:"tolerations,omitempty"`
	NodeAffinity      []NodeAffinity    `json:"node_affinity,omitempty"`
	PodAffinity       []PodAffinity     `json:"pod_affinity,omitempty"`
	PodAntiAffinity   []PodAffinity     `json:"pod_anti_affinity,omitempty"`
	TopologySpread    []TopologySpread  `json:"topology_spread,omitempty"`
}

// Toleration mirrors core/v1 Toleration.
type Toleration struct {
	Key      string `json:"key,omitempty"`
	Operator string `json:"operator"`
	Value    string `json:"value,omitempty"`
	Effect   string `json:"effect,omitempty"`
	// Seconds is tolerationSeconds; nil tolerates forever.
	Seconds *int64 `json:"toleration_seconds,omitempty"`
}

// NodeAffinity is one node selector requirement, required or preferred.
type NodeAffinity struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
	Required bool     `json:"required"`
	// Weight is for preferred terms (1–100).
	Weight int `json:"weight,omitempty"`
}

// PodAffinity is one pod (anti-)affinity term.
type PodAffinity struct {
	TopologyKey string            `json:"topology_key"`
	MatchLabels map[string]string `json:"match_labels"`
	Required    bool              `json:"required"`
	Weight      int               `json:"weight,omitempty"`
}

// TopologySpread is one topology spread constraint.
type TopologySpread struct {
	TopologyKey       string            `json:"topology_key"`
	MaxSkew           int               `json:"max_skew"`
	WhenUnsatisfiable string            `json:"when_unsatisfiable"`
	MatchLabels       map[string]string `json:"match_labels"`
}

// ScalePods changes the number of pods of an earlier Deployment or StatefulSet
// wave to Count, spread over its objects as create_pods spreads them.
type ScalePods struct {
	Wave      string `json:"wave"`
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`
	Objects   int    `json:"objects"`
	Count     int    `json:"count"`
	Rate      Rate   `json:"rate"`
}

// DeletePods deletes pods in a namespace (optionally by label), chosen with
// the scenario's seed. Pods of workloads come back through their controllers.
type DeletePods struct {
	Namespace string            `json:"namespace"`
	Selector  map[string]string `json:"selector,omitempty"`
	Amount    Amount            `json:"amount"`
	Rate      Rate              `json:"rate"`
}

// Apply server-side-applies (or deletes) manifest files.
type Apply struct {
	Files  []Manifest `json:"files"`
	Delete bool       `json:"delete"`
	Rate   Rate       `json:"rate"`
}

// Manifest is one rendered manifest file.
type Manifest struct {
	// Path is as written in the scenario, relative to the scenario file.
	Path string `json:"path"`
	// Documents are the rendered YAML documents, each one object.
	Documents []string `json:"-"`
	// Objects lists "Kind/name" (or "Kind/namespace/name") per document.
	Objects []string `json:"objects"`
}

// Signals a component can be stopped with.
const (
	SignalTerm = "TERM"
	SignalKill = "KILL"
)

// RestartComponent stops a component, keeps it down for DownFor and starts it
// again, then waits until it is healthy.
type RestartComponent struct {
	Component string   `json:"component"`
	Signal    string   `json:"signal"`
	DownFor   Duration `json:"down_for,omitempty"`
}

// StopComponent stops a component for the rest of the run.
type StopComponent struct {
	Component string `json:"component"`
	Signal    string `json:"signal"`
}

// Conditions a wait block can wait for.
const (
	WaitNodesReady           = "nodes_ready"
	WaitPodsScheduled        = "pods_scheduled"
	WaitPodsRunning          = "pods_running"
	WaitPodsSucceeded        = "pods_succeeded"
	WaitPodsDeleted          = "pods_deleted"
	WaitDeploymentsAvailable = "deployments_available"
	WaitJobsComplete         = "jobs_complete"
	WaitObjects              = "objects"
)

// WaitConditions lists the conditions a wait block accepts.
var WaitConditions = []string{
	WaitNodesReady, WaitPodsScheduled, WaitPodsRunning, WaitPodsSucceeded, WaitPodsDeleted,
	WaitDeploymentsAvailable, WaitJobsComplete, WaitObjects,
}

// Wait holds the step until a condition on the cluster is true.
type Wait struct {
	For       string            `json:"for"`
	Pool      string            `json:"pool,omitempty"`
	Namespace string            `json:"namespace,omitempty"`
	Selector  map[string]string `json:"selector,omitempty"`
	// Count, when set, is how many objects must match; otherwise all that
	// exist must (for pods_deleted: none may be left).
	Count      int      `json:"count,omitempty"`
	Kind       string   `json:"kind,omitempty"`
	APIVersion string   `json:"api_version,omitempty"`
	Timeout    Duration `json:"timeout"`
}

// Sleep does nothing for a while.
type Sleep struct {
	For Duration `json:"duration"`
}

// Exec runs a command with KUBECONFIG pointing at the cluster.
type Exec struct {
	Command []string          `json:"command"`
	Env     map[string]string `json:"env,omitempty"`
	// Dir is the working directory, relative to the scenario file.
	Dir     string   `json:"dir,omitempty"`
	Timeout Duration `json:"timeout,omitempty"`
	// Background leaves the command running until the end of the run (a
	// controller under test); its failure fails the run.
	Background bool `json:"background"`
}

func (*CreateNodes) BlockType() string      { return "create_nodes" }
func (*DeleteNodes) BlockType() string      { return "delete_nodes" }
func (*ChurnNodes) BlockType() string       { return "churn_nodes" }
func (*CreatePods) BlockType() string       { return "create_pods" }
func (*ScalePods) BlockType() string        { return "scale_pods" }
func (*DeletePods) BlockType() string       { return "delete_pods" }
func (*Apply) BlockType() string            { return "apply" }
func (*RestartComponent) BlockType() string { return "restart_component" }
func (*StopComponent) BlockType() string    { return "stop_component" }
func (*Wait) BlockType() string             { return "wait" }
func (*Sleep) BlockType() string            { return "sleep" }
func (*Exec) BlockType() string             { return "exec" }

// Duration is a time.Duration that reads and prints as "1m30s".
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the Go duration syntax, which is also the scenario's.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
