package scenario

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
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
