package components

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
	l := &plan.PodLifecycle{Name: "default", ReadyAfter: plan.Duration(2 * time.Second)}
	st, err := stages.Compile(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		pods  []kwokv1alpha1.Stage
		ready string
	}{{"kwok defaults", nil, ""}, {"a lifecycle", st, "2000"}} {
		raw, err := KwokConfig(tc.pods)
		if err != nil {
			t.Fatal(err)
		}
		docs := strings.Split(string(raw), "\n---\n")
		var conf kwokconfig.KwokConfiguration
		if err := yaml.UnmarshalStrict([]byte(docs[0]), &conf); err != nil {
			t.Fatal(err)
		}
		if conf.Kind != "KwokConfiguration" || conf.Options.NodeLeaseParallelism == 0 || conf.Options.PodPlayStageParallelism == 0 {
			t.Errorf("%s: configuration without KWOK's defaults: %+v", tc.name, conf.Options)
		}
		names := map[string]kwokv1alpha1.Stage{}
		for _, d := range docs[1:] {
			var s kwokv1alpha1.Stage
			if err := yaml.Unmarshal([]byte(d), &s); err != nil {
				t.Fatal(err)
			}
			names[s.Name] = s
		}
		for _, want := range []string{"node-initialize", "node-heartbeat-with-lease", "pod-ready", "pod-complete", "pod-delete"} {
			if _, ok := names[want]; !ok {
				t.Errorf("%s: no %s stage", tc.name, want)
			}
		}
		if tc.ready != "" {
			if d := names["pod-ready"].Spec.Delay; d == nil || *d.DurationMilliseconds != 2000 {
				t.Errorf("the lifecycle's delay is not in KWOK's pod-ready stage")
			}
		}
	}
}
