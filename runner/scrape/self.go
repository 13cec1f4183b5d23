package scrape

import "github.com/prometheus/procfs"

// selfComponent is kwok-run's own component name in samples.
const selfComponent = "kwok_run"

// selfReader samples kwok-run's own CPU time and RSS from /proc, so the
// report shows whether the load generator itself was the bottleneck.
type selfReader struct {
	proc procfs.Proc
	ok   bool
}

type usage struct{ cpu, rss float64 }

func newSelfReader() selfReader {
	p, err := procfs.Self()
	return selfReader{proc: p, ok: err == nil}
}

// read is false where there is no /proc: then kwok_run has no samples.
func (r selfReader) read() (usage, bool) {
	if !r.ok {
		return usage{}, false
	}
	st, err := r.proc.Stat()
	if err != nil {
		return usage{}, false
	}
	return usage{cpu: st.CPUTime(), rss: float64(st.ResidentMemory())}, true
}
