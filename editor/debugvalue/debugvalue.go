// Package debugvalue writes message values as Node-RED's debug sidebar
// shows them: JSON cut short as debugMaxLength cuts it (strings to that
// many UTF-16 code units and "...", arrays, buffers and objects to that
// many elements, the whole value to MaxBytes), object keys in
// JSON.stringify's order, and the value's format ("string[5]", "number",
// "Object", "array[3]", "buffer[4]"...). The editor's live channel uses it
// for debug events.
package debugvalue

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// MaxBytes bounds the encoded msg of one debug event; containers beyond it
// are cut short (and the value marked truncated).
const MaxBytes = 64 << 10

// Encoder writes values for the debug sidebar, cut short as Node-RED's
// debugMaxLength does: strings to Max characters followed by "...",
// arrays, buffers and objects to Max elements, and the whole msg to
// MaxBytes. The zero value is not useful: set Max. An Encoder may be
// reused for one value after another, not concurrently.
type Encoder struct {
	// Max is Node-RED's debugMaxLength, such as 1000.
	Max       int
	start     int // where the value being encoded begins in the buffer
	truncated bool
}

// Truncated reports whether the last AppendMsg cut anything short.
func (e *Encoder) Truncated() bool { return e.truncated }

// Property is the property as Node-RED's debug node names it:
// "payload" for msg.payload, "msg" for the whole message.
func Property(p string) string {
	if p == "" {
		return "payload"
	}
	return strings.TrimPrefix(p, "msg.")
}

// Format describes v as Node-RED's debug sidebar does: string[len],
// number, boolean, null, Object, array[len] or buffer[len]. Lengths of
// strings count UTF-16 code units, as JavaScript's length does.
func Format(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "number"
	case string:
		return "string[" + strconv.Itoa(jsv.UTF16Len(x)) + "]"
	case []byte:
		return "buffer[" + strconv.Itoa(len(x)) + "]"
	case []any:
		return "array[" + strconv.Itoa(len(x)) + "]"
	case engine.RawJSON:
		r := gjson.ParseBytes(x)
		if r.IsArray() {
			n := 0
			r.ForEach(func(_, _ gjson.Result) bool { n++; return true })
			return "array[" + strconv.Itoa(n) + "]"
		}
		return Format(fromScalar(r))
	}
	return "Object"
}

// fromScalar is the Go value of a scalar gjson result, or a map
// placeholder for an object.
func fromScalar(r gjson.Result) any {
	switch r.Type {
	case gjson.Null:
		return nil
	case gjson.True, gjson.False:
		return r.Bool()
	case gjson.Number:
		return r.Num
	case gjson.String:
		return r.Str
	}
	return map[string]any(nil)
}

// AppendMsg appends the msg of a debug event: v cut short, a buffer at
// the top as an array of byte values.
func (e *Encoder) AppendMsg(b []byte, v any) []byte {
	e.truncated = false
	e.start = len(b)
	if x, ok := v.([]byte); ok {
		return e.appendBytes(b, x)
	}
	return e.appendValue(b, v)
}

// full reports whether the value has reached MaxBytes, and marks it
// truncated if so.
func (e *Encoder) full(b []byte) bool {
	if len(b)-e.start >= MaxBytes {
		e.truncated = true
		return true
	}
	return false
}

func (e *Encoder) appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return e.appendString(b, x)
	case []byte:
		b = append(b, `{"type":"Buffer","data":`...)
		b = e.appendBytes(b, x)
		return append(b, '}')
	case engine.RawJSON:
		if len(x) <= e.Max {
			// Too short to hold anything that needs cutting.
			return engine.AppendJSON(b, x)
		}
		// In JSON.stringify's form first (key order, duplicates,
		// numbers), then cut short.
		return e.appendGJSON(b, gjson.ParseBytes(engine.CanonicalJSON(x)))
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		engine.SortKeys(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i == e.Max || e.full(b) {
				e.truncated = true
				break
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendString(b, k)
			b = append(b, ':')
			b = e.appendValue(b, x[k])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, el := range x {
			if i == e.Max || e.full(b) {
				e.truncated = true
				break
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendValue(b, el)
		}
		return append(b, ']')
	}
	return engine.AppendJSON(b, v)
}

// appendBytes appends a buffer as an array of its byte values.
func (e *Encoder) appendBytes(b []byte, x []byte) []byte {
	if len(x) > e.Max {
		x = x[:e.Max]
		e.truncated = true
	}
	b = append(b, '[')
	for i, c := range x {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(c), 10)
	}
	return append(b, ']')
}

// appendString appends s, cut to max UTF-16 code units and "..." when
// longer.
func (e *Encoder) appendString(b []byte, s string) []byte {
	if len(s) > e.Max { // a string of at most max bytes has at most max units
		units := 0
		for i, r := range s {
			w := 1
			if r > 0xFFFF {
				w = 2
			}
			if units+w > e.Max {
				s = s[:i] + "..."
				e.truncated = true
				break
			}
			units += w
		}
	}
	return engine.AppendJSON(b, s)
}

// appendGJSON appends raw JSON cut short. Of duplicate keys the last
// value is kept at the first key's place, as JSON.parse does.
func (e *Encoder) appendGJSON(b []byte, r gjson.Result) []byte {
	switch {
	case r.IsArray():
		if len(r.Raw) <= e.Max {
			return engine.AppendJSON(b, engine.RawJSON(r.Raw))
		}
		b = append(b, '[')
		i := 0
		r.ForEach(func(_, v gjson.Result) bool {
			if i == e.Max || e.full(b) {
				e.truncated = true
				return false
			}
			if i > 0 {
				b = append(b, ',')
			}
			i++
			b = e.appendGJSON(b, v)
			return true
		})
		return append(b, ']')
	case r.IsObject():
		if len(r.Raw) <= e.Max {
			return engine.AppendJSON(b, engine.RawJSON(r.Raw))
		}
		type member struct {
			k string
			v gjson.Result
		}
		var ms []member
		at := map[string]int{}
		r.ForEach(func(k, v gjson.Result) bool {
			if i, dup := at[k.Str]; dup {
				ms[i].v = v
				return true
			}
			at[k.Str] = len(ms)
			ms = append(ms, member{k.Str, v})
			return true
		})
		b = append(b, '{')
		for i, m := range ms {
			if i == e.Max || e.full(b) {
				e.truncated = true
				break
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendString(b, m.k)
			b = append(b, ':')
			b = e.appendGJSON(b, m.v)
		}
		return append(b, '}')
	case r.Type == gjson.String:
		return e.appendString(b, r.Str)
	case r.Type == gjson.Number:
		return engine.AppendNumber(b, r.Num)
	}
	return append(b, r.Raw...)
}
