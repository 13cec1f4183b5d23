package reports

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var resultFiles = []string{"report.json", "summary.md", "report.html", "junit.xml"}

func TestWriteReadRoundTrip(t *testing.T) {
	for name, r := range map[string]*Report{"sample": sampleReport(), "text": textFixture()} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "results", "run")
			if err := Write(dir, r); err != nil {
				t.Fatal(err)
			}
			for _, f := range resultFiles {
				info, err := os.Stat(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode().Perm() != 0o644 {
					t.Errorf("%s is %v, want 0644", f, info.Mode().Perm())
				}
			}
			data, err := os.ReadFile(filepath.Join(dir, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(data), "{\n  \"schema_version\": 1,\n") {
				t.Errorf("report.json does not start with its schema_version:\n%.80s", data)
			}
			got, err := Read(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Errorf("Read(Write(r)) differs from r:\ngot  %+v\nwant %+v", got, r)
			}
		})
	}
}

// A renderer that fails leaves its file out and the others written.
func TestWriteGoesOnAfterARendererFails(t *testing.T) {
	i := slices.IndexFunc(rendered, func(f renderedFile) bool { return f.name == "report.html" })
	saved := rendered[i].render
	t.Cleanup(func() { rendered[i].render = saved })
	rendered[i].render = func(io.Writer, *Report) error { return errors.New("broken renderer") }

	dir := t.TempDir()
	err := Write(dir, textFixture())
	if err == nil || !strings.Contains(err.Error(), "report.html: broken renderer") {
		t.Fatalf("Write: %v", err)
	}
	for _, f := range resultFiles {
		_, err := os.Stat(filepath.Join(dir, f))
		if want := f != "report.html"; (err == nil) != want {
			t.Errorf("%s written: %v, want %v", f, err == nil, want)
		}
	}
}

func TestReadRefuses(t *testing.T) {
	for _, c := range []struct {
		name, json, want string
	}{
		{"newer", `{"schema_version": 2, "scenario": 7}`, "has schema version 2 and this kwok-run reads up to 1: use a newer kwok-run"},
		{"no version", `{"scenario": {}}`, "no schema_version: it is not a kwok-run report"},
		{"not JSON", `{"schema_version": 1,`, "report.json: unexpected end of JSON input"},
		{"wrong type", `{"schema_version": 1, "steps": {}}`, "report.json: json: cannot unmarshal object into Go struct field Report.steps"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "report.json"), []byte(c.json), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Read: %v, want %q", err, c.want)
			}
		})
	}
	dir := t.TempDir()
	if _, err := Read(dir); err == nil || err.Error() != dir+" has no report.json: it is not a kwok-run results directory" {
		t.Errorf("Read of an empty directory: %v", err)
	}
}

func TestRenderRewritesFromReportJSON(t *testing.T) {
	dir := t.TempDir()
	r := textFixture()
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	summary := filepath.Join(dir, "summary.md")
	want, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(summary); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "junit.xml"), []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Render(dir); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(summary)
	if err != nil || string(got) != string(want) {
		t.Errorf("summary.md not rendered again (%v)", err)
	}
	info, err := os.Stat(filepath.Join(dir, "junit.xml"))
	if err != nil || info.Mode().Perm() != 0o644 || info.Size() < 100 {
		t.Errorf("junit.xml not rendered again: %v %v", info, err)
	}
	if err := Render(t.TempDir()); err == nil || !strings.Contains(err.Error(), "has no report.json") {
		t.Errorf("Render of an empty directory: %v", err)
	}
}
