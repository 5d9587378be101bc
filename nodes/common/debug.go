package common

import (
	"context"
	"sync/atomic"

	"github.com/runnel-io/runnel/engine"
)

// DebugConfig is the configuration of a debug node.
type DebugConfig struct {
	Complete  string `json:"complete" label:"Output" default:"false" options:"false=msg.payload,true=complete msg object" other:"other msg property" help:"What the node shows: msg.payload, the whole message, or another message property (such as payload.temperature)"`
	ToSidebar bool   `json:"tosidebar" label:"To debug window" default:"true"`
	Console   bool   `json:"console" label:"To system log" help:"Also write each message to Runnel's log"`
	ToStatus  bool   `json:"tostatus" label:"To node status" help:"Show the value (its first 32 characters) under the node"`
	Active    bool   `json:"active" label:"Active" default:"true" help:"An inactive debug node shows nothing"`
}

// debug shows messages in the debug sidebar (and whoever else listens).
type debug struct {
	h     *engine.Host
	cfg   DebugConfig
	path  engine.Path
	whole bool
	// active starts as cfg.Active; the editor's button flips it in the
	// running flows, without a deploy (see SetActive).
	active atomic.Bool
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "debug",
		Category: "common",
		Inputs:   1,
		Color:    "#87a980",
		Icon:     "debug.svg",
		Labels: []engine.LabelRule{
			{If: map[string][]string{"complete": {"true"}}, Text: "msg"},
			{If: map[string][]string{"complete": {"false", ""}}, Text: "msg.payload"},
			{Text: "msg.{complete}"},
		},
		Help: `Shows messages in the debug sidebar: msg.payload, the whole message, or another property.`,
	}, newDebug))
}

func newDebug(cfg *DebugConfig, h *engine.Host) (engine.Node, error) {
	d := &debug{h: h, cfg: *cfg}
	d.active.Store(cfg.Active)
	switch cfg.Complete {
	case "true":
		d.whole = true
	case "false", "":
		d.path = engine.MustParsePath("payload")
	default:
		p, err := engine.ParsePath(cfg.Complete)
		if err != nil {
			return nil, engine.ErrField("complete", err)
		}
		d.path = p
	}
	return d, nil
}

// SetActive turns the node on or off while it runs, as Node-RED's
// POST /debug/:id/enable and /disable do; a deploy that rebuilds the node
// takes its configured active again.
func (d *debug) SetActive(on bool) { d.active.Store(on) }

// Active reports whether the node shows messages.
func (d *debug) Active() bool { return d.active.Load() }

// Receive sends the chosen value to the debug sink.
func (d *debug) Receive(_ context.Context, m *engine.Message, _ engine.Output) error {
	if !d.active.Load() {
		return nil
	}
	ev := engine.DebugEvent{Topic: m.Topic, MsgID: m.ID()}
	if d.whole {
		ev.Property = "msg"
		ev.Value = m.Value()
	} else {
		ev.Property = "msg." + d.path.String()
		v, ok := m.Get(d.path)
		if !ok {
			v = nil
		}
		ev.Value = v
	}
	if d.cfg.ToSidebar {
		d.h.Debug(ev)
	}
	if d.cfg.Console {
		d.h.Logger().Info("debug", "msgid", ev.MsgID, "property", ev.Property, "value", engine.ToString(ev.Value))
	}
	if d.cfg.ToStatus {
		text := engine.ToString(ev.Value)
		if len(text) > 32 {
			text = text[:32] + "..."
		}
		d.h.Status(engine.Status{Fill: "grey", Shape: "dot", Text: text})
	}
	return nil
}
