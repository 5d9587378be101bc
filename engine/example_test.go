package engine_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
	_ "github.com/runnel-io/runnel/nodes" // inject and debug
)

// ShoutConfig is the configuration of the custom "shout" node type. Its
// struct tags give the editor's settings form and the validation.
type ShoutConfig struct {
	Suffix string `json:"suffix" label:"Suffix" default:"!" help:"Appended to the text"`
	Times  int    `json:"times" label:"Repeat" default:"1"`
}

// shout upper-cases msg.payload.
type shout struct{ cfg ShoutConfig }

func (s *shout) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	text, ok := m.Payload.(string)
	if !ok {
		return fmt.Errorf("payload is a %s, not a string", engine.TypeName(m.Payload))
	}
	m.Payload = strings.Repeat(strings.ToUpper(text)+s.cfg.Suffix, s.cfg.Times)
	out.Send(0, m)
	return nil
}

// A custom node type in Go: define a config struct and a node, register
// the type, and use it in a flow like any built-in node. In a module of
// your own, register from an init function and build your binary with a
// main that imports your package and calls cli.Main (see package cli).
func Example_customNode() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "shout",
		Category: "function",
		Inputs:   1,
		Outputs:  1,
		Help:     "Upper-cases msg.payload.",
	}, func(cfg *ShoutConfig, h *engine.Host) (engine.Node, error) {
		if cfg.Times < 1 {
			return nil, engine.ErrFieldf("times", "must be at least 1")
		}
		return &shout{cfg: *cfg}, nil
	}))

	doc, err := flows.Parse([]byte(`[
		{"id":"in","type":"inject","props":[{"p":"payload","v":"hello","vt":"str"}],"once":true,"onceDelay":0,"wires":[["up"]]},
		{"id":"up","type":"shout","times":2,"wires":[["out"]]},
		{"id":"out","type":"debug"}
	]`))
	if err != nil {
		fmt.Println(err)
		return
	}
	got := make(chan any, 1)
	rt := engine.New(engine.Options{OnDebug: func(ev engine.DebugEvent) { got <- ev.Value }})
	if err := rt.Deploy(context.Background(), doc); err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Stop(context.Background())
	fmt.Println(<-got)

	// Bad settings are rejected at deploy, naming the node and field.
	bad, _ := flows.Parse([]byte(`[{"id":"up2","type":"shout","times":0}]`))
	fmt.Println(engine.New(engine.Options{}).Deploy(context.Background(), bad))
	// Output:
	// HELLO!HELLO!
	// line 1: node "up2" (shout) field "times": must be at least 1
}
