package engine

import (
	"fmt"
	"sort"
	"sync"
)

// Meta describes a node type to the palette, the settings form, validation
// and the docs.
type Meta struct {
	// Type is the node type name used in flow documents, such as "filter-on-change".
	Type string `json:"type"`
	// Category groups the type in the palette: "network", "function", "parser", "common", "config".
	Category string `json:"category"`
	// Label is the palette label; the type name when empty.
	Label string `json:"label,omitempty"`
	// Inputs is 0 or 1, as in Node-RED.
	Inputs int `json:"inputs"`
	// Outputs is the number of output ports.
	Outputs int `json:"outputs"`
	// Color is the node's colour on the canvas (CSS colour), optional.
	Color string `json:"color,omitempty"`
	// Help is the node's help text (Markdown).
	Help string `json:"help,omitempty"`
	// Config marks config nodes (such as mqtt-broker): shared settings that
	// other nodes reference by id; they have no wires and do not run.
	Config bool `json:"config,omitempty"`
	// Credentials lists the type's credential fields, as Node-RED's
	// credentials definition does: secrets kept encrypted outside the flow
	// document, given to the node by Host.Credentials. Each field is "text"
	// or "password": the admin API answers the value of a text field and
	// only has_<field> for a password field (and for fields not listed).
	Credentials map[string]string `json:"credentials,omitempty"`
	// CredentialLabels are the form labels of the credential fields
	// ("user": "Username"); a field's name when missing. The form shows
	// Type.CredentialFields.
	CredentialLabels map[string]string `json:"-"`

	// Labels say how the canvas labels a node, as Node-RED's label
	// functions do: its name when it has one, else the first of Labels
	// that applies, else Label, else Type.
	Labels []LabelRule `json:"labels,omitempty"`
	// Icon is the node's icon, by Node-RED's file name ("inject.svg",
	// "debug.svg", "bridge.svg", "json.svg", "template.svg", "swap.svg",
	// "switch.svg", "range.svg", "function.svg", "comment.svg",
	// "rbe.png"); the editor draws those it knows and a default for
	// others.
	Icon string `json:"icon,omitempty"`
	// Button gives the node a button on the canvas, as inject's: pressing
	// it calls POST /inject/{id}, which runs the node's Trigger method.
	// The text is the button's tooltip.
	Button string `json:"button,omitempty"`
	// OutputsFrom names the property whose value gives the number of
	// output ports when it depends on the configuration: the length of a
	// list (switch's "rules") or a number (function's "outputs"). The
	// editor keeps each port's wires with its list entry when entries
	// are moved or removed. Outputs is the count for a new node.
	OutputsFrom string `json:"outputsFrom,omitempty"`
}

// LabelRule is one way of labelling a node: Text with each {property}
// replaced by the node's property (as text). It applies when every
// property it names is set and not empty, and when each property in If
// has one of the values listed ("" matching a missing property).
type LabelRule struct {
	If   map[string][]string `json:"if,omitempty"`
	Text string              `json:"text"`
}

// Type is a registered node type: its metadata, its config schema and its
// constructor. Build one with NewType.
type Type struct {
	Meta
	// Fields is the config schema, derived from the config struct.
	Fields []Field `json:"fields"`
	// CredentialFields are the form's fields for Meta.Credentials: text
	// fields first, then passwords, each by name. The form never shows a
	// stored password: it shows whether one is set (GET
	// /credentials/{type}/{id}) and sends a new one only when it is typed.
	CredentialFields []Field `json:"credentialFields,omitempty"`

	schema *schema
	build  func(cfg any, h *Host) (Node, error)
}

// NewType defines a node type whose configuration is the struct C. The
// struct's fields and tags give the schema (see Field); build constructs a
// node from a decoded, validated configuration. build must not have side
// effects beyond the node value itself (no goroutines, no subscriptions):
// those belong in Start, so that a flow can be compiled just to check it.
func NewType[C any](meta Meta, build func(cfg *C, h *Host) (Node, error)) *Type {
	var zero C
	sc, err := schemaOf(&zero)
	if err != nil {
		panic(fmt.Sprintf("engine.NewType(%q): %v", meta.Type, err))
	}
	return &Type{
		Meta:             meta,
		Fields:           sc.fields,
		CredentialFields: credentialFields(meta),
		schema:           sc,
		build: func(cfg any, h *Host) (Node, error) {
			return build(cfg.(*C), h)
		},
	}
}

// credentialFields builds the form fields of a type's credentials.
func credentialFields(meta Meta) []Field {
	var out []Field
	for name, kind := range meta.Credentials {
		f := Field{Name: name, Label: meta.CredentialLabels[name], Kind: "string"}
		if kind != "text" {
			f.Kind = "password"
		}
		if f.Label == "" {
			f.Label = name
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind == "string"
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Registry holds node types by name. Runnel's built-in types live in
// DefaultRegistry; tests may build their own with NewRegistry.
type Registry struct {
	mu    sync.RWMutex
	types map[string]*Type
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{types: make(map[string]*Type)}
}

// DefaultRegistry is the process-wide registry that built-in and custom
// node types register with from their init functions.
var DefaultRegistry = NewRegistry()

// Register adds t to the registry. It fails on an empty name, a missing
// constructor or a name that is already taken.
func (r *Registry) Register(t *Type) error {
	if t == nil || t.Type == "" {
		return fmt.Errorf("register node type: empty type name")
	}
	if t.build == nil || t.schema == nil {
		return fmt.Errorf("register node type %q: build it with engine.NewType", t.Type)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.types[t.Type]; dup {
		return fmt.Errorf("register node type %q: already registered", t.Type)
	}
	r.types[t.Type] = t
	return nil
}

// MustRegister is Register for init functions: it panics on error.
func (r *Registry) MustRegister(t *Type) {
	if err := r.Register(t); err != nil {
		panic(err)
	}
}

// Lookup returns the type registered under name.
func (r *Registry) Lookup(name string) (*Type, bool) {
	r.mu.RLock()
	t, ok := r.types[name]
	r.mu.RUnlock()
	return t, ok
}

// Types returns every registered type, sorted by category and name.
func (r *Registry) Types() []*Type {
	r.mu.RLock()
	out := make([]*Type, 0, len(r.types))
	for _, t := range r.types {
		out = append(out, t)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Category != out[j].Category {
			return out[i].Category < out[j].Category
		}
		return out[i].Type < out[j].Type
	})
	return out
}

// Register adds t to DefaultRegistry and panics if that fails. Call it from
// an init function:
//
//	func init() { engine.Register(engine.NewType(meta, build)) }
func Register(t *Type) { DefaultRegistry.MustRegister(t) }
