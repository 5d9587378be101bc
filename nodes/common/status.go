package common

import (
	"context"
	"encoding/json"

	"github.com/runnel-io/runnel/engine"
)

// StatusConfig is the configuration of a status node, with Node-RED's
// property names.
type StatusConfig struct {
	Scope json.RawMessage `json:"scope" label:"Report status from" default:"null" help:"null: every node on this tab; \"group\": the nodes in this node's group (and the groups inside it); a list of node ids, such as [\"a1\",\"b2\"]: those nodes"`
}

// StatusType is Node-RED's status node.
var StatusType = engine.NewType(engine.Meta{
	Type:     "status",
	Category: "common",
	Outputs:  1,
	Color:    "#94c1d0",
	Icon:     "status.svg",
	Labels:   []engine.LabelRule{{Text: "status"}},
	Help: `Reports status changes of nodes on the same tab as messages: Node-RED's **status** node.

Each status a node sets (what the editor shows under it, such as the function node's node.status)
becomes a new message with **msg.status** = {fill, shape, text, source: {id, type, name}}. fill, shape
and text are left out when empty, so a status that clears the node's gives {source} alone; name is left
out for a node without one.

**scope**: every node on the tab (null), the nodes of this node's group and of the groups inside it
("group"), or a list of node ids (the nodes this status node is itself wired to are dropped from the
list, as Node-RED does). Nearer groups come first.

Where Runnel differs: the keys of msg.status are always in the order fill, shape, text (Node-RED keeps
the order the node wrote them in); status of config nodes is not passed to the nodes that use them; and
deliveries that feed the same status node again while it is still handling one (a flow that sets the
status of a node this status node watches) stop after 64 levels instead of looping for ever.`,
}, newStatus)

func init() { engine.Register(StatusType) }

type statusNode struct{ watch engine.Watch }

func newStatus(cfg *StatusConfig, _ *engine.Host) (engine.Node, error) {
	w := engine.Watch{Kind: engine.WatchStatus}
	if err := parseScope(cfg.Scope, &w, true); err != nil {
		return nil, err
	}
	return &statusNode{watch: w}, nil
}

// Watch says which status changes the node receives.
func (n *statusNode) Watch() engine.Watch { return n.watch }

// Receive sends the status message on.
func (n *statusNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	out.Send(0, m)
	return nil
}
