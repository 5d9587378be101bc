package engine

import (
	"slices"
)

// LinkRole is the part a link node plays (Node-RED's link in, link out and
// link call).
type LinkRole uint8

// The link roles.
const (
	// LinkIn receives what link out nodes send to it, and what link
	// call nodes call it with, and sends it from its output.
	LinkIn LinkRole = iota + 1
	// LinkOut sends what it receives to the link in nodes it is linked
	// with (its own Links, and the link in nodes that list it).
	LinkOut
	// LinkReturn sends what it receives back to the link call node that
	// called the flow it is in (a link out in "return" mode).
	LinkReturn
	// LinkCall calls a link in node (Links[0], or a target chosen per
	// message when Links is empty) and sends what comes back.
	LinkCall
)

// Link is how a link node is linked.
type Link struct {
	Role  LinkRole
	Links []string // ids of the link nodes at the other end
}

// Linker is implemented by link nodes. The runtime calls Link once, when
// it compiles the graph. It wires each link out to its link in nodes, on
// any tab, and checks the graph for cycles with those links (and each
// static link call's call) as wires, so that a cycle through links is
// refused naming the link nodes on it; a link call's return is not a
// wire. A link out and the link in nodes it reaches cost nothing when
// messages flow: the nodes wired to a link out are wired straight to what
// its link in nodes are wired to (unless a complete node watches one of
// them, which must then see it finish messages).
type Linker interface {
	Link() Link
}

// linkTable holds a graph's link nodes.
type linkTable struct {
	ins []int // the link in nodes, in document order, for lookups by name
}

// NodeRef names a running node.
type NodeRef struct {
	ID, Name, Flow string
}

// linkWire gives the link nodes of g their wires (before the cycle check),
// and returns the extra edges the cycle check follows: each static link
// call to the link in it calls.
func (c *compiler) linkWire(g *Graph) map[int][]int {
	roles := make(map[int]Link)
	var outs []int // link out nodes, in document order
	for i, s := range g.slots {
		if l, ok := s.node.(Linker); ok {
			link := l.Link()
			roles[i] = link
			if link.Role == LinkOut {
				outs = append(outs, i)
			}
		}
	}
	if len(roles) == 0 {
		return nil
	}
	isIn := func(id string) (int, bool) {
		j, ok := g.index[id]
		if !ok {
			return 0, false
		}
		return j, roles[j].Role == LinkIn
	}
	// A link out's targets are its own links and the link in nodes that
	// list it, as Node-RED unites them.
	targets := make(map[int][]int)
	add := func(out, in int) {
		if !slices.Contains(targets[out], in) {
			targets[out] = append(targets[out], in)
		}
	}
	for _, n := range c.doc.Nodes {
		i, ok := g.index[n.ID]
		if !ok {
			continue
		}
		l := roles[i]
		switch l.Role {
		case LinkIn:
			for _, id := range l.Links {
				if j, ok := g.index[id]; ok && roles[j].Role == LinkOut {
					add(j, i)
				}
			}
		case LinkOut:
			for _, id := range l.Links {
				if j, ok := isIn(id); ok {
					add(i, j)
				} else if _, there := c.byID[id]; there && !c.off[id] {
					c.warn(n, "links", "linked to %q, which is not a link in node: the link is dropped", id)
				}
			}
		}
	}
	for _, i := range outs {
		g.slots[i].wires = [][]int{targets[i]}
	}
	extra := make(map[int][]int)
	lt := &linkTable{}
	for i, l := range roles {
		switch l.Role {
		case LinkIn:
			lt.ins = append(lt.ins, i)
		case LinkCall:
			if len(l.Links) > 0 {
				if j, ok := isIn(l.Links[0]); ok {
					extra[i] = append(extra[i], j)
				}
			}
		}
	}
	slices.Sort(lt.ins)
	g.links = lt
	return extra
}

// flattenLinks wires the nodes wired to a link out straight to what its
// link in nodes are wired to; the graph has no cycles.
func (g *Graph) flattenLinks() {
	pass := make(map[int]bool)
	for i, s := range g.slots {
		l, ok := s.node.(Linker)
		if !ok || s.watched {
			continue
		}
		if r := l.Link().Role; r == LinkOut || r == LinkIn {
			pass[i] = true
		}
	}
	if len(pass) == 0 {
		return
	}
	memo := make(map[int][]int)
	var expand func(t int) []int
	expand = func(t int) []int {
		if !pass[t] {
			return []int{t}
		}
		if e, ok := memo[t]; ok {
			return e
		}
		var e []int
		for _, port := range g.slots[t].wires {
			for _, u := range port {
				e = append(e, expand(u)...)
			}
		}
		memo[t] = e
		return e
	}
	for _, s := range g.slots {
		for p, port := range s.wires {
			if !slices.ContainsFunc(port, func(t int) bool { return pass[t] }) {
				continue
			}
			var flat []int
			for _, t := range port {
				flat = append(flat, expand(t)...)
			}
			s.wires[p] = flat
		}
	}
}

// LinkTargets returns the link in nodes of the graph the node is in now,
// in document order, for a link call that picks its target per message.
func (h *Host) LinkTargets() []NodeRef {
	b := h.at.Load()
	if b == nil || b.g.links == nil {
		return nil
	}
	ins := b.g.links.ins
	out := make([]NodeRef, 0, len(ins))
	for _, i := range ins {
		th := b.g.slots[i].host
		out = append(out, NodeRef{ID: th.id, Name: th.name, Flow: th.z})
	}
	return out
}

// Peer returns the running node with the given id in the graph the node
// is in now, or nil: how a link out in return mode finds the link call
// to return to. Do not keep it.
func (h *Host) Peer(id string) Node {
	b := h.at.Load()
	if b == nil {
		return nil
	}
	return b.g.Node(id)
}

// Deliver hands m to the input of the node with the given id, in the graph
// the node is in now, as a wire would (synchronously, on the caller's
// goroutine), and reports whether there is such a node with an input:
// how a link call calls its link in node. m must not be used after.
func (h *Host) Deliver(id string, m *Message) bool {
	b := h.acquire()
	if b == nil {
		return false
	}
	defer b.g.active.Add(-1)
	i, ok := b.g.index[id]
	if !ok || b.g.slots[i].recv == nil {
		return false
	}
	h.out.Add(1)
	if m.calls < 255 {
		m.calls++
	}
	b.g.deliver(i, m)
	return true
}
