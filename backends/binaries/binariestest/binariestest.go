// Package binariestest gives integration tests the control plane binaries
// from the cache, never building them: a cold build takes many minutes.
package binariestest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/scenario"
)

// EnvRequire makes missing binaries a failure instead of a skip; `make test`
// and CI set it after warming the cache.
const EnvRequire = "KWOKRUN_REQUIRE_INTEGRATION"

// Cached returns a resolver that reads only the cache, holding the default
// versions. Without them the test is skipped, loudly, unless EnvRequire is
// set, when it fails.
func Cached(t testing.TB) *binaries.Resolver {
	t.Helper()
	r, err := binaries.FromEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Order = []binaries.Source{binaries.SourceCache}
	c := scenario.DefaultCluster()
	if _, err := r.ResolveAll(context.Background(), binaries.Versions{Kubernetes: c.Kubernetes, Etcd: c.Etcd, Kwok: c.Kwok}.Wants()); err != nil {
		msg := fmt.Sprintf("INTEGRATION TEST NOT RUN: the control plane binaries are not in the cache (%v); run `make binaries` once", err)
		if os.Getenv(EnvRequire) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if !alone.Load() {
		lockTestMachine(t, r.CacheDir, syscall.LOCK_SH)
	}
	return r
}

// alone is set while a test of this process holds the machine alone.
var alone atomic.Bool

// Alone makes the calling test the only integration test running on this
// machine, across test processes, until it ends: the fidelity tests measure
// milliseconds, which control planes of other packages' tests, started
// beside them by go test's parallel packages, would blur. Every other
// integration test holds the same lock shared (in Cached). Call it before
// Cached.
func Alone(t testing.TB) {
	t.Helper()
	r, err := binaries.FromEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	lockTestMachine(t, r.CacheDir, syscall.LOCK_EX)
	alone.Store(true)
	t.Cleanup(func() { alone.Store(false) })
}

// lockTestMachine takes the integration tests' lock in the cache directory
// until the test ends.
func lockTestMachine(t testing.TB, cacheDir string, how int) {
	t.Helper()
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(cacheDir, "integration-tests.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
}
