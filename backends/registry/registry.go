// Package registry records the clusters on this machine, so that `kwok-run
// down` can find and remove them: those brought up with `kwok-run up`, and
// those a kwok-run that died left behind. An entry names every process by pid
// and start time, so a pid the kernel has since given to another program is
// never killed.
package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Registry is a directory of cluster entries.
type Registry struct {
	Dir string
}

// Default is $XDG_STATE_HOME/kwok-run (~/.local/state/kwok-run).
func Default() (*Registry, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("find the state directory: %w", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return &Registry{Dir: filepath.Join(dir, "kwok-run")}, nil
}

// Process is one process of a cluster.
type Process struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// Start is the process's start time in clock ticks since boot, from
	// /proc/<pid>/stat.
	Start uint64 `json:"start"`
}

// Entry is one cluster.
type Entry struct {
	Name    string `json:"name"`
	Backend string `json:"backend"`
	// RunDir holds pki/, logs/ and the kubeconfig.
	RunDir     string `json:"run_dir"`
	Kubeconfig string `json:"kubeconfig"`
	// RemoveRunDir says whether down deletes RunDir (a cluster of `up`), or
	// keeps it for its logs (a run's results directory).
	RemoveRunDir bool `json:"remove_run_dir"`
	// DataDir is etcd's data, on tmpfs where possible; always deleted.
	DataDir string `json:"data_dir"`
	// Owner is the kwok-run process that runs the cluster; zero for a
	// cluster of `up`, which outlives the command.
	Owner     Process   `json:"owner"`
	Processes []Process `json:"processes"`
	// Engine is the container engine's command line, and Run the label
	// value of everything the cluster made in it (container backends).
	Engine  []string  `json:"engine,omitempty"`
	Run     string    `json:"run,omitempty"`
	Created time.Time `json:"created"`
}

func (r *Registry) path(name string) string {
	return filepath.Join(r.Dir, "clusters", name+".json")
}

// ClusterDir is where a cluster of `up` keeps its files.
func (r *Registry) ClusterDir(name string) string {
	return filepath.Join(r.Dir, "up", name)
}

// Save writes e, replacing an entry of the same name.
func (r *Registry) Save(e *Entry) error {
	if err := os.MkdirAll(filepath.Dir(r.path(e.Name)), 0o700); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	tmp := r.path(e.Name) + ".partial"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, r.path(e.Name))
}

// Get returns the named entry; os.ErrNotExist when there is none.
func (r *Registry) Get(name string) (*Entry, error) {
	raw, err := os.ReadFile(r.path(name))
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("%s: %w", r.path(name), err)
	}
	return &e, nil
}

// List returns every entry, sorted by name.
func (r *Registry) List() ([]*Entry, error) {
	files, err := filepath.Glob(filepath.Join(r.Dir, "clusters", "*.json"))
	if err != nil {
		return nil, err
	}
	var out []*Entry
	for _, f := range files {
		e, err := r.Get(strings.TrimSuffix(filepath.Base(f), ".json"))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Remove deletes the entry, not the cluster.
func (r *Registry) Remove(name string) error {
	err := os.Remove(r.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Orphaned reports whether the entry's owner is gone: a run whose kwok-run
// died. Clusters of `up` have no owner and are never orphans.
func (e *Entry) Orphaned() bool {
	return e.Owner.PID != 0 && !e.Owner.Alive()
}

// Alive reports whether the process still runs and is the same process.
func (p Process) Alive() bool {
	start, err := StartTime(p.PID)
	return err == nil && start == p.Start
}

// Self describes the calling process.
func Self() (Process, error) {
	start, err := StartTime(os.Getpid())
	return Process{Name: "kwok-run", PID: os.Getpid(), Start: start}, err
}

// StartTime reads a process's start time from /proc/<pid>/stat.
func StartTime(pid int) (uint64, error) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses; the fields
	// after its last ')' are plain.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unreadable /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	// starttime is field 22; fields here start at field 3.
	if len(fields) < 20 {
		return 0, fmt.Errorf("unreadable /proc/%d/stat", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// Kill kills the process's group if it is still the recorded process, and
// waits until it is gone.
func (p Process) Kill(timeout time.Duration) error {
	if p.PID <= 0 || !p.Alive() {
		return nil
	}
	// Components run in process groups of their own (pgid = pid).
	if err := syscall.Kill(-p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill %s (pid %d): %w", p.Name, p.PID, err)
		}
	}
	deadline := time.Now().Add(timeout)
	for p.Alive() && !zombie(p.PID) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s (pid %d) did not exit within %s", p.Name, p.PID, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// zombie reports a process that has exited but whose parent has not reaped
// it yet: it holds no ports or memory any more.
func zombie(pid int) bool {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}

// Down stops every process of the entry and deletes its data, its run
// directory when it owns it, and the entry itself.
func (r *Registry) Down(e *Entry) error {
	var errs []error
	for _, p := range slices.Backward(e.Processes) {
		if err := p.Kill(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if e.DataDir != "" {
		errs = append(errs, os.RemoveAll(e.DataDir))
	}
	if e.RemoveRunDir && e.RunDir != "" {
		errs = append(errs, os.RemoveAll(e.RunDir))
	}
	errs = append(errs, r.Remove(e.Name))
	return errors.Join(errs...)
}
