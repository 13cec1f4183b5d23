package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/backends/containers"
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

// labelled lists what docker holds with a kwok-run run label: containers,
// networks and volumes.
func labelled(t *testing.T, run string) string {
	t.Helper()
	filter := "label=" + containers.RunLabel
	if run != "" {
		filter += "=" + run
	}
	var all []string
	for _, args := range [][]string{{"ps", "--all"}, {"network", "ls"}, {"volume", "ls"}} {
		out, err := exec.Command("docker", append(args, "--quiet", "--filter", filter)...).Output()
		if err != nil {
			t.Fatal(err)
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
	if left := labelled(t, ""); left != "" {
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
	if left := labelled(t, run0); left != "" {
		t.Errorf("left behind: %s", left)
	}
}
