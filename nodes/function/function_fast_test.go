package function

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// fastCodes are function bodies the straight-line path compiles, as real
// function nodes write them; fastOutputs gives the outputs of those with
// more than one.
var fastCodes = []string{
	"const t = msg.payload.temperature;\nmsg.payload.fahrenheit = t * 1.8 + 32;\nmsg.payload.device = msg.topic.split('/')[1];\nreturn msg;",
	"msg.payload.f = msg.payload.t * 1.8 + 32; return msg;",
	"return msg;",
	"return;",
	"return null;",
	"msg.x = 1;",
	"msg.payload = msg.payload * 2; return msg;",
	"msg.payload = msg.payload + 1; return msg;",
	"if (msg.payload.t > 25) { msg.alert = true; return [msg, null]; } else { return [null, msg]; }",
	"const p = msg.payload; p.sum = p.a + p.b; delete p.c; return msg;",
	"msg.payload = {value: msg.payload.t, unit: 'C', at: msg.topic, 2: 'two', 1: 'one'}; return msg;",
	"msg.payload = `${msg.topic}: ${msg.payload.t} (${typeof msg.payload})`; return msg;",
	"let n = msg.payload.count || 0; n++; msg.payload.count = n; msg.payload.label = n % 2 === 0 ? 'even' : 'odd'; return msg;",
	"msg.topic = msg.topic.toUpperCase().trim(); msg.low = msg.topic.toLowerCase(); return msg;",
	"var parts = msg.topic.split('/'); msg.device = parts[1]; msg.kind = parts[parts.length - 1]; msg.n = parts.length; msg.none = parts[9]; return msg;",
	"msg.payload = Math.round(msg.payload.t * 10) / 10; msg.f = Math.floor(msg.payload); msg.c = Math.ceil(-0.5); msg.r = Math.round(-0.5); return msg;",
	"msg.payload.max = Math.max(msg.payload.a, msg.payload.b, 0); msg.payload.min = Math.min(msg.payload.a, msg.payload.b); msg.payload.abs = Math.abs(msg.payload.b); msg.payload.sq = Math.sqrt(msg.payload.a); msg.payload.tr = Math.trunc(msg.payload.t); return msg;",
	"if (msg.payload.t == null) return null; msg.ok = msg.payload.t >= 0 && msg.payload.t <= 100; return msg;",
	"msg.payload.nested.x = 1; return msg;",
	"msg.payload['1'] = 'one'; msg.payload.z = 'last'; msg.payload[0] = 'zero'; return msg;",
	"msg.t = typeof msg.payload; msg.s = msg.payload + ''; msg.u = typeof msg.nothing; return msg;",
	"msg._msgid = 'x'; msg.topic = 5; return msg;",
	"delete msg.topic; msg.payload = null; return msg;",
	"msg.payload = msg.payload.name.includes('a') ? msg.payload.name.indexOf('an') : -1; msg.sw = msg.topic.startsWith('sensors'); msg.ew = msg.topic.endsWith('data'); return msg;",
	"msg.payload.a += 1; msg.payload.b -= 2; msg.payload.c *= 3; msg.payload.d /= 4; msg.payload.e %= 5; msg.payload.name += '!'; return msg;",
	"msg.count = (msg.count || 0) + 1; msg.count++; ++msg.count; msg.count--; return msg;",
	"msg.payload = msg.payload.t; return [msg, msg];",
	"msg.payload = !msg.payload; msg.neg = -msg.payload; msg.v = void 0; msg.plus = +msg.topic; return msg;",
	"msg.payload = msg.payload.a ?? 'default'; return msg;",
	"msg.x = msg.payload.deep; msg.y = msg.payload.deep.k; return msg;",
	"msg.payload = {a: {b: {c: msg.payload}}}; return msg;",
	"msg.payload.self = msg.payload; return msg;",
	"msg.payload = msg.payload.t > msg.payload.name; msg.lt = msg.topic < 'm'; return msg;",
	"msg.eq = msg.payload == msg.payload; msg.seq = msg.payload === msg.topic; msg.ne = msg.payload.t != '20'; msg.nn = msg.payload != null; return msg;",
	"msg.payload.t = msg.payload.t; return msg;",
	"msg.keys = msg.payload.hasOwnProperty; return msg;",
	"var a, b = 2; a = b + 1; a *= 2; msg.payload = a; return msg;",
	"msg.payload.s = msg.payload.name.split(''); return msg;",
	"msg.payload = msg.topic.split('/'); return msg;",
	"msg.payload = msg.payload.t / 0; msg.nan = 0 / 0; msg.neg0 = -0; msg.inf = -Infinity; msg.o = {n: NaN, i: Infinity, u: undefined}; return msg;",
	"const o = {t: 1}; o.t = msg.payload; o.t = o.t; msg.payload = o; msg.same = o === o; return msg;",
	"msg.a = msg.payload.a, msg.b = msg.payload.b; return msg;",
	"if (!msg.payload) { return; } if (msg.payload.t < 0) msg.cold = true; else if (msg.payload.t < 20) msg.mild = true; else msg.warm = true; return msg;",
	"msg.payload = msg.payload.name.length + msg.topic.length; return msg;",
	"msg.a = msg.payload.t.toFixed(2); msg.b = (1.005).toFixed(2); msg.c = (2.5).toFixed(0); msg.d = (-1.5).toFixed(); msg.e = (1e21).toFixed(2); msg.f = msg.payload.t.toFixed(msg.payload.a); return msg;",
	"msg.a = Number(msg.payload.t); msg.b = String(msg.payload.name); msg.c = Boolean(msg.payload.count); msg.d = parseFloat(msg.payload.a); msg.e = Number(); msg.f = parseFloat(' 12px'); return msg;",
	"msg.a = msg.payload.t.toString(); msg.b = (true).toString(); msg.c = Date.now() > 1e12; msg.d = msg.topic.toString(); return msg;",
	"const Math = {}; msg.a = 1; return msg;",
	// the differential case function-numbers's
	"const t = msg.payload.t;\nmsg.payload = {\n    fixed2: t.toFixed(2),\n    fixed0: t.toFixed(0),\n    fixed: t.toFixed(),\n    ties: (1.005).toFixed(2) + ' ' + (2.5).toFixed(0) + ' ' + (-1.5).toFixed(0) + ' ' + (0.125).toFixed(2) + ' ' + (1e21).toFixed(2),\n    num: Number(msg.payload.s),\n    str: String(t) + String(msg.payload.s),\n    pf: parseFloat(msg.payload.s),\n    bool: Boolean(msg.payload.s),\n    round: Math.round(t),\n    trunc: Math.trunc(t),\n    max: Math.max(t, msg.payload.s),\n    text: t.toString() + '|' + (t > 1).toString()\n};\nmsg.topic = 'function-numbers/out';\nreturn msg;",
	// the differential case function-straight's
	"const t = msg.payload.t;\nmsg.payload.f = Math.round((t * 1.8 + 32) * 10) / 10;\nconst parts = msg.topic.split('/');\nmsg.payload.device = parts[2].toUpperCase();\nmsg.payload.label = `${parts[2]}: ${t} (${typeof t}) ${parts.length}`;\nmsg.payload.n = (msg.payload.n || 0) + 1;\nmsg.payload.n *= 2;\nmsg.payload.ok = t >= 0 && t <= 100;\nmsg.payload['1'] = 'one';\nmsg.payload.bad = t / 0 - t / 0;\nmsg.payload.has = msg.payload.x !== undefined ? 'x' : 'no x';\ndelete msg.payload.h;\nif (t < 0) {\n    msg.topic = 'function-straight/out/cold';\n    return [null, msg];\n}\nmsg.topic = 'function-straight/out/warm';\nmsg.kind = msg.payload.a ? msg.payload.a.b : null;\nreturn [msg, null];",
}

var fastOutputs = map[int]int{8: 2, 26: 2, 49: 2}

// fastInputs are the messages each code gets.
func fastInputs() []*engine.Message {
	mk := func(topic string, payload any, others ...any) *engine.Message {
		m := engine.NewMessage(topic, nil)
		m.SetProp("payload", payload)
		for i := 0; i+1 < len(others); i += 2 {
			m.SetProp(others[i].(string), others[i+1])
		}
		return m
	}
	raw := func(s string) engine.RawJSON { return engine.RawJSON(s) }
	big := "{"
	for i := 0; i < 70; i++ {
		if i > 0 {
			big += ","
		}
		big += fmt.Sprintf(`"k%d":%d`, i, i)
	}
	big += `,"t":5}`
	noPayload := engine.NewMessage("sensors/dev9/data", nil)
	return []*engine.Message{
		mk("sensors/dev1/data", raw(`{"temperature":21.5,"humidity":40}`)),
		mk("sensors/dev2/data", raw(`{"t":30,"a":1,"b":2,"c":3,"d":4,"e":5,"name":"banana","count":1}`)),
		mk(" a/b ", raw(`{ "t" : 1.50, "a":1e2, "b":-0, "name":"ümlaut \u00e9", "deep":{"k": [1, 2], "z":{"q":1}} }`)),
		mk("x/y", raw(`{"t":-5,"a":"3","b":true,"name":"","count":"7"}`)),
		mk("sensors/dev3/data", raw(`{"t":1,"t":2,"2":"b","1":"a","name":"nan"}`)),
		mk("t", raw(`{"t":null,"a":null,"b":null,"name":"x"}`)),
		mk("t", raw(`{"name":"no t"}`)),
		mk("t", raw(`{"t":"25","name":"s","a":[1,2]}`)),
		mk("t", raw(`{"t":1e400,"name":"big"}`)),
		mk("t", raw(`{"t":12.345,"name":"\ud83d\ude00 emoji"}`)),
		mk("t", raw(`{"t":3,"name":"bad \xff utf8"}`)),
		mk("t", raw(`{"t":3,"name":"x","hasOwnProperty":1}`)),
		// compact, as the json node makes them: read in place (lazy)
		mk("t", raw(`{"t":1.0,"a":1E2,"b":-0,"name":"x"}`)),
		mk("s/ü/x", raw(`{"ü":1,"t":2,"deep":{"k":1,"z":[1,{"q":2}]},"name":"ñ"}`)),
		mk("t", raw(`{"t":7,"f":2253.2,"device":"dev3","n":{}}`)),
		mk("t", raw(`[1,2,3]`)),
		mk("t", raw(`"a string"`)),
		mk("t", raw(`42`)),
		mk("t", raw(big)),
		mk("a/b/c", "text payload"),
		mk("a/b/c", 3.5),
		mk("a/b/c", math.Copysign(0, -1)),
		mk("a/b/c", true),
		mk("a/b/c", nil),
		mk("a/b/c", map[string]any{"t": 1.0}),
		mk("a/b/c", []byte("buf")),
		mk("", raw(`{"t":2}`), "count", 4.0, "qos", 1.0),
		mk("é/ü", raw(`{"t":2}`), "count", raw(`5`)),
		noPayload,
	}
}

// dump writes what a message holds exactly: each property's Go type and
// value (RawJSON as its text, numbers with their sign), not a re-encoding.
func dump(m *engine.Message) string {
	keys := m.Keys()
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v, _ := m.Prop(k)
		if k == "_msgid" {
			continue
		}
		switch x := v.(type) {
		case engine.RawJSON:
			fmt.Fprintf(&b, "%s=raw:%s ", k, x)
		case float64:
			fmt.Fprintf(&b, "%s=num:%s/%v ", k, strconv.FormatFloat(x, 'g', -1, 64), math.Signbit(x))
		default:
			fmt.Fprintf(&b, "%s=%T:%v ", k, v, v)
		}
	}
	return b.String()
}

// TestFastMatchesGoja runs every code of fastCodes on every message of
// fastInputs twice, through the straight-line path and through goja (the
// same code with a statement the path does not compile appended), and
// requires the same messages out of every port, byte for byte, and the
// same errors; and that the path ran (did not give up) where it should.
func TestFastMatchesGoja(t *testing.T) {
	ran := 0
	for i, code := range fastCodes {
		if compileFast(code) == nil {
			t.Errorf("code %d does not compile for the straight-line path:\n%s", i, code)
			continue
		}
		if compileFast(code+"\nnode;") != nil {
			t.Fatalf("code %d with node; compiles for the straight-line path", i)
		}
		outputs := fastOutputs[i]
		if outputs == 0 {
			outputs = 1
		}
		for j, got := range fastAndGoja(t, code, outputs, fastInputs()) {
			if got[0] != got[1] {
				t.Errorf("code %d, message %d:\n%s\nstraight-line:\n%sgoja:\n%s", i, j, code, got[0], got[1])
			}
		}
		for _, in := range fastInputs() {
			r := &frun{}
			if compileFast(code).run(r, in) && r.encodeMsg() {
				ran++
			}
		}
	}
	// The path must have run most of these, or the test compares goja
	// with itself.
	if total := len(fastCodes) * len(fastInputs()); ran < total/3 {
		t.Errorf("the straight-line path ran %d of %d", ran, total)
	}
	t.Logf("the straight-line path ran %d of %d", ran, len(fastCodes)*len(fastInputs()))
}

func sink(port int) string {
	if port == 0 {
		return "sink"
	}
	return "sink" + strconv.Itoa(port)
}

// TestFastRefuses lists code the straight-line path leaves to goja.
func TestFastRefuses(t *testing.T) {
	for _, code := range []string{
		"'use strict'; return msg;",
		"node.send(msg);",
		"msg.payload = [1, 2]; return msg;",
		"msg.payload = msg.payload.t.toPrecision(1); return msg;",
		"msg.payload = Symbol(msg.payload); return msg;",
		"msg.payload = Date.parse(msg.payload); return msg;",
		"const Number = 1; msg.payload = Number(msg.payload); return msg;",
		"for (var i = 0; i < 3; i++) msg.n = i; return msg;",
		"if (msg.a) { var x = 1; } return msg;",
		"const x = x + 1; return msg;",
		"msg.n = y; var y = 1; return msg;",
		"const c = 1; c = 2; return msg;",
		"var msg = {}; return msg;",
		"msg.payload = {__proto__: null}; return msg;",
		"msg.payload = {...msg.payload}; return msg;",
		"return {payload: 1};",
		"return [[msg, msg]];",
		"msg.payload = Math.pow(2, 3); return msg;",
		"msg.payload = msg.payload?.t; return msg;",
		"msg.payload = typeof foo; return msg;",
		"msg = {payload: 1}; return msg;",
		"function f() {} return msg;",
		"msg.f = () => 1; return msg;",
	} {
		if compileFast(code) != nil {
			t.Errorf("the straight-line path compiles %q", code)
		}
	}
}

// TestFastStringsBounded: code without a loop can still double a string
// in every statement; the straight-line path gives up (to goja, whose
// memory guard stops the code) instead of making a string of terabytes.
func TestFastStringsBounded(t *testing.T) {
	for _, op := range []string{"s += s;", "s = `${s}${s}`;", "s = s + s;"} {
		code := "let s = msg.payload;" + strings.Repeat(op, 45) + "msg.payload = s; return msg;"
		p := compileFast(code)
		if p == nil {
			t.Fatalf("%s does not compile", op)
		}
		m := engine.NewMessage("t", "0123456789")
		if p.run(&frun{}, m) {
			t.Errorf("%s: the path made a string of %d × 2^45 bytes", op, 10)
		}
	}
}

// fastAndGoja runs inputs, in order, through code on the straight-line
// path and through goja (the same code with a statement the path does not
// compile appended), and returns what each sent and reported per message.
func fastAndGoja(t *testing.T, code string, outputs int, inputs []*engine.Message) [][2]string {
	t.Helper()
	extra := fmt.Sprintf(`"outputs":%d`, outputs)
	flows := [2]*nodetest.Flow{
		nodetest.New(t, nodetest.ChainJSON(t, fn(code, extra), outputs), FunctionType),
		nodetest.New(t, nodetest.ChainJSON(t, fn(code+"\nnode;", extra), outputs), FunctionType),
	}
	var res [][2]string
	for _, in := range inputs {
		var got [2]string
		for k, f := range flows {
			before := f.Errors()
			var counts []int
			for p := 0; p < outputs; p++ {
				counts = append(counts, len(f.Received(sink(p))))
			}
			f.Inject("src", in.Copy())
			var s strings.Builder
			for p := 0; p < outputs; p++ {
				for _, m := range f.Received(sink(p))[counts[p]:] {
					fmt.Fprintf(&s, "port %d: %s\n", p, dump(m))
				}
			}
			for _, e := range f.Errors()[len(before):] {
				fmt.Fprintf(&s, "error: %v\n", e.Err)
			}
			got[k] = s.String()
		}
		res = append(res, got)
	}
	return res
}

// TestFastMatchesGojaSequences: code and message sequences where the
// straight-line path once differed from goja (a review's findings): a
// prototype changed by goja's run of a message the path gave up on,
// hoisted declarations, a local's compound assignment whose right side
// assigns it, strings with other than ASCII converted to numbers or
// compared, a string loosely equal to a number.
func TestFastMatchesGojaSequences(t *testing.T) {
	raw := func(s string) engine.RawJSON { return engine.RawJSON(s) }
	mk := func(topic string, payload any) *engine.Message {
		m := engine.NewMessage(topic, nil)
		m.SetProp("payload", payload)
		return m
	}
	strs := func(v ...string) (ms []*engine.Message) {
		for _, x := range v {
			ms = append(ms, mk("t", x))
		}
		return ms
	}
	for _, c := range []struct {
		code   string
		inputs []*engine.Message
	}{
		{"if (msg.payload.p) { msg.payload.__proto__.z = 'polluted'; }\nmsg.z = msg.payload.z; return msg;",
			[]*engine.Message{mk("t", raw(`{"p":1}`)), mk("t", raw(`{"p":0}`))}},
		{"if (msg.payload.p) { msg.topic.__proto__.split = 5; }\nmsg.z = msg.topic.split('/')[0]; return msg;",
			[]*engine.Message{mk("a/b", raw(`{"p":1}`)), mk("a/b", raw(`{"p":0}`))}},
		{"if (msg.payload.p) { msg.payload[msg.payload.k].z = 1; }\nmsg.z = msg.payload.z; return msg;",
			[]*engine.Message{mk("t", raw(`{"p":1,"k":"__proto__"}`)), mk("t", raw(`{"p":0}`))}},
		{"msg.a = Math.round(1.5); const Math = {}; return msg;", strs("x")},
		{"msg.a = NaN; var NaN = 5; return msg;", strs("x")},
		{"msg.a = Number(msg.payload); var Number = 5; return msg;", strs("x")},
		{"let x = 1; x += (x = 5); msg.payload = x; return msg;", strs("x")},
		{"let x = msg.payload; x += x++; msg.payload = x; return msg;", []*engine.Message{mk("t", 1.0)}},
		{"msg.a = +msg.payload; msg.b = Math.round(msg.payload); msg.c = msg.payload - 1; msg.payload++; return msg;", strs("\u00a05", "\u00855", " 5 ")},
		{"msg.a = msg.payload == 5; msg.b = msg.payload == 0; msg.c = 5 != msg.payload; msg.d = msg.payload == true; return msg;", strs("5.0", "-0", "1e-400", "\u00a05", "5", "1")},
		{"msg.lt = msg.payload.a < msg.payload.b; msg.ge = msg.payload.a >= msg.payload.b; return msg;",
			[]*engine.Message{mk("t", raw(`{"a":"\uffff","b":"😀"}`)), mk("t", raw(`{"a":"abc","b":"abd"}`))}},
	} {
		for j, got := range fastAndGoja(t, c.code, 1, c.inputs) {
			if got[0] != got[1] {
				t.Errorf("%s\nmessage %d: straight-line:\n%sgoja:\n%s", c.code, j, got[0], got[1])
			}
		}
	}
}

// TestFastSplitBounded: split makes arrays in the run's arena, and a run
// has no memory guard: past maxFastArena elements the path gives up (to
// goja, which has one) instead of allocating gigabytes for a large payload.
func TestFastSplitBounded(t *testing.T) {
	p := compileFast("msg.a = msg.payload.split(',').length + msg.payload.split(',').length; return msg;")
	if p == nil {
		t.Fatal("does not compile")
	}
	r := &frun{}
	if p.run(r, engine.NewMessage("t", strings.Repeat(",", 40000))) {
		t.Errorf("ran with %d array elements", len(r.arena))
	}
	if p.run(r, engine.NewMessage("t", strings.Repeat(",", 100))) != true {
		t.Error("gave up on a small payload")
	}
}
