package engine

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"unsafe"
)

// stringifyCases are JSON texts and what Node.js 20 prints for
// JSON.stringify(JSON.parse(text)).
var stringifyCases = []struct{ in, want string }{
	{"{\"b\":1,\"a\":2}", "{\"b\":1,\"a\":2}"},
	{"{\"b\":1,\"10\":2,\"2\":3,\"a\":4,\"0\":5}", "{\"0\":5,\"2\":3,\"10\":2,\"b\":1,\"a\":4}"},
	{"{\"b\":1,\"4294967295\":2,\"4294967294\":3,\"01\":4,\"-1\":5,\"1.5\":6,\" 1\":7,\"-0\":8,\"1e3\":9}", "{\"4294967294\":3,\"b\":1,\"4294967295\":2,\"01\":4,\"-1\":5,\"1.5\":6,\" 1\":7,\"-0\":8,\"1e3\":9}"},
	{"{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}"},
	{"{\"a\":1,\"2\":2,\"a\":3,\"1\":4}", "{\"1\":4,\"2\":2,\"a\":3}"},
	{"{\"x\":{\"z\":1,\"y\":{\"3\":[1,{\"9\":0,\"8\":1}],\"q\":null}}}", "{\"x\":{\"z\":1,\"y\":{\"3\":[1,{\"8\":1,\"9\":0}],\"q\":null}}}"},
	{" { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : { } , \"c\" : [ ] } ", "{\"a\":[1,2],\"b\":{},\"c\":[]}"},
	{"[1e400,-1e400,-0,1.0,1e21,1e-7,0.1,123e-20,1E+2,5e-324,1.7976931348623157e308,0.30000000000000004,100000000000000000000,1e20,123456789012345680000,0.000001,1e-6,-1.5e-10,12345678901234567890,9007199254740993,2e-323,1.25,-0.0,0e5]", "[null,null,0,1,1e+21,1e-7,0.1,1.23e-18,100,5e-324,1.7976931348623157e+308,0.30000000000000004,100000000000000000000,100000000000000000000,123456789012345680000,0.000001,0.000001,-1.5e-10,12345678901234567000,9007199254740992,2e-323,1.25,0,0]"},
	{"\"\\u00e9\\ud83d\\ude00\\u2028\\u0000\\u001f\\u007f\\/\\b\\f\\n\\r\\t\\\"\\\\\"", "\"é😀 \\u0000\\u001f/\\b\\f\\n\\r\\t\\\"\\\\\""},
	{"[\"\\ud800x\\udc00\\uDBFF\\uDFFF\\uD83D\"]", "[\"\\ud800x\\udc00􏿿\\ud83d\"]"},
	{"{\"\\u0061\":1,\"a\":2}", "{\"a\":2}"},
	{"{\"\\u0031\":1,\"0\":2}", "{\"0\":2,\"1\":1}"},
	{"[\"<>&'\",\" \",\"\\u001b\"]", "[\"<>&'\",\" \",\"\\u001b\"]"},
	{"123", "123"},
	{"-0", "0"},
	{"1e400", "null"},
	{"\"x\"", "\"x\""},
	{"true", "true"},
	{"null", "null"},
	{"[[],{},[{}],{\"a\":[]}]", "[[],{},[{}],{\"a\":[]}]"},
	{"{\"\":1,\"\":2,\"b\":3}", "{\"\":2,\"b\":3}"},
	{"{\"10\":1,\"9\":2,\"4294967294\":3,\"4294967293\":4,\"00\":5}", "{\"9\":2,\"10\":1,\"4294967293\":4,\"4294967294\":3,\"00\":5}"},
}

func TestCanonicalJSONAsNode(t *testing.T) {
	for _, tc := range stringifyCases {
		v, err := ParseJSON([]byte(tc.in))
		if err != nil {
			t.Fatalf("ParseJSON(%s): %v", tc.in, err)
		}
		if got := string(MarshalJSON(v)); got != tc.want {
			t.Errorf("MarshalJSON(ParseJSON(%s))\n got  %s\n want %s", tc.in, got, tc.want)
		}
		if got := string(appendRawJSON(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("appendRawJSON(%s)\n got  %s\n want %s", tc.in, got, tc.want)
		}
		// A decoded value is written the same way, but a map cannot
		// keep the order its keys came in: skip objects whose order is
		// not sorted apart from the array indices.
		if r, ok := v.(RawJSON); ok && sortedApartFromIndices(tc.want) {
			if got := string(MarshalJSON(r.Decode())); got != tc.want && !hasLoneSurrogate(tc.want) {
				t.Errorf("MarshalJSON(decoded %s)\n got  %s\n want %s", tc.in, got, tc.want)
			}
		}
	}
}

// sortedApartFromIndices reports whether the objects in the JSON text s
// list their non-index keys in sorted order.
func sortedApartFromIndices(s string) bool {
	v := RawJSON(s).Decode()
	return string(AppendJSON(nil, v)) == s
}

func hasLoneSurrogate(s string) bool {
	for i := 0; i+5 < len(s); i++ {
		if s[i] == '\\' && s[i+1] == 'u' && (s[i+2] == 'd' || s[i+2] == 'D') {
			return true
		}
	}
	return false
}

// TestCanonicalJSONPassesCanonicalTextThrough: text already as
// JSON.stringify writes it is returned as it is, without a copy.
func TestCanonicalJSONPassesCanonicalTextThrough(t *testing.T) {
	for _, s := range []string{`{"temperature":21.5,"humidity":40}`, `[1,"a",{"b":null}]`, `{"0":1,"b":[true,false]}`} {
		r := RawJSON(s)
		got := CanonicalJSON(r)
		if unsafe.SliceData(got) != unsafe.SliceData(r) {
			t.Errorf("CanonicalJSON(%s) copied the text", s)
		}
		if allocs := testing.AllocsPerRun(100, func() { CanonicalJSON(r) }); allocs != 0 {
			t.Errorf("CanonicalJSON(%s): %v allocations", s, allocs)
		}
	}
	for _, s := range []string{`{"a": 1}`, `{"b":1,"0":2}`, `[1.0]`, `{"a":1,"a":2}`, `["\u0041"]`} {
		r := RawJSON(s)
		if got := CanonicalJSON(r); unsafe.SliceData(got) == unsafe.SliceData(r) {
			t.Errorf("CanonicalJSON(%s) = %s: not rewritten", s, got)
		}
	}
}

// TestAppendJSONAsNode: decoded values and strings that are not valid
// UTF-8 are written as JSON.stringify writes them in Node-RED (a string
// from bytes that are not UTF-8 is what Buffer.toString made of them).
func TestAppendJSONAsNode(t *testing.T) {
	a, b := 0.1, 0.2
	tests := []struct {
		v    any
		want string
	}{
		{map[string]any{"b": 1.0, "10": 2.0, "2": 3.0, "a": 4.0, "01": 5.0, "-1": 6.0}, `{"2":3,"10":2,"-1":6,"01":5,"a":4,"b":1}`},
		{map[string]any{"4294967295": 1.0, "4294967294": 2.0}, `{"4294967294":2,"4294967295":1}`},
		{[]any{math.Inf(1), math.Inf(-1), math.NaN(), math.Copysign(0, -1), 1e21, 1e-7, a + b}, `[null,null,null,0,1e+21,1e-7,0.30000000000000004]`},
		{"ok \xF0\x9F\x98 \xED\xA0\x80!", "\"ok \uFFFD \uFFFD\uFFFD\uFFFD!\""},
		{"\xC0\xAF\x00", "\"\uFFFD\uFFFD\\u0000\""},
		{"a\xE2\x82\xACb\xE2\x82", "\"a€b\uFFFD\""},
		{map[string]any{"k\xFF": "v"}, "{\"k\uFFFD\":\"v\"}"},
	}
	for _, tc := range tests {
		if got := string(MarshalJSON(tc.v)); got != tc.want {
			t.Errorf("MarshalJSON(%#v)\n got  %s\n want %s", tc.v, got, tc.want)
		}
	}
}

// TestPlainNumber checks the numbers written as they are against
// strconv's shortest form written as JavaScript does.
func TestPlainNumber(t *testing.T) {
	for _, tok := range []string{"0", "-0", "1", "-1", "10", "123456789012345", "1234567890123456", "0.5", "-0.5", "0.50",
		"1.0", "21.5", "0.000001", "0.0000001", "0.0000012", "1.23456789012345", "1.234567890123456", "0.100000000000000",
		"0.30000000000000004", "1e5", "1E5", "-1.5e-10", "100000000000000", "999999999999999", "0.000123456789012345"} {
		f, err := strconv.ParseFloat(tok, 64)
		if err != nil {
			t.Fatal(err)
		}
		js := string(AppendNumber(nil, f))
		if plainNumber([]byte(tok)) && js != tok {
			t.Errorf("plainNumber(%s) but JavaScript writes %s", tok, js)
		}
		if got := string(appendRawJSON(nil, []byte(tok))); got != js {
			t.Errorf("appendRawJSON(%s) = %s, want %s", tok, got, js)
		}
	}
}

func BenchmarkCanonicalJSON(b *testing.B) {
	r := RawJSON(`{"temperature":21.5,"humidity":40,"device":{"id":"dev1","tags":["a","b"]}}`)
	b.ReportAllocs()
	for b.Loop() {
		CanonicalJSON(r)
	}
}

// FuzzCanonicalJSON: the encoding of valid JSON is valid JSON, holds the
// same values as encoding/json reads them, and encodes to itself.
func FuzzCanonicalJSON(f *testing.F) {
	for _, tc := range stringifyCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		out := appendRawJSON(nil, []byte(s))
		if !json.Valid(out) {
			t.Fatalf("appendRawJSON(%q) = %q: not JSON", s, out)
		}
		if again := appendRawJSON(nil, out); !bytes.Equal(again, out) {
			t.Fatalf("not stable: %q -> %q -> %q", s, out, again)
		}
		if got := CanonicalJSON(RawJSON(out)); !bytes.Equal(got, out) {
			t.Fatalf("CanonicalJSON(%q) = %q", out, got)
		}
	})
}
