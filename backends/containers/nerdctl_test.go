package containers

import (
	"slices"
	"testing"

	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/containers/containerdtest"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// The whole life of a nerdctl cluster (clusterLife), on a containerd of
// the test's own with nerdctl pointed at it by global flags, as
// `kwok-run --backend nerdctl` with KWOKRUN_NERDCTL_FLAGS would; then the
// containerd stopped and everything it made on the host removed and
// checked gone (containerdtest).
func TestNerdctlCluster(t *testing.T) {
	// The binaries first: their lock is released after the containerd's
	// cleanup has run.
	r := binariestest.Cached(t)
	n := containerdtest.Start(t)
	e, err := Find(plan.BackendNerdctl, n.Binary, n.Flags)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Argv[1:], n.Flags) {
		t.Fatalf("engine %q: want nerdctl's global flags %q after the command", e.Argv, n.Flags)
	}
	clusterLife(t, e, r)
}
