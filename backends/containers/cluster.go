package containers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"

	"github.com/kwok-run/kwok-run/backends"
	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/bootstrap"
	"github.com/kwok-run/kwok-run/backends/components"
	"github.com/kwok-run/kwok-run/backends/images"
	"github.com/kwok-run/kwok-run/backends/pki"
	"github.com/kwok-run/kwok-run/backends/registry"
	"github.com/kwok-run/kwok-run/backends/supervise"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Labels on everything a run creates: `kwok-run down` finds what a crashed
// run left by them.
const (
	RunLabel       = "kwok-run.run"
	ComponentLabel = "kwok-run.component"
)

// Inside a container: where the run's files are mounted, and etcd's data.
const (
	configDir = "/etc/kwok-run"
	etcdDir   = "/var/lib/etcd"
)

// Ports inside the containers: each has its own address, so the usual ones.
var inside = components.Ports{EtcdClient: 2379, EtcdPeer: 2380, APIServer: 6443, Scheduler: 10259, ControllerManager: 10257, Kwok: 10247}

// Options say where and how to bring a cluster up.
type Options struct {
	// Name identifies the cluster in the registry; unique on the machine.
	Name string
	// RunDir receives cluster/ (certificates and configs, mounted read-only),
	// logs/ and the kubeconfig; created 0700.
	RunDir string
	// RemoveRunDir deletes RunDir on Down (clusters of `up`).
	RemoveRunDir bool
	// Detached clusters have no owner process (kwok-run up).
	Detached bool
	Engine   *Engine
	// Binaries packs images when the upstream ones cannot be had.
	Binaries *binaries.Resolver
	Registry *registry.Registry
	// Log receives progress lines.
	Log io.Writer
	// StartTimeout bounds the start-up once the images are present.
	StartTimeout time.Duration

	// ports picks free host ports; tests replace it to provoke a clash.
	ports func(n int) ([]int, error)
}

// container is one component.
type container struct {
	spec     components.Process
	name     string
	image    string
	hostPort int
	logPath  string
	// ip is a fixed address on the run's network, where the engine needs one.
	ip string

	mu       sync.Mutex
	stopping bool // a stop was asked for: its exit is no failure
	up       bool // started and not seen exiting
}

func (k *container) set(up, stopping bool) {
	k.mu.Lock()
	k.up, k.stopping = up, stopping
	k.mu.Unlock()
}

func (k *container) state() (up, stopping bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.up, k.stopping
}

// Cluster is a control plane of containers.
type Cluster struct {
	opts       Options
	engine     *Engine
	run        string
	network    string
	kubeconfig string
	dataDir    string
	tls        *tls.Config
	http       *http.Client
	ctrs       []*container
	byName     map[string]*container
	imageIDs   map[string]string

	entryMu sync.Mutex
	entry   *registry.Entry

	begin      time.Time
	milestones []string

	exits    chan exit
	failed   chan error
	hangs    chan error    // a component that stopped answering without exiting
	watching chan struct{} // closed when exits are no longer failures

	faultMu    sync.Mutex
	faults     int
	faultUntil time.Time

	downOnce sync.Once
	downErr  error
}

type exit struct {
	k    *container
	code string
}

var _ backends.Cluster = (*Cluster)(nil)

var errPortClash = errors.New("port already in use")

// faultGrace is how long after a restart a component that exits because of
// the fault is started again rather than failing the run (as local's).
const faultGrace = time.Minute

// Up brings the cluster up and returns when every container is healthy and
// KWOK has made a probe node Ready. On any error, and when ctx ends first,
// everything created is removed again.
func Up(ctx context.Context, spec backends.Spec, opts Options) (*Cluster, error) {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	if opts.ports == nil {
		opts.ports = func(n int) ([]int, error) { return components.FreePorts("127.0.0.1", n) }
	}
	if _, err := opts.Registry.Get(opts.Name); err == nil {
		return nil, fmt.Errorf("a cluster named %q is already registered; remove it with kwok-run down %s", opts.Name, opts.Name)
	}
	if _, err := opts.Engine.Run(ctx, "version"); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("the %s engine does not answer: %w", opts.Engine.Name, err)
	}
	var last error
	for attempt := 1; attempt <= 3; attempt++ {
		c, err := start(ctx, spec, opts)
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

func newRunID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func start(ctx context.Context, spec backends.Spec, opts Options) (c *Cluster, err error) {
	c = &Cluster{
		opts: opts, engine: opts.Engine, run: newRunID(),
		byName: map[string]*container{}, imageIDs: map[string]string{},
		exits: make(chan exit, 16), failed: make(chan error, 1), hangs: make(chan error, 1), watching: make(chan struct{}),
		begin: time.Now(),
	}
	c.network = "kwok-run-" + c.run
	// Named before anything is created: what a run leaves behind, if it
	// ever does, carries this label.
	logf(opts.Log, "starting run %s on %s (containers labelled %s=%s)", c.run, c.engine.Name, RunLabel, c.run)
	defer func() {
		if r := recover(); r != nil {
			c.teardown(false)
			panic(r)
		}
		if err != nil {
			c.teardown(false)
		}
	}()
	specs, err := c.specs(spec)
	if err != nil {
		return c, err
	}
	wants := make([]Wanted, len(specs))
	for i, s := range specs {
		// By the component, not the process: KWOK's controllers are one.
		name := components.Of(s.Binary)
		comp, _ := spec.Cluster.Component(name)
		wants[i] = Wanted{Ref: comp.Image, Binary: s.Binary, Version: spec.Cluster.VersionOf(name)}
	}
	refs, err := Resolve(ctx, c.engine, wants, opts.Binaries, opts.Log)
	if err != nil {
		return c, err
	}
	c.milestones = append(c.milestones, fmt.Sprintf("images %s", since(c.begin)))

	if err := c.files(spec, specs, refs); err != nil {
		return c, err
	}
	// Registered before anything is created, so that whatever happens to
	// this kwok-run, `kwok-run down` finds what it left.
	c.entry = &registry.Entry{
		Name: opts.Name, Backend: c.engine.Name, RunDir: opts.RunDir, Kubeconfig: c.kubeconfig,
		RemoveRunDir: opts.RemoveRunDir, DataDir: c.dataDir, Created: time.Now().UTC(),
		Engine: c.engine.Argv, Run: c.run,
	}
	if !opts.Detached {
		if c.entry.Owner, err = registry.Self(); err != nil {
			return c, err
		}
	}
	if err := opts.Registry.Save(c.entry); err != nil {
		return c, fmt.Errorf("register the cluster: %w", err)
	}
	netCtx, cancelNet := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancelNet()
	if _, err := c.engine.Run(netCtx, "network", "create", "--label", RunLabel+"="+c.run, c.network); err != nil {
		return c, fmt.Errorf("create the run's network: %w", err)
	}
	if c.engine.Name == plan.BackendNerdctl {
		subnet, err := c.engine.Run(netCtx, "network", "inspect", "--format", "{{(index .IPAM.Config 0).Subnet}}", c.network)
		if err != nil {
			return c, fmt.Errorf("read the run's network: %w", err)
		}
		if err := c.assignIPs(subnet); err != nil {
			return c, err
		}
	}

	stages, err := components.Stages(spec.PodStages, spec.Pools)
	if err != nil {
		return c, err
	}
	startCtx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	if err := c.launch(startCtx, stages); err != nil {
		if ctx.Err() != nil {
			return c, ctx.Err()
		}
		return c, err
	}
	if err := c.probe(startCtx); err != nil {
		if ctx.Err() != nil {
			return c, ctx.Err()
		}
		return c, err
	}
	go c.supervise()
	for _, k := range c.ctrs {
		go c.liveness(k)
	}
	c.milestones = append(c.milestones, fmt.Sprintf("first node Ready %s", since(c.begin)))
	logf(opts.Log, "control plane ready in %s on %s (%s)", since(c.begin), c.engine.Name, strings.Join(c.milestones, ", "))
	return c, nil
}

// specs are the components as they run inside their containers: listening
// on every address, reaching each other by container name, reading the
// run's files where they are mounted.
func (c *Cluster) specs(spec backends.Spec) ([]components.Process, error) {
	hosts := map[string]string{}
	for _, name := range plan.ComponentNames {
		hosts[name] = c.containerName(name)
	}
	// Each of KWOK's controllers has a container of its own, so all listen
	// on KWOK's port.
	ports := inside
	for _, d := range plan.OwnLeases(spec.Cluster, spec.Pools) {
		ports.LeaseKwoks = append(ports.LeaseKwoks, inside.Kwok)
		hosts[components.LeaseKwok(d)] = c.containerName(components.LeaseKwok(d))
	}
	return components.Build(components.Config{
		Cluster: spec.Cluster, Host: "0.0.0.0", Hosts: hosts, Ports: ports, Pools: spec.Pools,
		Paths: components.Paths{
			PKI:        pki.Layout(filepath.Join(configDir, "pki")),
			Kubeconfig: filepath.Join(configDir, "kubeconfig"),
			EtcdData:   etcdDir,
			KwokConfig: filepath.Join(configDir, "kwok.yaml"),
		},
	})
}

func (c *Cluster) containerName(component string) string {
	return "kwok-run-" + c.run + "-" + strings.NewReplacer("_", "-", "/", "-").Replace(component)
}

// files writes what the containers mount and the host's kubeconfig, and
// picks the host ports.
func (c *Cluster) files(spec backends.Spec, specs []components.Process, refs []string) error {
	dir := filepath.Join(c.opts.RunDir, "cluster")
	if err := os.MkdirAll(filepath.Join(c.opts.RunDir, "logs"), 0o700); err != nil {
		return fmt.Errorf("create the run directory: %w", err)
	}
	if err := os.Chmod(c.opts.RunDir, 0o700); err != nil {
		return err
	}
	var names []string
	for _, s := range specs {
		names = append(names, c.containerName(s.Name))
	}
	files, err := pki.Generate(filepath.Join(dir, "pki"), pki.Options{Hosts: names})
	if err != nil {
		return fmt.Errorf("generate certificates: %w", err)
	}
	if c.tls, err = files.ClientTLS(); err != nil {
		return err
	}
	c.http = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: c.tls}}
	ports, err := c.opts.ports(len(specs))
	if err != nil {
		return err
	}
	for i, s := range specs {
		k := &container{spec: s, name: names[i], image: refs[i], hostPort: ports[i], logPath: filepath.Join(c.opts.RunDir, "logs", components.LogFile(s.Name))}
		c.ctrs = append(c.ctrs, k)
		c.byName[s.Name] = k
	}
	api, ok := c.byName[plan.APIServer]
	if !ok {
		return errors.New("container backends need the apiserver component")
	}
	inner := fmt.Sprintf("https://%s:%d", api.name, inside.APIServer)
	if err := files.WriteKubeconfig(filepath.Join(dir, "kubeconfig"), inner, "kwok-run"); err != nil {
		return err
	}
	c.kubeconfig = filepath.Join(c.opts.RunDir, "kubeconfig")
	if err := files.WriteKubeconfig(c.kubeconfig, fmt.Sprintf("https://127.0.0.1:%d", api.hostPort), "kwok-run-"+c.opts.Name); err != nil {
		return err
	}
	kwokConfig, err := components.KwokConfig(spec.Cluster)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "kwok.yaml"), kwokConfig, 0o600); err != nil {
		return err
	}
	// etcd's data lives on the host's tmpfs rather than the container's, so
	// that it outlives a restart of the etcd container.
	if _, ok := c.byName[plan.Etcd]; ok {
		if c.dataDir, err = os.MkdirTemp("/dev/shm", "kwok-run-etcd-"); err != nil {
			c.dataDir = filepath.Join(c.opts.RunDir, "etcd")
			if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
				return err
			}
		}
	}
	return nil
}

// assignIPs gives every container a fixed address in subnet. nerdctl gives
// a restarted container a new address, and the other components' clients
// keep their connections to the old one until their dead-connection check
// gives up, about 30 seconds later: a restart would look like a 30-second
// outage. Docker keeps a container's address on restart.
func (c *Cluster) assignIPs(subnet string) error {
	prefix, err := netip.ParsePrefix(strings.TrimSpace(subnet))
	if err != nil || !prefix.Addr().Is4() || prefix.Bits() > 24 {
		return fmt.Errorf("the run's network has subnet %q: want an IPv4 /24 or larger", subnet)
	}
	addr := prefix.Masked().Addr()
	// The first addresses are the gateway's and the engine's own.
	for range 10 {
		addr = addr.Next()
	}
	for _, k := range c.ctrs {
		k.ip = addr.String()
		addr = addr.Next()
	}
	return nil
}

// runArgs is the `run` command line of a container.
func (c *Cluster) runArgs(k *container) []string {
	args := []string{"run", "--detach", "--name", k.name, "--hostname", k.name,
		"--network", c.network,
		"--label", RunLabel + "=" + c.run, "--label", ComponentLabel + "=" + k.spec.Name,
		"--volume", filepath.Join(c.opts.RunDir, "cluster") + ":" + configDir + ":ro",
		"--publish", fmt.Sprintf("127.0.0.1:%d:%d", k.hostPort, k.spec.Serving),
		"--entrypoint", images.Entrypoint(k.spec.Binary),
		// Resolve made the image present: a pull here could only stall.
		"--pull", "never",
	}
	if k.ip != "" {
		args = append(args, "--ip", k.ip)
	}
	if k.spec.Name == plan.Etcd {
		args = append(args, "--volume", c.dataDir+":"+etcdDir)
	}
	return append(append(args, k.image), k.spec.Args...)
}

// launch starts the containers, each as soon as what it needs is healthy,
// and waits until all are healthy. KWOK's stages go in while the apiserver
// still bootstraps, as on the local backend.
func (c *Cluster) launch(ctx context.Context, stages []kwokv1alpha1.Stage) error {
	healthy := map[string]bool{}
	started := map[string]bool{}
	prepared := make(chan error, 1)
	preparing := false
	_, needsStages := c.byName[plan.Kwok]
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		if needsStages && !preparing && started[plan.APIServer] {
			preparing = true
			go func() { prepared <- c.installStages(ctx, stages) }()
		}
		for _, k := range c.ctrs {
			if started[k.spec.Name] || !k.spec.CanStart(healthy) {
				continue
			}
			if k.spec.Name == plan.Kwok && needsStages {
				select {
				case err := <-prepared:
					if err != nil {
						return fmt.Errorf("before starting kwok: %w", err)
					}
					needsStages = false
					c.milestones = append(c.milestones, fmt.Sprintf("stages %s", since(c.begin)))
				default:
					continue
				}
			}
			if err := c.startContainer(ctx, k, true); err != nil {
				return err
			}
			started[k.spec.Name] = true
		}
		for _, k := range c.ctrs {
			if started[k.spec.Name] && !healthy[k.spec.Name] && c.healthy(ctx, k) {
				healthy[k.spec.Name] = true
				c.milestones = append(c.milestones, fmt.Sprintf("%s %s", k.spec.Name, since(c.begin)))
			}
		}
		if len(healthy) == len(c.ctrs) {
			return nil
		}
		select {
		case e := <-c.exits:
			return c.exitError(e)
		case <-ctx.Done():
			var waiting, logs []string
			for _, k := range c.ctrs {
				if !healthy[k.spec.Name] {
					waiting = append(waiting, k.spec.Name)
					logs = append(logs, fmt.Sprintf("the end of %s's log:\n%s", k.name, supervise.Indent(c.tail(k, 10))))
				}
			}
			return fmt.Errorf("%s not healthy after %s: %w\n%s", strings.Join(waiting, ", "), c.opts.StartTimeout, ctx.Err(), strings.Join(logs, "\n"))
		case <-tick.C:
		}
	}
}

// startContainer creates (first) or starts (after a stop) a container, and
// watches for its exit.
func (c *Cluster) startContainer(ctx context.Context, k *container, create bool) error {
	// Never cut short: a `run` interrupted on the client side may still
	// create the container on the engine's side after teardown has looked.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var err error
	if create {
		_, err = c.engine.Run(ctx, c.runArgs(k)...)
	} else {
		_, err = c.engine.Run(ctx, "start", k.name)
	}
	if err != nil {
		if msg := err.Error(); strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use") {
			return fmt.Errorf("%w: start %s: %w", errPortClash, k.spec.Name, err)
		}
		return fmt.Errorf("start %s: %w", k.spec.Name, err)
	}
	k.set(true, false)
	go c.watch(k)
	return nil
}

// watch waits for the container to stop and reports an exit nobody asked
// for.
func (c *Cluster) watch(k *container) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-c.watching
		cancel()
	}()
	code, err := c.engine.Run(ctx, "wait", k.name)
	cancel()
	select {
	case <-c.watching:
		return
	default:
	}
	_, stopping := k.state()
	k.set(false, stopping)
	if stopping {
		return
	}
	if err != nil {
		code = "unknown (" + lastLine(err) + ")"
	}
	if c.inFault() {
		go c.revive(k, code)
		return
	}
	select {
	case c.exits <- exit{k, code}:
	default:
	}
}

func (c *Cluster) inFault() bool {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	return c.faults > 0 || time.Now().Before(c.faultUntil)
}

// revive starts again a container that exited during an injected fault, as
// a kubelet restarts a static pod.
func (c *Cluster) revive(k *container, code string) {
	logf(c.opts.Log, "%s exited (code %s) during an injected fault; starting it again", k.spec.Name, code)
	select {
	case <-time.After(time.Second):
	case <-c.watching:
		return
	}
	if err := c.startContainer(context.Background(), k, false); err != nil {
		select {
		case c.exits <- exit{k, code}:
		default:
		}
	}
}

// exitError says which component exited, with the end of its log.
func (c *Cluster) exitError(e exit) error {
	return fmt.Errorf("%s (container %s) exited with code %s; the end of its log:\n%s", e.k.spec.Name, e.k.name, e.code, supervise.Indent(c.tail(e.k, 20)))
}

func (c *Cluster) tail(k *container, n int) string {
	var b bytes.Buffer
	if err := c.engine.Logs(context.Background(), &b, "--tail", strconv.Itoa(n), k.name); err != nil {
		return err.Error()
	}
	return b.String()
}

// hostURL is where the host reaches one of k's URLs: its published port.
func (k *container) hostURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return u
	}
	parsed.Host = fmt.Sprintf("127.0.0.1:%d", k.hostPort)
	return parsed.String()
}

func (c *Cluster) healthy(ctx context.Context, k *container) bool {
	return components.Healthy(ctx, c.http, k.hostURL(k.spec.HealthURL))
}

func (c *Cluster) installStages(ctx context.Context, stages []kwokv1alpha1.Stage) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return err
	}
	_, err = bootstrap.InstallStages(ctx, cfg, stages)
	return err
}

// probe waits for KWOK to make a node Ready, giving up on a container's
// exit.
func (c *Cluster) probe(ctx context.Context) error {
	if _, ok := c.byName[plan.Kwok]; !ok {
		return nil
	}
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
			abort <- c.exitError(e)
		case <-done:
		}
	}()
	if err := bootstrap.Probe(ctx, cs, bootstrap.ProbeNode, abort); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w\nthe end of kwok's log:\n%s", err, supervise.Indent(c.tail(c.byName[plan.Kwok], 10)))
		}
		return err
	}
	return nil
}

func (c *Cluster) supervise() {
	select {
	case e := <-c.exits:
		c.failed <- c.exitError(e)
	case err := <-c.hangs:
		c.failed <- err
	case <-c.watching:
	}
}

// liveness watches one container for a hang until the supervisor stops.
func (c *Cluster) liveness(k *container) {
	supervise.Liveness{
		Check: func(ctx context.Context) bool { return c.healthy(ctx, k) },
		Paused: func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := c.engine.Run(ctx, "inspect", "--format", "{{.State.Paused}}", k.name)
			return err == nil && strings.TrimSpace(out) == "true"
		},
		Skip: func() bool {
			up, stopping := k.state()
			return c.inFault() || !up || stopping
		},
	}.Watch(c.watching, func(status string) {
		select {
		case c.hangs <- fmt.Errorf("%s (container %s) %s; the end of its log:\n%s", k.spec.Name, k.name, status, supervise.Indent(c.tail(k, 20))):
		default:
		}
	})
}

// Detach leaves the cluster running when kwok-run exits (kwok-run up).
func (c *Cluster) Detach() error {
	close(c.watching)
	c.entryMu.Lock()
	defer c.entryMu.Unlock()
	c.entry.Owner = registry.Process{}
	return c.opts.Registry.Save(c.entry)
}

// Kubeconfig is the admin kubeconfig, pointing at the published apiserver.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// ClientTLS is the admin TLS configuration.
func (c *Cluster) ClientTLS() *tls.Config { return c.tls }

// RunDir is where the cluster's files are.
func (c *Cluster) RunDir() string { return c.opts.RunDir }

// Endpoints lists the running components' published metrics URLs.
func (c *Cluster) Endpoints() []backends.Endpoint {
	var out []backends.Endpoint
	for _, k := range c.ctrs {
		if up, _ := k.state(); up {
			out = append(out, backends.Endpoint{Component: k.spec.Name, MetricsURL: k.hostURL(k.spec.MetricsURL)})
		}
	}
	return out
}

// Components lists every component with its image and flags; SHA256 is the
// engine's image id.
func (c *Cluster) Components() []backends.Component {
	out := make([]backends.Component, len(c.ctrs))
	for i, k := range c.ctrs {
		id := c.imageIDs[k.image]
		if id == "" {
			img, _ := c.engine.inspectImage(context.Background(), k.image)
			id = img.ID
			c.imageIDs[k.image] = id
		}
		out[i] = backends.Component{Name: k.spec.Name, Binary: k.image, SHA256: strings.TrimPrefix(id, "sha256:"), Args: slices.Clone(k.spec.Args)}
	}
	return out
}

// Failed delivers the first container that exits on its own.
func (c *Cluster) Failed() <-chan error { return c.failed }

// Stop stops a component's containers: TERM with the apiserver's full
// shutdown delay before KILL, or KILL at once.
func (c *Cluster) Stop(ctx context.Context, component, signal string) error {
	ctrs := c.instances(component)
	if len(ctrs) == 0 {
		return fmt.Errorf("no component %q in this cluster", component)
	}
	c.faultMu.Lock()
	c.faults++
	c.faultMu.Unlock()
	for _, k := range ctrs {
		up, _ := k.state()
		k.set(up, true)
		var err error
		if signal == plan.SignalKill {
			_, err = c.engine.Run(ctx, "kill", "--signal", "KILL", k.name)
		} else {
			_, err = c.engine.Run(ctx, "stop", "--time", "90", k.name)
		}
		if err != nil {
			return fmt.Errorf("stop %s: %w", k.spec.Name, err)
		}
		// kill returns once the signal is sent; wait returns once it is gone.
		if _, err := c.engine.Run(ctx, "wait", k.name); err != nil {
			return fmt.Errorf("stop %s: %w", k.spec.Name, err)
		}
		k.set(false, true)
	}
	return nil
}

// instances are the containers of a component: one, or KWOK's controllers.
func (c *Cluster) instances(component string) []*container {
	var out []*container
	for _, k := range c.ctrs {
		if components.IsInstance(k.spec.Name, component) {
			out = append(out, k)
		}
	}
	return out
}

// Start starts a stopped component's containers again and waits until they
// are healthy.
func (c *Cluster) Start(ctx context.Context, component string) error {
	ctrs := c.instances(component)
	if len(ctrs) == 0 {
		return fmt.Errorf("no component %q in this cluster", component)
	}
	for _, k := range ctrs {
		if up, _ := k.state(); up {
			return fmt.Errorf("%s is running", k.spec.Name)
		}
	}
	defer func() {
		c.faultMu.Lock()
		c.faults = max(c.faults-1, 0)
		c.faultUntil = time.Now().Add(faultGrace)
		c.faultMu.Unlock()
	}()
	for _, k := range ctrs {
		if err := c.startContainer(ctx, k, false); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for _, k := range ctrs {
		for !c.healthy(ctx, k) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not healthy after a restart: %w\nthe end of its log:\n%s", k.spec.Name, ctx.Err(), supervise.Indent(c.tail(k, 10)))
			case <-tick.C:
			}
		}
	}
	return nil
}

// Down saves every container's log, removes the containers and the
// network, etcd's data and the registry entry, and the run directory when
// the cluster owns it.
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
		// A cancelled run still tears down: its own context, bounded.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if !removeRunDir {
			c.saveLogs(ctx)
		}
		if c.http != nil {
			c.http.CloseIdleConnections()
		}
		if err := RemoveRun(ctx, c.engine, c.run); err != nil {
			// Keep the entry, so kwok-run down can try again.
			c.downErr = err
			return
		}
		var errs []error
		if c.dataDir != "" {
			errs = append(errs, os.RemoveAll(c.dataDir))
		}
		if removeRunDir {
			errs = append(errs, os.RemoveAll(c.opts.RunDir))
		} else {
			// A run keeps its directory for the logs, and it often goes up
			// as a CI artifact: the keys, which opened a cluster that is
			// gone, do not.
			for _, secret := range []string{filepath.Join("cluster", "pki"), filepath.Join("cluster", "kubeconfig"), "kubeconfig"} {
				errs = append(errs, os.RemoveAll(filepath.Join(c.opts.RunDir, secret)))
			}
		}
		if c.entry != nil {
			errs = append(errs, c.opts.Registry.Remove(c.opts.Name))
		}
		c.downErr = errors.Join(errs...)
	})
	return c.downErr
}

// saveLogs keeps each container's output in logs/<component>.log.
func (c *Cluster) saveLogs(ctx context.Context) {
	for _, k := range c.ctrs {
		f, err := os.OpenFile(k.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			continue
		}
		if err := c.engine.Logs(ctx, f, "--timestamps", k.name); err != nil {
			fmt.Fprintf(f, "kwok-run could not read the container's log: %v\n", err)
		}
		f.Close()
	}
}

// RemoveRun removes every container and network labelled with the run id,
// like `rm -f`: what is already gone is no error.
func RemoveRun(ctx context.Context, e *Engine, run string) error {
	ids, err := e.Run(ctx, "ps", "--all", "--quiet", "--filter", "label="+RunLabel+"="+run)
	if err != nil {
		return fmt.Errorf("list the run's containers: %w", err)
	}
	if ids != "" {
		if _, err := e.Run(ctx, append([]string{"rm", "--force", "--volumes"}, strings.Fields(ids)...)...); err != nil {
			return fmt.Errorf("remove the run's containers: %w", err)
		}
	}
	nets, err := e.Run(ctx, "network", "ls", "--quiet", "--filter", "label="+RunLabel+"="+run)
	if err != nil {
		return fmt.Errorf("list the run's networks: %w", err)
	}
	if nets != "" {
		if _, err := e.Run(ctx, append([]string{"network", "rm"}, strings.Fields(nets)...)...); err != nil {
			return fmt.Errorf("remove the run's network: %w", err)
		}
	}
	return nil
}

// Clientset returns a client for the cluster.
func (c *Cluster) Clientset() (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

func since(t time.Time) string { return time.Since(t).Round(10 * time.Millisecond).String() }
