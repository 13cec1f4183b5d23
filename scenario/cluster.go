package scenario

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

// Defaults for what a scenario leaves out. The versions are the ones kwok-run
// is tested with.
const (
	DefaultKubernetes        = "v1.37.2"
	DefaultKwok              = "v0.8.0"
	DefaultEtcd              = "v3.6.16"
	DefaultSeed              = 1
	DefaultTimeout           = 30 * time.Minute
	DefaultNodeLeaseDuration = 40 * time.Second
	// DefaultKwokParallelism replaces KWOK's own 4 workers: with 4, pods
	// reached Running tens of seconds after the scheduler bound them (see
	// docs/performance.md).
	DefaultKwokParallelism = 64
)

var scenarioSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "description"}, {Name: "seed"}, {Name: "timeout"}},
}

func (d *decoder) decodeScenario(blocks hcl.Blocks, file hcl.Body) {
	blk := d.singleton(blocks, "scenario")
	if blk == nil {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing scenario block",
			Detail:   "Every scenario file has one scenario \"<name>\" { } block that names it.",
			Subject:  startOf(file),
		})
		return
	}
	s := &d.plan.Scenario
	s.Name = blk.Labels[0]
	d.scenarioRange = &blk.DefRange
	d.checkName(blk.LabelRanges[0], "scenario", s.Name, 63)
	b := d.body(blk, scenarioSchema)
	s.Description = b.str("description", "")
	s.Seed = int64(b.integer("seed", DefaultSeed, math.MinInt64+1, math.MaxInt64-1))
	s.Timeout = b.duration("timeout", DefaultTimeout, time.Second)
	if a := b.attr("timeout"); a != nil {
		r := a.Expr.Range()
		d.scenarioRange = &r
	}
}

// startOf is the first position of a file, for problems that belong nowhere
// in particular.
func startOf(body hcl.Body) *hcl.Range {
	r := body.MissingItemRange()
	r.Start, r.End = hcl.InitialPos, hcl.InitialPos
	return &r
}

var clusterSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "backend"}, {Name: "kubeconfig"}, {Name: "kubernetes"}, {Name: "kwok"}, {Name: "etcd"},
		{Name: "node_lease_duration"}, {Name: "kwok_parallelism"}, {Name: "feature_gates"}, {Name: "runtime_config"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "component", LabelNames: []string{"name"}}},
}

var componentSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "enabled"}, {Name: "args"}, {Name: "binary"}, {Name: "image"}},
}

var (
	versionPattern     = regexp.MustCompile(`^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)
	flagPattern        = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	featureGatePattern = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
)

// required components cannot be disabled: without them there is no cluster.
// KWOK can be: a control plane without it is what backend = "kubeconfig"
// plays against, and a scenario that creates nodes is told it needs KWOK.
var requiredComponents = []string{plan.Etcd, plan.APIServer}

// DefaultCluster is the cluster of a scenario without a cluster block.
func DefaultCluster() plan.Cluster {
	c := plan.Cluster{
		Backend:           plan.BackendLocal,
		Kubernetes:        DefaultKubernetes,
		Kwok:              DefaultKwok,
		Etcd:              DefaultEtcd,
		NodeLeaseDuration: plan.Duration(DefaultNodeLeaseDuration),
		KwokParallelism:   DefaultKwokParallelism,
	}
	for _, name := range plan.ComponentNames {
		c.Components = append(c.Components, plan.Component{Name: name, Enabled: true})
	}
	return c
}

func (d *decoder) decodeCluster(blocks hcl.Blocks) {
	c := &d.plan.Cluster
	*c = DefaultCluster()
	blk := d.singleton(blocks, "cluster")
	if blk == nil {
		return
	}
	b := d.body(blk, clusterSchema)
	c.Backend = b.oneOf("backend", plan.BackendLocal, []string{plan.BackendLocal, plan.BackendDocker, plan.BackendNerdctl, plan.BackendKubeconfig})
	if path := b.str("kubeconfig", ""); path != "" {
		if c.Backend != plan.BackendKubeconfig {
			b.fail("kubeconfig", "kubeconfig without backend \"kubeconfig\"",
				"kubeconfig names an existing cluster to play the scenario against, which only backend = \"kubeconfig\" does; the %s backend brings up a cluster of its own.", c.Backend)
		} else if full, ok := d.file(path, b.rng("kubeconfig"), "kubeconfig"); ok {
			// Relative to the scenario, as manifests are: the file and its
			// cluster travel together.
			c.Kubeconfig = full
		}
	}
	c.Kubernetes = d.version(b, "kubernetes", DefaultKubernetes)
	c.Kwok = d.version(b, "kwok", DefaultKwok)
	c.Etcd = d.version(b, "etcd", DefaultEtcd)
	if lease, ok := d.lease(b, "node_lease_duration", DefaultNodeLeaseDuration, c.Backend); ok {
		c.NodeLeaseDuration = lease
	}
	c.KwokParallelism = b.integer("kwok_parallelism", DefaultKwokParallelism, 1, 1024)

	if v, ok := b.value("feature_gates"); ok {
		c.FeatureGates = map[string]bool{}
		if !v.Type().IsObjectType() && !v.Type().IsMapType() {
			b.fail("feature_gates", "Invalid feature_gates", "feature_gates is a map of gate names to true or false, e.g. { InPlacePodVerticalScaling = true }.")
		} else {
			for it := v.ElementIterator(); it.Next(); {
				k, e := it.Element()
				gate := k.AsString()
				if !featureGatePattern.MatchString(gate) {
					d.errorf(keyRange(b.expr("feature_gates"), gate), "Invalid feature gate name", "%q is not a feature gate name: they are written in CamelCase, e.g. \"InPlacePodVerticalScaling\".", gate)
					continue
				}
				if !e.Type().Equals(cty.Bool) || e.IsNull() {
					d.errorf(itemRange(b.expr("feature_gates"), gate), "Invalid feature gate value", "Feature gate %q must be true or false.", gate)
					continue
				}
				c.FeatureGates[gate] = e.True()
			}
		}
	}
	c.RuntimeConfig = b.stringMap("runtime_config")
	if c.Backend == plan.BackendKubeconfig {
		for _, name := range []string{"etcd", "feature_gates", "runtime_config"} {
			if b.has(name) {
				d.warnf(b.attr(name).NameRange, "Setting of the existing cluster",
					"With backend = \"kubeconfig\" the cluster is not kwok-run's: %s has no effect.", name)
			}
		}
	}

	seen := map[string]hcl.Range{}
	for _, cb := range b.blocks("component") {
		name := cb.Labels[0]
		i := slices.Index(plan.ComponentNames, name)
		if i < 0 {
			d.errorf(cb.LabelRanges[0], "Unknown component",
				"%q is not a component; they are %s.%s", name, listNames(plan.ComponentNames), suggest(name, plan.ComponentNames))
			continue
		}
		if !d.unique(seen, "component", name, cb.LabelRanges[0]) {
			continue
		}
		if c.Backend == plan.BackendKubeconfig && name != plan.Kwok {
			d.warnf(cb.LabelRanges[0], "Component of the existing cluster",
				"With backend = \"kubeconfig\" kwok-run runs only KWOK; %s is the cluster's own, so this block has no effect.", name)
		}
		d.decodeComponent(cb, &c.Components[i])
	}
}

// MaxLeaseDuration bounds a node lease: a node whose KWOK controller stopped
// would stay Ready that long.
const MaxLeaseDuration = time.Hour

// existingClusterGrace is a controller-manager's default node monitor grace
// period: an existing cluster's, which kwok-run does not set.
const existingClusterGrace = 50 * time.Second

// lease reads a lease duration: whole seconds, 1s to an hour. On an
// existing cluster a lease renewed less often than the cluster's grace
// period (a quarter of it, KWOK's renewal) is a warning: its nodes flap.
func (d *decoder) lease(b *body, name string, def time.Duration, backend string) (plan.Duration, bool) {
	if !b.has(name) {
		return plan.Duration(def), true
	}
	lease := b.duration(name, 0, time.Second)
	switch {
	case lease == 0:
		return 0, false
	case lease.D()%time.Second != 0:
		b.fail(name, "Invalid "+name, "Node leases last whole seconds; got %s.", lease)
		return 0, false
	case lease.D() > MaxLeaseDuration:
		b.fail(name, name+" too long", "Node leases last at most %s; got %s.", MaxLeaseDuration, lease)
		return 0, false
	}
	if backend == plan.BackendKubeconfig && lease.D()/4 > existingClusterGrace {
		d.warnf(b.attr(name).Expr.Range(), "Lease longer than the cluster allows",
			"KWOK renews a lease every quarter of it, every %s here; the existing cluster's controller-manager marks a node NotReady after %s without a renewal by default, so these nodes will flap.", lease.D()/4, existingClusterGrace)
	}
	return lease, true
}

func (d *decoder) decodeComponent(blk *hcl.Block, comp *plan.Component) {
	b := d.body(blk, componentSchema)
	comp.Enabled = b.boolean("enabled", true)
	if !comp.Enabled && slices.Contains(requiredComponents, comp.Name) {
		b.fail("enabled", "Component cannot be disabled",
			"There is no cluster without %s; only %s, %s and %s can be disabled.", comp.Name, plan.Scheduler, plan.ControllerManager, plan.Kwok)
		comp.Enabled = true
	}
	comp.Args = b.stringMap("args")
	for _, flag := range mapKeys(comp.Args) {
		switch {
		case strings.HasPrefix(flag, "-"):
			d.errorf(keyRange(b.expr("args"), flag), "Invalid flag name", "Write flag names without dashes: %q, not %q.", strings.TrimLeft(flag, "-"), flag)
		case !flagPattern.MatchString(flag):
			d.errorf(keyRange(b.expr("args"), flag), "Invalid flag name", "%q is not a flag name: flags are lower case words joined by dashes, e.g. \"max-requests-inflight\".", flag)
		case guardedFlag(flag) && !d.opts.AllowExec:
			d.errorf(keyRange(b.expr("args"), flag), "Flag needs --allow-exec",
				"%s decides where %s listens, which files it reads or writes, or whom it lets in: a shared scenario must not change that on this machine. Run with --allow-exec if you trust the file.", flag, comp.Name)
		}
	}
	comp.Binary = b.str("binary", "")
	comp.Image = b.str("image", "")
	for attr, v := range map[string]string{"binary": comp.Binary, "image": comp.Image} {
		if v != "" && !d.opts.AllowExec {
			b.fail(attr, attr+" needs --allow-exec",
				"%s = %q runs a program of the scenario's choosing on this machine, as exec does. Run with --allow-exec if you trust the file and what it runs.", attr, v)
		}
	}
}

// guardedFlag is a component flag that sets where the component listens,
// which files it reads or writes, or how it authenticates and authorises:
// what a scenario's args could use to open the control plane to others or
// to reach files outside its directory.
func guardedFlag(name string) bool {
	for _, suffix := range []string{"-file", "-path", "-dir", "-url", "-urls", "-address", "-addresses", "-servers", "-kubeconfig", "-config"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	switch name {
	case "kubeconfig", "config", "address", "authorization-mode", "anonymous-auth", "authorization-always-allow-paths",
		"authentication-skip-lookup":
		return true
	}
	return false
}

func (d *decoder) version(b *body, name, def string) string {
	v := b.str(name, def)
	if !versionPattern.MatchString(v) {
		b.fail(name, "Invalid version", "%q is not a release version: write it as vMAJOR.MINOR.PATCH, e.g. %q.", v, def)
		return def
	}
	return v
}

// checkName enforces DNS-label names for things that become parts of
// Kubernetes object names.
func (d *decoder) checkName(rng hcl.Range, what, name string, maxLen int) bool {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		d.errorf(rng, fmt.Sprintf("Invalid %s name", what),
			"%q cannot name a %s: names are lower case letters, digits and '-', starting and ending with a letter or digit.", name, what)
		return false
	}
	if len(name) > maxLen {
		d.errorf(rng, fmt.Sprintf("Invalid %s name", what),
			"%q is %d characters long; %s names have at most %d, to leave room for the suffixes kwok-run adds.", name, len(name), what, maxLen)
		return false
	}
	return true
}
