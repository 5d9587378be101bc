package common

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/runnel-io/runnel/engine"
)

// CatchConfig is the configuration of a catch node, with Node-RED's
// property names.
type CatchConfig struct {
	Scope    json.RawMessage `json:"scope" label:"Catch errors from" default:"null" help:"null: every node on this tab; \"group\": the nodes in this node's group (and the groups inside it); a list of node ids, such as [\"a1\",\"b2\"]: those nodes"`
	Uncaught bool            `json:"uncaught" label:"Ignore errors handled by other Catch nodes"`
}

// CatchType is Node-RED's catch node.
var CatchType = engine.NewType(engine.Meta{
	Type:     "catch",
	Category: "common",
	Outputs:  1,
	Color:    "#e49191",
	Icon:     "alert.svg",
	Labels:   []engine.LabelRule{{Text: "catch"}},
	Help: `Catches errors that nodes on the same tab report against a message, and sends that message on: Node-RED's **catch** node.

The message sent is a copy of the message the error was reported against, with **msg.error** set to
{message, source: {id, type, name, count}} in that order (name is left out for a node without one). A
msg.error the message already had moves to **msg._error**. **count** is how many times the same node's
error has been caught for this message: a flow that passes the caught message back into the node that
failed stops at the tenth time (logged as "Message exceeded maximum number of catches"), as in Node-RED.

**scope**: every node on the tab (null), the nodes of this node's group and of the groups inside it
("group"), or a list of node ids. Catch nodes with a list or a group get an error first, then those for
the whole tab; nearer groups before further ones. With **uncaught** set the node gets only errors that no
catch node before it handled.

Errors reach it from every node: an error returned from a node's input handler (Node-RED's done(err) or
a thrown exception), a node's error report against a message (the function node's node.error(err, msg)
and what its code throws), a panic while a node handles a message (Node-RED's synchronous throw). Errors
reported without a message (a connection that fails, node.error(err) without msg, a panic on a node's
own goroutine) are logged and not caught, as in Node-RED. Where Runnel differs: msg.error has no
**stack** (Runnel's errors have no JavaScript stack); errors of config nodes are not passed to the nodes
that use them; and deliveries that feed the same catch node again while it is still handling an error
stop after 64 levels, so that such a flow cannot exhaust the stack.`,
}, newCatch)

func init() { engine.Register(CatchType) }

type catchNode struct{ watch engine.Watch }

func newCatch(cfg *CatchConfig, _ *engine.Host) (engine.Node, error) {
	w := engine.Watch{Kind: engine.WatchErrors, Uncaught: cfg.Uncaught}
	if err := parseScope(cfg.Scope, &w, true); err != nil {
		return nil, err
	}
	return &catchNode{watch: w}, nil
}

// parseScope reads Node-RED's scope: null, "group" (where group is
// allowed) or a list of node ids. A list is never nil, so that an empty
// list watches no node.
func parseScope(raw json.RawMessage, w *engine.Watch, group bool) error {
	var v any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &v); err != nil {
			return engine.ErrField("scope", err)
		}
	}
	switch x := v.(type) {
	case nil:
	case string:
		if x != "group" || !group {
			return engine.ErrField("scope", fmt.Errorf("%q is not a scope (want null, \"group\" or a list of node ids)", x))
		}
		w.Group = true
	case []any:
		w.Scope = make([]string, 0, len(x))
		for _, e := range x {
			id, ok := e.(string)
			if !ok {
				return engine.ErrField("scope", fmt.Errorf("the list holds %s, not a node id", engine.MarshalJSON(e)))
			}
			w.Scope = append(w.Scope, id)
		}
	default:
		return engine.ErrField("scope", fmt.Errorf("%s is not a scope (want null, \"group\" or a list of node ids)", raw))
	}
	return nil
}

// Watch says which errors the node receives.
func (n *catchNode) Watch() engine.Watch { return n.watch }

// Receive sends the error message on.
func (n *catchNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	out.Send(0, m)
	return nil
}
