package main

import (
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/containers"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/reports"
)

// build compiles kwok-run into a directory of the test's.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kwok-run")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build kwok-run: %v\n%s", err, out)
	}
	return bin
}

// longRun is kwok-run playing a scenario, with a state directory (registry)
// and a temporary directory of its own.
type longRun struct {
	dir, state, results, tmp string
	cmd                      *exec.Cmd
	stdout, stderr           lockedBuffer
	// entry is the run's registry entry, once pid or entryNow has read it.
	entry *registry.Entry
}

// longScenario waits ten minutes once its nodes exist.
const longScenario = `
scenario "long" {}
node_pool "p" {
  count = 5
}
step "nodes" {
  create_nodes {
    pool = "p"
  }
}
step "forever" {
  sleep {
    duration = "10m"
  }
}
`

func startLongRun(t *testing.T, bin string, args ...string) *longRun {
	t.Helper()
	return startRun(t, bin, longScenario, nil, args...)
}

// startRun runs scenario, written beside files (name to content), with the
// cached binaries, and returns once the control plane is ready.
func startRun(t *testing.T, bin, scenario string, files map[string]string, args ...string) *longRun {
	t.Helper()
	r := launch(t, bin, scenario, files, nil, append([]string{"--binary-sources", "cache"}, args...)...)
	r.waitFor(t, "control plane ready", 2*time.Minute)
	return r
}

// launch starts kwok-run run on scenario, written beside files, in a
// directory of the test's with the run's state, results and temporary
// directory, and env added to the environment.
func launch(t *testing.T, bin, scenario string, files map[string]string, env []string, args ...string) *longRun {
	t.Helper()
	dir := t.TempDir()
	r := &longRun{dir: dir, state: filepath.Join(dir, "state"), results: filepath.Join(dir, "results"), tmp: filepath.Join(dir, "tmp")}
	files = maps.Clone(files)
	if files == nil {
		files = map[string]string{}
	}
	files["scenario.hcl"] = scenario
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(r.tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(bin, append([]string{"run", filepath.Join(dir, "scenario.hcl"), "--out", r.results}, args...)...)
	r.cmd.Env = append(append(os.Environ(), "XDG_STATE_HOME="+r.state, "TMPDIR="+r.tmp), env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill() })
	return r
}

// waitFor waits until kwok-run's stderr says s.
func (r *longRun) waitFor(t *testing.T, s string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !strings.Contains(r.stderr.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("kwok-run did not say %q within %s:\n%s", s, limit, r.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *longRun) registry() *registry.Registry {
	return &registry.Registry{Dir: filepath.Join(r.state, "kwok-run")}
}

// pid is a component's process, from the run's registry entry.
func (r *longRun) pid(t *testing.T, component string) int {
	t.Helper()
	e := r.entryNow(t)
	for _, p := range e.Processes {
		if p.Name == component {
			return p.PID
		}
	}
	t.Fatalf("no %s in %+v", component, e.Processes)
	return 0
}

// wait waits for kwok-run to exit, within limit, and returns its code.
func (r *longRun) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err == nil {
			return 0
		}
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return ee.ExitCode()
	case <-time.After(limit):
		t.Fatalf("kwok-run still runs after %s:\n%s", limit, r.stderr.String())
		return 0
	}
}

// finished waits for kwok-run to exit with code, within limit, and reads
// the report it wrote.
func (r *longRun) finished(t *testing.T, code int, limit time.Duration) *reports.Report {
	t.Helper()
	if got := r.wait(t, limit); got != code {
		t.Fatalf("want exit %d, got %d\n%s\n%s", code, got, r.stdout.String(), r.stderr.String())
	}
	rep, err := reports.Read(r.results)
	if err != nil {
		t.Fatalf("no report: %v", err)
	}
	return rep
}

// assertNoContainersLeft checks that docker holds no container, network or
// volume of run. Other packages' tests may run clusters on the same engine
// at the same time: only this run's label counts.
func assertNoContainersLeft(t *testing.T, run string) {
	t.Helper()
	for _, args := range [][]string{{"ps", "--all"}, {"network", "ls"}, {"volume", "ls"}} {
		out, err := exec.Command("docker", append(args, "--quiet", "--filter", "label="+containers.RunLabel+"="+run)...).Output()
		if s := strings.TrimSpace(string(out)); err != nil || s != "" {
			t.Errorf("docker %s: left %q (%v)", args[0], s, err)
		}
	}
}

// assertNothingLeft checks that no cluster is registered and no process
// of the run is alive.
func (r *longRun) assertNothingLeft(t *testing.T) {
	t.Helper()
	if entries, _ := r.registry().List(); len(entries) != 0 {
		t.Errorf("clusters left registered: %v", entries)
	}
	out, _ := exec.Command("pgrep", "-f", r.dir).Output()
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("processes left: %s", s)
	}
	if r.entry != nil && r.entry.DataDir != "" {
		if _, err := os.Stat(r.entry.DataDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("etcd data left in %s", r.entry.DataDir)
		}
	}
	if left, _ := os.ReadDir(r.tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// A component killed or stopped mid-run: the run fails as broken (exit 3)
// within seconds, the report names the component with the end of its log,
// and teardown leaves nothing.
func TestComponentFailsMidRun(t *testing.T) {
	binariestest.Cached(t)
	bin := build(t)
	for _, tc := range []struct {
		component string
		sig       syscall.Signal
		says      string
	}{
		{"scheduler", syscall.SIGKILL, "killed"},
		{"kwok", syscall.SIGSTOP, "is paused"},
		{"etcd", syscall.SIGSTOP, "is paused"},
	} {
		t.Run(tc.component+"/"+tc.sig.String(), func(t *testing.T) {
			r := startLongRun(t, bin)
			time.Sleep(2 * time.Second)
			if err := syscall.Kill(r.pid(t, tc.component), tc.sig); err != nil {
				t.Fatal(err)
			}
			// A paused process is named after two failed checks a second
			// apart; the limit leaves room for a loaded machine.
			o := r.finished(t, 3, 30*time.Second).Outcome
			if o.Status != reports.Broken || o.StoppedIn != "forever" || !strings.Contains(o.Error, tc.component+" ") ||
				!strings.Contains(o.Error, tc.says) || !strings.Contains(o.Error, "the end of") {
				t.Errorf("outcome %+v, want broken in forever, naming %s as %q with the end of its log", o, tc.component, tc.says)
			}
			r.assertNothingLeft(t)
		})
	}
}

// The same on docker: a component's container killed or paused mid-run is
// named within seconds, and no container, network or volume of the run is
// left.
func TestComponentFailsMidDockerRun(t *testing.T) {
	binariestest.Cached(t)
	docker(t)
	bin := build(t)
	for _, tc := range []struct{ component, action, says string }{
		{"scheduler", "kill", "exited"},
		{"kwok", "pause", "is paused"},
	} {
		t.Run(tc.component+"/"+tc.action, func(t *testing.T) {
			r := startRun(t, bin, strings.Replace(longScenario, "scenario \"long\" {}", "scenario \"long\" {}\ncluster {\n  backend = \"docker\"\n}", 1), nil)
			run := r.entryNow(t).Run
			time.Sleep(2 * time.Second)
			out, err := exec.Command("docker", "ps", "--quiet", "--filter", "label="+containers.RunLabel+"="+run, "--filter", "label=kwok-run.component="+tc.component).Output()
			id := strings.TrimSpace(string(out))
			if err != nil || id == "" {
				t.Fatalf("no container of %s: %v", tc.component, err)
			}
			if out, err := exec.Command("docker", tc.action, id).CombinedOutput(); err != nil {
				t.Fatalf("docker %s: %v %s", tc.action, err, out)
			}
			o := r.finished(t, 3, 30*time.Second).Outcome
			if o.Status != reports.Broken || o.StoppedIn != "forever" || !strings.Contains(o.Error, tc.component) || !strings.Contains(o.Error, tc.says) {
				t.Errorf("outcome %+v, want broken in forever, naming %s as %q", o, tc.component, tc.says)
			}
			r.assertNothingLeft(t)
			assertNoContainersLeft(t, run)
		})
	}
}

// kwok-run SIGKILLed mid-run cannot tear down: its components go on. The
// next kwok-run down --all, or the next run, with a warning, finds them by
// the registry's pid file and removes everything.
func TestKilledRunIsCleanedUp(t *testing.T) {
	binariestest.Cached(t)
	bin := build(t)
	for _, next := range []string{"down --all", "the next run"} {
		t.Run(next, func(t *testing.T) {
			r := startLongRun(t, bin)
			apiserver := r.pid(t, "apiserver")
			if err := r.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			r.wait(t, 10*time.Second)
			if syscall.Kill(apiserver, 0) != nil {
				t.Fatal("the apiserver died with kwok-run: nothing was left to clean up, so the test proves nothing")
			}
			var cmd *exec.Cmd
			if next == "down --all" {
				cmd = exec.Command(bin, "down", "--all")
			} else {
				short := filepath.Join(r.dir, "short.hcl")
				if err := os.WriteFile(short, []byte("scenario \"short\" {}\nstep \"s\" {\n  duration = \"1s\"\n}\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				cmd = exec.Command(bin, "run", short, "--binary-sources", "cache", "--out", filepath.Join(r.dir, "next"))
			}
			cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+r.state)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", next, err, out)
			}
			if next == "the next run" && !strings.Contains(string(out), "which is gone; removing it") {
				t.Errorf("the next run did not warn that it removes the orphan:\n%s", out)
			}
			r.assertNothingLeft(t)
		})
	}
}

// Two runs of different scenarios at once on one machine, sharing its
// registry: no port, name or directory clash; both pass, they overlap, and
// nothing of either is left.
func TestTwoRunsAtOnce(t *testing.T) {
	binariestest.Cached(t)
	bin := build(t)
	state := filepath.Join(t.TempDir(), "state")
	scenarios := map[string]string{
		"alpha": "node_pool \"a\" {\n  count = 4\n}\nstep \"nodes\" {\n  create_nodes {\n    pool = \"a\"\n  }\n  wait \"nodes_ready\" {\n    pool = \"a\"\n  }\n}\nstep \"pods\" {\n  create_pods \"web\" {\n    count = 20\n  }\n  wait \"pods_running\" {\n    wave = \"web\"\n  }\n}\nstep \"hold\" {\n  sleep {\n    duration = \"10s\"\n  }\n}\n",
		"beta":  "node_pool \"b\" {\n  count = 3\n}\nstep \"nodes\" {\n  create_nodes {\n    pool = \"b\"\n  }\n  wait \"nodes_ready\" {\n    pool = \"b\"\n  }\n}\nstep \"hold\" {\n  sleep {\n    duration = \"15s\"\n  }\n}\n",
	}
	type running struct {
		cmd     *exec.Cmd
		results string
		stderr  lockedBuffer
	}
	var runs []*running
	for name, body := range scenarios {
		dir := t.TempDir()
		file := filepath.Join(dir, name+".hcl")
		if err := os.WriteFile(file, []byte("scenario \""+name+"\" {}\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		r := &running{results: filepath.Join(dir, "results")}
		r.cmd = exec.Command(bin, "run", file, "--binary-sources", "cache", "--out", r.results)
		r.cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+state)
		r.cmd.Stderr = &r.stderr
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.cmd.Process.Kill() })
		runs = append(runs, r)
	}
	var spans [][2]time.Time
	for _, r := range runs {
		done := make(chan error, 1)
		go func() { done <- r.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v\n%s", r.results, err, r.stderr.String())
			}
		case <-time.After(5 * time.Minute):
			t.Fatalf("still running after 5 minutes:\n%s", r.stderr.String())
		}
		rep, err := reports.Read(r.results)
		if err != nil || rep.Outcome.Status != reports.Passed {
			t.Fatalf("%s: %v %+v", r.results, err, rep)
		}
		spans = append(spans, [2]time.Time{rep.Started, rep.Started.Add(time.Duration(rep.Duration * float64(time.Second)))})
	}
	if !spans[0][0].Before(spans[1][1]) || !spans[1][0].Before(spans[0][1]) {
		t.Errorf("the runs did not overlap: %v", spans)
	}
	if entries, _ := (&registry.Registry{Dir: filepath.Join(state, "kwok-run")}).List(); len(entries) != 0 {
		t.Errorf("clusters left registered: %v", entries)
	}
	for _, r := range runs {
		if out, _ := exec.Command("pgrep", "-f", r.results).Output(); len(out) > 0 {
			t.Errorf("processes of %s left: %s", r.results, out)
		}
	}
}
