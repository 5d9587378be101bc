package jsv

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"unsafe"
)

// StrictEqual is JavaScript's a === b: same type and same value. Numbers
// compare by value (NaN is not equal to itself, 0 equals -0; Go's number
// types all count as numbers), strings by content, and objects, arrays and
// buffers by identity: two values are the same object only when they are
// the same Go map, or slices with the same start and length. So
// {"a":1} === {"a":1} is false, as in JavaScript; use DeepEqual for content.
func StrictEqual(a, b any) bool {
	if x, ok := AsNumber(a); ok {
		y, ok := AsNumber(b)
		return ok && x == y
	}
	switch x := a.(type) {
	case nil, UndefinedType, bool, string:
		return a == b
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && reflect.ValueOf(x).UnsafePointer() == reflect.ValueOf(y).UnsafePointer()
	case []any:
		y, ok := b.([]any)
		return ok && len(x) == len(y) && unsafe.SliceData(x) == unsafe.SliceData(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && len(x) == len(y) && unsafe.SliceData(x) == unsafe.SliceData(y)
	case RawJSON:
		y, ok := b.(RawJSON)
		return ok && len(x) == len(y) && unsafe.SliceData(x) == unsafe.SliceData(y)
	}
	if isPrimitive(b) {
		return false
	}
	// Some other Go type: the same object if Go says it is the same value.
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

// LooseEqual is JavaScript's a == b (the IsLooselyEqual algorithm): values
// of the same type compare as ===; null and undefined equal each other and
// nothing else; a number and a string compare as numbers ("1" == 1,
// "" == 0); a boolean compares as the number 0 or 1 ("1" == true); an
// object compared with a primitive compares as its string form ([1] == 1,
// [1,2] == "1,2", a buffer == its text); two objects only by identity.
func LooseEqual(a, b any) bool {
	for {
		if sameType(a, b) {
			return StrictEqual(a, b)
		}
		an, bn := isNullish(a), isNullish(b)
		if an || bn {
			return an && bn
		}
		_, aNum := AsNumber(a)
		_, bNum := AsNumber(b)
		as, aStr := a.(string)
		bs, bStr := b.(string)
		switch {
		case aNum && bStr:
			return ToNumber(a) == StringToNumber(bs)
		case aStr && bNum:
			return StringToNumber(as) == ToNumber(b)
		}
		if x, ok := a.(bool); ok {
			a = boolNumber(x)
			continue
		}
		if y, ok := b.(bool); ok {
			b = boolNumber(y)
			continue
		}
		aPrim, bPrim := isPrimitive(a), isPrimitive(b)
		switch {
		case !aPrim && bPrim:
			a = ToPrimitive(a)
			continue
		case aPrim && !bPrim:
			b = ToPrimitive(b)
			continue
		}
		return false
	}
}

func boolNumber(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func isNullish(v any) bool {
	switch v.(type) {
	case nil, UndefinedType:
		return true
	}
	return false
}

// sameType reports whether a and b have the same JavaScript type (typeof,
// with null apart from objects).
func sameType(a, b any) bool {
	ta, tb := TypeOf(a), TypeOf(b)
	if ta != tb {
		return false
	}
	if ta == "object" {
		return (a == nil) == (b == nil)
	}
	return true
}

// Less is JavaScript's a < b (the IsLessThan algorithm): both sides are
// converted to primitives (objects to their string form); two strings
// compare by UTF-16 code units; otherwise both are converted to numbers and
// any NaN makes the comparison false (null counts as 0, undefined as NaN).
func Less(a, b any) bool {
	r, ok := lessThan(a, b)
	return ok && r
}

// LessOrEqual is JavaScript's a <= b: not (b < a), false when either side
// is NaN after conversion.
func LessOrEqual(a, b any) bool {
	r, ok := lessThan(b, a)
	return ok && !r
}

// Greater is JavaScript's a > b.
func Greater(a, b any) bool { return Less(b, a) }

// GreaterOrEqual is JavaScript's a >= b.
func GreaterOrEqual(a, b any) bool { return LessOrEqual(b, a) }

// lessThan returns a < b and ok=false where JavaScript's answer is
// undefined (a NaN on either side).
func lessThan(a, b any) (less, ok bool) {
	// Fast path for the common case.
	if x, isX := a.(float64); isX {
		if y, isY := b.(float64); isY {
			if math.IsNaN(x) || math.IsNaN(y) {
				return false, false
			}
			return x < y, true
		}
	}
	pa, pb := ToPrimitive(a), ToPrimitive(b)
	if sa, ok := pa.(string); ok {
		if sb, ok := pb.(string); ok {
			return utf16Compare(sa, sb) < 0, true
		}
	}
	x, y := ToNumber(pa), ToNumber(pb)
	if math.IsNaN(x) || math.IsNaN(y) {
		return false, false
	}
	return x < y, true
}

// CompareStrings compares two strings as JavaScript's relational operators
// and Array.prototype.sort do, by UTF-16 code units: -1, 0 or +1.
func CompareStrings(a, b string) int { return utf16Compare(a, b) }

// DeepEqual reports whether two values have the same content, as Node-RED's
// RED.util.compareObjects does: scalars strictly (so "1" differs from 1, and
// NaN from itself), arrays element by element, buffers byte by byte, objects
// by their keys in any order. A RawJSON equals a map or slice with the same
// content. Undefined equals only itself.
func DeepEqual(a, b any) bool {
	if r, ok := a.(RawJSON); ok {
		a = r.Decode()
	}
	if r, ok := b.(RawJSON); ok {
		b = r.Decode()
	}
	if x, ok := AsNumber(a); ok {
		y, ok := AsNumber(b)
		return ok && x == y // NaN differs from itself, as in JavaScript
	}
	switch x := a.(type) {
	case nil, UndefinedType, bool, string:
		return a == b
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !DeepEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !DeepEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	// A custom node's own type: compare JSON forms.
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
