package scenario

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/kwok-run/kwok-run/scenario/funcs"
	"github.com/kwok-run/kwok-run/scenario/metrics"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

var update = flag.Bool("update", false, "rewrite generated parts of the docs")

const languageDoc = "../docs/scenario-language.md"

// The metric table in the reference is generated from the catalogue, so the
// two cannot drift: `go test ./scenario -run TestDocs -update` rewrites it.
func TestDocsMetricTable(t *testing.T) {
	doc, err := os.ReadFile(languageDoc)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := []byte("<!-- metrics:begin -->\n"), []byte("<!-- metrics:end -->")
	i, j := bytes.Index(doc, begin), bytes.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no metrics:begin/end markers", languageDoc)
	}
	want := metricTable()
	got := string(doc[i+len(begin) : j])
	if got == want {
		return
	}
	if !*update {
		t.Fatalf("the metric table in %s is out of date; run go test ./scenario -run TestDocs -update", languageDoc)
	}
	out := append(append(append([]byte{}, doc[:i+len(begin)]...), want...), doc[j:]...)
	if err := os.WriteFile(languageDoc, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func metricTable() string {
	var sb strings.Builder
	sb.WriteString("| metric | unit | better | split by | statistics | meaning |\n|---|---|---|---|---|---|\n")
	for _, m := range metrics.Catalogue() {
		var dims []string
		for _, d := range m.Dimensions {
			if d.Keys != nil {
				dims = append(dims, fmt.Sprintf("%s (%s)", d.Name, strings.Join(d.Keys, ", ")))
			} else {
				dims = append(dims, d.Name)
			}
		}
		stats := "one number"
		if m.Stats != nil {
			stats = strings.Join(m.Stats, ", ")
		}
		fmt.Fprintf(&sb, "| `%s` | %s | %s | %s | %s | %s |\n", m.Name, m.Unit, m.Better, orDash(strings.Join(dims, "; ")), stats, m.Description)
	}
	return sb.String()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// Every block, attribute, function, wait condition and action of the language
// appears in the reference.
func TestDocsCoverTheLanguage(t *testing.T) {
	doc, err := os.ReadFile(languageDoc)
	if err != nil {
		t.Fatal(err)
	}
	mentioned := func(name string) bool {
		return regexp.MustCompile("`" + regexp.QuoteMeta(name) + "[`( ]").Match(doc)
	}
	schemas := map[string]*hcl.BodySchema{
		"top level": rootSchema, "variable": variableSchema, "validation": validationSchema,
		"scenario": scenarioSchema, "cluster": clusterSchema, "component": componentSchema,
		"node_pool": poolSchema, "taint": taintSchema, "pod_lifecycle": lifecycleSchema,
		"step": stepSchema, "create_nodes": createNodesSchema, "delete_nodes": deleteNodesSchema,
		"churn_nodes": churnNodesSchema, "create_pods": createPodsSchema, "toleration": tolerationSchema,
		"node_affinity": nodeAffinitySchema, "pod_affinity": podAffinitySchema, "topology_spread": topologySpreadSchema,
		"scale_pods": scalePodsSchema, "delete_pods": deletePodsSchema, "apply": applySchema,
		"restart_component": restartSchema, "stop_component": stopSchema, "wait": waitSchema,
		"sleep": sleepSchema, "exec": execSchema, "assert": assertSchema,
	}
	for where, s := range schemas {
		for _, a := range s.Attributes {
			if !mentioned(a.Name) {
				t.Errorf("attribute %s of %s is not documented", a.Name, where)
			}
		}
		for _, b := range s.Blocks {
			if !mentioned(b.Type) {
				t.Errorf("block %s in %s is not documented", b.Type, where)
			}
		}
	}
	for name := range funcs.Table() {
		if !mentioned(name) {
			t.Errorf("function %s is not documented", name)
		}
	}
	for _, c := range plan.WaitConditions {
		if !mentioned(c) {
			t.Errorf("wait condition %s is not documented", c)
		}
	}
	for _, c := range plan.ComponentNames {
		if !mentioned(c) {
			t.Errorf("component %s is not documented", c)
		}
	}
}

// The first example of the README and of the reference are whole scenarios
// and must load; every other snippet must at least parse.
func TestDocsExamples(t *testing.T) {
	for _, doc := range []string{"../README.md", languageDoc} {
		src, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		blocks := regexp.MustCompile("(?s)```hcl\n(.*?)```").FindAllSubmatch(src, -1)
		if len(blocks) == 0 {
			t.Fatalf("%s has no hcl examples", doc)
		}
		for i, b := range blocks {
			l := NewLoader()
			name := fmt.Sprintf("%s example %d", doc, i+1)
			if i == 0 {
				if _, diags := l.LoadSource(name, b[1], Options{}); len(diags) > 0 {
					var out bytes.Buffer
					_ = l.WriteDiagnostics(&out, diags)
					t.Errorf("%s does not load cleanly:\n%s", name, out.String())
				}
				continue
			}
			if _, diags := hclsyntax.ParseConfig(b[1], name, hcl.InitialPos); diags.HasErrors() {
				t.Errorf("%s does not parse: %s", name, diags)
			}
		}
	}
}
