package function

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine/nodetest"
)

func TestRange(t *testing.T) {
	rng := func(action, extra string) string {
		return `{"type":"range","minin":"0","maxin":"10","minout":"0","maxout":"100","action":"` + action + `","round":false,"property":"payload"` + extra + `}`
	}
	out := func(p string) string { return `{"topic":"","payload":` + p + `}` }
	cases := []nodeCase{
		{name: "scale", node: rng("scale", ""), in: `{"payload":2.5}`, want: out("25")},
		{name: "scale outside the range", node: rng("scale", ""), in: `{"payload":12}`, want: out("120")},
		{name: "scale a numeric string", node: rng("scale", ""), in: `{"payload":" 3 "}`, want: out("30")},
		{name: "scale a boolean", node: rng("scale", ""), in: `{"payload":true}`, want: out("10")},
		{name: "scale an empty string", node: rng("scale", ""), in: `{"payload":""}`, want: out("0")},
		{name: "clamp above", node: rng("clamp", ""), in: `{"payload":12}`, want: out("100")},
		{name: "clamp below", node: rng("clamp", ""), in: `{"payload":-1}`, want: out("0")},
		{name: "roll above", node: rng("roll", ""), in: `{"payload":12}`, want: out("20")},
		{name: "roll below", node: rng("roll", ""), in: `{"payload":-1}`, want: out("90")},
		{name: "drop outside", node: rng("drop", ""), in: `{"payload":10.5}`, want: ``},
		{name: "drop keeps the edges", node: rng("drop", ""), in: `{"payload":10}`, want: out("100")},
		{name: "round halves up", node: `{"type":"range","minin":"0","maxin":"10","minout":"0","maxout":"1","action":"scale","round":true}`, in: `{"payload":5}`, want: out("1")},
		{name: "round negative halves towards +Infinity", node: `{"type":"range","minin":"0","maxin":"10","minout":"0","maxout":"-1","action":"scale","round":true}`, in: `{"payload":5}`, want: out("0")},
		{name: "round narrows the output range", node: `{"type":"range","minin":"0","maxin":"10","minout":"0.5","maxout":"9.5","action":"scale","round":true}`, in: `{"payload":10}`, want: out("9")},
		{name: "reversed input range swaps both", node: `{"type":"range","minin":"10","maxin":"0","minout":"0","maxout":"100","action":"clamp"}`, in: `{"payload":2}`, want: out("80")},
		{name: "a nested property", node: `{"type":"range","minin":0,"maxin":1,"minout":0,"maxout":255,"action":"scale","property":"payload.v"}`, in: `{"payload":{"v":0.5}}`, want: out(`{"v":127.5}`)},
		{name: "no property passes the message", node: rng("scale", `,"property":"nope"`), in: `{"payload":"x"}`, want: out(`"x"`)},
		{name: "a null payload is Number(null) = 0", node: rng("scale", `,"minin":"2"`), in: `{"payload":null}`, want: out("-25")},
		{name: "no payload passes the message", node: rng("scale", ""), in: `{"x":1}`, want: `{"topic":"","x":1}`},
		{name: "not a number is dropped", node: rng("scale", ""), in: `{"payload":"abc"}`, want: ``},
		{name: "an unreadable property is an error", node: rng("scale", `,"property":"a.b.c"`), in: `{"payload":1}`, want: ``, errs: errUnreadable.Error()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runCase(t, c, 1, RangeType) })
	}
	f := runCase(t, nodeCase{node: rng("scale", ""), in: `{"payload":"abc"}`}, 1, RangeType)
	if got := nodetest.LogMessages(f.Logged(slog.LevelInfo)); !strings.Contains(got, "Not a number: abc") {
		t.Errorf("log: %s", got)
	}
}

func TestRangeDeployErrors(t *testing.T) {
	for _, c := range []struct{ node, want string }{
		{`{"type":"range","minin":"a","maxin":"10","minout":"0","maxout":"1"}`, `field "minin": "a" is not a number`},
		{`{"type":"range","minin":"0","maxin":"10","minout":"0","maxout":"1","action":"wrap"}`, `field "action": "wrap" is not one of`},
		{`{"type":"range","minin":"0","maxin":"10","minout":"0","maxout":"1","property":"a..b"}`, `field "property": invalid property path`},
	} {
		_, err := nodetest.Deploy(t, nodetest.ChainJSON(t, c.node), nodetest.Options{}, RangeType)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "n1") {
			t.Errorf("%s: deploy error %v, want one naming n1 and %s", c.node, err, c.want)
		}
	}
}
