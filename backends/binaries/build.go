package binaries

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/modfile"
)

// build compiles the project from the Go module proxy into a work tree of the
// cache and installs its binaries.
func (r *Resolver) build(ctx context.Context, p project, version string, c cache) error {
	r.logf("building %s %s from source with the Go toolchain (%s)", p.name, version, p.buildTime)
	work := filepath.Join(r.CacheDir, "build", p.name+"-"+version)
	// A work tree left by an interrupted build is rebuilt from scratch: the
	// Go build cache keeps the compiled packages, so this costs little.
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	out := filepath.Join(work, "out")
	for _, dir := range []string{out, filepath.Join(work, "_gotmp")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := p.build(ctx, r, version, work); err != nil {
		// An interrupted build leaves nothing behind: its go commands
		// were killed before they could remove their temporary
		// directories, which GOTMPDIR keeps inside work (in _gotmp,
		// which the go command does not take for a package). A failed
		// build keeps work/build.log for its error.
		if ctx.Err() != nil {
			os.RemoveAll(work)
		}
		return err
	}
	for _, bin := range p.binaries {
		// out is inside the cache, on the same file system: install renames.
		if err := c.install(bin, filepath.Join(out, bin), SourceBuild); err != nil {
			return fmt.Errorf("install %s: %w", bin, err)
		}
	}
	r.logf("built %s %s in %s", p.name, version, time.Since(start).Round(time.Second))
	os.RemoveAll(work)
	return nil
}

// buildKubernetes builds kube-apiserver, kube-scheduler,
// kube-controller-manager and kubectl from a generated module that requires
// k8s.io/kubernetes: its go.mod points the staging modules (k8s.io/api,
// k8s.io/apiserver, ...) at directories inside its own repository, so the
// generated module replaces each with its published v0.MINOR.PATCH.
func buildKubernetes(ctx context.Context, r *Resolver, version, work string) error {
	k8sMod, err := r.moduleGoMod(ctx, work, "k8s.io/kubernetes", version)
	if err != nil {
		return err
	}
	f, err := modfile.Parse("k8s.io/kubernetes/go.mod", k8sMod, nil)
	if err != nil {
		return fmt.Errorf("read k8s.io/kubernetes %s go.mod: %w", version, err)
	}
	// Kubernetes v1.N.M publishes its staging modules as v0.N.M.
	staging := "v0" + strings.TrimPrefix(version, "v1")
	gen := &modfile.File{}
	gen.AddModuleStmt("kwok-run.local/build/kubernetes")
	if f.Go != nil {
		gen.AddGoStmt(f.Go.Version)
	}
	gen.AddNewRequire("k8s.io/kubernetes", version, false)
	for _, rep := range f.Replace {
		if strings.HasPrefix(rep.New.Path, "./staging/") {
			if err := gen.AddReplace(rep.Old.Path, "", rep.Old.Path, staging); err != nil {
				return err
			}
		}
	}
	cmds := []string{"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-scheduler", "k8s.io/kubernetes/cmd/kube-controller-manager", "k8s.io/kubernetes/cmd/kubectl"}
	if err := writeModule(work, gen, cmds); err != nil {
		return err
	}
	// Binaries built from source would say v0.0.0-master; reports and skew
	// checks need the real version.
	var ldflags []string
	major, minor, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	minor, _, _ = strings.Cut(minor, ".")
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		ldflags = append(ldflags,
			"-X "+pkg+".gitVersion="+version,
			"-X "+pkg+".gitMajor="+major,
			"-X "+pkg+".gitMinor="+minor,
			"-X "+pkg+".gitTreeState=clean",
			"-X "+pkg+".buildDate=1970-01-01T00:00:00Z",
		)
	}
	return r.goBuild(ctx, work, "kubernetes "+version, ldflags, cmds...)
}

// buildEtcd builds etcd from go.etcd.io/etcd/server/v3, whose own go.mod has
// replace directives and so cannot be go-installed: a two-line main calls
// etcdmain, as etcd's own main does.
func buildEtcd(ctx context.Context, r *Resolver, version, work string) error {
	gen := &modfile.File{}
	gen.AddModuleStmt("kwok-run.local/build/etcd")
	gen.AddGoStmt("1.26.0")
	gen.AddNewRequire("go.etcd.io/etcd/server/v3", version, false)
	if err := writeModule(work, gen, nil); err != nil {
		return err
	}
	main := "package main\n\nimport (\n\t\"os\"\n\n\t\"go.etcd.io/etcd/server/v3/etcdmain\"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n"
	if err := os.WriteFile(filepath.Join(work, "main.go"), []byte(main), 0o644); err != nil {
		return err
	}
	if err := r.goMod(ctx, work, "etcd "+version); err != nil {
		return err
	}
	return r.goRun(ctx, work, "etcd "+version, "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(work, "out", Etcd), ".")
}

// buildKwok builds the KWOK controller and kwokctl from
// sigs.k8s.io/kwok/cmd/{kwok,kwokctl}.
func buildKwok(ctx context.Context, r *Resolver, version, work string) error {
	gen := &modfile.File{}
	gen.AddModuleStmt("kwok-run.local/build/kwok")
	gen.AddGoStmt("1.26.0")
	gen.AddNewRequire("sigs.k8s.io/kwok", version, false)
	cmds := []string{"sigs.k8s.io/kwok/cmd/kwok", "sigs.k8s.io/kwok/cmd/kwokctl"}
	if err := writeModule(work, gen, cmds); err != nil {
		return err
	}
	ldflags := []string{"-X sigs.k8s.io/kwok/pkg/consts.Version=" + strings.TrimPrefix(version, "v")}
	return r.goBuild(ctx, work, "kwok "+version, ldflags, cmds...)
}

// writeModule writes go.mod and a tools.go that imports cmds, so that
// `go mod tidy` records every module they need.
func writeModule(work string, f *modfile.File, cmds []string) error {
	raw, err := f.Format()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "go.mod"), raw, 0o644); err != nil {
		return err
	}
	if len(cmds) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("//go:build tools\n\npackage tools\n\nimport (\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t_ %q\n", c)
	}
	b.WriteString(")\n")
	return os.WriteFile(filepath.Join(work, "tools.go"), []byte(b.String()), 0o644)
}

// goBuild tidies the module in work and builds cmds into work/out.
func (r *Resolver) goBuild(ctx context.Context, work, what string, ldflags []string, cmds ...string) error {
	if err := r.goMod(ctx, work, what); err != nil {
		return err
	}
	args := []string{"build", "-trimpath", "-ldflags=-s -w " + strings.Join(ldflags, " "), "-o", filepath.Join(work, "out") + string(filepath.Separator)}
	return r.goRun(ctx, work, what, append(args, cmds...)...)
}

func (r *Resolver) goMod(ctx context.Context, work, what string) error {
	return r.goRun(ctx, work, what, "mod", "tidy")
}

// moduleGoMod returns the go.mod of module@version from the module proxy.
func (r *Resolver) moduleGoMod(ctx context.Context, work, module, version string) ([]byte, error) {
	cmd := r.goCmd(ctx, work, "mod", "download", "-json", module+"@"+version)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go mod download %s@%s: %w: %s", module, version, err, lastLines(stderr.String()+stdout.String(), 10))
	}
	var info struct{ GoMod, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
		return nil, fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	if info.Error != "" {
		return nil, fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	}
	return os.ReadFile(info.GoMod)
}

// goRun runs the go command in work, with its output in work/build.log and a
// progress line while it runs.
func (r *Resolver) goRun(ctx context.Context, work, what string, args ...string) error {
	logPath := filepath.Join(work, "build.log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(log, "$ go %s\n", strings.Join(args, " "))
	cmd := r.goCmd(ctx, work, args...)
	cmd.Stdout, cmd.Stderr = log, log
	stop := r.every(func(elapsed time.Duration) {
		r.logf("still building %s (go %s, %s)", what, args[0], elapsed.Round(time.Second))
	})
	err = cmd.Run()
	stop()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	out, _ := os.ReadFile(logPath)
	var ee *exec.Error
	if errors.As(err, &ee) {
		return fmt.Errorf("build %s: the go command is needed to build from source: %w", what, err)
	}
	return fmt.Errorf("build %s: go %s: %w\n%s", what, args[0], err, lastLines(string(out), 20))
}

func (r *Resolver) goCmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.Go, args...)
	cmd.Dir = dir
	goos, goarch := platform()
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch,
		"GOWORK=off", "GOFLAGS=-mod=mod", "GOTMPDIR="+filepath.Join(dir, "_gotmp"),
	)
	// Killing the go command alone would leave the compilers it started, so
	// it gets a process group of its own and the whole group is killed.
	// (SIGINT would not do: go build goes on building after one.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
