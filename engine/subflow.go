package engine

// Subflows. A deploy expands each subflow instance into real nodes before
// it compiles the document (see flows.Expand): the instance node itself
// (a pass-through from the instance's input to the subflow's input), a
// copy of each node of the definition with Node-RED's id INSTANCE-NODE and
// "z" set to the instance, and, when the subflow has a status output, a
// node that turns what reaches it into the instance's status. The graph
// keeps the document as written (Graph.Document); the expansion never
// leaves the engine.
//
// Because an inner node's "z" is its instance, the things Runnel scopes
// by tab scope by instance: an inner node's flow context is the
// instance's own (Node-RED's subflow flow context), catch and status
// nodes inside the subflow watch the instance's nodes, and the
// environment is the instance's (subflowScope).

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/flows"
)

// noConfig is the configuration of the subflow nodes: they take theirs
// from the expansion, not from properties.
type noConfig struct{}

// builtinType returns the engine's own type for the subflow node types of
// an expanded document, made once per compile: the subflow instance node
// (what reaches its input goes on to the nodes wired to the subflow's
// input: its only output port, wired by the expansion) and the node
// behind a subflow's status output.
func (c *compiler) builtinType(typ string) (*Type, bool) {
	switch {
	case strings.HasPrefix(typ, flows.SubflowPrefix):
		if c.sfTypes[0] == nil {
			c.sfTypes[0] = NewType(Meta{Type: "subflow", Category: "subflows", Inputs: 1, Outputs: 1},
				func(_ *noConfig, _ *Host) (Node, error) { return passThrough{}, nil })
		}
		return c.sfTypes[0], true
	case typ == flows.SubflowStatusType:
		if c.sfTypes[1] == nil {
			c.sfTypes[1] = NewType(Meta{Type: flows.SubflowStatusType, Category: "subflows", Inputs: 1},
				func(_ *noConfig, h *Host) (Node, error) {
					inst := h.c.subflowInstanceHost(h.z)
					if inst == nil {
						return nil, fmt.Errorf("subflow status output of a missing instance %q", h.z)
					}
					return &subflowStatus{inst: inst}, nil
				})
		}
		return c.sfTypes[1], true
	}
	return nil, false
}

type passThrough struct{}

func (passThrough) Receive(_ context.Context, m *Message, out Output) error {
	out.Send(0, m)
	return nil
}

// subflowStatus sets its instance's status from each message, as
// Node-RED's subflow status node does: a string payload is the status
// text; an object payload with text, fill or shape (or none at all) is
// the status; another payload is shown as text, cut to 32 characters;
// without a payload, msg.status is the status.
type subflowStatus struct{ inst *Host }

func (s *subflowStatus) Receive(_ context.Context, m *Message, _ Output) error {
	if p := m.Payload; p != nil {
		if str, ok := p.(string); ok {
			s.inst.Status(Status{Text: str})
			return nil
		}
		if obj, ok := asObject(p); ok {
			_, t := obj["text"]
			_, f := obj["fill"]
			_, sh := obj["shape"]
			if t || f || sh || len(obj) == 0 {
				s.inst.Status(statusOf(obj))
				return nil
			}
		}
		text := inspect(p, 0)
		if r := []rune(text); len(r) > 32 {
			text = string(r[:32]) + "..."
		}
		s.inst.Status(Status{Text: text})
		return nil
	}
	if v, ok := m.Prop("status"); ok && v != nil {
		if obj, ok := asObject(v); ok {
			st := statusOf(obj)
			if strings.HasPrefix(st.Text, "common.") {
				st.Text = "node-red:" + st.Text
			}
			s.inst.Status(st)
		}
	}
	return nil
}

// inspect shows v as Node.js's util.inspect does, for the values a
// message carries: strings in single quotes, objects as { key: value },
// arrays as [ 1, 2 ], nesting below two levels as [Object] and [Array].
func inspect(v any, depth int) string {
	switch t := v.(type) {
	case RawJSON:
		return inspectJSON(gjson.ParseBytes(t), depth)
	case map[string]any, []any:
		return inspectJSON(gjson.ParseBytes(AppendJSON(nil, t)), depth)
	case string:
		if depth == 0 {
			return t
		}
		return "'" + strings.ReplaceAll(strings.ReplaceAll(t, `\`, `\\`), "'", `\'`) + "'"
	case []byte:
		return "<Buffer " + fmt.Sprintf("% x", t) + ">"
	case nil:
		return "null"
	}
	return ToString(v)
}

func inspectJSON(r gjson.Result, depth int) string {
	switch {
	case r.IsArray(), r.IsObject():
		var parts []string
		r.ForEach(func(k, e gjson.Result) bool {
			s := inspectJSON(e, depth+1)
			if r.IsObject() {
				key := k.Str
				if !jsIdent(key) {
					key = "'" + key + "'"
				}
				s = key + ": " + s
			}
			parts = append(parts, s)
			return true
		})
		open, close, deep := "[", "]", "[Array]"
		if r.IsObject() {
			open, close, deep = "{", "}", "[Object]"
		}
		switch {
		case len(parts) == 0:
			return open + close
		case depth > 2:
			return deep
		}
		return open + " " + strings.Join(parts, ", ") + " " + close
	case r.Type == gjson.String:
		return inspect(r.Str, depth)
	}
	return r.Raw
}

func jsIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r == '$' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// asObject returns v decoded when it is a JSON object.
func asObject(v any) (map[string]any, bool) {
	if r, ok := v.(RawJSON); ok {
		v = r.Decode()
	}
	o, ok := v.(map[string]any)
	return o, ok
}

func statusOf(o map[string]any) Status {
	str := func(k string) string {
		v, ok := o[k]
		if !ok || v == nil {
			return ""
		}
		return ToString(v)
	}
	return Status{Fill: str("fill"), Shape: str("shape"), Text: str("text")}
}

// subflowInstanceHost returns the host of the instance node id, building
// it if it is not built yet.
func (c *compiler) subflowInstanceHost(id string) *Host {
	n := c.byID[id]
	if n == nil || !strings.HasPrefix(n.Type, flows.SubflowPrefix) {
		return nil
	}
	if s := c.build(n); s != nil {
		return s.host
	}
	return nil
}

// subflowScope returns the environment of the subflow instance id, or nil
// when id is not one: Node-RED's NR_SUBFLOW_NAME, NR_SUBFLOW_ID and
// NR_SUBFLOW_PATH, then the instance's env (the definition's entries
// with the instance's in their place, evaluated as a tab's are), then
// the environment around the instance node (its group's, its tab's or
// its enclosing instance's).
func (c *compiler) subflowScope(id string) *envScope {
	if c.exp == nil {
		return nil
	}
	inst := c.exp.Instances[id]
	if inst == nil {
		return nil
	}
	if s, ok := c.scopes["subflow:"+id]; ok {
		return s
	}
	// a placeholder first: an instance node's own scope cannot lead back
	// to itself, but a malformed group chain must not recurse
	c.scopes["subflow:"+id] = &envScope{}
	parent := c.scope(inst.Node)
	b := map[string]json.RawMessage{
		"NR_SUBFLOW_ID":   jsonString(inst.ID),
		"NR_SUBFLOW_PATH": jsonString(inst.Path),
		"NR_NODE_ID":      jsonString(inst.ID),
		"NR_NODE_PATH":    jsonString(inst.Path),
	}
	if inst.Node.Name != "" {
		b["NR_SUBFLOW_NAME"] = jsonString(inst.Node.Name)
		b["NR_NODE_NAME"] = jsonString(inst.Node.Name)
	}
	s := &envScope{builtins: b, parent: parent}
	if len(inst.Env) > 0 {
		env := make([]flows.EnvEntry, len(inst.Env))
		copy(env, inst.Env)
		for i, e := range env {
			if e.Type == "cred" {
				// Node-RED: the instance's credential, else the definition's
				v, ok := c.doc.Credentials[inst.ID][e.Name]
				if !ok {
					v, ok = c.doc.Credentials[inst.Def.ID][e.Name]
				}
				env[i].Type, env[i].Value = TypeStr, nil
				if ok {
					env[i].Value = jsonString(v)
				}
			}
		}
		raw, err := json.Marshal(env)
		if err == nil {
			holder := flows.NewNode(inst.ID, "subflow-env")
			holder.Set("env", raw)
			s.vars = evalEnvList(holder, &envScope{builtins: b, parent: parent})
		}
	}
	c.scopes["subflow:"+id] = s
	return s
}

// nodePath is Node-RED's NR_NODE_PATH of node n: its tab's id, or its
// instance's path, then the node's id (in its subflow, for a node of one).
func (c *compiler) nodePath(n *flows.Node) string {
	if c.exp != nil {
		if o, ok := c.exp.Origin[n.ID]; ok {
			if inst := c.exp.Instances[o.Instance]; inst != nil {
				return inst.Path + "/" + o.Alias
			}
		}
	}
	z := n.Z
	if c.byID[z] == nil {
		z = "global"
	}
	return z + "/" + n.ID
}

// subflowProblems says, for problems with nodes copied out of a subflow,
// which instance and which node of the subflow they are about; the
// problem is reported against the instance the document has (the one on
// a tab), on its line.
func subflowProblems(exp *flows.Expansion, probs flows.Problems) flows.Problems {
	if exp == nil || len(exp.Instances) == 0 {
		return probs
	}
	for i, p := range probs {
		where := exp.Describe(p.NodeID)
		if where == "" {
			continue
		}
		top := exp.Instances[exp.Top(p.NodeID)]
		if top == nil {
			continue
		}
		msg := where + ": " + p.Msg
		if p.Field != "" {
			msg = fmt.Sprintf("%s, field %q: %s", where, p.Field, p.Msg)
		}
		typ := p.Type
		if typ != "" {
			msg = fmt.Sprintf("%s (%s)%s", where, typ, strings.TrimPrefix(msg, where))
		}
		probs[i] = flows.Problem{NodeID: top.ID, Type: top.Node.Type, Line: top.Node.Line, Msg: msg}
	}
	return probs
}

// subflowOff reports the nodes of the expansion that do not run: those of
// a disabled instance, or of an instance on a disabled tab.
func subflowOff(exp *flows.Expansion, off map[string]bool) {
	if exp == nil {
		return
	}
	for _, n := range exp.Doc.Nodes { // instances come before their nodes
		if o, ok := exp.Origin[n.ID]; ok && off[o.Instance] {
			off[n.ID] = true
		}
	}
}

// rootTabs returns, for the tabs a flows deploy restarts as an expanded
// document's diff lists them (the "z" of what changed, which for a node
// of a subflow instance is the instance), the tabs of the document
// itself, and every instance on them (to any depth), so that keepSet
// restarts the whole tab.
func rootTabs(doc *flows.Document, tabs []string) []string {
	z := make(map[string]string, len(doc.Nodes))
	for _, n := range doc.Nodes {
		z[n.ID] = n.Z
	}
	root := func(id string) string {
		for depth := 0; depth <= flows.MaxSubflowDepth+1; depth++ {
			parent, ok := z[id]
			if !ok || parent == "" {
				return id
			}
			id = parent
		}
		return id
	}
	roots := make(map[string]bool)
	for _, t := range tabs {
		roots[root(t)] = true
	}
	var out []string
	for _, n := range doc.Nodes {
		if roots[n.ID] || (strings.HasPrefix(n.Type, flows.SubflowPrefix) && roots[root(n.ID)]) {
			out = append(out, n.ID)
		}
	}
	for t := range roots {
		if doc.Node(t) == nil {
			out = append(out, t)
		}
	}
	return out
}

// subflowUp returns, for z the id of a subflow instance, the flow around
// the instance and the instance's slot and id: where Node-RED passes an
// error or status that nothing inside the instance handled, with the
// instance as the reporting node (catch and status scopes name it). For
// a status, nothing goes up from an instance whose subflow has a status
// output. ok is false when z is not an instance.
func (g *Graph) subflowUp(z string, status bool) (parent string, idx int, id string, ok bool) {
	if g.exp == nil || g.exp.Instances[z] == nil {
		return "", 0, "", false
	}
	i, found := g.index[z]
	if !found {
		return "", 0, "", false
	}
	if _, hasStatus := g.index[z+":status"]; status && hasStatus {
		return "", 0, "", false
	}
	h := g.slots[i].host
	return h.z, i, h.id, h.z != ""
}
