package cli

import (
	"github.com/spf13/cobra"

	"github.com/kwok-run/kwok-run/scenario"
)

func newPlan(s Streams) *cobra.Command {
	var vars []scenario.VarArg
	var t trust
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan [flags] FILE",
		Short: "Print the resolved timeline of a scenario without running it",
		Long: `Plan prints what a run would do: the cluster and its versions, the node
pools (with the first and last node rendered), the pod lifecycles and the KWOK
Stages they compile to, and the steps in order with every count, rate and
duration resolved. --json prints the same as JSON, Stage objects in full.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := load(s.Err, args[0], vars, t)
			if p == nil {
				return exit(ExitUsage, nil)
			}
			var err error
			if asJSON {
				err = p.WriteJSON(s.Out)
			} else {
				err = p.WriteText(s.Out)
			}
			if err != nil {
				return exit(ExitUsage, err)
			}
			return nil
		},
	}
	varFlags(cmd.Flags(), &vars)
	t.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return cmd
}
