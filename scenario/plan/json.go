package plan

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON writes the plan as indented JSON. Keys are stable, so two plans
// can be diffed; templated fields appear as written, with the first and last
// instance rendered.
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// Example is one rendered instance of a template.
type Example[T any] struct {
	Index int `json:"index"`
	Spec  T   `json:"spec"`
}

// Examples renders the first and the last instance of n.
func Examples[T any](n int, render func(int) (T, error)) ([]Example[T], error) {
	var indexes []int
	if n > 0 {
		indexes = append(indexes, 0)
	}
	if n > 1 {
		indexes = append(indexes, n-1)
	}
	out := []Example[T]{}
	for _, i := range indexes {
		spec, err := render(i)
		if err != nil {
			return nil, err
		}
		out = append(out, Example[T]{Index: i, Spec: spec})
	}
	return out, nil
}

func (p *NodePool) MarshalJSON() ([]byte, error) {
	examples, err := Examples(p.Count, p.Template.Node)
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		Name           string              `json:"name"`
		Count          int                 `json:"count"`
		Template       map[string]string   `json:"template,omitempty"`
		Examples       []Example[NodeSpec] `json:"examples"`
		Conditions     []NodeCondition     `json:"conditions,omitempty"`
		StatusInterval Duration            `json:"status_interval,omitempty"`
		LeaseDuration  Duration            `json:"lease_duration,omitempty"`
	}{p.Name, p.Count, p.Template.Source(), examples, p.Conditions, p.StatusInterval, p.LeaseDuration})
}

func (c *CreateObjects) MarshalJSON() ([]byte, error) {
	examples, err := Examples(c.Count, c.Template.Manifest)
	if err != nil {
		return nil, err
	}
	type fields CreateObjects
	return json.Marshal(struct {
		*fields
		Template map[string]string         `json:"template,omitempty"`
		Examples []Example[map[string]any] `json:"examples"`
	}{(*fields)(c), c.Template.Source(), examples})
}

func (u *UpdateObjects) MarshalJSON() ([]byte, error) {
	type fields UpdateObjects
	var patch map[string]string
	if u.Patch != nil {
		patch = u.Patch.Source()
	}
	return json.Marshal(struct {
		*fields
		Patch map[string]string `json:"patch,omitempty"`
	}{(*fields)(u), patch})
}

func (c *CreatePods) MarshalJSON() ([]byte, error) {
	examples, err := Examples(c.Objects, c.Template.Object)
	if err != nil {
		return nil, err
	}
	// The alias has the same fields and no methods, so this does not recurse.
	type fields CreatePods
	return json.Marshal(struct {
		*fields
		Template map[string]string     `json:"template,omitempty"`
		Examples []Example[ObjectSpec] `json:"examples"`
	}{(*fields)(c), c.Template.Source(), examples})
}

func (s *Step) MarshalJSON() ([]byte, error) {
	actions := make([]map[string]any, len(s.Actions))
	for i, a := range s.Actions {
		b, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		if _, clash := m["action"]; clash {
			return nil, fmt.Errorf("action %s has a field named action", a.BlockType())
		}
		m["action"] = a.BlockType()
		actions[i] = m
	}
	type fields Step
	return json.Marshal(struct {
		*fields
		Actions []map[string]any `json:"actions"`
	}{(*fields)(s), actions})
}
