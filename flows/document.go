// Package flows reads, checks, converts and stores flow documents in
// Node-RED's flows.json shape: a JSON array of node objects (id, type, z,
// name, x, y, wires and type-specific properties), tab objects and config
// nodes. It knows nothing about what node types exist; the engine compiles
// a Document into a running graph.
package flows

import (
	"encoding/json"
)

// Document is a flow document: every node, tab and config node, in file order.
type Document struct {
	Nodes []*Node
	// Credentials are the nodes' credentials (Node-RED's node
	// "credentials"): Parse moves them here out of the node objects, and
	// Marshal never writes them, so that no flow file, stored revision or
	// API answer holds them. They are kept encrypted at rest (see
	// EncryptCredentials) and reach nodes through the engine.
	Credentials Credentials
}

// Node is one object of a flow document. Its properties are kept as raw
// JSON in their original order, so that a document written back keeps every
// property, including the ones Runnel does not know.
type Node struct {
	// ID is the node's "id".
	ID string
	// Type is the node's "type" in Runnel's names (mqtt-in, filter-on-change, ...).
	Type string
	// Z is the id of the tab the node is on; empty for global config nodes.
	Z string
	// Name is the node's optional "name".
	Name string
	// Wires lists, per output port, the ids of the nodes wired to it.
	Wires [][]string
	// Disabled is Node-RED's "d": a disabled node does not run. For a tab
	// it is the tab's "disabled" property.
	Disabled bool
	// HasWires reports whether the object has a "wires" property.
	HasWires bool
	// Line and Column locate the object in the text it was parsed from
	// (1-based); zero when the node was not parsed from text.
	Line, Column int

	props []Prop
}

// Prop is one property of a node object, with its raw JSON value.
type Prop struct {
	Key   string
	Value json.RawMessage
}
