package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// reportFile is the results directory's source of truth; the other files
// are rendered from it and can be rendered again.
const reportFile = "report.json"

type renderedFile struct {
	name   string
	render func(io.Writer, *Report) error
}

var rendered = []renderedFile{
	{"summary.md", WriteMarkdown},
	{"report.html", WriteHTML},
	{"junit.xml", WriteJUnit},
}

// Write writes the results directory dir, creating it if needed: report.json
// first, then the files rendered from it. Each file appears whole or not at
// all, and one that cannot be rendered does not keep the others from being
// written.
func Write(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return errors.Join(writeFile(dir, reportFile, writeJSON, r), render(dir, r))
}

// Read reads dir's report.json. A report of a newer schema version is
// refused rather than misread.
func Read(dir string) (*Report, error) {
	path := filepath.Join(dir, reportFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: it is not a kwok-run results directory", dir, reportFile)
	}
	if err != nil {
		return nil, err
	}
	// The version first: a newer format may not decode as this one at all.
	var v struct {
		SchemaVersion int `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case v.SchemaVersion < 1:
		return nil, fmt.Errorf("%s: no schema_version: it is not a kwok-run report", path)
	case v.SchemaVersion > SchemaVersion:
		return nil, fmt.Errorf("%s has schema version %d and this kwok-run reads up to %d: use a newer kwok-run", path, v.SchemaVersion, SchemaVersion)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// Render renders dir's files again from its report.json, with this
// kwok-run's renderers.
func Render(dir string) error {
	r, err := Read(dir)
	if err != nil {
		return err
	}
	return render(dir, r)
}

func render(dir string, r *Report) error {
	var errs []error
	for _, f := range rendered {
		errs = append(errs, writeFile(dir, f.name, f.render, r))
	}
	return errors.Join(errs...)
}

func writeFile(dir, name string, render func(io.Writer, *Report) error, r *Report) error {
	var b bytes.Buffer
	if err := render(&b, r); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return renameio.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644, renameio.WithStaticPermissions(0o644))
}

// writeJSON keeps < > & as they are: conditions are full of them, and the
// file is not embedded in HTML.
func writeJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
