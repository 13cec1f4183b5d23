package stages

//lint:file-ignore SA1019 KWOK v0.8.0 ships its default stages in the Next.StatusTemplate form, and kwok-run keeps KWOK's own stages rather than rewriting them.

import (
	"reflect"
	"strings"
	"testing"
	"time"

	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"

	"github.com/kwok-run/kwok-run/scenario/plan"
)

func byName(t *testing.T, stages []kwokv1alpha1.Stage) map[string]kwokv1alpha1.Stage {
	t.Helper()
	m := map[string]kwokv1alpha1.Stage{}
	for _, s := range stages {
		if _, dup := m[s.Name]; dup {
			t.Fatalf("stage %s twice", s.Name)
		}
		m[s.Name] = s
	}
	return m
}

func ms(t *testing.T, p *int64) int64 {
	t.Helper()
	if p == nil {
		t.Fatal("missing milliseconds")
	}
	return *p
}

func TestDelaysAndJitter(t *testing.T) {
	got, err := Compile(&plan.PodLifecycle{
		Name:          "x",
		ReadyAfter:    plan.Duration(2 * time.Second),
		CompleteAfter: plan.Duration(10 * time.Second),
		Jitter:        plan.Duration(500 * time.Millisecond),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := byName(t, got)
	if len(s) != 3 {
		t.Fatalf("want pod-ready, pod-complete and pod-delete, got %v", s)
	}
	ready := s["pod-ready"].Spec.Delay
	if ms(t, ready.DurationMilliseconds) != 2000 || ms(t, ready.JitterDurationMilliseconds) != 2500 {
		t.Errorf("pod-ready delay %d–%d, want 2000–2500", *ready.DurationMilliseconds, *ready.JitterDurationMilliseconds)
	}
	complete := s["pod-complete"].Spec.Delay
	if ms(t, complete.DurationMilliseconds) != 10000 || ms(t, complete.JitterDurationMilliseconds) != 10500 {
		t.Errorf("pod-complete delay wrong: %+v", complete)
	}
	if s["pod-delete"].Spec.Delay != nil {
		t.Error("a zero delay must stay immediate, jitter or not")
	}
	for _, st := range got {
		if st.Labels[LifecycleLabel] != "x" {
			t.Errorf("%s is not labelled with its lifecycle", st.Name)
		}
		if st.Spec.Weight != 0 {
			t.Errorf("%s has weight %d without failures", st.Name, st.Spec.Weight)
		}
	}
	if !strings.Contains(s["pod-ready"].Spec.Next.StatusTemplate, "phase: Running") {
		t.Error("pod-ready should keep KWOK's status template")
	}
}

func TestFailureRatio(t *testing.T) {
	for _, tc := range []struct {
		ratio              float64
		complete, failed   bool
		completeW, failedW int
	}{
		{0, true, false, 0, 0},
		{0.05, true, true, 9500, 500},
		{1, false, true, 0, 0},
	} {
		got, err := Compile(&plan.PodLifecycle{Name: "x", FailureRatio: tc.ratio})
		if err != nil {
			t.Fatal(err)
		}
		s := byName(t, got)
		c, hasC := s["pod-complete"]
		f, hasF := s["pod-failed"]
		if hasC != tc.complete || hasF != tc.failed {
			t.Fatalf("ratio %g: complete %v failed %v", tc.ratio, hasC, hasF)
		}
		if c.Spec.Weight != tc.completeW || f.Spec.Weight != tc.failedW {
			t.Errorf("ratio %g: weights %d/%d, want %d/%d", tc.ratio, c.Spec.Weight, f.Spec.Weight, tc.completeW, tc.failedW)
		}
		if hasF {
			tmpl := f.Spec.Next.StatusTemplate
			if !strings.Contains(tmpl, "phase: Failed") || !strings.Contains(tmpl, "exitCode: 1") || strings.Contains(tmpl, "Succeeded") {
				t.Errorf("pod-failed template does not fail the pod:\n%s", tmpl)
			}
			if hasC && !equalSelectors(c, f) {
				t.Error("weighted stages must share a selector, or KWOK will not choose between them")
			}
		}
	}
}

func equalSelectors(a, b kwokv1alpha1.Stage) bool {
	return reflect.DeepEqual(a.Spec.Selector, b.Spec.Selector)
}
