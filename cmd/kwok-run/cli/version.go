package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/kwok-run/kwok-run/scenario"
)

// Version is set at release time with -ldflags "-X .../cli.Version=v1.2.3";
// otherwise the module version that `go install ...@version` records is used.
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func newVersion(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print kwok-run's version and the component versions it defaults to",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(s.Out, "kwok-run %s (%s %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(s.Out, "defaults: kubernetes %s, kwok %s, etcd %s\n", scenario.DefaultKubernetes, scenario.DefaultKwok, scenario.DefaultEtcd)
		},
	}
}
