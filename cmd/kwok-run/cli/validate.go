package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kwok-run/kwok-run/scenario"
)

func newValidate(s Streams) *cobra.Command {
	var vars []scenario.VarArg
	var t trust
	cmd := &cobra.Command{
		Use:   "validate [flags] FILE...",
		Short: "Check scenario files and report every problem with its position",
		Long: `Validate loads each scenario as a run would (variables, locals, every block,
references, manifests, assertions against the metric catalogue) without
starting anything, and prints every problem as file:line:col with the source.
It exits 2 if any file has an error.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := 0
			for _, path := range args {
				if load(s.Err, path, vars, t) == nil {
					failed++
					continue
				}
				fmt.Fprintf(s.Out, "%s: valid\n", path)
			}
			if failed > 0 {
				return exit(ExitUsage, fmt.Errorf("%s of %d invalid", plural(failed, "file"), len(args)))
			}
			return nil
		},
	}
	varFlags(cmd.Flags(), &vars)
	t.register(cmd.Flags())
	return cmd
}
