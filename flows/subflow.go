package flows

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Bounds on subflow expansion, so that a hostile document cannot make a
// deploy recurse without end or build an exponential number of nodes (a
// subflow holding ten instances of one holding ten instances of ...).
const (
	// MaxSubflowDepth is how deep subflow instances may nest: an instance
	// on a tab is at depth 1, an instance inside its subflow at depth 2.
	MaxSubflowDepth = 32
	// MaxExpandedNodes bounds the nodes a document has once every subflow
	// instance is expanded.
	MaxExpandedNodes = 100000
	// MaxExpandedBytes bounds the size of the properties of the nodes the
	// expansion copies: a large property in a subflow copied into many
	// instances would otherwise turn a small document into gigabytes.
	MaxExpandedBytes = 64 << 20
)

// SubflowPrefix starts the type of a subflow instance: "subflow:" followed
// by the id of the subflow definition.
const SubflowPrefix = "subflow:"

// SubflowStatusType is the type of the node Expand adds for a subflow
// instance whose definition has a status output: it receives what the
// subflow's nodes send to that output and sets the instance's status.
const SubflowStatusType = "subflow-status"

// Expansion is a flow document with its subflow instances expanded into
// the nodes that run, as Node-RED's runtime does when it starts a subflow
// instance. Doc holds, in document order:
//
//   - every node of the document that is not a subflow definition nor a
//     node inside one (their "z" is the definition's id);
//   - for each subflow instance, the instance node itself (same id, type
//     and properties, its wires replaced by the wires of the subflow's
//     input, and a "_subflow" property that changes whenever its
//     definition does), then a copy of each node of the definition with
//     the id INSTANCE-NODE (Node-RED's own derived ids), "z" set to the
//     instance's id, wires and references to nodes of the definition
//     renamed, and the nodes wired to the subflow's output N wired to
//     what the instance's output N is wired to; then, when the
//     definition has a status output, a node INSTANCE:status of type
//     SubflowStatusType. Instances inside a subflow are expanded in turn.
//
// The ids of expanded nodes depend only on the instance's and the
// definition's ids, so an unchanged instance expands to equal nodes on
// every deploy. Doc is the document itself when it has no subflows;
// otherwise nodes not touched by the expansion are shared with it, and
// must not be modified.
type Expansion struct {
	Doc *Document
	// Instances holds each expanded instance by its id in Doc.
	Instances map[string]*Instance
	// Origin maps the id of each node copied out of a subflow definition
	// to where it came from.
	Origin map[string]Origin
	// Warnings are what the expansion dropped: wires from outputs the
	// subflow does not have, references to nodes not in the subflow.
	Warnings []Warning
}

// Instance is one expanded subflow instance.
type Instance struct {
	// ID is the instance's id in the expanded document.
	ID string
	// Node is the instance node in the expanded document.
	Node *Node
	// Def is the subflow definition.
	Def *Node
	// Parent is the id of the instance whose subflow holds this one, ""
	// for an instance on a tab.
	Parent string
	// Path is the instance's path as Node-RED's NR_SUBFLOW_PATH gives it:
	// the tab's id, then each enclosing instance's id in its subflow
	// definition, then this instance's.
	Path string
	// Env is the instance's environment property list: the definition's
	// entries, each replaced by the instance's entry of the same name,
	// then the instance's other entries, as Node-RED merges them.
	Env []EnvEntry
}

// Origin says where a node of an expanded document came from.
type Origin struct {
	// Instance is the id of the instance the node belongs to.
	Instance string
	// Alias is the node's id in the subflow definition.
	Alias string
}

// EnvEntry is one environment property of a tab, group, subflow or
// subflow instance ({"name", "value", "type"}), with the other fields
// (Node-RED's "ui") left out.
type EnvEntry struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value,omitempty"`
	Type  string          `json:"type"`
}

// Top returns the id of the outermost instance holding the node with the
// given id in the expanded document (the instance that is in the document
// as written), or "" for a node that is not in an instance.
func (e *Expansion) Top(id string) string {
	top := ""
	for depth := 0; depth <= MaxSubflowDepth+1; depth++ {
		if o, ok := e.Origin[id]; ok {
			id = o.Instance
		}
		inst, ok := e.Instances[id]
		if !ok {
			return top
		}
		top = inst.ID
		if inst.Parent == "" {
			return top
		}
		id = inst.Parent
	}
	return top
}

// Describe names the node with the given id of the expanded document the
// way its user sees it: `node "N" of subflow "S" in instance "I"`, each
// level of nesting added; "" for a node that is not inside an instance.
func (e *Expansion) Describe(id string) string {
	o, ok := e.Origin[id]
	if !ok {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "node %q", o.Alias)
	for depth := 0; depth <= MaxSubflowDepth+1; depth++ {
		inst := e.Instances[o.Instance]
		if inst == nil {
			break
		}
		fmt.Fprintf(&b, " of subflow %q in instance %q", subflowLabel(inst.Def), inst.ID)
		if o, ok = e.Origin[inst.ID]; !ok {
			break
		}
	}
	return b.String()
}

func subflowLabel(def *Node) string {
	if def.Name != "" {
		return def.Name
	}
	return def.ID
}

// subflowPort is one port of a subflow definition: its "in", each of its
// "out" or its "status".
type subflowPort struct {
	Wires []struct {
		ID   string `json:"id"`
		Port int    `json:"port"`
	} `json:"wires"`
}

type subflowDef struct {
	node    *Node
	members []*Node // nodes whose z is the definition, in document order
	in      []subflowPort
	out     []subflowPort
	status  *subflowPort
	env     []EnvEntry
	hash    string // set once computed (see defHash)
}

// Expand expands every subflow instance of doc (see Expansion). It
// returns Problems when an instance names a subflow that is not in the
// document, when a subflow holds an instance of itself (directly or
// through others), when instances nest deeper than MaxSubflowDepth, when
// the expansion would have more than MaxExpandedNodes nodes, and when a
// derived id is already taken by a node of the document.
func Expand(doc *Document) (*Expansion, error) {
	e := &Expansion{Doc: doc}
	defs := make(map[string]*subflowDef)
	var probs Problems
	hasInstances := false
	for _, n := range doc.Nodes {
		if n == nil {
			continue
		}
		if n.Type == "subflow" {
			if _, dup := defs[n.ID]; !dup {
				defs[n.ID] = &subflowDef{node: n}
			}
		}
		if strings.HasPrefix(n.Type, SubflowPrefix) {
			hasInstances = true
		}
	}
	if len(defs) == 0 && !hasInstances {
		return e, nil
	}
	for _, d := range defs {
		for _, p := range []struct {
			key string
			dst any
		}{{"in", &d.in}, {"out", &d.out}, {"status", &d.status}, {"env", &d.env}} {
			raw, ok := d.node.Get(p.key)
			if !ok || string(raw) == "null" {
				continue
			}
			if err := json.Unmarshal(raw, p.dst); err != nil {
				probs = append(probs, Problem{NodeID: d.node.ID, Type: "subflow", Field: p.key, Line: d.node.Line, Msg: "not a subflow " + p.key + ": " + err.Error()})
			}
		}
	}
	for _, n := range doc.Nodes {
		if n != nil && n.Z != "" {
			if d := defs[n.Z]; d != nil {
				d.members = append(d.members, n)
			}
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	x := &expander{
		defs:  defs,
		taken: make(map[string]bool, len(doc.Nodes)),
		out:   &Document{Credentials: doc.Credentials},
		e:     e,
	}
	for _, n := range doc.Nodes {
		if n != nil {
			x.taken[n.ID] = true
		}
	}
	e.Instances = make(map[string]*Instance)
	e.Origin = make(map[string]Origin)
	for _, n := range doc.Nodes {
		if n == nil || n.Type == "subflow" || defs[n.Z] != nil {
			continue
		}
		if !strings.HasPrefix(n.Type, SubflowPrefix) {
			x.add(n)
			continue
		}
		x.instance(n, n, "", n.Z+"/"+n.ID, nil)
		if x.tooMany {
			break
		}
	}
	if len(x.probs) > 0 {
		return nil, x.probs
	}
	e.Doc = x.out
	return e, nil
}

// expander carries the state of one Expand.
type expander struct {
	defs    map[string]*subflowDef
	taken   map[string]bool // ids of the document's own nodes
	out     *Document
	e       *Expansion
	probs   Problems
	tooMany bool
	creds   bool // out.Credentials is a copy of the document's
	copied  int  // bytes of properties in copies made so far
}

func (x *expander) add(n *Node) {
	if x.tooMany {
		return
	}
	if len(x.out.Nodes) >= MaxExpandedNodes || x.copied > MaxExpandedBytes {
		x.tooMany = true
		msg := fmt.Sprintf("the flows have more than %d nodes once subflow instances are expanded", MaxExpandedNodes)
		if x.copied > MaxExpandedBytes {
			msg = fmt.Sprintf("the flows have more than %d MiB of properties once subflow instances are expanded", MaxExpandedBytes>>20)
		}
		x.probs = append(x.probs, Problem{NodeID: n.ID, Type: n.Type, Line: n.Line, Msg: msg})
		return
	}
	x.out.Nodes = append(x.out.Nodes, n)
}

// copyNode clones m for an instance and counts what it copied.
func (x *expander) copyNode(m *Node) *Node {
	c := m.Clone()
	for _, p := range c.props {
		x.copied += len(p.Key) + len(p.Value)
	}
	return c
}

// instance expands the instance inst (already renamed and rewired for
// where it is) of the document's node top. chain lists the definitions
// around it, outermost first.
func (x *expander) instance(inst, top *Node, parent, path string, chain []string) {
	defID := strings.TrimPrefix(inst.Type, SubflowPrefix)
	fail := func(field, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if inst != top {
			msg = fmt.Sprintf("subflow instance %q: %s", inst.ID, msg)
		}
		x.probs = append(x.probs, Problem{NodeID: top.ID, Type: top.Type, Field: field, Line: top.Line, Msg: msg})
	}
	d := x.defs[defID]
	if d == nil {
		fail("type", "no subflow definition with id %q in the flows", defID)
		return
	}
	if i := slices.Index(chain, defID); i >= 0 {
		names := make([]string, 0, len(chain)-i+1)
		for _, id := range append(chain[i:], defID) {
			names = append(names, fmt.Sprintf("%q", subflowLabel(x.defs[id].node)))
		}
		fail("type", "subflow %q contains an instance of itself: %s", subflowLabel(d.node), strings.Join(names, " -> "))
		return
	}
	if len(chain) >= MaxSubflowDepth {
		fail("type", "subflow instances nest more than %d levels deep", MaxSubflowDepth)
		return
	}
	chain = append(slices.Clip(chain), defID)

	// The instance node: the subflow's input leads from it.
	in := inst.Clone()
	wires := [][]string{{}}
	ids := make(map[string]string, len(d.members))
	for _, m := range d.members {
		ids[m.ID] = inst.ID + "-" + m.ID
	}
	for _, m := range d.members {
		if x.taken[ids[m.ID]] {
			fail("", "the id %q that Node-RED gives node %q of subflow %q in this instance is already used by another node", ids[m.ID], m.ID, subflowLabel(d.node))
			return
		}
	}
	if len(d.in) > 0 {
		for _, w := range d.in[0].Wires {
			if id, ok := ids[w.ID]; ok {
				wires[0] = append(wires[0], id)
			} else {
				x.warn(inst, d, "in", "the subflow's input is wired to %q, which is not in it: the wire is dropped", w.ID)
			}
		}
	}
	in.Wires = wires
	in.HasWires = true
	in.Set("wires", encodeWires(wires))
	in.Set("_subflow", encodeString(x.defHash(d, nil)))
	if len(inst.Wires) > len(d.out) {
		for p := len(d.out); p < len(inst.Wires); p++ {
			if len(inst.Wires[p]) > 0 {
				x.warn(inst, d, "wires", "wired from output %d but subflow %q has %d output(s): the wire is dropped", p+1, subflowLabel(d.node), len(d.out))
			}
		}
	}
	env := mergeEnv(d.env, inst)
	x.e.Instances[inst.ID] = &Instance{ID: inst.ID, Node: in, Def: d.node, Parent: parent, Path: path, Env: env}
	x.add(in)

	// Copies of the definition's nodes.
	copies := make([]*Node, len(d.members))
	byAlias := make(map[string]*Node, len(d.members))
	for i, m := range d.members {
		if x.tooMany {
			return
		}
		c := x.copyNode(m)
		c.Set("id", encodeString(ids[m.ID]))
		c.Set("z", encodeString(inst.ID))
		remap(c, ids)
		copies[i] = c
		byAlias[m.ID] = c
		x.e.Origin[c.ID] = Origin{Instance: inst.ID, Alias: m.ID}
		if cr, ok := x.out.Credentials[m.ID]; ok {
			x.copyCreds(c.ID, cr)
		}
	}
	appendWire := func(c *Node, port int, targets []string) {
		for len(c.Wires) <= port {
			c.Wires = append(c.Wires, []string{})
		}
		c.Wires[port] = append(slices.Clip(c.Wires[port]), targets...)
		c.HasWires = true
	}
	var direct []string
	for i, o := range d.out {
		var targets []string
		if i < len(inst.Wires) {
			targets = inst.Wires[i]
		}
		for _, w := range o.Wires {
			switch {
			case w.ID == d.node.ID:
				// The input wired straight to an output: those targets
				// come first, so that they see the message before what the
				// subflow's nodes make of it, as in Node-RED, which
				// delivers each hop asynchronously.
				direct = append(direct, targets...)
			case byAlias[w.ID] != nil && w.Port >= 0 && w.Port < 1000:
				appendWire(byAlias[w.ID], w.Port, targets)
			default:
				x.warn(inst, d, "out", "the subflow's output %d is wired from %q, which is not in it: the wire is dropped", i+1, w.ID)
			}
		}
	}
	in.Wires[0] = append(direct, in.Wires[0]...)
	if d.status != nil && len(d.status.Wires) > 0 {
		st := NewNode(inst.ID+":status", SubflowStatusType)
		st.Set("z", encodeString(inst.ID))
		x.e.Origin[st.ID] = Origin{Instance: inst.ID, Alias: "status"}
		for _, w := range d.status.Wires {
			switch {
			case w.ID == d.node.ID:
				appendWire(in, w.Port, []string{st.ID})
			case byAlias[w.ID] != nil && w.Port >= 0 && w.Port < 1000:
				appendWire(byAlias[w.ID], w.Port, []string{st.ID})
			default:
				x.warn(inst, d, "status", "the subflow's status output is wired from %q, which is not in it: the wire is dropped", w.ID)
			}
		}
		defer x.add(st)
	}
	in.Set("wires", encodeWires(in.Wires))
	for _, c := range copies {
		c.Set("wires", encodeWires(c.Wires))
		if strings.HasPrefix(c.Type, SubflowPrefix) {
			x.instance(c, top, inst.ID, path+"/"+x.e.Origin[c.ID].Alias, chain)
		} else {
			x.add(c)
		}
		if x.tooMany {
			return
		}
	}
}

func (x *expander) copyCreds(id string, cr map[string]string) {
	if !x.creds {
		x.out.Credentials = x.out.Credentials.Clone()
		x.creds = true
	}
	c := make(map[string]string, len(cr))
	for k, v := range cr {
		c[k] = v
	}
	x.out.Credentials[id] = c
}

func (x *expander) warn(inst *Node, d *subflowDef, field, format string, args ...any) {
	x.e.Warnings = append(x.e.Warnings, Warning{NodeID: inst.ID, Type: inst.Type, Field: field, Line: inst.Line, Msg: fmt.Sprintf(format, args...)})
}

// remap renames, in a copy of a subflow's node, the wires and references
// to other nodes of the subflow, as Node-RED's remapSubflowNodes does:
// wires to nodes not in the subflow are dropped; a catch, status or
// complete node's scope list has each id renamed ("" when not in the
// subflow); any other property whose value is a string equal to the id of
// a node of the subflow (a config node, a group) is renamed.
func remap(c *Node, ids map[string]string) {
	if c.HasWires {
		w := make([][]string, len(c.Wires))
		for p, port := range c.Wires {
			w[p] = []string{}
			for _, t := range port {
				if id, ok := ids[t]; ok {
					w[p] = append(w[p], id)
				}
			}
		}
		c.Wires = w
	}
	for _, p := range c.Props() {
		switch p.Key {
		case "id", "type", "z", "wires":
			continue
		}
		if p.Key == "scope" && (c.Type == "catch" || c.Type == "status" || c.Type == "complete") {
			var scope []string
			if json.Unmarshal(p.Value, &scope) == nil && len(p.Value) > 0 && p.Value[0] == '[' {
				for i, s := range scope {
					scope[i] = ids[s]
				}
				b, _ := json.Marshal(scope)
				c.Set("scope", b)
				continue
			}
		}
		if p.Key == "links" && (c.Type == "link in" || c.Type == "link out" || c.Type == "link call") {
			// Links between nodes of the subflow follow them into the
			// instance; links to nodes outside it are dropped.
			var links []string
			if json.Unmarshal(p.Value, &links) == nil {
				kept := []string{}
				for _, l := range links {
					if id, ok := ids[l]; ok {
						kept = append(kept, id)
					}
				}
				b, _ := json.Marshal(kept)
				c.Set("links", b)
				continue
			}
		}
		if s, ok := stringValue(p.Value); ok {
			if id, ok := ids[s]; ok {
				c.Set(p.Key, encodeString(id))
			}
		}
	}
}

// mergeEnv merges a definition's env list with an instance's, as
// Node-RED's Subflow does.
func mergeEnv(def []EnvEntry, inst *Node) []EnvEntry {
	var own []EnvEntry
	if raw, ok := inst.Get("env"); ok {
		_ = json.Unmarshal(raw, &own) // a malformed list is no list, as in Node-RED
	}
	if len(def) == 0 && len(own) == 0 {
		return nil
	}
	out := slices.Clone(def)
	for _, e := range own {
		if i := slices.IndexFunc(out, func(d EnvEntry) bool { return d.Name == e.Name }); i >= 0 {
			out[i] = e
		} else {
			out = append(out, e)
		}
	}
	return out
}

// defHash returns a digest of everything of the definition that its
// instances run: its own properties and its nodes' (positions left out)
// and the same of the subflows its instances use.
func (x *expander) defHash(d *subflowDef, seen []string) string {
	if d.hash != "" {
		return d.hash
	}
	h := sha256.New()
	write := func(n *Node) {
		for _, p := range n.Props() {
			switch p.Key {
			case "x", "y", "w", "h":
				continue
			case "in", "out", "status":
				if n == d.node {
					// their ports' positions do not matter, their wires do
					var ports any
					if json.Unmarshal(p.Value, &ports) == nil {
						stripPositions(ports)
						b, _ := json.Marshal(ports)
						fmt.Fprintf(h, "%q:%s\n", p.Key, b)
						continue
					}
				}
			}
			fmt.Fprintf(h, "%q:%s\n", p.Key, compactJSON(p.Value))
		}
		h.Write([]byte{0})
	}
	write(d.node)
	seen = append(seen, d.node.ID)
	for _, m := range d.members {
		write(m)
		if id, ok := strings.CutPrefix(m.Type, SubflowPrefix); ok {
			if nd := x.defs[id]; nd != nil && !slices.Contains(seen, id) && len(seen) < MaxSubflowDepth {
				h.Write([]byte(x.defHash(nd, seen)))
			}
		}
	}
	d.hash = hex.EncodeToString(h.Sum(nil)[:12])
	return d.hash
}

func stripPositions(v any) {
	switch t := v.(type) {
	case map[string]any:
		delete(t, "x")
		delete(t, "y")
	case []any:
		for _, e := range t {
			stripPositions(e)
		}
	}
}
