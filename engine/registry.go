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
}

// Type is a registered node type: its metadata, its config schema and its
// constructor. Build one with NewType.
type Type struct {
	Meta
	// Fields is the config schema, derived from the config struct.
	Fields []Field `json:"fields"`

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
		Meta:   meta,
		Fields: sc.fields,
		schema: sc,
		build: func(cfg any, h *Host) (Node, error) {
			return build(cfg.(*C), h)
		},
	}
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
