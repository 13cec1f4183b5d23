// Package metrics is the catalogue of what kwok-run measures: every name an
// assert block may refer to, with its unit, its meaning and which direction is
// better. The scenario language checks assertions against it at load time, the
// runner fills it in, and reports and comparisons read units and directions from
// it, so a metric exists in exactly one place.
package metrics

import (
	"slices"
)

// Unit is what a metric's numbers count. Durations are always seconds and sizes
// always bytes, whatever unit the scenario file used to write them.
type Unit string

const (
	Seconds   Unit = "s"
	Bytes     Unit = "bytes"
	Count     Unit = "count"
	PerSecond Unit = "1/s"
)

// Better says which way a change is an improvement, for comparisons.
type Better string

const (
	Lower  Better = "lower"
	Higher Better = "higher"
	// Neither marks metrics that describe the load rather than the system's
	// response to it (how many pods were created, say).
	Neither Better = "neither"
)

// Statistics of a distribution. Distributions measured per object (watch
// timestamps, client-side latencies) have all of them; distributions read from
// Prometheus histograms have no exact minimum or maximum.
var (
	SampleStats    = []string{"count", "min", "mean", "p50", "p90", "p95", "p99", "max"}
	HistogramStats = []string{"count", "mean", "p50", "p90", "p95", "p99"}
)

// All is the key that aggregates over a dimension: api_errors.all counts every
// error, component_cpu_seconds.all is the whole control plane.
const All = "all"

// Dimension splits a metric by one property. Keys lists the possible values
// when they are known ahead of the run; nil means any value can appear
// (resource names include custom resources, status codes are open).
type Dimension struct {
	Name string
	Keys []string
}

// Metric is one entry of the catalogue.
type Metric struct {
	Name        string
	Unit        Unit
	Better      Better
	Description string
	// Stats is nil for a metric that is a single number.
	Stats      []string
	Dimensions []Dimension
}

// Components are the keys of per-component metrics. kwok_run is kwok-run itself.
var Components = []string{"etcd", "apiserver", "scheduler", "controller_manager", "kwok", "kwok_run"}

// Verbs are the request verbs, as Kubernetes' own metrics spell them.
var Verbs = []string{"create", "get", "list", "watch", "update", "patch", "delete", "deletecollection", "apply"}

var (
	verbAndResource = []Dimension{{Name: "verb", Keys: Verbs}, {Name: "resource"}}
	component       = []Dimension{{Name: "component", Keys: Components}}
)

var catalogue = []Metric{
	// Object lifecycles, from watch events stamped on receipt.
	{Name: "pod_scheduling_latency", Unit: Seconds, Better: Lower, Stats: SampleStats,
		Description: "Pod created until bound to a node by the scheduler."},
	{Name: "pod_running_latency", Unit: Seconds, Better: Lower, Stats: SampleStats,
		Description: "Pod bound until Running: the simulated kubelet, set by pod_lifecycle.ready_after."},
	{Name: "pod_startup_latency", Unit: Seconds, Better: Lower, Stats: SampleStats,
		Description: "Pod created until Running: Kubernetes' pod start-up SLI without image pulls."},
	{Name: "pod_ready_latency", Unit: Seconds, Better: Lower, Stats: SampleStats,
		Description: "Pod created until its Ready condition is True."},
	{Name: "pod_completion_latency", Unit: Seconds, Better: Lower, Stats: SampleStats,
		Description: "Pod Running until Succeeded (pods of Jobs)."},
	{Name: "pod_deletion_latency", Unit: Seconds, Better: Lower, Stats: SampleStats,
		Description: "Pod deletion requested until the pod is gone."},
	{Name: "node_ready_latency", Unit: Seconds, Better: Lower, Stats: SampleStats,
		Description: "Node created until its Ready condition is True; kwok-run's nodes register Ready, as a kubelet does, so for them it is the watch seeing both at once (0)."},
	{Name: "node_recovery_latency", Unit: Seconds, Better: Lower, Stats: SampleStats,
		Description: "Node NotReady until Ready again."},
	{Name: "node_deletion_latency", Unit: Seconds, Better: Lower, Stats: SampleStats,
		Description: "Node deletion requested until the node is gone."},
	{Name: "deployment_available_latency", Unit: Seconds, Better: Lower, Stats: SampleStats,
		Description: "Deployment created or scaled until all its replicas are available."},
	{Name: "job_completion_latency", Unit: Seconds, Better: Lower, Stats: SampleStats,
		Description: "Job created until Complete."},
	{Name: "service_endpoints_latency", Unit: Seconds, Better: Lower, Stats: SampleStats,
		Description: "From a Service's creation (or the Running of the last pod it selects, if later) until its EndpointSlices list every Running pod it selects as ready; Services with a selector created during the run."},
	{Name: "simulator_lag", Unit: Seconds, Better: Lower, Stats: SampleStats,
		Description: "Measured pod_running_latency beyond the longest delay the pod_lifecycle in force could draw (ready_after + jitter; none for KWOK's default stages), floored at 0: time the pod spent queued in KWOK. Large values mean the simulator, not the control plane, is the bottleneck."},

	// Throughput, in 1 s windows while the step's actions run.
	{Name: "scheduling_throughput", Unit: PerSecond, Better: Higher, Stats: SampleStats,
		Description: "Pods bound per 1 s window, from the first binding of the run or step to the last."},
	{Name: "pod_creation_throughput", Unit: PerSecond, Better: Higher, Stats: SampleStats,
		Description: "Pods created per 1 s window (by kwok-run and by controllers), from the first creation to the last."},
	{Name: "node_creation_throughput", Unit: PerSecond, Better: Higher, Stats: SampleStats,
		Description: "Nodes created per 1 s window, from the first creation to the last."},

	// API latency.
	{Name: "api_request_latency", Unit: Seconds, Better: Lower, Stats: SampleStats, Dimensions: verbAndResource,
		Description: "Latency of kwok-run's own API requests, measured in the client, by verb and resource."},
	{Name: "apiserver_request_latency", Unit: Seconds, Better: Lower, Stats: HistogramStats, Dimensions: verbAndResource,
		Description: "The apiserver's apiserver_request_duration_seconds histogram, all clients, by verb and resource."},
	{Name: "apiserver_sli_latency", Unit: Seconds, Better: Lower, Stats: HistogramStats, Dimensions: verbAndResource,
		Description: "The apiserver's apiserver_request_sli_duration_seconds histogram (excludes webhooks and priority-and-fairness queueing), by verb and resource."},
	{Name: "api_errors", Unit: Count, Better: Lower, Dimensions: []Dimension{{Name: "code"}},
		Description: "Failed requests of kwok-run by HTTP status code (\"429\", \"500\", ...), retries included."},

	// Object counts.
	{Name: "pods_created", Unit: Count, Better: Neither, Description: "Pods created (by kwok-run and by controllers)."},
	{Name: "pods_scheduled", Unit: Count, Better: Neither, Description: "Pods bound to a node."},
	{Name: "pods_running", Unit: Count, Better: Neither, Description: "Pods that reached Running."},
	{Name: "pods_succeeded", Unit: Count, Better: Neither, Description: "Pods that reached Succeeded."},
	{Name: "pods_failed", Unit: Count, Better: Lower, Description: "Pods that reached Failed."},
	{Name: "pods_scheduled_on_pool", Unit: Count, Better: Neither, Dimensions: []Dimension{{Name: "pool"}},
		Description: "Pods bound to a node of each node pool (every pool with a node is listed, with 0 when none landed there)."},
	{Name: "pods_unscheduled", Unit: Count, Better: Lower, Description: "Pods still unbound at the end."},
	{Name: "pods_deleted", Unit: Count, Better: Neither, Description: "Pods gone after a deletion."},
	{Name: "nodes_created", Unit: Count, Better: Neither, Description: "Nodes created."},
	{Name: "services_endpoints_ready", Unit: Count, Better: Neither, Description: "Services with a selector, created during the run, whose EndpointSlices came to list every Running pod they select: those service_endpoints_latency timed and those it could not (their slices arrived before the Service did)."},
	{Name: "nodes_ready", Unit: Count, Better: Neither, Description: "Nodes Ready at the end."},
	{Name: "nodes_not_ready", Unit: Count, Better: Lower, Description: "Nodes not Ready at the end."},
	{Name: "nodes_deleted", Unit: Count, Better: Neither, Description: "Nodes gone after a deletion."},
	{Name: "stored_objects", Unit: Count, Better: Neither, Dimensions: []Dimension{{Name: "resource"}},
		Description: "Peak number of objects stored, by resource (the apiserver's apiserver_resource_objects, counted every 5 s; a resource never counted above 0 is left out)."},

	// Measurement health: a run that lost data says so.
	{Name: "watch_restarts", Unit: Count, Better: Lower, Description: "Times a measuring watch ended and was resumed from where it stopped."},
	{Name: "missed_transitions", Unit: Count, Better: Lower, Description: "Lifecycle transitions that happened but could not be timed: seen only after a watch was down for more than 50 ms or in a relist, or implied by a later state. They are counted here and left out of every latency."},
	{Name: "unseen_objects", Unit: Count, Better: Lower, Description: "Pods, nodes, Deployments and Jobs that kwok-run created and no watch ever saw: created and gone again while a watch was down and had to relist. They are in no latency and no count; kwok-run knows them from the UIDs its creates returned."},

	// Resources used.
	{Name: "component_cpu_seconds", Unit: Seconds, Better: Lower, Dimensions: component,
		Description: "CPU time used, by component; all is the sum over the control plane and kwok-run."},
	{Name: "component_rss_peak_bytes", Unit: Bytes, Better: Lower, Dimensions: component,
		Description: "Peak resident memory, by component; all is the peak of the sum."},
	{Name: "etcd_db_size_bytes", Unit: Bytes, Better: Lower, Description: "Largest etcd database size seen."},
	{Name: "duration", Unit: Seconds, Better: Lower, Description: "Wall time of the run or the step."},
}

// Catalogue returns every metric, grouped by what measures it (the order of
// the reference documentation).
func Catalogue() []Metric {
	return slices.Clone(catalogue)
}

// Lookup finds a metric by name.
func Lookup(name string) (Metric, bool) {
	for _, m := range catalogue {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// Names lists the metric names, sorted.
func Names() []string {
	names := make([]string, len(catalogue))
	for i, m := range catalogue {
		names[i] = m.Name
	}
	slices.Sort(names)
	return names
}

// StepsKey is the attribute of `metrics` that holds the per-step metrics:
// metrics.steps.<step>.<metric>.
const StepsKey = "steps"
