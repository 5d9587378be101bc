package function

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// fn is a function node's JSON with the code and further properties.
func fn(code string, extra ...string) string {
	b, _ := json.Marshal(code)
	s := `{"type":"function","func":` + string(b)
	for _, e := range extra {
		s += "," + e
	}
	return s + "}"
}

func TestFunction(t *testing.T) {
	outs := func(n int) string { return fmt.Sprintf(`"outputs":%d`, n) }
	cases := []struct {
		c       nodeCase
		outputs int
	}{
		{c: nodeCase{name: "return msg", node: fn("return msg;"), in: `{"topic":"t","payload":1}`, want: `{"topic":"t","payload":1}`}},
		{c: nodeCase{name: "fahrenheit", node: fn("msg.payload.f = msg.payload.t * 1.8 + 32; return msg;"), in: `{"payload":{"t":20}}`, want: `{"topic":"","payload":{"t":20,"f":68}}`}},
		{c: nodeCase{name: "return null sends nothing", node: fn("return null;"), in: `{"payload":1}`, want: ``}},
		{c: nodeCase{name: "no return sends nothing", node: fn("msg.x = 1;"), in: `{"payload":1}`, want: ``}},
		{c: nodeCase{name: "a new object", node: fn("return {payload: msg.payload + 1, b: 'x', a: [1, null, 'y']};"), in: `{"payload":1}`, want: `{"topic":"","payload":2,"a":[1,null,"y"],"b":"x"}`}},
		{c: nodeCase{name: "key order kept", node: fn("return {payload: {z: 1, a: 2, 10: 3, 2: 4}};"), in: `{"payload":1}`, want: `{"topic":"","payload":{"2":4,"10":3,"z":1,"a":2}}`}},
		{c: nodeCase{name: "one per output", node: fn("return [msg, null, {payload: 'c'}];", outs(3)), in: `{"payload":"a"}`, want: `{"topic":"","payload":"a"}||{"topic":"","payload":"c"}`}, outputs: 3},
		{c: nodeCase{name: "arrays of arrays in order", node: fn("return [[{payload:1},{payload:2}], [{payload:3}]];", outs(2)), in: `{"payload":0}`, want: `{"topic":"","payload":1} {"topic":"","payload":2}|{"topic":"","payload":3}`}, outputs: 2},
		{c: nodeCase{name: "same object twice is two copies", node: fn("var r = [msg, msg]; msg.payload = 'changed'; return r;", outs(2)), in: `{"payload":"a"}`, want: `{"topic":"","payload":"changed"}|{"topic":"","payload":"changed"}`}, outputs: 2},
		{c: nodeCase{name: "node.send copies at the call", node: fn("node.send(msg); msg.payload = 2; return msg;"), in: `{"payload":1}`, want: `{"topic":"","payload":1} {"topic":"","payload":2}`}},
		{c: nodeCase{name: "node.send an array", node: fn("node.send([null, {payload: 'b'}]);", outs(2)), in: `{"payload":1}`, want: `|{"topic":"","payload":"b"}`}, outputs: 2},
		{c: nodeCase{name: "a port beyond outputs is dropped", node: fn("return [msg, msg];"), in: `{"payload":1}`, want: `{"topic":"","payload":1}`}},
		{c: nodeCase{name: "other properties", node: fn("msg.qos = msg.qos + 1; delete msg.retain; msg.n = null; return msg;"), in: `{"payload":"x","qos":1,"retain":true}`, want: `{"topic":"","payload":"x","n":null,"qos":2}`}},
		{c: nodeCase{name: "a raw JSON array payload", node: fn("msg.payload = msg.payload.map(x => x * 2); return msg;"), in: `{"payload":[1,2,3]}`, want: `{"topic":"","payload":[2,4,6]}`}},
		{c: nodeCase{name: "NaN in an object", node: fn("msg.payload = {a: NaN}; return msg;"), in: `{"payload":1}`, want: `{"topic":"","payload":{"a":null}}`}},
		{c: nodeCase{name: "JSON, Math, Date", node: fn("msg.payload = JSON.stringify({a: Math.max(1, 3)}) + new Date(0).toISOString(); return msg;"), in: `{}`, want: `{"topic":"","payload":"{\"a\":3}1970-01-01T00:00:00.000Z"}`}},
		{c: nodeCase{name: "a thrown error", node: fn("throw new Error('boom');"), in: `{"payload":1}`, want: ``, errs: "Error: boom (func line 1, col 7)"}},
		{c: nodeCase{name: "a type error", node: fn("\nreturn msg.payload.x.y;"), in: `{"payload":1}`, want: ``, errs: "TypeError: Cannot read property 'y' of undefined (func line 2, col 22)"}},
		{c: nodeCase{name: "node.error with a message", node: fn("node.error('bad', msg); return null;"), in: `{"payload":1}`, want: ``, errs: "bad"}},
		{c: nodeCase{name: "sending a string is an error", node: fn("return 'x';"), in: `{"payload":1}`, want: ``, errs: "Function tried to send a message of type string"}},
		{c: nodeCase{name: "flow context", node: fn("flow.set('n', (flow.get('n') || 0) + msg.payload); msg.payload = flow.get('n'); return msg;"), flowIn: map[string]string{"n": "5"}, in: `{"payload":2}`, want: `{"topic":"","payload":7}`, flowWant: map[string]string{"n": "7"}}},
		{c: nodeCase{name: "context store names and callbacks", node: fn("flow.set('a', {x: [1]}, 'memory', function(err) { flow.get('a', 'memory', function(err, v) { msg.payload = v; node.send(msg); }); });"), in: `{"payload":2}`, want: `{"topic":"","payload":{"x":[1]}}`, flowWant: map[string]string{"a": `{"x":[1]}`}}},
		{c: nodeCase{name: "context keys", node: fn("flow.set('b', 1); msg.payload = flow.keys(); return msg;"), flowIn: map[string]string{"a": "1"}, in: `{}`, want: `{"topic":"","payload":["a","b"]}`}},
		{c: nodeCase{name: "node properties", node: fn("msg.payload = [node.id, node.name, node.path, node.outputCount]; return msg;", `"name":"nm"`), in: `{}`, want: `{"topic":"","payload":["n1","nm","t1/n1",1]}`}},
		{c: nodeCase{name: "RED.util", node: fn("var c = RED.util.cloneMessage(msg); c.payload.a.b = 2; RED.util.setMessageProperty(c, 'x.y[1]', 'z'); msg.out = [RED.util.getMessageProperty(msg, 'msg.payload.a.b'), RED.util.getMessageProperty(c, 'payload.a.b'), c.x]; return msg;"), in: `{"payload":{"a":{"b":1}}}`, want: `{"topic":"","payload":{"a":{"b":1}},"out":[1,2,{"y":[null,"z"]}]}`}},
		{c: nodeCase{name: "async await", node: fn("await Promise.resolve(); msg.payload = 'later'; return msg;"), in: `{}`, want: `{"topic":"","payload":"later"}`}},
		{c: nodeCase{name: "deep recursion is a RangeError", node: fn("function f(n) { return f(n + 1) + 1; } return f(0);"), in: `{}`, want: ``, errs: "RangeError: Maximum call stack size exceeded (more than 10000 calls)"}},
	}
	for _, c := range cases {
		n := c.outputs
		if n == 0 {
			n = 1
		}
		t.Run(c.c.name, func(t *testing.T) { runCase(t, c.c, n, FunctionType) })
	}
}

func TestFunctionEnvAndStatus(t *testing.T) {
	t.Setenv("RUNNEL_FN_TEST", "hello")
	f := nodetest.Chain(t, fn("msg.payload = [env.get('RUNNEL_FN_TEST'), env.get('NR_NODE_ID'), env.get('RUNNEL_NOT_SET')]; node.status({fill:'red', shape:'dot', text: 3}); node.warn('careful'); return msg;"), FunctionType)
	f.Inject("src", engine.NewMessage("", nil))
	got := f.WaitReceived("sink", 1)
	if s := msgJSON(got[0]); s != `{"topic":"","payload":["hello","n1",null]}` {
		t.Errorf("got %s", s)
	}
	if st := f.Statuses(); len(st) == 0 || st[len(st)-1].Status != (engine.Status{Fill: "red", Shape: "dot", Text: "3"}) {
		t.Errorf("statuses %v", st)
	}
	if l := nodetest.LogMessages(f.Logged(slog.LevelWarn)); !strings.Contains(l, "careful") {
		t.Errorf("log %q", l)
	}
}

// TestFunctionTimers checks that node.send works from timers, intervals
// and async code, in order, and that the timers of a closed node stop.
func TestFunctionTimers(t *testing.T) {
	f := nodetest.Chain(t, fn(`
var n = 0;
var iv = setInterval(function() { n++; node.send({payload: 'tick' + n}); if (n == 3) clearInterval(iv); }, 1);
setTimeout(function(a) { node.send({payload: a}); }, 30, 'timeout');
var never = setTimeout(function() { node.send({payload: 'cleared'}); }, 5);
clearTimeout(never);
(async () => { await new Promise(r => setTimeout(r, 60)); node.send({payload: 'async'}); })();
`), FunctionType)
	f.Inject("src", engine.NewMessage("", nil))
	got := f.WaitReceived("sink", 5)
	var ps []string
	for _, m := range got {
		ps = append(ps, m.Payload.(string))
	}
	if s := strings.Join(ps, ","); s != "tick1,tick2,tick3,timeout,async" {
		t.Errorf("got %s", s)
	}
}

// TestFunctionOutputIsItsOwn: the message a function returns belongs to
// the nodes after it (the runtime may make it of the message the function
// received): one of them changing it changes neither what the code still
// holds nor what it sends later, and the _msgid stays.
func TestFunctionOutputIsItsOwn(t *testing.T) {
	f := nodetest.Chain(t, fn(`var m = msg; setTimeout(function() { node.send(m); }, 30); msg.x = 1; return msg;`), FunctionType)
	in := engine.NewMessage("t", engine.RawJSON(`{"a":1}`))
	id := in.ID()
	f.Inject("src", in)
	first := f.WaitReceived("sink", 1)[0]
	first.Payload = "changed" // as a node downstream may
	first.SetProp("x", 2.0)
	first.Topic = "other"
	later := f.WaitReceived("sink", 2)[1]
	for _, m := range []*engine.Message{first, later} {
		if m.ID() != id {
			t.Errorf("_msgid %s, want %s", m.ID(), id)
		}
	}
	if got, want := string(later.AppendJSON(nil)), `{"_msgid":"`+id+`","topic":"t","payload":{"a":1},"x":1}`; got != want {
		t.Errorf("later send\n got %s\nwant %s", got, want)
	}
}

// TestFunctionOrderThroughAwait sends many messages through an await on a
// timer and checks they come out in order.
func TestFunctionOrderThroughAwait(t *testing.T) {
	f := nodetest.Chain(t, fn(`await new Promise(r => setTimeout(r, 5)); return msg;`), FunctionType)
	for i := 0; i < 50; i++ {
		f.Inject("src", engine.NewMessage("", float64(i)))
	}
	got := f.WaitReceived("sink", 50)
	for i, m := range got {
		if m.Payload != float64(i) {
			t.Fatalf("message %d has payload %v", i, m.Payload)
		}
	}
}

func TestFunctionTimeout(t *testing.T) {
	f := nodetest.Chain(t, fn("while (true) {}", `"timeout":0.05`), FunctionType)
	f.Inject("src", engine.NewMessage("", 1.0))
	errs := f.Errors()
	if len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "timed out") || errs[0].MsgID == "" {
		t.Fatalf("errors %v", errs)
	}
	// the node goes on with the next message
	f2 := nodetest.Chain(t, fn("if (msg.payload == 1) { while (true) {} } return msg;", `"timeout":0.05`), FunctionType)
	f2.Inject("src", engine.NewMessage("", 1.0))
	f2.Inject("src", engine.NewMessage("", 2.0))
	if got := f2.Received("sink"); len(got) != 1 || got[0].Payload != 2.0 {
		t.Fatalf("got %v", got)
	}
}

func TestFunctionDefaultCeiling(t *testing.T) {
	old := DefaultTimeout
	DefaultTimeout = 50 * time.Millisecond
	defer func() { DefaultTimeout = old }()
	f := nodetest.Chain(t, fn("for (;;) {}"), FunctionType)
	f.Inject("src", engine.NewMessage("", 1.0))
	if errs := f.Errors(); len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "timed out after 50ms") {
		t.Fatalf("errors %v", errs)
	}
}

func TestFunctionDeployErrors(t *testing.T) {
	for _, c := range []struct{ node, want string }{
		{fn("return msg;\nvar x = ;"), `field "func": syntax error at line 2`},
		{fn("return msg;", `"initialize":"\n\nif ("`), `field "initialize": syntax error at line 3`},
		{fn("return msg;", `"finalize":"}"`), `field "finalize": syntax error at line 1`},
		{fn("return msg;", `"libs":[{"var":"moment","module":"moment"}]`), `field "libs": npm modules cannot be loaded in Runnel: "moment" (as moment)`},
	} {
		_, err := nodetest.Deploy(t, nodetest.ChainJSON(t, c.node), nodetest.Options{}, FunctionType)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "n1") {
			t.Errorf("%s: deploy error %v, want one naming n1 and %s", c.node, err, c.want)
		}
	}
}

func TestFunctionInitializeAndFinalize(t *testing.T) {
	f := nodetest.Chain(t, fn("msg.payload = ready; return msg;",
		`"initialize":"await new Promise(r => setTimeout(r, 30)); ready = 'yes'; node.send({payload: 'from init'});"`,
		`"finalize":"flow.set('stopped', true);"`), FunctionType)
	f.Inject("src", engine.NewMessage("", nil))
	got := f.WaitReceived("sink", 2)
	if a, b := got[0].Payload, got[1].Payload; a != "from init" || b != "yes" {
		t.Fatalf("got %v, %v", a, b)
	}
	h := f.SourceHost("src")
	f.Runtime().Stop(t.Context())
	if v, _ := h.FlowContext().Get("stopped"); v != true {
		t.Errorf("finalize did not run: %v", v)
	}
}

func TestFunctionConformance(t *testing.T) {
	nodetest.Conformance(t, FunctionType, nodetest.ConformanceOptions{})
}

func BenchmarkFunctionFahrenheit(b *testing.B) {
	// The node's output leads nowhere, so that what is measured is the
	// node (the message still crosses into JavaScript and back), not a
	// sink keeping every message.
	f := nodetest.New(b, `[{"id":"t1","type":"tab"},{"id":"src","type":"test-source","z":"t1","wires":[["n1"]]},`+
		strings.TrimSuffix(fn("msg.payload.f = msg.payload.t * 1.8 + 32; return msg;"), "}")+`,"id":"n1","z":"t1","wires":[[]]}]`, FunctionType)
	payload := engine.RawJSON(`{"t":21.5}`)
	src := f.SourceHost("src") // Inject's t.Helper would be a third of what is measured
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src.Send(0, engine.NewMessage("sensors/a", payload))
	}
}

// BenchmarkFunctionMixed is the function node of the mixed reference
// flow (engine/cli/bench/testdata/mixed-flow.json) on the message it gets
// there.
//
//	go test -run '^$' -bench FunctionMixed -benchmem -cpu 1 ./nodes/function/
func BenchmarkFunctionMixed(b *testing.B) {
	f := nodetest.New(b, `[{"id":"t1","type":"tab"},{"id":"src","type":"test-source","z":"t1","wires":[["n1"]]},`+
		strings.TrimSuffix(fn("const t = msg.payload.temperature;\nmsg.payload.fahrenheit = t * 1.8 + 32;\nmsg.payload.device = msg.topic.split('/')[1];\nreturn msg;"), "}")+`,"id":"n1","z":"t1","wires":[[]]}]`, FunctionType)
	payload := engine.RawJSON(`{"temperature":1234,"humidity":40}`)
	src := f.SourceHost("src")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src.Send(0, engine.NewMessage("sensors/dev3/data", payload))
	}
}

// TestFunctionMemoryGuard: code that allocates without end is stopped
// when the heap goes over the limit, long before its time limit, and its
// runtime (with the variables holding the memory) is discarded, so the
// next message finds a fresh one. Without the guard the run goes on
// until the 60 s timeout (and, with no limit, until the process dies).
func TestFunctionMemoryGuard(t *testing.T) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	limit := ms.HeapAlloc + 64<<20
	testHeapLimit.Store(limit)
	defer testHeapLimit.Store(0)

	f := nodetest.Chain(t, fn(`
if (msg.payload === 'hog') { keep = []; while (true) keep.push(new Array(10000).fill(1.5)); }
msg.payload = typeof keep; return msg;`, `"timeout":60`), FunctionType)
	f.Inject("src", engine.NewMessage("", "hog"))
	errs := f.Errors()
	if len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "heap went over") || errs[0].MsgID == "" {
		t.Fatalf("errors %v", errs)
	}
	f.Inject("src", engine.NewMessage("", "check"))
	if got := f.Received("sink"); len(got) != 1 || got[0].Payload != "undefined" {
		t.Fatalf("after the guard: %v (want a fresh runtime, where keep is undefined)", got)
	}
}

// TestFunctionMemoryGuardSparesBystanders: memory held elsewhere in the
// process (here a Go slice, as another node's data) puts the heap over
// the limit before a run begins; the run, under which the heap does not
// grow, is not stopped and keeps its state.
func TestFunctionMemoryGuardSparesBystanders(t *testing.T) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	limit := ms.HeapAlloc + 64<<20
	testHeapLimit.Store(limit)
	defer testHeapLimit.Store(0)
	held := make([]byte, 128<<20)
	for i := range held {
		held[i] = 1
	}
	f := nodetest.Chain(t, fn(`
if (typeof n === 'undefined') { n = 0; }
n++;
var end = Date.now() + 100; while (Date.now() < end) {}
msg.payload = n; return msg;`, `"timeout":60`), FunctionType)
	f.Inject("src", engine.NewMessage("", nil))
	f.Inject("src", engine.NewMessage("", nil))
	runtime.KeepAlive(held)
	if errs := f.Errors(); len(errs) != 0 {
		t.Fatalf("errors %v", errs)
	}
	if got := f.Received("sink"); len(got) != 2 || got[1].Payload != 2.0 {
		t.Fatalf("got %v, want 1 then 2 (the runtime kept)", got)
	}
}
