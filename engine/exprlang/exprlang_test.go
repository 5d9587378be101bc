package exprlang

import (
	"encoding/json"
	"math"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/runnel-io/runnel/engine/jsv"
)

func sampleEnv(payload any) *testEnv {
	return &testEnv{
		msg:    map[string]any{"topic": "sensors/a", "payload": payload, "n": "12", "empty": "", "count": 3.0},
		flow:   map[string]any{"limit": 20.0, "cfg": map[string]any{"unit": "C"}, "filelimit": 30.0},
		global: map[string]any{"site": "north", "mem:site": "south"},
		env:    map[string]any{"ROOM": "kitchen"},
	}
}

const samplePayload = `{"temperature":21.5,"humidity":40,"unit":"C","tags":["a","b"],"nested":{"a.b":1,"x":null}}`

// jsCases are expressions that mean the same in JavaScript (msg bound to
// the sample message), with the JSON.stringify of their value as Node.js 20
// computes it ("undefined" for undefined). TestAgainstNode re-checks them
// with node when it is on PATH.
var jsCases = []struct{ src, want string }{
	{`msg.payload.temperature * 9 / 5 + 32`, `70.7`},
	{`msg.payload.temperature > 20 && msg.payload.unit == "C"`, `true`},
	{`({"t": msg.payload.temperature, "topic": msg.topic})`, `{"t":21.5,"topic":"sensors/a"}`},
	{`msg.topic + 1`, `"sensors/a1"`},
	{`msg.n == 12`, `true`},
	{`msg.n > 9`, `true`},
	{`msg.n + 1`, `"121"`},
	{`msg.n * 2`, `24`},
	{`msg.n - "2"`, `10`},
	{`msg.nope + 1`, `null`},
	{`msg.nope`, `undefined`},
	{`msg.nope == null`, `true`},
	{`msg.payload.x == null`, `true`},
	{`msg.payload.nested.x == null`, `true`},
	{`msg.payload.nested["a.b"]`, `1`},
	{`msg.payload.tags.length`, `2`},
	{`msg.payload.tags[1]`, `"b"`},
	{`msg.payload.tags[5]`, `undefined`},
	{`msg.payload.tags + ""`, `"a,b"`},
	{`msg.topic.length`, `9`},
	{`msg.topic[0]`, `"s"`},
	{`msg.empty || "none"`, `"none"`},
	{`msg.count && msg.topic`, `"sensors/a"`},
	{`!msg.empty`, `true`},
	{`msg.payload.humidity / 0`, `null`},
	{`-msg.payload.unit`, `null`},
	{`10 % 3`, `1`},
	{`-7 % 3`, `-1`},
	{`0.1 + 0.2`, `0.30000000000000004`},
	{`"b" > "a"`, `true`},
	{`"10" < "9"`, `true`},
	{`null >= 0`, `true`},
	{`true + 1`, `2`},
	{`[1, 2] + [3]`, `"1,23"`},
	{`msg.payload.temperature > 20 ? "hot" : "cold"`, `"hot"`},
	{`msg.payload.unit ? 1 : 2`, `1`},
	{`Math.round(2.5)`, `3`},
	{`Math.round(-2.5)`, `-2`},
	{`Math.max(1, msg.n, 3)`, `12`},
	{`Math.floor(msg.payload.temperature)`, `21`},
	{`Math.PI`, `3.141592653589793`},
	{`(1.005).toFixed(2)`, `"1.00"`},
	{`(2.5).toFixed(0)`, `"3"`},
	{`(-1.5).toFixed(0)`, `"-2"`},
	{`msg.payload.temperature.toFixed(1)`, `"21.5"`},
	{`msg.topic.toUpperCase()`, `"SENSORS/A"`},
	{`msg.topic.split("/")`, `["sensors","a"]`},
	{`msg.topic.slice(-1)`, `"a"`},
	{`msg.topic.includes("sens")`, `true`},
	{`msg.topic.indexOf("/")`, `7`},
	{`msg.payload.tags.join("-")`, `"a-b"`},
	{`msg.payload.tags.includes("b")`, `true`},
	{`String(msg.payload.tags)`, `"a,b"`},
	{`String(msg.payload.nested)`, `"[object Object]"`},
	{`Number("0x1f")`, `31`},
	{`Number("")`, `0`},
	{`Number(" 12 ")`, `12`},
	{`parseFloat("3.5kg")`, `3.5`},
	{`parseInt("42px")`, `42`},
	{`parseInt("ff", 16)`, `255`},
	{`isNaN("abc")`, `true`},
	{`Boolean("0")`, `true`},
	{`JSON.stringify(msg.payload.tags)`, `"[\"a\",\"b\"]"`},
	{`JSON.parse("[1,2]")`, `[1,2]`},
	{`2 ** 10`, `1024`},
	{`1 ** Infinity`, `null`},
	{`"1" == 1 && "" == 0 && null == undefined`, `true`},
}

func evalJSON(t *testing.T, src string, payload any) string {
	t.Helper()
	p, err := Compile(src)
	if err != nil {
		t.Fatalf("Compile(%s): %v", src, err)
	}
	v, err := p.Eval(sampleEnv(payload))
	if err != nil {
		t.Fatalf("Eval(%s): %v", src, err)
	}
	if v == jsv.Undefined {
		return "undefined"
	}
	s, err := stringify(v)
	if err != nil {
		t.Fatal(err)
	}
	return s.(string)
}

func TestJavaScriptSemantics(t *testing.T) {
	raw := jsv.RawJSON(samplePayload)
	for _, payload := range []any{raw, raw.Decode()} {
		for _, c := range jsCases {
			src := c.src
			if strings.HasPrefix(src, "({") { // an object literal, as JavaScript needs it
				src = src[1 : len(src)-1]
			}
			if got := evalJSON(t, src, payload); got != c.want {
				t.Errorf("%s (payload %T) = %s, want %s", src, payload, got, c.want)
			}
		}
	}
}

// TestAgainstNode evaluates jsCases in node and checks the expected
// outputs in the table are JavaScript's.
func TestAgainstNode(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	var srcs []string
	for _, c := range jsCases {
		srcs = append(srcs, "() => ("+c.src+")")
	}
	script := `const msg = {topic: "sensors/a", payload: ` + samplePayload + `, n: "12", empty: "", count: 3};
const out = [` + strings.Join(srcs, ",\n") + `].map(f => { const v = f(); return v === undefined ? "undefined" : JSON.stringify(v); });
process.stdout.write(JSON.stringify(out));`
	b, err := exec.Command(nodeBin, "-e", script).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got []string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for i, c := range jsCases {
		if got[i] != c.want {
			t.Errorf("node says %s = %s; the table says %s", c.src, got[i], c.want)
		}
	}
}

func TestContextAndEnv(t *testing.T) {
	cases := []struct{ src, want string }{
		{`flow.limit`, `20`},
		{`flow("limit")`, `20`},
		{`flow.get("limit")`, `20`},
		{`flow.get("limit", "file")`, `30`},
		{`flow.cfg.unit`, `"C"`},
		{`flow.nope`, `undefined`},
		{`msg.payload.temperature > flow.limit`, `true`},
		{`global.site`, `"north"`},
		{`global.get("site", "mem")`, `"south"`},
		{`env.ROOM`, `"kitchen"`},
		{`env("ROOM")`, `"kitchen"`},
		{`env.get("ROOM") + "/" + msg.topic`, `"kitchen/sensors/a"`},
		{`msg["topic"]`, `"sensors/a"`},
		{`msg.payload["unit"]`, `"C"`},
		{`msg.payload[msg.payload.unit == "C" ? "humidity" : "x"]`, `40`},
		{`keys(msg.payload.nested)`, `["a.b","x"]`},
		{`len(msg.payload.tags)`, `2`},
		{`filter(msg.payload.tags, # != "a")`, `["b"]`},
		{`map([1, 2, 3], # * msg.count)`, `[3,6,9]`},
		{`1..3`, `[1,2,3]`},
		{`{"a": msg.nope, "b": 1}`, `{"b":1}`},
		{`[msg.nope, 1]`, `[null,1]`},
		{`msg.payload?.unit`, `"C"`},
		{`msg.nope.deeper.still`, `undefined`},
		{`msg.nope ?? "default"`, `"default"`},
		{`let x = 2; x * msg.payload.humidity`, `80`},
		{`typeof(msg.payload.tags)`, `"object"`},
		{`"C" in msg.payload.tags`, `false`},
		{`"unit" in msg.payload`, `true`},
		{`msg.topic contains "sensors"`, `true`},
		{`msg.topic matches "^sens"`, `true`},
	}
	raw := jsv.RawJSON(samplePayload)
	for _, payload := range []any{raw, raw.Decode()} {
		for _, c := range cases {
			if got := evalJSON(t, c.src, payload); got != c.want {
				t.Errorf("%s (payload %T) = %s, want %s", c.src, payload, got, c.want)
			}
		}
	}
	// msg on its own is the whole message.
	v, err := MustCompile(`msg`).Eval(sampleEnv(1.0))
	if err != nil || v.(map[string]any)["topic"] != "sensors/a" {
		t.Errorf("msg = %#v, %v", v, err)
	}
}

func TestResultsAreMessageValues(t *testing.T) {
	v, err := MustCompile(`{"n": 1 + 1, "l": len("abc"), "a": [1, 2], "s": 5}`).Eval(sampleEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if m["n"] != 2.0 || m["l"] != 3.0 || m["s"] != 5.0 || m["a"].([]any)[1] != 2.0 {
		t.Errorf("got %#v, want float64 numbers throughout", m)
	}
	if v, _ := MustCompile(`len("ab")`).Eval(sampleEnv(nil)); v != 2.0 {
		t.Errorf("len = %#v", v)
	}
	b, err := MustCompile(`msg.payload > 1`).Bool(sampleEnv(2.0))
	if err != nil || !b {
		t.Errorf("Bool = %v, %v", b, err)
	}
	if v, _ := MustCompile(`0 / 0`).Eval(sampleEnv(nil)); !math.IsNaN(v.(float64)) {
		t.Errorf("0/0 = %v", v)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{`1 +`, "unexpected token EOF (1:3)"},
		{`foo`, "unknown name foo (1:1)"},
		{`msg.payload.x * `, "unexpected token EOF (1:16)"},
		{`flow`, "flow cannot be used on its own"},
		{`env[msg.k]`, "env[...] needs a constant key"},
		{`flow.set("a", 1)`, "flow.set is not a function"},
		{`Math.nope(1)`, "unknown function Math.nope"},
		{`msg.topic.nope()`, "unknown method nope"},
		{`msg(1)`, "msg is not a function"},
	}
	for _, c := range cases {
		_, err := Compile(c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Compile(%s) error = %v, want it to contain %q", c.src, err, c.want)
		}
	}
}

func TestHostileExpressionsAreBounded(t *testing.T) {
	cases := []struct{ src, want string }{
		{`reduce(1..1000, #acc + #acc, "ab")`, "string longer than the limit"},
		{`map(1..1000, map(1..1000, map(1..1000, 1)))`, "memory budget exceeded"},
		{`1..100000000`, "memory budget exceeded"},
		{`msg.nope.toUpperCase()`, "cannot read properties of undefined"},
		{`(1).toFixed(101)`, "between 0 and 100"},
		{`JSON.parse("{")`, "JSON.parse"},
		{`msg.payload.tags.join(msg.big)`, "string longer than the limit"},
	}
	env := sampleEnv(jsv.RawJSON(samplePayload))
	env.msg["big"] = strings.Repeat("x", MaxStringLen)
	for _, c := range cases {
		p, err := Compile(c.src)
		if err != nil {
			if strings.Contains(err.Error(), c.want) {
				continue
			}
			t.Fatalf("Compile(%s): %v", c.src, err)
		}
		_, err = p.Eval(env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v, want %q", c.src, err, c.want)
		}
	}
	if _, err := Compile(`repeat("x", 1000000000)`); err == nil {
		t.Error("repeat is available")
	}
	if _, err := Compile(strings.Repeat("1 + ", 20000) + "1"); err == nil {
		t.Error("a 20000-node expression compiled")
	}
}

// panicEnv panics when read, as a buggy Env might.
type panicEnv struct{ testEnv }

func (panicEnv) Prop(string) (any, bool) { panic("boom") }

func TestPanicsBecomeErrors(t *testing.T) {
	p := MustCompile(`msg.payload + 1`)
	if _, err := p.Eval(&panicEnv{}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("err = %v", err)
	}
	// The program still works afterwards.
	if v, err := p.Eval(sampleEnv(1.0)); err != nil || v != 2.0 {
		t.Errorf("after a panic: %v, %v", v, err)
	}
}

func TestConcurrentEvaluation(t *testing.T) {
	p := MustCompile(`{"f": msg.payload.temperature * 9 / 5 + 32, "hot": msg.payload.temperature > flow.limit, "t": msg.topic}`)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				temp := float64(g*1000 + i)
				var payload any = map[string]any{"temperature": temp}
				if i%2 == 0 {
					payload = jsv.RawJSON(`{"temperature":` + jsv.FormatNumber(temp) + `}`)
				}
				env := sampleEnv(payload)
				v, err := p.Eval(env)
				if err != nil {
					errs <- err.Error()
					return
				}
				m := v.(map[string]any)
				if m["f"] != temp*9/5+32 || m["hot"] != (temp > 20) || m["t"] != "sensors/a" {
					errs <- jsv.ToString(m["f"])
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
