package common

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
	"github.com/runnel-io/runnel/flows"
	"github.com/runnel-io/runnel/nodes/function"
)

// failType is a test node that fails on every message: by returning an
// error, by panicking ("panic"), or by reporting an error against the
// message and returning nil ("report").
var failType = engine.NewType(engine.Meta{Type: "test-fail", Category: "common", Inputs: 1, Outputs: 1},
	func(cfg *struct {
		How string `json:"how"`
	}, h *engine.Host) (engine.Node, error) {
		return &failNode{h: h, how: cfg.How}, nil
	})

type failNode struct {
	h   *engine.Host
	how string
}

func (n *failNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	switch n.how {
	case "panic":
		panic("kaboom")
	case "report":
		n.h.Error(errors.New("reported"), m)
		out.Send(0, m)
		return nil
	case "status":
		n.h.Status(engine.Status{Fill: "green", Text: engine.ToString(m.Payload)})
		return nil
	case "pass":
		m.Payload = "passed " + engine.ToString(m.Payload)
		out.Send(0, m)
		return nil
	}
	return errors.New("failed " + engine.ToString(m.Payload))
}

var testTypes = []*engine.Type{CatchType, StatusType, CompleteType, LinkInType, LinkOutType, LinkCallType, failType, function.ChangeType, function.FunctionType, function.RangeType}

func payloads(ms []*engine.Message, prop string) string {
	var out []string
	for _, m := range ms {
		v, _ := m.Get(engine.MustParsePath(prop))
		out = append(out, string(engine.MarshalJSON(v)))
	}
	return strings.Join(out, " ")
}

func TestCatch(t *testing.T) {
	cases := []struct {
		name, flow string
		want       map[string]string // sink id: msg.error of what it received
	}{
		{"returned error, tab scope", `
{"id":"f","type":"test-fail","z":"t1","name":"F"},
{"id":"c","type":"catch","z":"t1","scope":null,"wires":[["sink"]]}`,
			map[string]string{"sink": `{"message":"failed p","source":{"id":"f","type":"test-fail","name":"F","count":1}}`}},
		{"a panic while handling a message is caught", `
{"id":"f","type":"test-fail","z":"t1","how":"panic"},
{"id":"c","type":"catch","z":"t1","wires":[["sink"]]}`,
			map[string]string{"sink": `{"message":"panic: kaboom","source":{"id":"f","type":"test-fail","count":1}}`}},
		{"another tab's catch does not see it", `
{"id":"f","type":"test-fail","z":"t1"},
{"id":"c","type":"catch","z":"t2","wires":[["sink"]]}`,
			map[string]string{"sink": ``}},
		{"group scope: own group and groups inside, not outside", `
{"id":"g1","type":"group","z":"t1","nodes":["c","g2"]},
{"id":"g2","type":"group","z":"t1","g":"g1","nodes":["f"]},
{"id":"f","type":"test-fail","z":"t1","g":"g2"},
{"id":"c","type":"catch","z":"t1","g":"g1","scope":"group","wires":[["sink"]]},
{"id":"g3","type":"group","z":"t1","nodes":["c3"]},
{"id":"c3","type":"catch","z":"t1","g":"g3","scope":"group","wires":[["sink3"]]},
{"id":"sink3","type":"test-sink","z":"t1"}`,
			map[string]string{"sink": `{"message":"failed p","source":{"id":"f","type":"test-fail","count":1}}`, "sink3": ``}},
		{"nearer group first, uncaught skipped", `
{"id":"g1","type":"group","z":"t1","nodes":["f","cg"]},
{"id":"f","type":"test-fail","z":"t1","g":"g1","how":"report"},
{"id":"ct","type":"catch","z":"t1","wires":[["sink"]]},
{"id":"cg","type":"catch","z":"t1","g":"g1","wires":[["sink"]]},
{"id":"cu","type":"catch","z":"t1","uncaught":true,"wires":[["sink3"]]},
{"id":"sink3","type":"test-sink","z":"t1"}`,
			map[string]string{"sink": `{"message":"reported","source":{"id":"f","type":"test-fail","count":1}} {"message":"reported","source":{"id":"f","type":"test-fail","count":1}}`, "sink3": ``}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := nodetest.New(t, `[{"id":"t1","type":"tab"},{"id":"t2","type":"tab"},
{"id":"src","type":"test-source","z":"t1","wires":[["f"]]},
{"id":"sink","type":"test-sink","z":"t1"},`+c.flow+`]`, testTypes...)
			f.Inject("src", engine.NewMessage("t", "p"))
			f.Settle()
			for sink, want := range c.want {
				if got := payloads(f.Received(sink), "error"); got != want {
					t.Errorf("%s got %s\nwant %s", sink, got, want)
				}
			}
		})
	}
}

// A catch whose flow fails again on each caught message, without the
// msg.error that counts catches, must stop, not recurse until the stack
// is gone.
func TestCatchStormStops(t *testing.T) {
	f := nodetest.New(t, `[{"id":"t1","type":"tab"},
{"id":"src","type":"test-source","z":"t1","wires":[["f"]]},
{"id":"f","type":"test-fail","z":"t1"},
{"id":"c","type":"catch","z":"t1","wires":[["d"]]},
{"id":"d","type":"change","z":"t1","rules":[{"t":"delete","p":"error","pt":"msg"}],"wires":[["f"]]}]`, testTypes...)
	f.Inject("src", engine.NewMessage("t", "p"))
	f.Settle() // fails the test if the loop goes on
	if logs := nodetest.LogMessages(f.Logged(slog.LevelWarn)); !strings.Contains(logs, "through catch and complete nodes too often") {
		t.Errorf("no warning about the loop: %s", logs)
	}
}

func TestStatusAndComplete(t *testing.T) {
	f := nodetest.New(t, `[{"id":"t1","type":"tab"},
{"id":"src","type":"test-source","z":"t1","wires":[["s","ok","rep","ret"]]},
{"id":"s","type":"test-fail","z":"t1","how":"status","name":"S"},
{"id":"st","type":"status","z":"t1","scope":["s"],"wires":[["sink"]]},
{"id":"ok","type":"test-fail","z":"t1","how":"pass","wires":[["mut"]]},
{"id":"mut","type":"change","z":"t1","rules":[{"t":"set","p":"payload","pt":"msg","to":"downstream","tot":"str"}],"wires":[]},
{"id":"rep","type":"test-fail","z":"t1","how":"report"},
{"id":"ret","type":"test-fail","z":"t1"},
{"id":"cp","type":"complete","z":"t1","scope":["ok","rep","ret"],"wires":[["done"]]},
{"id":"done","type":"test-sink","z":"t1"},{"id":"sink","type":"test-sink","z":"t1"}]`, testTypes...)
	f.Inject("src", engine.NewMessage("t", "p"))
	f.Settle()
	if got, want := payloads(f.Received("sink"), "status"), `{"fill":"green","text":"p","source":{"id":"s","type":"test-fail","name":"S"}}`; got != want {
		t.Errorf("status: got %s want %s", got, want)
	}
	// ok finishes the message as it sent it (not as the change node
	// downstream left it); rep reported an error against it and ret
	// returned one: neither finished it.
	if got, want := payloads(f.Received("done"), "payload")+" "+payloads(f.Received("done"), "complete"), `"passed p" {"source":{"id":"ok","type":"test-fail"}}`; got != want {
		t.Errorf("complete: got %s want %s", got, want)
	}
}

func TestLinks(t *testing.T) {
	// Across tabs, and from a link in listing the link out.
	f := nodetest.New(t, `[{"id":"t1","type":"tab"},{"id":"t2","type":"tab"},
{"id":"src","type":"test-source","z":"t1","wires":[["lo"]]},
{"id":"lo","type":"link out","z":"t1","links":["li"]},
{"id":"li","type":"link in","z":"t2","wires":[["sink"]]},
{"id":"li2","type":"link in","z":"t2","links":["lo"],"wires":[["sink2"]]},
{"id":"sink","type":"test-sink","z":"t2"},
{"id":"sink2","type":"test-sink","z":"t2"}]`, testTypes...)
	f.Inject("src", engine.NewMessage("t", "p"))
	f.Settle()
	if got := payloads(f.Received("sink"), "payload") + payloads(f.Received("sink2"), "payload"); got != `"p""p"` {
		t.Errorf("got %s", got)
	}
	// The source is wired straight to the sinks: the link nodes see nothing.
	if st, _ := f.Runtime().Graph().Stats("lo"); st.In != 0 {
		t.Errorf("link out received %d messages; want the link resolved to direct wires", st.In)
	}
}

func TestLinkCycles(t *testing.T) {
	for _, c := range []struct{ name, flow, want string }{
		{"a loop through links is refused", `
{"id":"li","type":"link in","z":"t1","wires":[["p"]]},
{"id":"p","type":"change","z":"t1","rules":[],"wires":[["lo"]]},
{"id":"lo","type":"link out","z":"t2","links":["li"]}`, `cycle: "li" -> "p" -> "lo" -> "li"`},
		{"a link call calling its own flow is refused", `
{"id":"li","type":"link in","z":"t1","wires":[["call"]]},
{"id":"call","type":"link call","z":"t1","links":["li"],"wires":[[]]}`, `cycle: "li" -> "call" -> "li"`},
		{"a return is not a cycle", `
{"id":"src","type":"test-source","z":"t1","wires":[["call"]]},
{"id":"call","type":"link call","z":"t1","links":["li"],"wires":[["sink"]]},
{"id":"li","type":"link in","z":"t1","wires":[["ret"]]},
{"id":"ret","type":"link out","z":"t1","mode":"return"},
{"id":"sink","type":"test-sink","z":"t1"}`, ``},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := nodetest.Deploy(t, `[{"id":"t1","type":"tab"},{"id":"t2","type":"tab"},`+c.flow+`]`, nodetest.Options{}, testTypes...)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("deploy error %v, want %q", err, c.want)
			}
		})
	}
}

func TestLinkCallTimeoutAndReturn(t *testing.T) {
	f := nodetest.New(t, `[{"id":"t1","type":"tab"},
{"id":"src","type":"test-source","z":"t1","wires":[["call"]]},
{"id":"call","type":"link call","z":"t1","links":["li"],"timeout":"0.05","wires":[["sink"]]},
{"id":"li","type":"link in","z":"t1","wires":[["sw"]]},
{"id":"sw","type":"function","z":"t1","func":"return msg.payload === 'drop' ? null : msg;","outputs":1,"wires":[["ret"]]},
{"id":"ret","type":"link out","z":"t1","mode":"return"},
{"id":"c","type":"catch","z":"t1","scope":["call"],"wires":[["errs"]]},
{"id":"sink","type":"test-sink","z":"t1"},
{"id":"errs","type":"test-sink","z":"t1"}]`, testTypes...)
	f.Inject("src", engine.NewMessage("t", "back"))
	f.Settle()
	f.Inject("src", engine.NewMessage("t", "drop"))
	f.Settle()
	got := f.WaitReceived("errs", 1)
	if p := payloads(got, "payload") + payloads(got, "error.message") + payloads(got, "_linkSource"); p != `"drop""timeout"[]` {
		t.Errorf("timeout error: %s", p)
	}
	if p := payloads(f.Received("sink"), "payload"); p != `"back"` {
		t.Errorf("returned: %s", p)
	}
	if _, ok := f.Received("sink")[0].Prop("_linkSource"); ok {
		t.Error("the returned message keeps an empty _linkSource")
	}
}

// A nodes deploy that changes a link out's links, or a catch's scope,
// routes by the new ones at once.
func TestLinksFollowNodesDeploy(t *testing.T) {
	doc := func(link, scope string) string {
		return fmt.Sprintf(`[{"id":"t1","type":"tab"},
{"id":"src","type":"test-source","z":"t1","wires":[["lo","f"]]},
{"id":"lo","type":"link out","z":"t1","links":[%q]},
{"id":"a","type":"link in","z":"t1","wires":[["sa"]]},
{"id":"b","type":"link in","z":"t1","wires":[["sb"]]},
{"id":"f","type":"test-fail","z":"t1"},
{"id":"g","type":"test-fail","z":"t1"},
{"id":"c","type":"catch","z":"t1","scope":[%q],"wires":[["se"]]},
{"id":"sa","type":"test-sink","z":"t1"},{"id":"sb","type":"test-sink","z":"t1"},{"id":"se","type":"test-sink","z":"t1"}]`, link, scope)
	}
	f := nodetest.New(t, doc("a", "f"), testTypes...)
	f.Inject("src", engine.NewMessage("t", "1"))
	f.Settle()
	d, err := flows.Parse([]byte(doc("b", "g")))
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Runtime().Plan(d, engine.DeployNodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Runtime().Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	f.Inject("src", engine.NewMessage("t", "2"))
	f.Settle()
	if got := payloads(f.Received("sa"), "payload") + "|" + payloads(f.Received("sb"), "payload") + "|" + payloads(f.Received("se"), "payload"); got != `"1"|"2"|"1"` {
		t.Errorf("got %s", got)
	}
}

// A dynamic link call whose flow calls it again, deleting
// msg._linkSource on the way, stops at the nesting bound with an error
// instead of recursing until the Go stack overflows (which kills the
// process).
func TestLinkCallLoopStops(t *testing.T) {
	f := nodetest.New(t, `[{"id":"t1","type":"tab"},
{"id":"src","type":"test-source","z":"t1","wires":[["call"]]},
{"id":"li","type":"link in","z":"t1","name":"L","wires":[["fn"]]},
{"id":"fn","type":"change","z":"t1","rules":[{"t":"delete","p":"_linkSource","pt":"msg"}],"wires":[["call"]]},
{"id":"call","type":"link call","z":"t1","linkType":"dynamic","links":[],"wires":[[]]}]`, testTypes...)
	m := engine.NewMessage("t", "p")
	m.SetProp("target", "L")
	f.Inject("src", m)
	f.Settle()
	errs := f.Errors()
	if len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "nested more than 64 deep") {
		t.Fatalf("errors %v", errs)
	}
}

// Link nodes inside a subflow connect within each instance: the links
// arrays are renamed with the instance's nodes.
func TestLinksInsideSubflow(t *testing.T) {
	f := nodetest.New(t, `[{"id":"t1","type":"tab"},
{"id":"sf","type":"subflow","name":"S","in":[{"x":1,"y":1,"wires":[{"id":"lo"}]}],"out":[{"x":1,"y":1,"wires":[{"id":"li","port":0}]}]},
{"id":"lo","type":"link out","z":"sf","mode":"link","links":["li"],"x":1,"y":1,"wires":[]},
{"id":"li","type":"link in","z":"sf","links":["lo"],"x":1,"y":1,"wires":[[]]},
{"id":"src","type":"test-source","z":"t1","wires":[["inst"]]},
{"id":"inst","type":"subflow:sf","z":"t1","x":1,"y":1,"wires":[["sink"]]},
{"id":"sink","type":"test-sink","z":"t1"}]`, testTypes...)
	f.Inject("src", engine.NewMessage("t", "p"))
	f.Settle()
	if got := payloads(f.Received("sink"), "payload"); got != `"p"` {
		t.Fatalf("sink got %s, want the message through the subflow's link", got)
	}
}
