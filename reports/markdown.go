package reports

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes summary.md, made to be appended to GitHub's
// $GITHUB_STEP_SUMMARY: the verdict first (title and assertions), then what
// the run did and measured, then what it ran on.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b bytes.Buffer
	mark := "✓"
	if r.Outcome.Status != Passed {
		mark = "✗"
	}
	fmt.Fprintf(&b, "## %s kwok-run %s: %s\n\n", mark, r.Scenario.Name, r.Outcome.Status)
	fmt.Fprintf(&b, "Exit code %d after %s, started %s.\n", r.Outcome.ExitCode, seconds(r.Duration), r.Started.UTC().Format("2006-01-02 15:04:05 MST"))
	if r.Outcome.StoppedIn != "" {
		fmt.Fprintf(&b, "Stopped in step `%s`.\n", r.Outcome.StoppedIn)
	}
	if r.Outcome.Error != "" {
		// A fence keeps an error's lines (a component's log, say) as they are.
		fmt.Fprintf(&b, "\n```text\n%s\n```\n", strings.TrimRight(r.Outcome.Error, "\n"))
	}
	assertions := assertionsTable(r, palette(false))
	// Conditions are expressions: set them as code.
	for i, a := range r.Assertions {
		assertions.rows[i][2] = "`" + a.Condition + "`"
	}
	for _, t := range []table{assertions, stepsTable(r, palette(false)), latencyTable(r), requestsTable(r), throughputTable(r), resourcesTable(r)} {
		markdownTable(&b, t)
	}
	if db, ok := r.Metrics["etcd_db_size_bytes"]; ok {
		fmt.Fprintf(&b, "\netcd database: %s at most.\n", mebibytes(db))
	}
	if c := countsLine(r); c != "" {
		fmt.Fprintf(&b, "\n**Counts:** %s\n", c)
	}
	health, ok := healthLine(r)
	if ok {
		fmt.Fprintf(&b, "\n**Measurement:** %s\n", health)
	} else {
		fmt.Fprintf(&b, "\n> [!WARNING]\n> **Measurement:** %s\n", health)
	}
	c := r.Cluster
	fmt.Fprintf(&b, "\n### Versions\n\n")
	fmt.Fprintf(&b, "- kubernetes %s, kwok %s, etcd %s (%s backend)\n", c.Kubernetes, c.Kwok, c.Etcd, c.Backend)
	fmt.Fprintf(&b, "- kwok-run %s, seed %d\n", r.KwokRun, r.Scenario.Seed)
	fmt.Fprintf(&b, "- `%s`, sha256 `%s`\n", r.Scenario.File, r.Scenario.SHA256)
	_, err := w.Write(b.Bytes())
	return err
}

// markdownTable writes a GitHub-flavoured table under a heading; an empty
// table is left out.
func markdownTable(b *bytes.Buffer, t table) {
	if len(t.rows) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### %s%s\n\n", strings.ToUpper(t.title[:1]), t.title[1:])
	row := func(cells []string) {
		escaped := make([]string, len(cells))
		for i, c := range cells {
			escaped[i] = markdownCell.Replace(c)
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(escaped, " | "))
	}
	row(t.header)
	rule := make([]string, len(t.header))
	for i := range rule {
		rule[i] = "---"
		if t.right > 0 && i >= t.right {
			rule[i] = "---:"
		}
	}
	fmt.Fprintf(b, "|%s|\n", strings.Join(rule, "|"))
	for _, r := range t.rows {
		row(r)
	}
}

// markdownCell keeps a cell in its column: a pipe would end it (inside a
// code span too) and a newline would end the table.
var markdownCell = strings.NewReplacer("|", `\|`, "\r\n", "<br>", "\n", "<br>")
