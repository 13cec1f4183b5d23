package reports

// A comparison sets two sets of runs side by side, metric by metric: the
// base (a release, a configuration) and the new one, each one run or
// several repeats. It decides per metric whether the change is better,
// worse or noise, and lists everything that differs between the two besides
// the metrics (versions, flags, variables, scenario text), since a
// comparison of different things must say so first.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/kwok-run/kwok-run/scenario/metrics"
)

// Side is the runs of one side of a comparison.
type Side struct {
	// Label names the side in tables: the path it was read from.
	Label string
	Runs  []*Report
}

// LoadSide reads a side: a report.json file, a results directory holding one,
// or a directory of results directories (repeated runs), in name order.
func LoadSide(path string) (Side, error) {
	s := Side{Label: path}
	info, err := os.Stat(path)
	if err != nil {
		return s, err
	}
	if !info.IsDir() {
		r, err := Read(filepath.Dir(path))
		if err != nil {
			return s, err
		}
		s.Runs = []*Report{r}
		return s, nil
	}
	if _, err := os.Stat(filepath.Join(path, "report.json")); err == nil {
		r, err := Read(path)
		if err != nil {
			return s, err
		}
		s.Runs = []*Report{r}
		return s, nil
	}
	dirs, err := filepath.Glob(filepath.Join(path, "*", "report.json"))
	if err != nil {
		return s, err
	}
	slices.Sort(dirs)
	for _, f := range dirs {
		r, err := Read(filepath.Dir(f))
		if err != nil {
			return s, err
		}
		s.Runs = append(s.Runs, r)
	}
	if len(s.Runs) == 0 {
		return s, fmt.Errorf("%s holds no report.json, nor directories that do", path)
	}
	return s, nil
}

// CompareOptions tune the verdicts.
type CompareOptions struct {
	// Threshold is the relative change (0.1 for 10%) a metric must exceed,
	// in its worse direction, to count as a regression. PerMetric overrides
	// it for metric paths or names ("pod_startup_latency.p99" or
	// "pod_startup_latency").
	Threshold float64
	PerMetric map[string]float64
	// Alpha is the significance level of the test; 0.05 by default.
	Alpha float64
	// GateBreakdowns lets per-verb and per-resource breakdowns fail the
	// comparison too. Off by default: hundreds of them are tested at once,
	// so at alpha 0.05 some are "significant" by chance in any comparison.
	GateBreakdowns bool
	// Floor is the least change of a time, in seconds, that can be a
	// regression whatever its relative size: a simulator lag that goes from
	// 1 ms to 6 ms is +500% and means nothing. 10 ms by default; negative
	// for none.
	Floor float64
}

// DefaultFloor is CompareOptions.Floor's default: about what separates two
// watch-based timings of one event on a busy machine.
const DefaultFloor = 0.010

// MinRuns is how many runs a side needs for a significance test.
const MinRuns = 3

// Verdict is what a comparison concludes about one metric.
type Verdict string

const (
	VerdictBetter Verdict = "better"
	VerdictWorse  Verdict = "worse"
	// VerdictChanged is a significant change of a metric that describes the load
	// rather than the system (which way is better is not defined).
	VerdictChanged  Verdict = "changed"
	VerdictNoChange Verdict = "no significant change"
	// VerdictOnlyBase and VerdictOnlyNew are metrics measured on one side only.
	VerdictOnlyBase Verdict = "only in base"
	VerdictOnlyNew  Verdict = "only in new"
)

// MetricChange is one metric compared.
type MetricChange struct {
	Metric     string
	Unit       metrics.Unit
	Better     metrics.Better
	Base, New  []float64
	BaseMedian float64
	NewMedian  float64
	// Delta is the relative change of the medians, NaN when the base is 0.
	Delta float64
	// P is the Mann–Whitney p-value; NaN when either side has fewer than
	// MinRuns runs and no test was made.
	P         float64
	Threshold float64
	// Breakdown marks a split of a metric by verb, resource or status (not
	// by component, and not the "all" total).
	Breakdown bool
	Verdict   Verdict
	// Regression: worse, significantly where tested, by more than the
	// threshold.
	Regression bool
}

// Tested reports whether a significance test decided the verdict.
func (r MetricChange) Tested() bool { return !math.IsNaN(r.P) }

// Comparison is the whole result.
type Comparison struct {
	Base, New Side
	// Differences lists what differs between the sides other than the
	// metrics, and between runs within a side.
	Differences []string
	Rows        []MetricChange
	Alpha       float64
}

// Regressions are the rows that fail the comparison.
func (c *Comparison) Regressions() []MetricChange {
	var out []MetricChange
	for _, r := range c.Rows {
		if r.Regression {
			out = append(out, r)
		}
	}
	return out
}

// Compare compares every metric either side measured.
func Compare(base, new Side, opts CompareOptions) (*Comparison, error) {
	if len(base.Runs) == 0 || len(new.Runs) == 0 {
		return nil, errors.New("both sides need at least one run")
	}
	if opts.Alpha == 0 {
		opts.Alpha = 0.05
	}
	if opts.Floor == 0 {
		opts.Floor = DefaultFloor
	}
	c := &Comparison{Base: base, New: new, Alpha: opts.Alpha, Differences: differences(base, new)}
	names := map[string]bool{}
	for _, side := range []Side{base, new} {
		for _, r := range side.Runs {
			for k := range r.Metrics {
				names[k] = true
			}
		}
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range names {
			if !yield(k) {
				return
			}
		}
	}) {
		c.Rows = append(c.Rows, row(name, values(base, name), values(new, name), opts))
	}
	return c, nil
}

func values(s Side, metric string) []float64 {
	var out []float64
	for _, r := range s.Runs {
		if v, ok := r.Metrics[metric]; ok {
			out = append(out, v)
		}
	}
	return out
}

func row(name string, base, new []float64, opts CompareOptions) MetricChange {
	m := describe(name)
	r := MetricChange{Metric: name, Unit: m.Unit, Better: m.Better, Base: base, New: new, P: math.NaN(), Delta: math.NaN(), Threshold: threshold(name, opts), Breakdown: breakdown(name, m)}
	r.BaseMedian, r.NewMedian = median(base), median(new)
	switch {
	case len(base) == 0:
		r.Verdict = VerdictOnlyNew
		return r
	case len(new) == 0:
		r.Verdict = VerdictOnlyBase
		return r
	}
	if r.BaseMedian != 0 {
		r.Delta = (r.NewMedian - r.BaseMedian) / math.Abs(r.BaseMedian)
	} else if r.NewMedian == 0 {
		r.Delta = 0
	}
	significant := false
	if len(base) >= MinRuns && len(new) >= MinRuns {
		r.P = mannWhitney(base, new)
		significant = r.P < opts.Alpha
	} else {
		// Single runs cannot be tested: a change past the threshold is
		// taken at its word, and the row says it was not tested.
		significant = r.NewMedian != r.BaseMedian && (math.IsNaN(r.Delta) || math.Abs(r.Delta) > r.Threshold)
	}
	if !significant || r.NewMedian == r.BaseMedian {
		r.Verdict = VerdictNoChange
		return r
	}
	up := r.NewMedian > r.BaseMedian
	switch {
	case r.Better == metrics.Neither:
		r.Verdict = VerdictChanged
	case up == (r.Better == metrics.Higher):
		r.Verdict = VerdictBetter
	default:
		r.Verdict = VerdictWorse
	}
	floor := 0.0
	if r.Unit == metrics.Seconds {
		floor = opts.Floor
	}
	r.Regression = r.Verdict == VerdictWorse && (math.IsNaN(r.Delta) || math.Abs(r.Delta) > r.Threshold) &&
		math.Abs(r.NewMedian-r.BaseMedian) > floor && (!r.Breakdown || opts.GateBreakdowns)
	return r
}

// breakdown reports a path that splits its metric by a dimension with open
// keys (resources, status codes) or by two dimensions, unless every key is
// the "all" total.
func breakdown(path string, m metrics.Metric) bool {
	segs := strings.Split(path, ".")
	if len(m.Dimensions) == 0 || len(segs) < 1+len(m.Dimensions) {
		return false
	}
	keys := segs[1 : 1+len(m.Dimensions)]
	if len(m.Dimensions) == 1 && m.Dimensions[0].Keys != nil {
		return false
	}
	for _, k := range keys {
		if k != metrics.All {
			return true
		}
	}
	return false
}

// describe finds a metric path's unit and direction in the catalogue. The
// count of a latency's samples describes the load, not the system.
func describe(path string) metrics.Metric {
	name, rest, _ := strings.Cut(path, ".")
	m, ok := metrics.Lookup(name)
	if !ok {
		return metrics.Metric{Name: name, Better: metrics.Neither}
	}
	if rest == "count" && m.Stats != nil {
		m.Better, m.Unit = metrics.Neither, metrics.Count
	}
	return m
}

func threshold(path string, opts CompareOptions) float64 {
	if t, ok := opts.PerMetric[path]; ok {
		return t
	}
	name, _, _ := strings.Cut(path, ".")
	if t, ok := opts.PerMetric[name]; ok {
		return t
	}
	return opts.Threshold
}

// differences lists what is not the same between the sides, and within
// each side between its runs: a comparison of different scenarios, or of
// runs that changed more than the one thing compared, says so first.
func differences(base, new Side) []string {
	var out []string
	for _, side := range []Side{base, new} {
		first := describeRun(side.Runs[0])
		for i, r := range side.Runs[1:] {
			for _, d := range diff(first, describeRun(r)) {
				out = append(out, fmt.Sprintf("within %s, run %d differs from run 1: %s", side.Label, i+2, d))
			}
		}
	}
	return append(diff(describeRun(base.Runs[0]), describeRun(new.Runs[0])), out...)
}

// describeRun flattens what defines a run besides its measurements.
func describeRun(r *Report) map[string]string {
	d := map[string]string{
		"scenario":             r.Scenario.Name,
		"scenario file sha256": r.Scenario.SHA256,
		"seed":                 fmt.Sprint(r.Scenario.Seed),
		"backend":              r.Cluster.Backend,
		"kubernetes":           r.Cluster.Kubernetes,
		"kwok":                 r.Cluster.Kwok,
		"etcd":                 r.Cluster.Etcd,
		"kwok-run":             r.KwokRun,
	}
	for _, v := range r.Variables {
		d["variable "+v.Name] = fmt.Sprint(v.Value)
	}
	for k, v := range r.Cluster.FeatureGates {
		d["feature gate "+k] = fmt.Sprint(v)
	}
	for _, c := range r.Cluster.Components {
		for _, a := range c.Args {
			name, value, _ := strings.Cut(a, "=")
			d[c.Name+" "+name] = normalizeFlag(name, value)
		}
		if c.SHA256 != "" {
			d[c.Name+" binary sha256"] = c.SHA256
		}
	}
	return d
}

var (
	hostPort = regexp.MustCompile(`:\d{2,5}\b`)
	digits   = regexp.MustCompile(`^\d+$`)
	runName  = regexp.MustCompile(`kwok-run-[0-9a-f]{8}-`)
	// A path starts the value or follows a separator; a URL's // does not.
	absolutePath = regexp.MustCompile(`(^|[,=\s])/[^,=\s]*`)
)

// normalizeFlag removes what differs between any two runs of the same
// cluster (ports picked free, run and data directories, container names),
// so that only flags somebody set differently are listed.
func normalizeFlag(name, v string) string {
	if strings.HasSuffix(name, "port") && digits.MatchString(v) {
		return "PORT"
	}
	v = hostPort.ReplaceAllString(v, ":PORT")
	v = runName.ReplaceAllString(v, "kwok-run-RUN-")
	return absolutePath.ReplaceAllString(v, "${1}PATH")
}

func diff(a, b map[string]string) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}) {
		va, okA := a[k]
		vb, okB := b[k]
		switch {
		case !okA:
			out = append(out, fmt.Sprintf("%s: only in new (%s)", k, short(vb)))
		case !okB:
			out = append(out, fmt.Sprintf("%s: only in base (%s)", k, short(va)))
		case va != vb:
			out = append(out, fmt.Sprintf("%s: %s → %s", k, short(va), short(vb)))
		}
	}
	return out
}

// short keeps long values (flag lists, digests) readable in a list.
func short(s string) string {
	if len(s) > 80 {
		return s[:77] + "…"
	}
	return s
}
