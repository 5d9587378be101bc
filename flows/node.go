package flows

import (
	"bytes"
	"encoding/json"
	"slices"
)

// NewNode returns a node with the given id and type and no other
// properties, for building documents in code; add properties with Set. A
// Node-RED type name is converted to Runnel's.
func NewNode(id, typ string) *Node {
	typ = RunnelType(typ)
	return &Node{
		ID:   id,
		Type: typ,
		props: []Prop{
			{Key: "id", Value: encodeString(id)},
			{Key: "type", Value: encodeString(typ)},
		},
	}
}

// Props returns a copy of the node's properties in their order, with the
// type in Runnel's name.
//
// The typed fields (ID, Type, Z, Name, Wires, HasWires, Disabled) are kept
// in step with the properties by Parse, Set and Delete. A typed field
// assigned directly wins: Props, Get and Marshal report its value in place
// of a property that disagrees with it (and add the property if missing).
func (n *Node) Props() []Prop {
	return n.effectiveProps(FormatRunnel)
}

// Get returns the raw JSON value of the property key, and whether the node
// has it. The value must not be modified.
func (n *Node) Get(key string) (json.RawMessage, bool) {
	if !typedKey(key) {
		return n.raw(key)
	}
	for _, p := range n.effectiveProps(FormatRunnel) {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}

// Set sets the property key to value, replacing it in place if the node
// has it and appending it otherwise. value must be valid JSON (Marshal
// reports it if not); Set keeps its own copy. Setting id, type, z, name,
// wires, d (or disabled for a tab) re-derives the matching typed field; a
// malformed value leaves the field at its zero value. A Node-RED name given
// as "type" is converted to Runnel's.
func (n *Node) Set(key string, value json.RawMessage) {
	v := json.RawMessage(bytes.Clone(value))
	if v == nil {
		v = json.RawMessage{}
	}
	i := n.index(key)
	if i < 0 {
		n.props = append(n.props, Prop{Key: key, Value: v})
		i = len(n.props) - 1
	} else {
		n.props[i].Value = v
	}
	n.deriveProp(&n.props[i])
	n.deriveDisabled()
}

// Delete removes the property key, if the node has it, and resets the
// matching typed field, if any.
func (n *Node) Delete(key string) {
	i := n.index(key)
	if i < 0 {
		return
	}
	n.props = slices.Delete(n.props, i, i+1)
	switch key {
	case "id":
		n.ID = ""
	case "type":
		n.Type = ""
	case "z":
		n.Z = ""
	case "name":
		n.Name = ""
	case "wires":
		n.Wires, n.HasWires = nil, false
	}
	n.deriveDisabled()
}

// Clone returns a deep copy of the node.
func (n *Node) Clone() *Node {
	if n == nil {
		return nil
	}
	c := *n
	c.props = make([]Prop, len(n.props))
	for i, p := range n.props {
		c.props[i] = Prop{Key: p.Key, Value: bytes.Clone(p.Value)}
	}
	if n.Wires != nil {
		c.Wires = make([][]string, len(n.Wires))
		for i, port := range n.Wires {
			c.Wires[i] = slices.Clone(port)
		}
	}
	return &c
}

// Clone returns a deep copy of the document.
func (d *Document) Clone() *Document {
	if d == nil {
		return nil
	}
	c := &Document{Nodes: make([]*Node, len(d.Nodes)), Credentials: d.Credentials.Clone()}
	for i, n := range d.Nodes {
		c.Nodes[i] = n.Clone()
	}
	return c
}

// Node returns the node with the given id, or nil.
func (d *Document) Node(id string) *Node {
	for _, n := range d.Nodes {
		if n != nil && n.ID == id {
			return n
		}
	}
	return nil
}

// Tabs returns the document's tabs (nodes of type "tab") in document order.
func (d *Document) Tabs() []*Node {
	var tabs []*Node
	for _, n := range d.Nodes {
		if n != nil && n.Type == "tab" {
			tabs = append(tabs, n)
		}
	}
	return tabs
}

// index returns the position of the property key, or -1.
func (n *Node) index(key string) int {
	for i, p := range n.props {
		if p.Key == key {
			return i
		}
	}
	return -1
}

// raw returns the stored value of the property key.
func (n *Node) raw(key string) (json.RawMessage, bool) {
	if i := n.index(key); i >= 0 {
		return n.props[i].Value, true
	}
	return nil, false
}

// typedKey reports whether a typed field is derived from the property key.
func typedKey(key string) bool {
	switch key {
	case "id", "type", "z", "name", "wires", "d", "disabled":
		return true
	}
	return false
}

// effectiveProps returns the properties to write in format f: the stored
// ones, with the type name in f's vocabulary and with typed fields that were
// assigned directly taking the place of the properties they disagree with.
func (n *Node) effectiveProps(f Format) []Prop {
	out := make([]Prop, 0, len(n.props)+2)
	typeName := n.Type
	if f == FormatNodeRED {
		typeName = NodeREDType(typeName)
	}
	dkey := n.disabledKey()
	seen := map[string]bool{}
	for _, p := range n.props {
		v := p.Value
		seen[p.Key] = true
		switch p.Key {
		case "id":
			v = stringProp(v, n.ID)
		case "type":
			s, ok := stringValue(v)
			derived := ""
			if ok {
				derived = RunnelType(s)
			}
			if derived != n.Type || (ok && s != typeName) {
				v = encodeString(typeName)
			}
		case "z":
			v = stringProp(v, n.Z)
		case "name":
			v = stringProp(v, n.Name)
		case "wires":
			w, _ := wiresValue(v)
			if !wiresEqual(w, n.Wires) {
				if n.Wires == nil && !n.HasWires {
					continue
				}
				v = encodeWires(n.Wires)
			}
		case dkey:
			if isTrue(v) != n.Disabled {
				if !n.Disabled && dkey == "d" {
					continue
				}
				v = json.RawMessage("false")
				if n.Disabled {
					v = json.RawMessage("true")
				}
			}
		}
		out = append(out, Prop{Key: p.Key, Value: v})
	}
	add := func(key string, cond bool, v json.RawMessage) {
		if cond && !seen[key] {
			out = append(out, Prop{Key: key, Value: v})
		}
	}
	add("id", n.ID != "", encodeString(n.ID))
	add("type", n.Type != "", encodeString(typeName))
	add("z", n.Z != "", encodeString(n.Z))
	add("name", n.Name != "", encodeString(n.Name))
	add("wires", n.HasWires || len(n.Wires) > 0, encodeWires(n.Wires))
	add(dkey, n.Disabled, json.RawMessage("true"))
	return out
}

// stringProp returns v if it derives to want (a string equal to want, or a
// non-string value when want is empty), and want encoded otherwise.
func stringProp(v json.RawMessage, want string) json.RawMessage {
	s, ok := stringValue(v)
	if (ok && s == want) || (!ok && want == "") {
		return v
	}
	return encodeString(want)
}

func wiresEqual(a, b [][]string) bool {
	return slices.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

func encodeWires(w [][]string) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, port := range w {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		for j, id := range port {
			if j > 0 {
				b.WriteByte(',')
			}
			b.Write(encodeString(id))
		}
		b.WriteByte(']')
	}
	b.WriteByte(']')
	return b.Bytes()
}

// encodeString encodes s as a JSON string without escaping <, > and &, as
// JavaScript's JSON.stringify does.
func encodeString(s string) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}
