package function

import (
	"context"
	"math"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// RangeConfig is the configuration of a range node, with Node-RED's
// property names.
type RangeConfig struct {
	Minin    float64 `json:"minin" label:"Input from"`
	Maxin    float64 `json:"maxin" label:"Input to"`
	Minout   float64 `json:"minout" label:"Output from"`
	Maxout   float64 `json:"maxout" label:"Output to"`
	Action   string  `json:"action" label:"Action" default:"scale" options:"scale=Scale the message property,clamp=Scale and limit to the target range,roll=Scale and wrap within the target range,drop=Scale and drop if outside the input range" help:"scale: scale the value; clamp: limit it to the input range first; roll: wrap it into the input range first; drop: drop messages outside the input range"`
	Round    bool    `json:"round" label:"Round to the nearest integer"`
	Property string  `json:"property" label:"Property" default:"payload"`
}

// RangeType is Node-RED's range node.
var RangeType = engine.NewType(engine.Meta{
	Type:     "range",
	Category: "function",
	Inputs:   1,
	Outputs:  1,
	Color:    "#E2D96E",
	Icon:     "range.svg",
	Labels:   []engine.LabelRule{{Text: "range"}},
	Help: `Maps a number from one range to another: Node-RED's **range** node.

The **property** (payload by default) is read as a number as JavaScript's Number() does ("12" is 12, " 12 " too, "" and null are 0, true is 1) and mapped linearly from **minin**..**maxin** to **minout**..**maxout**.

**action**:
- **scale**: map the value, even outside the input range (so the output may be outside the output range).
- **clamp**: limit the value to the input range first.
- **roll**: wrap the value into the input range first (with an input range of 0 to 10, 12 becomes 2, -1 becomes 9).
- **drop**: drop messages whose value is outside the input range.

**round** rounds the result to the nearest integer (halves up, as JavaScript's Math.round), and narrows the output range to whole numbers (minout up, maxout down). When minin is greater than maxin, the two ranges are swapped as Node-RED does.

A message without the property (no payload at all, or one a change node deleted) is passed on unchanged; a null payload (a json node parsing "null") is there, and is 0. A value that is not a number (NaN) is logged and the message dropped. A property path through something that does not exist (payload.a.b without payload.a) is an error.`,
}, newRange)

func init() { engine.Register(RangeType) }

type rangeNode struct {
	h                            *engine.Host
	minin, maxin, minout, maxout float64
	action                       string
	round                        bool
	prop                         engine.Path
	parent                       engine.Path
}

func newRange(cfg *RangeConfig, h *engine.Host) (engine.Node, error) {
	n := &rangeNode{h: h, minin: cfg.Minin, maxin: cfg.Maxin, minout: cfg.Minout, maxout: cfg.Maxout, action: cfg.Action, round: cfg.Round}
	if n.minin > n.maxin {
		n.minin, n.maxin = n.maxin, n.minin
		n.minout, n.maxout = n.maxout, n.minout
	}
	if n.round {
		n.maxout = math.Floor(n.maxout)
		n.minout = math.Ceil(n.minout)
	}
	p, err := engine.ParsePath(cfg.Property)
	if err != nil {
		return nil, engine.ErrField("property", err)
	}
	n.prop, n.parent = p, parentPath(p)
	return n, nil
}

// Receive maps the property of m and sends m on.
func (n *rangeNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	v, ok, err := getMsg(m, n.prop, n.parent)
	if err != nil {
		return err
	}
	if !ok {
		out.Send(0, m) // no property: passed on
		return nil
	}
	x := jsv.ToNumber(v)
	if math.IsNaN(x) {
		n.h.Logger().Info("Not a number: " + jsv.ToString(v))
		return nil
	}
	switch n.action {
	case "drop":
		if x < n.minin || x > n.maxin {
			return nil
		}
	case "clamp":
		if x < n.minin {
			x = n.minin
		}
		if x > n.maxin {
			x = n.maxin
		}
	case "roll":
		d := n.maxin - n.minin
		x = math.Mod(math.Mod(x-n.minin, d)+d, d) + n.minin
	}
	r := (x-n.minin)/(n.maxin-n.minin)*(n.maxout-n.minout) + n.minout
	if n.round {
		r = jsRound(r)
	}
	if err := m.Set(n.prop, r); err != nil {
		return err
	}
	out.Send(0, m)
	return nil
}

// jsRound is JavaScript's Math.round: to the nearest integer, halves
// towards +Infinity.
func jsRound(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	f := math.Floor(x)
	if x-f >= 0.5 {
		f++
	}
	if f == 0 && math.Signbit(x) {
		return math.Copysign(0, -1)
	}
	return f
}
