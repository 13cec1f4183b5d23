// Package scenario reads a kwok-run scenario file: it parses the HCL, resolves
// variables and locals, decodes and validates every block, and returns the
// plan that the runner plays. All problems come back at once as diagnostics
// that point at the offending text.
package scenario

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/kwok-run/kwok-run/scenario/funcs"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Limits on what the loader reads: anything much larger than a real file is
// a mistake that should not cost memory. HCL costs about a hundred bytes of
// tokens for each byte of text, so a scenario (a page or two) and a
// variable file get a megabyte; manifests, mostly template text, may hold
// large CRDs.
const (
	MaxFileSize     = 1 << 20
	MaxManifestSize = 4 << 20
)

// Options are the inputs beside the file itself.
type Options struct {
	// Vars are the -var and -var-file arguments in command-line order; later
	// ones win.
	Vars []VarArg
	// Environ is searched for KWOKRUN_VAR_<name> values (os.Environ()).
	Environ []string
	// AllowExec lets exec actions load: a shared scenario must not run
	// commands on the machine unless its user says so (--allow-exec).
	AllowExec bool
	// AllowOutsideFiles lets the scenario name files outside its own
	// directory (--allow-outside-files): manifests, a kubeconfig.
	AllowOutsideFiles bool
}

// VarArg is one -var name=value or -var-file path argument.
type VarArg struct {
	File  bool
	Value string
}

// Loader loads scenario files and remembers their text for diagnostics.
type Loader struct {
	parser *hclparse.Parser
	// others holds files read besides HCL ones (manifests), for snippets.
	others map[string][]byte
}

// NewLoader returns an empty loader.
func NewLoader() *Loader {
	return &Loader{parser: hclparse.NewParser(), others: map[string][]byte{}}
}

func (l *Loader) remember(name string, src []byte) { l.others[name] = src }

// source returns the text of a file the loader read.
func (l *Loader) source(name string) []byte {
	if f := l.parser.Files()[name]; f != nil {
		return f.Bytes
	}
	return l.others[name]
}

// Load reads the scenario at path. The plan is nil when diags has errors.
func (l *Loader) Load(path string, opts Options) (*plan.Plan, hcl.Diagnostics) {
	src, err := readBounded(path, MaxFileSize)
	if errors.Is(err, errTooLarge) {
		return nil, tooLarge(path)
	}
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read scenario file",
			Detail:   err.Error(),
			Subject:  fileStart(path),
		}}
	}
	return l.LoadSource(path, src, opts)
}

// LoadSource loads a scenario from memory; filename names it in diagnostics
// and anchors relative paths (manifests) in its directory.
func (l *Loader) LoadSource(filename string, src []byte, opts Options) (*plan.Plan, hcl.Diagnostics) {
	if len(src) > MaxFileSize {
		return nil, tooLarge(filename)
	}
	if diags := checkText(src, filename); diags.HasErrors() {
		return nil, diags
	}
	if diags := checkComplexity(lexConfig, src, filename); diags.HasErrors() {
		l.remember(filename, src)
		return nil, diags
	}
	f, diags := l.parser.ParseHCL(src, filename)
	if !diags.HasErrors() {
		diags = append(diags, guard(f.Body.(*hclsyntax.Body))...)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	sum := sha256.Sum256(src)
	d := &decoder{
		loader: l,
		dir:    filepath.Dir(filename),
		opts:   opts,
		plan: &plan.Plan{Scenario: plan.Scenario{
			File:   filename,
			SHA256: hex.EncodeToString(sum[:]),
			Source: string(src),
		}},
	}
	d.decode(f.Body)
	diags = append(diags, d.diags...)
	if diags.HasErrors() {
		return nil, diags
	}
	return d.plan, diags
}

func tooLarge(filename string) hcl.Diagnostics {
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Scenario file too large",
		Detail:   fmt.Sprintf("%s has more than %d bytes, the limit of a scenario file: a scenario is a page or two of text.", filename, MaxFileSize),
		Subject:  fileStart(filename),
	}}
}

// errTooLarge is a file longer than its limit.
var errTooLarge = errors.New("more bytes than kwok-run reads from such a file")

// checkText rejects bytes that are not UTF-8 text, which HCL and YAML are,
// at the first one: garbage costs the lexer hundreds of bytes of tokens for
// each of its bytes.
func checkText(src []byte, filename string) hcl.Diagnostics {
	if utf8.Valid(src) {
		return nil
	}
	pos := hcl.InitialPos
	for len(src) > 0 {
		r, n := utf8.DecodeRune(src)
		if r == utf8.RuneError && n <= 1 {
			break
		}
		pos.Byte += n
		pos.Column++
		if r == '\n' {
			pos.Line++
			pos.Column = 1
		}
		src = src[n:]
	}
	rng := hcl.Range{Filename: filename, Start: pos, End: pos}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Not a text file",
		Detail:   fmt.Sprintf("%s is not UTF-8 text: the byte at line %d, column %d is no character. kwok-run reads HCL and YAML, which are text.", filename, pos.Line, pos.Column),
		Subject:  &rng,
	}}
}

// fileStart is the position of a diagnostic about a whole file.
func fileStart(filename string) *hcl.Range {
	return &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
}

// readBounded reads a regular file of at most limit bytes: a device or a
// pipe named as a scenario or manifest could block or never end.
func readBounded(path string, limit int64) ([]byte, error) {
	// Without O_NONBLOCK, opening a FIFO waits for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if info.Size() > limit {
		return nil, fmt.Errorf("%s has %d bytes, %w (%d)", path, info.Size(), errTooLarge, limit)
	}
	// One buffer of the file's size and a byte more, which tells whether
	// the file grew while it was read.
	buf := make([]byte, info.Size()+1)
	n, err := io.ReadFull(f, buf)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return buf[:n], nil
	case err != nil:
		return nil, err
	}
	rest, err := io.ReadAll(io.LimitReader(f, limit+1-int64(n)))
	if err != nil {
		return nil, err
	}
	if buf = append(buf, rest...); int64(len(buf)) > limit {
		return nil, fmt.Errorf("%s has %w (%d)", path, errTooLarge, limit)
	}
	return buf, nil
}

// rootSchema is every top-level block of the language.
var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "scenario", LabelNames: []string{"name"}},
		{Type: "cluster"},
		{Type: "node_pool", LabelNames: []string{"name"}},
		{Type: "pod_lifecycle", LabelNames: []string{"name"}},
		{Type: "step", LabelNames: []string{"name"}},
		{Type: "assert", LabelNames: []string{"name"}},
	},
}

// decoder holds the state of one load: what has been declared so far, the
// evaluation context, and every diagnostic.
type decoder struct {
	loader *Loader
	dir    string
	opts   Options
	plan   *plan.Plan
	diags  hcl.Diagnostics

	vars   map[string]*variable
	locals map[string]cty.Value
	ctx    *hcl.EvalContext

	pools      map[string]*poolState
	lifecycles map[string]hcl.Range
	waves      map[string]*waveState
	// objectWaves are the create_objects waves decoded so far.
	objectWaves map[string]*objectWave
	steps       map[string]hcl.Range
	// scenarioRange is blamed for problems with the scenario as a whole.
	scenarioRange *hcl.Range
}

func (d *decoder) decode(body hcl.Body) {
	content, diags := body.Content(rootSchema)
	d.diags = append(d.diags, diags...)

	d.ctx = &hcl.EvalContext{Variables: withBudget(map[string]cty.Value{}, MaxLoadWeight), Functions: funcs.Table()}
	d.decodeVariables(content.Blocks.OfType("variable"))
	d.ctx.Variables["var"] = d.varObject()
	d.checkVariableValidations()
	d.decodeLocals(content.Blocks.OfType("locals"))
	d.ctx.Variables["local"] = cty.ObjectVal(d.locals)

	d.decodeScenario(content.Blocks.OfType("scenario"), body)
	d.decodeCluster(content.Blocks.OfType("cluster"))
	d.decodePools(content.Blocks.OfType("node_pool"))
	d.decodeLifecycles(content.Blocks.OfType("pod_lifecycle"))
	d.decodeSteps(content.Blocks.OfType("step"), body)
	d.checkPoolsUsed()
	d.decodeAsserts(content.Blocks.OfType("assert"))
}

// singleton returns the one block of a type, reporting extra ones.
func (d *decoder) singleton(blocks hcl.Blocks, what string) *hcl.Block {
	if len(blocks) == 0 {
		return nil
	}
	for _, b := range blocks[1:] {
		d.errorf(b.DefRange, "Duplicate "+what+" block",
			"Only one %s block is allowed here; the first is at %s.", what, blocks[0].DefRange)
	}
	return blocks[0]
}

// unique reports a name declared twice and returns false for the repeat.
func (d *decoder) unique(seen map[string]hcl.Range, what, name string, rng hcl.Range) bool {
	if first, ok := seen[name]; ok {
		d.errorf(rng, "Duplicate "+what+" "+fmt.Sprintf("%q", name),
			"A %s named %q is already declared at %s; names must be unique.", what, name, first)
		return false
	}
	seen[name] = rng
	return true
}

func (d *decoder) errorf(rng hcl.Range, summary, detail string, args ...any) {
	d.diags = append(d.diags, diagf(hcl.DiagError, rng, summary, detail, args...))
}

func (d *decoder) warnf(rng hcl.Range, summary, detail string, args ...any) {
	d.diags = append(d.diags, diagf(hcl.DiagWarning, rng, summary, detail, args...))
}

func diagf(sev hcl.DiagnosticSeverity, rng hcl.Range, summary, detail string, args ...any) *hcl.Diagnostic {
	r := rng
	return &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: fmt.Sprintf(detail, args...), Subject: &r}
}
