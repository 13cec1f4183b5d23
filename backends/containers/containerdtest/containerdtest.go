// Package containerdtest gives integration tests nerdctl on a containerd of
// the test's own: started for the test, stopped when it ends, and
// everything it made on the host (processes, mounts, cgroups, bridges,
// veths, the CNI plugins' firewall rules and IPAM state) removed and
// checked gone. It is a normal package used only by tests.
//
// It does not import backends/containers, whose own tests use it.
package containerdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
)

// Nerdctl is nerdctl pointed at the test's containerd: the command, and the
// global flags that come before every subcommand, as `kwok-run --backend
// nerdctl --engine Binary` takes them from KWOKRUN_NERDCTL_FLAGS.
type Nerdctl struct {
	Binary string
	Flags  []string
}

// Argv is the command and its global flags.
func (n Nerdctl) Argv() []string { return append([]string{n.Binary}, n.Flags...) }

// nerdctlVersion is the nerdctl .ci/install-nerdctl builds (keep the two in
// step); Start looks for it where the script puts it.
const nerdctlVersion = "v2.2.2"

// What a private containerd and nerdctl's bridge networks need on the host.
var (
	containerdCommands = []string{"containerd", "containerd-shim-runc-v2", "ctr", "runc", "iptables", "iptables-save", "iptables-restore", "ip"}
	cniPlugins         = []string{"bridge", "host-local", "portmap", "firewall", "tuning", "loopback"}
	cniDirs            = []string{"/usr/lib/cni", "/opt/cni/bin"}
)

// Start starts a containerd of the test's own and returns nerdctl driving
// it. Everything is stopped and removed when the test ends, failed or not,
// and the test fails if anything is left on the host; what an earlier test
// process left when it died is removed first. Fixtures run one at a time on
// the machine, across test processes.
//
// Without root, nerdctl, containerd or the CNI plugins the test is
// skipped, loudly, unless KWOKRUN_REQUIRE_INTEGRATION is set, when it
// fails.
//
// A test that also takes the control plane binaries should call
// binariestest.Cached before Start: the binaries' machine lock is then
// released only after the containerd's cleanup has run.
func Start(t testing.TB) Nerdctl {
	t.Helper()
	if os.Geteuid() != 0 {
		notRun(t, "the nerdctl tests run a containerd of their own, which needs root")
	}
	bin, err := nerdctlBinary()
	if err != nil {
		notRun(t, err.Error())
	}
	for _, c := range containerdCommands {
		if _, err := exec.LookPath(c); err != nil {
			notRun(t, fmt.Sprintf("%s is not installed (run `make nerdctl`): %v", c, err))
		}
	}
	cniDir := ""
	for _, d := range cniDirs {
		if !slices.ContainsFunc(cniPlugins, func(p string) bool { return !fileExists(filepath.Join(d, p)) }) {
			cniDir = d
			break
		}
	}
	if cniDir == "" {
		notRun(t, fmt.Sprintf("the CNI plugins %s are not in %s (run `make nerdctl`)", strings.Join(cniPlugins, ", "), strings.Join(cniDirs, " or ")))
	}

	// Released after the fixture's cleanup (cleanups run last first).
	lockMachine(t)
	sweepStale(t)
	dir, err := os.MkdirTemp("", "kwrn-")
	if err != nil {
		t.Fatal(err)
	}
	if len(dir) > 60 { // unix socket paths must stay under 108 bytes
		os.Remove(dir)
		if dir, err = os.MkdirTemp("/tmp", "kwrn-"); err != nil {
			t.Fatal(err)
		}
	}
	f := newFixture(t, dir)
	f.cniDir, f.nerdctl = cniDir, bin
	f.baseline()
	if err := f.writeFile(); err != nil {
		os.Remove(dir)
		t.Fatal(err)
	}
	// Registered before anything starts: it runs after the cleanups the
	// test registers later (a cluster's Down).
	t.Cleanup(f.cleanup)

	f.startDaemon()
	n := Nerdctl{Binary: f.nerdctl, Flags: slices.Clone(f.flags)}
	// The CLI reads the flags from KWOKRUN_NERDCTL_FLAGS, space-separated.
	if !slices.Equal(strings.Fields(strings.Join(n.Flags, " ")), n.Flags) {
		t.Fatalf("the global flags %q do not survive KWOKRUN_NERDCTL_FLAGS's splitting on spaces", n.Flags)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, n.Binary, slices.Concat(n.Flags, []string{"version"})...).CombinedOutput(); err != nil {
		t.Fatalf("nerdctl does not reach the test's containerd: %v: %s", err, out)
	}
	t.Logf("nerdctl on a containerd of the test's own: %s", strings.Join(n.Argv(), " "))
	f.stopWatch, f.watchDone = make(chan struct{}), make(chan struct{})
	go f.watch()
	return n
}

// notRun skips the test, loudly, or fails it when the integration tests
// are required.
func notRun(t testing.TB, why string) {
	t.Helper()
	msg := "INTEGRATION TEST NOT RUN: " + why
	if os.Getenv(binariestest.EnvRequire) != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// nerdctlBinary is $NERDCTL, else the binary .ci/install-nerdctl built into
// the cache, else nerdctl on PATH.
func nerdctlBinary() (string, error) {
	if p := os.Getenv("NERDCTL"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("$NERDCTL names %s, which cannot be run: %v", p, errors.Unwrap(err))
		}
		return path, nil
	}
	if cache, err := os.UserCacheDir(); err == nil {
		if p := filepath.Join(cache, "kwok-run", "nerdctl", nerdctlVersion, "nerdctl"); fileExists(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath("nerdctl")
	if err != nil {
		return "", fmt.Errorf("no nerdctl in $NERDCTL, in the cache or on PATH (run `make nerdctl`)")
	}
	return p, nil
}

// lockMachine makes the test's fixture the only one on the machine until
// the test ends. go test runs the packages' test binaries in parallel, and
// two fixtures would race on what CNI keeps machine-wide: the chains one
// fixture's cleanup removes when it made them, and the shared directories;
// and a fixture's sweep of stale fixtures relies on no other being alive.
// Its own lock file: a test holds binariestest's lock shared, and an
// exclusive lock of the same file would wait for itself.
func lockMachine(t testing.TB) {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "kwok-run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "containerdtest.lock")
	lock, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Logf("waiting for another test's containerd (%s)", path)
		start := time.Now()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			lock.Close()
			t.Fatal(err)
		}
		t.Logf("waited %s for another test's containerd", time.Since(start).Round(time.Millisecond))
	}
	t.Cleanup(func() { lock.Close() })
}
