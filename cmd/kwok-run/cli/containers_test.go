package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/containers"
	"github.com/kwok-run/kwok-run/backends/containers/containerdtest"
	"github.com/kwok-run/kwok-run/backends/registry"
)

// dockerOrSkip skips, loudly, where no Docker Engine answers, unless the
// integration tests are required.
func dockerOrSkip(t testing.TB) {
	t.Helper()
	if err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").Run(); err != nil {
		msg := "INTEGRATION TEST NOT RUN: no Docker Engine answers here: " + err.Error()
		if os.Getenv(binariestest.EnvRequire) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// labelled lists what the engine (its command and global flags) holds with
// a kwok-run run label, of the run given or of any: containers, networks
// and volumes.
func labelled(t *testing.T, engine []string, run string) string {
	t.Helper()
	filter := "label=" + containers.RunLabel
	if run != "" {
		filter += "=" + run
	}
	var all []string
	for _, args := range [][]string{{"ps", "--all"}, {"network", "ls"}, {"volume", "ls"}} {
		argv := slices.Concat(engine, args, []string{"--quiet", "--filter", filter})
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil {
			t.Fatalf("%s: %v", strings.Join(argv, " "), err)
		}
		all = append(all, strings.Fields(string(out))...)
	}
	return strings.Join(all, " ")
}

func TestBackendChoices(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	r := run(t, "", "run", "--backend", "nerdctl", "--engine", "/nonexistent/nerdctl", "--out", t.TempDir(), "../../../examples/quickstart.hcl")
	if r.code != ExitInfrastructure || !strings.Contains(r.errOut, "/nonexistent/nerdctl") || !strings.Contains(r.errOut, "was not found") {
		t.Errorf("exit %d, stderr %q; want %d and the missing command named", r.code, r.errOut, ExitInfrastructure)
	}
	for _, args := range [][]string{
		{"run", "--backend", "podman", "../../../examples/quickstart.hcl"},
		{"run", "--kubeconfig", "/nonexistent/kubeconfig", "--backend", "docker", "../../../examples/quickstart.hcl"},
		{"up", "--kubeconfig", "/nonexistent/kubeconfig"},
	} {
		if r := run(t, "", args...); r.code != ExitUsage || r.errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want %d and a message", args, r.code, r.errOut, ExitUsage)
		}
	}
}

// The quickstart on the docker backend, from images that `images build`
// packed from the cached binaries: it passes, and nothing with the run's
// label is left.
func TestRunQuickstartOnDocker(t *testing.T) {
	dockerOrSkip(t)
	binariestest.Cached(t)
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv(binaries.EnvSources, "cache")
	r := run(t, "", "images", "build")
	if r.code != ExitOK || strings.Count(r.out, "kwok-run/") != 5 {
		t.Fatalf("images build: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.errOut)
	}
	out := filepath.Join(t.TempDir(), "results")
	r = run(t, "", "run", "--backend", "docker", "--out", out, "-var", "pods=20", "../../../examples/quickstart.hcl")
	if r.code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.errOut)
	}
	if !strings.Contains(r.errOut, "on docker") || !strings.Contains(r.out, "quickstart: passed") {
		t.Errorf("want the docker start-up line and the verdict:\nstdout:\n%s\nstderr:\n%s", r.out, r.errOut)
	}
	// Other packages' tests run clusters on the same engine at the same
	// time: only this run's label counts.
	m := regexp.MustCompile(`starting run ([0-9a-f]+) on`).FindStringSubmatch(r.errOut)
	if m == nil {
		t.Fatalf("the run did not name its label:\n%s", r.errOut)
	}
	if left := labelled(t, []string{"docker"}, m[1]); left != "" {
		t.Errorf("left behind: %s", left)
	}
	for _, f := range []string{"report.json", "logs/apiserver.log", "logs/kwok.log"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("results: %v", err)
		}
	}
}

// The quickstart on the nerdctl backend, on a containerd of the test's own
// reached through --engine and KWOKRUN_NERDCTL_FLAGS, from images that
// `images build` packed from the cached binaries into it: it passes, and
// nothing with a run label is left in nerdctl; the fixture then checks
// that nothing is left on the host.
func TestRunQuickstartOnNerdctl(t *testing.T) {
	// The binaries first: their lock is released after the containerd's
	// cleanup has run.
	binariestest.Cached(t)
	n := containerdtest.Start(t)
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv(binaries.EnvSources, "cache")
	t.Setenv(containers.EnvNerdctlFlags, strings.Join(n.Flags, " "))
	r := run(t, "", "images", "build", "--backend", "nerdctl", "--engine", n.Binary)
	if r.code != ExitOK || strings.Count(r.out, "kwok-run/") != 5 {
		t.Fatalf("images build: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.errOut)
	}
	out := filepath.Join(t.TempDir(), "results")
	r = run(t, "", "run", "--backend", "nerdctl", "--engine", n.Binary, "--out", out, "-var", "pods=20", "../../../examples/quickstart.hcl")
	if r.code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.errOut)
	}
	if !strings.Contains(r.errOut, "on nerdctl") || !strings.Contains(r.out, "quickstart: passed") {
		t.Errorf("want the nerdctl start-up line and the verdict:\nstdout:\n%s\nstderr:\n%s", r.out, r.errOut)
	}
	for _, line := range strings.Split(r.errOut, "\n") {
		if strings.Contains(line, "on nerdctl") {
			t.Log(line)
		}
	}
	if left := labelled(t, n.Argv(), ""); left != "" {
		t.Errorf("left behind: %s", left)
	}
	for _, f := range []string{"report.json", "logs/apiserver.log", "logs/kwok.log"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("results: %v", err)
		}
	}
}

// down --all removes the containers and networks of a crashed run on a
// container backend, found by the run's label.
func TestDownAllRemovesOrphanedContainers(t *testing.T) {
	dockerOrSkip(t)
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	reg, err := registry.Default()
	if err != nil {
		t.Fatal(err)
	}
	run0 := "deadbeef"
	if out, err := exec.Command("docker", "network", "create", "--label", containers.RunLabel+"="+run0, "kwok-run-"+run0).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "network", "rm", "kwok-run-"+run0).Run() })
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	docker, _ := exec.LookPath("docker")
	orphan := &registry.Entry{
		Name: "orphan", Backend: "docker", Engine: []string{docker}, Run: run0,
		Owner: registry.Process{Name: "kwok-run", PID: dead.Process.Pid, Start: 1},
	}
	if err := reg.Save(orphan); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", "down", "--all")
	if r.code != ExitOK || !strings.Contains(r.out, "removed orphan") {
		t.Fatalf("down --all: exit %d, out %q, err %q", r.code, r.out, r.errOut)
	}
	if left := labelled(t, []string{"docker"}, run0); left != "" {
		t.Errorf("left behind: %s", left)
	}
}
