package reports

import (
	"time"
)

// SchemaVersion is the version of report.json's format. It changes when a
// field changes meaning or goes away; adding a field does not change it.
const SchemaVersion = 1

// Report is everything one run produced: what was asked (scenario, variables,
// versions, flags, seed), what happened (steps and their actions), what was
// measured, and the verdicts. report.json is this struct; every other file of
// a results directory is rendered from it.
type Report struct {
	SchemaVersion int    `json:"schema_version"`
	KwokRun       string `json:"kwok_run_version"`
	// Started is the wall-clock time the first step began; every other time
	// in the report is seconds since then, measured on a monotonic clock.
	Started time.Time `json:"started"`
	// Duration is the wall time from the first step to the end of the run.
	Duration   float64     `json:"duration_seconds"`
	Scenario   Scenario    `json:"scenario"`
	Variables  []Variable  `json:"variables"`
	Cluster    Cluster     `json:"cluster"`
	Outcome    Outcome     `json:"outcome"`
	Steps      []Step      `json:"steps"`
	Assertions []Assertion `json:"assertions"`
	// Metrics are the run's measured values by the path an assertion uses
	// after `metrics.` ("pod_startup_latency.p99"). A path that is absent was
	// not measured; a value is never NaN or infinite. Each step's own
	// values are in Steps.
	Metrics map[string]float64 `json:"metrics"`
	// Distributions are the cumulative distributions of the latencies, for
	// the whole run.
	Distributions []Distribution `json:"distributions"`
	// ServerSide sets the watch-based latencies beside the same intervals
	// computed from the apiserver's own timestamps (one-second precision), as
	// a cross-check.
	ServerSide []CrossCheck `json:"server_side"`
	Series     []Series     `json:"series"`
	// Measurement says how trustworthy the numbers are: watches that had to
	// be re-established and the transitions that could not be timed exactly.
	Measurement Measurement `json:"measurement"`
}

// Scenario identifies the scenario file that was run.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	File        string `json:"file"`
	// SHA256 is of the file's bytes; Source is the file itself, so the run
	// can be reproduced from its report alone.
	SHA256  string `json:"sha256"`
	Source  string `json:"source,omitempty"`
	Seed    int64  `json:"seed"`
	Timeout string `json:"timeout"`
}

// Variable is a resolved input variable.
type Variable struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value any    `json:"value"`
	// Source is "default", "env", "file <path>" or "flag".
	Source string `json:"source"`
}

// Cluster is the control plane that ran the scenario, exactly.
type Cluster struct {
	Backend           string            `json:"backend"`
	Kubernetes        string            `json:"kubernetes"`
	Kwok              string            `json:"kwok"`
	Etcd              string            `json:"etcd"`
	NodeLeaseDuration string            `json:"node_lease_duration"`
	FeatureGates      map[string]bool   `json:"feature_gates,omitempty"`
	RuntimeConfig     map[string]string `json:"runtime_config,omitempty"`
	Components        []Component       `json:"components"`
}

// Component is one process of the control plane as it was started.
type Component struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Binary is the executable's path and SHA256 its digest, when known.
	Binary string   `json:"binary,omitempty"`
	SHA256 string   `json:"sha256,omitempty"`
	Args   []string `json:"args"`
}

// Outcome statuses.
const (
	Passed      = "passed"      // every step ran and every assertion held
	Failed      = "failed"      // an assertion failed, or a step did not reach what it waited for
	Broken      = "error"       // the cluster or the machine failed
	Interrupted = "interrupted" // SIGINT or SIGTERM
)

// Outcome is how the run ended.
type Outcome struct {
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
	// StoppedIn names the step the run stopped in, when it did not finish.
	StoppedIn string `json:"stopped_in,omitempty"`
}

// Step statuses.
const (
	StepPassed = "passed"
	StepFailed = "failed"
	// StepNotRun is a step the run stopped before.
	StepNotRun = "not run"
)

// Step is one step's outcome and measurements.
type Step struct {
	Name string `json:"name"`
	// Start and End are seconds since the run started.
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	// Status is StepPassed, StepFailed or StepNotRun.
	Status  string   `json:"status"`
	Error   string   `json:"error,omitempty"`
	Actions []Action `json:"actions"`
	// Metrics are the values measured during the step, by the path an
	// assertion uses after `metrics.steps.<step>.`.
	Metrics map[string]float64 `json:"metrics"`
}

// Action is what one action of a step did.
type Action struct {
	Kind    string `json:"kind"`
	Summary string `json:"summary"`
	Done    int    `json:"done"`
	Failed  int    `json:"failed"`
	// Asked and Achieved are rates per second. Asked is zero when the
	// action was not paced, Achieved when there was no rate to measure (one
	// request did everything).
	Asked    float64 `json:"asked_rate,omitempty"`
	Achieved float64 `json:"achieved_rate,omitempty"`
	// Errors counts failed requests by HTTP status code (or "timeout",
	// "connection"), retries included.
	Errors map[string]int `json:"errors,omitempty"`
	Error  string         `json:"error,omitempty"`
}

// Assertion is the verdict on one assert block.
type Assertion struct {
	Name      string `json:"name"`
	Condition string `json:"condition"`
	Severity  string `json:"severity"`
	// Evaluated is false when the condition could not be evaluated (a metric
	// without samples); that counts as failed.
	Evaluated bool   `json:"evaluated"`
	Passed    bool   `json:"passed"`
	Message   string `json:"message,omitempty"`
	// Observed holds the value of each metric the condition refers to, by
	// its path after `metrics.`.
	Observed map[string]float64 `json:"observed,omitempty"`
}

// Distribution is a latency's cumulative distribution: Points are (value in
// the metric's unit, fraction of samples ≤ value), at most a few hundred of
// them whatever the sample count.
type Distribution struct {
	Metric string       `json:"metric"`
	Unit   string       `json:"unit"`
	Count  int          `json:"count"`
	Points [][2]float64 `json:"points"`
}

// Stats are the usual statistics of a set of samples.
type Stats struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// CrossCheck sets one latency measured from watch events beside the same
// interval computed from the apiserver's timestamps.
type CrossCheck struct {
	Metric string `json:"metric"`
	// Interval names the server-side timestamps used, e.g.
	// "metadata.creationTimestamp → Ready condition lastTransitionTime".
	Interval string `json:"interval"`
	Watch    Stats  `json:"watch"`
	Server   Stats  `json:"server"`
}

// Series groups, which is also how the HTML report arranges its charts.
const (
	GroupObjects    = "objects"    // objects in a state over time
	GroupThroughput = "throughput" // per-second rates in 1 s windows
	GroupCPU        = "cpu"        // cores used, by component
	GroupMemory     = "memory"     // resident memory, by component
	GroupStorage    = "storage"    // etcd's database size, stored objects
)

// Series is one quantity over time.
type Series struct {
	Name  string `json:"name"`
	Group string `json:"group"`
	Unit  string `json:"unit"`
	// Points are (seconds since the run started, value).
	Points [][2]float64 `json:"points"`
}

// Measurement is the health of the measurements themselves.
type Measurement struct {
	// Watches are the measuring watches, one per kind.
	Watches []Watch `json:"watches"`
	// Inexact counts transitions seen only after a watch was down for longer
	// than the gap allowed (or in a relist): they are counted but not timed.
	Inexact int `json:"inexact_transitions"`
	// InexactExamples names a few of them.
	InexactExamples []string `json:"inexact_examples,omitempty"`
	// Unseen counts the objects kwok-run created that no watch ever saw
	// (made and gone while a watch was down and relisted): in no latency
	// and no count. UnseenExamples names a few.
	Unseen         int      `json:"unseen_objects"`
	UnseenExamples []string `json:"unseen_examples,omitempty"`
	// Scrapes counts the /metrics reads and those that failed.
	Scrapes       int `json:"scrapes"`
	ScrapesFailed int `json:"scrapes_failed"`
}

// Watch is one measuring watch's history.
type Watch struct {
	Kind     string `json:"kind"`
	Events   int    `json:"events"`
	Restarts int    `json:"restarts"`
	Relists  int    `json:"relists"`
	// LongestGap is the longest time, in seconds, the kind went unwatched.
	LongestGap float64 `json:"longest_gap_seconds"`
}
