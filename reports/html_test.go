package reports

import (
	"bytes"
	"math"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// renderHTML writes r and checks what every page must be: parseable HTML
// that runs no script and refers to nothing outside itself.
func renderHTML(t *testing.T, r *Report) (string, *html.Node) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	page := buf.String()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parse the page: %v", err)
	}
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Error("the page has a <script>")
	}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.Data {
		case "script", "link", "img", "iframe", "object", "embed", "image", "use":
			t.Errorf("the page has a <%s> element", n.Data)
		case "style":
			css := htmlText(n)
			for _, bad := range []string{"url(", "@import", "http://", "https://"} {
				if strings.Contains(css, bad) {
					t.Errorf("the stylesheet has %q", bad)
				}
			}
		}
		for _, a := range n.Attr {
			v := strings.ToLower(a.Val)
			if strings.Contains(v, "http://") || strings.Contains(v, "https://") || strings.Contains(v, "url(") ||
				(a.Key == "href" || a.Key == "src") && !strings.HasPrefix(v, "#") {
				t.Errorf("<%s %s=%q> refers outside the page", n.Data, a.Key, a.Val)
			}
		}
	}
	return page, doc
}

func htmlText(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

func htmlByID(doc *html.Node, id string) *html.Node {
	for n := range doc.Descendants() {
		for _, a := range n.Attr {
			if a.Key == "id" && a.Val == id {
				return n
			}
		}
	}
	return nil
}

func htmlHasSVG(n *html.Node) bool {
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && d.Data == "svg" {
			return true
		}
	}
	return false
}

func TestHTMLSampleReport(t *testing.T) {
	page, doc := renderHTML(t, sampleReport())

	charts := []string{"chart-objects", "chart-latency", "chart-throughput", "chart-cpu", "chart-memory", "chart-storage-1", "chart-storage-2"}
	for _, id := range charts {
		n := htmlByID(doc, id)
		switch {
		case n == nil:
			t.Errorf("no chart %s", id)
		case !htmlHasSVG(n):
			t.Errorf("chart %s has no <svg>: %q", id, htmlText(n))
		}
	}
	for _, want := range []string{
		"scheduler-throughput", "failed", "exit code <b>1</b>", "2026-03-14 09:26:53 UTC", "2m 01s", "v0.4.0",
		"9f2c1b7e4a0d5c3b8e6f1a2d4c7b9e0f3a5d8c1b6e4f7a0d2c5b8e1f4a7d0c3b",
		"✗", "✓", "⚠", "p99 pod start-up was ", "could not be evaluated",
		"100/s → 62.4/s", "429 ×12", "timed out after 30s",
		"pod_startup_latency", "api_request_latency", "create pods",
		"metadata.creationTimestamp", "untimed transitions", "pod demo/web-1-7d9f8-x2k4q Pending→Running",
		"kube-apiserver", "&#39;--admission-control-config-file=/tmp/kwok-run/run-42/admission config.yaml&#39;",
		"InPlacePodVerticalScaling=true", "zone-a", "step &#34;scale-down&#34;",
		"Step <b>pods</b>", // per-step metrics
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "Not measured.") {
		t.Error("a chart of the sample report says it was not measured")
	}

	var again bytes.Buffer
	if err := WriteHTML(&again, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if again.String() != page {
		t.Error("the same report rendered twice gives different pages")
	}
}

// A run interrupted during its first step has measured nothing; its page
// says so rather than failing or drawing empty axes.
func TestHTMLInterruptedRun(t *testing.T) {
	r := interruptedReport()
	page, doc := renderHTML(t, r)
	for _, id := range []string{"chart-objects", "chart-latency", "chart-throughput", "chart-cpu", "chart-memory"} {
		n := htmlByID(doc, id)
		if n == nil || htmlHasSVG(n) || !strings.Contains(htmlText(n), "Not measured.") {
			t.Errorf("chart %s of an empty run is not marked as not measured", id)
		}
	}
	if htmlByID(doc, "storage") != nil {
		t.Error("a run without storage series has a storage section")
	}
	for _, want := range []string{"interrupted", "exit code <b>130</b>", "stopped in step <b>nodes</b>", "Nothing was measured."} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}

	renderHTML(t, &Report{})
}

// Points that are not numbers are left out of the charts, not drawn as
// garbage or allowed to fail the report.
func TestHTMLNonFinitePoints(t *testing.T) {
	r := sampleReport()
	bad := [][2]float64{{math.NaN(), 1}, {3, math.Inf(1)}, {math.Inf(-1), 2}}
	for i := range r.Series {
		r.Series[i].Points = append(bad, r.Series[i].Points...)
	}
	for i := range r.Distributions {
		r.Distributions[i].Points = append(r.Distributions[i].Points, [2]float64{0, 0.5}, [2]float64{math.NaN(), 1})
	}
	r.Series = append(r.Series, Series{Name: "only garbage", Group: GroupThroughput, Unit: "1/s", Points: bad})
	r.Metrics["pod_startup_latency.p99"] = math.Inf(1)
	page, doc := renderHTML(t, r)
	for _, id := range []string{"chart-objects", "chart-latency", "chart-throughput", "chart-cpu", "chart-memory"} {
		if n := htmlByID(doc, id); n == nil || !htmlHasSVG(n) {
			t.Errorf("chart %s was not drawn", id)
		}
	}
	if bad := regexp.MustCompile(`\b(NaN|Inf)\b`).FindString(page); bad != "" {
		t.Errorf("the page shows %q", bad)
	}
}

func TestHTMLFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{htmlSeconds(0.412), "412 ms"},
		{htmlSeconds(0.0041), "4.1 ms"},
		{htmlSeconds(0.0000252), "25.2 µs"},
		{htmlSeconds(2.41), "2.41 s"},
		{htmlSeconds(121.4), "2m 01s"},
		{htmlSeconds(3725), "1h 02m"},
		{htmlSeconds(0), "0 s"},
		{htmlBytes(61.4 * htmlMiB), "61.4 MiB"},
		{htmlBytes(1.5 * htmlGiB), "1.5 GiB"},
		{htmlBytes(512), "512 B"},
		{htmlRate(62.4), "62.4/s"},
		{htmlCount(1234567), "1,234,567"},
		{htmlCount(-1000), "-1,000"},
		{htmlFormatPath("metrics.steps.pods.pod_startup_latency.p99", 2.41), "2.41 s"},
		{htmlFormatPath("pod_startup_latency.count", 3000), "3,000"},
		{htmlFormatPath("component_rss_peak_bytes.apiserver", 412*htmlMiB), "412 MiB"},
		{htmlFormatPath("scheduling_throughput.p50", 61), "61/s"},
		{htmlFormatPath("unknown_metric", 0.25), "0.25"},
		{htmlSeconds(math.NaN()), "n/a"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
