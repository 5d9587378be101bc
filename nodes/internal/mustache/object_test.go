package mustache

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// showValue describes what a template can see of v: its kind, what {{v}}
// and {{{v}}} write, and whether a section renders.
func showValue(v Value, found bool) string {
	if !found {
		return "(missing)"
	}
	return strconv.Itoa(int(v.k)) + " " + strconv.FormatBool(v.truthy()) +
		" [" + string(appendValue(nil, &v, false)) + "] [" + string(appendValue(nil, &v, true)) + "]"
}

// refLookup is the general lookup: the value of the first entry of obj
// whose key (unescaped) is key, as gjson reads it.
func refLookup(obj, key string) (Value, bool) {
	var out Value
	found := false
	gjson.Result{Type: gjson.JSON, Raw: obj}.ForEach(func(k, v gjson.Result) bool {
		if k.Str == key {
			out, found = fromGJSON(v), true
			return false
		}
		return true
	})
	return out, found
}

// checkLookups looks keys up in obj in order through one objIndex, so that
// later lookups use what earlier ones indexed, and compares each with
// refLookup and gjson.Get.
func checkLookups(t *testing.T, obj string, keys []string) {
	t.Helper()
	var x objIndex
	for _, key := range keys {
		var v Value
		found := x.lookupIn(obj, key, gjsonEscape(key), &v)
		got := showValue(v, found)
		if want := showValue(refLookup(obj, key)); got != want {
			t.Errorf("lookup %q in %s\n got %s\nwant %s", key, obj, got, want)
		}
		if res := gjson.Get(obj, gjsonEscape(key)); res.Exists() != found {
			t.Errorf("lookup %q in %s: found %v, gjson.Get %v", key, obj, found, res.Exists())
		}
	}
}

var objectCases = []string{
	`{"temperature":1234,"fahrenheit":2253.2,"device":"dev3"}`,
	`{}`,
	` { "a" : 1 ,	"b" :
		"x" , "c":[1, "]", {"d":"}"}] } `,
	`{"a":1,"a":2,"b":3,"a":4}`,
	`{"dev\u0069ce":"escaped","device":"plain"}`,
	`{"device":"plain","dev\u0069ce":"escaped"}`,
	`{"x":1,"dev\u0069ce":"escaped","y":2}`,
	`{"a\"b":1,"a\\b":2,"a/b":3}`,
	`{"héllo":"wörld","日本":"語","emoji😀":"😀"}`,
	`{"s":"line\nbreak\ttab","u":"\u00e9\ud83d\ude00","lone":"\ud800x","q":"say \"hi\" <b>&'=/` + "`" + `"}`,
	`{"long":"0123456789012345678901234567890123456789","longesc":"01234567890123456789012345678\"9","longend":"012345678901234567890123456789\\"}`,
	`{"n":null,"t":true,"f":false,"z":0,"nz":-0,"one":1.0,"big":1e21,"e":0.1e1,"E":1E2,"neg0":-0.0,"tiny":0.0000001,"small":0.000001,"long":123456789012345678,"inf":1e400,"frac":0.30000000000000004,"exp":-1.5e-7,"plus":1e+2}`,
	`{"o":{"a":{"b":[1,2,{"c":"d"}]}},"arr":[],"obj":{},"nested":[[[]]],"str":"{\"not\":\"nested\"}"}`,
	`{"":"empty key","x":1}`,
	`{"a-b":1,"x y":2,"we*ird":3,"a.b":5,"@at":6,"#":7,"length":8,"a?":9,"a|b":10}`,
}

func TestObjectLookupMatchesGJSON(t *testing.T) {
	for _, obj := range objectCases {
		var keys []string
		gjson.Result{Type: gjson.JSON, Raw: obj}.ForEach(func(k, _ gjson.Result) bool {
			if k.Str != "" {
				keys = append(keys, k.Str)
			}
			return true
		})
		keys = append(keys, "missing", "dev", "devicex", "a\\b", "A")
		checkLookups(t, obj, keys)
		for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
			keys[i], keys[j] = keys[j], keys[i]
		}
		checkLookups(t, obj, keys)
	}
}

// Objects with more entries than the index holds: keys beyond it are
// scanned for on each lookup, and still found first-wins.
func TestObjectLookupLarge(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 3 * maxIndexed {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strconv.Itoa(i%(2*maxIndexed+16)) + `":` + strconv.Itoa(i))
	}
	entries := b.String()
	for _, obj := range []string{entries + `,"dev\u0069ce":1,"last":2}`, entries + `,"last":2}`} {
		keys := []string{"k70", "k3", "k63", "k40", "k0", "last", "device", "k10", "nope", "k64"}
		checkLookups(t, obj, keys)
		checkLookups(t, obj, []string{"device", "k1", "last"})
		checkLookups(t, obj, []string{"nope", "k1", "k50"})
	}
}

// Text that is not valid JSON (which RawJSON must not be) is handed to
// gjson, without a panic.
func TestObjectLookupInvalid(t *testing.T) {
	for _, obj := range []string{`{`, `{"a`, `{"a":`, `{"a":1`, `{"a":1,`, `{"a" 1}`, `{"a":1 "b":2}`, `{"a":tru}`,
		`{"a":nul,"b":1}`, `{"a":1x,"b":2}`, `{"a":[1,2}`, `{"a":"x}`, `{a:1}`, `{"a":1}}`, `[1,2]`, `{"a":+1,"b":2}`} {
		var x objIndex
		for _, key := range []string{"a", "b", "c"} {
			var v Value
			x.lookupIn(obj, key, key, &v)
		}
	}
}

// Random objects, with repeated and escaped keys, nested values and white
// space, looked up in random orders.
func TestObjectLookupRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keyTexts := []string{`"a"`, `"b"`, `"c"`, `"\u0061"`, `"a\"b"`, `"é"`, `"long key with spaces in it, more than 24"`, `""`}
	values := []string{`1`, `-0`, `1.0`, `0.1e1`, `1e21`, `2253.2`, `-12.50`, `0`, `true`, `false`, `null`, `""`, `"x,}"`,
		`"esc\"aped\\"`, `"\u00e9"`, `[]`, `{}`, `[1,{"a":"]"}]`, `{"a":{"b":"}"}}`, `"0123456789012345678901234567890\n"`}
	space := []string{"", "", " ", "\n\t "}
	for range 500 {
		var b strings.Builder
		b.WriteString(space[rng.IntN(len(space))] + "{")
		n := rng.IntN(8)
		for i := range n {
			if i > 0 {
				b.WriteString(space[rng.IntN(len(space))] + ",")
			}
			b.WriteString(space[rng.IntN(len(space))] + keyTexts[rng.IntN(len(keyTexts))] + space[rng.IntN(len(space))] + ":" +
				space[rng.IntN(len(space))] + values[rng.IntN(len(values))])
		}
		b.WriteString(space[rng.IntN(len(space))] + "}")
		obj := strings.TrimLeft(b.String(), " \n\t") // as rawJSONValue passes it
		keys := make([]string, 1+rng.IntN(5))
		for i := range keys {
			keys[i] = []string{"a", "b", "c", "a\"b", "é", "long key with spaces in it, more than 24", "z"}[rng.IntN(7)]
		}
		checkLookups(t, obj, keys)
	}
}

// numberValue keeps a number's text only when JavaScript writes it the
// same; otherwise it writes the parsed number, as the general path does.
func TestNumberValue(t *testing.T) {
	tests := []struct {
		raw, want string
		truthy    bool
	}{
		{"0", "0", false}, {"-0", "0", false}, {"0.0", "0", false}, {"-0.0", "0", false},
		{"1", "1", true}, {"1.0", "1", true}, {"1.50", "1.5", true}, {"0.1e1", "1", true}, {"1E2", "100", true}, {"1e+2", "100", true},
		{"1e21", "1e+21", true}, {"1e20", "100000000000000000000", true}, {"123456789012345678", "123456789012345680", true},
		{"2253.2", "2253.2", true}, {"-3.5", "-3.5", true}, {"0.000001", "0.000001", true}, {"0.0000001", "1e-7", true},
		{"0.30000000000000004", "0.30000000000000004", true}, {"1e400", "Infinity", true}, {"-1e400", "-Infinity", true},
		{"1e-400", "0", false}, {"100", "100", true}, {"012", "12", true},
	}
	for _, tc := range tests {
		v := numberValue(tc.raw)
		if got := string(appendValue(nil, &v, true)); got != tc.want || v.truthy() != tc.truthy {
			t.Errorf("numberValue(%s) writes %q, truthy %v; want %q, %v", tc.raw, got, v.truthy(), tc.want, tc.truthy)
		}
		ref := fromGJSON(gjson.Parse(tc.raw))
		if got, want := showValue(v, true), showValue(ref, true); got != want {
			t.Errorf("numberValue(%s) = %s, general path %s", tc.raw, got, want)
		}
	}
}

// countingCtx is a root view that counts its lookups.
type countingCtx struct {
	testCtx
	lookups *int
}

func (c countingCtx) Lookup(name string) (Value, bool) {
	*c.lookups++
	return c.testCtx.Lookup(name)
}

// The root is asked once for a run of tags reading the same top-level
// property, and again when another one comes between.
func TestRootPropertyCache(t *testing.T) {
	n := 0
	ctx := countingCtx{jsonCtx(t, `{"p":{"a":1,"b":"x"},"q":2,"nul":null}`), &n}
	tests := []struct {
		tmpl, want string
		lookups    int
	}{
		{"{{p.a}}{{p.b}}{{p.c}}", "1x", 1},
		{"{{p.a}}{{q}}{{p.b}}{{p.b}}", "12xx", 3},
		{"{{nope}}{{nope}}{{nope.x}}[{{nul.x}}{{nul}}]", "[]", 2},
		{"{{#p}}{{a}}{{q}}{{/p}}{{q}}", "122", 2},
	}
	for _, tc := range tests {
		n = 0
		tmpl, err := Parse(tc.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(tmpl.Render(nil, ctx)); got != tc.want || n != tc.lookups {
			t.Errorf("Render(%q) = %q with %d lookups, want %q with %d", tc.tmpl, got, n, tc.want, tc.lookups)
		}
		// A render does not keep the last one's values.
		n = 0
		other := countingCtx{jsonCtx(t, `{"p":{"a":"other"},"q":"other"}`), &n}
		if got := string(tmpl.Render(nil, other)); strings.Contains(got, "1") || strings.Contains(got, "x") {
			t.Errorf("Render(%q) on another root = %q", tc.tmpl, got)
		}
	}
}

// A payload that is not an object renders as it did: no properties
// (strings have length and indexes only).
func TestNonObjectViews(t *testing.T) {
	tmpl, err := Parse("[{{p.device}}][{{p.length}}][{{p.0}}]")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    any
		want string
	}{
		{"dev3", "[][4][d]"},
		{12.5, "[][][]"},
		{[]byte("ab"), "[][2][97]"},
		{engine.RawJSON(`["x","y"]`), "[][2][x]"},
		{nil, "[][][]"},
	} {
		ctx := testCtx{root: ValueOf(map[string]any{"p": tc.p})}
		if got := string(tmpl.Render(nil, ctx)); got != tc.want {
			t.Errorf("p = %#v: got %q, want %q", tc.p, got, tc.want)
		}
	}
}

// BenchmarkObjectLookup looks up the mixed flow's four payload keys (one
// missing) in a fresh index each time, as one render does.
func BenchmarkObjectLookup(b *testing.B) {
	obj := `{"temperature":1234,"fahrenheit":2253.2,"device":"dev3"}`
	keys := []string{"device", "temperature", "fahrenheit", "ts"}
	var x objIndex
	var v Value
	b.ReportAllocs()
	for b.Loop() {
		x.release()
		for _, k := range keys {
			x.lookupIn(obj, k, k, &v)
		}
	}
}

// stringEndRef is stringEnd byte by byte.
func stringEndRef(s string, i int) (int, bool) {
	esc := false
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '"':
			return j + 1, esc
		case '\\':
			esc = true
			j++
		}
	}
	return -1, esc
}

// stringEnd reads eight bytes at a time: quotes and backslashes at every
// offset, bytes that differ from them by one bit or are above 0x7f, and
// strings that end before a word does.
func TestStringEnd(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{'a', '"', '\\', 0x22 ^ 0x80, 0x5c ^ 0x80, 0x23, 0x5d, 0x02, 0xff, 0x00, 'n'}
	for n := 0; n < 40; n++ {
		for range 200 {
			b := make([]byte, n)
			for i := range b {
				b[i] = 'x'
				if rng.IntN(4) == 0 {
					b[i] = alphabet[rng.IntN(len(alphabet))]
				}
			}
			s := `"` + string(b)
			end, esc := jsv.StringEnd(s, 0)
			wantEnd, wantEsc := stringEndRef(s, 0)
			if end != wantEnd || (end >= 0 && esc != wantEsc) {
				t.Fatalf("jsv.StringEnd(%q) = %d, %v; want %d, %v", s, end, esc, wantEnd, wantEsc)
			}
		}
	}
}

// The same key in different tag names is one string.
func TestKeysInterned(t *testing.T) {
	tmpl, err := Parse("{{payload.a}}{{payload.b}}{{#payload}}{{payload}}{{/payload}}")
	if err != nil {
		t.Fatal(err)
	}
	first := tmpl.nodes[0].name.parts[0].key
	for _, k := range []string{tmpl.nodes[1].name.parts[0].key, tmpl.nodes[2].name.one.key, tmpl.nodes[2].children[0].name.one.key} {
		if k != "payload" || unsafe.StringData(k) != unsafe.StringData(first) {
			t.Errorf("key %q is not the interned %q", k, first)
		}
	}
}

// appendEscaped skips bytes above the backtick without looking further:
// every byte value, alone and between letters, escapes as mustache.js's
// escapeHtml does.
func TestAppendEscapedEveryByte(t *testing.T) {
	ref := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;", "/", "&#x2F;", "`", "&#x60;", "=", "&#x3D;")
	for c := range 256 {
		for _, s := range []string{string([]byte{byte(c)}), "a" + string([]byte{byte(c)}) + "z"} {
			if got, want := string(appendEscaped(nil, s)), ref.Replace(s); got != want {
				t.Errorf("appendEscaped(%q) = %q, want %q", s, got, want)
			}
		}
	}
}
