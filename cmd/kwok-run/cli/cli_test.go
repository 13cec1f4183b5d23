package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

type result struct {
	code        int
	out, errOut string
}

func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), Streams{In: strings.NewReader(stdin), Out: &out, Err: &errOut}, args)
	return result{code, out.String(), errOut.String()}
}

func examples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../../examples/*.hcl")
	if err != nil || len(files) < 6 {
		t.Fatalf("want six or more examples, got %d (%v)", len(files), err)
	}
	return files
}

func TestValidateExamples(t *testing.T) {
	files := examples(t)
	r := run(t, "", append([]string{"validate"}, files...)...)
	if r.code != ExitOK || r.errOut != "" {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.errOut)
	}
	if got := strings.Count(r.out, ": valid\n"); got != len(files) {
		t.Errorf("%d of %d files reported valid:\n%s", got, len(files), r.out)
	}
}

// A broken copy of an example exits 2 with every error as file:line:col.
func TestValidateBrokenCopy(t *testing.T) {
	src, err := os.ReadFile("../../../examples/quickstart.hcl")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.NewReplacer(
		`rate = 50`, `rate = "fast"`,
		`timeout     = "5m"`, `timeout     = 5`,
		`pool = "workers"`, `pool = "worker"`,
		`metrics.pods_unscheduled`, `metrics.pod_unscheduled`,
		`kind      = "Deployment"`, `kind      = "Deploymnet"`,
	).Replace(string(src))
	path := filepath.Join(t.TempDir(), "broken.hcl")
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", "validate", path)
	if r.code != ExitUsage {
		t.Fatalf("exit %d, want %d", r.code, ExitUsage)
	}
	positions := regexp.MustCompile(regexp.QuoteMeta(path)+`:\d+:\d+: error: `).FindAllString(r.errOut, -1)
	for _, want := range []string{"Invalid rate", "Invalid duration", "Unknown node_pool", "Unknown metric", "Invalid kind"} {
		if !strings.Contains(r.errOut, want) {
			t.Errorf("missing %q in:\n%s", want, r.errOut)
		}
	}
	if len(positions) < 5 {
		t.Errorf("want every error with file:line:col, got %d:\n%s", len(positions), r.errOut)
	}
	if !strings.Contains(r.errOut, `Did you mean "workers"?`) || !strings.Contains(r.errOut, `Did you mean "pods_unscheduled"?`) {
		t.Errorf("want suggestions:\n%s", r.errOut)
	}
}

func TestPlanGolden(t *testing.T) {
	r := run(t, "", "plan", "../../../examples/quickstart.hcl")
	if r.code != ExitOK {
		t.Fatalf("exit %d:\n%s", r.code, r.errOut)
	}
	// The hash changes with every edit of the example; the rest should not.
	got := regexp.MustCompile(`sha256 [0-9a-f]+`).ReplaceAllString(r.out, "sha256 …")
	golden := "testdata/quickstart.plan.txt"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("plan output changed; if that is intended, run go test ./cmd/kwok-run/cli -run TestPlanGolden -update\ngot:\n%s", got)
	}
}

func TestPlanJSONWithSingleDashVars(t *testing.T) {
	r := run(t, "", "plan", "--json", "-var", "nodes=7", "-var=pods=20", "../../../examples/quickstart.hcl")
	if r.code != ExitOK {
		t.Fatalf("exit %d:\n%s", r.code, r.errOut)
	}
	var p struct {
		Pools []struct {
			Count int `json:"count"`
		} `json:"node_pools"`
		Steps []struct {
			Actions []map[string]any `json:"actions"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(r.out), &p); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.out)
	}
	if p.Pools[0].Count != 7 || p.Steps[1].Actions[0]["count"] != float64(20) {
		t.Errorf("-var did not reach the plan: %+v", p)
	}
}

func TestFmt(t *testing.T) {
	dir := t.TempDir()
	messy := filepath.Join(dir, "messy.hcl")
	if err := os.WriteFile(messy, []byte("scenario \"x\" {\nseed=1\n  timeout   =   \"1m\"\n}\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	clean := filepath.Join(dir, "clean.hcl")
	if err := os.WriteFile(clean, []byte("scenario \"x\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	r := run(t, "", "fmt", "-check", dir)
	if r.code != ExitFailed || strings.TrimSpace(r.out) != messy {
		t.Fatalf("fmt -check: exit %d, out %q", r.code, r.out)
	}
	r = run(t, "", "fmt", dir)
	if r.code != ExitOK || strings.TrimSpace(r.out) != messy {
		t.Fatalf("fmt: exit %d, out %q, err %q", r.code, r.out, r.errOut)
	}
	got, _ := os.ReadFile(messy)
	if string(got) != "scenario \"x\" {\n  seed    = 1\n  timeout = \"1m\"\n}\n" {
		t.Errorf("formatted:\n%s", got)
	}
	if info, _ := os.Stat(messy); info.Mode().Perm() != 0o640 {
		t.Errorf("fmt changed the file mode to %v", info.Mode().Perm())
	}
	if r := run(t, "", "fmt", "-check", dir); r.code != ExitOK {
		t.Errorf("after fmt, -check exits %d", r.code)
	}

	r = run(t, "scenario \"y\" {\nseed=2\n}\n", "fmt", "-")
	if r.code != ExitOK || r.out != "scenario \"y\" {\n  seed = 2\n}\n" {
		t.Errorf("fmt - : exit %d, out %q", r.code, r.out)
	}

	broken := filepath.Join(dir, "broken.hcl")
	if err := os.WriteFile(broken, []byte("scenario \"x\" {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "", "fmt", broken); r.code != ExitUsage || !strings.Contains(r.errOut, broken+":") {
		t.Errorf("fmt of a broken file: exit %d, err %q", r.code, r.errOut)
	}
	if b, _ := os.ReadFile(broken); string(b) != "scenario \"x\" {\n" {
		t.Error("fmt must not touch a file it cannot parse")
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"validate"},
		{"plan", "a.hcl", "b.hcl"},
		{"validate", "--no-such-flag", "x.hcl"},
		{"validate", "/nonexistent/scenario.hcl"},
	} {
		if r := run(t, "", args...); r.code != ExitUsage || r.errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want %d and a message", args, r.code, r.errOut, ExitUsage)
		}
	}
}

func TestVersion(t *testing.T) {
	r := run(t, "", "version")
	if r.code != ExitOK || !strings.HasPrefix(r.out, "kwok-run ") || !strings.Contains(r.out, "kubernetes v1.37.2") {
		t.Errorf("version: exit %d, out %q", r.code, r.out)
	}
}
