package components

//lint:file-ignore SA1019 KWOK v0.8.0 ships its stages in the Next.StatusTemplate form.

import (
	"encoding/json"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	kwokconfig "sigs.k8s.io/kwok/pkg/apis/config/v1alpha1"
	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"
	"sigs.k8s.io/kwok/pkg/utils/gotpl"
	"sigs.k8s.io/yaml"

	"github.com/kwok-run/kwok-run/backends/pki"
	"github.com/kwok-run/kwok-run/scenario"
	"github.com/kwok-run/kwok-run/scenario/plan"
	"github.com/kwok-run/kwok-run/scenario/stages"
)

var update = flag.Bool("update", false, "rewrite golden files")

func config(c plan.Cluster) Config {
	return Config{
		Cluster: c,
		Host:    "127.0.0.1",
		Ports:   Ports{EtcdClient: 2379, EtcdPeer: 2380, APIServer: 6443, Scheduler: 10259, ControllerManager: 10257, Kwok: 10247},
		Paths: Paths{
			PKI: &pki.Files{
				CACert: "/run/pki/ca.crt", CAKey: "/run/pki/ca.key", ServerCert: "/run/pki/server.crt", ServerKey: "/run/pki/server.key",
				AdminCert: "/run/pki/admin.crt", AdminKey: "/run/pki/admin.key", ServiceAccountKey: "/run/pki/sa.key", ServiceAccountPub: "/run/pki/sa.pub",
			},
			Kubeconfig: "/run/kubeconfig", EtcdData: "/dev/shm/etcd", KwokConfig: "/run/kwok.yaml",
		},
	}
}

// The command lines of the default cluster, as a golden file: a change to any
// flag shows up in review.
func TestDefaultCommandLines(t *testing.T) {
	procs, err := Build(config(scenario.DefaultCluster()))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range procs {
		b.WriteString(p.Binary)
		for _, a := range p.Args {
			b.WriteString(" \\\n    " + a)
		}
		b.WriteString("\n  health " + p.HealthURL + "\n  metrics " + p.MetricsURL)
		if len(p.Needs) > 0 {
			b.WriteString("\n  after " + strings.Join(p.Needs, ", "))
		}
		b.WriteString("\n\n")
	}
	golden := "testdata/default.txt"
	if *update {
		os.WriteFile(golden, []byte(b.String()), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("command lines changed; if intended, run go test ./backends/components -update\n%s", b.String())
	}
}

func TestScenarioSettingsReachTheFlags(t *testing.T) {
	c := scenario.DefaultCluster()
	c.FeatureGates = map[string]bool{"B": true, "A": false}
	c.RuntimeConfig = map[string]string{"api/alpha": "true"}
	c.NodeLeaseDuration = plan.Duration(60 * time.Second)
	for i := range c.Components {
		switch c.Components[i].Name {
		case plan.APIServer:
			c.Components[i].Args = map[string]string{"authorization-mode": "AlwaysAllow", "v": "4"}
		case plan.Scheduler:
			c.Components[i].Enabled = false
		}
	}
	procs, err := Build(config(c))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Process{}
	for _, p := range procs {
		byName[p.Name] = p
	}
	if _, ok := byName[plan.Scheduler]; ok || len(procs) != 4 {
		t.Errorf("a disabled scheduler was built: %d components", len(procs))
	}
	api := strings.Join(byName[plan.APIServer].Args, " ")
	for _, want := range []string{"--authorization-mode=AlwaysAllow", "--v=4", "--feature-gates=A=false,B=true", "--runtime-config=api/alpha=true"} {
		if !strings.Contains(api, want) {
			t.Errorf("apiserver lacks %s", want)
		}
	}
	if strings.Contains(api, "--authorization-mode=Node,RBAC") {
		t.Error("the scenario's flag did not replace the default")
	}
	if !strings.Contains(strings.Join(byName[plan.Kwok].Args, " "), "--node-lease-duration-seconds=60") {
		t.Error("the node lease duration did not reach KWOK")
	}
}

func TestKwokConfig(t *testing.T) {
	c := scenario.DefaultCluster()
	c.KwokParallelism = 48
	raw, err := KwokConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	var conf kwokconfig.KwokConfiguration
	if err := yaml.UnmarshalStrict(raw, &conf); err != nil {
		t.Fatal(err)
	}
	if conf.Kind != "KwokConfiguration" || conf.Options.PodsOnNodeSyncParallelism == 0 {
		t.Errorf("configuration without KWOK's defaults: %+v", conf.Options)
	}
	if o := conf.Options; o.NodeLeaseParallelism != 48 || o.PodPlayStageParallelism != 48 || o.NodePlayStageParallelism != 48 {
		t.Errorf("the cluster's parallelism did not reach KWOK: %+v", o)
	}
	if len(conf.Options.EnableCRDs) != 1 || conf.Options.EnableCRDs[0] != "Stage" {
		t.Errorf("stages must come from the cluster: %v", conf.Options.EnableCRDs)
	}
}

// requires reports whether s only matches nodes whose label is as op says.
func requires(s kwokv1alpha1.Stage, label string, op kwokv1alpha1.SelectorOperator) bool {
	for _, m := range s.Spec.Selector.MatchExpressions {
		if strings.Contains(m.Key, `["`+label+`"]`) && m.Operator == op {
			return true
		}
	}
	return false
}

// A pool with its own conditions gets its own node stages, which KWOK
// renders into those conditions, and KWOK's own stages leave its nodes alone.
func TestPoolStages(t *testing.T) {
	pool := plan.NodePool{Name: "pressured", StatusInterval: plan.Duration(30 * time.Second), Conditions: []plan.NodeCondition{
		{Type: "MemoryPressure", Status: "True", Reason: "KubeletHasInsufficientMemory", Message: `low on "memory" {{ Now }}`},
		{Type: "example.com/Custom", Status: "Unknown", Reason: "Probe"},
	}}
	got, err := Stages(nil, []plan.NodePool{{Name: "plain"}, pool})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]kwokv1alpha1.Stage{}
	for _, s := range got {
		names[s.Name] = s
	}
	if _, ok := names["node-heartbeat-plain"]; ok {
		t.Error("a pool without conditions or interval got stages of its own")
	}
	for _, kwoks := range []string{"node-initialize", "node-heartbeat-with-lease"} {
		if !requires(names[kwoks], plan.HeartbeatLabel, kwokv1alpha1.SelectorOpDoesNotExist) {
			t.Errorf("%s would reset the pool's conditions", kwoks)
		}
	}
	hb := names["node-heartbeat-pressured"]
	if d := hb.Spec.Delay; d == nil || *d.DurationMilliseconds != 30000 || *d.JitterDurationMilliseconds != 30500 {
		t.Errorf("heartbeat delay: %+v", hb.Spec.Delay)
	}
	if !requires(names["node-initialize-pressured"], NotReadyLabel, kwokv1alpha1.SelectorOpDoesNotExist) {
		t.Error("the pool's initialize stage would undo not-ready")
	}
	r := gotpl.NewRenderer(gotpl.FuncMap{"Now": func() string { return "2026-11-29T05:00:00Z" }})
	node := map[string]any{"metadata": map[string]any{"name": "n", "creationTimestamp": "2026-11-29T04:00:00Z"}}
	for _, name := range []string{"node-heartbeat-pressured", "node-initialize-pressured"} {
		out, err := r.ToJSON(names[name].Spec.Next.StatusTemplate, node)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var status corev1.NodeStatus
		if err := json.Unmarshal(out, &status); err != nil {
			t.Fatalf("%s renders %s: %v", name, out, err)
		}
		byType := map[corev1.NodeConditionType]corev1.NodeCondition{}
		for _, c := range status.Conditions {
			byType[c.Type] = c
		}
		mem, custom := byType["MemoryPressure"], byType["example.com/Custom"]
		if byType["Ready"].Status != "True" || mem.Status != "True" || mem.Message != `low on "memory" {{ Now }}` || custom.Status != "Unknown" || len(status.Conditions) != 6 {
			t.Errorf("%s renders conditions %+v", name, status.Conditions)
		}
		if mem.LastTransitionTime.Hour() != 4 || mem.LastHeartbeatTime.Hour() != 5 {
			t.Errorf("%s: heartbeat %s, transition %s", name, mem.LastHeartbeatTime, mem.LastTransitionTime)
		}
	}
}

func TestStages(t *testing.T) {
	l := &plan.PodLifecycle{Name: "default", ReadyAfter: plan.Duration(2 * time.Second)}
	st, err := stages.Compile(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		pods      []kwokv1alpha1.Stage
		lifecycle string
	}{{"kwok defaults", nil, "kwok-default"}, {"a lifecycle", st, "default"}} {
		got, err := Stages(tc.pods, nil)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]kwokv1alpha1.Stage{}
		for _, s := range got {
			names[s.Name] = s
		}
		for _, want := range []string{"node-initialize", "node-heartbeat-with-lease", "node-not-ready", "pod-ready", "pod-complete", "pod-delete"} {
			if _, ok := names[want]; !ok {
				t.Errorf("%s: no %s stage", tc.name, want)
			}
		}
		if names["pod-ready"].Labels[stages.LifecycleLabel] != tc.lifecycle || names["node-initialize"].Labels[NodeStagesLabel] != "true" {
			t.Errorf("%s: stages are not labelled for replacement", tc.name)
		}
		if !requires(names["node-initialize"], NotReadyLabel, kwokv1alpha1.SelectorOpDoesNotExist) {
			t.Errorf("node-initialize would undo not-ready: %+v", names["node-initialize"].Spec.Selector)
		}
		if names["node-not-ready"].Spec.Weight <= names["node-heartbeat-with-lease"].Spec.Weight {
			t.Error("node-not-ready must outweigh the heartbeat, which also matches a Ready node")
		}
		if tc.pods != nil {
			if d := names["pod-ready"].Spec.Delay; d == nil || *d.DurationMilliseconds != 2000 {
				t.Errorf("the lifecycle's delay is not in the pod-ready stage")
			}
		}
	}
}

// Pools with lease durations of their own: KWOK renews every lease of a
// controller at one duration, so each other duration gets a controller
// that manages only its nodes, and kwok keeps the rest; the node monitor's
// grace period covers the longest lease.
func TestLeaseDurationsGetControllers(t *testing.T) {
	cfg := config(scenario.DefaultCluster())
	cfg.Pools = []plan.NodePool{
		{Name: "a"},
		{Name: "b", LeaseDuration: plan.Duration(20 * time.Second)},
		{Name: "c", LeaseDuration: plan.Duration(2 * time.Minute)},
		{Name: "d", LeaseDuration: plan.Duration(20 * time.Second)},
		{Name: "e", LeaseDuration: plan.Duration(40 * time.Second)}, // the cluster's
	}
	if _, err := Build(cfg); err == nil {
		t.Error("built without a port for each lease's controller")
	}
	cfg.Ports.LeaseKwoks = []int{20001, 20002}
	procs, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Process{}
	var names []string
	for _, p := range procs {
		byName[p.Name] = p
		names = append(names, p.Name)
	}
	if want := "etcd apiserver scheduler controller_manager kwok kwok/lease-20s kwok/lease-120s"; strings.Join(names, " ") != want {
		t.Fatalf("processes %v, want %s", names, want)
	}
	has := func(p Process, flag string) bool { return slices.Contains(p.Args, flag) }
	for name, want := range map[string][]string{
		plan.Kwok:              {"--manage-nodes-with-label-selector=!kwok-run/lease", "--node-lease-duration-seconds=40", "--server-address=127.0.0.1:10247"},
		"kwok/lease-20s":       {"--manage-nodes-with-label-selector=kwok-run/lease=20s", "--node-lease-duration-seconds=20", "--server-address=127.0.0.1:20001"},
		"kwok/lease-120s":      {"--manage-nodes-with-label-selector=kwok-run/lease=120s", "--node-lease-duration-seconds=120", "--server-address=127.0.0.1:20002"},
		plan.ControllerManager: {"--node-monitor-grace-period=2m30s"},
	} {
		p := byName[name]
		for _, f := range want {
			if !has(p, f) {
				t.Errorf("%s lacks %s: %v", name, f, p.Args)
			}
		}
		if has(p, "--manage-all-nodes=true") {
			t.Errorf("%s still manages all nodes", name)
		}
	}
	if p := byName["kwok/lease-120s"]; p.HealthURL != "https://127.0.0.1:20002/healthz" || !slices.Contains(p.Needs, plan.Kwok) {
		t.Errorf("kwok/lease-120s: health %s, after %v", p.HealthURL, p.Needs)
	}
}
