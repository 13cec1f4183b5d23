package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
)

// WriteJUnit writes junit.xml, for CI systems that show test results: one
// suite with a test case per step and per assertion. A failed warning is
// skipped rather than failed, so it shows without failing the build.
func WriteJUnit(w io.Writer, r *Report) error {
	s := junitSuite{
		Name:      "kwok-run " + r.Scenario.Name,
		Time:      junitTime(r.Duration),
		Timestamp: r.Started.UTC().Format("2006-01-02T15:04:05"),
		Properties: []junitProperty{
			{"kwok-run", r.KwokRun},
			{"scenario.file", r.Scenario.File},
			{"scenario.sha256", r.Scenario.SHA256},
			{"seed", strconv.FormatInt(r.Scenario.Seed, 10)},
			{"kubernetes", r.Cluster.Kubernetes},
			{"kwok", r.Cluster.Kwok},
			{"etcd", r.Cluster.Etcd},
		},
	}
	for _, st := range r.Steps {
		c := junitCase{Name: st.Name, Classname: "steps", Time: junitTime(st.End - st.Start)}
		if st.Status != Passed {
			msg := st.Error
			if msg == "" {
				msg = "step " + st.Status
			}
			c.Failure = &junitResult{Message: oneLine(msg), Type: st.Status, Text: msg}
		}
		s.add(c)
	}
	for _, a := range r.Assertions {
		c := junitCase{Name: a.Name, Classname: "assertions", Time: junitTime(0)}
		if !a.Evaluated || !a.Passed {
			msg := a.Message
			if msg == "" {
				msg = "condition did not hold"
			}
			res := &junitResult{Message: msg, Text: a.Condition}
			if obs := observed(a.Observed); obs != "" {
				res.Text += "\nobserved: " + obs
			}
			if a.Severity == "warning" {
				c.Skipped = res
			} else {
				c.Failure = res
			}
		}
		s.add(c)
	}
	if r.Outcome.Status == Broken || r.Outcome.Status == Interrupted {
		s.SystemErr = &junitText{r.Outcome.Error}
	}
	suites := junitSuites{
		Name: s.Name, Tests: s.Tests, Failures: s.Failures, Time: s.Time,
		Suites: []junitSuite{s},
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(suites); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// The elements and attributes of the JUnit XML that consumers read, as
// Jenkins' junit-10.xsd has them: testsuites > testsuite > properties,
// testcase, system-err. testsuites has no skipped attribute there.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemErr  *junitText      `xml:"system-err"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string       `xml:"name,attr"`
	Classname string       `xml:"classname,attr"`
	Time      string       `xml:"time,attr"`
	Failure   *junitResult `xml:"failure"`
	Skipped   *junitResult `xml:"skipped"`
}

// Texts are CDATA so that their lines stay lines for a human reading the file.
type junitResult struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",cdata"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

func (s *junitSuite) add(c junitCase) {
	s.Cases = append(s.Cases, c)
	s.Tests++
	switch {
	case c.Failure != nil:
		s.Failures++
	case c.Skipped != nil:
		s.Skipped++
	}
}

func junitTime(sec float64) string { return fmt.Sprintf("%.3f", sec) }
