package cli

import (
	"github.com/spf13/cobra"

	"github.com/kwok-run/kwok-run/reports"
)

func newReport(s Streams) *cobra.Command {
	var noColor bool
	cmd := &cobra.Command{
		Use:   "report [flags] DIR",
		Short: "Render a results directory again from its report.json",
		Long: `Report rewrites summary.md, report.html and junit.xml of a results directory
from its report.json, with this kwok-run's renderers, and prints the run's
summary. It exits 0 whatever the run's outcome (the run's own exit code is in
the summary), 2 when DIR has no report.json this kwok-run can read, 3 when a
file cannot be written.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := reports.Read(args[0])
			if err != nil {
				return exit(ExitUsage, err)
			}
			// The summary first: it is worth seeing even if a file cannot
			// be written.
			if err := reports.WriteTerminal(s.Out, r, !noColor && isTerminal(s.Out)); err != nil {
				return exit(ExitInfrastructure, err)
			}
			if err := reports.Render(args[0]); err != nil {
				return exit(ExitInfrastructure, err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noColor, "no-color", false, "print the summary without colours")
	return cmd
}
