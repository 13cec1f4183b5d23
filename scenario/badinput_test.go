package scenario

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// allocated is what f allocates, in bytes.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Files that are no scenario at all are rejected with a position and a
// sentence, in memory bounded by the limit on a file's size, without
// blocking on a file that never ends.
func TestFilesThatAreNoScenario(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	// text is random printable ASCII, brackets, quotes and newlines among it.
	text := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(' ' + rng.UintN(95))
			if rng.UintN(40) == 0 {
				b[i] = '\n'
			}
		}
		return b
	}
	write := func(name string, src []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, src, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	fifo := filepath.Join(dir, "fifo.hcl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, says string
		// maxAlloc bounds what loading may allocate.
		maxAlloc uint64
	}{
		{"10 MB of garbage", write("huge.hcl", garbage(10<<20)), "Scenario file too large", 1 << 20},
		{"1 MB of garbage", write("garbage.hcl", garbage(MaxFileSize)), "Not a text file", 2 * MaxFileSize},
		{"1 MB of text garbage", write("text.hcl", text(MaxFileSize)), "", 128 * MaxFileSize},
		{"10 MB of newlines", write("lines.hcl", bytes.Repeat([]byte("\n"), 10<<20)), "Scenario file too large", 1 << 20},
		{"a FIFO", fifo, "is not a regular file", 1 << 20},
		{"a device", "/dev/zero", "is not a regular file", 1 << 20},
		{"a directory", dir, "is not a regular file", 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var diags []string
			var errs int
			n := allocated(func() {
				l := NewLoader()
				p, ds := l.Load(tc.path, Options{})
				if p != nil {
					t.Error("a plan came back")
				}
				for _, d := range ds {
					if d.Subject == nil {
						t.Errorf("%s without a position: %s", d.Summary, d.Detail)
					}
					diags = append(diags, d.Summary+": "+d.Detail)
					if d.Severity == 1 {
						errs++
					}
				}
			})
			if errs == 0 || (tc.says != "" && !strings.Contains(strings.Join(diags, "\n"), tc.says)) {
				t.Errorf("want errors saying %q, got %q", tc.says, diags)
			}
			if n > tc.maxAlloc {
				t.Errorf("loading allocated %d bytes, more than %d", n, tc.maxAlloc)
			}
		})
	}
}

// A variable file too large is refused the same way.
func TestVariableFileTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.tfvars")
	if err := os.WriteFile(path, bytes.Repeat([]byte("# a comment line\n"), (MaxFileSize/17)+1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, diags := NewLoader().LoadSource("s.hcl", []byte("scenario \"s\" {}\n"), Options{Vars: []VarArg{{File: true, Value: path}}})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "more bytes than kwok-run reads") || diags[0].Subject == nil {
		t.Errorf("want the variable file refused with its position, got %v", diags)
	}
}

// Expressions that would build gigabytes from a few characters are stopped
// with the position of what built too much, in bounded memory.
func TestExpressionsThatBuildTooMuch(t *testing.T) {
	// Each defines local.a; the step uses it so that it is evaluated.
	doubling := "locals {\n  x0 = 1e300\n"
	for i := 1; i <= 22; i++ {
		doubling += fmt.Sprintf("  x%d = local.x%d * local.x%d\n", i, i-1, i-1)
	}
	doubling += "  a = \"${local.x22}\"\n}\n"
	for _, tc := range []struct{ name, src, says string }{
		{"three nested for expressions", `locals { a = [for i in range(1000): [for j in range(1000): [for k in range(1000): k]]] }`, "Value too large"},
		{"setproduct", "locals {\n  r = range(1000)\n  a = setproduct(local.r, local.r, local.r)\n}", "larger than kwok-run allows"},
		{"indent", `locals { a = indent(1000000000, "a\nb") }`, "larger than kwok-run allows"},
		{"format width", `locals { a = format("%999999999d", 1) }`, "larger than kwok-run allows"},
		{"join over repeats", `locals { a = join(format("%0100d", 1), [for i in range(1000): [for j in range(1000): format("%0100d", 2)]]...) }`, "Value too large"},
		{"replace with an empty pattern", `locals { a = replace(format("%01000000d", 1), "", format("%01000d", 2)) }`, "larger than kwok-run allows"},
		{"a template of repeats", `locals {
  s = format("%01000000d", 1)
  a = "${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}${local.s}"
}`, "Value too large"},
		{"a huge number written out", `locals { a = "${1e60000000}" }`, "Number out of range"},
		{"a tiny number written out", `locals { a = "${1e-600000}" }`, "Number out of range"},
		{"a number squared through locals", doubling, "Value too large"},
		{"jsonencode of shared values", `locals {
  s = format("%01000000d", 1)
  a = jsonencode([local.s, local.s, local.s, local.s, local.s, local.s, local.s, local.s, local.s, local.s])
}`, "larger than kwok-run allows"},
		{"swallowed by try", `locals { a = try([for i in range(1000): [for j in range(1000): [for k in range(1000): k]]], 1) }`, "Value too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src + "\nstep \"s\" {\n  description = jsonencode(local.a)\n  sleep {\n    duration = \"1s\"\n  }\n}\n"
			var diags hcl.Diagnostics
			n := allocated(func() { _, diags = NewLoader().LoadSource("big.hcl", []byte(src), Options{}) })
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.says) {
				t.Fatalf("want an error saying %q, got %v", tc.says, diags)
			}
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("%s without a position", d.Summary)
				}
			}
			t.Logf("allocated %d MiB", n>>20)
			if n > 1<<30 {
				t.Errorf("loading allocated %d MiB", n>>20)
			}
		})
	}
}
