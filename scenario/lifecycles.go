package scenario

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/kwok-run/kwok-run/scenario/plan"
	"github.com/kwok-run/kwok-run/scenario/stages"
)

// DefaultLifecycle is the pod_lifecycle applied before the first step.
const DefaultLifecycle = "default"

var lifecycleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "ready_after"}, {Name: "complete_after"}, {Name: "delete_after"},
		{Name: "jitter"}, {Name: "failure_ratio"},
	},
}

func (d *decoder) decodeLifecycles(blocks hcl.Blocks) {
	d.lifecycles = map[string]hcl.Range{}
	for _, blk := range blocks {
		name := blk.Labels[0]
		if !d.checkName(blk.LabelRanges[0], "pod_lifecycle", name, 40) || !d.unique(d.lifecycles, "pod_lifecycle", name, blk.LabelRanges[0]) {
			continue
		}
		b := d.body(blk, lifecycleSchema)
		l := &plan.PodLifecycle{
			Name:          name,
			ReadyAfter:    b.duration("ready_after", 0, 0),
			CompleteAfter: b.duration("complete_after", 0, 0),
			DeleteAfter:   b.duration("delete_after", 0, 0),
			Jitter:        b.duration("jitter", 0, 0),
			FailureRatio:  b.number("failure_ratio", 0, 0, 1),
		}
		// KWOK counts delays in milliseconds.
		for _, attr := range []string{"ready_after", "complete_after", "delete_after", "jitter"} {
			if v, ok := b.value(attr); ok {
				if dur, _ := toDuration(v, b.rng(attr), attr); dur%time.Millisecond != 0 {
					b.fail(attr, "Duration too precise", "KWOK counts delays in whole milliseconds; %s is %s.", attr, dur)
				}
			}
		}
		st, err := stages.Compile(l)
		if err != nil {
			d.errorf(blk.DefRange, "Cannot compile pod_lifecycle", "%s", err)
			continue
		}
		l.Stages = st
		d.plan.Lifecycles = append(d.plan.Lifecycles, l)
		if name == DefaultLifecycle {
			d.plan.InitialLifecycle = name
		}
	}
}

// checkLifecyclesUsed warns about a lifecycle that nothing applies.
func (d *decoder) checkLifecyclesUsed(used map[string]bool) {
	for _, l := range d.plan.Lifecycles {
		if l.Name != DefaultLifecycle && !used[l.Name] {
			d.warnf(d.lifecycles[l.Name], "pod_lifecycle is never used",
				"%s", fmt.Sprintf("Only the lifecycle named %q applies from the start; select %q in a step with pod_lifecycle = %q.", DefaultLifecycle, l.Name, l.Name))
		}
	}
}
