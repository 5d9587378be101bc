package debugvalue

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
)

// The encoder cuts values as Node-RED's debug sidebar does, keeps the key
// order of raw JSON and sorts decoded objects.
func TestEncoder(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 1001)
	nums := make([]any, 1500)
	for i := range nums {
		nums[i] = float64(i)
	}
	first1000 := func() string {
		var b strings.Builder
		for i := range 1000 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(&b, i)
		}
		return b.String()
	}()
	rawNums := engine.RawJSON("[" + strings.TrimSuffix(strings.Repeat("7,", 1500), ",") + "]")
	for _, tc := range []struct {
		name      string
		v         any
		format    string
		want      string
		truncated bool
	}{
		{"small raw object keeps its order", engine.RawJSON(`{"z":1,"a":[1e21,0.1]}`), "Object", `{"z":1,"a":[1e+21,0.1]}`, false},
		{"raw array", engine.RawJSON(`[1,"a"]`), "array[2]", `[1,"a"]`, false},
		{"raw scalar", engine.RawJSON(`"s"`), "string[1]", `"s"`, false},
		{"decoded object is sorted", map[string]any{"b": 1.0, "a": "x"}, "Object", `{"a":"x","b":1}`, false},
		{"nested long string", map[string]any{"s": long}, "Object", `{"s":"` + long[:1000] + `..."}`, true},
		{"nested buffer", map[string]any{"b": []byte{1, 2}}, "Object", `{"b":{"type":"Buffer","data":[1,2]}}`, false},
		{"long array", nums, "array[1500]", "[" + first1000 + "]", true},
		{"long raw array", rawNums, "array[1500]", "[" + strings.TrimSuffix(strings.Repeat("7,", 1000), ",") + "]", true},
		{"big raw object: duplicate keys keep the last value at the first place",
			engine.RawJSON(`{"k":1,"s":"` + long + `","k":2}`), "Object", `{"k":2,"s":"` + long[:1000] + `..."}`, true},
		// As JSON.stringify(JSON.parse(text)) in Node.js: array-index keys
		// first in ascending order, 1e400 (Infinity) as null, -0 as 0.
		{"raw object in JSON.stringify's key order", engine.RawJSON(`{"b":1,"10":2,"2":3,"01":4,"a":[1e400,-0]}`), "Object", `{"2":3,"10":2,"b":1,"01":4,"a":[null,0]}`, false},
		{"big raw object in JSON.stringify's key order", engine.RawJSON(`{"b":1,"s":"` + long + `","1":1e400, "0" : 1.50}`), "Object", `{"0":1.5,"1":null,"b":1,"s":"` + long[:1000] + `..."}`, true},
		{"decoded object: array indices first", map[string]any{"b": 1.0, "10": 2.0, "2": 3.0, "-1": 4.0}, "Object", `{"2":3,"10":2,"-1":4,"b":1}`, false},
		{"whole value bounded", []any{strings.Repeat(strings.Repeat("y", 1000)+",", 100)}, "array[1]", `["` + strings.Repeat("y", 1000) + `..."]`, true},
	} {
		e := Encoder{Max: 1000}
		got := string(e.AppendMsg(nil, tc.v))
		if got != tc.want || e.Truncated() != tc.truncated {
			t.Errorf("%s: msg\n got %.200s (truncated %v)\nwant %.200s (truncated %v)", tc.name, got, e.Truncated(), tc.want, tc.truncated)
		}
		if f := Format(tc.v); f != tc.format {
			t.Errorf("%s: format %q, want %q", tc.name, f, tc.format)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("%s: invalid JSON %.200s", tc.name, got)
		}
	}

	// A value far beyond the byte bound stops at it, as valid JSON.
	big := make([]any, 1000)
	for i := range big {
		big[i] = strings.Repeat("z", 1000)
	}
	e := Encoder{Max: 1000}
	got := e.AppendMsg(nil, big)
	if !e.Truncated() || !json.Valid(got) || len(got) > MaxBytes+1100 {
		t.Errorf("1 MB value: %d bytes, truncated %v, valid %v; want at most %d bytes", len(got), e.Truncated(), json.Valid(got), MaxBytes+1100)
	}
}

// Property names the debugged property as Node-RED's debug node does.
func TestProperty(t *testing.T) {
	for in, want := range map[string]string{"": "payload", "payload": "payload", "msg.payload": "payload", "msg.a.b": "a.b", "msg": "msg"} {
		if got := Property(in); got != want {
			t.Errorf("Property(%q) = %q, want %q", in, got, want)
		}
	}
}
