package main

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/containers"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/reports"
)

// actionCase is a scenario whose step "target" runs one kind of action for
// minutes, after a step "setup" that makes what it acts on.
type actionCase struct {
	kind, setup, target string
	// quick actions end at once; their step holds for its duration, so
	// the signal goes as the step starts, while the action runs or just
	// after.
	quick bool
	// paced actions send requests from their start: two seconds in, they
	// have done some.
	paced bool
	files map[string]string
	args  []string
}

func actionCases() []actionCase {
	var many strings.Builder
	for i := range 500 {
		fmt.Fprintf(&many, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied-%d\n  namespace: default\n---\n", i)
	}
	return []actionCase{
		{kind: "create_nodes", paced: true, target: `create_nodes {
    pool = "p"
    count = 3000
    rate = 20
  }`},
		{kind: "delete_nodes", paced: true, setup: `create_nodes {
    pool = "p"
    count = 300
  }`, target: `delete_nodes {
    pool = "p"
    count = 300
    rate = 5
  }`},
		{kind: "churn_nodes", setup: `create_nodes {
    pool = "p"
    count = 20
  }`, target: `churn_nodes {
    pool = "p"
    count = 2
    every = "1s"
    duration = "10m"
  }`},
		{kind: "create_pods", paced: true, target: `create_pods "w" {
    count = 5000
    rate = 20
  }`},
		{kind: "scale_pods", paced: true, setup: `create_pods "w" {
    kind = "Deployment"
    count = 100
    replicas = 1
  }`, target: `scale_pods "w" {
    count = 200
    rate = 5
  }`},
		{kind: "delete_pods", paced: true, setup: `create_pods "w" {
    count = 200
  }`, target: `delete_pods {
    wave = "w"
    rate = 5
  }`},
		{kind: "create_objects", paced: true, target: `create_objects "o" {
    count = 5000
    rate = 20
    object = { apiVersion = "v1", kind = "ConfigMap" }
  }`},
		{kind: "update_objects", setup: `create_objects "o" {
    count = 20
    object = { apiVersion = "v1", kind = "ConfigMap" }
  }`, target: `update_objects "o" {
    percent = 50
    every = "1s"
    duration = "10m"
  }`},
		{kind: "delete_objects", paced: true, setup: `create_objects "o" {
    count = 300
    object = { apiVersion = "v1", kind = "ConfigMap" }
  }`, target: `delete_objects "o" {
    rate = 5
  }`},
		{kind: "apply", paced: true, target: `apply {
    files = ["many.yaml"]
    rate = 10
  }`, files: map[string]string{"many.yaml": many.String()}},
		{kind: "restart_component", target: `restart_component {
    component = "scheduler"
    down_for = "10m"
  }`},
		{kind: "stop_component", quick: true, target: `stop_component {
    component = "controller_manager"
  }`},
		{kind: "wait", setup: `create_pods "w" {
    count = 5
    node_selector = { nowhere = "true" }
  }`, target: `wait "pods_running" {
    wave = "w"
    timeout = "10m"
  }`},
		// sleep: TestSignalDuringARun.
		{kind: "exec", target: `exec {
    command = ["sh", "-c", "sleep 3599.25; true"]
  }`, args: []string{"--allow-exec"}},
	}
}

func (c actionCase) scenario() string {
	s := "scenario \"interrupted\" {}\nnode_pool \"p\" {\n  count = 3000\n}\n"
	if c.setup != "" {
		s += "step \"setup\" {\n  " + c.setup + "\n}\n"
	}
	s += "step \"target\" {\n  " + c.target + "\n"
	if c.quick {
		s += "  duration = \"10m\"\n"
	}
	return s + "}\n"
}

// SIGINT or SIGTERM while each kind of action runs: exit 130 or 143, a
// partial report that says the run was interrupted in that step, and no
// process (the components', an exec's), registry entry, listening port,
// etcd data or temporary file left.
func TestSignalDuringEachAction(t *testing.T) {
	binariestest.Cached(t)
	bin := build(t)
	for i, c := range actionCases() {
		sig, code := syscall.SIGINT, 130
		if i%2 == 1 {
			sig, code = syscall.SIGTERM, 143
		}
		t.Run(c.kind+"/"+sig.String(), func(t *testing.T) {
			r := startRun(t, bin, c.scenario(), c.files, c.args...)
			r.waitFor(t, "[target 0s] started", time.Minute)
			ports := r.ports(t)
			if !c.quick {
				time.Sleep(2 * time.Second)
			}
			r.cmd.Process.Signal(sig)
			rep := r.finished(t, code, time.Minute)
			if o := rep.Outcome; o.Status != reports.Interrupted || o.ExitCode != code || o.StoppedIn != "target" {
				t.Errorf("outcome %+v, want interrupted in target with exit %d", o, code)
			}
			// What was created up to the signal was seen, the last
			// creations too.
			if m := rep.Measurement; m.Unseen != 0 {
				t.Errorf("%d created objects never seen: %v", m.Unseen, m.UnseenExamples)
			}
			if st := rep.Steps[len(rep.Steps)-1]; len(st.Actions) != 1 || st.Actions[0].Kind != c.kind {
				t.Errorf("the report does not show the interrupted %s: %+v", c.kind, st)
			} else if c.paced && st.Actions[0].Done == 0 {
				t.Errorf("the %s had done nothing in two seconds: %+v", c.kind, st.Actions[0])
			}
			r.assertNothingLeft(t)
			assertNotListening(t, ports)
			if out, _ := exec.Command("pgrep", "-f", "sleep 3599.25").Output(); len(out) > 0 {
				t.Errorf("the exec's command is left: %s", out)
			}
		})
	}
}

// SIGTERM to a run on docker while it creates pods: exit 143, a partial
// report, and no container, network or volume of the run left.
func TestSignalDuringADockerRun(t *testing.T) {
	binariestest.Cached(t)
	docker(t)
	i := slices.IndexFunc(actionCases(), func(c actionCase) bool { return c.kind == "create_pods" })
	c := actionCases()[i]
	r := startRun(t, build(t), strings.Replace(c.scenario(), "scenario \"interrupted\" {}", "scenario \"interrupted\" {}\ncluster {\n  backend = \"docker\"\n}", 1), nil)
	r.waitFor(t, "[target 0s] started", time.Minute)
	run := r.entryNow(t).Run
	if run == "" {
		t.Fatalf("the registry entry names no run label: %+v", r.entry)
	}
	ports := r.ports(t)
	published, err := exec.Command("docker", "ps", "--filter", "label="+containers.RunLabel+"="+run, "--format", "{{.Ports}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`127\.0\.0\.1:(\d+)->`).FindAllStringSubmatch(string(published), -1) {
		p, _ := strconv.Atoi(m[1])
		ports = append(ports, p)
	}
	if len(ports) < 5 {
		t.Fatalf("want a published port per component, found %v in %q", ports, published)
	}
	time.Sleep(2 * time.Second)
	r.cmd.Process.Signal(syscall.SIGTERM)
	if o := r.finished(t, 143, time.Minute).Outcome; o.Status != reports.Interrupted || o.StoppedIn != "target" {
		t.Errorf("outcome %+v, want interrupted in target", o)
	}
	r.assertNothingLeft(t)
	assertNotListening(t, ports)
	assertNoContainersLeft(t, run)
}

// entryNow reads the run's registry entry.
func (r *longRun) entryNow(t *testing.T) *registry.Entry {
	t.Helper()
	entries, err := r.registry().List()
	if err != nil || len(entries) != 1 {
		t.Fatalf("want the run's one registry entry, got %v (%v)", entries, err)
	}
	r.entry = entries[0]
	return r.entry
}

// ports are the TCP ports the run listens on: its components' and the
// apiserver's as the kubeconfig names it (a container's, published).
func (r *longRun) ports(t *testing.T) []int {
	t.Helper()
	e := r.entryNow(t)
	var pids []int
	for _, p := range e.Processes {
		pids = append(pids, p.PID)
	}
	ports := listeningPorts(t, pids)
	cfg, err := clientcmd.BuildConfigFromFlags("", e.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(strings.TrimPrefix(cfg.Host, "https://"), ":")
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("the kubeconfig's server %s has no port", cfg.Host)
	}
	if len(ports) < len(pids) {
		t.Fatalf("found %d listening ports for %d processes: %v", len(ports), len(pids), ports)
	}
	return append(ports, p)
}

// listeningPorts reads the TCP ports that pids listen on from /proc: their
// sockets' inodes, matched against the listening sockets of the system.
func listeningPorts(t *testing.T, pids []int) []int {
	t.Helper()
	inodes := map[string]bool{}
	for _, pid := range pids {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if inode, ok := strings.CutPrefix(link, "socket:["); ok {
				inodes[strings.TrimSuffix(inode, "]")] = true
			}
		}
	}
	var ports []int
	for _, l := range listening(t) {
		if inodes[l.inode] {
			ports = append(ports, l.port)
		}
	}
	return ports
}

type listener struct {
	port  int
	inode string
}

// listening is every listening TCP socket of the system.
func listening(t *testing.T) []listener {
	t.Helper()
	var out []listener
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// local_address is field 1 (addr:port in hex), st field 3
			// (0A: LISTEN), inode field 9.
			if len(fields) < 10 || fields[3] != "0A" {
				continue
			}
			_, hexPort, _ := strings.Cut(fields[1], ":")
			port, err := strconv.ParseInt(hexPort, 16, 32)
			if err == nil {
				out = append(out, listener{port: int(port), inode: fields[9]})
			}
		}
		f.Close()
	}
	return out
}

// assertNotListening checks that nothing listens on ports any more.
func assertNotListening(t *testing.T, ports []int) {
	t.Helper()
	for _, l := range listening(t) {
		for _, p := range ports {
			if l.port == p {
				t.Errorf("port %d still listened on", p)
			}
		}
	}
}

// SIGINT or SIGTERM while kwok-run downloads its binaries: the exit code
// names the signal, the report says the run stopped in the cluster's
// start-up, and neither a partial download in the cache nor a temporary
// file is left.
func TestSignalDuringDownload(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			downloading := make(chan struct{}, 10)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				digest := strings.Repeat("ab", 32)
				switch {
				case strings.HasSuffix(req.URL.Path, ".sha256"):
					fmt.Fprintln(w, digest)
				case strings.HasSuffix(req.URL.Path, "/SHA256SUMS"):
					version := path.Base(path.Dir(req.URL.Path))
					fmt.Fprintf(w, "%s  etcd-%s-%s-%s.tar.gz\n", digest, version, runtime.GOOS, runtime.GOARCH)
				default:
					// A slow mirror: a little, then nothing until the
					// client goes.
					w.Write(make([]byte, 4096))
					w.(http.Flusher).Flush()
					downloading <- struct{}{}
					<-req.Context().Done()
				}
			}))
			defer srv.Close()
			r := startBare(t, build(t), []string{"--binary-sources", "download"},
				"KWOKRUN_RELEASE_URL_KUBERNETES="+srv.URL, "KWOKRUN_RELEASE_URL_ETCD="+srv.URL, "KWOKRUN_RELEASE_URL_KWOK="+srv.URL)
			select {
			case <-downloading:
			case <-time.After(time.Minute):
				t.Fatalf("no download began within a minute:\n%s", r.stderr.String())
			}
			time.Sleep(500 * time.Millisecond)
			r.cmd.Process.Signal(tc.sig)
			r.assertInterruptedInStartUp(t, tc.code)
		})
	}
}

// SIGINT or SIGTERM while kwok-run builds its binaries from source with the
// real Go toolchain: the go commands and the compilers they started go too,
// and neither the build's work tree nor go's temporary directories are left.
func TestSignalDuringBuild(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("INTEGRATION TEST NOT RUN: no go command here to build with: " + err.Error())
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			r := startBare(t, build(t), []string{"--binary-sources", "build"})
			r.waitFor(t, "from source with the Go toolchain", time.Minute)
			// Once go compiles: its temporary directories appear.
			deadline := time.Now().Add(3 * time.Minute)
			for {
				if tmp, _ := filepath.Glob(filepath.Join(r.cache, "kwok-run", "build", "*", "_gotmp", "*")); len(tmp) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("go did not start compiling within 3 minutes:\n%s", r.stderr.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(time.Second)
			r.cmd.Process.Signal(tc.sig)
			r.assertInterruptedInStartUp(t, tc.code)
			if work, _ := os.ReadDir(filepath.Join(r.cache, "kwok-run", "build")); len(work) != 0 {
				t.Errorf("build work trees left: %v", work)
			}
		})
	}
}

// bareRun is kwok-run with a cache, a state and a temporary directory of its
// own, bringing up the cluster of a scenario of one short step.
type bareRun struct {
	*longRun
	cache string
}

func startBare(t *testing.T, bin string, args []string, env ...string) *bareRun {
	t.Helper()
	cache := t.TempDir()
	r := launch(t, bin, "scenario \"bare\" {}\nstep \"s\" {\n  duration = \"1s\"\n}\n", nil, append(env, "XDG_CACHE_HOME="+cache), args...)
	return &bareRun{longRun: r, cache: cache}
}

func (r *bareRun) assertInterruptedInStartUp(t *testing.T, code int) {
	t.Helper()
	if o := r.finished(t, code, time.Minute).Outcome; o.Status != reports.Interrupted || o.ExitCode != code || o.StoppedIn != "the cluster's start-up" {
		t.Errorf("outcome %+v, want interrupted in the cluster's start-up", o)
	}
	partial, _ := filepath.Glob(filepath.Join(r.cache, "kwok-run", "bin", "*", "*", ".*partial*"))
	if len(partial) > 0 {
		t.Errorf("partial binaries left in the cache: %v", partial)
	}
	// Whatever kwok-run started names its cache or its directories.
	for _, dir := range []string{r.dir, r.cache} {
		if out, _ := exec.Command("pgrep", "-f", dir).Output(); len(out) > 0 {
			t.Errorf("processes left: %s", out)
		}
	}
	if left, _ := os.ReadDir(r.tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if entries, _ := r.registry().List(); len(entries) != 0 {
		t.Errorf("clusters left registered: %v", entries)
	}
}
