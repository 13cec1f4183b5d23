package plan

// CreateObjects creates Count copies of an object of any kind, built-in or
// defined by a CRD, each rendered from the scenario's template with its
// index.
type CreateObjects struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	Rate  Rate   `json:"rate"`
	// APIVersion and Kind are those of the first copy, for the plan; every
	// copy has the same.
	APIVersion string `json:"api_version"`
	Kind       string `json:"kind"`
	// Template renders copy i.
	Template ManifestTemplate `json:"template"`
}

// ManifestTemplate renders a whole object per index (`count.index`), as
// unstructured content: apiVersion, kind, metadata (with its name and, for
// a namespaced kind, its namespace) and the rest.
type ManifestTemplate interface {
	Manifest(index int) (map[string]any, error)
	// Source describes the template as written, for printing.
	Source() map[string]string
}

// UpdateObjects patches some of a create_objects wave's objects every
// interval: Amount of those that exist, each round, for For.
type UpdateObjects struct {
	Name   string   `json:"name"`
	Amount Amount   `json:"amount"`
	Every  Duration `json:"every"`
	For    Duration `json:"duration"`
	Rate   Rate     `json:"rate"`
	// Patch renders the JSON merge patch for object i of the wave; nil
	// patches only the annotation that makes every round a real write.
	Patch ManifestTemplate `json:"patch,omitempty"`
}

// DeleteObjects deletes some of a create_objects wave's objects, chosen
// with the scenario's seed.
type DeleteObjects struct {
	Name   string `json:"name"`
	Amount Amount `json:"amount"`
	Rate   Rate   `json:"rate"`
}

// UpdateAnnotation is set to the round's number by every update_objects
// patch: a patch that changes nothing is not written, and would measure
// nothing.
const UpdateAnnotation = "kwok-run/update"

func (*CreateObjects) BlockType() string { return "create_objects" }
func (*UpdateObjects) BlockType() string { return "update_objects" }
func (*DeleteObjects) BlockType() string { return "delete_objects" }
