package function

// The JavaScript built-ins a function node installs into its goja runtime:
// Node.js's Buffer, console and util.format/util.inspect, as far as function
// nodes use them. They are written here rather than taken from
// github.com/dop251/goja_nodejs: its buffer module (checked at
// v0.0.0-20260212111938-1f56ff5bcf14, which builds with the pinned goja)
// lacks slice, indexOf, includes, fill, copy, toJSON, isBuffer, byteLength,
// latin1 and ascii, decodes lenient base64 differently from Node, does not
// bound Buffer.alloc, and its util.format knows only %s %d %j with no
// util.inspect; wrapping it would have meant replacing most of it.
//
// A Buffer is a real Uint8Array subclass: Buffer.prototype inherits from
// Uint8Array.prototype and Buffer from Uint8Array, and every Buffer is made
// by goja's Uint8Array constructor with Buffer as new.target. So instanceof
// Uint8Array, indexing (values masked to 0..255 by the typed array),
// length, iteration, Array.from and the typed-array methods work as in
// Node; subarray and map make Buffers through Symbol.species.

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dop251/goja"

	"github.com/runnel-io/runnel/engine/jsv"
	"github.com/runnel-io/runnel/flows/jsutf8"
)

// maxBufferSize bounds every Buffer a function node's JavaScript can make
// (Buffer.alloc, from, concat, ...). Node allows 4 GiB; 64 MiB keeps one
// function from taking the process down and is far above what an MQTT
// payload is (mochi's default maximum packet is 256 MiB but real flows move
// kilobytes). Asking for more is Node's RangeError ERR_OUT_OF_RANGE.
const maxBufferSize = 64 << 20

// symBufferAPI keys the per-runtime Buffer implementation on the global
// object, so that bufferToJS finds it even if the code reassigns Buffer.
var symBufferAPI = goja.NewSymbol("runnel.buffer")

var bytesType = reflect.TypeOf([]byte(nil))

type bufferAPI struct {
	rt      *goja.Runtime
	ctor    *goja.Object // Buffer
	proto   *goja.Object // Buffer.prototype
	u8      *goja.Object // Uint8Array
	u8new   goja.Constructor
	arrayBu *goja.Object // ArrayBuffer
}

// installBuffer defines the global Buffer in rt.
func installBuffer(rt *goja.Runtime) error {
	u8 := rt.Get("Uint8Array")
	u8new, ok := goja.AssertConstructor(u8)
	if !ok {
		return fmt.Errorf("buffer: Uint8Array is not a constructor")
	}
	b := &bufferAPI{rt: rt, u8: u8.ToObject(rt), u8new: u8new, arrayBu: rt.Get("ArrayBuffer").ToObject(rt)}
	b.ctor = rt.ToValue(b.construct).ToObject(rt)
	if err := b.ctor.DefineDataProperty("name", rt.ToValue("Buffer"), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
		return fmt.Errorf("buffer: %w", err)
	}
	if err := b.ctor.SetPrototype(b.u8); err != nil {
		return fmt.Errorf("buffer: %w", err)
	}
	b.proto = rt.NewObject()
	if err := b.proto.SetPrototype(b.u8.Get("prototype").ToObject(rt)); err != nil {
		return fmt.Errorf("buffer: %w", err)
	}
	if err := b.ctor.DefineDataProperty("prototype", b.proto, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE); err != nil {
		return fmt.Errorf("buffer: %w", err)
	}
	if err := b.proto.DefineDataProperty("constructor", b.ctor, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
		return fmt.Errorf("buffer: %w", err)
	}
	statics := map[string]func(goja.FunctionCall) goja.Value{
		"from":        b.from,
		"alloc":       b.alloc,
		"allocUnsafe": b.allocUnsafe,
		"concat":      b.concat,
		"isBuffer":    b.isBuffer,
		"isEncoding":  b.isEncoding,
		"byteLength":  b.byteLength,
		"compare":     b.compareStatic,
	}
	for name, f := range statics {
		b.method(b.ctor, name, f)
	}
	if err := b.ctor.Set("poolSize", 8192); err != nil {
		return fmt.Errorf("buffer: %w", err)
	}
	methods := map[string]func(goja.FunctionCall) goja.Value{
		"toString":    b.toString,
		"toJSON":      b.toJSON,
		"equals":      b.equals,
		"compare":     b.compare,
		"slice":       b.slice,
		"subarray":    b.slice,
		"indexOf":     b.indexOf,
		"lastIndexOf": b.lastIndexOf,
		"includes":    b.includes,
		"write":       b.write,
		"fill":        b.fill,
		"copy":        b.copy,
	}
	for name, f := range methods {
		b.method(b.proto, name, f)
	}
	for _, n := range numberAccessors {
		b.method(b.proto, "read"+n.name, b.reader(n))
		b.method(b.proto, "write"+n.name, b.writer(n))
		if strings.HasPrefix(n.name, "UInt") {
			// Node's lower-case aliases: readUint8, writeUint16LE...
			alias := "Uint" + n.name[4:]
			b.method(b.proto, "read"+alias, b.reader(n))
			b.method(b.proto, "write"+alias, b.writer(n))
		}
	}
	if err := rt.GlobalObject().DefineDataPropertySymbol(symBufferAPI, rt.ToValue(b), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE); err != nil {
		return fmt.Errorf("buffer: %w", err)
	}
	return rt.Set("Buffer", b.ctor)
}

// method defines a non-enumerable method, as built-in methods are.
func (b *bufferAPI) method(o *goja.Object, name string, f func(goja.FunctionCall) goja.Value) {
	fn := b.rt.ToValue(f).ToObject(b.rt)
	_ = fn.DefineDataProperty("name", b.rt.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = o.DefineDataProperty(name, fn, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

func apiOf(rt *goja.Runtime) *bufferAPI {
	v := rt.GlobalObject().GetSymbol(symBufferAPI)
	if v == nil {
		return nil
	}
	b, _ := v.Export().(*bufferAPI)
	return b
}

// bufferToJS returns a Buffer over b. It shares b's memory, without a copy:
// what the JavaScript writes into the Buffer is written into b, so pass a
// slice the runtime may own (copy a payload that other messages share).
// It returns nil if installBuffer has not run on rt.
func bufferToJS(rt *goja.Runtime, b []byte) goja.Value {
	api := apiOf(rt)
	if api == nil {
		return nil
	}
	if b == nil {
		b = []byte{}
	}
	return api.newBuffer(b)
}

// bufferFromJS returns the bytes of a Buffer or any Uint8Array (sharing its
// memory, without a copy) and true, or nil and false for any other value.
func bufferFromJS(v goja.Value) ([]byte, bool) {
	o, ok := v.(*goja.Object)
	if !ok || o.ExportType() != bytesType || o.ClassName() == "DataView" {
		return nil, false
	}
	bs, ok := o.Export().([]byte)
	return bs, ok
}

// newBuffer wraps data (shared) in a Buffer.
func (b *bufferAPI) newBuffer(data []byte) *goja.Object {
	o, err := b.u8new(b.ctor, b.rt.ToValue(b.rt.NewArrayBuffer(data)))
	if err != nil {
		panic(err)
	}
	return o
}

// construct is Buffer called with new: Buffer(size), Buffer(string, enc),
// Buffer(array) as Node's deprecated constructor, and Buffer(arrayBuffer,
// offset, length), which TypedArray species construction uses.
func (b *bufferAPI) construct(call goja.ConstructorCall) *goja.Object {
	arg := call.Argument(0)
	if isNumber(arg) {
		size := b.checkSize(arg, "size")
		return b.newBuffer(make([]byte, size))
	}
	if o, ok := arg.(*goja.Object); ok && b.rt.InstanceOf(o, b.arrayBu) {
		nt := call.NewTarget
		if nt == nil {
			nt = b.ctor
		}
		res, err := b.u8new(nt, call.Arguments...)
		if err != nil {
			panic(err)
		}
		return res
	}
	return b.fromValue(call.Arguments).ToObject(b.rt)
}

// --- errors in Node's shapes ---

func (b *bufferAPI) throw(kind, code, format string, args ...any) {
	throwNode(b.rt, kind, code, fmt.Sprintf(format, args...))
}

func throwNode(rt *goja.Runtime, kind, code, msg string) {
	ctor, ok := goja.AssertConstructor(rt.Get(kind))
	if !ok {
		panic(rt.NewTypeError(msg))
	}
	e, err := ctor(nil, rt.ToValue(msg))
	if err != nil {
		panic(err)
	}
	_ = e.Set("code", code)
	panic(e)
}

// received formats a value the way Node's ERR_INVALID_ARG_TYPE does.
func received(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	}
	if o, ok := v.(*goja.Object); ok {
		if _, isFn := goja.AssertFunction(o); isFn {
			if n := o.Get("name"); n != nil && n.String() != "" {
				return "function " + n.String()
			}
			return "function "
		}
		if c := o.Get("constructor"); c != nil {
			if co, ok := c.(*goja.Object); ok {
				if n := co.Get("name"); n != nil && n.String() != "" {
					return "an instance of " + n.String()
				}
			}
		}
		return "an instance of Object"
	}
	s := inspectValue(nil, v, inspectOptions{depth: 2})
	if len(s) > 28 {
		s = s[:25] + "..."
	}
	typ := "number"
	switch {
	case isString(v):
		typ = "string"
	case isBool(v):
		typ = "boolean"
	case isBigInt(v):
		typ = "bigint"
	case isSymbol(v):
		typ = "symbol"
	}
	return "type " + typ + " (" + s + ")"
}

// receivedNumber formats a number as Node's ERR_OUT_OF_RANGE does: integers
// beyond 2**32 with underscores between thousands.
func receivedNumber(f float64) string {
	s := numberString(f)
	if !math.IsInf(f, 0) && f == math.Trunc(f) && math.Abs(f) > 1<<32 && !strings.ContainsAny(s, "e") {
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		var out []byte
		for i := range len(s) {
			if i > 0 && (len(s)-i)%3 == 0 {
				out = append(out, '_')
			}
			out = append(out, s[i])
		}
		s = string(out)
		if neg {
			s = "-" + s
		}
	}
	return s
}

func (b *bufferAPI) outOfRange(name, rng string, v goja.Value) {
	var r string
	if isNumber(v) {
		r = receivedNumber(v.ToFloat())
	} else {
		r = inspectValue(nil, v, inspectOptions{depth: 2})
	}
	b.throw("RangeError", "ERR_OUT_OF_RANGE", "The value of %q is out of range. It must be %s. Received %s", name, rng, r)
}

func (b *bufferAPI) invalidFirst(v goja.Value) {
	b.throw("TypeError", "ERR_INVALID_ARG_TYPE", "The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received %s", received(v))
}

func (b *bufferAPI) invalidType(name, want string, v goja.Value) {
	b.throw("TypeError", "ERR_INVALID_ARG_TYPE", "The %q argument must be %s. Received %s", name, want, received(v))
}

// checkSize validates a Buffer size as Node's Buffer.alloc does, with
// maxBufferSize as the upper bound; fractions are truncated.
func (b *bufferAPI) checkSize(v goja.Value, name string) int {
	if !isNumber(v) {
		b.invalidType(name, "of type number", v)
	}
	f := v.ToFloat()
	if !(f >= 0 && f <= maxBufferSize) {
		b.outOfRange(name, fmt.Sprintf(">= 0 && <= %d", maxBufferSize), v)
	}
	return int(f)
}

func (b *bufferAPI) tooLarge(n int) {
	if n > maxBufferSize {
		b.throw("RangeError", "ERR_OUT_OF_RANGE", "The value of \"size\" is out of range. It must be >= 0 && <= %d. Received %s", maxBufferSize, receivedNumber(float64(n)))
	}
}

// --- value helpers ---

func isNumber(v goja.Value) bool {
	if v == nil {
		return false
	}
	switch v.ExportType() {
	case reflect.TypeOf(int64(0)), reflect.TypeOf(float64(0)):
		_, isObj := v.(*goja.Object)
		return !isObj
	}
	return false
}

func isString(v goja.Value) bool {
	_, ok := v.(goja.String)
	return ok
}

func isBool(v goja.Value) bool {
	if v == nil {
		return false
	}
	_, isObj := v.(*goja.Object)
	return !isObj && v.ExportType() == reflect.TypeOf(true)
}

func isSymbol(v goja.Value) bool {
	_, ok := v.(*goja.Symbol)
	return ok
}

func isBigInt(v goja.Value) bool {
	if v == nil {
		return false
	}
	_, isObj := v.(*goja.Object)
	return !isObj && v.ExportType() != nil && v.ExportType().String() == "*big.Int"
}

func isNullish(v goja.Value) bool {
	return v == nil || goja.IsUndefined(v) || goja.IsNull(v)
}

// thisBytes returns the bytes of the receiver, which must be a Uint8Array.
func (b *bufferAPI) thisBytes(call goja.FunctionCall) []byte {
	bs, ok := bufferFromJS(call.This)
	if !ok {
		b.throw("TypeError", "ERR_INVALID_ARG_TYPE", "argument must be a buffer")
	}
	return bs
}

// toInt is JavaScript's ToIntegerOrInfinity, clamped into the int range.
func toInt(v goja.Value, def int) int {
	if isNullish(v) {
		return def
	}
	f := v.ToFloat()
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt32:
		return math.MaxInt32
	case f <= math.MinInt32:
		return math.MinInt32
	}
	return int(f)
}

// --- encodings ---

type encoding int

const (
	encUTF8 encoding = iota
	encHex
	encBase64
	encBase64URL
	encLatin1
	encASCII
	encUTF16LE
)

func lookupEncoding(name string) (encoding, bool) {
	switch strings.ToLower(name) {
	case "utf8", "utf-8":
		return encUTF8, true
	case "hex":
		return encHex, true
	case "base64":
		return encBase64, true
	case "base64url":
		return encBase64URL, true
	case "latin1", "binary":
		return encLatin1, true
	case "ascii":
		return encASCII, true
	case "ucs2", "ucs-2", "utf16le", "utf-16le":
		return encUTF16LE, true
	}
	return 0, false
}

// encodingArg reads an optional encoding argument: undefined is utf8, an
// unknown name is Node's TypeError ERR_UNKNOWN_ENCODING.
func (b *bufferAPI) encodingArg(v goja.Value) encoding {
	if v == nil || goja.IsUndefined(v) {
		return encUTF8
	}
	name := v.String()
	e, ok := lookupEncoding(name)
	if !ok {
		b.throw("TypeError", "ERR_UNKNOWN_ENCODING", "Unknown encoding: %s", name)
	}
	return e
}

// codeUnits returns the UTF-16 code units of a JavaScript string.
func codeUnits(v goja.Value) []uint16 {
	s, ok := v.ToString().(goja.String)
	if !ok {
		return utf16.Encode([]rune(v.String()))
	}
	u := make([]uint16, s.Length())
	for i := range u {
		u[i] = s.CharAt(i)
	}
	return u
}

// encodeString turns a JavaScript string into bytes as Buffer.from(s, enc).
func encodeString(v goja.Value, enc encoding) []byte {
	switch enc {
	case encUTF8:
		// goja turns lone surrogates into U+FFFD, as Node does.
		return []byte(v.String())
	case encHex:
		return decodeHexLenient(v.String())
	case encBase64, encBase64URL:
		return jsv.DecodeBase64(v.String())
	case encLatin1, encASCII:
		if gs, ok := v.ToString().(goja.String); ok {
			if s := v.String(); len(s) == gs.Length() {
				// All ASCII: the UTF-8 bytes are the code units.
				return []byte(s)
			}
		}
		u := codeUnits(v)
		out := make([]byte, len(u))
		for i, c := range u {
			out[i] = byte(c)
		}
		return out
	case encUTF16LE:
		u := codeUnits(v)
		out := make([]byte, 2*len(u))
		for i, c := range u {
			binary.LittleEndian.PutUint16(out[2*i:], c)
		}
		return out
	}
	return nil
}

// encodedLength is Buffer.byteLength(s, enc) without encoding s, where that
// is cheap.
func encodedLength(v goja.Value, enc encoding) int {
	switch enc {
	case encLatin1, encASCII:
		return v.ToString().(goja.String).Length()
	case encUTF16LE:
		return 2 * v.ToString().(goja.String).Length()
	case encHex:
		return v.ToString().(goja.String).Length() >> 1
	case encBase64, encBase64URL:
		return jsv.Base64Length(v.String())
	}
	return len(v.String())
}

// decodeHexLenient decodes pairs of hex digits up to the first pair that is
// not one, as Node does; an odd last digit is dropped.
func decodeHexLenient(s string) []byte {
	out := make([]byte, 0, len(s)/2)
	for i := 0; i+1 < len(s); i += 2 {
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			break
		}
		out = append(out, hi<<4|lo)
	}
	return out
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decodeBytes turns bytes into a JavaScript string as buf.toString(enc).
func (b *bufferAPI) decodeBytes(bs []byte, enc encoding) goja.Value {
	switch enc {
	case encHex:
		return b.rt.ToValue(hex.EncodeToString(bs))
	case encBase64:
		return b.rt.ToValue(base64.StdEncoding.EncodeToString(bs))
	case encBase64URL:
		return b.rt.ToValue(base64.RawURLEncoding.EncodeToString(bs))
	case encLatin1, encASCII:
		mask := byte(0xFF)
		if enc == encASCII {
			mask = 0x7F
		}
		var sb strings.Builder
		sb.Grow(len(bs))
		for _, c := range bs {
			sb.WriteRune(rune(c & mask))
		}
		return b.rt.ToValue(sb.String())
	case encUTF16LE:
		u := make([]uint16, len(bs)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(bs[2*i:])
		}
		return b.rt.ToValue(goja.StringFromUTF16(u))
	}
	return b.rt.ToValue(jsutf8.Decode(bs))
}

// --- statics ---

func (b *bufferAPI) from(call goja.FunctionCall) goja.Value {
	return b.fromValue(call.Arguments)
}

func (b *bufferAPI) fromValue(args []goja.Value) goja.Value {
	arg := goja.Undefined()
	if len(args) > 0 {
		arg = args[0]
	}
	argAt := func(i int) goja.Value {
		if i < len(args) {
			return args[i]
		}
		return goja.Undefined()
	}
	if isString(arg) {
		enc := b.encodingArg(argAt(1))
		if n := encodedLength(arg, enc); n > maxBufferSize {
			b.tooLarge(n)
		}
		return b.newBuffer(encodeString(arg, enc))
	}
	o, ok := arg.(*goja.Object)
	if !ok {
		b.invalidFirst(arg)
	}
	if b.rt.InstanceOf(o, b.arrayBu) {
		ab, _ := o.Export().(goja.ArrayBuffer)
		total := len(ab.Bytes())
		off := 0
		if a := argAt(1); !goja.IsUndefined(a) {
			f := a.ToFloat()
			if math.IsNaN(f) {
				f = 0
			}
			if f < 0 || f > float64(total) {
				b.throw("RangeError", "ERR_BUFFER_OUT_OF_BOUNDS", "\"offset\" is outside of buffer bounds")
			}
			off = int(f)
		}
		length := total - off
		if a := argAt(2); !goja.IsUndefined(a) {
			f := a.ToFloat()
			if math.IsNaN(f) || f < 0 {
				f = 0
			}
			if f > float64(total-off) {
				b.throw("RangeError", "ERR_BUFFER_OUT_OF_BOUNDS", "\"length\" is outside of buffer bounds")
			}
			length = int(f)
		}
		res, err := b.u8new(b.ctor, o, b.rt.ToValue(off), b.rt.ToValue(length))
		if err != nil {
			panic(err)
		}
		return res
	}
	if bs, ok := bufferFromJS(o); ok {
		return b.newBuffer(bytes.Clone(bs))
	}
	// An object whose valueOf gives a string or another object (new
	// String('x')), as Node checks before treating it as array-like.
	if vf, ok := goja.AssertFunction(o.Get("valueOf")); ok {
		if pv, err := vf(o); err == nil && !pv.SameAs(o) && (isString(pv) || isObject(pv)) {
			return b.fromValue(append([]goja.Value{pv}, args[1:]...))
		}
	}
	if l := o.Get("length"); l != nil && !goja.IsUndefined(l) {
		if !isNumber(l) {
			return b.newBuffer([]byte{})
		}
		return b.fromArrayLike(o)
	}
	// {type: 'Buffer', data: [...]}, what JSON.stringify makes of a Buffer.
	if t := o.Get("type"); t != nil && t.String() == "Buffer" {
		if d, ok := o.Get("data").(*goja.Object); ok && d.ClassName() == "Array" {
			return b.fromArrayLike(d)
		}
	}
	b.invalidFirst(arg)
	return nil
}

func isFunction(v goja.Value) bool {
	_, ok := goja.AssertFunction(v)
	return ok
}

func isObject(v goja.Value) bool {
	_, ok := v.(*goja.Object)
	return ok
}

func (b *bufferAPI) fromArrayLike(o *goja.Object) goja.Value {
	f := o.Get("length").ToFloat()
	if f > maxBufferSize {
		b.throw("RangeError", "ERR_OUT_OF_RANGE", "The value of \"size\" is out of range. It must be >= 0 && <= %d. Received %s", maxBufferSize, receivedNumber(f))
	}
	n := toInt(o.Get("length"), 0)
	if n < 0 {
		n = 0
	}
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(toUint32(o.Get(strconv.Itoa(i))))
	}
	return b.newBuffer(out)
}

// toUint32 is JavaScript's ToUint32 (what storing into a Uint8Array masks).
func toUint32(v goja.Value) uint32 {
	if v == nil {
		return 0
	}
	f := v.ToFloat()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return uint32(int64(math.Mod(math.Trunc(f), 1<<32)))
}

func (b *bufferAPI) alloc(call goja.FunctionCall) goja.Value {
	size := b.checkSize(call.Argument(0), "size")
	buf := make([]byte, size)
	if fill := call.Argument(1); !goja.IsUndefined(fill) && size > 0 {
		b.fillBytes(buf, fill, call.Argument(2))
	}
	return b.newBuffer(buf)
}

func (b *bufferAPI) allocUnsafe(call goja.FunctionCall) goja.Value {
	// Zeroed all the same: Go has no uninitialised memory to hand out.
	return b.newBuffer(make([]byte, b.checkSize(call.Argument(0), "size")))
}

func (b *bufferAPI) isBuffer(call goja.FunctionCall) goja.Value {
	return b.rt.ToValue(b.rt.InstanceOf(call.Argument(0), b.ctor))
}

func (b *bufferAPI) isEncoding(call goja.FunctionCall) goja.Value {
	a := call.Argument(0)
	if !isString(a) {
		return b.rt.ToValue(false)
	}
	_, ok := lookupEncoding(a.String())
	return b.rt.ToValue(ok)
}

func (b *bufferAPI) byteLength(call goja.FunctionCall) goja.Value {
	a := call.Argument(0)
	if isString(a) {
		enc, ok := lookupEncoding(call.Argument(1).String())
		if !ok {
			enc = encUTF8
		}
		return b.rt.ToValue(encodedLength(a, enc))
	}
	if bs, ok := bufferFromJS(a); ok {
		return b.rt.ToValue(len(bs))
	}
	if o, ok := a.(*goja.Object); ok {
		if bl := o.Get("byteLength"); bl != nil && isNumber(bl) {
			return bl
		}
	}
	b.invalidType("string", "of type string or an instance of Buffer or ArrayBuffer", a)
	return nil
}

func (b *bufferAPI) concat(call goja.FunctionCall) goja.Value {
	list, ok := call.Argument(0).(*goja.Object)
	if !ok || list.ClassName() != "Array" {
		b.invalidType("list", "an instance of Array", call.Argument(0))
	}
	n := toInt(list.Get("length"), 0)
	parts := make([][]byte, 0, n)
	total := 0
	for i := range n {
		item := list.Get(strconv.Itoa(i))
		bs, ok := bufferFromJS(item)
		if !ok {
			b.invalidType(fmt.Sprintf("list[%d]", i), "an instance of Buffer or Uint8Array", item)
		}
		parts = append(parts, bs)
		total += len(bs)
		b.tooLarge(total)
	}
	if l := call.Argument(1); !goja.IsUndefined(l) {
		total = b.checkLength(l, "length")
	}
	out := make([]byte, total)
	off := 0
	for _, p := range parts {
		if off >= total {
			break
		}
		off += copy(out[off:], p)
	}
	return b.newBuffer(out)
}

// checkLength validates an integer length argument (concat's totalLength).
func (b *bufferAPI) checkLength(v goja.Value, name string) int {
	if !isNumber(v) {
		b.invalidType(name, "of type number", v)
	}
	f := v.ToFloat()
	if f != math.Trunc(f) {
		b.outOfRange(name, "an integer", v)
	}
	if !(f >= 0 && f <= maxBufferSize) {
		b.outOfRange(name, fmt.Sprintf(">= 0 && <= %d", maxBufferSize), v)
	}
	return int(f)
}

func (b *bufferAPI) compareStatic(call goja.FunctionCall) goja.Value {
	x, ok1 := bufferFromJS(call.Argument(0))
	if !ok1 {
		b.invalidType("buf1", "an instance of Buffer or Uint8Array", call.Argument(0))
	}
	y, ok2 := bufferFromJS(call.Argument(1))
	if !ok2 {
		b.invalidType("buf2", "an instance of Buffer or Uint8Array", call.Argument(1))
	}
	return b.rt.ToValue(bytes.Compare(x, y))
}

// --- prototype ---

// clampRange resolves start and end arguments as toString and slice do:
// negative counts from the end (slice only), clamped into [0, n].
func clampRange(startV, endV goja.Value, n int, fromEnd bool) (int, int) {
	start, end := toInt(startV, 0), toInt(endV, n)
	if goja.IsUndefined(endV) || endV == nil {
		end = n
	}
	if fromEnd {
		if start < 0 {
			start += n
		}
		if end < 0 {
			end += n
		}
	}
	start = max(0, min(start, n))
	end = max(0, min(end, n))
	if end < start {
		end = start
	}
	return start, end
}

func (b *bufferAPI) toString(call goja.FunctionCall) goja.Value {
	bs := b.thisBytes(call)
	if len(call.Arguments) == 0 {
		return b.rt.ToValue(jsutf8.Decode(bs))
	}
	enc := b.encodingArg(call.Argument(0))
	start, end := clampRange(call.Argument(1), call.Argument(2), len(bs), false)
	return b.decodeBytes(bs[start:end], enc)
}

func (b *bufferAPI) toJSON(call goja.FunctionCall) goja.Value {
	bs := b.thisBytes(call)
	data := make([]any, len(bs))
	for i, c := range bs {
		data[i] = int64(c)
	}
	o := b.rt.NewObject()
	_ = o.Set("type", "Buffer")
	_ = o.Set("data", b.rt.NewArray(data...))
	return o
}

func (b *bufferAPI) otherBytes(v goja.Value, name string) []byte {
	bs, ok := bufferFromJS(v)
	if !ok {
		b.invalidType(name, "an instance of Buffer or Uint8Array", v)
	}
	return bs
}

func (b *bufferAPI) equals(call goja.FunctionCall) goja.Value {
	return b.rt.ToValue(bytes.Equal(b.thisBytes(call), b.otherBytes(call.Argument(0), "otherBuffer")))
}

func (b *bufferAPI) compare(call goja.FunctionCall) goja.Value {
	src := b.thisBytes(call)
	dst := b.otherBytes(call.Argument(0), "target")
	ts, te := clampRange(call.Argument(1), call.Argument(2), len(dst), false)
	ss, se := clampRange(call.Argument(3), call.Argument(4), len(src), false)
	return b.rt.ToValue(bytes.Compare(src[ss:se], dst[ts:te]))
}

// slice is Node's buf.slice and buf.subarray: a Buffer over the same memory.
func (b *bufferAPI) slice(call goja.FunctionCall) goja.Value {
	bs := b.thisBytes(call)
	o := call.This.(*goja.Object)
	start, end := clampRange(call.Argument(0), call.Argument(1), len(bs), true)
	off := toInt(o.Get("byteOffset"), 0)
	res, err := b.u8new(b.ctor, o.Get("buffer"), b.rt.ToValue(off+start), b.rt.ToValue(end-start))
	if err != nil {
		panic(err)
	}
	return res
}

// needle turns indexOf's value argument into bytes.
func (b *bufferAPI) needle(v, encV goja.Value) ([]byte, bool) {
	switch {
	case isString(v):
		return encodeString(v, b.encodingArg(encV)), true
	case isNumber(v):
		return []byte{byte(toUint32(v))}, true
	}
	if bs, ok := bufferFromJS(v); ok {
		return bs, true
	}
	b.invalidType("value", "one of type number or string or an instance of Buffer or Uint8Array", v)
	return nil, false
}

// searchArgs resolves indexOf's (value, byteOffset, encoding) arguments.
func (b *bufferAPI) searchArgs(call goja.FunctionCall, n int, last bool) ([]byte, int) {
	offV, encV := call.Argument(1), call.Argument(2)
	if isString(offV) {
		offV, encV = goja.Undefined(), offV
	}
	off := 0
	if last {
		off = n
	}
	if !goja.IsUndefined(offV) {
		f := offV.ToFloat()
		switch {
		case math.IsNaN(f):
			// NaN searches the whole buffer.
		case f < 0:
			off = int(math.Max(f+float64(n), -1))
		default:
			off = int(math.Min(f, float64(n)))
		}
	}
	nd, _ := b.needle(call.Argument(0), encV)
	return nd, off
}

func (b *bufferAPI) indexOf(call goja.FunctionCall) goja.Value {
	return b.rt.ToValue(b.search(call))
}

func (b *bufferAPI) search(call goja.FunctionCall) int {
	bs := b.thisBytes(call)
	nd, off := b.searchArgs(call, len(bs), false)
	off = max(off, 0)
	if len(nd) == 0 {
		return min(off, len(bs))
	}
	if off >= len(bs) {
		return -1
	}
	i := bytes.Index(bs[off:], nd)
	if i < 0 {
		return -1
	}
	return i + off
}

func (b *bufferAPI) lastIndexOf(call goja.FunctionCall) goja.Value {
	bs := b.thisBytes(call)
	nd, off := b.searchArgs(call, len(bs), true)
	if off < 0 {
		return b.rt.ToValue(-1)
	}
	if len(nd) == 0 {
		return b.rt.ToValue(min(off, len(bs)))
	}
	end := min(off+len(nd), len(bs))
	return b.rt.ToValue(bytes.LastIndex(bs[:end], nd))
}

func (b *bufferAPI) includes(call goja.FunctionCall) goja.Value {
	return b.rt.ToValue(b.search(call) >= 0)
}

// write is buf.write(string[, offset[, length]][, encoding]).
func (b *bufferAPI) write(call goja.FunctionCall) goja.Value {
	bs := b.thisBytes(call)
	s := call.Argument(0)
	if !isString(s) {
		b.throw("TypeError", "ERR_INVALID_ARG_TYPE", "argument must be a string")
	}
	offV, lenV, encV := call.Argument(1), call.Argument(2), call.Argument(3)
	if isString(offV) {
		offV, lenV, encV = goja.Undefined(), goja.Undefined(), offV
	} else if isString(lenV) {
		lenV, encV = goja.Undefined(), lenV
	}
	off := 0
	if !goja.IsUndefined(offV) {
		off = b.intArg(offV, "offset", 0, len(bs))
	}
	length := len(bs) - off
	if !goja.IsUndefined(lenV) {
		length = min(b.intArg(lenV, "length", 0, len(bs)), length)
	}
	enc := b.encodingArg(encV)
	data := encodeString(s, enc)
	if len(data) > length {
		data = data[:length]
		if enc == encUTF8 {
			// Node writes no partial character.
			for len(data) > 0 && !utf8.Valid(data) {
				r, size := utf8.DecodeLastRune(data)
				if r != utf8.RuneError || size != 1 {
					break
				}
				data = data[:len(data)-1]
			}
		}
		if enc == encUTF16LE && len(data)%2 == 1 {
			data = data[:len(data)-1]
		}
	}
	return b.rt.ToValue(copy(bs[off:], data))
}

// intArg validates an integer argument within [lo, hi] as Node's
// validateInteger/validateOffset do.
func (b *bufferAPI) intArg(v goja.Value, name string, lo, hi int) int {
	if !isNumber(v) {
		b.invalidType(name, "of type number", v)
	}
	f := v.ToFloat()
	if f != math.Trunc(f) || math.IsInf(f, 0) {
		b.outOfRange(name, "an integer", v)
	}
	if f < float64(lo) || f > float64(hi) {
		b.outOfRange(name, fmt.Sprintf(">= %d && <= %d", lo, hi), v)
	}
	return int(f)
}

// fill is buf.fill(value[, offset[, end]][, encoding]).
func (b *bufferAPI) fill(call goja.FunctionCall) goja.Value {
	bs := b.thisBytes(call)
	val, offV, endV, encV := call.Argument(0), call.Argument(1), call.Argument(2), call.Argument(3)
	if isString(offV) {
		offV, endV, encV = goja.Undefined(), goja.Undefined(), offV
	} else if isString(endV) {
		endV, encV = goja.Undefined(), endV
	}
	off, end := 0, len(bs)
	if !goja.IsUndefined(offV) {
		// Node bounds only end by the length; an offset past it fills nothing.
		off = min(b.intArg(offV, "offset", 0, math.MaxInt32), len(bs))
	}
	if !goja.IsUndefined(endV) {
		end = b.intArg(endV, "end", 0, len(bs))
	}
	if off < end {
		b.fillBytes(bs[off:end], val, encV)
	}
	return call.This
}

func (b *bufferAPI) fillBytes(dst []byte, val, encV goja.Value) {
	var pat []byte
	switch {
	case isString(val):
		pat = encodeString(val, b.encodingArg(encV))
		if len(pat) == 0 && val.String() != "" {
			b.throw("TypeError", "ERR_INVALID_ARG_VALUE", "The argument 'value' is invalid. Received %s", inspectValue(nil, val, inspectOptions{depth: 2}))
		}
	case isBool(val):
		pat = []byte{byte(toUint32(val))}
	default:
		if bs, ok := bufferFromJS(val); ok {
			if len(bs) == 0 {
				b.throw("TypeError", "ERR_INVALID_ARG_VALUE", "The argument 'value' is invalid. Received %s", inspectValue(nil, val, inspectOptions{depth: 2}))
			}
			pat = bytes.Clone(bs)
		} else {
			pat = []byte{byte(toUint32(val))}
		}
	}
	if len(pat) == 0 {
		pat = []byte{0}
	}
	for i := 0; i < len(dst); {
		i += copy(dst[i:], pat)
	}
}

// copy is buf.copy(target[, targetStart[, sourceStart[, sourceEnd]]]).
func (b *bufferAPI) copy(call goja.FunctionCall) goja.Value {
	src := b.thisBytes(call)
	dst := b.otherBytes(call.Argument(0), "target")
	ts := b.copyArg(call.Argument(1), "targetStart", 0)
	ss := b.copyArg(call.Argument(2), "sourceStart", 0)
	if ss > len(src) {
		b.outOfRange("sourceStart", fmt.Sprintf(">= 0 && <= %d", len(src)), call.Argument(2))
	}
	se := b.copyArg(call.Argument(3), "sourceEnd", len(src))
	se = min(se, len(src))
	if ts >= len(dst) || ss >= se {
		return b.rt.ToValue(0)
	}
	return b.rt.ToValue(copy(dst[ts:], src[ss:se]))
}

func (b *bufferAPI) copyArg(v goja.Value, name string, def int) int {
	if goja.IsUndefined(v) {
		return def
	}
	f := v.ToFloat()
	if math.IsNaN(f) {
		return 0
	}
	if f < 0 {
		b.outOfRange(name, ">= 0", v)
	}
	return int(math.Min(math.Trunc(f), math.MaxInt32))
}

// --- numbers ---

type numberAccessor struct {
	name   string
	size   int
	signed bool
	float  bool
	be     bool
}

var numberAccessors = []numberAccessor{
	{"UInt8", 1, false, false, false},
	{"UInt16LE", 2, false, false, false},
	{"UInt16BE", 2, false, false, true},
	{"UInt32LE", 4, false, false, false},
	{"UInt32BE", 4, false, false, true},
	{"Int8", 1, true, false, false},
	{"Int16LE", 2, true, false, false},
	{"Int16BE", 2, true, false, true},
	{"Int32LE", 4, true, false, false},
	{"Int32BE", 4, true, false, true},
	{"FloatLE", 4, false, true, false},
	{"FloatBE", 4, false, true, true},
	{"DoubleLE", 8, false, true, false},
	{"DoubleBE", 8, false, true, true},
}

// offsetArg checks a read/write offset as Node does: a number, an integer,
// and room for size bytes after it.
func (b *bufferAPI) offsetArg(v goja.Value, n, size int) int {
	if goja.IsUndefined(v) {
		v = b.rt.ToValue(0)
	}
	if !isNumber(v) {
		b.invalidType("offset", "of type number", v)
	}
	f := v.ToFloat()
	if f >= 0 && f == math.Trunc(f) && f <= float64(n-size) {
		return int(f)
	}
	if f != math.Trunc(f) || math.IsNaN(f) {
		b.outOfRange("offset", "an integer", v)
	}
	if n-size < 0 {
		b.throw("RangeError", "ERR_BUFFER_OUT_OF_BOUNDS", "Attempt to access memory outside buffer bounds")
	}
	b.outOfRange("offset", fmt.Sprintf(">= 0 and <= %d", n-size), v)
	return 0
}

func (b *bufferAPI) reader(n numberAccessor) func(goja.FunctionCall) goja.Value {
	var order binary.ByteOrder = binary.LittleEndian
	if n.be {
		order = binary.BigEndian
	}
	return func(call goja.FunctionCall) goja.Value {
		bs := b.thisBytes(call)
		off := b.offsetArg(call.Argument(0), len(bs), n.size)
		p := bs[off : off+n.size]
		var f float64
		switch {
		case n.float && n.size == 4:
			f = float64(math.Float32frombits(order.Uint32(p)))
		case n.float:
			f = math.Float64frombits(order.Uint64(p))
		case n.size == 1 && n.signed:
			f = float64(int8(p[0]))
		case n.size == 1:
			f = float64(p[0])
		case n.size == 2 && n.signed:
			f = float64(int16(order.Uint16(p)))
		case n.size == 2:
			f = float64(order.Uint16(p))
		case n.signed:
			f = float64(int32(order.Uint32(p)))
		default:
			f = float64(order.Uint32(p))
		}
		return b.rt.ToValue(f)
	}
}

func (b *bufferAPI) writer(n numberAccessor) func(goja.FunctionCall) goja.Value {
	var order binary.ByteOrder = binary.LittleEndian
	if n.be {
		order = binary.BigEndian
	}
	var lo, hi float64
	if !n.float {
		bits := uint(8 * n.size)
		if n.signed {
			lo, hi = -math.Ldexp(1, int(bits-1)), math.Ldexp(1, int(bits-1))-1
		} else {
			lo, hi = 0, math.Ldexp(1, int(bits))-1
		}
	}
	return func(call goja.FunctionCall) goja.Value {
		bs := b.thisBytes(call)
		val := call.Argument(0).ToFloat()
		if !n.float && (val < lo || val > hi) {
			// Checked before the offset, as Node does.
			b.outOfRange("value", fmt.Sprintf(">= %s and <= %s", numberString(lo), numberString(hi)), b.rt.ToValue(val))
		}
		off := b.offsetArg(call.Argument(1), len(bs), n.size)
		p := bs[off : off+n.size]
		switch {
		case n.float && n.size == 4:
			order.PutUint32(p, math.Float32bits(float32(val)))
		case n.float:
			order.PutUint64(p, math.Float64bits(val))
		default:
			var u uint32
			if !math.IsNaN(val) {
				u = uint32(int64(math.Trunc(val)))
			}
			switch n.size {
			case 1:
				p[0] = byte(u)
			case 2:
				order.PutUint16(p, uint16(u))
			default:
				order.PutUint32(p, u)
			}
		}
		return b.rt.ToValue(off + n.size)
	}
}

// numberString is JavaScript's Number::toString for f.
func numberString(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	abs := math.Abs(f)
	if abs >= 1e21 || abs < 1e-6 {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		// Go writes e+21 / e-07; JavaScript writes e+21 / e-7.
		mant, exp, _ := strings.Cut(s, "e")
		sign := exp[0]
		exp = strings.TrimLeft(exp[1:], "0")
		return mant + "e" + string(sign) + exp
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// --- console and util ---

// installConsole defines the global console: log and info log at info,
// warn at warn, error at error, debug and trace at debug, each with its
// arguments formatted as Node's console does (util.format). trace prefixes
// "Trace: " as Node does but does not append a stack. console.dir inspects
// its first argument with its options; console.assert logs "Assertion failed" at error.
func installConsole(rt *goja.Runtime, log func(level slog.Level, msg string)) error {
	c := rt.NewObject()
	levels := []struct {
		name  string
		level slog.Level
	}{
		{"log", slog.LevelInfo}, {"info", slog.LevelInfo}, {"warn", slog.LevelWarn},
		{"error", slog.LevelError}, {"debug", slog.LevelDebug}, {"trace", slog.LevelDebug},
	}
	for _, l := range levels {
		prefix := ""
		if l.name == "trace" {
			prefix = "Trace: "
		}
		if err := c.Set(l.name, func(call goja.FunctionCall) goja.Value {
			log(l.level, prefix+jsFormat(rt, call.Arguments))
			return goja.Undefined()
		}); err != nil {
			return fmt.Errorf("console: %w", err)
		}
	}
	if err := c.Set("dir", func(call goja.FunctionCall) goja.Value {
		opts := inspectOptions{depth: 2}
		if o, ok := call.Argument(1).(*goja.Object); ok {
			opts = inspectOptionsOf(o)
		}
		log(slog.LevelInfo, inspectValue(rt, call.Argument(0), opts))
		return goja.Undefined()
	}); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	if err := c.Set("assert", func(call goja.FunctionCall) goja.Value {
		if call.Argument(0).ToBoolean() {
			return goja.Undefined()
		}
		msg := "Assertion failed"
		if len(call.Arguments) > 1 {
			rest := call.Arguments[1:]
			if isString(rest[0]) {
				rest = append([]goja.Value{rt.ToValue("Assertion failed: " + rest[0].String())}, rest[1:]...)
				msg = jsFormat(rt, rest)
			} else {
				msg = "Assertion failed " + jsFormat(rt, rest)
			}
		}
		log(slog.LevelError, msg)
		return goja.Undefined()
	}); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return rt.Set("console", c)
}

// installUtil defines the global util with format and inspect (inspect
// takes a depth option, or a depth as its second argument as Node's legacy
// form does).
func installUtil(rt *goja.Runtime) error {
	u := rt.NewObject()
	if err := u.Set("format", func(call goja.FunctionCall) goja.Value {
		return rt.ToValue(jsFormat(rt, call.Arguments))
	}); err != nil {
		return fmt.Errorf("util: %w", err)
	}
	if err := u.Set("inspect", func(call goja.FunctionCall) goja.Value {
		opts := inspectOptions{depth: 2}
		switch o := call.Argument(1).(type) {
		case *goja.Object:
			opts = inspectOptionsOf(o)
		default:
			if !isNullish(o) && isBool(o) {
				opts.showHidden = o.ToBoolean()
			}
			if d := call.Argument(2); !goja.IsUndefined(d) {
				opts.depth = depthOf(d)
			}
		}
		return rt.ToValue(inspectValue(rt, call.Argument(0), opts))
	}); err != nil {
		return fmt.Errorf("util: %w", err)
	}
	return rt.Set("util", u)
}

// inspectOptionsOf reads util.inspect's options object: depth, compact
// (a number) and breakLength.
func inspectOptionsOf(o *goja.Object) inspectOptions {
	opts := inspectOptions{depth: 2}
	if d := o.Get("depth"); d != nil && !goja.IsUndefined(d) {
		opts.depth = depthOf(d)
	}
	if c := o.Get("compact"); c != nil && isNumber(c) {
		opts.compact = max(1, int(min(c.ToFloat(), 1000)))
	}
	if bl := o.Get("breakLength"); bl != nil && isNumber(bl) {
		opts.breakLength = int(math.Max(math.Min(bl.ToFloat(), math.MaxInt32), 1))
	}
	return opts
}

func depthOf(d goja.Value) int {
	if goja.IsNull(d) || math.IsInf(d.ToFloat(), 1) {
		return -1
	}
	return int(math.Min(math.Max(d.ToFloat(), 0), math.MaxInt32))
}

// --- util.format and util.inspect ---

// jsFormat is Node's util.format: a first string argument is a format with
// %s %d %i %f %j %o %O %c and %%, the remaining arguments are appended with
// spaces, strings as they are and anything else through util.inspect.
func jsFormat(rt *goja.Runtime, args []goja.Value) string {
	if len(args) == 0 {
		return ""
	}
	var sb strings.Builder
	a := 0
	join := ""
	if isString(args[0]) {
		first := args[0].String()
		if len(args) == 1 {
			return first
		}
		lastPos := 0
		for i := 0; i < len(first)-1; i++ {
			if first[i] != '%' {
				continue
			}
			i++
			c := first[i]
			if a+1 == len(args) {
				if c == '%' {
					sb.WriteString(first[lastPos:i])
					lastPos = i + 1
				}
				continue
			}
			var tmp string
			switch c {
			case 's':
				a++
				v := args[a]
				switch {
				case isNumber(v):
					tmp = formatNumber(v.ToFloat())
				case isBigInt(v):
					tmp = v.String() + "n"
				case !isObject(v) || isFunction(v) || !hasBuiltInToString(rt, v.(*goja.Object)):
					tmp = v.String()
					if isSymbol(v) {
						tmp = symbolString(v.(*goja.Symbol))
					}
				default:
					tmp = inspectValue(rt, v, inspectOptions{depth: 0})
				}
			case 'j':
				a++
				tmp = tryStringify(rt, args[a])
			case 'd', 'i', 'f':
				a++
				v := args[a]
				switch {
				case isBigInt(v) && c != 'f':
					tmp = v.String() + "n"
				case isSymbol(v):
					tmp = "NaN"
				case c == 'd':
					if isBigInt(v) {
						tmp = v.String() + "n"
					} else {
						tmp = formatNumber(v.ToFloat())
					}
				case c == 'i':
					tmp = formatNumber(callGlobal(rt, "parseInt", v).ToFloat())
				default:
					tmp = formatNumber(callGlobal(rt, "parseFloat", v).ToFloat())
				}
			case 'O':
				a++
				tmp = inspectValue(rt, args[a], inspectOptions{depth: 2})
			case 'o':
				a++
				tmp = inspectValue(rt, args[a], inspectOptions{depth: 4, showHidden: true})
			case 'c':
				a++
			case '%':
				sb.WriteString(first[lastPos:i])
				lastPos = i + 1
				continue
			default:
				continue
			}
			if lastPos != i-1 {
				sb.WriteString(first[lastPos : i-1])
			}
			sb.WriteString(tmp)
			lastPos = i + 1
		}
		if lastPos != 0 {
			a++
			join = " "
			if lastPos < len(first) {
				sb.WriteString(first[lastPos:])
			}
		}
	}
	for ; a < len(args); a++ {
		sb.WriteString(join)
		if isString(args[a]) {
			sb.WriteString(args[a].String())
		} else {
			sb.WriteString(inspectValue(rt, args[a], inspectOptions{depth: 2}))
		}
		join = " "
	}
	return sb.String()
}

func callGlobal(rt *goja.Runtime, name string, args ...goja.Value) goja.Value {
	f, ok := goja.AssertFunction(rt.Get(name))
	if !ok {
		return goja.NaN()
	}
	v, err := f(goja.Undefined(), args...)
	if err != nil {
		panic(err)
	}
	return v
}

// tryStringify is %j: JSON.stringify, with '[Circular]' for a cyclic value.
func tryStringify(rt *goja.Runtime, v goja.Value) string {
	j := rt.Get("JSON").ToObject(rt)
	f, _ := goja.AssertFunction(j.Get("stringify"))
	if f == nil {
		return "undefined"
	}
	res, err := f(j, v)
	if err != nil {
		if ex, ok := err.(*goja.Exception); ok && strings.Contains(ex.Value().String(), "circular") {
			return "[Circular]"
		}
		panic(err)
	}
	return res.String()
}

func formatNumber(f float64) string {
	if f == 0 && math.Signbit(f) {
		return "-0"
	}
	return numberString(f)
}

// builtinCtors are the constructors whose toString util.format's %s treats
// as built in, so that it inspects such objects rather than call toString.
var builtinCtors = map[string]bool{
	"Object": true, "Error": true, "TypeError": true, "RangeError": true, "SyntaxError": true,
	"ReferenceError": true, "EvalError": true, "URIError": true, "AggregateError": true,
	"Array": true, "Date": true, "RegExp": true, "Map": true, "Set": true, "WeakMap": true,
	"WeakSet": true, "Promise": true, "Function": true, "Number": true, "String": true,
	"Boolean": true, "Symbol": true, "BigInt": true, "ArrayBuffer": true, "DataView": true,
	"Uint8Array": true, "Int8Array": true, "Uint8ClampedArray": true, "Uint16Array": true,
	"Int16Array": true, "Uint32Array": true, "Int32Array": true, "Float32Array": true,
	"Float64Array": true, "BigInt64Array": true, "BigUint64Array": true,
}

// hasBuiltInToString is Node's test of whether %s may inspect o: o has no
// toString of its own or from a user-defined prototype.
func hasBuiltInToString(rt *goja.Runtime, o *goja.Object) bool {
	if _, ok := goja.AssertFunction(o.Get("toString")); !ok {
		return true
	}
	h := helpersOf(rt)
	if h.hasOwn(o, "toString") {
		return false
	}
	p := o
	for {
		p = p.Prototype()
		if p == nil {
			return true
		}
		if h.hasOwn(p, "toString") {
			break
		}
	}
	c, ok := h.descriptor(p, rt.ToValue("constructor"))
	if !ok || c.get != nil || c.set != nil {
		return false
	}
	co, ok := c.value.(*goja.Object)
	if !ok {
		return false
	}
	if _, isFn := goja.AssertFunction(co); !isFn {
		return false
	}
	return builtinCtors[co.Get("name").String()]
}

// jsHelpers are the built-ins inspect needs, taken when first needed so
// that code reassigning globals does not change what console.log prints.
type jsHelpers struct {
	rt         *goja.Runtime
	gopd       goja.Callable
	hasOwnFn   goja.Callable
	fnToString goja.Callable
	objectKeys goja.Callable
	ctors      map[string]*goja.Object
	typedArray *goja.Object
	buffer     *goja.Object
}

var symHelpers = goja.NewSymbol("runnel.inspect")

func helpersOf(rt *goja.Runtime) *jsHelpers {
	g := rt.GlobalObject()
	if v := g.GetSymbol(symHelpers); v != nil {
		if h, ok := v.Export().(*jsHelpers); ok {
			return h
		}
	}
	h := &jsHelpers{rt: rt, ctors: map[string]*goja.Object{}}
	obj := rt.Get("Object").ToObject(rt)
	h.gopd, _ = goja.AssertFunction(obj.Get("getOwnPropertyDescriptor"))
	h.objectKeys, _ = goja.AssertFunction(obj.Get("keys"))
	h.hasOwnFn, _ = goja.AssertFunction(obj.Get("prototype").ToObject(rt).Get("hasOwnProperty"))
	h.fnToString, _ = goja.AssertFunction(rt.Get("Function").ToObject(rt).Get("prototype").ToObject(rt).Get("toString"))
	for _, n := range []string{"Array", "Map", "Set", "Date", "RegExp", "Error", "Promise", "ArrayBuffer", "Number", "String", "Boolean", "Symbol", "BigInt", "WeakMap", "WeakSet", "DataView"} {
		if c, ok := rt.Get(n).(*goja.Object); ok {
			h.ctors[n] = c
		}
	}
	if u8, ok := rt.Get("Uint8Array").(*goja.Object); ok {
		h.typedArray = u8.Prototype()
	}
	if api := apiOf(rt); api != nil {
		h.buffer = api.ctor
	}
	_ = g.DefineDataPropertySymbol(symHelpers, rt.ToValue(h), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	return h
}

func (h *jsHelpers) is(v goja.Value, ctor string) bool {
	c := h.ctors[ctor]
	return c != nil && h.rt.InstanceOf(v, c)
}

func (h *jsHelpers) hasOwn(o *goja.Object, key string) bool {
	if h.hasOwnFn == nil {
		return o.Get(key) != nil
	}
	v, err := h.hasOwnFn(o, h.rt.ToValue(key))
	return err == nil && v.ToBoolean()
}

type propDesc struct {
	value      goja.Value
	get, set   goja.Value
	enumerable bool
}

// descriptor is Object.getOwnPropertyDescriptor(o, key), without calling a
// getter.
func (h *jsHelpers) descriptor(o *goja.Object, key goja.Value) (propDesc, bool) {
	if h.gopd == nil {
		return propDesc{value: o.Get(key.String()), enumerable: true}, true
	}
	d, err := h.gopd(goja.Undefined(), o, key)
	if err != nil || isNullish(d) {
		return propDesc{}, false
	}
	do := d.ToObject(h.rt)
	pd := propDesc{enumerable: do.Get("enumerable").ToBoolean()}
	if g := do.Get("get"); g != nil && !goja.IsUndefined(g) {
		pd.get = g
	}
	if s := do.Get("set"); s != nil && !goja.IsUndefined(s) {
		pd.set = s
	}
	if pd.get == nil && pd.set == nil {
		pd.value = do.Get("value")
	}
	return pd, true
}

type inspectOptions struct {
	depth       int // -1: no limit
	compact     int // 0: Node's default, 3
	breakLength int // 0: Node's default, 80
	showHidden  bool
}

const (
	maxArrayLength  = 100
	maxStringLength = 10000
	// maxInspectDepth bounds util.inspect with depth Infinity or null:
	// deeper objects print as [Object]. Node has no bound (it overflows its
	// stack some thousands of levels down), but each level re-copies the
	// text of the levels below it, and native code is not interrupted by
	// the function's timeout: 1000 levels took seconds.
	maxInspectDepth = 100
	// maxInspectValues bounds how many values one inspect formats (an
	// object graph sharing one object many times over is exponential);
	// past it values print as '...'.
	maxInspectValues = 1 << 14
)

type inspectCtx struct {
	rt             *goja.Runtime
	h              *jsHelpers
	opts           inspectOptions
	seen           []*goja.Object
	circular       map[*goja.Object]int
	indentationLvl int
	currentDepth   int
	budget         int
}

// inspectValue is util.inspect(v, opts). rt may be nil for a primitive.
func inspectValue(rt *goja.Runtime, v goja.Value, opts inspectOptions) string {
	if opts.compact == 0 {
		opts.compact = 3
	}
	if opts.breakLength == 0 {
		opts.breakLength = 80
	}
	if opts.depth < 0 || opts.depth > maxInspectDepth {
		opts.depth = maxInspectDepth
	}
	ctx := &inspectCtx{rt: rt, opts: opts, budget: maxInspectValues}
	if o, ok := v.(*goja.Object); ok {
		if rt == nil {
			return "[Object]"
		}
		ctx.h = helpersOf(rt)
		return ctx.formatValue(o, 0, true)
	}
	return ctx.formatValue(v, 0, true)
}

func (c *inspectCtx) formatValue(v goja.Value, recurseTimes int, typedArray bool) string {
	c.budget--
	if c.budget < 0 {
		return "..."
	}
	o, ok := v.(*goja.Object)
	if !ok {
		return c.formatPrimitive(v)
	}
	for _, s := range c.seen {
		if s == o {
			if c.circular == nil {
				c.circular = map[*goja.Object]int{}
			}
			idx, ok := c.circular[o]
			if !ok {
				idx = len(c.circular) + 1
				c.circular[o] = idx
			}
			return fmt.Sprintf("[Circular *%d]", idx)
		}
	}
	return c.formatRaw(o, recurseTimes)
}

func (c *inspectCtx) formatPrimitive(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	case isString(v):
		s := v.String()
		trailer := ""
		if n := utf8.RuneCountInString(s); n > maxStringLength {
			r := []rune(s)
			trailer = fmt.Sprintf("... %d more character%s", n-maxStringLength, plural(n-maxStringLength))
			s = string(r[:maxStringLength])
		}
		units := v.ToString().(goja.String).Length()
		if units > 16 && units > c.opts.breakLength-c.indentationLvl-4 && strings.Contains(s, "\n") {
			lines := strings.SplitAfter(s, "\n")
			if lines[len(lines)-1] == "" {
				lines = lines[:len(lines)-1]
			}
			for i, l := range lines {
				lines[i] = strEscape(l)
			}
			return strings.Join(lines, " +\n"+strings.Repeat(" ", c.indentationLvl+2)) + trailer
		}
		return strEscape(s) + trailer
	case isNumber(v):
		return formatNumber(v.ToFloat())
	case isBigInt(v):
		return v.String() + "n"
	case isSymbol(v):
		return symbolString(v.(*goja.Symbol))
	}
	return v.String()
}

func symbolString(s *goja.Symbol) string {
	return "Symbol(" + s.String() + ")"
}

func plural(n int) string {
	if n > 1 {
		return "s"
	}
	return ""
}

// strEscape quotes s as util.inspect does: single quotes unless s has one
// (then double quotes, then backticks), control characters escaped.
func strEscape(s string) string {
	quote := byte('\'')
	if strings.Contains(s, "'") {
		if !strings.Contains(s, `"`) {
			quote = '"'
		} else if !strings.Contains(s, "`") && !strings.Contains(s, "${") {
			quote = '`'
		}
	}
	var sb strings.Builder
	sb.Grow(len(s) + 2)
	sb.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == rune(quote) && quote == '\'':
			sb.WriteString(`\'`)
		case r == '\\':
			sb.WriteString(`\\`)
		case r == '\b':
			sb.WriteString(`\b`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\f':
			sb.WriteString(`\f`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r < 0x20 || (r >= 0x7f && r < 0xa0):
			fmt.Fprintf(&sb, `\x%02X`, r)
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte(quote)
	return sb.String()
}

var keyIdent = func(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		ch := k[i]
		if ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (i > 0 && ch >= '0' && ch <= '9') {
			continue
		}
		return false
	}
	return true
}

// constructorName is Node's getConstructorName: the name of the first
// constructor on o's prototype chain, "" with ok false for a null prototype.
func (c *inspectCtx) constructorName(o *goja.Object) (string, bool) {
	for p := o; p != nil; p = p.Prototype() {
		d, ok := c.h.descriptor(p, c.rt.ToValue("constructor"))
		if ok && d.value != nil {
			if co, ok := d.value.(*goja.Object); ok {
				if _, isFn := goja.AssertFunction(co); isFn {
					if n := co.Get("name"); n != nil && n.String() != "" {
						return n.String(), true
					}
				}
			}
		}
	}
	return "", false
}

func prefix(ctor string, hasCtor bool, fallback, size string) string {
	if !hasCtor {
		return "[" + fallback + size + ": null prototype] "
	}
	return ctor + size + " "
}

type extras int

const (
	kObjectType extras = iota
	kArrayExtrasType
)

func (c *inspectCtx) ownKeys(o *goja.Object, skipIndex bool) []goja.Value {
	var names []string
	if c.opts.showHidden {
		names = o.GetOwnPropertyNames()
	} else {
		names = o.Keys()
	}
	keys := make([]goja.Value, 0, len(names))
	for _, k := range names {
		if skipIndex && isIndex(k) {
			continue
		}
		keys = append(keys, c.rt.ToValue(k))
	}
	for _, s := range o.Symbols() {
		if d, ok := c.h.descriptor(o, s); ok && (d.enumerable || c.opts.showHidden) {
			keys = append(keys, s)
		}
	}
	return keys
}

func isIndex(k string) bool {
	if k == "" || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return false
		}
	}
	n, _ := strconv.ParseUint(k, 10, 64)
	return n < 1<<32-1
}

func (c *inspectCtx) formatRaw(o *goja.Object, recurseTimes int) string {
	rt, h := c.rt, c.h
	ctor, hasCtor := c.constructorName(o)
	var keys []goja.Value
	base := ""
	braces := [2]string{"{", "}"}
	typ := kObjectType
	var formatter func() []string
	allNumbers := false
	noEntries := false // nothing but keys to show

	_, isFn := goja.AssertFunction(o)
	switch {
	case h.buffer != nil && rt.InstanceOf(o, h.buffer):
		bs, _ := bufferFromJS(o)
		n := min(len(bs), 50)
		hx := hex.EncodeToString(bs[:n])
		var sb strings.Builder
		sb.WriteString("<")
		name := ctor
		if name == "" {
			name = "Buffer"
		}
		sb.WriteString(name)
		sb.WriteString(" ")
		for i := 0; i < len(hx); i += 2 {
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(hx[i : i+2])
		}
		if rem := len(bs) - 50; rem > 0 {
			fmt.Fprintf(&sb, " ... %d more byte%s", rem, plural(rem))
		}
		sb.WriteString(">")
		return sb.String()
	case o.ClassName() == "Array":
		keys = c.ownKeys(o, true)
		braces = [2]string{"[", "]"}
		if !hasCtor || ctor != "Array" {
			braces[0] = prefix(ctor, hasCtor, "Array", fmt.Sprintf("(%d)", toInt(o.Get("length"), 0))) + "["
		}
		typ = kArrayExtrasType
		length := toInt(o.Get("length"), 0)
		if length == 0 && len(keys) == 0 {
			return braces[0] + "]"
		}
		formatter = func() []string { return c.formatArray(o, length, recurseTimes, &allNumbers) }
	case h.typedArray != nil && rt.InstanceOf(o, h.typedArray):
		keys = c.ownKeys(o, true)
		length := toInt(o.Get("length"), 0)
		name := ctor
		if tag := o.GetSymbol(goja.SymToStringTag); tag != nil && !goja.IsUndefined(tag) {
			if !hasCtor {
				name = tag.String()
			}
		}
		braces = [2]string{prefix(name, hasCtor, name, fmt.Sprintf("(%d)", length)) + "[", "]"}
		typ = kArrayExtrasType
		if length == 0 && len(keys) == 0 {
			return braces[0] + "]"
		}
		allNumbers = true
		formatter = func() []string {
			n := min(length, maxArrayLength)
			out := make([]string, 0, n+1)
			for i := range n {
				out = append(out, c.formatPrimitive(o.Get(strconv.Itoa(i))))
			}
			if length > n {
				out = append(out, fmt.Sprintf("... %d more item%s", length-n, plural(length-n)))
			}
			return out
		}
	case h.is(o, "Set"):
		keys = c.ownKeys(o, false)
		size := toInt(o.Get("size"), 0)
		braces[0] = prefix(ctor, hasCtor, "Set", fmt.Sprintf("(%d)", size)) + "{"
		if size == 0 && len(keys) == 0 {
			return braces[0] + "}"
		}
		formatter = func() []string {
			var out []string
			c.indentationLvl += 2
			rt.ForOf(o, func(v goja.Value) bool {
				out = append(out, c.formatValue(v, recurseTimes, false))
				return c.budget > 0
			})
			c.indentationLvl -= 2
			return out
		}
	case h.is(o, "Map"):
		keys = c.ownKeys(o, false)
		size := toInt(o.Get("size"), 0)
		braces[0] = prefix(ctor, hasCtor, "Map", fmt.Sprintf("(%d)", size)) + "{"
		if size == 0 && len(keys) == 0 {
			return braces[0] + "}"
		}
		formatter = func() []string {
			var out []string
			c.indentationLvl += 2
			rt.ForOf(o, func(e goja.Value) bool {
				eo := e.ToObject(rt)
				k := c.formatValue(eo.Get("0"), recurseTimes, false)
				v := c.formatValue(eo.Get("1"), recurseTimes, false)
				out = append(out, k+" => "+v)
				return c.budget > 0
			})
			c.indentationLvl -= 2
			return out
		}
	default:
		keys = c.ownKeys(o, false)
		noEntries = true
		switch {
		case isFn:
			base = c.functionBase(o, ctor, hasCtor)
			if len(keys) == 0 {
				return base
			}
		case h.is(o, "Error") || o.ClassName() == "Error":
			base = c.errorBase(o)
			keys = c.withoutKeys(keys, "stack", "message")
			if len(keys) == 0 {
				return base
			}
		case h.is(o, "Date"):
			base = dateString(rt, o)
			if len(keys) == 0 {
				return base
			}
		case h.is(o, "RegExp"):
			base = o.String()
			if len(keys) == 0 {
				return base
			}
		case h.is(o, "Promise"):
			braces[0] = prefix(ctor, hasCtor, "Promise", "") + "{"
			noEntries = false
			formatter = func() []string {
				p, _ := o.Export().(*goja.Promise)
				if p == nil {
					return nil
				}
				switch p.State() {
				case goja.PromiseStatePending:
					return []string{"<pending>"}
				case goja.PromiseStateRejected:
					c.indentationLvl += 2
					s := "<rejected> " + c.formatValue(p.Result(), recurseTimes, false)
					c.indentationLvl -= 2
					return []string{s}
				}
				c.indentationLvl += 2
				s := c.formatValue(p.Result(), recurseTimes, false)
				c.indentationLvl -= 2
				return []string{s}
			}
		case h.is(o, "ArrayBuffer"):
			ab, _ := o.Export().(goja.ArrayBuffer)
			bs := ab.Bytes()
			hx := hex.EncodeToString(bs[:min(len(bs), 50)])
			var parts []string
			for i := 0; i < len(hx); i += 2 {
				parts = append(parts, hx[i:i+2])
			}
			contents := "<" + strings.Join(parts, " ")
			if rem := len(bs) - 50; rem > 0 {
				contents += fmt.Sprintf(" ... %d more byte%s", rem, plural(rem))
			}
			contents += ">"
			braces[0] = prefix(ctor, hasCtor, "ArrayBuffer", "") + "{"
			noEntries = false
			formatter = func() []string {
				return []string{"[Uint8Contents]: " + contents, fmt.Sprintf("byteLength: %d", len(bs))}
			}
		case h.is(o, "Number") || h.is(o, "String") || h.is(o, "Boolean") || h.is(o, "Symbol") || h.is(o, "BigInt"):
			var prim goja.Value = goja.Undefined()
			if vf, ok := goja.AssertFunction(o.Get("valueOf")); ok {
				if pv, err := vf(o); err == nil {
					prim = pv
				}
			}
			typeName := o.ClassName()
			inner := c.formatPrimitive(prim)
			if isString(prim) {
				inner = strEscape(prim.String())
				keys = c.withoutIndexes(keys)
			}
			base = "[" + typeName
			if hasCtor && ctor != typeName {
				base += " (" + ctor + ")"
			}
			base += ": " + inner + "]"
			if len(keys) == 0 {
				return base
			}
		default:
			if hasCtor && ctor == "Object" {
				// braces stay {}
			} else {
				braces[0] = prefix(ctor, hasCtor, "Object", "") + "{"
			}
			if len(keys) == 0 {
				return braces[0] + "}"
			}
		}
	}

	if recurseTimes > c.opts.depth {
		name := ctor
		if !hasCtor {
			name = "Object"
		}
		if typ == kArrayExtrasType && !hasCtor {
			name = "Array"
		}
		return "[" + name + "]"
	}
	recurseTimes++
	c.seen = append(c.seen, o)
	c.currentDepth = recurseTimes
	var output []string
	if formatter != nil && !noEntries {
		output = formatter()
	}
	for _, k := range keys {
		output = append(output, c.formatProperty(o, k, recurseTimes, kObjectType))
	}
	c.seen = c.seen[:len(c.seen)-1]
	if idx, ok := c.circular[o]; ok {
		ref := fmt.Sprintf("<ref *%d>", idx)
		if base == "" {
			base = ref
		} else {
			base = ref + " " + base
		}
	}
	return c.reduceToSingleString(output, base, braces, typ, recurseTimes, allNumbers)
}

func (c *inspectCtx) withoutKeys(keys []goja.Value, drop ...string) []goja.Value {
	out := keys[:0:0]
	for _, k := range keys {
		if isString(k) && (k.String() == drop[0] || k.String() == drop[1]) {
			continue
		}
		out = append(out, k)
	}
	return out
}

func (c *inspectCtx) withoutIndexes(keys []goja.Value) []goja.Value {
	out := keys[:0:0]
	for _, k := range keys {
		if isString(k) && (isIndex(k.String()) || k.String() == "length") {
			continue
		}
		out = append(out, k)
	}
	return out
}

func dateString(rt *goja.Runtime, o *goja.Object) string {
	if f, ok := goja.AssertFunction(o.Get("getTime")); ok {
		if t, err := f(o); err == nil && math.IsNaN(t.ToFloat()) {
			return "Invalid Date"
		}
	}
	if f, ok := goja.AssertFunction(o.Get("toISOString")); ok {
		if s, err := f(o); err == nil {
			return s.String()
		}
	}
	return o.String()
}

func (c *inspectCtx) functionBase(o *goja.Object, ctor string, hasCtor bool) string {
	if c.h.fnToString != nil {
		if src, err := c.h.fnToString(o); err == nil && strings.HasPrefix(src.String(), "class") {
			name := o.Get("name")
			b := "[class"
			if name != nil && name.String() != "" {
				b += " " + name.String()
			} else {
				b += " (anonymous)"
			}
			if p := o.Prototype(); p != nil {
				if pn := p.Get("name"); pn != nil && pn.String() != "" {
					b += " extends " + pn.String()
				}
			}
			return b + "]"
		}
	}
	typ := "Function"
	switch ctor {
	case "AsyncFunction", "GeneratorFunction", "AsyncGeneratorFunction":
		typ = ctor
	}
	b := "[" + typ
	if name := o.Get("name"); name != nil && isString(name) && name.String() != "" {
		b += ": " + name.String()
	} else {
		b += " (anonymous)"
	}
	b += "]"
	if !hasCtor {
		b += " [null prototype]"
	}
	return b
}

// errorBase is the error's stack, with goja's tab-indented frames written
// as Node's four spaces; an error without frames prints as [Error: msg].
func (c *inspectCtx) errorBase(o *goja.Object) string {
	stack := ""
	if s := o.Get("stack"); s != nil && isString(s) && s.String() != "" {
		stack = strings.TrimRight(s.String(), "\n")
		stack = strings.ReplaceAll(stack, "\n\tat ", "\n    at ")
	} else {
		name, msg := "Error", ""
		if n := o.Get("name"); n != nil && !goja.IsUndefined(n) {
			name = n.String()
		}
		if m := o.Get("message"); m != nil && !goja.IsUndefined(m) {
			msg = m.String()
		}
		switch {
		case msg == "":
			stack = name
		case name == "":
			stack = msg
		default:
			stack = name + ": " + msg
		}
	}
	if !strings.Contains(stack, "\n    at") {
		stack = "[" + stack + "]"
	}
	if c.indentationLvl != 0 {
		stack = strings.ReplaceAll(stack, "\n", "\n"+strings.Repeat(" ", c.indentationLvl))
	}
	return stack
}

func (c *inspectCtx) formatArray(o *goja.Object, length, recurseTimes int, allNumbers *bool) []string {
	var out []string
	*allNumbers = true
	holes := 0
	flushHoles := func() {
		if holes > 0 {
			out = append(out, fmt.Sprintf("<%d empty item%s>", holes, plural(holes)))
			holes = 0
		}
	}
	i := 0
	for ; i < length && len(out) < maxArrayLength; i++ {
		key := strconv.Itoa(i)
		if !c.h.hasOwn(o, key) {
			holes++
			*allNumbers = false
			continue
		}
		flushHoles()
		if len(out) >= maxArrayLength {
			break
		}
		v := o.Get(key)
		if !isNumber(v) && !isBigInt(v) {
			*allNumbers = false
		}
		out = append(out, c.formatProperty(o, c.rt.ToValue(key), recurseTimes, kArrayExtrasType))
		if c.budget <= 0 {
			break
		}
	}
	if len(out) < maxArrayLength {
		flushHoles()
	}
	if rem := length - i + holes; rem > 0 {
		out = append(out, fmt.Sprintf("... %d more item%s", rem, plural(rem)))
	}
	return out
}

func (c *inspectCtx) formatProperty(o *goja.Object, key goja.Value, recurseTimes int, typ extras) string {
	d, ok := c.h.descriptor(o, key)
	if !ok {
		d = propDesc{value: o.Get(key.String()), enumerable: true}
	}
	var str string
	switch {
	case d.get != nil && d.set != nil:
		str = "[Getter/Setter]"
	case d.get != nil:
		str = "[Getter]"
	case d.set != nil:
		str = "[Setter]"
	default:
		c.indentationLvl += 2
		str = c.formatValue(d.value, recurseTimes, false)
		c.indentationLvl -= 2
	}
	if typ == kArrayExtrasType {
		return str
	}
	var name string
	switch {
	case isSymbol(key):
		name = "[" + symbolString(key.(*goja.Symbol)) + "]"
	case key.String() == "__proto__":
		name = "['__proto__']"
	case !d.enumerable:
		name = "[" + key.String() + "]"
	case keyIdent(key.String()):
		name = key.String()
	default:
		name = strEscape(key.String())
	}
	return name + ": " + str
}

func (c *inspectCtx) reduceToSingleString(output []string, base string, braces [2]string, typ extras, recurseTimes int, allNumbers bool) string {
	entries := len(output)
	if typ == kArrayExtrasType && entries > 6 {
		output = c.groupArrayElements(output, allNumbers)
	}
	if c.currentDepth-recurseTimes < c.opts.compact && entries == len(output) {
		start := len(output) + c.indentationLvl + jsv.UTF16Len(braces[0]) + jsv.UTF16Len(base) + 10
		if c.isBelowBreakLength(output, start, base) {
			joined := strings.Join(output, ", ")
			if !strings.Contains(joined, "\n") {
				b := ""
				if base != "" {
					b = base + " "
				}
				return b + braces[0] + " " + joined + " " + braces[1]
			}
		}
	}
	ind := "\n" + strings.Repeat(" ", c.indentationLvl)
	b := ""
	if base != "" {
		b = base + " "
	}
	return b + braces[0] + ind + "  " + strings.Join(output, ","+ind+"  ") + ind + braces[1]
}

func (c *inspectCtx) isBelowBreakLength(output []string, start int, base string) bool {
	total := len(output) + start
	if total+len(output) > c.opts.breakLength {
		return false
	}
	for _, s := range output {
		total += jsv.UTF16Len(s)
		if total > c.opts.breakLength {
			return false
		}
	}
	return base == "" || !strings.Contains(base, "\n")
}

// groupArrayElements lays out a long array in aligned columns as Node does.
func (c *inspectCtx) groupArrayElements(output []string, allNumbers bool) []string {
	totalLength, maxLength := 0, 0
	outputLength := len(output)
	if len(output) > maxArrayLength {
		// The "... n more items" entry is not laid out.
		outputLength--
	}
	const separatorSpace = 2
	dataLen := make([]int, outputLength)
	for i := range outputLength {
		l := jsv.UTF16Len(output[i])
		dataLen[i] = l
		totalLength += l + separatorSpace
		if maxLength < l {
			maxLength = l
		}
	}
	actualMax := maxLength + separatorSpace
	if actualMax*3+c.indentationLvl < c.opts.breakLength &&
		(float64(totalLength)/float64(actualMax) > 5 || maxLength <= 6) {
		averageBias := math.Sqrt(float64(actualMax) - float64(totalLength)/float64(len(output)))
		biasedMax := math.Max(float64(actualMax)-3-averageBias, 1)
		columns := min(
			int(math.Round(math.Sqrt(2.5*biasedMax*float64(outputLength))/biasedMax)),
			(c.opts.breakLength-c.indentationLvl)/actualMax,
			c.opts.compact*4,
			15,
		)
		if columns <= 1 {
			return output
		}
		var maxLineLength []int
		for i := range columns {
			lineLength := 0
			for j := i; j < len(output); j += columns {
				if j < outputLength && dataLen[j] > lineLength {
					lineLength = dataLen[j]
				}
			}
			maxLineLength = append(maxLineLength, lineLength+separatorSpace)
		}
		var tmp []string
		for i := 0; i < outputLength; i += columns {
			maxI := min(i+columns, outputLength)
			var sb strings.Builder
			j := i
			for ; j < maxI-1; j++ {
				cell := output[j] + ", "
				pad := maxLineLength[j-i] - dataLen[j] - 2
				if allNumbers {
					sb.WriteString(strings.Repeat(" ", max(pad, 0)))
					sb.WriteString(cell)
				} else {
					sb.WriteString(cell)
					sb.WriteString(strings.Repeat(" ", max(pad, 0)))
				}
			}
			if allNumbers {
				pad := maxLineLength[j-i] - separatorSpace - dataLen[j]
				sb.WriteString(strings.Repeat(" ", max(pad, 0)))
			}
			sb.WriteString(output[j])
			tmp = append(tmp, sb.String())
		}
		if outputLength < len(output) {
			tmp = append(tmp, output[outputLength])
		}
		return tmp
	}
	return output
}
