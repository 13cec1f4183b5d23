package plan

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"
)

// WriteText prints the plan for people: what will be brought up, and the
// timeline of steps with every number resolved. The output is deterministic,
// so it can be diffed and kept as a golden file.
func (p *Plan) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	t := &textWriter{w: bw}
	t.scenario(p)
	t.variables(p.Variables)
	t.cluster(&p.Cluster, p.Pools)
	if err := t.pools(p.Cluster, p.Pools); err != nil {
		return err
	}
	t.lifecycles(p)
	if err := t.timeline(p); err != nil {
		return err
	}
	t.assertions(p.Assertions)
	return bw.Flush()
}

type textWriter struct {
	w *bufio.Writer
}

func (t *textWriter) line(indent int, format string, args ...any) {
	fmt.Fprintf(t.w, "%s%s\n", strings.Repeat("  ", indent), fmt.Sprintf(format, args...))
}

func (t *textWriter) heading(s string) {
	fmt.Fprintf(t.w, "\n%s\n", s)
}

// table prints rows with aligned columns, indented.
func (t *textWriter) table(indent int, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, r := range rows {
		var sb strings.Builder
		for i, c := range r {
			if i == len(r)-1 {
				sb.WriteString(c)
			} else {
				fmt.Fprintf(&sb, "%-*s  ", widths[i], c)
			}
		}
		t.line(indent, "%s", strings.TrimRight(sb.String(), " "))
	}
}

func (t *textWriter) scenario(p *Plan) {
	s := p.Scenario
	t.line(0, "Scenario %q", s.Name)
	if s.Description != "" {
		t.line(1, "%s", s.Description)
	}
	t.table(1, [][]string{
		{"file", fmt.Sprintf("%s (sha256 %s)", s.File, short(s.SHA256))},
		{"seed", fmt.Sprint(s.Seed)},
		{"timeout", s.Timeout.String()},
	})
}

func short(sum string) string {
	if len(sum) < 12 {
		return sum
	}
	return sum[:12]
}

func (t *textWriter) variables(vars []Variable) {
	if len(vars) == 0 {
		return
	}
	t.heading("Variables")
	rows := make([][]string, len(vars))
	for i, v := range vars {
		rows[i] = []string{v.Name, v.Type, fmt.Sprintf("%s", v.Value), v.Source}
	}
	t.table(1, rows)
}

func (t *textWriter) cluster(c *Cluster, pools []*NodePool) {
	t.heading("Cluster")
	if c.Backend == BackendKubeconfig {
		t.existingCluster(c, pools)
		return
	}
	var enabled, disabled []string
	for _, comp := range c.Components {
		if comp.Enabled {
			enabled = append(enabled, comp.Name)
		} else {
			disabled = append(disabled, comp.Name)
		}
	}
	components := strings.Join(enabled, ", ")
	for _, d := range OwnLeases(*c, pools) {
		components += ", kwok/lease-" + LeaseValue(d)
	}
	if len(disabled) > 0 {
		components += " (disabled: " + strings.Join(disabled, ", ") + ")"
	}
	rows := [][]string{
		{"backend", c.Backend},
		{"versions", fmt.Sprintf("kubernetes %s, kwok %s, etcd %s", c.Kubernetes, c.Kwok, c.Etcd)},
		{"components", components},
		{"node lease", fmt.Sprintf("%s (renewed every %s per node)", c.NodeLeaseDuration, c.NodeLeaseDuration.D()/4)},
		{"kwok workers", fmt.Sprintf("%d each for node stages, pod stages and leases", c.KwokParallelism)},
	}
	if len(c.FeatureGates) > 0 {
		gates := make(map[string]string, len(c.FeatureGates))
		for k, v := range c.FeatureGates {
			gates[k] = fmt.Sprint(v)
		}
		rows = append(rows, []string{"feature gates", pairs(gates, "=", ", ")})
	}
	if len(c.RuntimeConfig) > 0 {
		rows = append(rows, []string{"runtime config", pairs(c.RuntimeConfig, "=", ", ")})
	}
	for _, comp := range c.Components {
		if parts := componentSettings(comp); len(parts) > 0 {
			rows = append(rows, []string{comp.Name, strings.Join(parts, " ")})
		}
	}
	t.table(1, rows)
}

// existingCluster prints what kwok-run brings to a cluster it does not own:
// KWOK's controllers, one per shard of each pool.
func (t *textWriter) existingCluster(c *Cluster, pools []*NodePool) {
	path := c.Kubeconfig
	if path == "" {
		path = "given by --kubeconfig"
	}
	controllers := 0
	var shards []string
	for _, p := range pools {
		controllers += p.Shards()
		shards = append(shards, fmt.Sprintf("%s %d", p.Name, p.Shards()))
	}
	kwok := fmt.Sprintf("%d KWOK controllers, one per %d nodes of a pool", controllers, NodesPerKwok)
	if len(shards) > 0 {
		kwok += " (" + strings.Join(shards, ", ") + ")"
	}
	rows := [][]string{
		{"backend", c.Backend + " (an existing cluster; the rest of the control plane is its own)"},
		{"kubeconfig", path},
		{"versions", fmt.Sprintf("kwok %s; nodes report kubelet %s", c.Kwok, c.Kubernetes)},
		{"components", kwok},
		{"node lease", fmt.Sprintf("%s (renewed every %s per node)", c.NodeLeaseDuration, c.NodeLeaseDuration.D()/4)},
	}
	if comp, ok := c.Component(Kwok); ok {
		if parts := componentSettings(comp); len(parts) > 0 {
			rows = append(rows, []string{comp.Name, strings.Join(parts, " ")})
		}
	}
	t.table(1, rows)
}

func componentSettings(comp Component) []string {
	var parts []string
	if comp.Binary != "" {
		parts = append(parts, "binary "+comp.Binary)
	}
	if comp.Image != "" {
		parts = append(parts, "image "+comp.Image)
	}
	for _, k := range sortedKeys(comp.Args) {
		parts = append(parts, fmt.Sprintf("--%s=%s", k, comp.Args[k]))
	}
	return parts
}

func (t *textWriter) pools(c Cluster, pools []*NodePool) error {
	if len(pools) == 0 {
		return nil
	}
	t.heading("Node pools")
	for _, pool := range pools {
		var heartbeat string
		if pool.LeaseDuration > 0 {
			heartbeat += fmt.Sprintf(", lease %s (renewed every %s per node)", Duration(pool.Lease(c)), Duration(pool.Lease(c)/4))
		}
		if pool.StatusInterval > 0 {
			heartbeat += fmt.Sprintf(", status every %s", pool.StatusInterval)
		}
		t.line(1, "%s: %d nodes%s", pool.Name, pool.Count, heartbeat)
		examples, err := Examples(pool.Count, pool.Template.Node)
		if err != nil {
			return err
		}
		src := pool.Template.Source()
		var rows [][]string
		for _, k := range sortedKeys(src) {
			rows = append(rows, []string{k, src[k]})
		}
		for _, ex := range examples {
			rows = append(rows, []string{fmt.Sprintf("node %d", ex.Index), describeNode(ex.Spec)})
		}
		t.table(2, rows)
	}
	return nil
}

func describeNode(n NodeSpec) string {
	parts := []string{"capacity " + pairs(n.Capacity, "=", " ")}
	if !maps.Equal(n.Allocatable, n.Capacity) {
		parts = append(parts, "allocatable "+pairs(n.Allocatable, "=", " "))
	}
	if len(n.Labels) > 0 {
		parts = append(parts, "labels "+pairs(n.Labels, "=", " "))
	}
	if len(n.Annotations) > 0 {
		parts = append(parts, "annotations "+pairs(n.Annotations, "=", " "))
	}
	for _, taint := range n.Taints {
		parts = append(parts, fmt.Sprintf("taint %s=%s:%s", taint.Key, taint.Value, taint.Effect))
	}
	return strings.Join(parts, "; ")
}

func (t *textWriter) lifecycles(p *Plan) {
	if len(p.Lifecycles) == 0 {
		t.heading("Pod lifecycle")
		t.line(1, "KWOK's default pod stages (no pod_lifecycle block)")
		return
	}
	t.heading("Pod lifecycles")
	for _, l := range p.Lifecycles {
		when := "applied by a step"
		if l.Name == p.InitialLifecycle {
			when = "applied before the first step"
		}
		t.line(1, "%s (%s)", l.Name, when)
		t.line(2, "ready after %s, complete after %s, delete after %s, jitter up to %s, failure ratio %g",
			l.ReadyAfter, l.CompleteAfter, l.DeleteAfter, l.Jitter, l.FailureRatio)
		var stages []string
		for _, s := range l.Stages {
			stages = append(stages, describeStage(s))
		}
		t.line(2, "KWOK stages: %s", strings.Join(stages, ", "))
	}
}

func describeStage(s kwokv1alpha1.Stage) string {
	var parts []string
	if d := s.Spec.Delay; d != nil && d.DurationMilliseconds != nil {
		if d.JitterDurationMilliseconds != nil {
			parts = append(parts, fmt.Sprintf("delay %d–%d ms", *d.DurationMilliseconds, *d.JitterDurationMilliseconds))
		} else {
			parts = append(parts, fmt.Sprintf("delay %d ms", *d.DurationMilliseconds))
		}
	}
	if s.Spec.Weight > 0 {
		parts = append(parts, fmt.Sprintf("weight %d", s.Spec.Weight))
	}
	if len(parts) == 0 {
		return s.Name
	}
	return fmt.Sprintf("%s (%s)", s.Name, strings.Join(parts, ", "))
}

func (t *textWriter) timeline(p *Plan) error {
	t.heading("Timeline (T≥ is a lower bound: waits and a slow cluster add to it)")
	var at time.Duration
	for _, s := range p.Steps {
		var notes []string
		if s.Duration > 0 {
			notes = append(notes, "lasts at least "+s.Duration.String())
		}
		if s.Timeout > 0 {
			notes = append(notes, "timeout "+s.Timeout.String())
		}
		if s.PodLifecycle != "" {
			notes = append(notes, "pod_lifecycle "+s.PodLifecycle)
		}
		head := fmt.Sprintf("%-9s step %s", "T≥"+fmtDuration(at), s.Name)
		if len(notes) > 0 {
			head += " (" + strings.Join(notes, ", ") + ")"
		}
		t.line(1, "%s", head)
		if s.Description != "" {
			t.line(7, "%s", s.Description)
		}
		var rows [][]string
		for _, a := range s.Actions {
			desc, err := describe(a)
			if err != nil {
				return err
			}
			least := ""
			if d := MinDuration(a); d > 0 {
				least = "≥" + fmtDuration(d)
			}
			rows = append(rows, []string{a.BlockType(), least, desc})
			if c, ok := a.(*CreatePods); ok {
				details, err := describeWave(c)
				if err != nil {
					return err
				}
				for _, d := range details {
					rows = append(rows, []string{"", "", "  " + d})
				}
			}
		}
		t.table(7, rows)
		at += s.MinDuration()
	}
	t.line(1, "%-9s end (scenario timeout %s)", "T≥"+fmtDuration(at), p.Scenario.Timeout)
	return nil
}

func fmtDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

func describe(a Action) (string, error) {
	switch a := a.(type) {
	case *CreateNodes:
		return fmt.Sprintf("%s: %d nodes (index %d–%d), %s", a.Pool, a.Count, a.FirstIndex, a.FirstIndex+a.Count-1, a.Rate), nil
	case *DeleteNodes:
		return fmt.Sprintf("%s: %s of the nodes, %s", a.Pool, a.Amount, a.Rate), nil
	case *ChurnNodes:
		s := fmt.Sprintf("%s: %s of the nodes every %s for %s, mode %s", a.Pool, a.Amount, a.Every, a.For, a.Mode)
		if a.RecoverAfter > 0 {
			s += ", back to Ready after " + a.RecoverAfter.String()
		}
		return s + ", " + a.Rate.String(), nil
	case *CreatePods:
		what := fmt.Sprintf("%d pods", a.Count)
		if a.Kind != KindPod {
			what = fmt.Sprintf("%s of %d replicas (%d pods)", counted(a.Objects, a.Kind), a.Replicas, a.Count)
			if a.Objects > 1 && a.ReplicasOf(a.Objects-1) != a.Replicas {
				what = fmt.Sprintf("%s of %d replicas, the last of %d (%d pods)", counted(a.Objects, a.Kind), a.Replicas, a.ReplicasOf(a.Objects-1), a.Count)
			}
		}
		return fmt.Sprintf("%s: %s in %s, %s", a.Name, what, a.Namespace, a.Rate), nil
	case *ScalePods:
		return fmt.Sprintf("%s: %s in %s to %d pods in all", a.Wave, counted(a.Objects, a.Kind), a.Namespace, a.Count), nil
	case *CreateObjects:
		return fmt.Sprintf("%s: %s (%s), %s", a.Name, counted(a.Count, a.Kind), a.APIVersion, a.Rate), nil
	case *UpdateObjects:
		return fmt.Sprintf("%s: %s of the objects every %s for %s, %s", a.Name, a.Amount, a.Every, a.For, a.Rate), nil
	case *DeleteObjects:
		return fmt.Sprintf("%s: %s of the objects, %s", a.Name, a.Amount, a.Rate), nil
	case *DeletePods:
		return fmt.Sprintf("%s of the pods in %s%s, %s", a.Amount, a.Namespace, selector(a.Selector), a.Rate), nil
	case *Apply:
		verb := "apply"
		if a.Delete {
			verb = "delete"
		}
		var files []string
		for _, f := range a.Files {
			files = append(files, fmt.Sprintf("%s (%s)", f.Path, strings.Join(f.Objects, ", ")))
		}
		return fmt.Sprintf("%s %s", verb, strings.Join(files, ", ")), nil
	case *RestartComponent:
		s := fmt.Sprintf("%s: SIG%s, then start again", a.Component, a.Signal)
		if a.DownFor > 0 {
			s = fmt.Sprintf("%s: SIG%s, down for %s, then start again", a.Component, a.Signal, a.DownFor)
		}
		return s + " and wait until healthy", nil
	case *StopComponent:
		return fmt.Sprintf("%s: SIG%s, stays down", a.Component, a.Signal), nil
	case *Wait:
		return describeWait(a), nil
	case *Sleep:
		return a.For.String(), nil
	case *Exec:
		s := strings.Join(a.Command, " ")
		if a.Background {
			s += " (in the background until the end of the run)"
		} else if a.Timeout > 0 {
			s += " (timeout " + a.Timeout.String() + ")"
		}
		return s, nil
	}
	return "", fmt.Errorf("no description for action %T", a)
}

func describeWait(w *Wait) string {
	var parts []string
	switch {
	case w.For == WaitNodesReady && w.Pool != "":
		parts = append(parts, "pool "+w.Pool)
	case w.For == WaitNodesReady:
		parts = append(parts, "all nodes")
	case w.For == WaitObjects:
		parts = append(parts, fmt.Sprintf("%s %s", w.APIVersion, w.Kind))
	}
	if w.For != WaitNodesReady {
		if w.Namespace != "" {
			parts = append(parts, "in "+w.Namespace+selector(w.Selector))
		} else {
			parts = append(parts, "in all namespaces"+selector(w.Selector))
		}
	}
	if w.Count > 0 {
		parts = append(parts, fmt.Sprintf("at least %d", w.Count))
	}
	timeout := "the step's or scenario's timeout"
	if w.Timeout > 0 {
		timeout = w.Timeout.String()
	}
	return fmt.Sprintf("%s: %s, timeout %s", w.For, strings.Join(parts, " "), timeout)
}

// describeWave lists a wave's pod settings and rendered objects, a line each.
func describeWave(c *CreatePods) ([]string, error) {
	lines := describePod(c.Pod)
	examples, err := Examples(c.Objects, c.Template.Object)
	if err != nil {
		return nil, err
	}
	for _, ex := range examples {
		if meta := describeObject(ex.Spec); meta != "" {
			lines = append(lines, fmt.Sprintf("object %d: %s", ex.Index, meta))
		}
	}
	return lines, nil
}

func describePod(p PodSpec) []string {
	var parts []string
	if len(p.Requests) > 0 {
		parts = append(parts, "requests "+pairs(p.Requests, "=", " "))
	}
	if len(p.Limits) > 0 {
		parts = append(parts, "limits "+pairs(p.Limits, "=", " "))
	}
	for _, tol := range p.Tolerations {
		parts = append(parts, "tolerates "+describeToleration(tol))
	}
	for _, a := range p.NodeAffinity {
		parts = append(parts, fmt.Sprintf("node affinity %s %s %s (%s)", a.Key, a.Operator, strings.Join(a.Values, ","), strength(a.Required, a.Weight)))
	}
	for _, a := range p.PodAffinity {
		parts = append(parts, fmt.Sprintf("pod affinity to %s per %s (%s)", pairs(a.MatchLabels, "=", ","), a.TopologyKey, strength(a.Required, a.Weight)))
	}
	for _, a := range p.PodAntiAffinity {
		parts = append(parts, fmt.Sprintf("pod anti-affinity to %s per %s (%s)", pairs(a.MatchLabels, "=", ","), a.TopologyKey, strength(a.Required, a.Weight)))
	}
	for _, s := range p.TopologySpread {
		parts = append(parts, fmt.Sprintf("spread %s over %s, max skew %d, %s", pairs(s.MatchLabels, "=", ","), s.TopologyKey, s.MaxSkew, s.WhenUnsatisfiable))
	}
	if p.SchedulerName != "" {
		parts = append(parts, "scheduler "+p.SchedulerName)
	}
	if p.PriorityClassName != "" {
		parts = append(parts, "priority class "+p.PriorityClassName)
	}
	return parts
}

func describeObject(o ObjectSpec) string {
	var parts []string
	if len(o.Labels) > 0 {
		parts = append(parts, "labels "+pairs(o.Labels, "=", " "))
	}
	if len(o.Annotations) > 0 {
		parts = append(parts, "annotations "+pairs(o.Annotations, "=", " "))
	}
	if len(o.NodeSelector) > 0 {
		parts = append(parts, "node selector "+pairs(o.NodeSelector, "=", " "))
	}
	return strings.Join(parts, ", ")
}

func counted(n int, kind string) string {
	if n == 1 {
		return "1 " + kind
	}
	return fmt.Sprintf("%d %ss", n, kind)
}

func strength(required bool, weight int) string {
	if required {
		return "required"
	}
	return fmt.Sprintf("preferred, weight %d", weight)
}

func describeToleration(t Toleration) string {
	var s string
	switch {
	case t.Key == "":
		s = "every taint"
	case t.Operator == "Exists":
		s = t.Key + " (any value)"
	default:
		s = t.Key + "=" + t.Value
	}
	if t.Effect != "" {
		s += ":" + t.Effect
	}
	if t.Seconds != nil {
		s += fmt.Sprintf(" for %ds", *t.Seconds)
	}
	return s
}

func selector(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	return " with " + pairs(m, "=", ",")
}

func (r Rate) String() string {
	if r.PerSecond == 0 {
		return fmt.Sprintf("as fast as %d in flight allow", r.Parallelism)
	}
	return fmt.Sprintf("at %g/s (burst %d, %d in flight)", r.PerSecond, r.Burst, r.Parallelism)
}

func (a Amount) String() string {
	if a.IsPercent() {
		return fmt.Sprintf("%g%%", a.Percent)
	}
	return fmt.Sprint(a.Count)
}

func (t *textWriter) assertions(as []*Assertion) {
	if len(as) == 0 {
		return
	}
	t.heading("Assertions (checked after the run)")
	for _, a := range as {
		t.line(1, "%q (%s)", a.Name, a.Severity)
		t.line(2, "%s", a.Condition)
	}
}

func pairs(m map[string]string, eq, sep string) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+eq+m[k])
	}
	return strings.Join(parts, sep)
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
