// Package kubeconfig plays scenarios against an existing cluster, a real
// control plane at scale: kwok-run brings only KWOK, one controller per shard
// of each node pool as a child process, and installs nothing into the
// cluster but KWOK's Stage CRD (when missing) and the stages, which it takes
// away again on Down.
package kubeconfig

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/bootstrap"
	"github.com/kwok-run/kwok-run/backends/components"
	"github.com/kwok-run/kwok-run/backends/pki"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/backends/supervise"
	"github.com/kwok-run/kwok-run/scenario/plan"
	"github.com/kwok-run/kwok-run/scenario/stages"
)

// Host is where the KWOK controllers serve their health and metrics.
const Host = "127.0.0.1"

// Options say which cluster to play against and where kwok-run keeps its
// files.
type Options struct {
	// Name identifies the run's KWOK controllers in the registry; unique on
	// the machine.
	Name string
	// RunDir receives pki/ (KWOK's serving certificate), logs/ and
	// kwok.yaml; created 0700 and kept for the logs.
	RunDir string
	// Kubeconfig is the existing cluster's kubeconfig (the --kubeconfig
	// flag); it wins over the scenario's cluster.kubeconfig.
	Kubeconfig string
	Binaries   *binaries.Resolver
	Registry   *registry.Registry
	// Log receives progress lines.
	Log io.Writer
	// StartTimeout bounds the start-up, the probe node Ready included.
	StartTimeout time.Duration
}

// Cluster is an existing cluster with kwok-run's KWOK controllers.
type Cluster struct {
	opts       Options
	kubeconfig string
	server     string
	rest       *rest.Config
	dyn        dynamic.Interface
	files      *pki.Files
	tls        *tls.Config
	http       *http.Client
	env        []string
	procs      []*supervise.Process
	// apiserverMetrics is empty when the scraper cannot authenticate to
	// the apiserver (a token, not a client certificate).
	apiserverMetrics string

	// createdCRD and preexisting say what Down may delete: the CRD only if
	// kwok-run created it, else only the stages that were not there before.
	createdCRD  bool
	preexisting map[string]bool
	probe       string
	probed      bool

	entryMu sync.Mutex
	entry   *registry.Entry

	exits    chan exit
	failed   chan error
	watching chan struct{} // closed when the supervisor should stop
	downOnce sync.Once
	downErr  error
}

type exit struct {
	p   *supervise.Process
	err error
}

var _ backends.Cluster = (*Cluster)(nil)

var (
	crdResource   = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	stageResource = kwokv1alpha1.GroupVersion.WithResource("stages")
	// stageCRD is the name of KWOK's Stage CRD.
	stageCRD = stageResource.GroupResource().String()
)

// Up checks that the cluster answers, installs KWOK's stages, starts a KWOK
// controller per shard of every pool and returns when all are healthy and
// one has made a probe node Ready. On any error, and when ctx ends first,
// what it started and installed is taken away again.
func Up(ctx context.Context, spec backends.Spec, opts Options) (*Cluster, error) {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	path := opts.Kubeconfig
	if path == "" {
		path = spec.Cluster.Kubeconfig
	}
	if path == "" {
		return nil, errors.New(`backend "kubeconfig" needs the existing cluster's kubeconfig: set kubeconfig in the scenario's cluster block or pass --kubeconfig`)
	}
	// KWOK runs in its log directory: a relative path would not reach it.
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := opts.Registry.Get(opts.Name); err == nil {
		return nil, fmt.Errorf("a cluster named %q is already registered; remove it with kwok-run down %s", opts.Name, opts.Name)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("read the kubeconfig %s: %w", path, err)
	}
	if err := answers(ctx, cfg); err != nil {
		return nil, fmt.Errorf("the cluster of the kubeconfig %s does not answer at %s: %w", path, cfg.Host, err)
	}
	bin, err := resolve(ctx, spec.Cluster, opts)
	if err != nil {
		return nil, err
	}
	return start(ctx, spec, opts, path, cfg, bin)
}

// answers asks the cluster for its version, which any authenticated user may.
func answers(ctx context.Context, cfg *rest.Config) error {
	c := rest.CopyConfig(cfg)
	c.Timeout = 15 * time.Second
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		_, err := cs.Discovery().ServerVersion()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// resolve finds KWOK's binary; one the scenario names is used as is.
func resolve(ctx context.Context, c plan.Cluster, opts Options) (string, error) {
	r := *opts.Binaries
	r.Paths = map[string]string{}
	for k, v := range opts.Binaries.Paths {
		r.Paths[k] = v
	}
	if comp, _ := c.Component(plan.Kwok); comp.Binary != "" {
		r.Paths[binaries.Kwok] = comp.Binary
	}
	return r.Resolve(ctx, binaries.Kwok, c.Kwok)
}

func start(ctx context.Context, spec backends.Spec, opts Options, path string, cfg *rest.Config, bin string) (c *Cluster, err error) {
	begin := time.Now()
	c = &Cluster{
		opts: opts, kubeconfig: path, server: cfg.Host, rest: cfg,
		exits:    make(chan exit, 16),
		failed:   make(chan error, 1),
		watching: make(chan struct{}),
		env:      os.Environ(),
	}
	defer func() {
		if r := recover(); r != nil {
			c.teardown(context.Background())
			panic(r)
		}
		if err != nil {
			c.teardown(context.Background())
		}
	}()
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return c, err
	}
	logs := filepath.Join(opts.RunDir, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return c, fmt.Errorf("create the run directory: %w", err)
	}
	if err := os.Chmod(opts.RunDir, 0o700); err != nil {
		return c, err
	}
	if c.files, err = pki.Generate(filepath.Join(opts.RunDir, "pki"), pki.Options{}); err != nil {
		return c, fmt.Errorf("generate KWOK's serving certificate: %w", err)
	}
	if c.tls, err = clientTLS(cfg, c.files); err != nil {
		return c, err
	}
	c.http = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: c.tls}}
	if cfg.CertFile != "" || len(cfg.CertData) > 0 {
		c.apiserverMetrics = strings.TrimRight(cfg.Host, "/") + "/metrics"
	} else {
		logf(opts.Log, "the kubeconfig %s authenticates without a client certificate, which the metrics scraper needs: the apiserver's /metrics will not be read", path)
	}
	kwokConfig, err := components.KwokConfig(spec.Cluster)
	if err != nil {
		return c, err
	}
	kwokPath := filepath.Join(opts.RunDir, "kwok.yaml")
	if err := os.WriteFile(kwokPath, kwokConfig, 0o600); err != nil {
		return c, err
	}
	if c.procs, err = controllers(spec, c.files, path, kwokPath, bin, logs); err != nil {
		return c, err
	}
	// Registered before anything starts, so that whatever happens to this
	// kwok-run, `kwok-run down` finds the controllers it left.
	c.entry = &registry.Entry{
		Name: opts.Name, Backend: plan.BackendKubeconfig, RunDir: opts.RunDir, Kubeconfig: path,
		Created: time.Now().UTC(),
	}
	if c.entry.Owner, err = registry.Self(); err != nil {
		return c, err
	}
	if err := c.save(); err != nil {
		return c, fmt.Errorf("register the cluster: %w", err)
	}

	startCtx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	fail := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	stageList, err := components.Stages(spec.PodStages, spec.Pools)
	if err != nil {
		return c, err
	}
	if c.preexisting, err = c.stages(startCtx); err != nil {
		return c, fail(fmt.Errorf("list the cluster's KWOK stages: %w", err))
	}
	c.createdCRD, err = bootstrap.InstallStages(startCtx, cfg, stageList)
	if err != nil {
		return c, fail(err)
	}
	for _, p := range c.procs {
		if err := p.Start(c.env, c.report); err != nil {
			return c, err
		}
	}
	if err := c.save(); err != nil {
		return c, err
	}
	if err := c.waitHealthy(startCtx, c.exits); err != nil {
		return c, fail(err)
	}
	if len(c.procs) == 0 {
		logf(opts.Log, "the scenario has no node pool: no KWOK controller runs")
	} else if err := c.probeNode(startCtx); err != nil {
		return c, fail(err)
	}
	go c.supervise()
	controllers := fmt.Sprintf("%d KWOK controllers", len(c.procs))
	if len(c.procs) == 1 {
		controllers = "a KWOK controller"
	}
	logf(opts.Log, "playing against the cluster at %s (kubeconfig %s): %s ready in %s", c.server, path, controllers, since(begin))
	return c, nil
}

// controllers describes a KWOK controller per shard of every pool: the
// local backend's KWOK, managing only the nodes that carry its shard label.
func controllers(spec backends.Spec, files *pki.Files, kubeconfig, kwokConfig, bin, logs string) ([]*supervise.Process, error) {
	var shards []string
	// Each controller renews its shard's leases at its pool's duration.
	var leases []time.Duration
	for _, pool := range spec.Pools {
		for i := range pool.Shards() {
			shards = append(shards, pool.Shard(i))
			leases = append(leases, pool.Lease(spec.Cluster))
		}
	}
	ports, err := components.FreePorts(Host, len(shards))
	if err != nil {
		return nil, err
	}
	kwokOnly := spec.Cluster
	comp, _ := spec.Cluster.Component(plan.Kwok)
	comp.Enabled = true
	kwokOnly.Components = []plan.Component{comp}
	var out []*supervise.Process
	for i, shard := range shards {
		built, err := components.Build(components.Config{
			Cluster: kwokOnly, Host: Host, Ports: components.Ports{Kwok: ports[i]},
			Paths: components.Paths{PKI: files, Kubeconfig: kubeconfig, KwokConfig: kwokConfig},
		})
		if err != nil {
			return nil, err
		}
		p := built[0]
		if p.Args, err = components.ManageNodes(p.Args, plan.ShardLabel+"="+shard); err != nil {
			return nil, err
		}
		p.Args = components.SetFlag(p.Args, "node-lease-duration-seconds", fmt.Sprint(int(leases[i]/time.Second)))
		// The cluster's apiserver is up already.
		p.Needs = nil
		log := filepath.Join(logs, "kwok.log")
		if len(shards) > 1 {
			p.Name = plan.Kwok + "/" + shard
			log = filepath.Join(logs, "kwok-"+shard+".log")
		}
		out = append(out, &supervise.Process{Spec: p, Binary: bin, LogPath: log})
	}
	return out, nil
}

// clientTLS is what both the apiserver and the KWOK controllers accept: the
// cluster's CA (or the system's) and kwok-run's, and the kubeconfig's client
// certificate.
func clientTLS(cfg *rest.Config, files *pki.Files) (*tls.Config, error) {
	t, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, err
	}
	if t == nil {
		t = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	pool := t.RootCAs
	if pool == nil {
		if pool, err = x509.SystemCertPool(); err != nil {
			pool = x509.NewCertPool()
		}
	} else {
		pool = pool.Clone()
	}
	ca, err := os.ReadFile(files.CACert)
	if err != nil {
		return nil, err
	}
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("no CA certificate in " + files.CACert)
	}
	t.RootCAs = pool
	// A server name the kubeconfig sets is the apiserver's, and would fail
	// every KWOK controller on 127.0.0.1.
	t.ServerName = ""
	return t, nil
}

// stages lists the names of the Stage objects in the cluster; none when it
// has no Stage CRD.
func (c *Cluster) stages(ctx context.Context) (map[string]bool, error) {
	list, err := c.dyn.Resource(stageResource).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(list.Items))
	for _, s := range list.Items {
		out[s.GetName()] = true
	}
	return out, nil
}

// waitHealthy waits until every controller answers its health check, giving
// up on an exit that exits delivers (nil after start-up, when the
// supervisor reports exits instead).
func (c *Cluster) waitHealthy(ctx context.Context, exits <-chan exit) error {
	healthy := map[*supervise.Process]bool{}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, p := range c.procs {
			if !healthy[p] && c.healthy(ctx, p) {
				healthy[p] = true
			}
		}
		if len(healthy) == len(c.procs) {
			return nil
		}
		select {
		case e := <-exits:
			return e.p.ExitError(e.err)
		case <-ctx.Done():
			var waiting, logs []string
			for _, p := range c.procs {
				if !healthy[p] {
					waiting = append(waiting, p.Spec.Name)
					logs = append(logs, fmt.Sprintf("the end of %s:\n%s", p.LogPath, supervise.Indent(supervise.Tail(p.LogPath, 10))))
				}
			}
			return fmt.Errorf("%s not healthy: %w\n%s", strings.Join(waiting, ", "), ctx.Err(), strings.Join(logs, "\n"))
		case <-tick.C:
		}
	}
}

func (c *Cluster) healthy(ctx context.Context, p *supervise.Process) bool {
	return components.Healthy(ctx, c.http, p.Spec.HealthURL)
}

// probeNode waits for the first controller to make a node of its shard
// Ready. The node's name is drawn at random: other runs, from other
// machines, may probe the same cluster.
func (c *Cluster) probeNode(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(c.rest)
	if err != nil {
		return err
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	c.probe = bootstrap.ProbeNode + "-" + hex.EncodeToString(suffix)
	first := c.procs[0]
	shard := strings.TrimPrefix(managed(first.Spec.Args), plan.ShardLabel+"=")
	abort := make(chan error, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case e := <-c.exits:
			abort <- e.p.ExitError(e.err)
		case <-done:
		}
	}()
	if err := bootstrap.ProbeLabelled(ctx, cs, c.probe, map[string]string{plan.ShardLabel: shard}, abort); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w\nthe end of %s:\n%s", err, first.LogPath, supervise.Indent(supervise.Tail(first.LogPath, 10)))
		}
		return err
	}
	c.probed = true
	return nil
}

// managed is the label selector a controller's command line gives it.
func managed(args []string) string {
	const flag = "--manage-nodes-with-label-selector="
	for _, a := range args {
		if s, ok := strings.CutPrefix(a, flag); ok {
			return s
		}
	}
	return ""
}

// report receives every exit nobody asked for.
func (c *Cluster) report(p *supervise.Process, err error) {
	select {
	case c.exits <- exit{p, err}:
	default:
	}
}

// supervise turns the first unexpected exit after start-up into a failure
// the runner can act on.
func (c *Cluster) supervise() {
	select {
	case e := <-c.exits:
		c.failed <- e.p.ExitError(e.err)
	case <-c.watching:
	}
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

// Kubeconfig is the existing cluster's kubeconfig, as the user gave it.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// ClientTLS trusts the cluster's CA and kwok-run's, and presents the
// kubeconfig's client certificate if it has one.
func (c *Cluster) ClientTLS() *tls.Config { return c.tls }

// Endpoints lists the running KWOK controllers, and the apiserver when the
// kubeconfig has a client certificate to read its metrics with.
func (c *Cluster) Endpoints() []backends.Endpoint {
	var out []backends.Endpoint
	if c.apiserverMetrics != "" {
		out = append(out, backends.Endpoint{Component: plan.APIServer, MetricsURL: c.apiserverMetrics})
	}
	return append(out, supervise.Endpoints(c.procs)...)
}

// Components lists the KWOK controllers with their binary and flags; the
// rest of the control plane is not kwok-run's to describe.
func (c *Cluster) Components() []backends.Component { return supervise.Components(c.procs) }

// Failed delivers the first KWOK controller that exits on its own.
func (c *Cluster) Failed() <-chan error { return c.failed }

// own rejects a component kwok-run did not start.
func (c *Cluster) own(component string) error {
	if component != plan.Kwok {
		return fmt.Errorf("%s belongs to the existing cluster: kwok-run can stop and start only its KWOK controllers", component)
	}
	if len(c.procs) == 0 {
		return errors.New("no KWOK controller runs: the scenario has no node pool")
	}
	return nil
}

// Stop stops every KWOK controller with SIGTERM or SIGKILL.
func (c *Cluster) Stop(ctx context.Context, component, signal string) error {
	if err := c.own(component); err != nil {
		return err
	}
	sig := syscall.SIGTERM
	if signal == plan.SignalKill {
		sig = syscall.SIGKILL
	}
	errs := make([]error, len(c.procs))
	var wg sync.WaitGroup
	for i, p := range c.procs {
		wg.Go(func() { errs[i] = p.Signal(sig, 30*time.Second) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Start starts the KWOK controllers again and waits until all are healthy.
func (c *Cluster) Start(ctx context.Context, component string) error {
	if err := c.own(component); err != nil {
		return err
	}
	for _, p := range c.procs {
		if p.Running() {
			return fmt.Errorf("%s is running", p.Spec.Name)
		}
	}
	for _, p := range c.procs {
		if err := p.Start(c.env, c.report); err != nil {
			return err
		}
	}
	if err := c.save(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	return c.waitHealthy(ctx, nil)
}

// downTimeout bounds taking the stages away, also when the run was
// interrupted.
const downTimeout = time.Minute

// Down kills the KWOK controllers, deletes the stages kwok-run installed
// (and the Stage CRD if it created it) and the registry entry. The run
// directory stays, for the logs.
func (c *Cluster) Down(ctx context.Context) error {
	return c.teardown(ctx)
}

func (c *Cluster) teardown(ctx context.Context) error {
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
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), downTimeout)
		defer cancel()
		if c.dyn != nil {
			errs = append(errs, c.uninstall(ctx))
		}
		if c.entry != nil {
			errs = append(errs, c.opts.Registry.Remove(c.opts.Name))
		}
		c.downErr = errors.Join(errs...)
	})
	return c.downErr
}

// uninstall takes away what start-up put into the cluster: a probe node
// that never became Ready, and the stages, with the CRD when kwok-run created
// it (its stages, those the runner switched to included, go with it).
func (c *Cluster) uninstall(ctx context.Context) error {
	var errs []error
	if c.probe != "" && !c.probed {
		if cs, err := kubernetes.NewForConfig(c.rest); err != nil {
			errs = append(errs, err)
		} else if err := cs.CoreV1().Nodes().Delete(ctx, c.probe, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete the probe node %s: %w", c.probe, err))
		}
	}
	if c.createdCRD {
		return errors.Join(append(errs, c.deleteCRD(ctx))...)
	}
	if c.preexisting == nil {
		return errors.Join(errs...)
	}
	// The cluster had the CRD: only kwok-run's stages go, the node stages
	// and every pod lifecycle's, and none that was there before.
	for _, selector := range []string{components.NodeStagesLabel, stages.LifecycleLabel} {
		list, err := c.dyn.Resource(stageResource).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			errs = append(errs, fmt.Errorf("list kwok-run's stages: %w", err))
			continue
		}
		for _, s := range list.Items {
			if c.preexisting[s.GetName()] {
				continue
			}
			if err := c.dyn.Resource(stageResource).Delete(ctx, s.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete stage %s: %w", s.GetName(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// deleteCRD deletes KWOK's Stage CRD and waits until it is gone, so that a
// run that follows finds the cluster as it was.
func (c *Cluster) deleteCRD(ctx context.Context) error {
	crds := c.dyn.Resource(crdResource)
	if err := crds.Delete(ctx, stageCRD, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete KWOK's Stage CRD: %w", err)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := crds.Get(ctx, stageCRD, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("KWOK's Stage CRD is still there: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func since(t time.Time) string { return time.Since(t).Round(10 * time.Millisecond).String() }

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
