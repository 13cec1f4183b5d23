package scenario

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader. Whatever the input, loading
// must not panic, every error must say where it is, and a plan that comes
// back must print. CI runs it for a short while on top of the corpus below;
// crashers it finds are kept in testdata/fuzz/FuzzLoad and run as regression
// tests by plain `go test`.
func FuzzLoad(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{"../examples/*.hcl", "testdata/valid/*.hcl", "testdata/invalid/*.hcl"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, files...)
	}
	if len(seeds) == 0 {
		f.Fatal("no seed files")
	}
	for _, s := range seeds {
		src, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, diags := NewLoader().LoadSource("testdata/valid/fuzz.hcl", src, Options{AllowExec: true})
		if diags.HasErrors() != (p == nil) {
			t.Fatalf("errors %v but plan returned %v", diags.HasErrors(), p != nil)
		}
		for _, d := range diags {
			if d.Subject == nil {
				t.Errorf("%s without a position: %s", d.Summary, d.Detail)
			}
		}
		if p != nil {
			if err := p.WriteText(io.Discard); err != nil {
				t.Fatal(err)
			}
			if err := p.WriteJSON(io.Discard); err != nil {
				t.Fatal(err)
			}
		}
	})
}
