package containers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/bootstrap"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// nerdctlVersion is the nerdctl .ci/install-nerdctl builds (keep the two in
// step); the test looks for it where the script puts it.
const nerdctlVersion = "v2.2.2"

// What a private containerd and nerdctl's bridge networks need on the host.
var (
	containerdCommands = []string{"containerd", "containerd-shim-runc-v2", "ctr", "runc", "iptables", "iptables-save", "iptables-restore", "ip"}
	cniPlugins         = []string{"bridge", "host-local", "portmap", "firewall", "tuning", "loopback"}
	cniDirs            = []string{"/usr/lib/cni", "/opt/cni/bin"}
)

// The shared places containerd, runc, CNI and nerdctl write to whatever
// their configuration says. The test removes what it left in them, and
// the directories themselves when it created them and they are empty.
const (
	shimSocketDir = "/run/containerd/s" // containerd 1.6's shims' sockets: sha256(address/namespace/id)
	runcRootDir   = "/run/containerd/runc"
	cniStateDir   = "/var/lib/cni"
	// nerdctl's OCI hook keeps /run/nerdctl/<namespace>/<id>/port-reserver.pid
	// for the `sleep infinity` that holds a published port on the host.
	nerdctlRunDir = "/run/nerdctl"
)

// Directories removed at the end when the test made them and they are
// empty. Not /run/containerd/s, nor /run/containerd which holds it: every
// containerd 1.6 on the machine, Docker's too, puts its shims' sockets
// there, and removing it could race a shim of theirs starting.
var sharedDirs = []string{
	"/run/containerd/fifo", "/run/containerd/runc",
	"/var/lib/cni/networks", "/var/lib/cni/results", "/var/lib/cni", "/run/nerdctl",
}

// The chains CNI's portmap and firewall plugins make once per machine, by
// table: removed at the end only when this test made them and nothing but
// their own rules is in them.
var cniGlobalChains = map[string][]string{
	"filter": {"CNI-FORWARD", "CNI-ADMIN", "CNI-ISOLATION-STAGE-1", "CNI-ISOLATION-STAGE-2"},
	"nat":    {"CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ"},
}

// privateContainerd is a containerd for one test, with nerdctl pointed at
// it through global flags, and what the test's networks and containers
// were, seen while they lived, so that their leftovers on the host can be
// removed afterwards.
type privateContainerd struct {
	t *testing.T
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
	// which Down removes but a test process that dies does not
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

// fixtureFile, in the fixture's directory, names the test process that owns
// it, so that a later test can tell a stale fixture from a live one.
type fixtureFile struct {
	PID     int      `json:"pid"`
	Start   string   `json:"start"` // the process's start time, in clock ticks since boot
	Nerdctl string   `json:"nerdctl"`
	Flags   []string `json:"flags"`
	// the baseline
	Chains     map[string]map[string]bool `json:"chains"`
	DirsBefore map[string]bool            `json:"dirsBefore"`
	IPForward  string                     `json:"ipForward"`
}

const fixtureFileName = "fixture.json"

func (p *privateContainerd) logf(format string, args ...any) {
	p.t.Helper()
	if p.stale {
		format = "stale fixture " + p.dir + ": " + format
	} else {
		format = "cleanup: " + format
	}
	p.t.Logf(format, args...)
}

// errorf fails the test for its own fixture; what a stale one leaves is
// only logged.
func (p *privateContainerd) errorf(format string, args ...any) {
	p.t.Helper()
	if p.stale {
		p.logf(format, args...)
		return
	}
	p.t.Errorf("cleanup: "+format, args...)
}

func (p *privateContainerd) writeFixtureFile() error {
	raw, err := json.Marshal(fixtureFile{
		PID: os.Getpid(), Start: procStart(os.Getpid()), Nerdctl: p.nerdctl, Flags: p.flags,
		Chains: p.chains, DirsBefore: p.dirsBefore, IPForward: p.ipForward,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(p.dir, fixtureFileName), raw, 0o600)
}

// procStart is a process's start time (field 22 of /proc/<pid>/stat): with
// the pid, it tells the process from a later one given the same pid.
func procStart(pid int) string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// fixtureOf describes the fixture in dir, a directory named kwrn-<suffix>.
func fixtureOf(t *testing.T, dir string) *privateContainerd {
	return &privateContainerd{
		t: t, dir: dir,
		sock:    filepath.Join(dir, "c.sock"),
		conf:    filepath.Join(dir, "config.toml"),
		netConf: filepath.Join(dir, "net.d"),
		logPath: filepath.Join(dir, "containerd.log"),
		ns:      "kwok-run-test-" + strings.TrimPrefix(filepath.Base(dir), "kwrn-"),
		nets:    map[string]cniNet{}, ids: map[string]bool{}, veths: map[string]string{}, dataDirs: map[string]bool{}, specRead: map[string]bool{},
	}
}

// sweepStale removes the fixtures of test processes that died before their
// cleanup ran: their containerd, shims, containers, mounts, bridges, rules
// and directories, as far as their directory still tells.
func sweepStale(t *testing.T) {
	dirs := append(globOr(filepath.Join(os.TempDir(), "kwrn-*")), globOr("/tmp/kwrn-*")...)
	slices.Sort(dirs)
	for _, dir := range slices.Compact(dirs) {
		var f fixtureFile
		raw, err := os.ReadFile(filepath.Join(dir, fixtureFileName))
		if err != nil || json.Unmarshal(raw, &f) != nil {
			// Not written yet by a fixture starting now, or never: only an
			// old directory is stale.
			if fi, err := os.Stat(dir); err != nil || time.Since(fi.ModTime()) < 10*time.Minute {
				continue
			}
		} else if f.PID > 0 && procStart(f.PID) == f.Start {
			continue // its test is running
		}
		p := fixtureOf(t, dir)
		p.stale, p.nerdctl, p.flags = true, f.Nerdctl, f.Flags
		p.chains, p.dirsBefore, p.ipForward = f.Chains, f.DirsBefore, f.IPForward
		p.look()
		p.logf("its test process (pid %d) is gone; removing what it left", f.PID)
		p.teardown()
	}
}

type cniNet struct {
	bridge  string
	subnets []netip.Prefix
}

// notRun skips the test, loudly, or fails it when the integration tests
// are required.
func notRun(t *testing.T, why string) {
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
		p := filepath.Join(cache, "kwok-run", "nerdctl", nerdctlVersion, "nerdctl")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("nerdctl")
	if err != nil {
		return "", fmt.Errorf("no nerdctl in $NERDCTL, in the cache or on PATH (run `make nerdctl`)")
	}
	return p, nil
}

// realNerdctl starts a containerd of the test's own and returns nerdctl
// driving it, as `kwok-run --backend nerdctl` with KWOKRUN_NERDCTL_FLAGS
// would. Everything is stopped and removed when the test ends, failed or
// not; what an earlier test process left when it died is removed first.
func realNerdctl(t *testing.T) *Engine {
	t.Helper()
	if os.Geteuid() != 0 {
		notRun(t, "the nerdctl test runs a containerd of its own, which needs root")
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
		if all := !slices.ContainsFunc(cniPlugins, func(p string) bool {
			_, err := os.Stat(filepath.Join(d, p))
			return err != nil
		}); all {
			cniDir = d
			break
		}
	}
	if cniDir == "" {
		notRun(t, fmt.Sprintf("the CNI plugins %s are not in %s (run `make nerdctl`)", strings.Join(cniPlugins, ", "), strings.Join(cniDirs, " or ")))
	}

	sweepStale(t)
	dir, err := os.MkdirTemp("", "kwrn-")
	if err != nil {
		t.Fatal(err)
	}
	if len(dir) > 60 {
		os.Remove(dir)
		if dir, err = os.MkdirTemp("/tmp", "kwrn-"); err != nil {
			t.Fatal(err)
		}
	}
	p := fixtureOf(t, dir)
	p.cniDir, p.nerdctl = cniDir, bin
	p.baseline()
	if err := p.writeFixtureFile(); err != nil {
		os.Remove(dir)
		t.Fatal(err)
	}
	// Registered before anything starts: runs after the cluster's Down.
	t.Cleanup(p.cleanup)

	for _, d := range []string{"root", "state", "opt", "net.d", "nerdctl"} {
		if err := os.MkdirAll(filepath.Join(p.dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %[3]q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q
`, filepath.Join(p.dir, "root"), filepath.Join(p.dir, "state"), p.sock, filepath.Join(p.dir, "opt"))
	if err := os.WriteFile(p.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	path, _ := exec.LookPath("containerd")
	p.cmd = exec.Command(path, "--config", p.conf)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	// Its own process group: a ^C to go test, which ends the test process
	// without its cleanups, leaves containerd serving, for the next test's
	// sweepStale to remove its containers through it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	p.exited = make(chan struct{})
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := exec.Command("ctr", "--address", p.sock, "version").CombinedOutput()
		if err == nil {
			break
		}
		select {
		case <-p.exited:
			t.Fatalf("containerd exited at start-up: %v\n%s", p.cmd.ProcessState, p.logTail(30))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd does not answer on %s after 30s: %v: %s\n%s", p.sock, err, out, p.logTail(30))
		}
		time.Sleep(100 * time.Millisecond)
	}

	snapshotter := "native"
	if out, err := exec.Command("ctr", "--address", p.sock, "plugins", "ls").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) >= 4 && f[0] == "io.containerd.snapshotter.v1" && f[1] == "overlayfs" && f[len(f)-1] == "ok" {
				snapshotter = "overlayfs"
			}
		}
	}
	p.flags = []string{
		"--address", p.sock, "--namespace", p.ns, "--snapshotter", snapshotter,
		"--cni-path", p.cniDir, "--cni-netconfpath", p.netConf,
		"--data-root", filepath.Join(p.dir, "nerdctl"), "--cgroup-manager", "cgroupfs",
	}
	// As the CLI reads them from KWOKRUN_NERDCTL_FLAGS: space-separated.
	global := strings.Fields(strings.Join(p.flags, " "))
	if !slices.Equal(global, p.flags) {
		t.Fatalf("the global flags %q do not survive %s's splitting on spaces", p.flags, EnvNerdctlFlags)
	}
	if err := p.writeFixtureFile(); err != nil {
		t.Fatal(err)
	}
	e, err := Find(plan.BackendNerdctl, p.nerdctl, global)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(context.Background(), "version"); err != nil {
		t.Fatalf("nerdctl does not reach the test's containerd: %v", err)
	}
	t.Logf("%s on a containerd of the test's own at %s (namespace %s, snapshotter %s)", p.nerdctl, p.sock, p.ns, snapshotter)
	p.stopWatch, p.watchDone = make(chan struct{}), make(chan struct{})
	go p.watch()
	return e
}

// baseline notes what is on the host before the test: the test removes at
// the end only what it made.
func (p *privateContainerd) baseline() {
	p.chains = map[string]map[string]bool{}
	for table := range cniGlobalChains {
		chains, _, err := iptablesSave(table)
		if err != nil {
			p.t.Logf("iptables-save -t %s: %v", table, err)
		}
		p.chains[table] = chains
	}
	p.dirsBefore = map[string]bool{}
	for _, d := range sharedDirs {
		if _, err := os.Stat(d); err == nil {
			p.dirsBefore[d] = true
		}
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err == nil {
		p.ipForward = strings.TrimSpace(string(b))
	}
}

// watch notes the test's networks (from their CNI configurations, which
// nerdctl removes with the network), containers (from containerd's state)
// and the host ends of their veths (the bridges' ports) while they exist.
func (p *privateContainerd) watch() {
	defer close(p.watchDone)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		p.look()
		select {
		case <-p.stopWatch:
			p.look()
			return
		case <-tick.C:
		}
	}
}

func (p *privateContainerd) look() {
	// nerdctl 2 keeps the networks of a namespace other than default in a
	// directory of that name.
	confs := append(globOr(filepath.Join(p.netConf, "*.conflist")), globOr(filepath.Join(p.netConf, p.ns, "*.conflist"))...)
	for _, f := range confs {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var cl struct {
			Name    string `json:"name"`
			Plugins []struct {
				Type   string `json:"type"`
				Bridge string `json:"bridge"`
				IPAM   struct {
					Ranges [][]struct {
						Subnet string `json:"subnet"`
					} `json:"ranges"`
				} `json:"ipam"`
			} `json:"plugins"`
		}
		if json.Unmarshal(raw, &cl) != nil || cl.Name == "" {
			continue
		}
		n := cniNet{}
		for _, pl := range cl.Plugins {
			if pl.Type != "bridge" {
				continue
			}
			n.bridge = pl.Bridge
			for _, rs := range pl.IPAM.Ranges {
				for _, r := range rs {
					if pfx, err := netip.ParsePrefix(r.Subnet); err == nil {
						n.subnets = append(n.subnets, pfx)
					}
				}
			}
		}
		ports, _ := os.ReadDir(filepath.Join("/sys/class/net", n.bridge, "brif"))
		p.mu.Lock()
		p.nets[cl.Name] = n
		for _, port := range ports {
			p.veths[port.Name()] = n.bridge
		}
		p.mu.Unlock()
	}
	tasks := filepath.Join(p.dir, "state", "io.containerd.runtime.v2.task", p.ns)
	ents, _ := os.ReadDir(tasks)
	for _, e := range ents {
		p.mu.Lock()
		p.ids[e.Name()] = true
		read := p.specRead[e.Name()]
		p.mu.Unlock()
		if read {
			continue
		}
		var spec struct {
			Mounts []struct {
				Source string `json:"source"`
			} `json:"mounts"`
		}
		raw, err := os.ReadFile(filepath.Join(tasks, e.Name(), "config.json"))
		if err != nil || json.Unmarshal(raw, &spec) != nil {
			continue // the bundle is being written: again next time
		}
		p.mu.Lock()
		p.specRead[e.Name()] = true
		p.mu.Unlock()
		for _, m := range spec.Mounts {
			if strings.HasPrefix(m.Source, etcdDataPrefix) && !strings.Contains(m.Source[len(etcdDataPrefix):], "/") {
				p.mu.Lock()
				p.dataDirs[m.Source] = true
				p.mu.Unlock()
			}
		}
	}
}

// etcdDataPrefix is where the cluster keeps etcd's data (cluster.go's
// files).
const etcdDataPrefix = "/dev/shm/kwok-run-etcd-"

func (p *privateContainerd) logTail(n int) string {
	raw, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "the end of containerd's log:\n" + indent(strings.Join(lines, "\n"))
}

// cleanup removes everything the test's containerd and nerdctl made, then
// checks that nothing is left.
func (p *privateContainerd) cleanup() {
	if p.stopWatch != nil {
		close(p.stopWatch)
		<-p.watchDone
	}
	if p.t.Failed() && p.cmd != nil {
		p.t.Log(p.logTail(40))
	}
	nets, ids, veths := p.teardown()
	p.check(nets, ids, veths)
}

// teardown removes what a fixture's containerd and nerdctl made: their
// containers and networks, the daemon and its shims, the mounts, bridges,
// firewall rules, IPAM, cgroup and port-reserver leftovers, and the
// fixture's directory. It returns what it knew of the networks, containers
// and veths.
func (p *privateContainerd) teardown() (map[string]cniNet, []string, map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// 1. Containers and networks, through nerdctl while containerd still
	//    runs: their CNI DEL frees the addresses and most firewall rules.
	if p.flags != nil && p.nerdctl != "" && p.daemonRunning() {
		n := func(args ...string) (string, error) {
			out, err := exec.CommandContext(ctx, p.nerdctl, append(slices.Clone(p.flags), args...)...).CombinedOutput()
			return strings.TrimSpace(string(out)), err
		}
		if ids, err := n("ps", "--all", "--quiet"); err == nil && ids != "" {
			p.logf("removing containers left: %s", strings.Join(strings.Fields(ids), " "))
			if out, err := n(append([]string{"rm", "--force"}, strings.Fields(ids)...)...); err != nil {
				p.logf("nerdctl rm: %v: %s", err, out)
			}
		}
		if nets, err := n("network", "ls", "--format", "{{.Name}}"); err == nil {
			for _, net := range strings.Fields(nets) {
				if net == "bridge" || net == "host" || net == "none" {
					continue
				}
				p.logf("removing network %s, left", net)
				if out, err := n("network", "rm", net); err != nil {
					p.logf("nerdctl network rm %s: %v: %s", net, err, out)
				}
			}
		}
	}

	// 2. containerd: TERM, then KILL.
	p.stopDaemon()

	// 3. Containers and shims that outlive containerd: runc's state of our
	//    namespace (runc delete runs nerdctl's poststop hook: CNI DEL and
	//    the port reserver's end), then the shims whose -address is our
	//    socket.
	p.look()
	runcRoot := filepath.Join(runcRootDir, p.ns)
	if ents, err := os.ReadDir(runcRoot); err == nil {
		for _, e := range ents {
			p.logf("runc delete --force %s", e.Name())
			if out, err := exec.Command("runc", "--root", runcRoot, "delete", "--force", e.Name()).CombinedOutput(); err != nil {
				p.logf("runc delete: %v: %s", err, out)
			}
		}
	}
	os.Remove(runcRoot)
	// The port reservers of containers whose network teardown never ran.
	reservers := filepath.Join(nerdctlRunDir, p.ns)
	for _, f := range globOr(filepath.Join(reservers, "*", "port-reserver.pid")) {
		raw, _ := os.ReadFile(f)
		pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil || pid <= 1 {
			continue
		}
		if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); string(cmdline) == "sleep\x00infinity\x00" && !isZombie(pid) {
			p.logf("killing nerdctl's port reserver (pid %d)", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	os.RemoveAll(reservers)
	for _, pid := range p.processes() {
		p.logf("killing %s (pid %d)", pid.name, pid.pid)
		syscall.Kill(pid.pid, syscall.SIGKILL)
	}
	for deadline := time.Now().Add(10 * time.Second); len(p.processes()) > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	p.mu.Lock()
	ids := slices.Sorted(maps.Keys(p.ids))
	nets := maps.Clone(p.nets)
	veths := maps.Clone(p.veths)
	dataDirs := slices.Sorted(maps.Keys(p.dataDirs))
	p.mu.Unlock()
	for _, d := range dataDirs {
		if fileExists(d) {
			p.logf("removing etcd's data %s, left", d)
			os.RemoveAll(d)
		}
	}
	for _, id := range ids {
		// containerd 1.6's shim socket: /run/containerd/s/<sha256 of
		// address/namespace/id>, left when a shim is killed.
		sum := sha256.Sum256([]byte(filepath.Join(p.sock, p.ns, id)))
		os.Remove(filepath.Join(shimSocketDir, hex.EncodeToString(sum[:])))
	}

	// 4. Mounts under the directory (rootfs overlays, snapshots), deepest
	//    first.
	for _, m := range mountsUnder(p.dir) {
		if err := syscall.Unmount(m, 0); err != nil {
			p.logf("umount %s: %v; detaching it", m, err)
			syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}

	// 5. Cgroups of our namespace (cgroupfs: /<namespace>/<id>), every
	//    hierarchy.
	for _, root := range cgroupRoots() {
		removeCgroup(filepath.Join(root, p.ns))
	}

	// 6. Network leftovers: veths, bridges, their firewall rules,
	//    per-container chains, IPAM state; the machine-wide CNI chains and
	//    directories if the test made them.
	p.removeNetworks(nets, ids, veths)
	for _, d := range sharedDirs {
		if p.dirsBefore != nil && !p.dirsBefore[d] {
			os.Remove(d) // only when empty
		}
	}
	if p.ipForward == "0" {
		os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("0\n"), 0o644)
	}

	// 7. The directory.
	if err := os.RemoveAll(p.dir); err != nil {
		p.errorf("remove %s: %v", p.dir, err)
	}
	return nets, ids, veths
}

// daemonRunning: our containerd is still there.
func (p *privateContainerd) daemonRunning() bool {
	return slices.ContainsFunc(p.processes(), func(pr proc) bool { return pr.name == "containerd" })
}

// stopDaemon stops our containerd: TERM, and KILL after 10s.
func (p *privateContainerd) stopDaemon() {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		for _, pr := range p.processes() {
			if pr.name == "containerd" {
				if sig == syscall.SIGKILL {
					p.logf("containerd did not stop on TERM within 10s; killing it")
				}
				syscall.Kill(pr.pid, sig)
			}
		}
		for deadline := time.Now().Add(10 * time.Second); p.daemonRunning() && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if !p.daemonRunning() {
			break
		}
	}
	if p.exited != nil {
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			p.errorf("containerd (pid %d) was not reaped", p.cmd.Process.Pid)
		}
	}
}

// check fails the test for anything of the test's containerd left on the
// host after cleanup.
func (p *privateContainerd) check(nets map[string]cniNet, ids []string, veths map[string]string) {
	if len(ids) > 0 && len(nets) == 0 {
		p.errorf("containers ran but no network of theirs was seen in %s; their leftovers could not be looked for", p.netConf)
	}
	if left := p.processes(); len(left) > 0 {
		p.errorf("processes of the test's containerd still running: %v", left)
	}
	if m := mountsUnder(p.dir); len(m) > 0 {
		p.errorf("mounts left: %v", m)
	}
	var left []string
	for _, d := range []string{p.dir, filepath.Join(runcRootDir, p.ns), filepath.Join(nerdctlRunDir, p.ns)} {
		if _, err := os.Stat(d); err == nil {
			left = append(left, d)
		}
	}
	for _, root := range cgroupRoots() {
		if _, err := os.Stat(filepath.Join(root, p.ns)); err == nil {
			left = append(left, filepath.Join(root, p.ns))
		}
	}
	for _, id := range ids {
		sum := sha256.Sum256([]byte(filepath.Join(p.sock, p.ns, id)))
		if f := filepath.Join(shimSocketDir, hex.EncodeToString(sum[:])); fileExists(f) {
			left = append(left, f)
		}
	}
	for _, d := range sharedDirs {
		if !p.dirsBefore[d] && fileExists(d) {
			left = append(left, d)
		}
	}
	for v, br := range veths {
		if p.ourVeth(v, br) {
			left = append(left, "veth "+v)
		}
	}
	ours := p.chainsOf(nets, ids)
	for name, n := range nets {
		if n.bridge != "" && linkExists(n.bridge) {
			left = append(left, "bridge "+n.bridge)
		}
		if f := filepath.Join(cniStateDir, "networks", name); fileExists(f) {
			left = append(left, f)
		}
		left = append(left, globOr(filepath.Join(cniStateDir, "results", name+"-"+p.ns+"-*"))...)
	}
	for _, table := range []string{"filter", "nat"} {
		chains, rules, err := iptablesSave(table)
		if err != nil {
			continue
		}
		for ch := range chains {
			if ours[ch] || (p.chains != nil && slices.Contains(cniGlobalChains[table], ch) && !p.chains[table][ch]) {
				left = append(left, "chain "+table+"/"+ch)
			}
		}
		for _, r := range rules {
			for name, n := range nets {
				if n.bridge != "" && slices.Contains(strings.Fields(r), n.bridge) || strings.Contains(r, `"`+name+`"`) {
					left = append(left, "rule "+table+": "+r)
				}
			}
		}
	}
	if len(left) > 0 {
		p.errorf("left on the host:\n%s", indent(strings.Join(left, "\n")))
	}
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

type proc struct {
	pid  int
	name string
}

func (p proc) String() string { return fmt.Sprintf("%s[%d]", p.name, p.pid) }

// processes are our containerd, the shims it started, and nerdctl's
// processes on it (a `wait` of a test process that died, the logging
// binary of each container): by their command lines, which name our
// config, our socket or our directory.
func (p *privateContainerd) processes() []proc {
	var out []proc
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		name := filepath.Base(argv[0])
		switch {
		case name == "containerd" && argFollows(argv, "--config", p.conf):
		case strings.HasPrefix(name, "containerd-shim") && (argFollows(argv, "-address", p.sock) || argFollows(argv, "--address", p.sock)):
		case strings.Contains(name, "nerdctl") && (argFollows(argv, "--address", p.sock) || slices.ContainsFunc(argv, func(a string) bool { return strings.HasPrefix(a, p.dir+"/") })):
		default:
			continue
		}
		if isZombie(pid) {
			continue
		}
		out = append(out, proc{pid, name})
	}
	return out
}

func argFollows(argv []string, flag, value string) bool {
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == flag && argv[i+1] == value {
			return true
		}
	}
	return slices.Contains(argv, flag+"="+value)
}

func isZombie(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// mountsUnder lists the mount points under dir, deepest first.
func mountsUnder(dir string) []string {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		m := unescapeMount(f[4])
		if strings.HasPrefix(m, dir+"/") {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(out)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupRoots are the mount points of the cgroup hierarchies.
func cgroupRoots() []string {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		_, after, ok := strings.Cut(line, " - ")
		f := strings.Fields(line)
		if !ok || len(f) < 5 {
			continue
		}
		if typ := strings.Fields(after); len(typ) > 0 && (typ[0] == "cgroup" || typ[0] == "cgroup2") {
			out = append(out, unescapeMount(f[4]))
		}
	}
	return out
}

// removeCgroup removes a cgroup and its children (rmdir, deepest first).
func removeCgroup(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.IsDir() {
			removeCgroup(filepath.Join(dir, e.Name()))
		}
	}
	syscall.Rmdir(dir)
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// removeNetworks removes what CNI leaves of the test's networks: veths
// that outlive their container, the bridges (when nerdctl network rm never
// ran), the firewall plugin's isolation rules naming them (network rm
// leaves those), the bridge plugin's per-container nat chains (left empty
// on DEL), any rule of a container whose DEL never ran, host-local's IPAM
// directories and CNI's cached results; then the machine-wide CNI chains
// when they were not there before the test and hold nothing but their own
// rules.
func (p *privateContainerd) removeNetworks(nets map[string]cniNet, ids []string, veths map[string]string) {
	bridges := map[string]bool{}
	var subnets []netip.Prefix
	for name, n := range nets {
		if n.bridge != "" && n.bridge != "docker0" {
			bridges[n.bridge] = true
		}
		subnets = append(subnets, n.subnets...)
		if name != "" && !strings.ContainsAny(name, "/") {
			os.RemoveAll(filepath.Join(cniStateDir, "networks", name))
			for _, id := range ids {
				for _, f := range globOr(filepath.Join(cniStateDir, "results", name+"-"+p.cniID(id)+"-*")) {
					os.Remove(f)
				}
			}
		}
	}
	// The host ends of veths whose container's network namespace outlives
	// the container (an orphaned TCP socket keeps it until the socket times
	// out): nerdctl's DEL passes no namespace, so CNI does not delete them.
	for v, br := range veths {
		if p.ourVeth(v, br) {
			p.logf("ip link del %s (was a port of %s)", v, br)
			if out, err := exec.Command("ip", "link", "del", v).CombinedOutput(); err != nil {
				p.errorf("ip link del %s: %v: %s", v, err, out)
			}
		}
	}
	for br := range bridges {
		if linkExists(br) {
			p.logf("ip link del %s", br)
			if out, err := exec.Command("ip", "link", "del", br).CombinedOutput(); err != nil {
				p.errorf("ip link del %s: %v: %s", br, err, out)
			}
		}
	}
	ours := p.chainsOf(nets, ids)
	for _, table := range []string{"filter", "nat"} {
		chains, rules, err := iptablesSave(table)
		if err != nil {
			p.errorf("%v", err)
			continue
		}
		for _, r := range rules {
			if p.ruleIsOurs(r, bridges, subnets, ids, ours) {
				p.iptablesDelete(table, r)
			}
		}
		for ch := range chains {
			if ours[ch] {
				p.iptables("-t", table, "-F", ch)
				p.iptables("-t", table, "-X", ch)
			}
		}
	}
	// Machine-wide chains the test made, if nothing but their own rules is
	// in them (another user of CNI would have added per-bridge or
	// per-address rules). Not when the baseline is lost (a stale fixture
	// without its file): whether they were there before is not known.
	for table, globals := range cniGlobalChains {
		if p.chains == nil {
			break
		}
		chains, rules, err := iptablesSave(table)
		if err != nil {
			continue
		}
		var made []string
		for _, ch := range globals {
			if chains[ch] && !p.chains[table][ch] {
				made = append(made, ch)
			}
		}
		inUse := false
		for _, r := range rules {
			f := strings.Fields(r)
			if len(f) > 1 && slices.Contains(made, f[1]) && slices.ContainsFunc(f, func(s string) bool {
				return s == "-i" || s == "-o" || s == "-s" || s == "-d" || strings.HasPrefix(s, "CNI-DN-") || (strings.HasPrefix(s, "CNI-") && len(s) == 28)
			}) {
				inUse = true
			}
		}
		if len(made) == 0 {
			continue
		}
		if inUse {
			p.logf("the CNI chains %v of table %s were made by this test but another user has rules in them; left", made, table)
			continue
		}
		for _, r := range rules {
			f := strings.Fields(r)
			if len(f) > 1 && !slices.Contains(made, f[1]) && slices.ContainsFunc(made, func(ch string) bool { return jumpsTo(f, ch) }) {
				p.iptablesDelete(table, r)
			}
		}
		for _, ch := range made {
			p.iptables("-t", table, "-F", ch)
		}
		for _, ch := range made {
			p.iptables("-t", table, "-X", ch)
		}
	}
}

// cniID is the container id nerdctl gives CNI: <namespace>-<id>.
func (p *privateContainerd) cniID(id string) string { return p.ns + "-" + id }

// chainsOf are the bridge plugin's masquerade chain and portmap's DNAT
// chain of each container on each network: CNI-<sha512(network+cni
// id)>, CNI-DN-<...>, 28 characters. nerdctl's DEL passes no network
// namespace, so the bridge plugin skips removing the first; nerdctl then
// deletes the rules naming the container, which leaves it empty.
func (p *privateContainerd) chainsOf(nets map[string]cniNet, ids []string) map[string]bool {
	ours := map[string]bool{}
	for name := range nets {
		for _, id := range ids {
			sum := sha512.Sum512([]byte(name + p.cniID(id)))
			h := hex.EncodeToString(sum[:])
			ours[("CNI-" + h)[:28]] = true
			ours[("CNI-DN-" + h)[:28]] = true
		}
	}
	return ours
}

// ourVeth: a veth seen on one of our bridges, still there, and on no other
// bridge since.
func (p *privateContainerd) ourVeth(name, bridge string) bool {
	if !strings.HasPrefix(name, "veth") || !linkExists(name) {
		return false
	}
	if _, err := os.Stat(filepath.Join("/sys/class/net", name, "brport")); err == nil {
		master, _ := os.Readlink(filepath.Join("/sys/class/net", name, "master"))
		return filepath.Base(master) == bridge
	}
	return true
}

// ruleIsOurs: a rule that names one of our bridges, jumps to one of our
// chains, carries one of our container ids, or, in a CNI chain, an address
// of our subnets.
func (p *privateContainerd) ruleIsOurs(rule string, bridges map[string]bool, subnets []netip.Prefix, ids []string, ours map[string]bool) bool {
	f := strings.Fields(rule)
	if len(f) < 2 || ours[f[1]] {
		return false // inside our chains: flushed with them
	}
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "-i", "-o":
			if bridges[f[i+1]] {
				return true
			}
		case "-j", "-g":
			if ours[f[i+1]] {
				return true
			}
		case "-s", "-d":
			if !strings.HasPrefix(f[1], "CNI-") {
				continue
			}
			addr := f[i+1]
			if pfx, err := netip.ParsePrefix(addr); err == nil {
				addr = pfx.Addr().String()
			}
			if ip, err := netip.ParseAddr(addr); err == nil && slices.ContainsFunc(subnets, func(s netip.Prefix) bool { return s.Contains(ip) }) {
				return true
			}
		}
	}
	return slices.ContainsFunc(ids, func(id string) bool { return strings.Contains(rule, id) })
}

func jumpsTo(f []string, chain string) bool {
	for i := 0; i+1 < len(f); i++ {
		if (f[i] == "-j" || f[i] == "-g") && f[i+1] == chain {
			return true
		}
	}
	return false
}

func globOr(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	return m
}

// iptablesSave lists a table's chains and rules ("-A CHAIN ...").
func iptablesSave(table string) (chains map[string]bool, rules []string, err error) {
	var stderr bytes.Buffer
	cmd := exec.Command("iptables-save", "-t", table)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("iptables-save -t %s: %v: %s", table, err, stderr.String())
	}
	chains = map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, ":"):
			chains[strings.Fields(line[1:])[0]] = true
		case strings.HasPrefix(line, "-A "):
			rules = append(rules, line)
		}
	}
	return chains, rules, nil
}

// iptablesDelete deletes a rule as iptables-save printed it: iptables-restore
// reads its quoting back.
func (p *privateContainerd) iptablesDelete(table, rule string) {
	p.logf("iptables -t %s %s", table, "-D"+strings.TrimPrefix(rule, "-A"))
	cmd := exec.Command("iptables-restore", "-w", "--noflush")
	cmd.Stdin = strings.NewReader(fmt.Sprintf("*%s\n-D%s\nCOMMIT\n", table, strings.TrimPrefix(rule, "-A")))
	if out, err := cmd.CombinedOutput(); err != nil {
		p.errorf("delete the rule %q of table %s: %v: %s", rule, table, err, out)
	}
}

func (p *privateContainerd) iptables(args ...string) {
	p.logf("iptables %s", strings.Join(args, " "))
	if out, err := exec.Command("iptables", append([]string{"-w"}, args...)...).CombinedOutput(); err != nil {
		p.errorf("iptables %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// randomHex is n random bytes, in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// The whole life of a nerdctl cluster, on a containerd of the test's own,
// as TestDockerCluster's on Docker: up from images packed from the cached
// binaries, a node Ready and a pod Running, the apiserver killed and
// started again, a container that dies on its own reported, and a
// teardown that leaves nothing with the run's label; then the test's
// containerd stopped and everything it made on the host removed.
func TestNerdctlCluster(t *testing.T) {
	// The binaries first: their lock is released after the containerd's
	// cleanup has run.
	r := binariestest.Cached(t)
	e := realNerdctl(t)
	reg := &registry.Registry{Dir: t.TempDir()}
	runDir := filepath.Join(t.TempDir(), "run")
	ctx := context.Background()
	name := "nerdctl-test-" + randomHex(2)
	c, err := Up(ctx, backends.Spec{Cluster: scenario.DefaultCluster()}, Options{
		Name: name, RunDir: runDir, Engine: e, Binaries: r, Registry: reg,
		Log: testWriter{t}, StartTimeout: 2 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Down(context.Background()) })
	entry, err := reg.Get(name)
	if err != nil || entry.Run != c.run || entry.Backend != plan.BackendNerdctl || !slices.Equal(entry.Engine, e.Argv) {
		t.Fatalf("registry entry %+v, %v: want the run and engine, with its global flags, recorded", entry, err)
	}
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-0", Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"}},
		Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")},
		},
	}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node Ready", 30*time.Second, func() (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, "node-0", metav1.GetOptions{})
		return err == nil && bootstrap.Ready(n), err
	})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-0", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod bound by kube-scheduler and Running through KWOK", 30*time.Second, func() (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "pod-0", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == "node-0" && p.Status.Phase == corev1.PodRunning, err
	})
	if got := len(c.Endpoints()); got != 5 {
		t.Errorf("%d metrics endpoints, want 5", got)
	}
	for _, comp := range c.Components() {
		if comp.SHA256 == "" || comp.Binary == "" {
			t.Errorf("component %s has no image or image id: %+v", comp.Name, comp)
		}
	}

	// A fault on purpose: the apiserver killed and started again.
	if err := c.Stop(ctx, plan.APIServer, plan.SignalKill); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, plan.APIServer); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "pod-0", metav1.GetOptions{}); err != nil {
		t.Fatalf("the pod after the apiserver's restart: %v", err)
	}
	// The other components reach the restarted apiserver by its name.
	pod1 := pod.DeepCopy()
	pod1.Name = "pod-1"
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod1, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a pod bound and Running after the apiserver's restart", 60*time.Second, func() (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "pod-1", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == "node-0" && p.Status.Phase == corev1.PodRunning, err
	})
	select {
	case err := <-c.Failed():
		t.Fatalf("a stop on purpose was reported as a failure: %v", err)
	default:
	}

	// Leave the fault's grace period, then a container that dies on its own.
	c.faultMu.Lock()
	c.faultUntil = time.Time{}
	c.faultMu.Unlock()
	if _, err := e.Run(ctx, "kill", c.byName[plan.Scheduler].name); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.Failed():
		if !strings.Contains(err.Error(), "scheduler") || !strings.Contains(err.Error(), "exited with code 137") {
			t.Errorf("failure %q: want the component and its exit code", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a container killed from outside was not reported")
	}

	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, e, c.run); left != "" {
		t.Errorf("left behind after Down: %s", left)
	}
	if _, err := reg.Get(name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("registry entry still there after Down: %v", err)
	}
	if _, err := os.Stat(c.dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("etcd's data still there after Down: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(runDir, "logs", "apiserver.log"))
	if err != nil || len(raw) == 0 {
		t.Errorf("the apiserver's log was not kept: %v", err)
	}
}
