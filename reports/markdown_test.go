package reports

import (
	"bytes"
	"testing"
)

func TestMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, textFixture()); err != nil {
		t.Fatal(err)
	}
	golden(t, "markdown.golden", b.String())
}

func TestMarkdownVerdicts(t *testing.T) {
	for _, v := range verdicts() {
		t.Run(v.name, func(t *testing.T) {
			r := textFixture()
			v.edit(r)
			var b bytes.Buffer
			if err := WriteMarkdown(&b, r); err != nil {
				t.Fatal(err)
			}
			contains(t, b.String(), v.markdown)
		})
	}
}
