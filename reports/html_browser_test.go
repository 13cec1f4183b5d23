package reports

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/kwok-run/kwok-run/reports/browsertest"
)

// TestHTMLBrowser opens each kind of page in a real headless Chromium: it
// must load cleanly, fit the window and show something. Screenshots are kept
// in the test's directory, and in $KWOKRUN_SCREENSHOT_DIR when that is set,
// for a person to look at.
func TestHTMLBrowser(t *testing.T) {
	browser := browsertest.Start(t)
	dir := t.TempDir()
	page := func(t *testing.T, name string, write func(io.Writer) error) string {
		t.Helper()
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, name+".html")
		if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return file
	}

	t.Run("sample", func(t *testing.T) {
		img := browsertest.Check(t, browser, page(t, "html-report", report(sampleReport())))
		if h := img.Bounds().Dy(); h < 1500 {
			t.Errorf("the page is %d px tall, want a full report (>= 1500 px)", h)
		}
		if n := browsertest.DistinctColours(img); n < 64 {
			t.Errorf("the screenshot has %d distinct colours: the page looks blank", n)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		img := browsertest.Check(t, browser, page(t, "html-report-interrupted", report(interruptedReport())))
		if n := browsertest.DistinctColours(img); n < 16 {
			t.Errorf("the screenshot has %d distinct colours: the page looks blank", n)
		}
	})
	t.Run("comparison", func(t *testing.T) {
		c, err := Compare(sampleSide("base", 5, 1), sampleSide("new", 5, 1.2), CompareOptions{Threshold: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		img := browsertest.Check(t, browser, page(t, "html-comparison", func(w io.Writer) error { return WriteComparisonHTML(w, c) }))
		if n := browsertest.DistinctColours(img); n < 64 {
			t.Errorf("the screenshot has %d distinct colours: the page looks blank", n)
		}
	})
	t.Run("sweep", func(t *testing.T) {
		img := browsertest.Check(t, browser, page(t, "html-sweep", func(w io.Writer) error { return WriteSweepHTML(w, sampleSweep()) }))
		if n := browsertest.DistinctColours(img); n < 64 {
			t.Errorf("the screenshot has %d distinct colours: the page looks blank", n)
		}
	})
}

func report(r *Report) func(io.Writer) error {
	return func(w io.Writer) error { return WriteHTML(w, r) }
}

// sampleSide is n runs of the sample report whose metrics are scaled by
// factor and by a little noise of their own.
func sampleSide(label string, n int, factor float64) Side {
	s := Side{Label: label}
	rng := rand.New(rand.NewPCG(uint64(n), uint64(factor*1000)))
	for range n {
		r := sampleReport()
		for k, v := range r.Metrics {
			r.Metrics[k] = v * factor * (1 + 0.04*(rng.Float64()-0.5))
		}
		s.Runs = append(s.Runs, r)
	}
	return s
}
