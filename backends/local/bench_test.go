package local

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/runner/scalebench"
	"github.com/kwok-run/kwok-run/scenario"
)

// BenchmarkUp brings the default cluster up and down with cached binaries and
// reports, per cluster: seconds until every component is healthy and a KWOK
// node is Ready, the resident memory of the five components after 10 idle
// seconds, and seconds to tear down. `make bench` runs it five times; use
// -benchtime 1x, since each iteration is a whole cluster.
func BenchmarkUp(b *testing.B) {
	r := binariestest.Cached(b)
	reg := &registry.Registry{Dir: b.TempDir()}
	var ready, teardown, rss float64
	for i := 0; i < b.N; i++ {
		start := time.Now()
		c, err := Up(context.Background(), backends.Spec{Cluster: scenario.DefaultCluster()}, Options{
			Name: "bench", RunDir: filepath.Join(b.TempDir(), "run"), RemoveRunDir: true, Binaries: r, Registry: reg,
		})
		if err != nil {
			b.Fatal(err)
		}
		ready += time.Since(start).Seconds()
		time.Sleep(10 * time.Second)
		for _, p := range c.procs {
			rss += float64(residentKiB(p.Record().PID)) / 1024
		}
		start = time.Now()
		if err := c.Down(context.Background()); err != nil {
			b.Fatal(err)
		}
		teardown += time.Since(start).Seconds()
	}
	n := float64(b.N)
	scalebench.Record(b, scalebench.Figures{"s-to-ready": ready / n, "s-teardown": teardown / n, "MiB-idle-rss": rss / n})
}

func residentKiB(pid int) int {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
