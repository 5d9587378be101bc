package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// FilterConfig is the configuration of a filter-on-change node (Node-RED's
// "rbe", palette label "filter"). The property names are Node-RED's.
type FilterConfig struct {
	Func      string `json:"func" label:"Mode" default:"rbe" options:"rbe=block unless value changes,rbei=block unless value changes (ignore initial value),deadband=block unless value change is greater than,deadbandEq=block unless value change is greater or equal to,narrowband=block if value change is greater than,narrowbandEq=block if value change is greater or equal to" help:"rbe: block unless the value changes; rbei: the same, ignoring the first value; deadband(Eq): block unless it changes by more than (or as much as) gap; narrowband(Eq): block if it changes by more than (or as much as) gap"`
	Gap       string `json:"gap" label:"Value change" showif:"func=deadband,deadbandEq,narrowband,narrowbandEq" help:"For the deadband and narrowband modes: a number such as 10, or a percentage of the previous value such as 5%; empty means 0"`
	Start     string `json:"start" label:"Start value" showif:"func=narrowband,narrowbandEq" help:"narrowband modes: the value the first input is compared with; empty: the first input itself"`
	InOut     string `json:"inout" label:"Compare to" default:"out" options:"out=compared to last valid output value,in=compared to last input value" showif:"func=deadband,deadbandEq,narrowband,narrowbandEq" help:"out: the last value sent; in: the last value received"`
	SepTopics bool   `json:"septopics" label:"Apply mode separately for each topic" default:"true"`
	Property  string `json:"property" label:"Property" default:"payload" help:"The message property whose value is compared, such as payload or payload.temperature"`
	Topi      string `json:"topi" label:"Topic property" default:"topic" help:"With septopics: the message property whose value selects the separate state"`
	Store     string `json:"store" label:"Keep state in" default:"node" options:"node=the node (Node-RED),memory=the node's context (survives deploys),persistent=the persistent context (survives restarts)" help:"node: in the node only (Node-RED's behaviour: a deploy that replaces the node, or a restart, forgets it); memory: in the node's context, so it survives deploys that replace the node; persistent: in the persistent context store, so it also survives a restart"`
}

// FilterType is the filter-on-change node type.
var FilterType = engine.NewType(engine.Meta{
	Type:     "filter-on-change",
	Icon:     "rbe.png",
	Labels:   []engine.LabelRule{{Text: "{property}"}},
	Category: "function",
	Label:    "filter",
	Inputs:   1,
	Outputs:  1,
	Color:    "#E2D96E",
	Help: `Passes a message on only when a property of it changes: Node-RED's **filter** (rbe) node.

**Modes** (func)
- **rbe**: block unless the value changes. Objects and arrays are compared by content; "21.5" and 21.5 are different values.
- **rbei**: the same, but the first value (for each topic) is only remembered, not sent.
- **deadband**: block unless the value changes by more than *gap*; **deadbandEq**: by *gap* or more. The first value is sent.
- **narrowband**: block if the value changes by more than *gap*; **narrowbandEq**: by *gap* or more. The first value is compared with *start*, or with itself when *start* is empty.

In the band modes the value is read as a number the way JavaScript's parseFloat does ("21.5 C" is 21.5); a message without a number is dropped with a warning. *gap* may be a percentage of the previous value ("5%"). *inout* "out" compares with the last value sent, "in" with the last value received.

With *septopics* (the default) each value of the *topi* property (msg.topic by default) has its own state.

A message with a **msg.reset** property clears the state of its msg.topic, or all state when it has no topic (or septopics is off); the message is then handled like any other.

Messages without the property are dropped.

The state lives in the node (as in Node-RED: a deploy that replaces the node forgets it; deploys that keep the node keep it). With *store* "memory" it is also kept in the node's context and survives deploys that replace the node; with "persistent" it survives a restart too.`,
}, newFilter)

func init() { engine.Register(FilterType) }

type filterFunc uint8

const (
	funcRBE filterFunc = iota
	funcRBEI
	funcDeadband
	funcDeadbandEq
	funcNarrowband
	funcNarrowbandEq
)

var filterFuncs = map[string]filterFunc{
	"rbe": funcRBE, "rbei": funcRBEI,
	"deadband": funcDeadband, "deadbandEq": funcDeadbandEq,
	"narrowband": funcNarrowband, "narrowbandEq": funcNarrowbandEq,
}

// noTopic is the state key of messages without a topic, as in Node-RED.
const noTopic = "_no_topic"

// filterNode is a running filter-on-change node.
type filterNode struct {
	h         *engine.Host
	fn        filterFunc
	pc        bool    // gap is a percentage
	gap       float64 // the gap, or the percentage when pc
	hasStart  bool
	start     float64
	inMode    bool // inout "in"
	septopics bool

	prop      engine.Path
	propGJSON string // gjson path of prop below payload, for the RawJSON fast path
	topi      engine.Path
	topiIsTop bool // topi is msg.topic

	mu   sync.Mutex
	prev map[string]filterPrev

	ctxStore string          // context store that mirrors prev; "" for none
	ctx      *engine.Context // the node's context, when ctxStore is set
}

// filterPrev is the remembered value of one key. For the band modes only
// num is used. kind is never jsUndefined: a missing key is undefined.
type filterPrev struct {
	kind jsKind
	num  float64
	str  string
	b    bool
	obj  any // jsObject: a normalised deep copy (see normaliseJS)
}

// newFilter validates the configuration as Node-RED's editor does and
// prepares the node.
func newFilter(cfg *FilterConfig, h *engine.Host) (engine.Node, error) {
	n := &filterNode{h: h, septopics: cfg.SepTopics, prev: make(map[string]filterPrev)}
	// Every field is checked, so that a deploy names each that is wrong.
	var errs []error
	switch cfg.Store {
	case "", "node":
	case engine.ContextMemory, engine.ContextPersistent:
		n.ctxStore, n.ctx = cfg.Store, h.Context()
	default:
		errs = append(errs, engine.ErrFieldf("store", "%q is not node, memory or persistent", cfg.Store))
	}
	f, ok := filterFuncs[cfg.Func]
	if !ok {
		errs = append(errs, engine.ErrFieldf("func", "unknown mode %q", cfg.Func))
	}
	n.fn = f
	switch cfg.InOut {
	case "in":
		n.inMode = true
	case "out", "":
	default:
		errs = append(errs, engine.ErrFieldf("inout", "%q is not out or in", cfg.InOut))
	}
	pc, g, err := parseFilterGap(cfg.Gap)
	if err != nil {
		errs = append(errs, engine.ErrField("gap", err))
	}
	n.pc, n.gap = pc, g
	if s := strings.TrimSpace(cfg.Start); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			errs = append(errs, engine.ErrFieldf("start", "%q is not a number; leave it empty to start from the first value", cfg.Start))
		}
		n.hasStart, n.start = true, v
	}
	prop := cfg.Property
	if strings.TrimSpace(prop) == "" {
		prop = "payload" // Node-RED: n.property || "payload"
	}
	if n.prop, err = engine.ParsePath(prop); err != nil {
		errs = append(errs, engine.ErrField("property", err))
	} else if segs := n.prop.Segments(); len(segs) > 1 && segs[0].Key == "payload" {
		parts := make([]string, len(segs)-1)
		for i, s := range segs[1:] {
			parts[i] = gjson.Escape(s.Key)
		}
		n.propGJSON = strings.Join(parts, ".")
	}
	topi := cfg.Topi
	if strings.TrimSpace(topi) == "" {
		topi = "topic"
	}
	if n.topi, err = engine.ParsePath(topi); err != nil {
		errs = append(errs, engine.ErrField("topi", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	segs := n.topi.Segments()
	n.topiIsTop = len(segs) == 1 && segs[0].Key == "topic"
	return n, nil
}

// parseFilterGap parses gap as Node-RED does: "" is 0, "10" is 10, "5%" is
// 5 percent of the previous value. It accepts what Node-RED's editor
// accepts (^(\d*[.]*\d*|)(%|)$) except strings that are not numbers, such
// as "1..2", with which Node-RED's node would never send anything.
func parseFilterGap(s string) (pc bool, g float64, err error) {
	orig := s
	s = strings.TrimSpace(s)
	if num, ok := strings.CutSuffix(s, "%"); ok {
		pc, s = true, num
	}
	if s == "" {
		return pc, 0, nil // "%" alone: Node-RED's gap is NaN || 0, so 0
	}
	dots := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '.':
			dots++
		case s[i] < '0' || s[i] > '9':
			dots = 2
		}
	}
	if dots < 2 && s != "." {
		if g, err := strconv.ParseFloat(s, 64); err == nil {
			return pc, g, nil
		}
	}
	return false, 0, errNotGap(orig)
}

type errNotGap string

func (e errNotGap) Error() string {
	return strconv.Quote(string(e)) + " is not a number or a percentage such as 10 or 5%"
}

// Receive passes m on when its value has changed enough, following
// Node-RED's rbe.js step by step.
func (n *filterNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	// The state key: the topi property's value when septopics, else one
	// shared key. Like JavaScript, a falsy topic ("", 0, false, null,
	// missing) means no topic, and other values key by their string form.
	key := noTopic
	topicIsStr := false // topic is a non-empty string (the reset rule)
	if n.septopics {
		if n.topiIsTop {
			if m.Topic != "" {
				key, topicIsStr = m.Topic, true
			}
		} else if v, ok := m.Lookup(n.topi); ok {
			if s, isStr := v.(string); isStr && s != "" {
				topicIsStr = true
			}
			if engine.Truthy(v) {
				key = jsKeyString(v)
			}
		}
	}

	if _, reset := m.Prop("reset"); reset {
		n.mu.Lock()
		if n.septopics && topicIsStr {
			// Node-RED deletes previous[msg.topic], even when topi names
			// another property.
			delete(n.prev, m.Topic)
			if n.ctxStore != "" {
				n.ctx.SetValue(n.ctxStore, m.Topic, nil)
			}
		} else {
			n.prev = make(map[string]filterPrev)
			if n.ctxStore != "" {
				n.ctx.Clear(n.ctxStore)
			}
		}
		n.mu.Unlock()
		// Node-RED goes on to handle the message: one that carries the
		// property too is compared with the cleared state.
	}

	v := n.value(m)
	if v.kind == jsUndefined {
		return nil // no property: dropped silently
	}
	var send bool
	if n.fn == funcRBE || n.fn == funcRBEI {
		send = n.changed(key, &v)
	} else {
		num, ok := v.parseFloat()
		if !ok {
			n.h.Logger().Warn("no number found in payload")
			return nil
		}
		send = n.band(key, num)
	}
	if send {
		out.Send(0, m)
	}
	return nil
}

// changed applies the rbe and rbei modes to value v of key and updates the
// state; it reports whether the message is to be sent.
func (n *filterNode) changed(key string, v *jsValue) bool {
	var norm any
	if v.kind == jsObject {
		// Decode and copy outside the lock.
		norm = normaliseJS(v.obj)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	p, had := n.prev[key]
	doSend := n.fn != funcRBEI || had
	if v.kind == jsObject {
		if !had || p.kind != jsObject {
			// Node-RED: previous = {} when it is not an object yet, so a
			// first {} is not sent and the key counts as seen.
			p = filterPrev{kind: jsObject, obj: map[string]any{}}
			n.store(key, had, p)
			had = true
		}
		if engine.Equal(norm, p.obj) {
			return false
		}
		n.store(key, had, filterPrev{kind: jsObject, obj: norm})
		return doSend
	}
	if had && p.kind == v.kind {
		switch v.kind {
		case jsNumber:
			if p.num == v.num { // NaN differs from itself, as with !==
				return false
			}
		case jsString:
			if p.str == v.str {
				return false
			}
		case jsBoolean:
			if p.b == v.b {
				return false
			}
		}
	}
	np := filterPrev{kind: v.kind, num: v.num, b: v.b}
	if v.kind == jsString {
		np.str = strings.Clone(v.str) // v.str may point into the message's bytes
	}
	n.store(key, had, np)
	return doSend
}

// band applies the deadband and narrowband modes to number x of key and
// updates the state; it reports whether the message is to be sent. The
// arithmetic is Node-RED's, in float64 as JavaScript's.
func (n *filterNode) band(key string, x float64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, had := n.prev[key]
	prev, defined := p.num, had
	narrow := n.fn == funcNarrowband || n.fn == funcNarrowbandEq
	if !defined && narrow {
		// Both narrowband modes start from start, else from the value.
		prev, defined = x, true
		if n.hasStart {
			prev = n.start
		}
	}
	gap := n.gap
	if n.pc {
		gap = 0 // Math.abs(undefined * g / 100) || 0
		if defined {
			gap = math.Abs(prev * n.gap / 100)
			if math.IsNaN(gap) {
				gap = 0
			}
		}
	}
	if !defined {
		prev = x - gap - 1 // so that deadband passes the first value
	}
	send := false
	switch d := math.Abs(x - prev); {
	case d == gap:
		send = n.fn == funcDeadbandEq || n.fn == funcNarrowband
	case d > gap:
		send = n.fn == funcDeadband || n.fn == funcDeadbandEq
	case d < gap:
		send = narrow
	}
	if send && !n.inMode {
		prev = x
	}
	if n.inMode {
		prev = x
	}
	n.store(key, had, filterPrev{kind: jsNumber, num: prev})
	return send
}

// store sets the state of key; had says whether key is already in the map
// (a new key is copied so that the map does not keep message memory).
func (n *filterNode) store(key string, had bool, p filterPrev) {
	if !had {
		key = strings.Clone(key)
	}
	n.prev[key] = p
	if n.ctxStore != "" {
		n.ctx.SetValue(n.ctxStore, key, p.value())
	}
}

// value returns the remembered value as an engine value, for the context.
func (p filterPrev) value() any {
	switch p.kind {
	case jsNumber:
		return p.num
	case jsString:
		return p.str
	case jsBoolean:
		return p.b
	}
	if p.obj == nil {
		return engine.RawJSON("null")
	}
	return p.obj
}

// Start loads the state from the node's context when the node keeps it there.
func (n *filterNode) Start(context.Context) error {
	if n.ctxStore == "" {
		return nil
	}
	c := n.ctx
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, key := range c.Keys(n.ctxStore) {
		v, ok := c.Value(n.ctxStore, key)
		if !ok {
			continue
		}
		jv := jsValueOf(v)
		p := filterPrev{kind: jv.kind, num: jv.num, str: jv.str, b: jv.b}
		if jv.kind == jsObject {
			p.obj = normaliseJS(v)
		}
		n.prev[key] = p
	}
	return nil
}

// value reads the compared property. A RawJSON payload is read with gjson
// in place, without boxing the result.
func (n *filterNode) value(m *engine.Message) jsValue {
	if n.propGJSON != "" {
		if raw, ok := m.Payload.(engine.RawJSON); ok {
			if len(raw) == 0 {
				return jsValue{}
			}
			if val, found, sure := n.prop.RawValue(raw); sure {
				if !found {
					return jsValue{}
				}
				return jsValueOfRaw(val)
			}
			s := unsafe.String(unsafe.SliceData(raw), len(raw))
			return jsValueOfGJSON(gjson.Get(s, n.propGJSON))
		}
	}
	v, ok := m.Lookup(n.prop)
	if !ok {
		return jsValue{}
	}
	return jsValueOf(v)
}

// jsKind is a value's JavaScript type, as typeof sees it (null is an object).
type jsKind uint8

const (
	jsUndefined jsKind = iota
	jsNumber
	jsString
	jsBoolean
	jsObject // objects, arrays, buffers and null
)

// jsValue is a message value classified without boxing. str may point
// into the message's bytes; obj is the value as the message holds it.
type jsValue struct {
	kind jsKind
	num  float64
	str  string
	b    bool
	obj  any
}

func jsValueOf(v any) jsValue {
	switch x := v.(type) {
	case float64:
		return jsValue{kind: jsNumber, num: x}
	case string:
		return jsValue{kind: jsString, str: x}
	case bool:
		return jsValue{kind: jsBoolean, b: x}
	}
	if f, ok := engine.Number(v); ok {
		return jsValue{kind: jsNumber, num: f}
	}
	return jsValue{kind: jsObject, obj: v}
}

func jsValueOfGJSON(r gjson.Result) jsValue {
	switch r.Type {
	case gjson.Number:
		return jsValue{kind: jsNumber, num: r.Num}
	case gjson.String:
		return jsValue{kind: jsString, str: r.Str}
	case gjson.True:
		return jsValue{kind: jsBoolean, b: true}
	case gjson.False:
		return jsValue{kind: jsBoolean}
	case gjson.Null:
		if r.Exists() {
			return jsValue{kind: jsObject} // null
		}
		return jsValue{}
	case gjson.JSON:
		return jsValue{kind: jsObject, obj: engine.RawJSON(r.Raw)}
	}
	return jsValue{}
}

// jsValueOfRaw is jsValueOfGJSON of the JSON text of one value (as
// engine.Path.RawValue finds it): a number without gjson, anything else
// through gjson.Parse, pointing into the text as gjson.Get's results do.
func jsValueOfRaw(val []byte) jsValue {
	if c := val[0]; c == '-' || c >= '0' && c <= '9' {
		return jsValue{kind: jsNumber, num: jsv.ParseNumber(val)}
	}
	return jsValueOfGJSON(gjson.Parse(unsafe.String(unsafe.SliceData(val), len(val))))
}

// parseFloat is JavaScript's parseFloat(value): the value's string form,
// leading white space skipped, its longest numeric prefix. ok is false for NaN.
func (v *jsValue) parseFloat() (float64, bool) {
	switch v.kind {
	case jsNumber:
		return v.num, !math.IsNaN(v.num)
	case jsString:
		return engine.ToFloat(v.str)
	case jsObject:
		return jsParseFloatObject(v.obj)
	}
	return 0, false // booleans: "true" and "false" are not numbers
}

// jsParseFloatObject is parseFloat of an object: a buffer is its text, an
// array is its elements joined by commas (so its first element decides),
// anything else is "[object Object]" or "null", which are not numbers.
func jsParseFloatObject(v any) (float64, bool) {
	switch x := v.(type) {
	case []byte:
		return engine.ToFloat(x)
	case engine.RawJSON:
		x = bytes.TrimSpace(x)
		if len(x) == 0 || x[0] != '[' {
			return 0, false
		}
		s := unsafe.String(unsafe.SliceData(x), len(x))
		first := gjson.Get(s, "0")
		if !first.Exists() {
			return 0, false
		}
		e := jsValueOfGJSON(first)
		return e.parseFloat()
	case []any:
		if len(x) == 0 {
			return 0, false
		}
		if x[0] == nil {
			return 0, false // null and undefined join as ""
		}
		e := jsValueOf(x[0])
		return e.parseFloat()
	}
	return 0, false
}

// jsKeyString is String(v), the key under which JavaScript stores v as a
// property name.
func jsKeyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "null"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case []byte:
		return string(x)
	case engine.RawJSON:
		return jsKeyString(x.Decode())
	case []any:
		var b strings.Builder
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if e != nil {
				b.WriteString(jsKeyString(e))
			}
		}
		return b.String()
	}
	if f, ok := engine.Number(v); ok {
		return engine.FormatNumber(f)
	}
	return "[object Object]"
}

// normaliseJS returns a deep copy of an object value that shares nothing
// with the message, in the form engine.Equal compares without decoding: objects as
// map[string]any, arrays as []any, numbers as float64, buffers as []byte.
func normaliseJS(v any) any {
	switch x := v.(type) {
	case nil, bool, string, float64:
		return x
	case []byte:
		return bytes.Clone(x)
	case engine.RawJSON:
		// Decode builds fresh containers and strings from a copy.
		return x.Decode()
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normaliseJS(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normaliseJS(e)
		}
		return out
	}
	if f, ok := engine.Number(v); ok {
		return f
	}
	// A custom node's own type: compare its JSON form.
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]any{}
	}
	d, err := engine.ParseJSON(b)
	if err != nil {
		return map[string]any{}
	}
	return normaliseJS(d)
}
