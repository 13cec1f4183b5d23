package containerdtest

import (
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fixture is a containerd for one test, with nerdctl pointed at it through
// global flags, and what the test's networks and containers were, seen
// while they lived, so that their leftovers on the host can be removed
// afterwards.
type fixture struct {
	t testing.TB
	// stale: left by a test process that died before its cleanup ran
	// (killed, or timed out); removed by the next test's fixture.
	stale   bool
	dir     string // short: unix socket paths must stay under 108 bytes
	sock    string
	conf    string
	netConf string
	logPath string
	ns      string
	cniDir  string
	nerdctl string
	flags   []string

	cmd    *exec.Cmd
	exited chan struct{}

	// seen while the test ran
	mu    sync.Mutex
	nets  map[string]cniNet // by network name
	ids   map[string]bool   // container ids
	veths map[string]string // host ends of the containers' veths: their bridge
	// etcd's data directories on the host (bind mounts of the containers),
	// which the cluster's Down removes but a test process that dies does
	// not
	dataDirs map[string]bool
	specRead map[string]bool // containers whose OCI spec was read

	stopWatch chan struct{}
	watchDone chan struct{}

	// before the test (kept in the fixture's file for a later sweep; when
	// that is lost, nil, and the machine-wide chains and directories are
	// left alone)
	chains     map[string]map[string]bool // by table
	dirsBefore map[string]bool
	ipForward  string
}

type cniNet struct {
	bridge  string
	subnets []netip.Prefix
}

// newFixture describes the fixture in dir, a directory named kwrn-<suffix>.
func newFixture(t testing.TB, dir string) *fixture {
	return &fixture{
		t: t, dir: dir,
		sock:    filepath.Join(dir, "c.sock"),
		conf:    filepath.Join(dir, "config.toml"),
		netConf: filepath.Join(dir, "net.d"),
		logPath: filepath.Join(dir, "containerd.log"),
		ns:      "kwok-run-test-" + strings.TrimPrefix(filepath.Base(dir), "kwrn-"),
		nets:    map[string]cniNet{}, ids: map[string]bool{}, veths: map[string]string{}, dataDirs: map[string]bool{}, specRead: map[string]bool{},
	}
}

func (f *fixture) logf(format string, args ...any) {
	f.t.Helper()
	if f.stale {
		format = "stale fixture " + f.dir + ": " + format
	} else {
		format = "cleanup: " + format
	}
	f.t.Logf(format, args...)
}

// errorf fails the test for its own fixture; what a stale one leaves is
// only logged.
func (f *fixture) errorf(format string, args ...any) {
	f.t.Helper()
	if f.stale {
		f.logf(format, args...)
		return
	}
	f.t.Errorf("cleanup: "+format, args...)
}

// fixtureFile, in the fixture's directory, is what a later test's sweep
// needs to remove the fixture if its test process dies before its cleanup
// runs: how to reach its containerd, and the baseline.
type fixtureFile struct {
	PID        int                        `json:"pid"`
	Nerdctl    string                     `json:"nerdctl"`
	Flags      []string                   `json:"flags"`
	Chains     map[string]map[string]bool `json:"chains"`
	DirsBefore map[string]bool            `json:"dirsBefore"`
	IPForward  string                     `json:"ipForward"`
}

const fixtureFileName = "fixture.json"

func (f *fixture) writeFile() error {
	raw, err := json.Marshal(fixtureFile{
		PID: os.Getpid(), Nerdctl: f.nerdctl, Flags: f.flags,
		Chains: f.chains, DirsBefore: f.dirsBefore, IPForward: f.ipForward,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(f.dir, fixtureFileName), raw, 0o600)
}

// sweepStale removes the fixtures of test processes that died before their
// cleanup ran: their containerd, shims, containers, mounts, bridges, rules
// and directories, as far as their directory still tells. It runs under
// the machine lock, which a dead process no longer holds: every fixture
// directory it finds is stale.
func sweepStale(t testing.TB) {
	dirs := append(globOr(filepath.Join(os.TempDir(), "kwrn-*")), globOr("/tmp/kwrn-*")...)
	slices.Sort(dirs)
	for _, dir := range slices.Compact(dirs) {
		f := newFixture(t, dir)
		f.stale = true
		var ff fixtureFile
		if raw, err := os.ReadFile(filepath.Join(dir, fixtureFileName)); err == nil && json.Unmarshal(raw, &ff) == nil {
			f.nerdctl, f.flags = ff.Nerdctl, ff.Flags
			f.chains, f.dirsBefore, f.ipForward = ff.Chains, ff.DirsBefore, ff.IPForward
		}
		f.look()
		f.logf("its test process (pid %d) is gone; removing what it left", ff.PID)
		f.teardown()
	}
}

// baseline notes what is on the host before the test: the cleanup removes
// only what the test made.
func (f *fixture) baseline() {
	f.chains = map[string]map[string]bool{}
	for table := range cniGlobalChains {
		chains, _, err := iptablesSave(table)
		if err != nil {
			f.t.Logf("%v", err)
		}
		f.chains[table] = chains
	}
	f.dirsBefore = map[string]bool{}
	for _, d := range sharedDirs {
		if fileExists(d) {
			f.dirsBefore[d] = true
		}
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err == nil {
		f.ipForward = strings.TrimSpace(string(b))
	}
}
