// Package local is the default backend: every component a child process on
// 127.0.0.1, with TLS on every port, in a run directory of its own.
package local

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/bootstrap"
	"github.com/kwok-run/kwok-run/backends/components"
	"github.com/kwok-run/kwok-run/backends/pki"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/backends/supervise"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Host is the only address the local backend listens on.
const Host = "127.0.0.1"

// Options say where and how to bring a cluster up.
type Options struct {
	// Name identifies the cluster in the registry; unique on the machine.
	Name string
	// RunDir receives pki/, logs/, kubeconfig and kwok.yaml; created 0700.
	RunDir string
	// RemoveRunDir deletes RunDir on Down (clusters of `up`); a run keeps it
	// for the logs.
	RemoveRunDir bool
	// Detached clusters have no owner process: `kwok-run up` exits and
	// leaves them running until `kwok-run down`.
	Detached bool
	Binaries *binaries.Resolver
	Registry *registry.Registry
	// Log receives progress lines.
	Log io.Writer
	// StartTimeout bounds the start-up, the first KWOK node Ready included.
	StartTimeout time.Duration

	// ports picks free ports; tests replace it to provoke a clash.
	ports func(n int) ([]int, error)
}

// Cluster is a control plane of child processes.
type Cluster struct {
	opts       Options
	files      *pki.Files
	kubeconfig string
	dataDir    string
	tls        *tls.Config
	http       *http.Client
	env        []string
	procs      []*supervise.Process
	byName     map[string]*supervise.Process
	// prepare runs once before a component's first start, by name: KWOK's
	// stages before KWOK.
	prepare map[string]func(context.Context) error

	// entryMu guards entry: restarts of different components may save it
	// at the same time.
	entryMu sync.Mutex
	entry   *registry.Entry

	// begin and milestones time the start-up, for the log.
	begin      time.Time
	milestones []string

	exits  chan exit
	failed chan error
	// hangs receives a component that stopped answering without exiting.
	hangs chan error

	// faults counts components stopped on purpose; faultUntil ends the grace
	// period after the last restart; revived counts automatic restarts.
	faultMu    sync.Mutex
	faults     int
	faultUntil time.Time
	revived    map[string]int
	watching   chan struct{} // closed when the supervisor should stop
	downOnce   sync.Once
	downErr    error
}

type exit struct {
	p   *supervise.Process
	err error
}

var _ backends.Cluster = (*Cluster)(nil)

// errPortClash is a component that lost a port picked free to another
// program in the meantime: the start is retried on new ports.
var errPortClash = errors.New("port already in use")

// Up brings the cluster up and returns when every component is healthy and
// KWOK, unless the scenario disables it, has made a probe node Ready. On any error, and when ctx ends first,
// everything started is torn down again.
func Up(ctx context.Context, spec backends.Spec, opts Options) (*Cluster, error) {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	if opts.ports == nil {
		opts.ports = freePorts
	}
	if _, err := opts.Registry.Get(opts.Name); err == nil {
		return nil, fmt.Errorf("a cluster named %q is already registered; remove it with kwok-run down %s", opts.Name, opts.Name)
	}
	bins, err := resolve(ctx, spec.Cluster, opts)
	if err != nil {
		return nil, err
	}
	var last error
	for attempt := 1; attempt <= 3; attempt++ {
		c, err := start(ctx, spec, opts, bins)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, errPortClash) {
			return nil, err
		}
		last = err
		logf(opts.Log, "a port was taken while the cluster started (%v); trying other ports", err)
	}
	return nil, last
}

// resolve finds every enabled component's binary; a binary the scenario names
// is used as is.
func resolve(ctx context.Context, c plan.Cluster, opts Options) (map[string]string, error) {
	r := *opts.Binaries
	r.Paths = map[string]string{}
	for k, v := range opts.Binaries.Paths {
		r.Paths[k] = v
	}
	wants := binaries.Versions{Kubernetes: c.Kubernetes, Etcd: c.Etcd, Kwok: c.Kwok}.Wants()
	var needed []binaries.Want
	for _, w := range wants {
		comp, _ := c.Component(components.Of(w.Binary))
		if !comp.Enabled {
			continue
		}
		if comp.Binary != "" {
			r.Paths[w.Binary] = comp.Binary
		}
		needed = append(needed, w)
	}
	return r.ResolveAll(ctx, needed)
}

func start(ctx context.Context, spec backends.Spec, opts Options, bins map[string]string) (c *Cluster, err error) {
	begin := time.Now()
	c = &Cluster{
		opts:     opts,
		byName:   map[string]*supervise.Process{},
		exits:    make(chan exit, 16),
		failed:   make(chan error, 1),
		hangs:    make(chan error, 1),
		watching: make(chan struct{}),
		env:      os.Environ(),
		revived:  map[string]int{},
	}
	defer func() {
		// Keep the run directory: the error points at its logs.
		if r := recover(); r != nil {
			c.teardown(false)
			panic(r)
		}
		if err != nil {
			c.teardown(false)
		}
	}()
	logs := filepath.Join(opts.RunDir, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return c, fmt.Errorf("create the run directory: %w", err)
	}
	if err := os.Chmod(opts.RunDir, 0o700); err != nil {
		return c, err
	}
	if c.files, err = pki.Generate(filepath.Join(opts.RunDir, "pki"), pki.Options{}); err != nil {
		return c, fmt.Errorf("generate certificates: %w", err)
	}
	if c.tls, err = c.files.ClientTLS(); err != nil {
		return c, err
	}
	c.http = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: c.tls}}
	if c.dataDir, err = dataDir(opts.RunDir); err != nil {
		return c, err
	}
	leases := plan.OwnLeases(spec.Cluster, spec.Pools)
	ports, err := opts.ports(6 + len(leases))
	if err != nil {
		return c, err
	}
	p := components.Ports{EtcdClient: ports[0], EtcdPeer: ports[1], APIServer: ports[2], Scheduler: ports[3], ControllerManager: ports[4], Kwok: ports[5], LeaseKwoks: ports[6:]}
	c.kubeconfig = filepath.Join(opts.RunDir, "kubeconfig")
	if err := c.files.WriteKubeconfig(c.kubeconfig, fmt.Sprintf("https://%s:%d", Host, p.APIServer), "kwok-run-"+opts.Name); err != nil {
		return c, err
	}
	kwokConfig, err := components.KwokConfig(spec.Cluster)
	if err != nil {
		return c, err
	}
	stages, err := components.Stages(spec.PodStages, spec.Pools)
	if err != nil {
		return c, err
	}
	kwokPath := filepath.Join(opts.RunDir, "kwok.yaml")
	if err := os.WriteFile(kwokPath, kwokConfig, 0o600); err != nil {
		return c, err
	}
	specs, err := components.Build(components.Config{
		Cluster: spec.Cluster, Host: Host, Ports: p, Pools: spec.Pools,
		Paths: components.Paths{PKI: c.files, Kubeconfig: c.kubeconfig, EtcdData: c.dataDir, KwokConfig: kwokPath},
	})
	if err != nil {
		return c, err
	}
	for _, s := range specs {
		proc := &supervise.Process{Spec: s, Binary: bins[s.Binary], LogPath: filepath.Join(logs, components.LogFile(s.Name))}
		c.procs = append(c.procs, proc)
		c.byName[s.Name] = proc
	}
	if _, ok := c.byName[plan.Kwok]; ok {
		c.prepare = map[string]func(context.Context) error{plan.Kwok: func(ctx context.Context) error {
			cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
			if err != nil {
				return err
			}
			_, err = bootstrap.InstallStages(ctx, cfg, stages)
			return err
		}}
	}
	// Registered before anything starts, so that whatever happens to this
	// kwok-run, `kwok-run down` finds what it left.
	c.entry = &registry.Entry{
		Name: opts.Name, Backend: plan.BackendLocal, RunDir: opts.RunDir, Kubeconfig: c.kubeconfig,
		RemoveRunDir: opts.RemoveRunDir, DataDir: c.dataDir, Created: time.Now().UTC(),
	}
	if !opts.Detached {
		if c.entry.Owner, err = registry.Self(); err != nil {
			return c, err
		}
	}
	if err := c.save(); err != nil {
		return c, fmt.Errorf("register the cluster: %w", err)
	}

	startCtx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	c.begin = begin
	if err := c.launch(startCtx); err != nil {
		if ctx.Err() != nil {
			return c, ctx.Err()
		}
		return c, err
	}
	// Without KWOK nothing makes a node Ready: the cluster is a control
	// plane for another kwok-run to bring KWOK to (backend kubeconfig).
	if _, ok := c.byName[plan.Kwok]; ok {
		if err := c.probe(startCtx); err != nil {
			if ctx.Err() != nil {
				return c, ctx.Err()
			}
			return c, err
		}
		c.milestones = append(c.milestones, fmt.Sprintf("first node Ready %s", since(begin)))
	}
	go c.supervise()
	for _, p := range c.procs {
		go c.liveness(p)
	}
	logf(opts.Log, "control plane ready in %s (%s)", since(begin), strings.Join(c.milestones, ", "))
	return c, nil
}

// launch starts the components, each as soon as what it needs is healthy,
// and waits until all are healthy.
func (c *Cluster) launch(ctx context.Context) error {
	healthy := map[string]bool{}
	started := map[string]bool{}
	// Preparations run from the start, alongside the other components:
	// KWOK's stages go in while the apiserver still bootstraps its RBAC
	// roles, instead of after.
	prepared := map[string]chan error{}
	for name, prepare := range c.prepare {
		done := make(chan error, 1)
		prepared[name] = done
		go func() { done <- prepare(ctx) }()
	}
	ready := func(p *supervise.Process) (bool, error) {
		done, ok := prepared[p.Spec.Name]
		if !ok {
			return true, nil
		}
		select {
		case err := <-done:
			if err != nil {
				return false, fmt.Errorf("before starting %s: %w", p.Spec.Name, err)
			}
			delete(prepared, p.Spec.Name)
			c.milestones = append(c.milestones, fmt.Sprintf("%s prepared %s", p.Spec.Name, since(c.begin)))
			return true, nil
		default:
			return false, nil
		}
	}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, p := range c.procs {
			if started[p.Spec.Name] || !p.Spec.CanStart(healthy) {
				continue
			}
			if ok, err := ready(p); err != nil {
				return err
			} else if !ok {
				continue
			}
			if err := p.Start(c.env, c.report); err != nil {
				return err
			}
			started[p.Spec.Name] = true
			if err := c.save(); err != nil {
				return err
			}
		}
		for _, p := range c.procs {
			if started[p.Spec.Name] && !healthy[p.Spec.Name] && c.healthy(ctx, p) {
				healthy[p.Spec.Name] = true
				c.milestones = append(c.milestones, fmt.Sprintf("%s %s", p.Spec.Name, since(c.begin)))
			}
		}
		if len(healthy) == len(c.procs) {
			return nil
		}
		select {
		case e := <-c.exits:
			return c.failure(e)
		case <-ctx.Done():
			var waiting []string
			var logs []string
			for _, p := range c.procs {
				if !healthy[p.Spec.Name] {
					waiting = append(waiting, p.Spec.Name)
					logs = append(logs, fmt.Sprintf("the end of %s:\n%s", p.LogPath, supervise.Indent(supervise.Tail(p.LogPath, 10))))
				}
			}
			return fmt.Errorf("%s not healthy after %s: %w\n%s", strings.Join(waiting, ", "), c.opts.StartTimeout, ctx.Err(), strings.Join(logs, "\n"))
		case <-tick.C:
		}
	}
}

// failure turns an exit during start-up into an error, recognising a lost
// port so that the start can be retried.
func (c *Cluster) failure(e exit) error {
	err := e.p.ExitError(e.err)
	if strings.Contains(supervise.Tail(e.p.LogPath, 30), "address already in use") {
		return fmt.Errorf("%w: %w", errPortClash, err)
	}
	return err
}

func (c *Cluster) healthy(ctx context.Context, p *supervise.Process) bool {
	return components.Healthy(ctx, c.http, p.Spec.HealthURL)
}

// report receives every exit nobody asked for.
// While a fault is injected, and for a grace period after, a component that
// exits because of it (kube-controller-manager dies when the apiserver goes
// away while it starts its controllers) is started again, as a kubelet would
// restart a static pod, instead of failing the run.
const faultGrace = time.Minute

func (c *Cluster) report(p *supervise.Process, err error) {
	if c.inFault() {
		go c.revive(p, err)
		return
	}
	select {
	case c.exits <- exit{p, err}:
	default:
	}
}

func (c *Cluster) inFault() bool {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	return c.faults > 0 || time.Now().Before(c.faultUntil)
}

// revive restarts a component that exited during a fault, backing off like
// a kubelet; it gives up, and reports the exit, when the fault is over.
func (c *Cluster) revive(p *supervise.Process, err error) {
	c.faultMu.Lock()
	c.revived[p.Spec.Name]++
	n := c.revived[p.Spec.Name]
	c.faultMu.Unlock()
	logf(c.opts.Log, "%s exited during an injected fault (%v); starting it again", p.Spec.Name, p.ExitError(err).(*supervise.ComponentError).Status)
	delay := min(time.Duration(1<<min(n-1, 5))*time.Second, 30*time.Second)
	select {
	case <-time.After(delay):
	case <-c.watching:
		return
	}
	if !c.inFault() {
		select {
		case c.exits <- exit{p, err}:
		default:
		}
		return
	}
	if serr := p.Start(c.env, c.report); serr != nil {
		select {
		case c.exits <- exit{p, serr}:
		default:
		}
		return
	}
	c.save()
}

// Revived counts, per component, the restarts revive made.
func (c *Cluster) Revived() map[string]int {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	out := make(map[string]int, len(c.revived))
	for k, v := range c.revived {
		out[k] = v
	}
	return out
}

// supervise turns the first unexpected exit or hang after start-up into a
// failure the runner can act on.
func (c *Cluster) supervise() {
	select {
	case e := <-c.exits:
		c.failed <- e.p.ExitError(e.err)
	case err := <-c.hangs:
		c.failed <- err
	case <-c.watching:
	}
}

// liveness watches one component for a hang until the supervisor stops.
func (c *Cluster) liveness(p *supervise.Process) {
	supervise.Liveness{
		Check:  func(ctx context.Context) bool { return c.healthy(ctx, p) },
		Paused: p.Paused,
		Skip:   func() bool { return c.inFault() || !p.Running() },
	}.Watch(c.watching, func(status string) {
		select {
		case c.hangs <- &supervise.ComponentError{Component: p.Spec.Name, Status: status, Log: supervise.Tail(p.LogPath, 20), LogPath: p.LogPath}:
		default:
		}
	})
}

// probe waits for KWOK to make a node Ready, giving up on a component's exit.
func (c *Cluster) probe(ctx context.Context) error {
	cs, err := c.Clientset()
	if err != nil {
		return err
	}
	abort := make(chan error, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case e := <-c.exits:
			abort <- c.failure(e)
		case <-done:
		}
	}()
	if err := bootstrap.Probe(ctx, cs, bootstrap.ProbeNode, abort); err != nil {
		if ctx.Err() != nil {
			kwok := c.byName[plan.Kwok]
			return fmt.Errorf("%w\nthe end of %s:\n%s", err, kwok.LogPath, supervise.Indent(supervise.Tail(kwok.LogPath, 10)))
		}
		return err
	}
	return nil
}

// Detach leaves the cluster running when kwok-run exits (kwok-run up): no
// supervision, and the registry entry without an owner.
func (c *Cluster) Detach() error {
	close(c.watching)
	c.entryMu.Lock()
	c.entry.Owner = registry.Process{}
	c.entryMu.Unlock()
	return c.save()
}

func (c *Cluster) save() error {
	c.entryMu.Lock()
	defer c.entryMu.Unlock()
	c.entry.Processes = c.entry.Processes[:0]
	for _, p := range c.procs {
		if r := p.Record(); r.PID != 0 {
			c.entry.Processes = append(c.entry.Processes, r)
		}
	}
	return c.opts.Registry.Save(c.entry)
}

// Kubeconfig is the admin kubeconfig.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// ClientTLS is the admin TLS configuration.
func (c *Cluster) ClientTLS() *tls.Config { return c.tls }

// RunDir is where the cluster's files are.
func (c *Cluster) RunDir() string { return c.opts.RunDir }

// Endpoints lists the running components' metrics URLs.
func (c *Cluster) Endpoints() []backends.Endpoint { return supervise.Endpoints(c.procs) }

// Components lists every component with its binary and flags.
func (c *Cluster) Components() []backends.Component { return supervise.Components(c.procs) }

// Failed delivers the first component that exits on its own.
func (c *Cluster) Failed() <-chan error { return c.failed }

// Stop stops a component with SIGTERM or SIGKILL.
func (c *Cluster) Stop(ctx context.Context, component, signal string) error {
	procs := c.instances(component)
	if len(procs) == 0 {
		return fmt.Errorf("no component %q in this cluster", component)
	}
	sig := syscall.SIGTERM
	if signal == plan.SignalKill {
		sig = syscall.SIGKILL
	}
	c.faultMu.Lock()
	c.faults++
	c.faultMu.Unlock()
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		// A graceful stop of kube-apiserver can take its full shutdown
		// delay.
		wg.Go(func() { errs[i] = p.Signal(sig, 90*time.Second) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// instances are the processes of a component: one, or KWOK's controllers.
func (c *Cluster) instances(component string) []*supervise.Process {
	var out []*supervise.Process
	for _, p := range c.procs {
		if components.IsInstance(p.Spec.Name, component) {
			out = append(out, p)
		}
	}
	return out
}

// Start starts a stopped component again and waits until it is healthy.
func (c *Cluster) Start(ctx context.Context, component string) error {
	procs := c.instances(component)
	if len(procs) == 0 {
		return fmt.Errorf("no component %q in this cluster", component)
	}
	for _, p := range procs {
		if p.Running() {
			return fmt.Errorf("%s is running", p.Spec.Name)
		}
	}
	// The fault ends with this start, plus a grace period for what it
	// disturbed.
	defer func() {
		c.faultMu.Lock()
		c.faults = max(c.faults-1, 0)
		c.faultUntil = time.Now().Add(faultGrace)
		c.faultMu.Unlock()
	}()
	for _, p := range procs {
		if err := p.Start(c.env, c.report); err != nil {
			return err
		}
	}
	if err := c.save(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for _, p := range procs {
		for !c.healthy(ctx, p) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not healthy after a restart: %w\nthe end of %s:\n%s", p.Spec.Name, ctx.Err(), p.LogPath, supervise.Indent(supervise.Tail(p.LogPath, 10)))
			case <-tick.C:
			}
		}
	}
	return nil
}

// Down kills every component, deletes etcd's data and the registry entry,
// and the run directory when the cluster owns it.
func (c *Cluster) Down(ctx context.Context) error {
	return c.teardown(c.opts.RemoveRunDir)
}

func (c *Cluster) teardown(removeRunDir bool) error {
	c.downOnce.Do(func() {
		select {
		case <-c.watching:
		default:
			close(c.watching)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(c.procs))
		for i, p := range c.procs {
			wg.Go(func() { errs[i] = p.Kill() })
		}
		wg.Wait()
		if c.http != nil {
			c.http.CloseIdleConnections()
		}
		if err := errors.Join(errs...); err != nil {
			// Keep the entry, so kwok-run down can try again.
			c.downErr = err
			return
		}
		if c.dataDir != "" {
			errs = append(errs, os.RemoveAll(c.dataDir))
		}
		if removeRunDir {
			errs = append(errs, os.RemoveAll(c.opts.RunDir))
		} else {
			// A run keeps its directory for the logs, and it often goes up
			// as a CI artifact: the keys, which opened a cluster that is
			// gone, do not.
			errs = append(errs, os.RemoveAll(filepath.Join(c.opts.RunDir, "pki")), os.RemoveAll(c.kubeconfig))
		}
		if c.entry != nil {
			errs = append(errs, c.opts.Registry.Remove(c.opts.Name))
		}
		c.downErr = errors.Join(errs...)
	})
	return c.downErr
}

// Clientset returns a client for the cluster.
func (c *Cluster) Clientset() (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// dataDir puts etcd's data on tmpfs when there is one: a simulation needs
// speed, not durability.
func dataDir(runDir string) (string, error) {
	if info, err := os.Stat("/dev/shm"); err == nil && info.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "kwok-run-etcd-"); err == nil {
			return d, nil
		}
	}
	d := filepath.Join(runDir, "etcd")
	return d, os.MkdirAll(d, 0o700)
}

// freePorts picks free ports on Host.
func freePorts(n int) ([]int, error) { return components.FreePorts(Host, n) }

func since(t time.Time) string { return time.Since(t).Round(10 * time.Millisecond).String() }

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
