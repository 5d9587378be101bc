package function

import (
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// TestFunctionViews checks that msg and the JSON objects in it behave as
// plain JavaScript objects although they are views (see jsonObject): each
// case's payload is JSON text exactly as written (key order, repeated
// keys, number forms), and the output is what Node-RED sends for it.
func TestFunctionViews(t *testing.T) {
	cases := []struct {
		name, code, payload, want string
	}{
		{"untouched payload passes", "return msg;", `{"b":1,"a":[1,{"c":2}]}`, `{"b":1,"a":[1,{"c":2}]}`},
		{"untouched numbers as JavaScript writes them", "msg.payload.z = 1; return msg;", `{"a":1.50,"b":1e2,"c":"\u0041"}`, `{"a":1.5,"b":100,"c":"A","z":1}`},
		{"Object.keys: array indices first", "msg.payload = Object.keys(msg.payload); return msg;", `{"b":1,"2":2,"a":3,"1":4}`, `["1","2","b","a"]`},
		{"index keys first in the output", "msg.payload.x = 1; msg.payload[0] = 2; return msg;", `{"b":1,"5":2}`, `{"0":2,"5":2,"b":1,"x":1}`},
		{"a repeated key keeps the last value in the first place", "msg.payload.z = 0; return msg;", `{"a":1,"b":2,"a":3}`, `{"a":3,"b":2,"z":0}`},
		{"a repeated key read", "msg.payload = [msg.payload.a, Object.keys(msg.payload)]; return msg;", `{"a":1,"b":2,"a":3}`, `[3,["a","b"]]`},
		{"delete", "delete msg.payload.a; return msg;", `{"a":1,"b":{"c":2}}`, `{"b":{"c":2}}`},
		{"delete then set goes last", "delete msg.payload.a; msg.payload.a = 5; return msg;", `{"a":1,"b":2}`, `{"b":2,"a":5}`},
		{"nested change", "msg.payload.b.c++; return msg;", `{"a":1,"b":{"c":2,"d":[3]}}`, `{"a":1,"b":{"c":3,"d":[3]}}`},
		{"objects in arrays", "msg.payload.list[0].x = 5; msg.payload.list.push({z: 1}); return msg;", `{"list":[{"x":1},{"y":2}]}`, `{"list":[{"x":5},{"y":2},{"z":1}]}`},
		{"in and hasOwnProperty", "msg.payload = ['a' in msg.payload, msg.payload.hasOwnProperty('b'), 'toString' in msg.payload, msg.payload.hasOwnProperty('toString'), msg.hasOwnProperty('topic'), msg.hasOwnProperty('nope')]; return msg;", `{"a":1}`, `[true,false,true,false,true,false]`},
		{"for-in", "var k = []; for (var x in msg.payload) k.push(x); msg.payload = k; return msg;", `{"z":1,"y":{"x":2}}`, `["z","y"]`},
		{"spread and Object.assign", "msg.payload = [{...msg.payload, c: 3}, Object.assign({}, msg.payload, {a: 0})]; return msg;", `{"a":1,"b":2}`, `[{"a":1,"b":2,"c":3},{"a":0,"b":2}]`},
		{"JSON.stringify", "msg.payload = JSON.stringify(msg.payload) + JSON.stringify(msg.payload, null, 1); return msg;", `{"a":[1, 2],"b":{"c":null}}`, `"{\"a\":[1,2],\"b\":{\"c\":null}}{\n \"a\": [\n  1,\n  2\n ],\n \"b\": {\n  \"c\": null\n }\n}"`},
		{"the whole msg", "var c = Object.assign({}, msg); delete c._msgid; msg.payload = JSON.stringify(c); return msg;", `{"a":1}`, `"{\"topic\":\"t\",\"payload\":{\"a\":1}}"`},
		{"identity", "msg.payload = [msg.payload === msg.payload, msg.payload.o === msg.payload.o, typeof msg.payload, msg.payload.constructor === Object, Array.isArray(msg.payload.l)]; return msg;", `{"o":{},"l":[]}`, `[true,true,"object",true,true]`},
		{"undefined and functions are left out", "msg.payload.u = undefined; msg.payload.f = function() {}; msg.payload.b = 2; return msg;", `{"a":1}`, `{"a":1,"b":2}`},
		{"a Buffer inside", "msg.payload.buf = Buffer.from('hi'); return msg;", `{"a":1}`, `{"a":1,"buf":{"type":"Buffer","data":[104,105]}}`},
		{"a Buffer payload is bytes", "msg.payload = Buffer.from('hi'); return msg;", `{"a":1}`, `{"type":"Buffer","data":[104,105]}`},
		{"NaN inside", "msg.payload.n = NaN; return msg;", `{"a":1}`, `{"a":1,"n":null}`},
		{"through context", "context.set('m', msg.payload); msg.payload.a = 2; msg.payload = [context.get('m').a, msg.payload.a]; return msg;", `{"a":1}`, `[1,2]`},
		{"cloneMessage", "var c = RED.util.cloneMessage(msg); c.payload.a = 2; msg.payload = [msg.payload.a, c.payload.a, c.topic]; return msg;", `{"a":1}`, `[1,2,"t"]`},
		{"a payload replaced", "msg.payload = {fresh: msg.payload.a}; return msg;", `{"a":1}`, `{"fresh":1}`},
		{"msg keys", "msg.payload = Object.keys(msg); return msg;", `{"a":1}`, `["_msgid","topic","payload"]`},
		{"sent twice, changed between", "node.send(msg); msg.payload.a = 2; return msg;", `{"a":1}`, `{"a":1} {"a":2}`},
		{"deep keys", "msg.payload = msg.payload.a.b.c.d; return msg;", `{"a":{"b":{"c":{"d":"deep"}}}}`, `"deep"`},
		{"many keys", "msg.payload = [msg.payload.k19, Object.keys(msg.payload).length, 'k3' in msg.payload]; delete msg.payload; return msg;", `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18,"k19":19}`, ``},
		{"many keys read", "delete msg.payload.k3; msg.payload = [msg.payload.k19, Object.keys(msg.payload).length, 'k3' in msg.payload, msg.payload.k4]; return msg;", `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18,"k19":19}`, `[19,19,false,4]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := nodetest.Chain(t, fn(c.code), FunctionType)
			f.Inject("src", engine.NewMessage("t", engine.RawJSON(c.payload)))
			var got string
			for i, m := range f.Received("sink") {
				if i > 0 {
					got += " "
				}
				if p, ok := m.Prop("payload"); ok && p != nil {
					got += string(engine.MarshalJSON(p))
				}
			}
			if got != c.want {
				t.Errorf("got  %s\nwant %s\nerrors %v", got, c.want, f.Errors())
			}
		})
	}
}

// fakeHandle stands for a live resource in a message, as http-in's
// msg.res.
type fakeHandle struct{ id int }

func (*fakeHandle) RunnelHandle() {}

// TestFunctionKeepsHandles: a handle (http-in's msg.res) comes back as
// itself whatever the code does with the message: passes it untouched,
// reads it, spreads the message into a new object or clones it.
func TestFunctionKeepsHandles(t *testing.T) {
	for _, code := range []string{
		"return msg;",
		"msg.payload = typeof msg.res; return msg;",
		"return {...msg, payload: 2};",
		"return RED.util.cloneMessage(msg);",
		"return {payload: 3, res: msg.res, nested: {r: msg.res}};",
	} {
		t.Run(code, func(t *testing.T) {
			f := nodetest.Chain(t, fn(code), FunctionType)
			h := &fakeHandle{id: 7}
			m := engine.NewMessage("t", 1.0)
			m.SetProp("res", h)
			f.Inject("src", m)
			got := f.Received("sink")
			if len(got) != 1 {
				t.Fatalf("got %d messages, errors %v", len(got), f.Errors())
			}
			if r, _ := got[0].Prop("res"); r != engine.Handle(h) {
				t.Errorf("msg.res is %#v, want the handle itself", r)
			}
		})
	}
}
