package sequence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsonata"
	"github.com/runnel-io/runnel/engine/jsv"
)

// JoinConfig is the configuration of a join node, with Node-RED's
// property names.
type JoinConfig struct {
	Mode           string `json:"mode" label:"Mode" default:"auto" options:"auto=automatic (reverse a split),custom=manual,reduce=reduce sequence"`
	Build          string `json:"build" label:"Combine each part to create" default:"array" showif:"mode=custom" options:"string=a String,buffer=a Buffer,array=an Array,object=a key/value Object,merged=a merged Object"`
	Property       string `json:"property" label:"Using the value of msg." default:"payload" showif:"mode=custom"`
	PropertyType   string `json:"propertyType" label:"Value" default:"msg" showif:"mode=custom" options:"msg=the message property,full=the complete message"`
	Key            string `json:"key" label:"Object key from msg." default:"topic" showif:"mode=custom;build=object"`
	Joiner         string `json:"joiner" label:"Joined using" keepempty:"true" showif:"mode=custom;build=string,buffer" typeprop:"joinerType" types:"str,bin" help:"string: the text (\\n, \\r, \\t, \\0 are escapes); buffer: a JSON array of bytes"`
	JoinerType     string `json:"joinerType" label:"Joiner type" default:"str" options:"str,bin" kind:"hidden"`
	Useparts       bool   `json:"useparts" label:"Use existing msg.parts" default:"true" showif:"mode=custom"`
	Accumulate     bool   `json:"accumulate" label:"Send on every subsequent message" showif:"mode=custom"`
	Timeout        string `json:"timeout" label:"After a timeout of (seconds)" keepempty:"true" showif:"mode=custom"`
	Count          string `json:"count" label:"After a number of message parts" keepempty:"true" showif:"mode=custom" help:"Empty: msg.parts.count"`
	ReduceRight    bool   `json:"reduceRight" label:"Evaluate in reverse order (last to first)" showif:"mode=reduce"`
	ReduceExp      string `json:"reduceExp" label:"Reduce exp (JSONata; $A, $I, $N)" showif:"mode=reduce"`
	ReduceInit     string `json:"reduceInit" label:"Initial value" keepempty:"true" showif:"mode=reduce" typeprop:"reduceInitType" types:"str,num,bool,json,bin,date,jsonata,env,flow,global,expr"`
	ReduceInitType string `json:"reduceInitType" label:"Initial value type" options:",str,num,bool,json,bin,date,jsonata,env,flow,global,expr" kind:"hidden"`
	ReduceFixup    string `json:"reduceFixup" label:"Fix-up exp (JSONata; $A, $N)" showif:"mode=reduce"`
}

// JoinType is Node-RED's join node.
var JoinType = engine.NewType(engine.Meta{
	Type:     "join",
	Category: "sequence",
	Inputs:   1,
	Outputs:  1,
	Color:    "#E2D96E",
	Icon:     "join.svg",
	Labels:   []engine.LabelRule{{Text: "join"}},
	Help: `Joins a sequence of messages into one: Node-RED's **join** node.

**mode**:
- **auto** reverses a split: it reads msg.parts (id, index, count, type, ch, key, len, property) and rebuilds the string, buffer, array or object, then gives the message the outer msg.parts.parts if the split had one.
- **custom** (manual) builds a **build** value: a string or buffer (joined with **joiner**), an array, an object (keyed by the message property **key**, topic by default), or a merged object (the keys of each payload object), from the message property **property** or the whole message (**propertyType** full). It sends after **count** parts (empty: msg.parts.count), after **timeout** seconds from the first part, or on a message with **msg.complete**; with **accumulate** an object keeps growing and is sent again on every later message. Without **useparts**, msg.parts of the messages is not used to group them.
- **reduce** evaluates the JSONata **reduceExp** over the messages of each msg.parts sequence, in index order (**reduceRight**: last to first), with $A the value so far (first the typed **reduceInit**), $I the index and $N the count; **reduceFixup** (with $A and $N) finishes it. The last message evaluated is sent with the result as payload. Messages without msg.parts pass through.

The sent message is the last part with the properties of all the parts (later ones win), as Node-RED's Object.assign does. **msg.reset** drops the group it belongs to (in auto mode without msg.parts: every group); **msg.restartTimeout** starts the group's timeout again.

**Bounds** (Node-RED has none outside reduce mode): one join node holds at most 10000 messages' values and 64 MiB across its groups, and an auto mode index must be below 10000. A message that takes it over the bound makes the oldest group be sent as it stands, as its timeout would (reduce mode: the oldest group is dropped with the error "too many pending messages in join node"), and a warning is logged.

**Deploy and stop** (Node-RED drops partial groups): when a deploy replaces the node, or the flows stop, the node sends each group it holds as it stands, as its timeout would, before it goes (a reduce group is reduced over the messages that came, $N still the announced count). A deploy that keeps the node keeps its groups and timers. Timers stop on close.

Differences from Node-RED: a reduce expression that does not compile, a bin joiner that is not a JSON array, or an unknown mode is a deploy error. An empty **count** and a missing one are the same (Node-RED treats a missing count as 0). reduceExp is JSONata only: Node-RED has no type property for it.`,
}, newJoin)

func init() { engine.Register(JoinType) }

// The bounds of what a join node holds.
const (
	joinMaxMsgs  = 10000
	joinMaxBytes = 64 << 20
)

type joinNode struct {
	h          *engine.Host
	mode       string
	build      string
	prop       engine.Path
	full       bool
	key        engine.Path
	joiner     any // string or []byte
	useparts   bool
	accumulate bool
	timer      time.Duration
	count      float64 // NaN when not a number
	countEmpty bool

	reduceRight bool
	reduceExp   *jsonata.Expr
	fixupExp    *jsonata.Expr
	reduceInit  engine.Typed

	mu      sync.Mutex
	closed  bool
	groups  map[string]*joinGroup
	seq     uint64
	held    int // values held across the groups
	bytes   int
	reduces map[string]*reduceGroup
}

type joinGroup struct {
	id           string
	seq          uint64
	typ          string // string, buffer, array, object, or what auto's parts.type said
	arr          []any
	filled       []bool
	obj          ordered
	joinChar     any
	hasJoinChar  bool
	arrayLen     float64
	currentCount int
	targetCount  float64
	msg          *engine.Message
	out          engine.Output
	prop         engine.Path
	timer        *time.Timer
	held, bytes  int
}

type reduceGroup struct {
	seq   uint64
	count any
	msgs  []*engine.Message
	outs  []engine.Output
	bytes int
}

var joinEscapes = strings.NewReplacer(`\n`, "\n", `\r`, "\r", `\t`, "\t", `\e`, "e", `\f`, "\f", `\0`, "\x00")

func newJoin(cfg *JoinConfig, h *engine.Host) (engine.Node, error) {
	n := &joinNode{h: h, mode: cfg.Mode, build: cfg.Build, useparts: cfg.Useparts, accumulate: cfg.Accumulate,
		groups: map[string]*joinGroup{}, reduces: map[string]*reduceGroup{}}
	switch n.mode {
	case "auto", "custom", "reduce":
	default:
		return nil, engine.ErrFieldf("mode", "%q is not one of auto, custom, reduce", cfg.Mode)
	}
	n.full = cfg.PropertyType == "full"
	prop := cfg.Property
	if n.full {
		prop = "payload"
	}
	var err error
	if n.prop, err = engine.ParsePath(prop); err != nil {
		return nil, engine.ErrField("property", err)
	}
	if n.key, err = engine.ParsePath(cfg.Key); err != nil {
		return nil, engine.ErrField("key", err)
	}
	if n.mode == "custom" {
		if secs := jsv.StringToNumber(cfg.Timeout); secs > 0 {
			// Bounded so that a huge timeout cannot overflow a Duration.
			n.timer = time.Duration(math.Min(secs, 1e8) * float64(time.Second))
		}
	}
	n.countEmpty = strings.TrimSpace(cfg.Count) == ""
	n.count = jsv.StringToNumber(cfg.Count)
	switch cfg.JoinerType {
	case "bin":
		j := cfg.Joiner
		if j == "" {
			j = "[]"
		}
		var arr []float64
		if err := json.Unmarshal([]byte(j), &arr); err != nil {
			return nil, engine.ErrFieldf("joiner", "not a JSON array of bytes: %v", err)
		}
		b := make([]byte, len(arr))
		for i, f := range arr {
			b[i] = byte(int64(f))
		}
		n.joiner = b
	case "str", "":
		n.joiner = joinEscapes.Replace(cfg.Joiner)
	default:
		n.joiner = cfg.Joiner
	}
	if n.mode == "reduce" {
		if n.reduceExp, err = jsonata.Compile(cfg.ReduceExp); err != nil {
			return nil, engine.ErrFieldf("reduceExp", "Invalid JSONata expression: %v", err)
		}
		if strings.TrimSpace(cfg.ReduceFixup) != "" {
			if n.fixupExp, err = jsonata.Compile(cfg.ReduceFixup); err != nil {
				return nil, engine.ErrFieldf("reduceFixup", "Invalid JSONata expression: %v", err)
			}
		}
		typ := cfg.ReduceInitType
		if typ == "" {
			typ = engine.TypeStr
		}
		if n.reduceInit, err = engine.ParseTyped(typ, cfg.ReduceInit); err != nil {
			return nil, engine.ErrField("reduceInit", err)
		}
		n.reduceRight = cfg.ReduceRight
	}
	return n, nil
}

// send is a message to send once the node's lock is released.
type send struct {
	out engine.Output
	m   *engine.Message
}

func flush(sends []send) {
	for _, s := range sends {
		s.out.Send(0, s.m)
	}
}

// Receive adds m to its group and sends the groups it completes.
func (n *joinNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	n.mu.Lock()
	var sends []send
	err := n.receive(m, out, &sends)
	n.mu.Unlock()
	flush(sends)
	return err
}

func (n *joinNode) warn(msg string) { n.h.Logger().Warn(msg) }

func has(m *engine.Message, name string) bool {
	_, ok := m.Prop(name)
	return ok
}

// undefinedOr returns v, or jsv.Undefined when ok is false.
func undefinedOr(v any, ok bool) any {
	if !ok {
		return jsv.Undefined
	}
	return v
}

func isUndefined(v any) bool {
	_, u := v.(jsv.UndefinedType)
	return u
}

func (n *joinNode) receive(m *engine.Message, out engine.Output, sends *[]send) error {
	if n.mode == "reduce" {
		return n.reduceReceive(m, out, sends)
	}
	var property any
	if n.full {
		property = engine.CanonicalJSON(engine.RawJSON(m.AppendJSON(nil)))
	} else {
		property = undefinedOr(m.Lookup(n.prop))
	}
	parts, hasParts := partsOf(m)
	if n.mode == "auto" {
		if _, ok := parts["id"]; !hasParts || !ok {
			if has(m, "reset") {
				n.dropAll()
			} else {
				n.warn("Message missing msg.parts property - cannot join in 'auto' mode")
			}
			return nil
		}
	}
	if n.mode == "custom" && has(m, "parts") && !n.useparts {
		if inner, ok := parts["parts"]; ok {
			m.SetProp("parts", map[string]any{"parts": inner})
			parts = map[string]any{"parts": inner}
		} else {
			m.DeleteProp("parts")
			parts, hasParts = nil, false
		}
	}
	partID := "_"
	var (
		payloadType   string
		propertyKey   any = jsv.Undefined
		targetCount   float64
		joinChar      any
		hasJoinChar   bool
		arrayLen      float64
		propertyIndex any = jsv.Undefined
	)
	if n.mode == "auto" {
		partID = jsv.ToString(parts["id"])
		payloadType, _ = parts["type"].(string)
		targetCount = jsv.ToNumber(undefinedOr(parts["count"], hasKey(parts, "count")))
		joinChar, hasJoinChar = parts["ch"]
		propertyKey = undefinedOr(parts["key"], hasKey(parts, "key"))
		arrayLen = jsv.ToNumber(undefinedOr(parts["len"], hasKey(parts, "len")))
		propertyIndex = undefinedOr(parts["index"], hasKey(parts, "index"))
		pp := "payload"
		if s, ok := parts["property"].(string); ok && s != "" {
			pp = s
		}
		if p, err := engine.ParsePath(pp); err == nil {
			property = undefinedOr(m.Lookup(p))
		} else {
			property = jsv.Undefined
		}
	} else {
		payloadType = n.build
		targetCount = n.count
		joinChar, hasJoinChar = n.joiner, true
		if n.countEmpty && hasParts {
			targetCount = jsv.ToNumber(parts["count"])
			if !truthyNum(targetCount) {
				targetCount = 0
			}
			if id, ok := parts["id"]; ok {
				partID = jsv.ToString(id)
			}
		}
		if n.build == "object" {
			propertyKey = undefinedOr(m.Lookup(n.key))
		}
	}
	g := n.groups[partID]
	if has(m, "restartTimeout") && g != nil {
		n.startTimer(g)
	}
	if has(m, "reset") {
		if g != nil {
			n.drop(g)
		}
		return nil
	}
	if payloadType == "object" && (propertyKey == nil || isUndefined(propertyKey) || propertyKey == "") {
		if n.mode == "auto" {
			n.warn("Message missing 'msg.parts.key' property - cannot add to object")
		} else if c, ok := m.Prop("complete"); ok {
			if g != nil {
				g.msg.SetProp("complete", c)
				g.out = out
				n.complete(g, sends)
			}
		} else {
			n.warn("Message missing key property 'msg." + n.key.String() + "' - cannot add to object")
		}
		return nil
	}
	if g == nil {
		n.seq++
		g = &joinGroup{id: partID, seq: n.seq, typ: payloadType, targetCount: targetCount, msg: m.Copy()}
		switch payloadType {
		case "object", "merged":
			g.typ = "object"
		case "string", "buffer":
			g.joinChar, g.hasJoinChar = joinChar, hasJoinChar
		case "array":
			g.arrayLen = arrayLen
		}
		g.prop = n.prop
		if n.mode == "auto" {
			g.prop = engine.MustParsePath("payload")
			if s, ok := parts["property"].(string); ok && s != "" {
				if p, err := engine.ParsePath(s); err == nil {
					g.prop = p
				}
			}
		}
		n.groups[partID] = g
		if n.timer > 0 {
			n.startTimer(g)
		}
	}
	if payloadType == "buffer" && !isUndefined(property) {
		switch property.(type) {
		case []byte, string:
		default:
			if !isArray(property) {
				return fmt.Errorf("Cannot join %s to buffer", jsv.TypeOf(property))
			}
		}
	}
	switch payloadType {
	case "object":
		k := jsv.ToString(propertyKey)
		old, _ := g.obj.get(k)
		g.obj.set(k, property)
		n.account(g, len(g.obj)-g.currentCount, size(property)-sizeIf(old))
		g.currentCount = len(g.obj)
	case "merged":
		if isArray(property) || !isObject(property) {
			if !has(m, "complete") && property != nil {
				n.warn("Cannot merge non-object types")
			}
		} else {
			for _, e := range members(property) {
				if e.k == "_msgid" {
					continue
				}
				old, _ := g.obj.get(e.k)
				g.obj.set(e.k, e.v)
				n.account(g, 0, size(e.v)-sizeIf(old))
			}
			n.account(g, len(g.obj)-g.currentCount, 0)
			g.currentCount = len(g.obj)
		}
	default:
		if idx := jsv.ToNumber(propertyIndex); !isUndefined(propertyIndex) && !math.IsNaN(idx) {
			if idx < 0 || idx >= joinMaxMsgs || idx != math.Trunc(idx) {
				return fmt.Errorf("join: msg.parts.index %v is out of range (0 to %d)", propertyIndex, joinMaxMsgs-1)
			}
			i := int(idx)
			if grow := i + 1 - len(g.arr); grow > 0 {
				// The empty slots cost memory too: count them against
				// the bound, or tiny messages with a high index would
				// hold gigabytes.
				n.account(g, 0, grow*joinSlotBytes)
			}
			for len(g.arr) <= i {
				g.arr = append(g.arr, jsv.Undefined)
				g.filled = append(g.filled, false)
			}
			if !g.filled[i] || g.arr[i] == nil || isUndefined(g.arr[i]) {
				g.currentCount++
				n.account(g, 1, 0)
			}
			n.account(g, 0, size(property)-sizeIf(g.arr[i]))
			g.arr[i], g.filled[i] = property, true
		} else if !isUndefined(property) {
			g.arr = append(g.arr, property)
			g.filled = append(g.filled, true)
			g.currentCount++
			n.account(g, 1, size(property))
		}
	}
	assign(g.msg, m)
	g.out = out
	tcnt := g.targetCount
	if has(m, "parts") {
		if !truthyNum(tcnt) {
			pc, _ := partsOf(m)
			tcnt = jsv.ToNumber(undefinedOr(pc["count"], hasKey(pc, "count")))
		}
		g.targetCount = tcnt
	}
	if (tcnt > 0 && float64(g.currentCount) >= tcnt) || has(m, "complete") {
		n.complete(g, sends)
	}
	n.enforceBounds(sends)
	return nil
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// truthyNum is JavaScript's truthiness of a number.
func truthyNum(f float64) bool { return f != 0 && !math.IsNaN(f) }

func sizeIf(v any) int {
	if v == nil || isUndefined(v) {
		return 0
	}
	return size(v)
}

// account adds to what g and the node hold.
// joinSlotBytes is what one slot of a group's array costs (a value and
// its filled flag), counted against joinMaxBytes.
const joinSlotBytes = 17

func (n *joinNode) account(g *joinGroup, msgs, bytes int) {
	g.held += msgs
	g.bytes += bytes
	n.held += msgs
	n.bytes += bytes
}

// assign copies the properties of src onto dst, as Object.assign does.
func assign(dst, src *engine.Message) {
	for _, k := range src.Keys() {
		switch k {
		case "payload", "topic":
			if v, ok := src.Lookup(engine.MustParsePath(k)); ok {
				dst.SetProp(k, v)
			}
			continue
		}
		v, _ := src.Prop(k)
		dst.SetProp(k, v)
	}
}

// enforceBounds sends the oldest groups until the node holds no more
// than its bounds.
func (n *joinNode) enforceBounds(sends *[]send) {
	for n.held > joinMaxMsgs || n.bytes > joinMaxBytes {
		var oldest *joinGroup
		for _, g := range n.groups {
			if oldest == nil || g.seq < oldest.seq {
				oldest = g
			}
		}
		if oldest == nil {
			n.held, n.bytes = 0, 0
			return
		}
		n.warn(fmt.Sprintf("join: over %d messages or %d MiB held: the oldest group is sent as it stands", joinMaxMsgs, joinMaxBytes>>20))
		n.remove(oldest)
		n.send(oldest, sends)
	}
}

func (n *joinNode) startTimer(g *joinGroup) {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	if n.timer <= 0 || n.closed {
		return
	}
	g.timer = time.AfterFunc(n.timer, func() { n.fire(g) })
}

// fire is a group's timeout.
func (n *joinNode) fire(g *joinGroup) {
	defer func() {
		if v := recover(); v != nil {
			n.h.ReportPanic(v)
		}
	}()
	var sends []send
	n.mu.Lock()
	if !n.closed && n.groups[g.id] == g {
		n.complete(g, &sends)
	}
	n.mu.Unlock()
	flush(sends)
}

// remove takes g out of the node.
func (n *joinNode) remove(g *joinGroup) {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	if n.groups[g.id] == g {
		delete(n.groups, g.id)
		n.held -= g.held
		n.bytes -= g.bytes
	}
}

func (n *joinNode) drop(g *joinGroup) { n.remove(g) }

func (n *joinNode) dropAll() {
	for _, g := range n.groups {
		n.remove(g)
	}
}

// complete is Node-RED's completeSend: it sends g's value, and forgets g
// unless it accumulates.
func (n *joinNode) complete(g *joinGroup, sends *[]send) {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	if n.mode == "auto" || !n.accumulate || has(g.msg, "complete") {
		n.remove(g)
	}
	n.send(g, sends)
}

// send builds the joined message of g and queues it.
func (n *joinNode) send(g *joinGroup, sends *[]send) {
	var val any
	switch g.typ {
	case "object":
		val = g.obj.raw()
	case "string":
		sep := joinCharString(g.joinChar, g.hasJoinChar)
		var b strings.Builder
		for i, v := range g.arr {
			if i > 0 {
				b.WriteString(sep)
			}
			if v != nil && !isUndefined(v) {
				b.WriteString(jsv.ToString(v))
			}
		}
		val = b.String()
	case "buffer":
		var out []byte
		var sep []byte
		if g.hasJoinChar {
			sep = toBytes(g.joinChar)
		}
		for i, v := range g.arr {
			if i > 0 {
				out = append(out, sep...)
			}
			out = append(out, toBytes(v)...)
		}
		if out == nil {
			out = []byte{}
		}
		val = out
	default:
		arr := make([]any, 0, len(g.arr))
		for _, v := range g.arr {
			if g.typ == "array" && g.arrayLen > 1 && isArray(v) {
				arr = append(arr, elems(v)...)
				continue
			}
			arr = append(arr, v)
		}
		val = arr
	}
	m := g.msg.Copy()
	if err := m.Set(g.prop, val); err != nil {
		n.h.Error(fmt.Errorf("join: %w", err), m)
		return
	}
	if p, ok := partsOf(m); ok && hasKey(p, "parts") {
		m.SetProp("parts", p["parts"])
	} else {
		m.DeleteProp("parts")
	}
	m.DeleteProp("complete")
	g.msg.DeleteProp("complete")
	*sends = append(*sends, send{g.out, m})
}

// joinCharString is String(joinChar) as Node-RED's string join uses it:
// a buffer as its UTF-8 text, an array as its elements joined by commas.
func joinCharString(v any, ok bool) string {
	if !ok || v == nil || isUndefined(v) {
		return ","
	}
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return jsv.ToString(v)
}

// toBytes is Buffer.from(v) for a buffer, a string (UTF-8) or an array of
// byte values.
func toBytes(v any) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		return []byte(x)
	}
	if isArray(v) {
		es := elems(v)
		b := make([]byte, len(es))
		for i, e := range es {
			b[i] = byte(int64(jsv.ToNumber(e)))
		}
		return b
	}
	return nil
}

var errTooMany = errors.New("too many pending messages in join node")

// reduceReceive is Node-RED's reduceMessage.
func (n *joinNode) reduceReceive(m *engine.Message, out engine.Output, sends *[]send) error {
	parts, ok := partsOf(m)
	if !has(m, "parts") {
		*sends = append(*sends, send{out, m})
		return nil
	}
	gid := jsv.ToString(parts["id"])
	g := n.reduces[gid]
	if g == nil {
		n.seq++
		g = &reduceGroup{seq: n.seq}
		if ok && hasKey(parts, "count") {
			g.count = parts["count"]
		}
		n.reduces[gid] = g
	}
	if g.count == nil && ok && hasKey(parts, "count") {
		g.count = parts["count"]
	}
	g.msgs = append(g.msgs, m)
	g.outs = append(g.outs, out)
	sz := msgSize(m)
	g.bytes += sz
	n.held++
	n.bytes += sz
	if cnt, isNum := g.count.(float64); isNum && float64(len(g.msgs)) == cnt {
		delete(n.reduces, gid)
		n.held -= len(g.msgs)
		n.bytes -= g.bytes
		return n.reduceGroup(g, sends)
	}
	if n.held > joinMaxMsgs || n.bytes > joinMaxBytes {
		// Node-RED drops every pending group here; Runnel drops the
		// oldest ones until it is within bounds.
		for n.held > joinMaxMsgs || n.bytes > joinMaxBytes {
			var oldID string
			var oldest *reduceGroup
			for id, r := range n.reduces {
				if oldest == nil || r.seq < oldest.seq {
					oldest, oldID = r, id
				}
			}
			if oldest == nil {
				n.held, n.bytes = 0, 0
				break
			}
			delete(n.reduces, oldID)
			n.held -= len(oldest.msgs)
			n.bytes -= oldest.bytes
		}
		return errTooMany
	}
	return nil
}

// reduceGroup reduces the messages of g and queues the result.
func (n *joinNode) reduceGroup(g *reduceGroup, sends *[]send) error {
	if len(g.msgs) == 0 {
		return nil
	}
	accum, err := n.reduceInit.Eval(n.h, engine.NewMessage("", nil))
	if err != nil {
		return fmt.Errorf("join: initial value: %w", err)
	}
	type item struct {
		m   *engine.Message
		out engine.Output
		idx any
	}
	items := make([]item, len(g.msgs))
	for i, m := range g.msgs {
		p, _ := partsOf(m)
		items[i] = item{m, g.outs[i], p["index"]}
	}
	flag := 1
	if n.reduceRight {
		flag = -1
	}
	sort.SliceStable(items, func(i, j int) bool {
		if flag > 0 {
			return jsv.Less(items[i].idx, items[j].idx)
		}
		return jsv.Less(items[j].idx, items[i].idx)
	})
	count := g.count
	for _, it := range items {
		accum, err = engine.EvalJSONata(n.reduceExp, n.h, engine.PlainMessage(it.m), map[string]any{"A": accum, "I": it.idx, "N": count})
		if err != nil {
			return fmt.Errorf("Invalid JSONata expression: %w", err)
		}
	}
	if n.fixupExp != nil {
		accum, err = engine.EvalJSONata(n.fixupExp, n.h, map[string]any{}, map[string]any{"A": accum, "N": count})
		if err != nil {
			return fmt.Errorf("Invalid JSONata expression: %w", err)
		}
	}
	last := items[len(items)-1]
	last.m.SetProp("payload", accum)
	*sends = append(*sends, send{last.out, last.m})
	return nil
}

// Close stops the timers and sends what the node holds (see the help).
func (n *joinNode) Close(context.Context) error {
	var sends []send
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	gs := make([]*joinGroup, 0, len(n.groups))
	for _, g := range n.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].seq < gs[j].seq })
	for _, g := range gs {
		n.remove(g)
		n.send(g, &sends)
	}
	rs := make([]*reduceGroup, 0, len(n.reduces))
	for _, r := range n.reduces {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].seq < rs[j].seq })
	var errs []error
	for _, r := range rs {
		if err := n.reduceGroup(r, &sends); err != nil {
			errs = append(errs, err)
		}
	}
	clear(n.reduces)
	n.held, n.bytes = 0, 0
	n.mu.Unlock()
	flush(sends)
	return errors.Join(errs...)
}

// Metrics reports the values held in partial groups (reduce groups included), as runnel_node_queued_messages: with the
// delay node's, back-pressure shows in /metrics.
func (n *joinNode) Metrics() []engine.Metric {
	n.mu.Lock()
	defer n.mu.Unlock()
	return []engine.Metric{{Name: "runnel_node_queued_messages", Value: float64(n.held)}}
}
