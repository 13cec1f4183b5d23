package scenario

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical layout (hclwrite's, the same as
// terraform fmt). It refuses files that do not parse, because formatting
// broken syntax can move the damage somewhere harder to see.
func (l *Loader) Format(filename string, src []byte) ([]byte, hcl.Diagnostics) {
	if diags := checkComplexity(lexConfig, src, filename); diags.HasErrors() {
		l.remember(filename, src)
		return nil, diags
	}
	if _, diags := l.parser.ParseHCL(src, filename); diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), nil
}
