package sequence

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsonata"
	"github.com/runnel-io/runnel/engine/jsv"
)

// SortConfig is the configuration of a sort node, with Node-RED's
// property names.
type SortConfig struct {
	Target     string `json:"target" label:"Sort msg." default:"payload"`
	TargetType string `json:"targetType" label:"Sort what" default:"msg" options:"msg=an array in a message property,seq=a message sequence"`
	MsgKey     string `json:"msgKey" label:"Key (array)" default:"payload" showif:"targetType=msg"`
	MsgKeyType string `json:"msgKeyType" label:"Key type (array)" default:"elem" showif:"targetType=msg" options:"elem=the element's value,jsonata=a JSONata expression"`
	SeqKey     string `json:"seqKey" label:"Key (sequence)" default:"payload" showif:"targetType=seq"`
	SeqKeyType string `json:"seqKeyType" label:"Key type (sequence)" default:"msg" showif:"targetType=seq" options:"msg=a message property,jsonata=a JSONata expression"`
	Order      string `json:"order" label:"Order" default:"ascending" options:"ascending=ascending,descending=descending"`
	AsNum      bool   `json:"as_num" label:"As number"`
}

// SortType is Node-RED's sort node.
var SortType = engine.NewType(engine.Meta{
	Type:     "sort",
	Category: "sequence",
	Inputs:   1,
	Outputs:  1,
	Color:    "#E2D96E",
	Icon:     "sort.svg",
	Labels:   []engine.LabelRule{{Text: "sort"}},
	Help: `Sorts an array or a message sequence: Node-RED's **sort** node.

With **targetType** msg, the array in the message property **target** is sorted by its elements' values (**msgKeyType** elem) or by the JSONata expression **msgKey** evaluated on each element; a message whose property is not an array is dropped. With **targetType** seq, the messages of each msg.parts sequence are held until the sequence is complete, then sent sorted by the message property **seqKey** (or the JSONata expression over each message), with parts.index renumbered.

Keys compare as JavaScript's === and > do (strings by UTF-16 units); **as_num** converts them with Number() first. Keys that do not compare (a string that is not a number against a number) may come out in another order than in Node-RED, whose order then depends on V8's sort algorithm. **order** is ascending or descending; equal keys keep their order.

Bounds (Node-RED has none by default): a sort holds at most 10000 messages across its sequences; beyond that the oldest sequence is dropped with the error "too many pending messages in sort node".

**Deploy and stop** (Node-RED drops what it holds): when a deploy replaces the node or the flows stop, each incomplete sequence is sent sorted as it stands. A kept node keeps them.

Differences from Node-RED: a JSONata key that does not compile is a deploy error.`,
}, newSort)

func init() { engine.Register(SortType) }

const sortMax = 10000

type sortNode struct {
	h      *engine.Host
	isProp bool
	target engine.Path
	seqKey engine.Path
	exp    *jsonata.Expr
	dir    int
	asNum  bool

	mu      sync.Mutex
	closed  bool
	seq     uint64
	pending map[string]*sortGroup
	held    int
}

type sortGroup struct {
	seq   uint64
	count any
	msgs  []send
}

func newSort(cfg *SortConfig, h *engine.Host) (engine.Node, error) {
	n := &sortNode{h: h, isProp: cfg.TargetType == "msg", asNum: cfg.AsNum, dir: 1, pending: map[string]*sortGroup{}}
	if cfg.Order != "ascending" {
		n.dir = -1
	}
	var err error
	if n.target, err = engine.ParsePath(cfg.Target); err != nil {
		return nil, engine.ErrField("target", err)
	}
	if n.seqKey, err = engine.ParsePath(cfg.SeqKey); err != nil && !n.isProp {
		return nil, engine.ErrField("seqKey", err)
	}
	expField, exp, isExp := "seqKey", cfg.SeqKey, cfg.SeqKeyType == "jsonata"
	if n.isProp {
		expField, exp, isExp = "msgKey", cfg.MsgKey, cfg.MsgKeyType == "jsonata"
	}
	if isExp {
		if n.exp, err = jsonata.Compile(exp); err != nil {
			return nil, engine.ErrFieldf(expField, "Invalid JSONata expression in sort node: %v", err)
		}
	}
	return n, nil
}

// cmp is Node-RED's comparison: 0 for ===, dir when x > y, else -dir.
func (n *sortNode) cmp(x, y any) int {
	if n.asNum {
		x, y = jsv.ToNumber(x), jsv.ToNumber(y)
	}
	if jsv.StrictEqual(x, y) {
		return 0
	}
	if jsv.Greater(x, y) {
		return n.dir
	}
	return -n.dir
}

// sortBy sorts idx by keys.
func (n *sortNode) order(keys []any) []int {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return n.cmp(keys[idx[a]], keys[idx[b]]) < 0 })
	return idx
}

// Receive sorts m's array, or adds m to its sequence.
func (n *sortNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	if n.isProp {
		v, ok := m.Lookup(n.target)
		if !ok || !isArray(v) {
			return nil
		}
		es := elems(v)
		keys := es
		if n.exp != nil {
			keys = make([]any, len(es))
			for i, e := range es {
				k, err := engine.EvalJSONata(n.exp, n.h, e, nil)
				if err != nil {
					return fmt.Errorf("Invalid JSONata expression in sort node: %w", err)
				}
				keys[i] = k
			}
		}
		sorted := make([]any, len(es))
		for i, j := range n.order(keys) {
			sorted[i] = es[j]
		}
		if err := m.Set(n.target, sorted); err != nil {
			return err
		}
		out.Send(0, m)
		return nil
	}
	p, ok := partsOf(m)
	if !ok || !hasKey(p, "id") || !hasKey(p, "index") {
		return nil
	}
	var sends []send
	n.mu.Lock()
	gid := jsv.ToString(p["id"])
	g := n.pending[gid]
	if g == nil {
		n.seq++
		g = &sortGroup{seq: n.seq}
		n.pending[gid] = g
	}
	g.msgs = append(g.msgs, send{out, m})
	n.held++
	if hasKey(p, "count") {
		g.count = p["count"]
	}
	var err error
	if c, ok := g.count.(float64); ok && c == float64(len(g.msgs)) {
		delete(n.pending, gid)
		n.held -= len(g.msgs)
		err = n.sortGroup(g, &sends)
	} else if n.held > sortMax {
		var oldID string
		var oldest *sortGroup
		for id, x := range n.pending {
			if oldest == nil || x.seq < oldest.seq {
				oldest, oldID = x, id
			}
		}
		delete(n.pending, oldID)
		n.held -= len(oldest.msgs)
		err = errTooManySort
	}
	n.mu.Unlock()
	flush(sends)
	return err
}

var errTooManySort = errorString("too many pending messages in sort node")

func (n *sortNode) sortGroup(g *sortGroup, sends *[]send) error {
	keys := make([]any, len(g.msgs))
	for i, s := range g.msgs {
		if n.exp != nil {
			k, err := engine.EvalJSONata(n.exp, n.h, engine.PlainMessage(s.m), nil)
			if err != nil {
				return fmt.Errorf("Invalid JSONata expression in sort node: %w", err)
			}
			keys[i] = k
		} else {
			keys[i] = undefinedOr(s.m.Lookup(n.seqKey))
		}
	}
	for i, j := range n.order(keys) {
		s := g.msgs[j]
		p, _ := s.m.Prop("parts")
		o := members(p)
		o.set("index", float64(i))
		s.m.SetProp("parts", o.raw())
		*sends = append(*sends, s)
	}
	return nil
}

// Close sends each incomplete sequence sorted as it stands.
func (n *sortNode) Close(context.Context) error {
	var sends []send
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	gs := make([]*sortGroup, 0, len(n.pending))
	for _, g := range n.pending {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].seq < gs[j].seq })
	var err error
	for _, g := range gs {
		if e := n.sortGroup(g, &sends); e != nil {
			err = e
		}
	}
	clear(n.pending)
	n.held = 0
	n.mu.Unlock()
	flush(sends)
	return err
}

// Metrics reports the messages held in incomplete sequences, as runnel_node_queued_messages: with the
// delay node's, back-pressure shows in /metrics.
func (n *sortNode) Metrics() []engine.Metric {
	n.mu.Lock()
	defer n.mu.Unlock()
	return []engine.Metric{{Name: "runnel_node_queued_messages", Value: float64(n.held)}}
}
