package scenario

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics prints diags the way compilers do, one per paragraph:
//
//	examples/x.hcl:12:3: error: Unsupported argument
//	   12 |   cont = 5
//	      |   ^~~~
//	  An argument named "cont" is not expected here. Did you mean "count"?
//
// The first line is what editors and CI annotations jump to; the snippet comes
// from the loaded files, so it shows exactly what the loader read.
func (l *Loader) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	sorted := append(hcl.Diagnostics(nil), diags...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i].Subject, sorted[j].Subject
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
	bw := bufio.NewWriter(w)
	for _, d := range sorted {
		l.writeDiagnostic(bw, d)
	}
	return bw.Flush()
}

func (l *Loader) writeDiagnostic(w *bufio.Writer, d *hcl.Diagnostic) {
	severity := "error"
	if d.Severity == hcl.DiagWarning {
		severity = "warning"
	}
	if d.Subject != nil {
		fmt.Fprintf(w, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
	}
	fmt.Fprintf(w, "%s: %s\n", severity, d.Summary)
	if d.Subject != nil {
		l.writeSnippet(w, *d.Subject)
	}
	if d.Detail != "" {
		for _, line := range strings.Split(d.Detail, "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	fmt.Fprintln(w)
}

// writeSnippet prints the first line of rng with a marker under the range.
func (l *Loader) writeSnippet(w *bufio.Writer, rng hcl.Range) {
	src := l.source(rng.Filename)
	if src == nil || rng.Start.Line < 1 {
		return
	}
	line, ok := nthLine(src, rng.Start.Line)
	if !ok {
		return
	}
	line = bytes.ReplaceAll(line, []byte("\t"), []byte(" "))
	start := max(rng.Start.Column-1, 0)
	end := len(line)
	if rng.End.Line == rng.Start.Line {
		end = min(rng.End.Column-1, len(line))
	}
	// A very long line is shown as a window around the range, so a minified
	// or garbage file does not flood the terminal.
	const window = 100
	if len(line) > 2*window {
		from := max(start-window/2, 0)
		to := min(max(end, start+1)+window/2, len(line))
		prefix, suffix := "…", "…"
		if from == 0 {
			prefix = ""
		}
		if to == len(line) {
			suffix = ""
		}
		shift := from
		if prefix != "" {
			shift-- // the ellipsis takes one column
		}
		line = []byte(prefix + string(line[from:to]) + suffix)
		start, end = start-shift, min(end-shift, to-shift)
	}
	num := fmt.Sprint(rng.Start.Line)
	pad := strings.Repeat(" ", len(num))
	fmt.Fprintf(w, " %s | %s\n", num, line)

	marker := "^"
	if end-start > 1 {
		marker += strings.Repeat("~", min(end-start-1, window))
	}
	// Columns count characters; the marker lines up for ASCII, which is what
	// scenario files are made of almost everywhere.
	fmt.Fprintf(w, " %s | %s%s\n", pad, strings.Repeat(" ", min(start, len(line))), marker)
}

func nthLine(src []byte, n int) ([]byte, bool) {
	for i := 1; ; i++ {
		next := bytes.IndexByte(src, '\n')
		if i == n {
			if next < 0 {
				return bytes.TrimRight(src, "\r"), true
			}
			return bytes.TrimRight(src[:next], "\r"), true
		}
		if next < 0 {
			return nil, false
		}
		src = src[next+1:]
	}
}
