package jsv

import (
	"encoding/json"
	"math"
	"math/rand"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// nodeValue is a value both as Go holds it and as JavaScript source.
type nodeValue struct {
	js string
	v  any
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// nodeValues is the table the differential test runs through node: every
// kind of value, and strings that exercise Number's grammar.
func nodeValues() []nodeValue {
	vals := []nodeValue{
		{"undefined", Undefined}, {"null", nil}, {"true", true}, {"false", false},
		{"0", 0.0}, {"-0", math.Copysign(0, -1)}, {"1", 1.0}, {"2", 2.0}, {"10", 10.0}, {"21.5", 21.5},
		{"-3", -3.0}, {"NaN", math.NaN()}, {"Infinity", math.Inf(1)}, {"-Infinity", math.Inf(-1)},
		{"[]", []any{}}, {"[1]", []any{1.0}}, {"[2]", RawJSON(`[2]`)}, {"[1,2]", []any{1.0, 2.0}},
		{"[null]", []any{nil}}, {`["a",[true,null]]`, RawJSON(`["a",[true,null]]`)},
		{"{}", map[string]any{}}, {`{"a":1}`, RawJSON(`{"a":1}`)},
		{`Buffer.from("12")`, []byte("12")}, {`Buffer.from("")`, []byte{}}, {`Buffer.from("ab")`, []byte("ab")},
		{`Buffer.from([0x31,0xff])`, []byte{0x31, 0xff}},
	}
	for _, s := range []string{
		"", " ", "\t\n", "a", "ab", "abd", "A", "1", "01", "10", "2", " 12 ", "0x1f", "0X1F", "0o17", "0b101",
		"-0x1f", "+0x1", "0x", "0x1g", "0b2", "1e3", "1E5", "1e", "1e+", ".5", "5.", ".", "+", "-", "+.5e-1",
		"Infinity", "-Infinity", "+Infinity", "infinity", "inf", "NaN", "1_000", "12px", "\u00a012\u2028",
		"\ufeff3", "\u30003\u3000", "\u180e1", "\u200b1", "1e400", "-1e400", "1e-400", "00012", "-0", "0.1e1",
		"1.2.3", "0xFFFFFFFFFFFFFFFFFF", "9007199254740993", "\u0663", "1 2", "true", "null", "[object Object]",
		"1,2", "ab\ufffd", "\U0001F600", "\uff61", "é", "e\u0301", `{"a":1}`, "[1]", "0.0000001", "1e21",
	} {
		vals = append(vals, nodeValue{jsString(s), s})
	}
	return vals
}

// nodeNumbers is the table for FormatNumber: edge cases and random
// doubles of every magnitude.
func nodeNumbers() []float64 {
	nums := []float64{0, 1, -1, 0.1, 0.2 + 0.1, 1e21, 1e21 - 65536, 1e-6, 1e-7, 9.999999e-7, 123e-20,
		5e-324, math.MaxFloat64, 1 << 53, 1<<53 + 2, 2.5e25, 100, 1234.5678, -0.000001234}
	r := rand.New(rand.NewSource(13))
	for i := 0; i < 400; i++ {
		nums = append(nums, math.Float64frombits(r.Uint64()))
		nums = append(nums, r.NormFloat64()*math.Pow(10, float64(r.Intn(50)-25)))
	}
	var out []float64
	for _, f := range nums {
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			out = append(out, f)
		}
	}
	return out
}

const nodeScript = `
const vals = [%VALS%];
const nums = [%NUMS%];
const ns = (f) => Object.is(f, -0) ? "-0" : String(f);
const istype = (a, b) => {
  if (b === "array") return Array.isArray(a);
  if (b === "buffer") return Buffer.isBuffer(a);
  if (b === "json") { try { JSON.parse(a); return true } catch (e) { return false } }
  if (b === "null") return a === null;
  return typeof a === b && !Array.isArray(a) && !Buffer.isBuffer(a) && a !== null;
};
const types = ["string","number","boolean","array","buffer","object","json","null","undefined"];
const one = vals.map(v => ({
  number: ns(Number(v)),
  parseFloat: ns(parseFloat(v)),
  string: String(v),
  truthy: !!v,
  typeof: typeof v,
  istype: types.filter(t => istype(v, t)).join(" "),
}));
const pairs = [];
for (const a of vals) for (const b of vals)
  pairs.push([a == b, a === b, a < b, a <= b, a > b, a >= b].map(x => x ? "1" : "0").join(""));
process.stdout.write(JSON.stringify({one, pairs, nums: nums.map(String)}));
`

// TestAgainstNode runs the value table through node and compares every
// conversion, type name and operator with this package. It is skipped when
// node is not on PATH.
func TestAgainstNode(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	vals := nodeValues()
	nums := nodeNumbers()
	js := make([]string, len(vals))
	for i, v := range vals {
		js[i] = v.js
	}
	numJS := make([]string, len(nums))
	for i, f := range nums {
		numJS[i] = strconv.FormatFloat(f, 'g', -1, 64)
	}
	script := strings.NewReplacer("%VALS%", strings.Join(js, ","), "%NUMS%", strings.Join(numJS, ",")).Replace(nodeScript)
	out, err := exec.Command(nodeBin, "-e", script).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var res struct {
		One []struct {
			Number, ParseFloat, String, Typeof, Istype string
			Truthy                                     bool
		}
		Pairs []string
		Nums  []string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	types := []string{"string", "number", "boolean", "array", "buffer", "object", "json", "null", "undefined"}
	errs := 0
	report := func(format string, args ...any) {
		if errs++; errs <= 40 {
			t.Errorf(format, args...)
		}
	}
	for i, v := range vals {
		want := res.One[i]
		if got := numString(ToNumber(v.v)); got != want.Number {
			report("Number(%s) = %s, node says %s", v.js, got, want.Number)
		}
		f, ok := ParseFloat(v.v)
		got := numString(f)
		if !ok {
			got = "NaN"
		}
		if got != want.ParseFloat {
			report("parseFloat(%s) = %s, node says %s", v.js, got, want.ParseFloat)
		}
		if got := ToString(v.v); got != want.String {
			report("String(%s) = %q, node says %q", v.js, got, want.String)
		}
		if got := Truthy(v.v); got != want.Truthy {
			report("Boolean(%s) = %v, node says %v", v.js, got, want.Truthy)
		}
		if got := TypeOf(v.v); got != want.Typeof {
			report("typeof %s = %s, node says %s", v.js, got, want.Typeof)
		}
		var is []string
		for _, ty := range types {
			if IsType(v.v, ty) {
				is = append(is, ty)
			}
		}
		if got := strings.Join(is, " "); got != want.Istype {
			report("istype(%s) = %q, node says %q", v.js, got, want.Istype)
		}
	}
	k := 0
	for _, a := range vals {
		for _, b := range vals {
			var sb strings.Builder
			for _, r := range []bool{LooseEqual(a.v, b.v), StrictEqual(a.v, b.v), Less(a.v, b.v),
				LessOrEqual(a.v, b.v), Greater(a.v, b.v), GreaterOrEqual(a.v, b.v)} {
				if r {
					sb.WriteByte('1')
				} else {
					sb.WriteByte('0')
				}
			}
			if got := sb.String(); got != res.Pairs[k] {
				report("%s vs %s: == === < <= > >= = %s, node says %s", a.js, b.js, got, res.Pairs[k])
			}
			k++
		}
	}
	for i, f := range nums {
		if got := FormatNumber(f); got != res.Nums[i] {
			report("String(%s) = %s, node says %s", numJS[i], got, res.Nums[i])
		}
	}
	t.Logf("%d values, %d pairs, %d numbers compared with node", len(vals), len(res.Pairs), len(nums))
}
