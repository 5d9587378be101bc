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
		code  string
		keeps bool
	}{
		{"msg.payload.f = msg.payload.t * 1.8 + 32; return msg;", false},
		{"const t = msg.payload.temperature;\nmsg.payload.fahrenheit = t * 1.8 + 32;\nmsg.payload.device = msg.topic.split('/')[1];\nreturn msg;", false},
		{"if (msg.payload > 5) { return [msg, null]; } return [null, [msg, msg]];", false},
		{"return msg.payload > 5 ? msg : null;", false},
		{"msg = {payload: msg.payload}; return msg;", false},
		{"var msg = {payload: 1}; return msg;", false},
		{"delete msg.x; msg['a' + 1] = typeof msg.payload; return;", false},
		{"var p = msg.payload; context.set('p', p); flow.set('q', msg.payload.a); return msg;", false},
		{"[1, 2].map(x => x * 2); return msg;", false},
		{"msg.n = msg.payload.toString(); return msg;", false},
		{"// msg kept? no\nreturn msg;", false},

		{"node.send(msg);", true},
		{"context.set('last', msg); return msg;", true},
		{"var m = msg; return m;", true},
		{"last = msg; return msg;", true},
		{"setTimeout(function() { node.send(msg); }, 10);", true},
		{"setTimeout(() => msg.payload, 10); return msg;", true},
		{"msg.self = msg; return msg;", true},
		{"return {...msg};", true},
		{"return [[msg], {m: msg}];", true},
		{"return {msg};", true},
		{"throw msg;", true},
		{"node.error('bad', msg);", true},
		{"return Object.assign(msg, {a: 1});", true},
		{"return arguments[0];", true},
		{"return eval('msg');", true},
		{"with (msg) { payload = 1; } return msg;", true},
		{"class A { m() { return msg; } } return msg;", true},
		{"return msg.payload ? RED.util.cloneMessage(msg) : msg;", true},
		{"this is not javascript (", true},
	}
	for _, c := range cases {
		if got := keepsMsg(c.code); got != c.keeps {
			t.Errorf("keepsMsg(%q) = %v, want %v", c.code, got, c.keeps)
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
	if keepsMsg(code) {
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
