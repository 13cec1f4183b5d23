package scenario

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"sigs.k8s.io/yaml"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

var applySchema = &hcl.BodySchema{Attributes: withRate(hcl.AttributeSchema{Name: "files", Required: true}, hcl.AttributeSchema{Name: "delete"})}

func (d *decoder) decodeApply(blk *hcl.Block) plan.Action {
	b := d.body(blk, applySchema)
	a := &plan.Apply{Delete: b.boolean("delete", false), Rate: b.rate()}
	files := b.stringList("files")
	if b.has("files") && len(files) == 0 {
		b.fail("files", "No manifest files", "files lists the manifests to apply, e.g. [\"manifests/crd.yaml\"].")
	}
	for _, p := range files {
		if m, ok := d.manifest(p, b.rng("files")); ok {
			a.Files = append(a.Files, m)
		}
	}
	return a
}

// manifest reads a manifest file relative to the scenario, renders it as an
// HCL template (${var.x} works; a literal ${ is written $${) and checks that
// every document is one Kubernetes object, so a broken manifest fails at load
// time and not halfway through a run.
func (d *decoder) manifest(path string, attrRng hcl.Range) (plan.Manifest, bool) {
	m := plan.Manifest{Path: path}
	expr, ok := d.manifestTemplate(path, attrRng)
	if !ok {
		return m, false
	}
	full := expr.Range().Filename
	v, diags := d.eval(expr, scope{})
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.Type() != cty.String {
		return m, false
	}

	for _, doc := range splitYAML(v.AsString()) {
		at := hcl.Range{Filename: full, Start: hcl.Pos{Line: doc.line, Column: 1}, End: hcl.Pos{Line: doc.line, Column: 1}}
		var obj struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		var probe any
		if err := yaml.Unmarshal([]byte(doc.text), &probe); err != nil {
			d.errorf(at, "Invalid YAML in manifest", "%s", err)
			ok = false
			continue
		}
		if probe == nil {
			continue // only comments
		}
		if err := yaml.Unmarshal([]byte(doc.text), &obj); err != nil || obj.APIVersion == "" || obj.Kind == "" || obj.Metadata.Name == "" {
			d.errorf(at, "Not a Kubernetes object", "Each document of a manifest is one object with apiVersion, kind and metadata.name (server-side apply needs the name).")
			ok = false
			continue
		}
		id := obj.Kind + "/" + obj.Metadata.Name
		if obj.Metadata.Namespace != "" {
			id = obj.Kind + "/" + obj.Metadata.Namespace + "/" + obj.Metadata.Name
		}
		m.Documents = append(m.Documents, doc.text)
		m.Objects = append(m.Objects, id)
	}
	if ok && len(m.Documents) == 0 {
		d.errorf(attrRng, "Empty manifest", "%s holds no objects.", path)
		ok = false
	}
	return m, ok
}

type yamlDoc struct {
	text string
	line int // where the document starts in the rendered file
}

// splitYAML splits a multi-document YAML stream at "---" lines, keeping line
// numbers for messages.
func splitYAML(s string) []yamlDoc {
	var docs []yamlDoc
	var cur strings.Builder
	start := 1
	lines := strings.SplitAfter(s, "\n")
	for i, line := range lines {
		trimmed := strings.TrimRight(line, " \t\r\n")
		if trimmed == "---" || strings.HasPrefix(trimmed, "--- ") {
			if strings.TrimSpace(cur.String()) != "" {
				docs = append(docs, yamlDoc{text: cur.String(), line: start})
			}
			cur.Reset()
			start = i + 2
			continue
		}
		cur.WriteString(line)
	}
	if strings.TrimSpace(cur.String()) != "" {
		docs = append(docs, yamlDoc{text: cur.String(), line: start})
	}
	return docs
}
