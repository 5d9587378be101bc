package engine

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/runnel-io/runnel/engine/jsv"
)

// generalDelete is deleteIn's general path for RawJSON and plain keys:
// sjson, the input unchanged when sjson finds nothing to delete.
func generalDelete(x []byte, segs []Segment) []byte {
	raw, err := sjson.DeleteBytes(x, setPath(segs))
	if err != nil {
		return x
	}
	return raw
}

// generalLookup is lookupIn's general path for RawJSON and plain keys.
func generalLookup(x []byte, segs []Segment) (any, bool) {
	r := gjson.GetBytes(x, escapedTail(segs))
	if !r.Exists() {
		return nil, false
	}
	return fromGJSON(r), true
}

// sameValue compares message values exactly: types, bytes of RawJSON,
// and the sign of zero.
func sameValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && math.Float64bits(fa) == math.Float64bits(fb)
	}
	return reflect.DeepEqual(a, b)
}

// payloadPath is the path of path below msg.payload.
func payloadPath(path string) Path {
	if strings.HasPrefix(path, "[") {
		return MustParsePath("payload" + path)
	}
	return MustParsePath("payload." + path)
}

func segsOf(t testing.TB, path string) []Segment {
	t.Helper()
	return payloadPath(path).Segments()[1:]
}

// checkRawPath compares the fast paths of deleteIn and lookupIn on x and
// path with the general ones, and reports whether the fast path was sure.
func checkRawPath(t *testing.T, x, path string) bool {
	t.Helper()
	segs := segsOf(t, path)
	p := payloadPath(path)
	wantDel := generalDelete([]byte(x), segs)
	gotDel := deleteIn(RawJSON(x), segs)
	if g, ok := gotDel.(RawJSON); !ok || !bytes.Equal(g, wantDel) {
		t.Errorf("delete %s from %s: got %s, want %s", path, x, gotDel, wantDel)
	}
	want, wantOK := generalLookup([]byte(x), segs)
	got, gotOK := p.lookupIn(RawJSON(x))
	if gotOK != wantOK || !sameValue(got, want) {
		t.Errorf("lookup %s in %s: got %#v %v, want %#v %v", path, x, got, gotOK, want, wantOK)
	}
	_, st := rawMember([]byte(x), segs)
	return st != jsv.ScanUnsure
}

func TestRawPathFastMatchesGeneral(t *testing.T) {
	cases := []struct {
		x, path string
		sure    bool // the fast path must handle it
	}{
		{`{"temperature":1234,"humidity":40,"fahrenheit":2253.2,"device":"dev3"}`, "humidity", true},
		{`{"humidity":40,"a":1}`, "humidity", true},                // first
		{`{"a":1,"humidity":40,"b":2}`, "humidity", true},          // middle
		{`{"a":1,"humidity":40}`, "humidity", true},                // last
		{`{"humidity":40}`, "humidity", true},                      // only
		{`{}`, "humidity", true},                                   // empty
		{`{"a":1,"b":2}`, "humidity", true},                        // missing
		{`{"a":1,"humidity":40,"humidity":41}`, "humidity", false}, // repeated
		{`{"humidity":40,"a":{"humidity":1}}`, "humidity", true},   // same name deeper
		{`{"hum\u0069dity":40,"a":1}`, "humidity", false},
		{`{"humidity":40,"hum\u0069dity":41}`, "humidity", false}, // escaped repeat after it
		{`{"humidity":40,"a":"humidity"}`, "humidity", true},      // the name as a value after it
		{`{"humidity":40,"a": 1, "b" :2}`, "humidity", true},      // white space after it only
		{`{"a": 1,"humidity":40}`, "humidity", false},             // white space before it          // escaped key
		{`{"a\"b":40,"humidity":1}`, "humidity", false},           // escaped quote in a key
		{`{"a":"x,\"y\":{[","humidity":40}`, "humidity", true},    // string with commas, braces, quotes
		{`{"a":{"b":[1,{"c":"}"}],"d":"]"},"humidity":"40"}`, "humidity", true},
		{`{"humidity":{"x":[1,2,{"y":"a,b"}]},"z":null}`, "humidity", true}, // object value
		{`{"humidity":[1,"2",[3]],"z":true}`, "humidity", true},             // array value
		{`{"humidity":"a\"b\\","z":false}`, "humidity", true},               // string value with escapes
		{`{"humidity":"été ☃ 😀","z":1}`, "humidity", true},                  // unicode value
		{`{"humidité":1,"z":2}`, "humidité", true},                          // unicode key
		{`{"humidity":-0,"z":1}`, "humidity", true},
		{`{"humidity":1e400}`, "humidity", true},
		{`{"humidity":-12.5e-3}`, "humidity", true},
		{`{"humidity":123456789012345678}`, "humidity", true},
		{`{"humidity":true}`, "humidity", true},
		{`{"humidity":null}`, "humidity", true},
		{`{ "humidity": 40, "a": 1 }`, "humidity", false}, // white space
		{"{\"a\":1,\n\"humidity\":40}", "humidity", false},
		{`{"a":{ "b" : 1 },"humidity":40}`, "humidity", true}, // white space inside a value only
		{`[{"humidity":1}]`, "humidity", false},               // an array
		{`{"a":{"b":1,"c":2},"d":3}`, "a.b", true},            // nested
		{`{"a":{"b":1,"c":2},"d":3}`, "a.c", true},
		{`{"a":{"b":1},"d":3}`, "a.b", true},
		{`{"a":{"b":1},"d":3}`, "a.x", true},
		{`{"a":{"b":1},"d":3}`, "x.b", true},
		{`{"a":{"b":{"c":[1]}}}`, "a.b.c", true},
		{`{"a":{"b":1,"b":2}}`, "a.b", false},
		{`{"a":{"b":1},"a":{"b":2}}`, "a.b", false},
		{`{"a":"str","d":3}`, "a.b", false}, // a scalar on the way
		{`{"a":[{"b":1}],"d":3}`, "a.b", false},
		{`{"a":{"b":1}}`, "a", true},
		{`{"0":1,"a":2}`, "0", false}, // digits: the general path
		{`{"a b":1}`, `["a b"]`, false},
		{`{"a.b":1}`, `["a.b"]`, false},
		{`{"a*":1,"a":2}`, `a`, true},
		{`{"a*":1,"a":2}`, `["a*"]`, false},
	}
	for _, c := range cases {
		if sure := checkRawPath(t, c.x, c.path); sure != c.sure {
			t.Errorf("%s in %s: fast path sure %v, want %v", c.path, c.x, sure, c.sure)
		}
	}
}

// Exact bytes of deletes, written out, so that the test does not only
// compare the fast path with sjson.
func TestRawDeleteBytes(t *testing.T) {
	for _, c := range []struct{ x, path, want string }{
		{`{"temperature":1234,"humidity":40,"fahrenheit":2253.2,"device":"dev3"}`, "humidity", `{"temperature":1234,"fahrenheit":2253.2,"device":"dev3"}`},
		{`{"humidity":40,"a":1}`, "humidity", `{"a":1}`},
		{`{"a":1,"humidity":40}`, "humidity", `{"a":1}`},
		{`{"humidity":40}`, "humidity", `{}`},
		{`{"a":1}`, "humidity", `{"a":1}`},
		{`{"a":{"b":1,"c":[2]},"d":3}`, "a.c", `{"a":{"b":1},"d":3}`},
		{`{"a":{"b":1},"d":3}`, "a.b", `{"a":{},"d":3}`},
	} {
		x := []byte(c.x)
		got := deleteIn(RawJSON(x), segsOf(t, c.path))
		if g, _ := got.(RawJSON); string(g) != c.want {
			t.Errorf("delete %s from %s: got %s, want %s", c.path, c.x, got, c.want)
		}
		if string(x) != c.x {
			t.Errorf("delete %s changed its input to %s", c.path, x)
		}
	}
}

// The delete through a message: the payload is replaced, the old bytes,
// which a copy of the message still holds, are not touched.
func TestMessageDeleteRawKeepsOriginal(t *testing.T) {
	orig := `{"temperature":1234,"humidity":40}`
	m := NewMessage("t", RawJSON(orig))
	c := m.Copy()
	m.Delete(MustParsePath("payload.humidity"))
	if got := string(m.Payload.(RawJSON)); got != `{"temperature":1234}` {
		t.Fatalf("payload %s", got)
	}
	if got := string(c.Payload.(RawJSON)); got != orig {
		t.Fatalf("the copy's payload became %s", got)
	}
	if v, ok := m.Lookup(MustParsePath("payload.temperature")); !ok || v != 1234.0 {
		t.Fatalf("lookup %v %v", v, ok)
	}
}

func TestParseNumberMatchesParseFloat(t *testing.T) {
	nums := []string{"0", "-0", "1", "-1", "1234", "2253.2", "-12.5e-3", "1E2", "1e400", "-1e400",
		"999999999999999", "-999999999999999", "9999999999999999", "123456789012345678",
		"9007199254740993", "0.1", "1e-7", "5e-324", "1.7976931348623157e308"}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		nums = append(nums, strconv.FormatInt(r.Int63n(1<<uint(r.Intn(62)+1))-r.Int63n(1<<20), 10),
			strconv.FormatFloat(r.NormFloat64()*math.Pow(10, float64(r.Intn(40)-20)), 'g', -1, 64))
	}
	for _, s := range nums {
		want, _ := strconv.ParseFloat(s, 64)
		if got := jsv.ParseNumber([]byte(s)); math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("ParseNumber(%s) = %v, want %v", s, got, want)
		}
		if got := gjson.Get(`{"a":`+s+`}`, "a").Num; math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("gjson reads %s as %v, not %v", s, got, want)
		}
	}
}

// rawGen writes random JSON objects with the awkward cases in them.
type rawGen struct {
	r    *rand.Rand
	keys []string
}

var rawGenKeys = []string{"a", "b", "humidity", "temperature", "dev-1", "x_y", "é", "☃", "A1"}

var rawGenStrings = []string{`""`, `"x"`, `"a,b"`, `"{\"k\":1}"`, `"]}"`, `"\\"`, `"\u0041\n"`, `"😀 é"`, `"\"humidity\":1"`}

var rawGenScalars = []string{"0", "-0", "1", "-2.5", "1e3", "1E-2", "12345678901234567", "true", "false", "null"}

func (g *rawGen) value(depth int) string {
	switch k := g.r.Intn(10); {
	case k < 3 && depth < 3:
		return g.object(depth + 1)
	case k < 4 && depth < 3:
		n := g.r.Intn(4)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = g.value(depth + 1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case k < 7:
		return rawGenStrings[g.r.Intn(len(rawGenStrings))]
	}
	return rawGenScalars[g.r.Intn(len(rawGenScalars))]
}

// key writes a member's key: now and then escaped or repeated.
func (g *rawGen) key(used map[string]bool) string {
	k := rawGenKeys[g.r.Intn(len(rawGenKeys))]
	if used[k] && g.r.Intn(8) != 0 {
		return ""
	}
	used[k] = true
	if g.r.Intn(20) == 0 && k == "humidity" {
		return `"hum\u0069dity"`
	}
	return strconv.Quote(k)
}

func (g *rawGen) object(depth int) string {
	n := g.r.Intn(5)
	used := map[string]bool{}
	var parts []string
	for i := 0; i < n; i++ {
		k := g.key(used)
		if k == "" {
			continue
		}
		sep := ":"
		if g.r.Intn(30) == 0 {
			sep = " : "
		}
		parts = append(parts, k+sep+g.value(depth))
	}
	sep := ","
	if g.r.Intn(30) == 0 {
		sep = ", "
	}
	return "{" + strings.Join(parts, sep) + "}"
}

// path picks a path of one to three keys, existing or not.
func (g *rawGen) path() string {
	n := 1
	switch k := g.r.Intn(10); {
	case k >= 9:
		n = 3
	case k >= 6:
		n = 2
	}
	parts := make([]string, n)
	for i := range parts {
		parts[i] = rawGenKeys[g.r.Intn(len(rawGenKeys))]
	}
	return strings.Join(parts, ".")
}

func TestRawPathFastMatchesGeneralRandom(t *testing.T) {
	g := &rawGen{r: rand.New(rand.NewSource(7))}
	sure, found := 0, 0
	const n = 20000
	for i := 0; i < n; i++ {
		x, path := g.object(0), g.path()
		if checkRawPath(t, x, path) {
			sure++
			if _, ok := generalLookup([]byte(x), segsOf(t, path)); ok {
				found++
			}
		}
		if t.Failed() {
			t.Fatalf("stopped at case %d", i)
		}
	}
	// The comparison means something only if the fast path ran often,
	// and often found what it deleted.
	if sure < n/2 || found < n/15 {
		t.Fatalf("fast path sure in %d of %d cases, found in %d", sure, n, found)
	}
	t.Logf("fast path sure in %d of %d cases, found in %d", sure, n, found)
}

func TestFindMemberOfInvalidTextAgreesWithGJSON(t *testing.T) {
	for _, x := range []string{``, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1}}`, `{"a":1}{"b":2}`,
		`{"a":"x}`, `{"a":[1}`, `{"a":tru}`, `{"a":1 }`, `{a:1}`, `{"a":1,"b"`, `{"a":{"b":1}`} {
		for _, key := range []string{"a", "b"} {
			m, st := jsv.FindMember([]byte(x), key)
			if st == jsv.ScanFound && (m.End > len(x) || m.Value >= m.End) {
				t.Errorf("%s: member %+v out of the text", x, m)
			}
			// Of invalid text, the scan may only say what gjson says.
			r := gjson.Get(x, key)
			switch {
			case st == jsv.ScanMissing && r.Exists():
				t.Errorf("FindMember(%s, %s) missing, gjson finds %s", x, key, r.Raw)
			case st == jsv.ScanFound && x[m.Value:m.End] != r.Raw:
				t.Errorf("FindMember(%s, %s) found %s, gjson %s", x, key, x[m.Value:m.End], r.Raw)
			}
		}
	}
}

func ExamplePath_RawValue() {
	p := MustParsePath("payload.a.temperature")
	val, found, sure := p.RawValue(RawJSON(`{"a":{"temperature":21.5},"b":1}`))
	fmt.Println(string(val), found, sure)
	// Output: 21.5 true true
}
