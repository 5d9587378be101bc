package engine

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// fullReencode is reencode without the inParsedForm shortcut: what
// ParsedJSON gives by re-encoding.
func fullReencode(s []byte) []byte {
	d := rawDec{s: s, keepNumbers: true}
	return d.value(nil)
}

// checkForm fails when inParsedForm says that s is in ParsedJSON's form
// but re-encoding would change it; it returns inParsedForm's answer.
func checkForm(t testing.TB, s string) bool {
	t.Helper()
	in := inParsedForm([]byte(s))
	if in {
		if out := fullReencode([]byte(s)); string(out) != s {
			t.Fatalf("inParsedForm(%q) is true, but ParsedJSON makes %q", s, out)
		}
	}
	return in
}

func TestInParsedForm(t *testing.T) {
	deep := strings.Repeat("[", maxFormDepth) + strings.Repeat("]", maxFormDepth)
	deeper := strings.Repeat("[", maxFormDepth+1) + strings.Repeat("]", maxFormDepth+1)
	var many strings.Builder
	many.WriteString("{")
	for i := 0; i <= maxFormKeys; i++ {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `"k%d":%d`, i, i)
	}
	many.WriteString("}")
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{"temperature":1234,"humidity":40}`, true},
		{`{"a":{"b":[1,2,{"c":null}],"d":"x"},"e":true,"f":false}`, true},
		{`{}`, true},
		{`[]`, true},
		{`[1,"a",[],{}]`, true},
		{`{"n":1.0,"m":1E2,"z":-0,"big":1e400}`, true}, // numbers are kept as written
		{`{"s":"h\u00e9llo"}`, false},                  // an escape: re-encoded
		{`{"s":"a\"b"}`, false},
		{`{"s":"héllo ☃ 😀"}`, true},
		{"{\"s\":\"\xff\"}", false}, // not UTF-8
		{"{\"s\":\"\xed\xa0\x80\"}", false},
		{`{"a":1,"a":2}`, false},       // repeated key
		{`{"a":{"b":1,"b":1}}`, false}, // repeated nested key
		{`{"1":"x","a":1}`, false},     // array index key
		{`{"01":"x","a":1}`, true},     // not an index
		{`{"4294967295":1}`, true},     // not an index (2³²−1)
		{`{ "a":1}`, false},
		{`{"a": 1}`, false},
		{`[1, 2]`, false},
		{`{"a":1 }`, false},
		{deep, true},
		{deeper, false},
		{many.String(), false},
		{`"text"`, true},
		{`12`, true},
		{`null`, true},
	} {
		if got := checkForm(t, tc.in); got != tc.want {
			t.Errorf("inParsedForm(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestInParsedFormRandom compares inParsedForm with re-encoding on random
// JSON texts, compact and not, with repeated, escaped and index keys.
func TestInParsedFormRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 14))
	yes := 0
	for i := 0; i < 20000; i++ {
		s := randomJSON(r, 0)
		if !json.Valid([]byte(s)) {
			t.Fatalf("generated invalid JSON %q", s)
		}
		if checkForm(t, s) {
			yes++
		}
	}
	if yes < 2000 {
		t.Fatalf("only %d of 20000 random texts were in form: the test exercises too little", yes)
	}
}

func randomJSON(r *rand.Rand, depth int) string {
	ws := func() string {
		if r.IntN(20) == 0 {
			return " "
		}
		return ""
	}
	switch k := r.IntN(10); {
	case k < 2 && depth < 4:
		n := r.IntN(5)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = ws() + randomJSON(r, depth+1) + ws()
		}
		return "[" + strings.Join(parts, ",") + "]"
	case k < 5 && depth < 4:
		keys := []string{"a", "b", "temperature", "1", "0", "01", `h\u0069`, "é", "a"}
		n := r.IntN(6)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = ws() + `"` + keys[r.IntN(len(keys))] + `"` + ws() + ":" + ws() + randomJSON(r, depth+1)
		}
		return "{" + strings.Join(parts, ",") + "}"
	case k < 7:
		nums := []string{"0", "-0", "1.5", "1e3", "1E+2", "12345678901234567890", "-3.25e-7"}
		return nums[r.IntN(len(nums))]
	case k < 9:
		strs := []string{`""`, `"x"`, `"a,b}"`, `"q\"q"`, `"\n"`, `"☃"`, `"\/"`, `"\ud83d\ude00"`}
		return strs[r.IntN(len(strs))]
	}
	return []string{"true", "false", "null"}[r.IntN(3)]
}

// FuzzInParsedForm: for any valid JSON text, inParsedForm never says
// "in form" for a text that ParsedJSON would change.
func FuzzInParsedForm(f *testing.F) {
	f.Add(`{"temperature":1234,"humidity":40}`)
	f.Add(`{"a":1,"a":2}`)
	f.Add(`[{"1":2},"\u00e9"]`)
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		checkForm(t, s)
	})
}
