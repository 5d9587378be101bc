package common

import (
	"context"
	"encoding/json"

	"github.com/runnel-io/runnel/engine"
)

// CompleteConfig is the configuration of a complete node, with Node-RED's
// property names.
type CompleteConfig struct {
	Scope    json.RawMessage `json:"scope" label:"Report completion of" default:"[]" help:"The ids of the nodes to watch, such as [\"a1\",\"b2\"]"`
	Uncaught bool            `json:"uncaught" kind:"hidden"`
}

// CompleteType is Node-RED's complete node.
var CompleteType = engine.NewType(engine.Meta{
	Type:     "complete",
	Category: "common",
	Outputs:  1,
	Color:    "#c0edc0",
	Icon:     "alert.svg",
	Labels:   []engine.LabelRule{{Text: "complete"}},
	Help: `Sends a message when one of the nodes it watches has finished with it: Node-RED's **complete** node.

The message is a copy of the message the watched node finished, with **msg.complete** =
{source: {id, type, name}} (name left out for a node without one). **scope** lists the watched nodes by
id; the nodes this complete node is itself wired to are dropped from it, as Node-RED does.

When a node has finished: Node-RED fires when a node calls done() (or, for nodes that do not, after its
input handler returns). Runnel's nodes finish a message when their Receive returns without an error and
without having reported an error against that very message: a node that fails on a message fires catch
nodes, not complete ones, as done(err) does in Node-RED. The message is the one the node received, as it
was when the node sent it on (or as it is when the node returns, when it did not send it on). Where this
differs from Node-RED: a node that keeps a message to finish it later (a delay) finishes it when its
Receive returns, not when it sends it; a function node finishes when its code returns, even with an
asynchronous node.done() still to come, and reports the message as it received it, not as the code
changed it.`,
}, newComplete)

func init() { engine.Register(CompleteType) }

type completeNode struct{ watch engine.Watch }

func newComplete(cfg *CompleteConfig, _ *engine.Host) (engine.Node, error) {
	w := engine.Watch{Kind: engine.WatchComplete}
	if err := parseScope(cfg.Scope, &w, false); err != nil {
		return nil, err
	}
	return &completeNode{watch: w}, nil
}

// Watch says which nodes the node watches.
func (n *completeNode) Watch() engine.Watch { return n.watch }

// Receive sends the finished message on.
func (n *completeNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	out.Send(0, m)
	return nil
}
