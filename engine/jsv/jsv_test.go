package jsv

import (
	"math"
	"testing"
)

// The expected values in this file were produced by Node.js 20 (node -e);
// TestAgainstNode checks many more cases against node itself when it is on
// PATH.

func TestToNumber(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{"", "0"}, {" 12 ", "12"}, {"0x1f", "31"}, {"0X1F", "31"}, {"0o17", "15"}, {"0b101", "5"},
		{"-0x1f", "NaN"}, {"1e3", "1000"}, {"1e", "NaN"}, {".5", "0.5"}, {"5.", "5"}, {".", "NaN"},
		{"Infinity", "Infinity"}, {"-Infinity", "-Infinity"}, {"infinity", "NaN"}, {"NaN", "NaN"},
		{"1_000", "NaN"}, {"12px", "NaN"}, {"\u00a012\u2028", "12"}, {"\ufeff3", "3"}, {"-0", "-0"},
		{"1e400", "Infinity"}, {"0x1p3", "NaN"}, {"0xFFFFFFFFFFFFFFFFFF", "4.722366482869645e+21"},
		{nil, "0"}, {Undefined, "NaN"}, {true, "1"}, {false, "0"}, {int64(7), "7"},
		{[]any{}, "0"}, {[]any{5.0}, "5"}, {[]any{[]any{"5"}}, "5"}, {[]any{1.0, 2.0}, "NaN"},
		{map[string]any{}, "NaN"}, {[]byte(" 12 "), "12"}, {RawJSON(`[" 7 "]`), "7"}, {RawJSON(`{}`), "NaN"},
	}
	for _, c := range cases {
		if got := numString(ToNumber(c.in)); got != c.want {
			t.Errorf("ToNumber(%#v) = %s, want %s", c.in, got, c.want)
		}
	}
}

// numString is String(f), with -0 written as "-0" so tests can tell it.
func numString(f float64) string {
	if f == 0 && math.Signbit(f) {
		return "-0"
	}
	return FormatNumber(f)
}

func TestParseFloat(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{"21.5", "21.5"}, {" 3abc", "3"}, {"abc", "NaN"}, {"", "NaN"}, {"-1e3x", "-1000"}, {".5", "0.5"},
		{"Infinityx", "Infinity"}, {"-Infinity", "-Infinity"}, {"0x1f", "0"}, {"\u00a012", "12"},
		{true, "NaN"}, {nil, "NaN"}, {7.0, "7"}, {[]any{"5x", 2.0}, "5"}, {[]byte("4.5"), "4.5"},
		{map[string]any{}, "NaN"}, {"1e", "1"}, {math.Copysign(0, -1), "0"},
	}
	for _, c := range cases {
		f, ok := ParseFloat(c.in)
		got := numString(f)
		if !ok {
			got = "NaN"
		}
		if got != c.want {
			t.Errorf("ParseFloat(%#v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestToString(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{nil, "null"}, {Undefined, "undefined"}, {true, "true"}, {22.0, "22"}, {-0.0, "0"},
		{1e21, "1e+21"}, {1.5e-7, "1.5e-7"}, {math.NaN(), "NaN"}, {3, "3"},
		{[]any{1.0, []any{2.0, 3.0}, nil, Undefined, map[string]any{}}, "1,2,3,,,[object Object]"},
		{[]any{}, ""}, {map[string]any{"a": 1.0}, "[object Object]"}, {[]byte("ab\xff"), "ab\ufffd"},
		{RawJSON(`[1,"x",null,[true]]`), "1,x,,true"}, {RawJSON(` {"a":1}`), "[object Object]"},
	}
	for _, c := range cases {
		if got := ToString(c.in); got != c.want {
			t.Errorf("ToString(%#v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	cases := []struct {
		in   float64
		want string
	}{
		{22, "22"}, {21.5, "21.5"}, {-0.5, "-0.5"}, {0, "0"}, {0.1, "0.1"},
		{1e21, "1e+21"}, {1e20, "100000000000000000000"}, {1.5e-7, "1.5e-7"}, {0.000001, "0.000001"},
		{123456789012, "123456789012"}, {math.NaN(), "NaN"}, {math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"},
		{0.30000000000000004, "0.30000000000000004"}, {-1e-7, "-1e-7"}, {2.5e25, "2.5e+25"},
		{5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"}, {9007199254740993, "9007199254740992"},
	}
	for _, c := range cases {
		if got := FormatNumber(c.in); got != c.want {
			t.Errorf("FormatNumber(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTruthyTypeOfTypeName(t *testing.T) {
	cases := []struct {
		in             any
		truthy         bool
		typeOf, typeNm string
	}{
		{nil, false, "object", "null"}, {Undefined, false, "undefined", "undefined"},
		{false, false, "boolean", "boolean"}, {"", false, "string", "string"}, {"0", true, "string", "string"},
		{0.0, false, "number", "number"}, {math.NaN(), false, "number", "number"}, {int32(2), true, "number", "number"},
		{[]byte{}, true, "object", "buffer"}, {[]any{}, true, "object", "array"}, {map[string]any{}, true, "object", "object"},
		{RawJSON(" [1]"), true, "object", "array"}, {RawJSON("{}"), true, "object", "object"},
	}
	for _, c := range cases {
		if got := Truthy(c.in); got != c.truthy {
			t.Errorf("Truthy(%#v) = %v", c.in, got)
		}
		if got := TypeOf(c.in); got != c.typeOf {
			t.Errorf("TypeOf(%#v) = %q, want %q", c.in, got, c.typeOf)
		}
		if got := TypeName(c.in); got != c.typeNm {
			t.Errorf("TypeName(%#v) = %q, want %q", c.in, got, c.typeNm)
		}
	}
}

func TestIsTypeLikeSwitchNode(t *testing.T) {
	// Node-RED 4's switch "is of type" rule: JSON.parse is tried on the
	// value itself, so numbers, booleans and null are JSON, and arrays
	// whose join parses.
	cases := []struct {
		in   any
		want string // the types it is, in IsType's order
	}{
		{"x", "string"}, {`{"a":1}`, "string json"}, {"5", "string json"}, {12.0, "number json"},
		{true, "boolean json"}, {nil, "json null"}, {Undefined, "undefined"},
		{[]any{5.0}, "array json"}, {[]any{}, "array"}, {RawJSON(`[1,2]`), "array"},
		{[]byte(`[1]`), "buffer json"}, {[]byte("x"), "buffer"}, {map[string]any{}, "object"},
		{RawJSON(`{"a":1}`), "object"},
	}
	types := []string{"string", "number", "boolean", "array", "buffer", "object", "json", "null", "undefined"}
	for _, c := range cases {
		got := ""
		for _, ty := range types {
			if IsType(c.in, ty) {
				if got != "" {
					got += " "
				}
				got += ty
			}
		}
		if got != c.want {
			t.Errorf("IsType(%#v) is %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEqualityAndRelations(t *testing.T) {
	obj := map[string]any{"a": 1.0}
	arr := []any{1.0}
	cases := []struct {
		a, b                          any
		loose, strict, lt, le, gt, ge bool
	}{
		{"1", 1.0, true, false, false, true, false, true},
		{"", 0.0, true, false, false, true, false, true},
		{nil, Undefined, true, false, false, false, false, false},
		{nil, 0.0, false, false, false, true, false, true},
		{Undefined, 0.0, false, false, false, false, false, false},
		{true, "1", true, false, false, true, false, true},
		{arr, 1.0, true, false, false, true, false, true},
		{arr, arr, true, true, false, true, false, true},
		{arr, []any{1.0}, false, false, false, true, false, true},
		{obj, "[object Object]", true, false, false, true, false, true},
		{obj, obj, true, true, false, true, false, true},
		{[]byte("ab"), "ab", true, false, false, true, false, true},
		{"2", "10", false, false, false, false, true, true},
		{2.0, "10", false, false, true, true, false, false},
		{"\U0001F600", "\uff61", false, false, true, true, false, false},
		{math.NaN(), math.NaN(), false, false, false, false, false, false},
		{0.0, math.Copysign(0, -1), true, true, false, true, false, true},
		{int(3), 3.0, true, true, false, true, false, true},
		{"abc", "abd", false, false, true, true, false, false},
		{"\ufeff3", "\uff61", false, false, true, true, false, false},
		{RawJSON(`[2]`), 10.0, false, false, true, true, false, false},
	}
	for _, c := range cases {
		got := [6]bool{LooseEqual(c.a, c.b), StrictEqual(c.a, c.b), Less(c.a, c.b), LessOrEqual(c.a, c.b), Greater(c.a, c.b), GreaterOrEqual(c.a, c.b)}
		want := [6]bool{c.loose, c.strict, c.lt, c.le, c.gt, c.ge}
		if got != want {
			t.Errorf("%#v vs %#v: ==,===,<,<=,>,>= = %v, want %v", c.a, c.b, got, want)
		}
	}
}

func TestDeepEqual(t *testing.T) {
	a := RawJSON(`{"b":[1,"x",{"c":null}],"a":true}`)
	b := map[string]any{"a": true, "b": []any{1, "x", map[string]any{"c": nil}}}
	if !DeepEqual(a, b) || !DeepEqual(b, a) {
		t.Error("RawJSON and map with the same content differ")
	}
	if DeepEqual("1", 1.0) || DeepEqual(math.NaN(), math.NaN()) || DeepEqual(nil, Undefined) {
		t.Error("DeepEqual is not strict on scalars")
	}
	if !DeepEqual([]byte("ab"), []byte("ab")) || DeepEqual([]byte("ab"), "ab") {
		t.Error("DeepEqual on buffers")
	}
}
