// Package binariestest gives integration tests the control plane binaries
// from the cache, never building them: a cold build takes many minutes.
package binariestest

import (
	"context"
	"fmt"
	"os"
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
	return r
}
