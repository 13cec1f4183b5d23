package reports

import (
	"github.com/kwok-run/kwok-run/scenario/plan"
)

// New starts the report of a run of p: what was asked, before anything
// happened.
func New(p *plan.Plan, kwokRunVersion string) *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		KwokRun:       kwokRunVersion,
		Scenario: Scenario{
			Name: p.Scenario.Name, Description: p.Scenario.Description, File: p.Scenario.File,
			SHA256: p.Scenario.SHA256, Source: p.Scenario.Source, Seed: p.Scenario.Seed, Timeout: p.Scenario.Timeout.String(),
		},
		Cluster: Cluster{
			Backend: p.Cluster.Backend, Kubernetes: p.Cluster.Kubernetes, Kwok: p.Cluster.Kwok, Etcd: p.Cluster.Etcd,
			NodeLeaseDuration: p.Cluster.NodeLeaseDuration.String(),
			FeatureGates:      p.Cluster.FeatureGates, RuntimeConfig: p.Cluster.RuntimeConfig,
		},
		Metrics: map[string]float64{},
	}
	for _, v := range p.Variables {
		r.Variables = append(r.Variables, Variable{Name: v.Name, Type: v.Type, Value: v.Value, Source: v.Source})
	}
	return r
}
