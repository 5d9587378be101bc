package common

import (
	"context"

	"github.com/runnel-io/runnel/engine"
)

// CommentConfig is the configuration of a comment node: just text.
type CommentConfig struct {
	Info string `json:"info" label:"Text" kind:"code" lang:"markdown"`
}

// JunctionConfig is the (empty) configuration of a junction.
type JunctionConfig struct{}

type comment struct{}

// junction passes every message through unchanged; it only shapes wires.
type junction struct{}

func (junction) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	out.Send(0, m)
	return nil
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "comment",
		Category: "common",
		Color:    "#ffffff",
		Icon:     "comment.svg",
		Help:     "A note on the canvas. It does nothing when the flow runs.",
	}, func(*CommentConfig, *engine.Host) (engine.Node, error) { return comment{}, nil }))
	engine.Register(engine.NewType(engine.Meta{
		Type:     "junction",
		Category: "common",
		Inputs:   1,
		Outputs:  1,
		Help:     "A point where wires meet; messages pass through unchanged.",
	}, func(*JunctionConfig, *engine.Host) (engine.Node, error) { return junction{}, nil }))
}
