package flows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Diff says how one flow document differs from another, node by node, with
// Node-RED's deploy rules: a node is Changed when any property other than
// its position (x, y) and wires differs, Rewired when only its wires
// differ, and Moved when only its position differs. A node that refers to
// a changed config node (any string property equal to the config node's
// id) counts as Changed too, and so does every node of a tab whose own
// properties (label, disabled) changed. A node whose credentials
// (Document.Credentials) changed is Changed. Each list is sorted.
type Diff struct {
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Changed []string `json:"changed,omitempty"`
	Rewired []string `json:"rewired,omitempty"`
	Moved   []string `json:"moved,omitempty"`
	// Tabs lists the tabs with anything added, removed, changed or
	// rewired on them, or changed themselves: the tabs a "flows" deploy
	// restarts.
	Tabs []string `json:"tabs,omitempty"`
}

// Compare returns how next differs from prev. Either may be nil (an empty
// document).
func Compare(prev, next *Document) Diff {
	if prev == nil {
		prev = &Document{}
	}
	if next == nil {
		next = &Document{}
	}
	old := make(map[string]*Node, len(prev.Nodes))
	for _, n := range prev.Nodes {
		old[n.ID] = n
	}
	cur := make(map[string]*Node, len(next.Nodes))
	for _, n := range next.Nodes {
		cur[n.ID] = n
	}
	var d Diff
	changed := map[string]bool{}
	rewired := map[string]bool{}
	for _, n := range next.Nodes {
		o, ok := old[n.ID]
		switch {
		case !ok:
			d.Added = append(d.Added, n.ID)
		case !sameConfig(o, n) || !sameCredentials(prev.Credentials, next.Credentials, n.ID):
			changed[n.ID] = true
		case !wiresEqual(o.Wires, n.Wires):
			rewired[n.ID] = true
		case !samePosition(o, n):
			d.Moved = append(d.Moved, n.ID)
		}
	}
	for _, n := range prev.Nodes {
		if _, ok := cur[n.ID]; !ok {
			d.Removed = append(d.Removed, n.ID)
		}
	}

	// Changes spread from config nodes to the nodes that use them and from
	// tabs to their nodes, until nothing more changes (config nodes may
	// refer to other config nodes).
	tabTypes := func(n *Node) bool { return n.Type == "tab" || n.Type == "subflow" }
	for spread := true; spread; {
		spread = false
		for _, n := range next.Nodes {
			if changed[n.ID] || tabTypes(n) {
				continue
			}
			if _, existed := old[n.ID]; !existed {
				continue
			}
			if (n.Z != "" && changed[n.Z]) || refersTo(n, changed, cur) {
				changed[n.ID] = true
				delete(rewired, n.ID)
				spread = true
			}
		}
	}
	d.Moved = filter(d.Moved, func(id string) bool { return !changed[id] })
	d.Changed = sortedKeys(changed)
	d.Rewired = sortedKeys(rewired)

	tabs := map[string]bool{}
	mark := func(doc map[string]*Node, id string) {
		n := doc[id]
		if n == nil {
			return
		}
		if tabTypes(n) {
			tabs[n.ID] = true
		} else if n.Z != "" {
			tabs[n.Z] = true
		}
	}
	for _, id := range d.Added {
		mark(cur, id)
	}
	for _, id := range d.Removed {
		mark(old, id)
	}
	for _, id := range d.Changed {
		mark(cur, id)
	}
	for _, id := range d.Rewired {
		mark(cur, id)
	}
	d.Tabs = sortedKeys(tabs)
	sort.Strings(d.Added)
	sort.Strings(d.Removed)
	sort.Strings(d.Moved)
	return d
}

// Empty reports whether nothing but positions changed.
func (d Diff) Empty() bool {
	return len(d.Added)+len(d.Removed)+len(d.Changed)+len(d.Rewired) == 0
}

// Summary describes the diff in a few words, such as
// "1 added, 2 changed, 1 removed", or "no changes".
func (d Diff) Summary() string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(len(d.Added), "added")
	add(len(d.Changed), "changed")
	add(len(d.Rewired), "rewired")
	add(len(d.Removed), "removed")
	add(len(d.Moved), "moved")
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}

// configKey reports whether a property is part of a node's configuration
// for the diff: everything but its position and wires.
func configKey(k string) bool {
	switch k {
	case "x", "y", "wires":
		return false
	}
	return true
}

// sameConfig compares two versions of a node's configuration property by
// property, ignoring property order and JSON whitespace. The typed fields
// are compared as fields (they win over their properties, see Props), the
// other properties as stored: byte for byte, and compacted only when the
// bytes differ.
func sameConfig(a, b *Node) bool {
	if a.ID != b.ID || a.Type != b.Type || a.Z != b.Z || a.Name != b.Name || a.Disabled != b.Disabled {
		return false
	}
	na, nb := 0, 0
	for _, p := range a.props {
		if !compared(p.Key) {
			continue
		}
		na++
		w, ok := b.raw(p.Key)
		if !ok || (!bytes.Equal(p.Value, w) && !bytes.Equal(compactJSON(p.Value), compactJSON(w))) {
			return false
		}
	}
	for _, p := range b.props {
		if compared(p.Key) {
			nb++
		}
	}
	return na == nb
}

// compared reports whether sameConfig compares a stored property: the
// configuration, less the properties behind typed fields.
func compared(k string) bool { return configKey(k) && !typedKey(k) }

func samePosition(a, b *Node) bool {
	for _, k := range []string{"x", "y"} {
		va, _ := a.Get(k)
		vb, _ := b.Get(k)
		if !bytes.Equal(compactJSON(va), compactJSON(vb)) {
			return false
		}
	}
	return true
}

func compactJSON(v json.RawMessage) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return v
	}
	return b.Bytes()
}

// refersTo reports whether any string property of n names a node in ids
// (a config node reference such as mqtt-in's "broker").
func refersTo(n *Node, ids map[string]bool, doc map[string]*Node) bool {
	for _, p := range n.props {
		if !configKey(p.Key) || p.Key == "id" || p.Key == "z" || len(p.Value) < 2 || p.Value[0] != '"' {
			continue
		}
		s, ok := stringValue(p.Value)
		if ok && ids[s] && doc[s] != nil && doc[s].Z != n.ID {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

func filter(ids []string, keep func(string) bool) []string {
	var out []string
	for _, id := range ids {
		if keep(id) {
			out = append(out, id)
		}
	}
	return out
}
