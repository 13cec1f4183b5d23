package runner

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// progress reports what a step's actions have done while they run: a line
// rewritten in place on a terminal; otherwise (CI logs) a plain line as the
// step starts, so a log shows when each began, and every ten seconds.
type progress struct {
	w        func(string)
	terminal bool
	step     string
	start    time.Time

	mu    sync.Mutex
	items []*progressItem
	done  chan struct{}
	wg    sync.WaitGroup
}

type progressItem struct {
	label      string
	have, want int
	t          *tally
}

func (r *runner) progress(step string) *progress {
	p := &progress{terminal: r.opts.Terminal, step: step, start: time.Now(), done: make(chan struct{})}
	if r.opts.Log == nil {
		return p
	}
	p.w = func(s string) { fmt.Fprint(r.opts.Log, s) }
	every := 10 * time.Second
	if p.terminal {
		every = 500 * time.Millisecond
	} else {
		p.w(fmt.Sprintf("[%s 0s] started\n", step))
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.print()
			}
		}
	}()
	return p
}

func (p *progress) item(label string) *progressItem {
	for _, it := range p.items {
		if it.label == label {
			return it
		}
	}
	it := &progressItem{label: label}
	p.items = append(p.items, it)
	return it
}

// track follows an action whose tally counts its units toward want.
func (p *progress) track(label string, want int, t *tally) {
	p.mu.Lock()
	defer p.mu.Unlock()
	it := p.item(label)
	it.want, it.t = want, t
}

// set reports where an action without a tally stands.
func (p *progress) set(label string, have, want int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	it := p.item(label)
	it.have, it.want = have, want
}

func (p *progress) advance(label string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.item(label).have += n
}

func (p *progress) line() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	parts := make([]string, 0, len(p.items))
	for _, it := range p.items {
		have := it.have
		rate := ""
		if it.t != nil {
			have = int(it.t.units.Load())
			if r := it.t.achieved(); r > 0 {
				rate = fmt.Sprintf(" %.0f/s", r)
			}
		}
		if it.want > 0 {
			parts = append(parts, fmt.Sprintf("%s %d/%d%s", it.label, have, it.want, rate))
		} else {
			parts = append(parts, it.label)
		}
	}
	return fmt.Sprintf("[%s %s] %s", p.step, time.Since(p.start).Round(time.Second), strings.Join(parts, " · "))
}

func (p *progress) print() {
	line := p.line()
	if p.terminal {
		if len(line) > 160 {
			line = line[:157] + "..."
		}
		p.w("\r\033[K" + line)
		return
	}
	p.w(line + "\n")
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
	if p.w != nil && p.terminal {
		p.w("\r\033[K")
	}
}
