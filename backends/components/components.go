// Package components describes the processes of a KWOK control plane as
// plain data: binary, flags, ports, the URL that says it is healthy, and what
// must be healthy before it starts. Each backend translates the same
// descriptions (to child processes, or containers), so the flags live in one
// place.
package components

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/pki"
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Process is one component, ready to start.
type Process struct {
	// Name is the component's name in the scenario language (apiserver).
	Name string
	// Binary is the executable's name (kube-apiserver).
	Binary string
	Args   []string
	// HealthURL answers 200 over TLS with the admin certificate when the
	// component is ready.
	HealthURL string
	// MetricsURL serves the component's Prometheus metrics.
	MetricsURL string
	// Serving is the port of HealthURL and MetricsURL, which a container
	// backend publishes on the host.
	Serving int
	// Needs lists components that must be healthy before this one starts.
	Needs []string
	// Ports are the ports the component listens on, to check they are free.
	Ports []int
}

// Ports are the ports of one cluster.
type Ports struct {
	EtcdClient, EtcdPeer, APIServer, Scheduler, ControllerManager, Kwok int
	// LeaseKwoks are the ports of the KWOK controllers of the pools' own
	// lease durations, one per plan.OwnLeases, in that order.
	LeaseKwoks []int
}

// Paths are the files components read.
type Paths struct {
	PKI *pki.Files
	// Kubeconfig is the admin kubeconfig the other components use.
	Kubeconfig string
	EtcdData   string
	KwokConfig string
}

// Config is everything Build needs.
type Config struct {
	Cluster plan.Cluster
	// Host is the address components listen on and, unless Hosts says
	// otherwise, reach each other at.
	Host string
	// Hosts names the host each component is reached at, by component: a
	// container's name on its network, while it listens on every address.
	Hosts map[string]string
	Ports Ports
	Paths Paths
	// ServiceCIDR is the range of Service ClusterIPs.
	ServiceCIDR string
	// Pools are the scenario's node pools: a lease duration of theirs
	// other than the cluster's gets a KWOK controller of its own.
	Pools []plan.NodePool
}

// DefaultServiceCIDR is large, so thousands of Services fit.
const DefaultServiceCIDR = "10.96.0.0/12"

// Client QPS for scheduler and controller-manager: high enough never to be
// the limit, as kwokctl sets them.
const (
	clientQPS   = "5000"
	clientBurst = "10000"
)

// Of is the component that runs binary.
func Of(binary string) string {
	switch binary {
	case binaries.Etcd:
		return plan.Etcd
	case binaries.KubeAPIServer:
		return plan.APIServer
	case binaries.KubeScheduler:
		return plan.Scheduler
	case binaries.KubeControllerManager:
		return plan.ControllerManager
	}
	return plan.Kwok
}

// Build returns the enabled components in start order.
func Build(c Config) ([]Process, error) {
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = DefaultServiceCIDR
	}
	builders := map[string]func(Config) Process{
		plan.Etcd: etcd, plan.APIServer: apiserver, plan.Scheduler: scheduler,
		plan.ControllerManager: controllerManager, plan.Kwok: kwok,
	}
	var out []Process
	for _, name := range plan.ComponentNames {
		comp, ok := c.Cluster.Component(name)
		if !ok || !comp.Enabled {
			continue
		}
		p := builders[name](c)
		args, err := override(p.Args, comp.Args)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		p.Args = args
		var leased []Process
		if name == plan.Kwok {
			if p, leased, err = leaseKwoks(c, p); err != nil {
				return nil, err
			}
		}
		out = append(append(out, p), leased...)
	}
	return out, nil
}

// leaseKwoks splits the nodes between KWOK controllers by lease duration,
// since KWOK renews every lease of a controller at one: kwok keeps the
// nodes without plan.LeaseLabel (the cluster's duration, and every node
// the scenario did not make), and a controller per other duration, named
// kwok/lease-<duration>, manages the nodes labelled with it.
func leaseKwoks(c Config, kwok Process) (Process, []Process, error) {
	leases := plan.OwnLeases(c.Cluster, c.Pools)
	if len(leases) == 0 {
		return kwok, nil, nil
	}
	if len(c.Ports.LeaseKwoks) != len(leases) {
		return kwok, nil, fmt.Errorf("%d ports for the KWOK controllers of %d lease durations", len(c.Ports.LeaseKwoks), len(leases))
	}
	base := kwok.Args
	var err error
	if kwok.Args, err = ManageNodes(base, "!"+plan.LeaseLabel); err != nil {
		return kwok, nil, err
	}
	var out []Process
	for i, d := range leases {
		value := plan.LeaseValue(d)
		p := kwok
		p.Name = LeaseKwok(d)
		port := c.Ports.LeaseKwoks[i]
		if p.Args, err = ManageNodes(base, plan.LeaseLabel+"="+value); err != nil {
			return kwok, nil, err
		}
		p.Args = SetFlag(p.Args, "node-lease-duration-seconds", fmt.Sprint(int(d/time.Second)))
		p.Args = SetFlag(p.Args, "server-address", fmt.Sprintf("%s:%d", c.Host, port))
		p.HealthURL = c.url(p.Name, port, "/healthz")
		p.MetricsURL = c.url(p.Name, port, "/metrics")
		p.Serving, p.Ports = port, []int{port}
		// After kwok, which starts once KWOK's stages are in the cluster.
		p.Needs = append(slices.Clone(kwok.Needs), plan.Kwok)
		out = append(out, p)
	}
	return kwok, out, nil
}

// LeaseKwok names the KWOK controller of lease duration d.
func LeaseKwok(d time.Duration) string {
	return plan.Kwok + "/lease-" + plan.LeaseValue(d)
}

// IsInstance reports whether the process called name is one of
// component's: the component itself, or one of its controllers
// (kwok/lease-20s) that act as one.
func IsInstance(name, component string) bool {
	return name == component || strings.HasPrefix(name, component+"/")
}

// LogFile is the name of a process's log file.
func LogFile(name string) string {
	return strings.ReplaceAll(name, "/", "-") + ".log"
}

// ManageNodes turns KWOK's --manage-all-nodes into a label selector: the
// nodes that do not match are another controller's, or the cluster's own.
func ManageNodes(args []string, selector string) ([]string, error) {
	i := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "--manage-all-nodes=") })
	if i < 0 {
		return nil, fmt.Errorf("KWOK's command line has no --manage-all-nodes to replace: %s", strings.Join(args, " "))
	}
	out := slices.Clone(args)
	out[i] = "--manage-nodes-with-label-selector=" + selector
	return out, nil
}

// SetFlag gives flag name the value, in its place or at the end.
func SetFlag(args []string, name, value string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if strings.HasPrefix(a, "--"+name+"=") {
			out[i] = "--" + name + "=" + value
			return out
		}
	}
	return append(out, "--"+name+"="+value)
}

// url is how others reach a component's port.
func (c Config) url(component string, port int, path string) string {
	return fmt.Sprintf("https://%s:%d%s", c.host(component), port, path)
}

func (c Config) host(component string) string {
	if h := c.Hosts[component]; h != "" {
		return h
	}
	return c.Host
}

func etcd(c Config) Process {
	p := c.Paths.PKI
	client, peer := c.url(plan.Etcd, c.Ports.EtcdClient, ""), c.url(plan.Etcd, c.Ports.EtcdPeer, "")
	listen := func(port int) string { return fmt.Sprintf("https://%s:%d", c.Host, port) }
	return Process{
		Name:   plan.Etcd,
		Binary: binaries.Etcd,
		Args: flags(
			"name", "kwok-run",
			"data-dir", c.Paths.EtcdData,
			"listen-client-urls", listen(c.Ports.EtcdClient),
			"advertise-client-urls", client,
			"listen-peer-urls", listen(c.Ports.EtcdPeer),
			"initial-advertise-peer-urls", peer,
			"initial-cluster", "kwok-run="+peer,
			"cert-file", p.ServerCert, "key-file", p.ServerKey,
			"trusted-ca-file", p.CACert, "client-cert-auth", "true",
			"peer-cert-file", p.ServerCert, "peer-key-file", p.ServerKey,
			"peer-trusted-ca-file", p.CACert, "peer-client-cert-auth", "true",
			// A simulation is thrown away afterwards: durability only costs
			// latency, and the data lives on tmpfs where there is one.
			"unsafe-no-fsync", "true",
			"quota-backend-bytes", fmt.Sprint(8<<30),
			"log-level", "warn",
		),
		HealthURL:  c.url(plan.Etcd, c.Ports.EtcdClient, "/health"),
		MetricsURL: c.url(plan.Etcd, c.Ports.EtcdClient, "/metrics"),
		Serving:    c.Ports.EtcdClient,
		Ports:      []int{c.Ports.EtcdClient, c.Ports.EtcdPeer},
	}
}

func apiserver(c Config) Process {
	p := c.Paths.PKI
	args := flags(
		"etcd-servers", c.url(plan.Etcd, c.Ports.EtcdClient, ""),
		"etcd-cafile", p.CACert, "etcd-certfile", p.AdminCert, "etcd-keyfile", p.AdminKey,
		"bind-address", c.Host,
		"secure-port", fmt.Sprint(c.Ports.APIServer),
		"tls-cert-file", p.ServerCert, "tls-private-key-file", p.ServerKey,
		"client-ca-file", p.CACert,
		// Health, version and metrics too want a client certificate or a
		// token; kwok-run's own checks and scrapes present the admin's.
		"anonymous-auth", "false",
		"service-account-key-file", p.ServiceAccountPub,
		"service-account-signing-key-file", p.ServiceAccountKey,
		"service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"service-cluster-ip-range", c.ServiceCIDR,
		"authorization-mode", "Node,RBAC",
		"allow-privileged", "true",
		// KWOK pods run no container that could use a token, and without
		// this plugin a pod can be created in a namespace the moment the
		// namespace exists, with or without a controller-manager.
		"disable-admission-plugins", "ServiceAccount",
		// Stored object counts are polled, by default once a minute: longer
		// than many steps, so a report would show counts a minute stale.
		"etcd-count-metric-poll-period", "5s",
	)
	args = append(args, featureGates(c.Cluster)...)
	if len(c.Cluster.RuntimeConfig) > 0 {
		args = append(args, "--runtime-config="+joinMap(c.Cluster.RuntimeConfig))
	}
	return Process{
		Name:       plan.APIServer,
		Binary:     binaries.KubeAPIServer,
		Args:       args,
		HealthURL:  c.url(plan.APIServer, c.Ports.APIServer, "/readyz"),
		MetricsURL: c.url(plan.APIServer, c.Ports.APIServer, "/metrics"),
		Serving:    c.Ports.APIServer,
		Ports:      []int{c.Ports.APIServer},
	}
}

// kubeComponent is what kube-scheduler and kube-controller-manager share.
func kubeComponent(c Config, port int) []string {
	p := c.Paths.PKI
	// No authentication- or authorization-kubeconfig: with them the
	// component exits when the apiserver is not up yet, so it could not start
	// alongside it. Without them a client certificate of the cluster's CA
	// is still verified from client-ca-file, and its group system:masters
	// (the admin's, which kwok-run's checks and scrapes present) is let in
	// by the default always-allow group; everyone else, on every path
	// health included, is refused.
	args := flags(
		"kubeconfig", c.Paths.Kubeconfig,
		"bind-address", c.Host,
		"secure-port", fmt.Sprint(port),
		"tls-cert-file", p.ServerCert, "tls-private-key-file", p.ServerKey,
		"client-ca-file", p.CACert,
		"authorization-always-allow-paths", "",
		"leader-elect", "false",
		"kube-api-qps", clientQPS,
		"kube-api-burst", clientBurst,
	)
	return append(args, featureGates(c.Cluster)...)
}

func scheduler(c Config) Process {
	return Process{
		Name:       plan.Scheduler,
		Binary:     binaries.KubeScheduler,
		Args:       kubeComponent(c, c.Ports.Scheduler),
		HealthURL:  c.url(plan.Scheduler, c.Ports.Scheduler, "/readyz"),
		MetricsURL: c.url(plan.Scheduler, c.Ports.Scheduler, "/metrics"),
		Serving:    c.Ports.Scheduler,
		Ports:      []int{c.Ports.Scheduler},
	}
}

func controllerManager(c Config) Process {
	p := c.Paths.PKI
	// KWOK renews a lease every quarter of its duration. The node lifecycle
	// controller marks a node Unknown after the grace period without a
	// renewal, 50s by default: a longer lease, chosen to cut heartbeat
	// load, must not make every node flap.
	// A quarter more than the longest lease: a restarted KWOK takes a node
	// back only when its previous self's lease expired, and renews then.
	grace := 50 * time.Second
	for _, d := range append(plan.OwnLeases(c.Cluster, c.Pools), c.Cluster.NodeLeaseDuration.D()) {
		grace = max(grace, d+d/4)
	}
	args := append(kubeComponent(c, c.Ports.ControllerManager), flags(
		"root-ca-file", p.CACert,
		"service-account-private-key-file", p.ServiceAccountKey,
		"service-cluster-ip-range", c.ServiceCIDR,
		"node-monitor-grace-period", grace.String(),
	)...)
	return Process{
		Name:       plan.ControllerManager,
		Binary:     binaries.KubeControllerManager,
		Args:       args,
		HealthURL:  c.url(plan.ControllerManager, c.Ports.ControllerManager, "/healthz"),
		MetricsURL: c.url(plan.ControllerManager, c.Ports.ControllerManager, "/metrics"),
		Serving:    c.Ports.ControllerManager,
		Ports:      []int{c.Ports.ControllerManager},
	}
}

func kwok(c Config) Process {
	p := c.Paths.PKI
	return Process{
		Name:   plan.Kwok,
		Binary: binaries.Kwok,
		Args: flags(
			"kubeconfig", c.Paths.Kubeconfig,
			"config", c.Paths.KwokConfig,
			"manage-all-nodes", "true",
			"server-address", fmt.Sprintf("%s:%d", c.Host, c.Ports.Kwok),
			"tls-cert-file", p.ServerCert, "tls-private-key-file", p.ServerKey,
			"node-lease-duration-seconds", fmt.Sprint(int(c.Cluster.NodeLeaseDuration.D()/time.Second)),
		),
		HealthURL:  c.url(plan.Kwok, c.Ports.Kwok, "/healthz"),
		MetricsURL: c.url(plan.Kwok, c.Ports.Kwok, "/metrics"),
		Serving:    c.Ports.Kwok,
		// KWOK polls the apiserver with a backoff that doubles from one
		// second: started too early it sleeps past the apiserver's start.
		Needs: []string{plan.APIServer},
		Ports: []int{c.Ports.Kwok},
	}
}

func featureGates(c plan.Cluster) []string {
	if len(c.FeatureGates) == 0 {
		return nil
	}
	gates := make(map[string]string, len(c.FeatureGates))
	for k, v := range c.FeatureGates {
		gates[k] = fmt.Sprint(v)
	}
	return []string{"--feature-gates=" + joinMap(gates)}
}

func joinMap(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// flags turns name, value pairs into --name=value arguments.
func flags(kv ...string) []string {
	out := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, "--"+kv[i]+"="+kv[i+1])
	}
	return out
}

// override replaces flags of the same name and appends the others, sorted,
// so the scenario's args win and the command line is deterministic.
func override(args []string, extra map[string]string) ([]string, error) {
	if len(extra) == 0 {
		return args, nil
	}
	out := slices.Clone(args)
	var added []string
	for name, value := range extra {
		if name == "" || strings.HasPrefix(name, "-") {
			return nil, fmt.Errorf("flag name %q: write it without dashes", name)
		}
		prefix := "--" + name + "="
		i := slices.IndexFunc(out, func(a string) bool { return strings.HasPrefix(a, prefix) })
		if i >= 0 {
			out[i] = prefix + value
		} else {
			added = append(added, prefix+value)
		}
	}
	sort.Strings(added)
	return append(out, added...), nil
}

// CanStart reports whether every component p needs is in healthy.
func (p Process) CanStart(healthy map[string]bool) bool {
	for _, n := range p.Needs {
		if !healthy[n] {
			return false
		}
	}
	return true
}

// Healthy asks a health URL once: true on 200. client carries the TLS
// configuration the component accepts.
func Healthy(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
