package containers

import (
	"context"
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

// BenchmarkUp is backends/local's BenchmarkUp on docker, with the images
// already present (packed once before the timer starts): seconds until a
// KWOK node is Ready, the five containers' memory after 10 idle seconds as
// the engine counts it, and seconds to tear down. Use -benchtime 1x.
func BenchmarkUp(b *testing.B) {
	e := realDocker(b)
	r := binariestest.Cached(b)
	reg := &registry.Registry{Dir: b.TempDir()}
	spec := backends.Spec{Cluster: scenario.DefaultCluster()}
	warm, err := Up(context.Background(), spec, Options{Name: "warm", RunDir: filepath.Join(b.TempDir(), "run"), RemoveRunDir: true, Engine: e, Binaries: r, Registry: reg})
	if err != nil {
		b.Fatal(err)
	}
	warm.Down(context.Background())
	b.ResetTimer()
	var ready, teardown, mem float64
	for i := 0; i < b.N; i++ {
		start := time.Now()
		c, err := Up(context.Background(), spec, Options{
			Name: "bench", RunDir: filepath.Join(b.TempDir(), "run"), RemoveRunDir: true, Engine: e, Binaries: r, Registry: reg,
		})
		if err != nil {
			b.Fatal(err)
		}
		ready += time.Since(start).Seconds()
		time.Sleep(10 * time.Second)
		mem += c.memoryMiB(b)
		start = time.Now()
		if err := c.Down(context.Background()); err != nil {
			b.Fatal(err)
		}
		teardown += time.Since(start).Seconds()
	}
	n := float64(b.N)
	scalebench.Record(b, scalebench.Figures{"s-to-ready": ready / n, "s-teardown": teardown / n, "MiB-idle-mem": mem / n})
}

// memoryMiB sums the containers' memory use from `stats`, which counts the
// page cache a container touched as well as its resident set.
func (c *Cluster) memoryMiB(b *testing.B) float64 {
	var names []string
	for _, k := range c.ctrs {
		names = append(names, k.name)
	}
	out, err := c.engine.Run(context.Background(), append([]string{"stats", "--no-stream", "--format", "{{.MemUsage}}"}, names...)...)
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(out, "\n") {
		used, _, _ := strings.Cut(line, " / ")
		used = strings.TrimSpace(used)
		for unit, f := range map[string]float64{"GiB": 1024, "MiB": 1, "KiB": 1.0 / 1024, "kB": 1.0 / 1024, "B": 1.0 / (1 << 20)} {
			if v, ok := strings.CutSuffix(used, unit); ok {
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					total += x * f
					break
				}
			}
		}
	}
	return total
}
