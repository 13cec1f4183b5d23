package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// clusterFlags are the options of the commands that bring clusters up.
type clusterFlags struct {
	vars     []scenario.VarArg
	trust    trust
	backend  string
	binaries []string
	sources  string
	// engineBinary names the docker or nerdctl command.
	engineBinary string
	// kubeconfig is an existing cluster to play against.
	kubeconfig string
	// profile writes kwok-run's own CPU and heap profiles beside the report.
	profile bool
}

func (f *clusterFlags) register(fs *pflag.FlagSet) {
	varFlags(fs, &f.vars)
	f.trust.register(fs)
	fs.StringVar(&f.backend, "backend", "", "override the scenario's backend: local, docker, nerdctl or kubeconfig")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "play against the existing cluster of this kubeconfig (implies --backend kubeconfig)")
	fs.StringVar(&f.engineBinary, "engine", "", "the container engine's command for the docker and nerdctl backends (default: docker or nerdctl on PATH)")
	fs.StringArrayVar(&f.binaries, "binary", nil, "use this executable: --binary kube-apiserver=/path (repeatable)")
	fs.StringVar(&f.sources, "binary-sources", "", "where binaries may come from, in order: cache,download,build (default; also "+binaries.EnvSources+")")
}

// plan loads the scenario at path, or the default cluster without one.
func (f *clusterFlags) plan(s Streams, args []string) (*plan.Plan, error) {
	var p *plan.Plan
	if len(args) == 0 {
		p = &plan.Plan{Scenario: plan.Scenario{Name: "kwok-run"}, Cluster: scenario.DefaultCluster()}
	} else if p = load(s.Err, args[0], f.vars, f.trust); p == nil {
		return nil, exit(ExitUsage, nil)
	}
	switch {
	case f.kubeconfig != "" && f.backend != "" && f.backend != plan.BackendKubeconfig:
		return nil, exit(ExitUsage, fmt.Errorf("--kubeconfig plays against an existing cluster; it cannot go with --backend %s", f.backend))
	case f.kubeconfig != "":
		p.Cluster.Backend = plan.BackendKubeconfig
	case f.backend != "":
		p.Cluster.Backend = f.backend
	}
	switch p.Cluster.Backend {
	case plan.BackendLocal, plan.BackendDocker, plan.BackendNerdctl, plan.BackendKubeconfig:
	default:
		return nil, exit(ExitUsage, fmt.Errorf("--backend %q: choose local, docker, nerdctl or kubeconfig", p.Cluster.Backend))
	}
	return p, nil
}

func (f *clusterFlags) resolver(s Streams) (*binaries.Resolver, error) {
	r, err := binaries.FromEnv(s.Err)
	if err != nil {
		return nil, exit(ExitUsage, err)
	}
	if f.sources != "" {
		if r.Order, err = binaries.ParseSources(f.sources); err != nil {
			return nil, exit(ExitUsage, err)
		}
	}
	for _, b := range f.binaries {
		name, path, ok := strings.Cut(b, "=")
		if !ok || name == "" || path == "" {
			return nil, exit(ExitUsage, fmt.Errorf("--binary %q: write --binary name=path", b))
		}
		r.Paths[name] = path
	}
	return r, nil
}

func newBinaries(s Streams) *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "binaries [flags] [FILE]",
		Short: "Fetch or build the control plane's binaries into the cache",
		Long: `Binaries resolves every binary the scenario's cluster needs (the default
versions without a FILE) and prints where each is. Sources are tried in order:
an explicit path (--binary, or KWOKRUN_BIN_<NAME>), the cache under
$XDG_CACHE_HOME/kwok-run, the official release checked against its published
sha256, and a build from source with the Go toolchain (minutes on a cold
machine). kubectl of the same Kubernetes version comes along. Run it once to
warm the cache.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.plan(s, args)
			if err != nil {
				return err
			}
			r, err := f.resolver(s)
			if err != nil {
				return err
			}
			c := p.Cluster
			wants := (binaries.Versions{Kubernetes: c.Kubernetes, Etcd: c.Etcd, Kwok: c.Kwok}).Wants()
			for _, w := range append(wants, binaries.Want{Binary: binaries.Kubectl, Version: c.Kubernetes}) {
				path, err := r.Resolve(cmd.Context(), w.Binary, w.Version)
				if err != nil {
					return exit(ExitInfrastructure, err)
				}
				fmt.Fprintf(s.Out, "%s %s %s\n", w.Binary, w.Version, path)
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func newUp(s Streams) *cobra.Command {
	var f clusterFlags
	var name string
	cmd := &cobra.Command{
		Use:   "up [flags] [FILE]",
		Short: "Bring a cluster up from a scenario's cluster block and leave it running",
		Long: `Up brings up the control plane a scenario describes (the default one without
a FILE), waits until a KWOK node is Ready, prints the line that points kubectl
at it, and exits, leaving the cluster running until kwok-run down.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.plan(s, args)
			if err != nil {
				return err
			}
			if name == "" {
				name = p.Scenario.Name
			}
			r, err := f.resolver(s)
			if err != nil {
				return err
			}
			reg, err := registry.Default()
			if err != nil {
				return exit(ExitInfrastructure, err)
			}
			up, err := f.up(cmd.Context(), s, p, r, reg, where{name: name, runDir: reg.ClusterDir(name), detached: true})
			if err != nil {
				return exit(ExitInfrastructure, err)
			}
			c := up.(detachable)
			if err := c.Detach(); err != nil {
				c.Down(cmd.Context())
				return exit(ExitInfrastructure, err)
			}
			fmt.Fprintf(s.Err, "cluster %q is up; remove it with: kwok-run down %s\n", name, name)
			fmt.Fprintf(s.Out, "export KUBECONFIG=%s\n", c.Kubeconfig())
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&name, "name", "", "the cluster's name (default: the scenario's)")
	return cmd
}

func newDown(s Streams) *cobra.Command {
	var everything bool
	cmd := &cobra.Command{
		Use:   "down [flags] [NAME...]",
		Short: "Remove clusters: those of kwok-run up, and those a crashed run left",
		Long: `Down stops a cluster's processes and deletes its files. Without a NAME it
removes the only cluster there is. --all removes every cluster not held by a
running kwok-run: those of kwok-run up, and those a kwok-run that died left.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := registry.Default()
			if err != nil {
				return exit(ExitInfrastructure, err)
			}
			entries, err := reg.List()
			if err != nil {
				return exit(ExitInfrastructure, err)
			}
			var targets []*registry.Entry
			switch {
			case everything && len(args) > 0:
				return exit(ExitUsage, errors.New("give cluster names or --all, not both"))
			case everything:
				for _, e := range entries {
					if e.Owner.PID != 0 && !e.Orphaned() {
						fmt.Fprintf(s.Err, "leaving %s: kwok-run (pid %d) is still running it\n", e.Name, e.Owner.PID)
						continue
					}
					targets = append(targets, e)
				}
			case len(args) > 0:
				for _, name := range args {
					e, err := reg.Get(name)
					if errors.Is(err, os.ErrNotExist) {
						return exit(ExitUsage, fmt.Errorf("no cluster named %q%s", name, known(entries)))
					}
					if err != nil {
						return exit(ExitInfrastructure, err)
					}
					targets = append(targets, e)
				}
			case len(entries) == 1:
				targets = entries
			case len(entries) == 0:
				fmt.Fprintln(s.Err, "no clusters to remove")
				return nil
			default:
				return exit(ExitUsage, fmt.Errorf("several clusters are up%s; name one, or use --all", known(entries)))
			}
			var failed []error
			for _, e := range targets {
				if err := downEntry(cmd.Context(), reg, e); err != nil {
					failed = append(failed, fmt.Errorf("%s: %w", e.Name, err))
					continue
				}
				fmt.Fprintf(s.Out, "removed %s\n", e.Name)
			}
			if len(failed) > 0 {
				return exit(ExitInfrastructure, errors.Join(failed...))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&everything, "all", false, "remove every cluster not held by a running kwok-run")
	return cmd
}

func known(entries []*registry.Entry) string {
	if len(entries) == 0 {
		return " (none are up)"
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	return " (up: " + strings.Join(names, ", ") + ")"
}
