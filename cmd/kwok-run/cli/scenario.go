package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"

	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// load reads one scenario, prints its diagnostics to w, and returns the plan,
// or nil when the file has errors.
func load(w io.Writer, path string, vars []scenario.VarArg, allowExec bool) *plan.Plan {
	l := scenario.NewLoader()
	p, diags := l.Load(path, scenario.Options{Vars: vars, Environ: os.Environ(), AllowExec: allowExec})
	if len(diags) > 0 {
		_ = l.WriteDiagnostics(w, diags)
		fmt.Fprintf(w, "%s: %s\n", path, count(diags))
	}
	if diags.HasErrors() {
		return nil
	}
	return p
}

func count(diags hcl.Diagnostics) string {
	var errs, warns int
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs++
		} else {
			warns++
		}
	}
	return fmt.Sprintf("%s, %s", plural(errs, "error"), plural(warns, "warning"))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
