// Package reports holds the result model of a run and renders it: report.json,
// the terminal summary, Markdown, HTML, JUnit XML; and compares reports. It
// only reads results; it never talks to a cluster.
package reports
