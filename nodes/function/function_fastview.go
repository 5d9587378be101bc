package function

import (
	"math"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// The values and views of the straight-line path (see function_fast.go).
// They mirror the goja path's views (function_views.go) so that a message
// comes out byte for byte as goja would send it: an object property the
// code never read goes out as its JSON text, one it read or set as the
// JavaScript value it holds, written as JSON.stringify writes it.

// fkind is the type of a straight-line value.
type fkind uint8

const (
	fUndef fkind = iota
	fNull
	fBool
	fNum
	fStr
	fObj // an object: a JSON object view or an object literal's
	fArr // an array of primitives (what split returns); never stored
	fMsg // msg itself; never stored
)

// fv is a JavaScript value on the straight-line path. It is small, with
// two pointers, because values are copied about a lot: an array is where
// it is in the run's arena (n its first element, alen its length).
type fv struct {
	k    fkind
	b    bool
	alen int32
	n    float64
	s    string
	o    *fobj
}

// arr returns an array value's elements.
func (r *frun) arr(v fv) []fv { return r.arena[int(v.n) : int(v.n)+int(v.alen)] }

// newArr returns the array of the arena's elements from start on.
func (r *frun) newArr(start int) fv {
	return fv{k: fArr, n: float64(start), alen: int32(len(r.arena) - start)}
}

var (
	undefV = fv{k: fUndef}
	nullV  = fv{k: fNull}
)

// numV returns the number n; every NaN is the one goja makes (Go's 0/0
// has the sign bit set), so that what goes out is the same to the bit.
func numV(n float64) fv {
	if n != n {
		n = math.NaN()
	}
	return fv{k: fNum, n: n}
}
func strV(s string) fv { return fv{k: fStr, s: s} }
func boolV(b bool) fv  { return fv{k: fBool, b: b} }

// primitive returns v as a Go value for the jsv helpers; v is not an
// object, array or msg.
func (v fv) primitive() any {
	switch v.k {
	case fNull:
		return nil
	case fBool:
		return v.b
	case fNum:
		return v.n
	case fStr:
		return v.s
	}
	return jsv.Undefined
}

// isPrimitive reports whether v is not an object (nor an array or msg).
func (v fv) isPrimitive() bool { return v.k < fObj }

// truthy is Boolean(v).
func (v fv) truthy() bool {
	switch v.k {
	case fUndef, fNull:
		return false
	case fBool:
		return v.b
	case fNum:
		return v.n != 0 && !math.IsNaN(v.n)
	case fStr:
		return v.s != ""
	}
	return true
}

// fobj is an object: a view of a JSON object (entries with their JSON
// text until read) or one the code made.
type fobj struct {
	ents      []fent
	indexKeys bool // a key is an array index: those come first in key order
}

// fent is one property of an fobj.
type fent struct {
	key    string
	rawKey string // the key as written in the JSON text; "" when the code added it
	raw    string // the JSON text of the value, until has
	v      fv
	has    bool // v holds the value (read or set)
}

// maxFastKeys bounds the objects the straight-line path reads (it finds
// keys by a linear search); larger ones go to goja.
const maxFastKeys = 64

func (o *fobj) find(key string) int {
	for i := range o.ents {
		if o.ents[i].key == key {
			return i
		}
	}
	return -1
}

func (o *fobj) add(e fent) {
	if isArrayIndex(e.key) {
		o.indexKeys = true
	}
	o.ents = append(o.ents, e)
}

// objectProtoNames are the properties every object inherits from
// Object.prototype: reading one that the object does not have itself
// gives a function, which the straight-line path leaves to goja.
var objectProtoNames = map[string]bool{
	"constructor": true, "__defineGetter__": true, "__defineSetter__": true,
	"hasOwnProperty": true, "__lookupGetter__": true, "__lookupSetter__": true,
	"isPrototypeOf": true, "propertyIsEnumerable": true, "toString": true,
	"valueOf": true, "__proto__": true, "toLocaleString": true,
}

// missing is the value of a property an object does not have itself:
// undefined, unless Object.prototype has it (the path gives up).
func missing(key string) (fv, bool) {
	if objectProtoNames[key] {
		return fv{}, false
	}
	return undefV, true
}

// get reads key of o.
func (r *frun) get(o *fobj, key string) (fv, bool) {
	i := o.find(key)
	if i < 0 {
		return missing(key)
	}
	e := &o.ents[i]
	if !e.has {
		v, ok := r.fromJSON(gjson.Parse(e.raw))
		if !ok {
			return fv{}, false
		}
		e.v, e.has = v, true
	}
	return e.v, true
}

// set writes key of o.
func (r *frun) set(o *fobj, key string, v fv) bool {
	if key == "__proto__" || !storable(v) {
		return false
	}
	if i := o.find(key); i >= 0 {
		o.ents[i].v, o.ents[i].has = v, true
		return true
	}
	if len(o.ents) >= maxFastKeys {
		return false
	}
	o.add(fent{key: key, v: v, has: true})
	return true
}

// storable reports whether v may be stored in an object or msg: arrays
// and msg stay where they are.
func storable(v fv) bool { return v.k != fArr && v.k != fMsg }

// newObj returns an empty object from the run's pool.
func (r *frun) newObj() *fobj {
	if r.nobj < len(r.objs) {
		o := r.objs[r.nobj]
		r.nobj++
		return o
	}
	o := &fobj{}
	r.objs = append(r.objs, o)
	r.nobj++
	return o
}

// fromJSON converts a JSON value as the goja path's gjsonToJS does:
// objects become views; arrays, and text that is not valid UTF-8, are
// left to goja.
func (r *frun) fromJSON(res gjson.Result) (fv, bool) {
	switch res.Type {
	case gjson.Null:
		return nullV, true
	case gjson.False:
		return boolV(false), true
	case gjson.True:
		return boolV(true), true
	case gjson.Number:
		return numV(res.Num), true
	case gjson.String:
		if !utf8.ValidString(res.Str) {
			return fv{}, false
		}
		return strV(res.Str), true
	}
	if !res.IsObject() {
		return fv{}, false
	}
	o := r.newObj()
	ok := true
	res.ForEach(func(k, v gjson.Result) bool {
		if i := o.find(k.Str); i >= 0 {
			// JSON.parse keeps the last value of a repeated key, in
			// the first one's place.
			o.ents[i].raw = v.Raw
			return true
		}
		if len(o.ents) >= maxFastKeys {
			ok = false
			return false
		}
		o.add(fent{key: k.Str, rawKey: k.Raw, raw: v.Raw})
		return true
	})
	if !ok {
		return fv{}, false
	}
	return fv{k: fObj, o: o}, true
}

// fromGo converts a message value as the goja path's toJS does, for the
// types the straight-line path takes.
func (r *frun) fromGo(x any) (fv, bool) {
	switch x := x.(type) {
	case nil:
		return nullV, true
	case jsv.UndefinedType:
		return undefV, true
	case bool:
		return boolV(x), true
	case float64:
		return numV(x), true
	case string:
		if !utf8.ValidString(x) {
			return fv{}, false
		}
		return strV(x), true
	case engine.RawJSON:
		return r.fromJSON(gjson.Parse(rawString(x)))
	}
	return fv{}, false
}

// mview is the msg view: _msgid, topic and payload when set (as
// Message.Lookup tells), then the other properties (as msgObject).
type mview struct {
	ents  []ment
	idNum uint64
	topic string
}

// ment is one property of the msg view.
type ment struct {
	key string
	gov any // the Go value; nil once an object was read out of it
	src entSrc
	v   fv
	has bool // v holds the value (read or set)
	set bool // the code set the property
}

func (m *mview) find(key string) int {
	for i := range m.ents {
		if m.ents[i].key == key {
			return i
		}
	}
	return -1
}

// fill reads the message into the view.
func (m *mview) fill(msg *engine.Message) {
	m.ents = emptied(m.ents)
	m.idNum, m.topic = msg.IDNumber(), msg.Topic
	viewProps(msg, func(key string, src entSrc, gov any) {
		m.ents = append(m.ents, ment{key: key, src: src, gov: gov})
	})
}

// getMsg reads msg[key].
func (r *frun) getMsg(key string) (fv, bool) {
	m := &r.msg
	i := m.find(key)
	if i < 0 {
		return missing(key)
	}
	e := &m.ents[i]
	if e.has {
		return e.v, true
	}
	var v fv
	switch e.src {
	case inID:
		v = strV(engine.FormatID(m.idNum))
	case inTopic:
		if !utf8.ValidString(m.topic) {
			return fv{}, false
		}
		v = strV(m.topic)
	default:
		var ok bool
		if v, ok = r.fromGo(e.gov); !ok {
			return fv{}, false
		}
		if v.k == fObj {
			e.gov = nil // the code may change the object: it goes out from v
		}
	}
	e.v, e.has = v, true
	return v, true
}

// setMsg writes msg[key].
func (r *frun) setMsg(key string, v fv) bool {
	if key == "__proto__" || !storable(v) {
		return false
	}
	m := &r.msg
	if i := m.find(key); i >= 0 {
		m.ents[i].v, m.ents[i].has, m.ents[i].set = v, true, true
		return true
	}
	m.ents = append(m.ents, ment{key: key, v: v, has: true, set: true})
	return true
}

// outProp is one property of the message the code returns.
type outProp struct {
	key string
	v   any
}

// encodeMsg works out the properties of the message the view makes (as
// msgObject.fill with sameID), into r.out; false when an object is too
// deep (or cyclic) to write.
func (r *frun) encodeMsg() bool {
	r.out = r.out[:0]
	r.topicOut = false
	for i := range r.msg.ents {
		e := &r.msg.ents[i]
		switch {
		case e.key == "_msgid":
			continue
		case e.has && (e.set || (e.gov == nil && e.src == inGov)):
			x, ok := r.toGo(e.v)
			if !ok {
				return false
			}
			if x == jsv.Undefined {
				continue
			}
			r.out = append(r.out, outProp{e.key, x})
		case e.src == inTopic:
			r.topicOut = true
		case e.src == inID:
		default:
			if e.gov == jsv.Undefined {
				continue
			}
			r.out = append(r.out, outProp{e.key, e.gov})
		}
	}
	return true
}

// writeMsg fills m, which has no properties, with what encodeMsg worked out.
func (r *frun) writeMsg(m *engine.Message) *engine.Message {
	for _, p := range r.out {
		m.SetProp(p.key, p.v)
	}
	if r.topicOut {
		m.Topic = r.msg.topic
	}
	m.SetIDNumber(r.msg.idNum)
	return m
}

// toGo converts v as the goja path's fromJS does.
func (r *frun) toGo(v fv) (any, bool) {
	switch v.k {
	case fObj:
		b, ok := r.appendObj(r.scratch[:0], v.o, 0)
		if !ok {
			return nil, false
		}
		r.scratch = b[:0]
		return engine.RawJSON(append([]byte(nil), b...)), true
	case fArr, fMsg:
		return nil, false
	}
	return v.primitive(), true
}

// maxFastDepth bounds how deep an object the straight-line path writes;
// deeper (or cyclic) ones are left to goja.
const maxFastDepth = 32

// appendObj appends o as JSON, as jsonObject.appendJSON does.
func (r *frun) appendObj(b []byte, o *fobj, depth int) ([]byte, bool) {
	if depth > maxFastDepth {
		return b, false
	}
	ents := o.ents
	if o.indexKeys {
		ents = r.orderedEnts(ents)
	}
	b = append(b, '{')
	first := true
	for i := range ents {
		e := &ents[i]
		if !e.has {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, e.rawKey...)
			b = append(b, ':')
			b = append(b, e.raw...)
			continue
		}
		if e.v.k == fUndef {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendKey(b, e.rawKey, e.key)
		var ok bool
		if b, ok = r.appendValue(b, e.v, depth); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// orderedEnts returns ents with the array-index keys first, ascending.
func (r *frun) orderedEnts(ents []fent) []fent {
	out := append([]fent(nil), ents...)
	// a stable insertion sort: objects here have at most maxFastKeys keys
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && indexFirst(out[j].key, out[j-1].key); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func (r *frun) appendValue(b []byte, v fv, depth int) ([]byte, bool) {
	switch v.k {
	case fUndef, fNull:
		return append(b, "null"...), true
	case fBool:
		if v.b {
			return append(b, "true"...), true
		}
		return append(b, "false"...), true
	case fNum:
		if math.IsNaN(v.n) || math.IsInf(v.n, 0) {
			return append(b, "null"...), true
		}
		return jsv.AppendNumber(b, v.n), true
	case fStr:
		return engine.AppendJSONString(b, v.s), true
	case fObj:
		return r.appendObj(b, v.o, depth+1)
	}
	return b, false
}
