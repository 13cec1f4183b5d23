package containers

import (
	"archive/tar"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/components"
	"github.com/kwok-run/kwok-run/backends/images"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fakeEngine answers commands from a table and records them; a fake for
// units only: the integration tests drive the real engine.
type fakeEngine struct {
	mu       sync.Mutex
	commands []string
	answer   func(args []string, stdin io.Reader) (string, error)
}

func (f *fakeEngine) engine(name string) *Engine {
	return &Engine{Name: name, Argv: []string{name}, exec: func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, argv []string) error {
		f.mu.Lock()
		f.commands = append(f.commands, strings.Join(argv, " "))
		f.mu.Unlock()
		out, err := f.answer(argv[1:], stdin)
		if err != nil {
			io.WriteString(stderr, err.Error())
			return errors.New("exit status 1")
		}
		_, err = io.WriteString(stdout, out)
		return err
	}}
}

func TestFindNamesTheMissingCommand(t *testing.T) {
	_, err := Find(plan.BackendNerdctl, "no-such-nerdctl-here", nil)
	if err == nil || !strings.Contains(err.Error(), "no-such-nerdctl-here") || !strings.Contains(err.Error(), "--backend local") {
		t.Fatalf("want a message naming the command and the way out, got %v", err)
	}
	if _, err := Find("podman", "", nil); err == nil {
		t.Fatal("podman is not an engine kwok-run drives; want an error")
	}
}

// The command lines of the default cluster on each engine, as golden files:
// the nerdctl path is checked down to what it would run even where no
// containerd can run.
func TestCommandLines(t *testing.T) {
	for _, name := range []string{plan.BackendDocker, plan.BackendNerdctl} {
		t.Run(name, func(t *testing.T) {
			f := &fakeEngine{answer: func(args []string, _ io.Reader) (string, error) { return "", nil }}
			runDir := t.TempDir()
			c := &Cluster{
				opts:   Options{Name: "golden", RunDir: runDir, Engine: f.engine(name), ports: func(n int) ([]int, error) { return []int{32001, 32002, 32003, 32004, 32005}[:n], nil }},
				engine: f.engine(name), run: "0123abcd", network: "kwok-run-0123abcd", byName: map[string]*container{},
			}
			spec := backends.Spec{Cluster: scenario.DefaultCluster()}
			specs, refs := c.build(t, spec)
			if err := c.files(spec, specs, refs); err != nil {
				t.Fatal(err)
			}
			if name == plan.BackendNerdctl {
				if err := c.assignIPs("10.4.1.0/24"); err != nil {
					t.Fatal(err)
				}
			}
			var b strings.Builder
			for _, k := range c.ctrs {
				b.WriteString(name)
				for _, a := range c.runArgs(k) {
					if strings.HasPrefix(a, "-") {
						b.WriteString(" \\\n   ")
					}
					b.WriteString(" " + a)
				}
				b.WriteString("\n\n")
			}
			got := strings.ReplaceAll(strings.ReplaceAll(b.String(), runDir, "RUNDIR"), c.dataDir, "ETCDDATA")
			golden := filepath.Join("testdata", name+".txt")
			if *update {
				os.MkdirAll("testdata", 0o755)
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("command lines changed; if intended, run go test ./backends/containers -run TestCommandLines -update\n%s", got)
			}
			os.RemoveAll(c.dataDir)
		})
	}
}

// build is start's first part, for the golden test: the component specs
// and the images they would run.
func (c *Cluster) build(t *testing.T, spec backends.Spec) ([]components.Process, []string) {
	t.Helper()
	specs, err := c.specs(spec)
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]string, len(specs))
	for i, s := range specs {
		refs[i] = images.Upstream(s.Binary, spec.Cluster.VersionOf(s.Name))
	}
	return specs, refs
}

// A pull that fails falls back to packing the local binary, says so, and
// loads a tarball that holds the binary at the path command lines name.
func TestResolveFallsBackToPackedImages(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kube-scheduler")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho fake scheduler\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var loaded []string
	f := &fakeEngine{answer: func(args []string, stdin io.Reader) (string, error) {
		switch args[0] {
		case "image":
			return "", errors.New("Error: No such image: " + args[len(args)-1])
		case "pull":
			return "", errors.New(`Error response from daemon: Get "https://registry.k8s.io/v2/": dial tcp: lookup registry.k8s.io: no such host`)
		case "load":
			tr := tar.NewReader(stdin)
			for {
				h, err := tr.Next()
				if err == io.EOF {
					return "Loaded image: " + images.Local(binaries.KubeScheduler, "v1.37.2"), nil
				}
				if err != nil {
					return "", err
				}
				loaded = append(loaded, h.Name)
			}
		}
		return "", fmt.Errorf("unexpected command %v", args)
	}}
	r := &binaries.Resolver{Paths: map[string]string{binaries.KubeScheduler: bin}, Order: []binaries.Source{binaries.SourceCache}}
	var log strings.Builder
	refs, err := Resolve(context.Background(), f.engine(plan.BackendDocker), []Wanted{{Binary: binaries.KubeScheduler, Version: "v1.37.2"}}, r, &log)
	if err != nil {
		t.Fatal(err)
	}
	if want := images.Local(binaries.KubeScheduler, "v1.37.2"); len(refs) != 1 || refs[0] != want {
		t.Fatalf("refs = %v, want [%s]", refs, want)
	}
	if !strings.Contains(log.String(), "registry.k8s.io/kube-scheduler:v1.37.2 could not be pulled") || !strings.Contains(log.String(), "packed from the local binaries") {
		t.Errorf("the fallback is not said: %q", log.String())
	}
	if !strings.Contains(strings.Join(loaded, " "), "manifest.json") {
		t.Errorf("the loaded tarball has no manifest: %v", loaded)
	}
}

// An image the scenario names is never replaced: a pull that fails is an
// error that names it.
func TestResolveKeepsTheScenariosImage(t *testing.T) {
	f := &fakeEngine{answer: func(args []string, _ io.Reader) (string, error) {
		return "", errors.New("pull access denied")
	}}
	_, err := Resolve(context.Background(), f.engine(plan.BackendDocker), []Wanted{{Ref: "example.invalid/apiserver:mine", Binary: binaries.KubeAPIServer, Version: "v1.37.2"}}, &binaries.Resolver{}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "example.invalid/apiserver:mine") {
		t.Fatalf("want an error naming the scenario's image, got %v", err)
	}
}

// Teardown removes by label, so it finds what a start that was cut short
// made, and is idempotent.
func TestRemoveRunByLabel(t *testing.T) {
	f := &fakeEngine{answer: func(args []string, _ io.Reader) (string, error) {
		switch {
		case args[0] == "ps":
			return "c1\nc2\n", nil
		case args[0] == "network" && args[1] == "ls":
			return "n1\n", nil
		}
		return "", nil
	}}
	if err := RemoveRun(context.Background(), f.engine(plan.BackendNerdctl), "0123abcd"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"nerdctl ps --all --quiet --filter label=kwok-run.run=0123abcd",
		"nerdctl rm --force --volumes c1 c2",
		"nerdctl network ls --quiet --filter label=kwok-run.run=0123abcd",
		"nerdctl network rm n1",
	}
	if strings.Join(f.commands, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(f.commands, "\n"), strings.Join(want, "\n"))
	}
}

// An engine that does not answer stops Up before anything is created.
func TestUpWithAnEngineThatDoesNotAnswer(t *testing.T) {
	f := &fakeEngine{answer: func(args []string, _ io.Reader) (string, error) {
		return "", errors.New("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")
	}}
	reg := &registry.Registry{Dir: t.TempDir()}
	_, err := Up(context.Background(), backends.Spec{Cluster: scenario.DefaultCluster()}, Options{Name: "x", RunDir: t.TempDir(), Engine: f.engine(plan.BackendDocker), Registry: reg})
	if err == nil || !strings.Contains(err.Error(), "Is the docker daemon running?") {
		t.Fatalf("want the engine's own words, got %v", err)
	}
	if len(f.commands) != 1 {
		t.Errorf("want one command, got %v", f.commands)
	}
}

func TestAssignIPsWantsARoomySubnet(t *testing.T) {
	c := &Cluster{ctrs: []*container{{}, {}}}
	for _, bad := range []string{"", "fd00::/64", "10.4.1.0/28"} {
		if err := c.assignIPs(bad); err == nil {
			t.Errorf("subnet %q: want an error", bad)
		}
	}
	if err := c.assignIPs("10.4.1.0/24\n"); err != nil || c.ctrs[0].ip != "10.4.1.10" || c.ctrs[1].ip != "10.4.1.11" {
		t.Errorf("got %v, %q, %q", err, c.ctrs[0].ip, c.ctrs[1].ip)
	}
}
