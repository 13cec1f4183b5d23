package components

//lint:file-ignore SA1019 KWOK v0.8.0 ships its stages in the Next.StatusTemplate form.

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	kwokconfig "sigs.k8s.io/kwok/pkg/apis/config/v1alpha1"
	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"
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
		got, err := Stages(tc.pods)
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
		init := names["node-initialize"].Spec.Selector.MatchExpressions
		if last := init[len(init)-1]; !strings.Contains(last.Key, NotReadyLabel) || last.Operator != kwokv1alpha1.SelectorOpDoesNotExist {
			t.Errorf("node-initialize would undo not-ready: %+v", last)
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
