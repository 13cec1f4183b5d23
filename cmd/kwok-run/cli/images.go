package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/components"
	"github.com/kwok-run/kwok-run/backends/containers"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

func newImages(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Container images for the docker and nerdctl backends",
	}
	cmd.AddCommand(newImagesBuild(s))
	return cmd
}

func newImagesBuild(s Streams) *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "build [flags] [FILE]",
		Short: "Pack the control plane's binaries into images and load them into the engine",
		Long: `Build packs each binary the scenario's cluster runs (the default versions
without a FILE) into an image of its own, kwok-run/<binary>:<version>, from the
same cache the local backend uses (a download or a build from source when it
is empty), with no Dockerfile, base image or registry, and loads the images
into docker or nerdctl (--backend, default docker). An image whose binary has
not changed is kept. kwok-run run uses these images when the upstream ones
cannot be pulled: this command prepares a machine without a registry.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.plan(s, args)
			if err != nil {
				return err
			}
			backend := p.Cluster.Backend
			if backend == plan.BackendLocal {
				backend = plan.BackendDocker
			}
			e, err := f.engine(backend)
			if err != nil {
				return err
			}
			r, err := f.resolver(s)
			if err != nil {
				return err
			}
			var wants []binaries.Want
			c := p.Cluster
			for _, w := range (binaries.Versions{Kubernetes: c.Kubernetes, Etcd: c.Etcd, Kwok: c.Kwok}).Wants() {
				if comp, _ := c.Component(components.Of(w.Binary)); comp.Enabled {
					wants = append(wants, w)
				}
			}
			refs, err := containers.Pack(cmd.Context(), e, r, wants, s.Err)
			if err != nil {
				return exit(ExitInfrastructure, err)
			}
			for _, ref := range refs {
				fmt.Fprintln(s.Out, ref)
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}
