package function

import (
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
	"github.com/runnel-io/runnel/nodes/common"
)

// TestFunctionDone: complete nodes see a function node's message when the
// node has finished it: when its code returns (after the promise of async
// code settles), or when the code calls node.done(). A message whose code
// calls node.done() only on some paths, or throws, never completes, and
// the node lets go of what it held when it closes.
func TestFunctionDone(t *testing.T) {
	cases := []struct {
		name, code string
		in         []string
		want       string // payloads the complete node sent, in order
	}{
		{"sync", "msg.payload += '!'; return msg;", []string{"a", "b"}, "a! b!"},
		{"returns nothing", "return null;", []string{"a"}, "a"},
		{"await", "await new Promise(r => setTimeout(r, 5)); msg.payload += '~'; return msg;", []string{"a"}, "a~"},
		{"done on some paths", "if (msg.payload === 'yes') { msg.payload = 'done'; node.done(); } return null;", []string{"no", "yes", "no"}, "done"},
		{"done from a timer", "setTimeout(() => { msg.payload += '@'; node.done(); }, 5); return null;", []string{"a", "b"}, "a@ b@"},
		{"done named in a comment only", "// node.done()\nreturn msg;", []string{"a"}, "a"},
		{"throws", "throw new Error('x');", []string{"a"}, ""},
		{"throws before done", "if (msg.payload === 'x') throw new Error('x'); node.done(); return null;", []string{"x", "y"}, "y"},
		{"rejects", "await null; throw new Error('x');", []string{"a"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := nodetest.New(t, `[{"id":"t1","type":"tab"},{"id":"src","type":"test-source","z":"t1","wires":[["n1"]]},`+
				strings.TrimSuffix(fn(c.code), "}")+`,"id":"n1","z":"t1","wires":[[]]},`+
				`{"id":"cp","type":"complete","z":"t1","scope":["n1"],"wires":[["sink"]]},`+
				`{"id":"sink","type":"test-sink","z":"t1"}]`, FunctionType, common.CompleteType)
			for _, p := range c.in {
				f.Inject("src", engine.NewMessage("", p))
			}
			n := len(strings.Fields(c.want))
			if n > 0 {
				f.WaitReceived("sink", n)
			}
			f.Settle()
			var got []string
			for _, m := range f.Received("sink") {
				p, _ := m.Get(payloadPath)
				got = append(got, p.(string))
			}
			if g := strings.Join(got, " "); g != c.want {
				t.Fatalf("complete sent %q, want %q", g, c.want)
			}
		})
	}
}

// TestCallsDone: node.done() counts as called only in code, as Node-RED's
// parse decides.
func TestCallsDone(t *testing.T) {
	for code, want := range map[string]bool{
		"node.done();":                  true,
		"setTimeout(() => node.done())": true,
		"node.done ( )":                 true,
		"// node.done()":                false,
		"/* node.done() */ return msg;": false,
		"var s = 'node.done()';":        false,
		"other.done();":                 false,
		"node.done() +;":                true, // does not compile: left to the compile error
	} {
		if got := callsDone(code); got != want {
			t.Errorf("callsDone(%q) = %v, want %v", code, got, want)
		}
	}
}
