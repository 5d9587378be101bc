package engine

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"
)

// Message is Node-RED's msg: a topic, a payload and any further properties.
//
// A Message is not safe for concurrent use, but the values it holds are
// never mutated in place, so Copy is cheap: copies share their values and
// each writes only its own fields (copy on write). The runtime hands the
// original to the first wire of a fan-out and copies to the others, as
// Node-RED does with clones.
type Message struct {
	// Topic is msg.topic.
	Topic string
	// Payload is msg.payload; see the package documentation for the
	// value types it may hold. nil is undefined (no payload) unless the
	// payload was set to null through SetProp or Set (see Lookup).
	Payload any

	id uint64
	// Further properties: the first few inline (mqtt-in sets qos and
	// retain on every message), the rest in a map shared between copies
	// until one of them writes (copy on write).
	inl         [inlineProps]prop
	ninl        int
	props       map[string]any
	propsShared bool

	// nullPayload is set when the payload was set to null (nil) through
	// SetProp or Set, as a json node parsing "null" does: Node-RED tells
	// null from undefined (a range maps Number(null) = 0, and passes a
	// message without a payload on unchanged). It sits beside
	// propsShared so that the two share a word.
	nullPayload bool
	// events counts the catch and complete deliveries this message
	// descends from (copies keep it), so that a flow that feeds its own
	// catch node stops (see maxEventChain).
	events uint8
	// calls counts the link calls (Host.Deliver) this message is inside,
	// copies included, beyond the reach of the flow (msg._linkSource can
	// be deleted): see CallDepth.
	calls uint8
}

// CallDepth returns how many Host.Deliver calls (link calls) the message
// descends from. A node that calls other nodes with Deliver refuses to go
// deeper than it allows, so that a flow calling itself cannot exhaust the
// stack.
func (m *Message) CallDepth() int { return int(m.calls) }

const inlineProps = 3

type prop struct {
	name string
	val  any
}

var (
	idPrefix  = randomPrefix()
	idCounter atomic.Uint64
)

func randomPrefix() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// NewMessage returns a message with a fresh _msgid.
func NewMessage(topic string, payload any) *Message {
	return &Message{Topic: topic, Payload: payload, id: idPrefix ^ idCounter.Add(1)}
}

// ID returns msg._msgid: 16 hexadecimal digits, as Node-RED writes it.
func (m *Message) ID() string { return FormatID(m.id) }

// IDNumber returns msg._msgid as the number whose digits ID writes, for
// a node that carries an id without needing its text (FormatID makes
// it).
func (m *Message) IDNumber() uint64 { return m.id }

// SetIDNumber sets msg._msgid to the id whose number is n (see IDNumber).
func (m *Message) SetIDNumber(n uint64) { m.id = n }

// FormatID returns the text of the _msgid whose number is n (see
// IDNumber).
func FormatID(n uint64) string {
	var b [16]byte
	const hex = "0123456789abcdef"
	v := n
	for i := 15; i >= 0; i-- {
		b[i] = hex[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// SetID sets msg._msgid to id, as SetProp("_msgid", id) does, without
// boxing the string: an id that ID did not write (16 hexadecimal digits)
// is ignored.
func (m *Message) SetID(id string) {
	if len(id) != 16 {
		return
	}
	if v, err := strconv.ParseUint(id, 16, 64); err == nil {
		m.id = v
	}
}

// Clear removes every property but _msgid, so that a node can make its
// output of the message it owns without allocating another. What the
// runtime counts for the message (see CallDepth) stays.
func (m *Message) Clear() {
	*m = Message{id: m.id, events: m.events, calls: m.calls}
}

// Copy returns a copy that shares the values of m (see Message). The copy
// keeps the same _msgid, as a Node-RED clone does.
func (m *Message) Copy() *Message {
	c := *m
	if m.props != nil {
		m.propsShared = true
		c.propsShared = true
	}
	return &c
}

// Prop returns the top-level property name (topic, payload, _msgid or any
// other) and whether it is set.
func (m *Message) Prop(name string) (any, bool) {
	switch name {
	case "payload":
		return m.Payload, true
	case "topic":
		return m.Topic, true
	case "_msgid":
		return m.ID(), true
	}
	for i := 0; i < m.ninl; i++ {
		if m.inl[i].name == name {
			return m.inl[i].val, true
		}
	}
	v, ok := m.props[name]
	return v, ok
}

// SetProp sets the top-level property name. A topic that is not a string
// is stored as its string form.
func (m *Message) SetProp(name string, v any) {
	switch name {
	case "payload":
		m.Payload, m.nullPayload = v, v == nil
		return
	case "topic":
		if s, ok := v.(string); ok {
			m.Topic = s
		} else if v == nil {
			m.Topic = ""
		} else {
			m.Topic = ToString(v)
		}
		return
	case "_msgid":
		if s, ok := v.(string); ok {
			m.SetID(s)
		}
		return
	}
	for i := 0; i < m.ninl; i++ {
		if m.inl[i].name == name {
			m.inl[i].val = v
			return
		}
	}
	if _, inMap := m.props[name]; !inMap && m.ninl < inlineProps {
		m.inl[m.ninl] = prop{name, v}
		m.ninl++
		return
	}
	m.ownProps()
	m.props[name] = v
}

// DeleteProp removes the top-level property name. Deleting topic or
// payload sets them to their empty values.
func (m *Message) DeleteProp(name string) {
	switch name {
	case "payload":
		m.Payload, m.nullPayload = nil, false
		return
	case "topic":
		m.Topic = ""
		return
	case "_msgid":
		return
	}
	for i := 0; i < m.ninl; i++ {
		if m.inl[i].name == name {
			copy(m.inl[i:], m.inl[i+1:m.ninl])
			m.ninl--
			m.inl[m.ninl] = prop{}
			return
		}
	}
	if _, ok := m.props[name]; !ok {
		return
	}
	m.ownProps()
	delete(m.props, name)
}

func (m *Message) ownProps() {
	if m.props == nil {
		m.props = make(map[string]any, 4)
		return
	}
	if m.propsShared {
		cp := make(map[string]any, len(m.props)+1)
		for k, v := range m.props {
			cp[k] = v
		}
		m.props = cp
		m.propsShared = false
	}
}

// Get reads the value at path p and reports whether it exists.
func (m *Message) Get(p Path) (any, bool) {
	if len(p.segs) == 0 {
		return nil, false
	}
	v, ok := m.Prop(p.segs[0].Key)
	if !ok {
		return nil, false
	}
	if len(p.segs) == 1 {
		return v, true
	}
	return p.lookupIn(v)
}

// Lookup is Get as a Node-RED user sees the message: a missing payload
// (nil) or an empty topic, which Runnel's Message always holds, are
// undefined in Node-RED unless something set them, so Lookup reports them
// as absent. A payload set to null with SetProp or Set (a json node
// parsing "null") is present, and nil.
func (m *Message) Lookup(p Path) (any, bool) {
	v, ok := m.Get(p)
	if !ok {
		return nil, false
	}
	if len(p.segs) == 1 {
		switch p.segs[0].Key {
		case "payload":
			return v, v != nil || m.nullPayload
		case "topic":
			return v, v != ""
		}
	}
	return v, true
}

// Set writes v at path p, creating missing objects and arrays on the way
// and copying (never mutating) the containers it passes through.
func (m *Message) Set(p Path, v any) error {
	if len(p.segs) == 0 {
		return fmt.Errorf("empty property path")
	}
	name := p.segs[0].Key
	if len(p.segs) == 1 {
		m.SetProp(name, v)
		return nil
	}
	cur, _ := m.Prop(name)
	nv, err := setIn(cur, p.segs[1:], v)
	if err != nil {
		return fmt.Errorf("set %s: %w", p.src, err)
	}
	m.SetProp(name, nv)
	return nil
}

// Delete removes the value at path p if it exists.
func (m *Message) Delete(p Path) {
	if len(p.segs) == 0 {
		return
	}
	name := p.segs[0].Key
	if len(p.segs) == 1 {
		m.DeleteProp(name)
		return
	}
	cur, ok := m.Prop(name)
	if !ok {
		return
	}
	m.SetProp(name, deleteIn(cur, p.segs[1:]))
}

// Keys returns the names of the message's properties in a stable order:
// _msgid, topic, payload, then the others sorted.
func (m *Message) Keys() []string {
	keys := make([]string, 0, 3+m.ninl+len(m.props))
	keys = append(keys, "_msgid", "topic", "payload")
	extra := make([]string, 0, m.ninl+len(m.props))
	for i := 0; i < m.ninl; i++ {
		extra = append(extra, m.inl[i].name)
	}
	for k := range m.props {
		extra = append(extra, k)
	}
	sort.Strings(extra)
	return append(keys, extra...)
}

// RangeOther calls fn with each property other than _msgid, topic and
// payload, in the order Keys gives them (sorted by name).
func (m *Message) RangeOther(fn func(name string, v any)) {
	if len(m.props) == 0 {
		// The inline properties, sorted without allocating.
		var order [inlineProps]int
		for i := 0; i < m.ninl; i++ {
			j := i
			for j > 0 && m.inl[order[j-1]].name > m.inl[i].name {
				order[j] = order[j-1]
				j--
			}
			order[j] = i
		}
		for _, i := range order[:m.ninl] {
			fn(m.inl[i].name, m.inl[i].val)
		}
		return
	}
	for _, k := range m.Keys()[3:] {
		v, _ := m.Prop(k)
		fn(k, v)
	}
}

// OtherLen returns the number of properties other than _msgid, topic and
// payload.
func (m *Message) OtherLen() int { return m.ninl + len(m.props) }

// AppendJSON appends the whole message as a JSON object to b, without
// its handles (see Handle).
func (m *Message) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	first := true
	for _, k := range m.Keys() {
		v, _ := m.Prop(k)
		if _, ok := v.(Handle); ok {
			continue // a live resource, not data (see Handle)
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = AppendJSON(b, v)
	}
	return append(b, '}')
}

// Value returns the whole message as a decoded object, for templates and
// expressions that look properties up by name.
func (m *Message) Value() map[string]any {
	out := make(map[string]any, 3+m.ninl+len(m.props))
	for i := 0; i < m.ninl; i++ {
		out[m.inl[i].name] = m.inl[i].val
	}
	for k, v := range m.props {
		out[k] = v
	}
	out["_msgid"] = m.ID()
	out["topic"] = m.Topic
	out["payload"] = m.Payload
	return out
}
