package scenario

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// Fixtures under testdata/invalid carry their expected diagnostics as
// comments on the line each one must point at:
//
//	count = "ten"   # error: Invalid count
//
// Texts joined by " | " must all appear in the same diagnostic; a second
// "# error:" on the line expects a second diagnostic. Every diagnostic must be
// expected and every expectation met, so a fixture also proves that nothing
// else is reported. Files under testdata/valid must load with no diagnostics
// except the warnings they expect the same way.
var expectation = regexp.MustCompile(`#\s*(error|warning):\s*([^#]*)`)

type expected struct {
	line     int
	severity string
	texts    []string
}

func (e expected) matches(d *hcl.Diagnostic) bool {
	for _, t := range e.texts {
		if !strings.Contains(d.Summary+": "+d.Detail, t) {
			return false
		}
	}
	return true
}

func readExpectations(t *testing.T, path string) []expected {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []expected
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		for _, m := range expectation.FindAllStringSubmatch(sc.Text(), -1) {
			out = append(out, expected{line: line, severity: m[1], texts: strings.Split(strings.TrimSpace(m[2]), " | ")})
		}
	}
	return out
}

func severity(d *hcl.Diagnostic) string {
	if d.Severity == hcl.DiagWarning {
		return "warning"
	}
	return "error"
}

func checkFixture(t *testing.T, path string) {
	t.Helper()
	want := readExpectations(t, path)
	l := NewLoader()
	p, diags := l.Load(path, Options{AllowExec: true})
	var out bytes.Buffer
	_ = l.WriteDiagnostics(&out, diags)

	met := make([]bool, len(want))
	for _, d := range diags {
		if d.Subject == nil {
			t.Errorf("diagnostic without a position: %s: %s", d.Summary, d.Detail)
			continue
		}
		found := false
		for i, w := range want {
			if met[i] || w.severity != severity(d) {
				continue
			}
			sameFile := filepath.Clean(d.Subject.Filename) == filepath.Clean(path)
			if sameFile && d.Subject.Start.Line == w.line && w.matches(d) {
				met[i], found = true, true
				break
			}
			// Diagnostics in other files (manifests) are expected on the
			// line of the scenario that names the file.
			if !sameFile && w.matches(d) {
				met[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("unexpected %s at %s: %s: %s", severity(d), d.Subject, d.Summary, d.Detail)
		}
	}
	for i, w := range want {
		if !met[i] {
			t.Errorf("line %d: expected %s containing %q, not reported", w.line, w.severity, w.texts)
		}
	}
	hasErrors := false
	for _, w := range want {
		hasErrors = hasErrors || w.severity == "error"
	}
	if hasErrors != (p == nil) {
		t.Errorf("plan returned = %v with expected errors = %v", p != nil, hasErrors)
	}
	if t.Failed() {
		t.Logf("all diagnostics:\n%s", out.String())
	}
}

func TestFixtures(t *testing.T) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no fixtures in %s", dir)
		}
		for _, f := range files {
			t.Run(f, func(t *testing.T) { checkFixture(t, f) })
		}
	}
}
