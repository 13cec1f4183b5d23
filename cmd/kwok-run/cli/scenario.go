package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/pflag"

	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// trust is what the user lets a scenario do beyond describing a test: both
// are refused by default, because scenario files are shared, and both are
// checked at load time, so validate and plan report them too.
type trust struct{ exec, outsideFiles bool }

func (t *trust) register(fs *pflag.FlagSet) {
	fs.BoolVar(&t.exec, "allow-exec", false, "let the scenario's exec actions run commands on this machine")
	fs.BoolVar(&t.outsideFiles, "allow-outside-files", false, "let the scenario read files outside its own directory (manifests, a kubeconfig)")
}

// load reads one scenario, prints its diagnostics to w, and returns the plan,
// or nil when the file has errors.
func load(w io.Writer, path string, vars []scenario.VarArg, t trust) *plan.Plan {
	l := scenario.NewLoader()
	p, diags := l.Load(path, scenario.Options{Vars: vars, Environ: os.Environ(), AllowExec: t.exec, AllowOutsideFiles: t.outsideFiles})
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
