// Package scalebench is kwok-run's scale benchmark suite (`make bench`): how
// fast nodes get Ready and pods Running at 1,000 to 100,000 objects, node
// churn, kwokctl beside kwok-run on the same binaries, and what each case
// costs the components and kwok-run itself. The cases are Go benchmarks in
// this package's tests; this file records their figures.
package scalebench

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// EnvJSON names the file each case appends its figures to, one JSON object
// a line; unset, figures are only printed.
const EnvJSON = "KWOKRUN_BENCH_JSON"

// Figures are one run of a case: unit-suffixed names ("s-ready",
// "MiB-peak-rss-apiserver") to values.
type Figures map[string]float64

// Entry is one line of the JSON file.
type Entry struct {
	Case    string    `json:"case"`
	Time    time.Time `json:"time"`
	CPUs    int       `json:"cpus"`
	Figures Figures   `json:"figures"`
}

// Record prints f on the benchmark's line (as benchstat reads it) and
// appends it to $KWOKRUN_BENCH_JSON. Every case runs one iteration per
// -count, each a fresh cluster, so f is that one run.
func Record(b *testing.B, f Figures) {
	b.Helper()
	for _, k := range slices.Sorted(maps.Keys(f)) {
		b.ReportMetric(f[k], k)
	}
	b.ReportMetric(0, "ns/op")
	path := os.Getenv(EnvJSON)
	if path == "" {
		return
	}
	line, err := json.Marshal(Entry{Case: b.Name(), Time: time.Now().UTC(), CPUs: runtime.NumCPU(), Figures: f})
	if err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	if _, err := fmt.Fprintf(file, "%s\n", line); err != nil {
		b.Fatal(err)
	}
}
