package common

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runnel-io/runnel/engine"
)

// LinkInConfig is the configuration of a link in node.
type LinkInConfig struct {
	Links json.RawMessage `json:"links" label:"Links" kind:"links" node:"link out" default:"[]" help:"The link out nodes that send to this node; a link out may list this node instead"`
}

// LinkOutConfig is the configuration of a link out node.
type LinkOutConfig struct {
	Mode  string          `json:"mode" label:"Mode" default:"link" options:"link=Send to all connected link nodes,return=Return to calling link node"`
	Links json.RawMessage `json:"links" label:"Links" kind:"links" node:"link in" default:"[]" help:"The link in nodes to send to, on any tab" showif:"mode=link"`
}

// LinkCallConfig is the configuration of a link call node.
type LinkCallConfig struct {
	Links    json.RawMessage `json:"links" label:"Link" kind:"links" node:"link in" default:"[]" help:"The link in node to call" showif:"linkType=static"`
	LinkType string          `json:"linkType" label:"Link type" default:"static" options:"static=Fixed target,dynamic=Dynamic target (msg.target)"`
	Timeout  string          `json:"timeout" label:"Timeout (s)" default:"30" help:"Seconds to wait for the called flow to return the message before reporting the error \"timeout\" against it"`
}

// LinkInType is Node-RED's link in node.
var LinkInType = engine.NewType(engine.Meta{
	Type:     "link in",
	Category: "common",
	Outputs:  1,
	Color:    "#ddd",
	Icon:     "link-out.svg",
	Labels:   []engine.LabelRule{{Text: "{name}"}, {Text: "link in"}},
	Help: `Receives what link out nodes send to it, on this tab or any other, and what link call nodes call it with: Node-RED's **link in** node.

**links** lists the link out nodes that send to it; a link out may equally list the link in (the two lists
are united, as in Node-RED). A link call finds it by id or, in dynamic mode, by name.

Links are wires: they are part of the cycle check (a flow that loops back on itself through links is
refused, naming the nodes on the loop), and at deploy a link out and its link in nodes are replaced by
direct wiring, so that they cost nothing when messages flow.`,
}, func(cfg *LinkInConfig, _ *engine.Host) (engine.Node, error) {
	links, err := parseLinks(cfg.Links)
	if err != nil {
		return nil, err
	}
	return &linkIn{links: links}, nil
})

// LinkOutType is Node-RED's link out node.
var LinkOutType = engine.NewType(engine.Meta{
	Type:     "link out",
	Category: "common",
	Inputs:   1,
	Color:    "#ddd",
	Icon:     "link-out.svg",
	Labels:   []engine.LabelRule{{Text: "{name}"}, {Text: "link out"}},
	Help: `Sends messages to link in nodes, on this tab or any other, or back to the link call that called its flow: Node-RED's **link out** node.

**mode** link sends each message to every link in node it is linked with (its **links**, and the link in
nodes that list it). Mode return sends the message back to the link call node that called the flow the
message is in (the last entry of msg._linkSource, which that call added); a message that no link call
sent is dropped with a warning, as in Node-RED.`,
}, func(cfg *LinkOutConfig, h *engine.Host) (engine.Node, error) {
	links, err := parseLinks(cfg.Links)
	if err != nil {
		return nil, err
	}
	switch cfg.Mode {
	case "", "link":
		return &linkOut{h: h, link: engine.Link{Role: engine.LinkOut, Links: links}}, nil
	case "return":
		return &linkOut{h: h, link: engine.Link{Role: engine.LinkReturn}}, nil
	}
	return nil, engine.ErrField("mode", fmt.Errorf("%q is not one of \"link\", \"return\"", cfg.Mode))
})

// LinkCallType is Node-RED's link call node.
var LinkCallType = engine.NewType(engine.Meta{
	Type:     "link call",
	Category: "common",
	Inputs:   1,
	Outputs:  1,
	Color:    "#ddd",
	Icon:     "link-call.svg",
	Labels:   []engine.LabelRule{{Text: "{name}"}, {Text: "link call"}},
	Help: `Calls a flow that starts at a link in node and sends what a link out in return mode sends back: Node-RED's **link call** node.

With **linkType** static it calls the link in node in **links**. With dynamic it calls the link in node named
by **msg.target**: its id, else its name (a link in on this tab first, else the only one of that name on any
tab; two of that name elsewhere is an error). A target that is not found is an error against the message.

The message keeps a stack of calls in msg._linkSource (Node-RED's form: {id, node}); the return pops it and
deletes it once empty. When no return comes within **timeout** seconds (30 when empty or not a number), the
error "timeout" is reported against the message as it was called, for catch nodes.

Where Runnel differs: a static call is part of the cycle check (a flow that calls itself is refused at
deploy); a dynamic call nested more than 64 deep is an error instead of running until memory runs out; the
timeout starts once the called flow has handed the message on (Runnel runs a flow synchronously up to
the first node that holds the message).`,
}, newLinkCall)

func init() {
	engine.Register(LinkInType)
	engine.Register(LinkOutType)
	engine.Register(LinkCallType)
}

// parseLinks reads a list of node ids (Node-RED also writes a single id).
func parseLinks(raw json.RawMessage) ([]string, error) {
	var v any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, engine.ErrField("links", err)
		}
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if x == "" {
			return nil, nil
		}
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			id, ok := e.(string)
			if !ok {
				return nil, engine.ErrField("links", fmt.Errorf("the list holds %s, not a node id", engine.MarshalJSON(e)))
			}
			out = append(out, id)
		}
		return out, nil
	}
	return nil, engine.ErrField("links", fmt.Errorf("%s is not a list of node ids", raw))
}

type linkIn struct{ links []string }

// Link says which link out nodes send to the node.
func (n *linkIn) Link() engine.Link { return engine.Link{Role: engine.LinkIn, Links: n.links} }

// Receive sends m on: a link call's message, or a link out's when the
// links were not wired directly.
func (n *linkIn) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	out.Send(0, m)
	return nil
}

type linkOut struct {
	h    *engine.Host
	link engine.Link
}

// Link says where the node sends.
func (n *linkOut) Link() engine.Link { return n.link }

var errMissingReturn = errors.New("missing return")

// Receive sends m to the linked link in nodes, or back to its caller.
func (n *linkOut) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	if n.link.Role == engine.LinkOut {
		out.Send(0, m)
		return nil
	}
	stack, _ := m.Prop("_linkSource")
	entries, ok := decode(stack).([]any)
	if !ok || len(entries) == 0 {
		n.h.Logger().Warn("link out: " + errMissingReturn.Error())
		return nil
	}
	top, _ := decode(entries[len(entries)-1]).(map[string]any)
	entries = entries[:len(entries)-1]
	m.SetProp("_linkSource", entries)
	id, _ := top["id"].(string)
	caller, _ := top["node"].(string)
	if c, ok := n.h.Peer(caller).(*linkCall); ok {
		c.returned(id, m)
		return nil
	}
	n.h.Logger().Warn("link out: "+errMissingReturn.Error(), "node", caller)
	return nil
}

// maxLinkDepth bounds how many link calls a message may be inside.
const maxLinkDepth = 64

type linkCall struct {
	h       *engine.Host
	target  string
	dynamic bool
	timeout time.Duration

	mu      sync.Mutex
	pending map[string]*call
	closed  bool
}

// call is a message a link call has sent and waits for.
type call struct {
	orig  *engine.Message // as it was called, for the timeout error
	out   engine.Output
	timer *time.Timer
}

func newLinkCall(cfg *LinkCallConfig, h *engine.Host) (engine.Node, error) {
	links, err := parseLinks(cfg.Links)
	if err != nil {
		return nil, err
	}
	n := &linkCall{h: h, dynamic: cfg.LinkType == "dynamic", pending: make(map[string]*call)}
	if len(links) > 0 {
		n.target = links[0]
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(cfg.Timeout), 64)
	if err != nil || secs != secs {
		secs = 30 // Node-RED's parseFloat falls back to 30 s on NaN
	}
	if secs < 0 {
		secs = 0
	}
	if secs > 1<<31/1000 {
		secs = 1 << 31 / 1000
	}
	n.timeout = time.Duration(secs * float64(time.Second))
	return n, nil
}

// Link says which link in node the call calls (none when dynamic).
func (n *linkCall) Link() engine.Link {
	if n.dynamic || n.target == "" {
		return engine.Link{Role: engine.LinkCall}
	}
	return engine.Link{Role: engine.LinkCall, Links: []string{n.target}}
}

// Receive calls the target link in with m.
func (n *linkCall) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	target, err := n.resolve(m)
	if err != nil {
		return err
	}
	stack, _ := m.Prop("_linkSource")
	entries, _ := decode(stack).([]any)
	// msg._linkSource can be deleted by the flow: the message's own count
	// of calls cannot.
	if len(entries) >= maxLinkDepth || m.CallDepth() >= maxLinkDepth {
		return fmt.Errorf("link calls nested more than %d deep", maxLinkDepth)
	}
	var raw [14]byte
	_, _ = rand.Read(raw[:])
	id := hex.EncodeToString(raw[:])
	orig := m.Copy()
	orig.SetProp("_linkSource", append([]any{}, entries...))
	entries = append(append([]any{}, entries...), map[string]any{"id": id, "node": n.h.ID()})
	m.SetProp("_linkSource", entries)

	c := &call{orig: orig, out: out}
	n.mu.Lock()
	n.pending[id] = c
	n.mu.Unlock()
	if !n.h.Deliver(target, m) {
		n.mu.Lock()
		delete(n.pending, id)
		n.mu.Unlock()
		return fmt.Errorf("Error: target link-in node '%s' not found", target)
	}
	// Most flows return before Deliver does; only a flow that holds the
	// message (a delay) needs the timer.
	n.mu.Lock()
	if _, waiting := n.pending[id]; waiting && !n.closed {
		c.timer = time.AfterFunc(n.timeout, func() { n.timedOut(id) })
	}
	n.mu.Unlock()
	return nil
}

// resolve finds the link in node to call for m.
func (n *linkCall) resolve(m *engine.Message) (string, error) {
	target := n.target
	if n.dynamic {
		v, _ := m.Prop("target")
		target, _ = v.(string)
	}
	refs := n.h.LinkTargets()
	for _, r := range refs {
		if r.ID == target {
			return target, nil
		}
	}
	if target != "" && n.dynamic {
		var here, all []string
		for _, r := range refs {
			name := r.Name
			if name == "" {
				name = r.ID
			}
			if name != target {
				continue
			}
			all = append(all, r.ID)
			if r.Flow == n.h.Flow() {
				here = append(here, r.ID)
			}
		}
		if len(here) == 1 {
			return here[0], nil
		}
		if len(all) == 1 {
			return all[0], nil
		}
		if len(all) > 1 {
			return "", fmt.Errorf("Error: Multiple link-in nodes named '%s' found", target)
		}
	}
	return "", fmt.Errorf("Error: target link-in node '%s' not found", target)
}

// returned sends m, returned by a link out for call id, from the node's
// output; a call it no longer waits for (timed out) is sent anyway, as
// Node-RED does.
func (n *linkCall) returned(id string, m *engine.Message) {
	if st, _ := m.Prop("_linkSource"); st != nil {
		if l, ok := st.([]any); ok && len(l) == 0 {
			m.DeleteProp("_linkSource")
		}
	}
	n.mu.Lock()
	c := n.pending[id]
	delete(n.pending, id)
	if c != nil && c.timer != nil {
		c.timer.Stop()
	}
	n.mu.Unlock()
	if c != nil {
		c.out.Send(0, m)
		return
	}
	n.h.Send(0, m)
}

func (n *linkCall) timedOut(id string) {
	n.mu.Lock()
	c := n.pending[id]
	delete(n.pending, id)
	n.mu.Unlock()
	if c != nil {
		n.h.Error(errors.New("timeout"), c.orig)
	}
}

// Close stops the timers of the calls still waiting.
func (n *linkCall) Close(context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	for id, c := range n.pending {
		if c.timer != nil {
			c.timer.Stop()
		}
		delete(n.pending, id)
	}
	return nil
}

// decode returns v with a JSON object or array kept as bytes decoded.
func decode(v any) any {
	if r, ok := v.(engine.RawJSON); ok {
		return r.Decode()
	}
	return v
}
