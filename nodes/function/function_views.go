package function

import (
	"reflect"
	"sort"
	"unsafe"

	"github.com/dop251/goja"
	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// The message the code gets, and the JSON objects in it, are views: plain
// JavaScript objects to the code (their keys, JSON.stringify, for-in,
// delete and hasOwnProperty behave as on any object), whose properties
// become JavaScript values only when the code reads them. A property the
// code never touched goes out as the Go value it came in as (message
// values are never modified in place, so sharing it is safe), and an
// untouched part of a JSON object as its JSON text. Most function nodes
// read a property or two and return msg: that costs what they read, not
// the whole message twice.
//
// What a view cannot do, as goja's dynamic objects cannot: hold symbol
// keys, accessor properties (Object.defineProperty with get/set) or be
// frozen. Code that does those on msg or a JSON object inside it gets a
// TypeError; on a copy ({...msg}, Object.assign({}, msg)) it works.

// jsonObject is a view of a JSON object (a RawJSON value or part of one).
type jsonObject struct {
	f    *fnVM
	ents []viewEnt
	// idx finds entries by key in large objects (nil below idxMin keys,
	// and after a delete until the next lookup).
	idx map[string]int
	// indexKeys is set when a key is an array index ("0", "17"): those
	// come first in key order, ascending, as in JavaScript.
	indexKeys bool
}

// jsonObject2 and jsonObject4 hold a view and the first array of its
// entries in one allocation (see allocJSONObject).
type (
	jsonObject2 struct {
		jsonObject
		buf [2]viewEnt
	}
	jsonObject4 struct {
		jsonObject
		buf [4]viewEnt
	}
)

// allocJSONObject returns an empty view with room for n entries: small
// ones in one allocation of about the size they need.
func (f *fnVM) allocJSONObject(n int) *jsonObject {
	switch {
	case n <= 2:
		x := &jsonObject2{}
		x.f, x.ents = f, x.buf[:0]
		return &x.jsonObject
	case n <= 4:
		x := &jsonObject4{}
		x.f, x.ents = f, x.buf[:0]
		return &x.jsonObject
	}
	return &jsonObject{f: f, ents: make([]viewEnt, 0, n)}
}

// viewEnt is one property of a JSON object view: the JSON text of its
// value until the code reads or sets it, then its JavaScript value.
type viewEnt struct {
	key    string
	rawKey string     // the key as written in the JSON text, quotes included; "" when the code added it
	raw    string     // the JSON text of the value
	js     goja.Value // nil until read or set
}

const idxMin = 16

var (
	jsonObjectType = reflect.TypeOf((*jsonObject)(nil))
	msgObjectType  = reflect.TypeOf((*msgObject)(nil))
)

// newJSONObject returns the view of the JSON object r.
func (f *fnVM) newJSONObject(r gjson.Result) *goja.Object {
	// The entries are read into f.parsed first, so that the view can be
	// allocated at their size, with room for one more (code often adds a
	// property).
	o := &f.parsed
	*o = jsonObject{f: f, ents: f.parsedEnts[:0]}
	r.ForEach(func(k, v gjson.Result) bool {
		if i := o.find(k.Str); i >= 0 {
			// JSON.parse keeps the last value of a repeated key, in the
			// first one's place.
			o.ents[i].raw = v.Raw
			return true
		}
		o.add(viewEnt{key: k.Str, rawKey: k.Raw, raw: v.Raw})
		return true
	})
	share := f.sharePayload
	f.sharePayload = false
	var v *jsonObject
	if share && f.payloadView != nil {
		v = f.payloadView
		v.ents = emptied(v.ents)
	} else {
		v = f.allocJSONObject(len(o.ents) + 1)
	}
	v.ents = append(v.ents, o.ents...)
	v.indexKeys, v.idx = o.indexKeys, o.idx
	clear(o.ents) // the scratch must not keep the message's text
	if cap(o.ents) <= 64 {
		f.parsedEnts = o.ents[:0]
	}
	*o = jsonObject{}
	if v == f.payloadView {
		return f.recent.add(withProto(f.payloadObj, f.payloadProto), v)
	}
	obj := f.vm.NewDynamicObject(v)
	if share {
		f.payloadObj, f.payloadView, f.payloadProto = obj, v, obj.Prototype()
	}
	return f.recent.add(obj, v)
}

// emptied returns the entries of a shared view (fnPrograms.sharedMsg,
// sharedPayload) ready for the next message: cleared, so that nothing of
// the last message stays reachable, and dropped when they grew large.
func emptied[E any](ents []E) []E {
	clear(ents)
	if cap(ents) > 64 {
		return nil
	}
	return ents[:0]
}

// withProto returns obj, a shared view's object, with its prototype put
// back to proto: code may have set msg.__proto__.
func withProto(obj, proto *goja.Object) *goja.Object {
	if obj.Prototype() != proto {
		_ = obj.SetPrototype(proto)
	}
	return obj
}

func (o *jsonObject) add(e viewEnt) {
	if isArrayIndex(e.key) {
		o.indexKeys = true
	}
	o.ents = append(o.ents, e)
	if o.idx != nil {
		o.idx[e.key] = len(o.ents) - 1
	}
}

func (o *jsonObject) find(key string) int {
	if len(o.ents) < idxMin {
		for i := range o.ents {
			if o.ents[i].key == key {
				return i
			}
		}
		return -1
	}
	if o.idx == nil {
		o.idx = make(map[string]int, len(o.ents))
		for i, e := range o.ents {
			o.idx[e.key] = i
		}
	}
	if i, ok := o.idx[key]; ok {
		return i
	}
	return -1
}

// Get implements goja.DynamicObject.
func (o *jsonObject) Get(key string) goja.Value {
	i := o.find(key)
	if i < 0 {
		return nil
	}
	e := &o.ents[i]
	if e.js == nil {
		e.js = o.f.gjsonToJS(gjson.Parse(e.raw))
	}
	return e.js
}

// Set implements goja.DynamicObject.
func (o *jsonObject) Set(key string, v goja.Value) bool {
	if i := o.find(key); i >= 0 {
		o.ents[i].js = v
		return true
	}
	o.add(viewEnt{key: key, js: v})
	return true
}

// Has implements goja.DynamicObject.
func (o *jsonObject) Has(key string) bool { return o.find(key) >= 0 }

// Delete implements goja.DynamicObject.
func (o *jsonObject) Delete(key string) bool {
	if i := o.find(key); i >= 0 {
		o.ents = append(o.ents[:i], o.ents[i+1:]...)
		o.idx = nil
	}
	return true
}

// Keys implements goja.DynamicObject: array indices first, ascending,
// then the other keys in the order they were added.
func (o *jsonObject) Keys() []string { return entKeys(o.ents, o.indexKeys) }

func entKeys(ents []viewEnt, indexKeys bool) []string {
	keys := make([]string, len(ents))
	for i, e := range ents {
		keys[i] = e.key
	}
	if indexKeys {
		sortIndexKeys(keys)
	}
	return keys
}

// sortIndexKeys puts the array-index keys first, ascending, keeping the
// order of the others.
func sortIndexKeys(keys []string) {
	sort.SliceStable(keys, func(i, j int) bool { return indexFirst(keys[i], keys[j]) })
}

// indexFirst orders keys as JavaScript orders an object's own keys:
// array indices (engine.ArrayIndex) first, ascending, before the others,
// which keep their order (with a stable sort).
func indexFirst(a, b string) bool {
	x, aok := engine.ArrayIndex(a)
	y, bok := engine.ArrayIndex(b)
	if aok && bok {
		return x < y
	}
	return aok && !bok
}

// isArrayIndex reports whether JavaScript orders key before the other
// keys of an object.
func isArrayIndex(key string) bool {
	_, ok := engine.ArrayIndex(key)
	return ok
}

// appendJSON appends the object as JSON (what JSON.stringify writes, with
// untouched values as their JSON text) and reports whether it is wholly
// JSON (see fnVM.appendJSON).
func (o *jsonObject) appendJSON(b []byte, depth int) ([]byte, bool) {
	ents := o.ents
	if o.indexKeys {
		ents = orderedEnts(ents)
	}
	b = append(b, '{')
	first := true
	for i := range ents {
		e := &ents[i]
		if e.js == nil {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, e.rawKey...)
			b = append(b, ':')
			b = append(b, e.raw...)
			continue
		}
		if skipInObject(e.js) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendKey(b, e.rawKey, e.key)
		var ok bool
		if b, ok = o.f.appendValue(b, e.js, depth, false); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendKey appends an object key and its colon: the key's JSON text as
// it came (rawKey), or key written as JSON when the code added it.
func appendKey(b []byte, rawKey, key string) []byte {
	if rawKey != "" {
		b = append(b, rawKey...)
	} else {
		b = engine.AppendJSONString(b, key)
	}
	return append(b, ':')
}

// orderedEnts returns a copy of ents with the array-index keys first,
// ascending (O(n log n): it runs after the code, outside its time limit).
func orderedEnts(ents []viewEnt) []viewEnt {
	out := append([]viewEnt(nil), ents...)
	sort.SliceStable(out, func(i, j int) bool { return indexFirst(out[i].key, out[j].key) })
	return out
}

// skipInObject reports whether JSON.stringify leaves a property with
// value v out of an object: undefined, functions and symbols.
func skipInObject(v goja.Value) bool {
	if goja.IsUndefined(v) {
		return true
	}
	if o, ok := v.(*goja.Object); ok {
		return o.ClassName() == "Function"
	}
	_, isSym := v.(*goja.Symbol)
	return isSym
}

// asJSONObject returns the view behind o, if o is one.
func (f *fnVM) asJSONObject(o *goja.Object) *jsonObject {
	if v := f.recent.find(o); v != nil {
		j, _ := v.(*jsonObject)
		return j
	}
	if o.ExportType() != jsonObjectType {
		return nil
	}
	v, _ := o.Export().(*jsonObject)
	return v
}

// recentViews remembers the last views made, by their object: finding a
// view behind an object through Object.Export costs an allocation, and
// the views a message's code returns are nearly always among the last
// few it made.
type recentViews struct {
	obj  [8]*goja.Object
	view [8]goja.DynamicObject
	next int
}

// add remembers view as the one behind o, forgetting the oldest.
func (r *recentViews) add(o *goja.Object, view goja.DynamicObject) *goja.Object {
	i := r.next % len(r.obj)
	r.obj[i], r.view[i] = o, view
	r.next++
	return o
}

// find returns the view behind o if it is remembered, else nil.
func (r *recentViews) find(o *goja.Object) goja.DynamicObject {
	for i, x := range &r.obj {
		if x == o {
			return r.view[i]
		}
	}
	return nil
}

// msgObject is the view of a message: _msgid, topic and payload when set
// (as Message.Lookup tells), then the other properties.
type msgObject struct {
	f     *fnVM
	ents  []msgEnt
	idNum uint64 // _msgid's value (see engine.Message.IDNumber)
	topic string // topic's value, kept without boxing
}

// msgEnt is one property of a message view: its Go value until the code
// reads or sets it, then its JavaScript value.
type msgEnt struct {
	key string
	gov any        // the Go value; kept after the read of a primitive, which the code cannot change in place
	js  goja.Value // nil until read or set
	src entSrc     // where the Go value is
	set bool       // the code set the property: js goes out even when gov is kept
}

// entSrc says where a message view entry's Go value is.
type entSrc uint8

const (
	inGov   entSrc = iota // msgEnt.gov
	inID                  // msgObject.idNum
	inTopic               // msgObject.topic
)

// str returns the value of an entry held as a string (src inID or inTopic).
func (o *msgObject) str(e *msgEnt) string {
	if e.src == inID {
		return engine.FormatID(o.idNum)
	}
	return o.topic
}

// msgObject4, 6 and 8 hold a view and the first array of its entries in
// one allocation (see allocMsgObject).
type (
	msgObject4 struct {
		msgObject
		buf [4]msgEnt
	}
	msgObject6 struct {
		msgObject
		buf [6]msgEnt
	}
	msgObject8 struct {
		msgObject
		buf [8]msgEnt
	}
)

// allocMsgObject returns an empty view with room for n entries: an
// inject's message (3 and one the code adds) in 288 bytes, mqtt in's (5
// and one) in 416, in one allocation.
func (f *fnVM) allocMsgObject(n int) *msgObject {
	switch {
	case n <= 4:
		x := &msgObject4{}
		x.f, x.ents = f, x.buf[:0]
		return &x.msgObject
	case n <= 6:
		x := &msgObject6{}
		x.f, x.ents = f, x.buf[:0]
		return &x.msgObject
	case n <= 8:
		x := &msgObject8{}
		x.f, x.ents = f, x.buf[:0]
		return &x.msgObject
	}
	return &msgObject{f: f, ents: make([]msgEnt, 0, n)}
}

// viewProps calls add with each property a message view holds, in its
// order: _msgid and topic (their values stay in the view, see entSrc),
// payload when set (as Message.Lookup tells), then the others.
func viewProps(m *engine.Message, add func(key string, src entSrc, gov any)) {
	add("_msgid", inID, nil)
	if m.Topic != "" {
		add("topic", inTopic, nil)
	}
	if v, ok := m.Lookup(payloadPath); ok {
		add("payload", inGov, v)
	}
	m.RangeOther(func(k string, v any) { add(k, inGov, v) })
}

// newMsgObject returns the view of m.
func (f *fnVM) newMsgObject(m *engine.Message) *goja.Object {
	var o *msgObject
	if f.n.progs.sharedMsg && f.msgView != nil {
		o = f.msgView
		o.ents = emptied(o.ents)
	} else {
		o = f.allocMsgObject(3 + m.OtherLen() + 1)
	}
	o.idNum, o.topic = m.IDNumber(), m.Topic
	viewProps(m, func(key string, src entSrc, gov any) {
		o.ents = append(o.ents, msgEnt{key: key, src: src, gov: gov})
	})
	if o == f.msgView {
		return f.recent.add(withProto(f.msgObj, f.msgProto), o)
	}
	obj := f.vm.NewDynamicObject(o)
	if f.n.progs.sharedMsg {
		f.msgObj, f.msgView, f.msgProto = obj, o, obj.Prototype()
	}
	return f.recent.add(obj, o)
}

func (o *msgObject) find(key string) int {
	for i := range o.ents {
		if o.ents[i].key == key {
			return i
		}
	}
	return -1
}

// Get implements goja.DynamicObject.
func (o *msgObject) Get(key string) goja.Value {
	i := o.find(key)
	if i < 0 {
		return nil
	}
	e := &o.ents[i]
	if e.js == nil && e.src != inGov {
		e.js = o.f.vm.ToValue(o.str(e))
	}
	if e.js == nil {
		o.f.sharePayload = e.key == "payload" && o == o.f.msgView && o.f.n.progs.sharedPayload
		e.js = o.f.toJS(e.gov)
		o.f.sharePayload = false
		if _, isObj := e.js.(*goja.Object); isObj {
			e.gov = nil // the code may change the object: convert it back
		}
	}
	return e.js
}

// Set implements goja.DynamicObject.
func (o *msgObject) Set(key string, v goja.Value) bool {
	if i := o.find(key); i >= 0 {
		o.ents[i].js, o.ents[i].set = v, true
		return true
	}
	o.ents = append(o.ents, msgEnt{key: key, js: v, set: true})
	return true
}

// Has implements goja.DynamicObject.
func (o *msgObject) Has(key string) bool { return o.find(key) >= 0 }

// Delete implements goja.DynamicObject.
func (o *msgObject) Delete(key string) bool {
	if i := o.find(key); i >= 0 {
		o.ents = append(o.ents[:i], o.ents[i+1:]...)
	}
	return true
}

// Keys implements goja.DynamicObject: array indices first, ascending,
// then the others in order.
func (o *msgObject) Keys() []string {
	keys := make([]string, len(o.ents))
	indexKeys := false
	for i, e := range o.ents {
		keys[i] = e.key
		indexKeys = indexKeys || isArrayIndex(e.key)
	}
	if indexKeys {
		sortIndexKeys(keys)
	}
	return keys
}

// fill makes a message of the view in m, which has no properties:
// untouched properties keep their Go values, the others are converted.
// msgid, when set, is its _msgid.
func (o *msgObject) fill(m *engine.Message, msgid string) *engine.Message {
	for i := range o.ents {
		e := &o.ents[i]
		if e.key == "_msgid" && msgid != "" {
			continue
		}
		v := e.gov
		if e.js != nil && (e.set || (e.gov == nil && e.src == inGov)) {
			v = o.f.fromJS(e.js)
		} else if e.src == inTopic {
			m.Topic = o.topic
			continue
		} else if e.src == inID {
			m.SetIDNumber(o.idNum)
			continue
		}
		if v == jsv.Undefined {
			continue
		}
		m.SetProp(e.key, v)
	}
	switch msgid {
	case "":
	case sameID:
		m.SetIDNumber(o.f.msgidNum)
	default:
		m.SetID(msgid)
	}
	return m
}

// sameID, passed as a msgid, stands for the _msgid of the message being
// handled (fnVM.curID) without its text being made.
const sameID = "="

// asMsgObject returns the view behind o, if o is one.
func (f *fnVM) asMsgObject(o *goja.Object) *msgObject {
	if v := f.recent.find(o); v != nil {
		m, _ := v.(*msgObject)
		return m
	}
	if o.ExportType() != msgObjectType {
		return nil
	}
	v, _ := o.Export().(*msgObject)
	return v
}

// rawString is the text of a RawJSON without a copy: RawJSON is never
// modified, and views keep substrings of it.
func rawString(r engine.RawJSON) string {
	if len(r) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(r), len(r))
}
