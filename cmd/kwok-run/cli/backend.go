package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/containers"
	"github.com/kwok-run/kwok-run/backends/kubeconfig"
	"github.com/kwok-run/kwok-run/backends/local"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// detachable is a cluster that `up` can leave running.
type detachable interface {
	backends.Cluster
	Detach() error
}

// where says where a cluster keeps its files and whether it outlives
// kwok-run.
type where struct {
	name     string
	runDir   string
	detached bool
}

// up brings the plan's cluster up with its backend.
func (f *clusterFlags) up(ctx context.Context, s Streams, p *plan.Plan, r *binaries.Resolver, reg *registry.Registry, w where) (backends.Cluster, error) {
	spec := backends.SpecOf(p)
	switch p.Cluster.Backend {
	case plan.BackendKubeconfig:
		if w.detached {
			return nil, exit(ExitUsage, errors.New("the kubeconfig backend plays against a cluster that is already up; there is nothing for kwok-run up to bring up"))
		}
		c, err := kubeconfig.Up(ctx, spec, kubeconfig.Options{
			Name: w.name, RunDir: w.runDir, Kubeconfig: f.kubeconfig,
			Binaries: r, Registry: reg, Log: s.Err,
		})
		if err != nil {
			return nil, err
		}
		return c, nil
	case plan.BackendDocker, plan.BackendNerdctl:
		e, err := f.engine(p.Cluster.Backend)
		if err != nil {
			return nil, err
		}
		c, err := containers.Up(ctx, spec, containers.Options{
			Name: w.name, RunDir: w.runDir, RemoveRunDir: w.detached, Detached: w.detached,
			Engine: e, Binaries: r, Registry: reg, Log: s.Err,
		})
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	c, err := local.Up(ctx, spec, local.Options{
		Name: w.name, RunDir: w.runDir, RemoveRunDir: w.detached, Detached: w.detached,
		Binaries: r, Registry: reg, Log: s.Err,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// engine finds the container engine: --engine, else the backend's command
// on PATH; nerdctl's global flags come from the environment.
func (f *clusterFlags) engine(backend string) (*containers.Engine, error) {
	var global []string
	if backend == plan.BackendNerdctl {
		global = strings.Fields(os.Getenv(containers.EnvNerdctlFlags))
	}
	e, err := containers.Find(backend, f.engineBinary, global)
	if err != nil {
		return nil, exit(ExitInfrastructure, err)
	}
	return e, nil
}

// downEntry removes a registered cluster: its containers, then its
// processes and files.
func downEntry(ctx context.Context, reg *registry.Registry, e *registry.Entry) error {
	if e.Run != "" && len(e.Engine) > 0 {
		if err := containers.RemoveRun(ctx, containers.Recorded(e.Backend, e.Engine), e.Run); err != nil {
			return fmt.Errorf("remove its containers: %w", err)
		}
	}
	return reg.Down(e)
}
