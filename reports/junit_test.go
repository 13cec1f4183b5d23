package reports

import (
	"bytes"
	"encoding/xml"
	"io"
	"regexp"
	"slices"
	"strconv"
	"testing"
)

func TestJUnitGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, textFixture()); err != nil {
		t.Fatal(err)
	}
	checkJUnitShape(t, b.Bytes())
	golden(t, "junit.golden", b.String())
}

func TestJUnitVerdicts(t *testing.T) {
	for _, v := range verdicts() {
		t.Run(v.name, func(t *testing.T) {
			r := textFixture()
			v.edit(r)
			var b bytes.Buffer
			if err := WriteJUnit(&b, r); err != nil {
				t.Fatal(err)
			}
			checkJUnitShape(t, b.Bytes())
			contains(t, b.String(), v.junit)
		})
	}
}

// junitShape is Jenkins' junit-10.xsd, the schema JUnit consumers follow:
// the children and attributes each element may have, and the attributes it
// must have.
var junitShape = map[string]struct{ children, attrs, required []string }{
	"testsuites": {[]string{"testsuite"}, []string{"name", "time", "tests", "failures", "errors"}, nil},
	"testsuite": {[]string{"testsuite", "properties", "testcase", "system-out", "system-err"},
		[]string{"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname", "id", "package", "file", "log", "url"},
		[]string{"name", "tests", "failures", "errors"}},
	"properties": {[]string{"property"}, nil, nil},
	"property":   {nil, []string{"name", "value"}, []string{"name", "value"}},
	"testcase": {[]string{"skipped", "error", "failure", "system-out", "system-err"},
		[]string{"name", "time", "classname", "group"}, []string{"name"}},
	"failure":    {nil, []string{"type", "message"}, nil},
	"error":      {nil, []string{"type", "message"}, nil},
	"skipped":    {nil, []string{"type", "message"}, nil},
	"system-out": {nil, nil, nil},
	"system-err": {nil, nil, nil},
}

var surefireTime = regexp.MustCompile(`^(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?$`)

// checkJUnitShape checks doc against junit-10.xsd's structure, and that the
// counts of each suite add up.
func checkJUnitShape(t *testing.T, doc []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	var stack []string
	counts := map[string]int{}
	var suite map[string]string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			name := tok.Name.Local
			shape, ok := junitShape[name]
			switch {
			case len(stack) == 0 && name != "testsuites":
				t.Errorf("root is <%s>, want <testsuites>", name)
			case !ok:
				t.Errorf("unknown element <%s>", name)
			case len(stack) > 0 && !slices.Contains(junitShape[stack[len(stack)-1]].children, name):
				t.Errorf("<%s> in <%s>", name, stack[len(stack)-1])
			}
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				attrs[a.Name.Local] = a.Value
				if !slices.Contains(shape.attrs, a.Name.Local) {
					t.Errorf("<%s> has attribute %s", name, a.Name.Local)
				}
			}
			for _, a := range shape.required {
				if _, ok := attrs[a]; !ok {
					t.Errorf("<%s> lacks attribute %s", name, a)
				}
			}
			if tm, ok := attrs["time"]; ok && name != "testcase" && !surefireTime.MatchString(tm) {
				t.Errorf("<%s time=%q>", name, tm)
			}
			if name == "testsuite" {
				suite, counts = attrs, map[string]int{}
			}
			counts[name]++
			stack = append(stack, name)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			if tok.Name.Local == "testsuite" {
				for attr, elem := range map[string]string{"tests": "testcase", "failures": "failure", "errors": "error", "skipped": "skipped"} {
					if got := suite[attr]; got != strconv.Itoa(counts[elem]) {
						t.Errorf("testsuite %s=%q, want %d", attr, got, counts[elem])
					}
				}
			}
		}
	}
}
