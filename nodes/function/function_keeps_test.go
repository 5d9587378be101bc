package function

import (
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// TestKeepsMsg: code that may keep msg past its return is told from code
// that cannot (see keepsMsg); a wrong "cannot" would let the next
// message's data show through a kept msg.
func TestKeepsMsg(t *testing.T) {
	cases := []struct {
		code           string
		keeps, payload bool
	}{
		{"msg.payload.f = msg.payload.t * 1.8 + 32; return msg;", false, false},
		{"const t = msg.payload.temperature;\nmsg.payload.fahrenheit = t * 1.8 + 32;\nmsg.payload.device = msg.topic.split('/')[1];\nreturn msg;", false, false},
		{"if (msg.payload > 5) { return [msg, null]; } return [null, [msg, msg]];", false, true},
		{"return msg.payload.v > 5 ? msg : null;", false, false},
		{"msg = {payload: msg.payload}; return msg;", false, true},
		{"var msg = {payload: 1}; return msg;", false, false},
		{"delete msg.x; msg['a' + 1] = typeof msg.topic; return;", false, true},
		{"msg['payload'].x = msg['payload']['y']; msg.payload = 5; return msg;", false, false},
		{"var p = msg.payload.a; context.set('p', p); flow.set('q', msg.payload.b); return msg;", false, false},
		{"[1, 2].map(x => x * 2); return msg;", false, false},
		{"msg.n = msg.payload.toString(); return msg;", false, false},
		{"// msg kept? no\nreturn msg;", false, false},

		{"var p = msg.payload; p.x = 1; return msg;", false, true},
		{"context.set('p', msg.payload); return msg;", false, true},
		{"msg.payload.self = msg.payload; return msg;", false, true},
		{"return msg.payload;", false, true},
		{"msg.payload += 1; return msg;", false, true},
		{"var k = 'payload'; last = msg[k]; return msg;", false, true},
		{"setTimeout(() => msg.payload.x, 10); return msg;", true, true},

		{"node.send(msg);", true, true},
		{"context.set('last', msg); return msg;", true, true},
		{"var m = msg; return m;", true, true},
		{"last = msg; return msg;", true, true},
		{"setTimeout(function() { node.send(msg); }, 10);", true, true},
		{"setTimeout(() => msg.topic, 10); return msg;", true, true},
		{"msg.self = msg; return msg;", true, true},
		{"return {...msg};", true, true},
		{"return [[msg], {m: msg}];", true, true},
		{"return {msg};", true, true},
		{"throw msg;", true, true},
		{"node.error('bad', msg);", true, true},
		{"return Object.assign(msg, {a: 1});", true, true},
		{"return arguments[0];", true, true},
		{"return eval('msg');", true, true},
		{"with (msg) { payload = 1; } return msg;", true, true},
		{"class A { m() { return msg; } } return msg;", true, true},
		{"return msg.topic ? RED.util.cloneMessage(msg) : msg;", true, true},
		{"this is not javascript (", true, true},
	}
	for _, c := range cases {
		keeps, payload := keepsMsg(c.code)
		if keeps != c.keeps || payload != c.payload {
			t.Errorf("keepsMsg(%q) = %v, %v, want %v, %v", c.code, keeps, payload, c.keeps, c.payload)
		}
	}
}

// TestSharedMsgIsFresh: when every message gets the same msg object (code
// that cannot keep it), nothing of one message shows in the next: not
// its properties, not a property the code added, not a prototype it set.
func TestSharedMsgIsFresh(t *testing.T) {
	code := `var seen = [msg.hasOwnProperty('added'), msg.inherited === undefined, msg.hasOwnProperty('topic'), msg.hasOwnProperty('extra')];
msg.added = 1;
msg.__proto__ = {inherited: 1};
msg['__proto__'] = {inherited: 2};
msg.payload = seen;
return msg;`
	if keeps, _ := keepsMsg(code); keeps {
		t.Fatal("keepsMsg says the code may keep msg: the test would not test sharing")
	}
	f := nodetest.Chain(t, fn(code), FunctionType)
	f.Inject("src", engine.NewMessage("a", "one"))
	m2 := engine.NewMessage("", "two")
	m2.SetProp("extra", true)
	f.Inject("src", m2)
	got := f.WaitReceived("sink", 2)
	want := []string{`[false,true,true,false]`, `[false,true,false,true]`}
	for i, m := range got {
		if s := string(engine.AppendJSON(nil, m.Payload)); s != want[i] {
			t.Errorf("message %d: payload %s, want %s", i+1, s, want[i])
		}
		if _, ok := m.Prop("added"); !ok {
			t.Errorf("message %d lost the property the code added", i+1)
		}
	}
}

// TestSharedPayloadIsFresh is TestSharedMsgIsFresh for msg.payload.
func TestSharedPayloadIsFresh(t *testing.T) {
	code := `msg.seen = [msg.payload.hasOwnProperty('added'), msg.payload.inherited === undefined, msg.payload.hasOwnProperty('a'), msg.payload.hasOwnProperty('b')];
msg.payload.added = 1;
msg.payload.__proto__ = {inherited: 1};
return msg;`
	if _, keeps := keepsMsg(code); keeps {
		t.Fatal("keepsMsg says the code may keep msg.payload: the test would not test sharing")
	}
	f := nodetest.Chain(t, fn(code), FunctionType)
	f.Inject("src", engine.NewMessage("", engine.RawJSON(`{"a":1}`)))
	f.Inject("src", engine.NewMessage("", engine.RawJSON(`{"b":2}`)))
	got := f.WaitReceived("sink", 2)
	want := []string{`"topic":"","payload":{"a":1,"added":1},"seen":[false,true,true,false]}`, `"topic":"","payload":{"b":2,"added":1},"seen":[false,true,false,true]}`}
	for i, m := range got {
		if s, w := string(m.AppendJSON(nil)), `{"_msgid":"`+m.ID()+`",`+want[i]; s != w {
			t.Errorf("message %d: %s, want %s", i+1, s, w)
		}
	}
}
